"""The ``sae`` command: compress audio to ``.sae``, decompress it, inspect a file, and run
the rate-distortion benchmark (``sae bench``, the same as ``python -m benchmarks.rd``).

Exit codes: 0 success, 1 bad data (unreadable audio, damaged file, existing output),
2 bad usage, 130 interrupted. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import soundfile as sf
import torch

from bitstream import FormatError
from codec.api import AudioError, compress_file, decompress_file, describe
from codec.files import OutputFormatError, audio_format, check_output
from codec.fit import DEFAULT_QUALITY, FitSettings

QUALITY_HELP = (
    "quality, 0 to 24 (default %(default)s): the price of a bit is 2**-Q in distortion, "
    "which sets the quantizer step; each step up buys about 3 dB of SNR for more bits"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as the CLI promises
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _quality(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 24:
        raise argparse.ArgumentTypeError(f"quality {text} is outside 0 to 24")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < 1e6:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sae",
        description="Stereo autoencoder codec: fits a small convolutional autoencoder to "
        "one song and entropy-codes its latents into a self-contained .sae file.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    c = commands.add_parser(
        "compress",
        help="fit a model to a song and write INPUT.sae",
        description="Fit the autoencoder to INPUT (wav, flac, ogg, mp3, ...) and write a "
        ".sae file holding the decoder, its entropy tables and the coded latents. Prints "
        "the size in bits per sample and kbps, and the SNR of decoding the written file.",
    )
    c.add_argument("input", type=Path, help="audio file to compress")
    c.add_argument("-o", "--output", type=Path, help="output file (default: INPUT with .sae)")
    rate = c.add_mutually_exclusive_group()
    rate.add_argument("-q", "--quality", type=_quality, default=DEFAULT_QUALITY, help=QUALITY_HELP)
    rate.add_argument(
        "--bitrate",
        type=_positive_float,
        metavar="KBPS",
        help="aim for this many kbps, every byte counted (within 1 %%), instead of a quality",
    )
    rate.add_argument(
        "--bits-per-sample",
        type=_positive_float,
        metavar="B",
        help="aim for this many bits per sample (per channel) instead of a quality",
    )
    c.add_argument(
        "--iterations",
        type=_positive,
        default=FitSettings.iterations,
        help="decoder fitting iterations (default %(default)s)",
    )
    c.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    c.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="where to fit the model"
    )
    c.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")
    c.add_argument("--quiet", action="store_true", help="no progress bar")

    d = commands.add_parser(
        "decompress",
        help="decode a .sae file to audio",
        description="Decode INPUT.sae to an audio file with the original's sample rate, "
        "channel count and length (format from the extension, 16-bit for wav and flac).",
    )
    d.add_argument("input", type=Path, help=".sae file to decode")
    d.add_argument("-o", "--output", type=Path, help="output file (default: INPUT with .wav)")
    d.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")

    i = commands.add_parser(
        "info",
        help="show a .sae file's header and section sizes",
        description="Show the header fields of a .sae file and the bytes of each section.",
    )
    i.add_argument("input", type=Path, help=".sae file to inspect")
    i.add_argument("--json", action="store_true", help="print one JSON object")

    commands.add_parser(
        "bench",
        add_help=False,  # its options and --help belong to the benchmark
        help="run the rate-distortion benchmark (python -m benchmarks.rd; see sae bench --help)",
    )
    return parser


def _compress(args: argparse.Namespace) -> None:
    if args.input.suffix.lower() == ".sae":
        raise AudioError(f"{args.input} is already a .sae file (sae decompress decodes it)")
    output = args.output or args.input.with_suffix(".sae")
    info = sf.info(str(args.input))  # a readable input, then a writable output: both
    check_output(output, args.force, args.input)  # before minutes of fitting, not after
    if args.device == "cuda" and not torch.cuda.is_available():
        raise AudioError("--device cuda: no CUDA device is available here")
    bits = args.bits_per_sample
    if args.bitrate is not None:
        bits = args.bitrate * 1000 / (info.samplerate * info.channels)
    report = compress_file(
        args.input,
        output,
        overwrite=args.force,
        quality=args.quality,
        bits_per_sample=bits,
        settings=FitSettings(iterations=args.iterations, seed=args.seed, device=args.device),
        progress=not args.quiet,
    )
    print(
        f"{output}: {report.bytes} bytes, {report.bits_per_sample:.3f} bits/sample, "
        f"{report.kbps:.1f} kbps, {report.ratio_to_pcm16:.1f}x smaller than 16-bit PCM, "
        f"SNR {report.snr_db:.2f} dB (decoded from the file), fitted and coded in "
        f"{report.seconds:.1f} s"
    )


def _decompress(args: argparse.Namespace) -> None:
    output = args.output or args.input.with_suffix(".wav")
    describe(args.input.read_bytes())  # header and checksums first: a damaged file says so
    audio_format(output)  # and the output's problems before the decoding, not after it
    check_output(output, args.force, args.input)
    frames, channels, rate = decompress_file(args.input, output, overwrite=args.force)
    print(f"{output}: {frames} frames, {channels} channels, {rate} Hz")


def _info(args: argparse.Namespace) -> None:
    info = describe(args.input.read_bytes())
    if args.json:
        print(json.dumps(info))
        return
    print(f"{args.input}")
    for key in ("sample_rate", "channels", "frames", "seconds", "bytes"):
        print(f"  {key:<24}{info[key]}")
    print(f"  {'bits_per_sample':<24}{info['bits_per_sample']:.4f}")
    print(f"  {'kbps':<24}{info['kbps']:.2f}")
    print(f"  {'quality':<24}{info['quality']:g}")
    print(f"  {'model':<24}{json.dumps(info['model'])}")
    coded, total = info["coded_latent_channels"], info["latent_channels"]
    print(f"  {'latent channels':<24}{coded} coded of {total}")
    print(f"  {'quantizer step':<24}{info['quantizer_step']:.4g}")
    for name, size in info["sections"].items():
        print(f"  section {name:<16}{size} bytes")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "bench":
        from benchmarks.rd import main as bench

        return bench(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    run = {"compress": _compress, "decompress": _decompress, "info": _info}[args.command]
    try:
        if not args.input.is_file():
            raise FileNotFoundError(f"{args.input}: no such file")
        run(args)
    except (FormatError, AudioError, OutputFormatError, OSError, sf.LibsndfileError) as error:
        print(f"sae: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sae: interrupted; no output was written", file=sys.stderr)
        return 130
    return 0

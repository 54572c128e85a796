"""The ``sae`` command: compress audio to ``.sae``, decompress it, inspect a file, compare
a decoded file with its original, and run the rate-distortion benchmark (``sae bench``,
the same as ``python -m benchmarks.rd``).

Exit codes: 0 success, 1 bad data (unreadable audio, damaged file, existing output),
2 bad usage, 130 interrupted. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from bitstream import FormatError, SharedModel, read_model, write_model
from codec.api import (
    SEGMENT_FRAMES,
    AudioError,
    bit_usage,
    compress,
    compress_file,
    decompress,
    decompress_file,
    describe,
    fit_post,
    snr_db,
)
from codec.artist import train_artist
from codec.files import OutputFormatError, check_output, read_audio, write_bytes
from codec.fit import DEFAULT_QUALITY, FitSettings

QUALITY_HELP = (
    "quality, 0 to 24 (default %(default)s): the price of a bit is 2**-Q in distortion, "
    "which sets the quantizer step; each step up buys about 3 dB of SNR for more bits"
)


class UsageError(Exception):
    """Options that do not go together: exit code 2, like any usage error."""


class DataError(Exception):
    """Some of many files failed (each has said why): exit code 1."""


DATA_ERRORS = (FormatError, AudioError, OutputFormatError, OSError, sf.LibsndfileError, DataError)


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


def _fitting_options(parser: argparse.ArgumentParser) -> None:
    """The options of the commands that fit a model: seed, device, overwrite, quiet."""
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    parser.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="where to fit the model"
    )
    parser.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _check_device(args: argparse.Namespace) -> None:
    if args.device == "cuda" and not torch.cuda.is_available():
        raise AudioError("--device cuda: no CUDA device is available here")


def _model_options(parser: argparse.ArgumentParser) -> None:
    """The options of the commands that read .sae files: where shared models are."""
    parser.add_argument(
        "--model",
        type=Path,
        action="append",
        default=[],
        metavar="ARTIST.saem",
        help="a shared model the file may name (repeatable)",
    )
    parser.add_argument(
        "--model-dir", type=Path, metavar="DIR", help="look for shared models (*.saem) here"
    )


def _shared_models(args: argparse.Namespace) -> list[SharedModel]:
    paths = list(args.model)
    if args.model_dir is not None:
        if not args.model_dir.is_dir():
            raise FileNotFoundError(f"{args.model_dir}: no such folder")
        paths += sorted(args.model_dir.glob("*.saem"))
    return [_read_model(path) for path in paths]


def _read_model(path: Path) -> SharedModel:
    try:
        return read_model(path.read_bytes())
    except FormatError as error:
        raise FormatError(f"{path}: {error}") from None


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
        description="Fit the autoencoder to each INPUT (wav, flac, ogg, mp3, ...) and write "
        "a .sae file holding the decoder, its entropy tables and the coded latents, a "
        "segment of 95 s (at 44.1 kHz) at a time. Prints the size in bits per sample and "
        "kbps, and the SNR of decoding the written file. Several inputs are coded one after "
        "another (or -j at a time), a line each; one that fails does not stop the others.",
    )
    c.add_argument("inputs", type=Path, nargs="+", metavar="INPUT", help="audio files")
    c.add_argument(
        "-o", "--output", type=Path, help="output file, for one input (default: INPUT with .sae)"
    )
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
    c.add_argument(
        "--model",
        type=Path,
        metavar="ARTIST.saem",
        help="code with this shared model (sae train-artist) instead of fitting one: no "
        "fitting, its quality, and the file names the model instead of carrying it",
    )
    c.add_argument(
        "-j", "--jobs", type=_positive, default=1, help="songs compressed at once (default 1)"
    )
    _fitting_options(c)

    d = commands.add_parser(
        "decompress",
        help="decode a .sae file to audio",
        description="Decode INPUT.sae to an audio file with the original's sample rate, "
        "channel count and length (format from the extension, 16-bit for wav and flac).",
    )
    d.add_argument("input", type=Path, help=".sae file to decode")
    d.add_argument("-o", "--output", type=Path, help="output file (default: INPUT with .wav)")
    d.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")
    _model_options(d)

    i = commands.add_parser(
        "info",
        help="show a .sae file's header and section sizes",
        description="Show the header fields of a .sae file and the bytes of each section.",
    )
    i.add_argument("input", type=Path, help=".sae file to inspect")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.add_argument(
        "--plot",
        type=Path,
        metavar="OUT.png",
        help="also draw the bits spent on each latent channel and over time",
    )
    i.add_argument("-f", "--force", action="store_true", help="overwrite an existing plot")
    _model_options(i)

    a = commands.add_parser(
        "train-artist",
        help="fit one shared model to several songs (an artist's)",
        description="Fit one model (transform frame length, entropy tables, decoder) to "
        "random segments of all the SONGs at one quality, and write it as a .saem file. "
        "sae compress --model codes songs with it without fitting; their files name the "
        "model by its SHA-256 digest, and decoding them needs it.",
    )
    a.add_argument("songs", type=Path, nargs="+", metavar="SONG", help="audio files")
    a.add_argument("-o", "--output", type=Path, required=True, help="the model (.saem)")
    a.add_argument("-q", "--quality", type=_quality, default=DEFAULT_QUALITY, help=QUALITY_HELP)
    a.add_argument(
        "--iterations",
        type=_positive,
        default=FitSettings.iterations,
        help="decoder fitting iterations (default %(default)s)",
    )
    _fitting_options(a)

    t = commands.add_parser(
        "fit",
        help="fit a song's model and animate the fitting",
        description="Fit the model to INPUT as sae compress would (or, with --no-rate, the "
        "original post's autoencoder on plain mean squared error) and print how close it "
        "gets. With --animate, write an animated GIF of one fixed random segment: left and "
        "right channels, the original against the reconstruction, a frame every few "
        "iterations, iteration and SNR in the title.",
    )
    t.add_argument("input", type=Path, help="audio file to fit")
    t.add_argument("--animate", type=Path, metavar="OUT.gif", help="write the animation here")
    t.add_argument(
        "--iterations",
        type=_positive,
        default=FitSettings.of_post().iterations,
        help="fitting iterations (default %(default)s, the post's)",
    )
    t.add_argument(
        "--every", type=_positive, help=f"a frame every N iterations (default: {FRAMES} frames)"
    )
    t.add_argument(
        "--segment-seconds",
        type=_positive_float,
        metavar="S",
        help="length of the segment shown (default: 1024 samples, the post's segments)",
    )
    t.add_argument(
        "--no-rate",
        action="store_true",
        help="the post exactly: its ReLU autoencoder, plain MSE, latents unquantized",
    )
    t.add_argument("-q", "--quality", type=_quality, default=DEFAULT_QUALITY, help=QUALITY_HELP)
    _fitting_options(t)

    m = commands.add_parser(
        "compare",
        help="draw the original against a decoded file",
        description="Draw a figure comparing ORIGINAL with DECODED (same rate and channels; "
        "no delay alignment): waveforms of the loudest 20 ms, spectrograms of both and of "
        "their difference on one colour scale, and the SNR of each octave band, which is "
        "printed too: where the bits went, and where they did not.",
    )
    m.add_argument("original", type=Path, help="the original audio file")
    m.add_argument("decoded", type=Path, help="the decoded audio file")
    m.add_argument("-o", "--output", type=Path, help="figure (default: DECODED with .png)")
    m.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")

    commands.add_parser(
        "bench",
        add_help=False,  # its options and --help belong to the benchmark
        help="run the rate-distortion benchmark (python -m benchmarks.rd; see sae bench --help)",
    )
    return parser


def _compress(args: argparse.Namespace) -> None:
    if args.output is not None and len(args.inputs) > 1:
        raise UsageError("-o names one output: give one input, or leave -o out")
    if args.model is not None and (args.bitrate or args.bits_per_sample):
        raise UsageError("--model codes at the model's quality: no --bitrate or --bits-per-sample")
    _check_device(args)
    for path in args.inputs:
        if path.suffix.lower() == ".sae":
            raise AudioError(f"{path} is already a .sae file (sae decompress decodes it)")
    shared = _read_model(args.model) if args.model is not None else None
    jobs = [(path, args.output or path.with_suffix(".sae")) for path in args.inputs]
    if len(jobs) == 1:  # its error is the command's error
        _compress_one(*jobs[0], args, shared, progress=not args.quiet)
        return
    if args.jobs == 1:
        failed = [job for job in jobs if not _try_compress(*job, args, shared)]
    else:
        workers = min(args.jobs, len(jobs))
        threads = max(1, (os.cpu_count() or 1) // workers)
        with ProcessPoolExecutor(
            workers, initializer=torch.set_num_threads, initargs=(threads,)
        ) as pool:
            done = [pool.submit(_try_compress, *job, args, shared) for job in jobs]
            failed = [job for job, future in zip(jobs, done, strict=True) if not future.result()]
    if failed:
        raise DataError(f"{len(failed)} of {len(jobs)} files failed")


def _try_compress(source: Path, output: Path, args, shared: SharedModel | None) -> bool:
    """One of many files: its line, or its error's; True if it worked."""
    try:
        _compress_one(source, output, args, shared, progress=False)
    except DATA_ERRORS as error:
        print(f"sae: error: {source}: {error}", file=sys.stderr, flush=True)
        return False
    return True


def _compress_one(
    source: Path, output: Path, args, shared: SharedModel | None, progress: bool
) -> None:
    """Compress one file and print its line."""
    info = sf.info(str(source))  # an unreadable input says so before the output does
    bits = args.bits_per_sample
    if args.bitrate is not None:
        bits = args.bitrate * 1000 / (info.samplerate * info.channels)
    report = compress_file(
        source,
        output,
        overwrite=args.force,
        quality=args.quality,
        bits_per_sample=bits,
        settings=FitSettings(iterations=args.iterations, seed=args.seed, device=args.device),
        progress=progress,
        shared=shared,
    )
    how = "coded with the shared model" if shared else "fitted and coded"
    print(
        f"{output}: {report.bytes} bytes, {report.bits_per_sample:.3f} bits/sample, "
        f"{report.kbps:.1f} kbps, {report.ratio_to_pcm16:.1f}x smaller than 16-bit PCM, "
        f"SNR {report.snr_db:.2f} dB (decoded from the file), {how} in {report.seconds:.1f} s",
        flush=True,
    )


def _train_artist(args: argparse.Namespace) -> None:
    if args.output.suffix.lower() != ".saem":
        raise OutputFormatError(f"{args.output}: a shared model is a .saem file: name it so")
    check_output(args.output, args.force)
    _check_device(args)
    songs = [read_audio(path)[0] for path in args.songs]
    settings = FitSettings(iterations=args.iterations, seed=args.seed, device=args.device)
    shared = train_artist(songs, quality=args.quality, settings=settings, progress=not args.quiet)
    data = write_model(shared)
    write_bytes(args.output, data, args.force)
    print(f"{args.output}: {len(data)} bytes, model {shared.digest.hex()}, from {len(songs)} songs")


def _decompress(args: argparse.Namespace) -> None:
    output = args.output or args.input.with_suffix(".wav")
    describe(args.input.read_bytes())  # a damaged file says so before the output does
    models = _shared_models(args)
    frames, channels, rate = decompress_file(
        args.input, output, overwrite=args.force, models=models
    )
    print(f"{output}: {frames} frames, {channels} channels, {rate} Hz")


def _info(args: argparse.Namespace) -> None:
    data = args.input.read_bytes()
    info = describe(data)
    if args.plot is not None:
        check_output(args.plot, args.force, args.input)
        usage = bit_usage(data, _shared_models(args))
        from codec.plots import plot_bits  # matplotlib: only for the commands that draw

        plot_bits(usage.channel_bits, usage.channel_names, usage.seconds, usage.kbps, args.plot)
    if args.json:
        print(json.dumps(info))
        return
    print(f"{args.input}")
    for key in ("sample_rate", "channels", "frames", "seconds", "bytes", "segments"):
        print(f"  {key:<24}{info[key]}")
    print(f"  {'bits_per_sample':<24}{info['bits_per_sample']:.4f}")
    print(f"  {'kbps':<24}{info['kbps']:.2f}")
    print(f"  {'quality':<24}{info['quality']:g}")
    if info["shared_model"]:
        print(f"  {'shared model':<24}{info['shared_model']}")
    else:
        print(f"  {'model':<24}{json.dumps(info['model'])}")
    coded, total = info["coded_latent_channels"], info["latent_channels"]
    print(f"  {'latent channels':<24}{coded} coded of {total}")
    print(f"  {'quantizer step':<24}{info['quantizer_step']:.4g}")
    for name, size in info["sections"].items():
        print(f"  section {name:<16}{size} bytes")
    if args.plot is not None:
        print(f"{args.plot}: bits per latent channel and over time")


FRAMES = 40


def _fit(args: argparse.Namespace) -> None:
    if args.animate is not None:
        if args.animate.suffix.lower() != ".gif":
            raise OutputFormatError(f"{args.animate}: the animation is a GIF: name it .gif")
        check_output(args.animate, args.force, args.input)
    _check_device(args)
    audio, rate = read_audio(args.input)
    length = round(args.segment_seconds * rate) if args.segment_seconds else 1024
    length = max(1, min(length, len(audio)))
    first_segment = min(len(audio), SEGMENT_FRAMES)  # the animation follows its fitting
    length = min(length, first_segment)
    start = int(np.random.default_rng(args.seed).integers(0, first_segment - length + 1))
    every = args.every or max(1, args.iterations // FRAMES)
    frames: list[tuple[int, np.ndarray]] = []

    def snapshot(iteration: int, reconstruct) -> None:
        if iteration % every == 0 or iteration == args.iterations:
            frames.append((iteration, reconstruct(start, length)))

    options = {"iterations": args.iterations, "seed": args.seed, "device": args.device}
    progress = not args.quiet
    if args.no_rate:
        settings = replace(FitSettings.of_post(), **options)
        decoded = fit_post(audio, settings=settings, progress=progress, on_fit_step=snapshot)
        title, size = "the post's autoencoder, plain MSE", "latents unquantized"
    else:
        settings = FitSettings(**options)
        data = compress(audio, rate, quality=args.quality, settings=settings, progress=progress,
                        on_fit_step=snapshot)  # fmt: skip
        decoded, _ = decompress(data)
        title = f"sae at quality {args.quality:g}"
        size = f"{8 * len(data) / audio.size:.3f} bits/sample"
    snr = snr_db(audio, decoded)
    print(f"{args.input}: SNR {snr:.2f} dB after {args.iterations} iterations ({size})")
    if args.animate is not None:
        from codec.plots import animate_fit

        animate_fit(audio[start : start + length], frames, rate, args.animate, title)
        print(f"{args.animate}: {len(frames)} frames of {length} samples from frame {start}")


def _compare(args: argparse.Namespace) -> None:
    output = args.output or args.decoded.with_suffix(".png")
    check_output(output, args.force, args.decoded)
    original, rate = read_audio(args.original)
    decoded, decoded_rate = read_audio(args.decoded)
    if decoded_rate != rate or decoded.shape[1] != original.shape[1]:
        raise AudioError(
            f"{args.decoded} ({decoded_rate} Hz, {decoded.shape[1]} channels) does not match "
            f"{args.original} ({rate} Hz, {original.shape[1]} channels)"
        )
    if min(len(original), len(decoded)) < 2:
        raise AudioError("too short to compare: fewer than 2 frames")
    from codec.plots import plot_comparison

    bands = plot_comparison(original, decoded, rate, output)
    n = min(len(original), len(decoded))
    print(f"{output}: SNR {snr_db(original[:n], decoded[:n]):.2f} dB over {n} frames")
    for low, high, snr in bands:
        print(f"  {low:>7.0f} - {high:<7.0f} Hz  {snr:6.2f} dB")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "bench":
        from benchmarks.rd import main as bench

        return bench(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    run = {
        "compress": _compress,
        "decompress": _decompress,
        "info": _info,
        "fit": _fit,
        "compare": _compare,
        "train-artist": _train_artist,
    }
    try:
        paths = [getattr(args, name, None) for name in ("input", "original", "decoded", "model")]
        for path in [*paths, *getattr(args, "inputs", []), *getattr(args, "songs", [])]:
            if isinstance(path, Path) and not path.is_file():
                raise FileNotFoundError(f"{path}: no such file")
        run[args.command](args)
    except UsageError as error:
        parser.error(str(error))
    except DATA_ERRORS as error:
        print(f"sae: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sae: interrupted; no output was written", file=sys.stderr)
        return 130
    return 0

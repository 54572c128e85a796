"""The ``sae`` command: compress audio to ``.sae``, decompress it, inspect a file, compare
a decoded file with its original, fit and animate, and train a shared model.

Exit codes: 0 success, 1 bad data (unreadable audio, damaged file, existing output),
2 bad usage, 130 interrupted. Errors are one line on stderr, never a traceback. The
arguments are read before anything heavy is imported, so help and usage errors are quick.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_QUALITY = 7.0  # codec.quantizer.DEFAULT_QUALITY, which a test keeps in step
DEFAULT_ITERATIONS = 1000  # codec.settings.FitSettings().iterations, likewise
POST_ITERATIONS = 150  # the post's
QUALITY_HELP = (
    "quality, 0 to 24 (default %(default)s): the price of a bit is 2**-Q in distortion, "
    "which sets the quantizer step; each step up buys about 3 dB of SNR for more bits"
)
FRAMES = 40  # frames of a fit animation, unless --every says otherwise (codec.commands)


class UsageError(Exception):
    """Options that do not go together: exit code 2, like any usage error."""


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


def _option_groups() -> dict[str, argparse.ArgumentParser]:
    """The options several commands share, each group defined once (argparse parents)."""
    output = _Parser(add_help=False)
    output.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")
    output.add_argument("--quiet", action="store_true", help="no progress bar")
    fitting = _Parser(add_help=False)
    fitting.add_argument(
        "--iterations",
        type=_positive,
        default=DEFAULT_ITERATIONS,
        help="fitting iterations (default %(default)s)",
    )
    fitting.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    fitting.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="where to fit (default cpu)"
    )
    models = _Parser(add_help=False)
    models.add_argument(
        "--model",
        type=Path,
        action="append",
        default=[],
        metavar="ARTIST.saem",
        help="a shared model the file may name (repeatable)",
    )
    models.add_argument(
        "--model-dir", type=Path, metavar="DIR", help="look for shared models (*.saem) here"
    )
    return {"output": output, "fitting": fitting, "models": models}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sae",
        description="Neural audio codec: fits what it codes to each song (by default a "
        "designed filterbank whose decoder and entropy tables are fitted) and writes a "
        "self-contained .sae file, every bit counted.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    group = _option_groups()

    c = commands.add_parser(
        "compress",
        parents=[group["output"], group["fitting"]],
        help="code a song and write INPUT.sae",
        description="Code each INPUT (wav, flac, ogg, mp3, ...) and write a .sae file "
        "holding what the decoder needs and the coded latents, a segment of 95 s (at "
        "44.1 kHz) at a time. Prints the size in bits per sample and kbps, and the SNR of "
        "decoding the written file. Several inputs are coded one after another (or -j at "
        "a time), a line each; one that fails does not stop the others.",
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
        "--model",
        type=Path,
        metavar="ARTIST.saem",
        help="code with this shared model (sae train-artist) instead of fitting one: no "
        "fitting, its quality, and the file names the model instead of carrying it",
    )
    c.add_argument(
        "-j", "--jobs", type=_positive, default=1, help="songs compressed at once (default 1)"
    )

    d = commands.add_parser(
        "decompress",
        parents=[group["output"], group["models"]],
        help="decode a .sae file to audio",
        description="Decode INPUT.sae to an audio file with the original's sample rate, "
        "channel count and length (format from the extension, 16-bit for wav and flac).",
    )
    d.add_argument("input", type=Path, help=".sae file to decode")
    d.add_argument("-o", "--output", type=Path, help="output file (default: INPUT with .wav)")

    i = commands.add_parser(
        "info",
        parents=[group["output"], group["models"]],
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

    a = commands.add_parser(
        "train-artist",
        parents=[group["output"], group["fitting"]],
        help="fit one shared model to several songs (an artist's)",
        description="Fit one model (transform frame length, entropy tables, decoder) to "
        "the middle of all the SONGs at one quality, and write it as a .saem file. "
        "sae compress --model codes songs with it without fitting; their files name the "
        "model by its SHA-256 digest, and decoding them needs it.",
    )
    a.add_argument("songs", type=Path, nargs="+", metavar="SONG", help="audio files")
    a.add_argument("-o", "--output", type=Path, required=True, help="the model (.saem)")
    a.add_argument("-q", "--quality", type=_quality, default=DEFAULT_QUALITY, help=QUALITY_HELP)

    t = commands.add_parser(
        "fit",
        parents=[group["output"], group["fitting"]],
        help="fit a song's model and animate the fitting",
        description="Fit the decoder to INPUT as sae compress would (or, with --no-rate, "
        "the original post's autoencoder on plain mean squared error) and print how close "
        "it gets. With --animate, write an animated GIF of one fixed random segment: left "
        "and right channels, the original against the reconstruction, a frame every few "
        "iterations, iteration and SNR in the title.",
    )
    t.set_defaults(iterations=POST_ITERATIONS)
    t.add_argument("input", type=Path, help="audio file to fit")
    t.add_argument("--animate", type=Path, metavar="OUT.gif", help="write the animation here")
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

    m = commands.add_parser(
        "compare",
        parents=[group["output"]],
        help="draw the original against a decoded file",
        description="Draw a figure comparing ORIGINAL with DECODED (same rate and channels; "
        "no delay alignment): waveforms of the loudest 20 ms, spectrograms of both and of "
        "their difference on one colour scale, and the SNR of each octave band, which is "
        "printed too: where the bits went, and where they did not.",
    )
    m.add_argument("original", type=Path, help="the original audio file")
    m.add_argument("decoded", type=Path, help="the decoded audio file")
    m.add_argument("-o", "--output", type=Path, help="figure (default: DECODED with .png)")
    return parser


def _named_files(args: argparse.Namespace) -> list[Path]:
    """The files the command reads, which must exist."""
    model = getattr(args, "model", None)
    named = [getattr(args, name, None) for name in ("input", "original", "decoded")]
    named += model if isinstance(model, list) else [model]
    named += [*getattr(args, "inputs", []), *getattr(args, "songs", [])]
    return [path for path in named if path is not None]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        for path in _named_files(args):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such file")
        from codec import commands  # the codec is imported once the arguments are good

        commands.COMMANDS[args.command](args)
    except UsageError as error:
        parser.error(str(error))
    except KeyboardInterrupt:
        print("sae: interrupted; no output was written", file=sys.stderr)
        return 130
    except Exception as error:
        if not isinstance(error, OSError):  # a missing file needs no codec to say so
            from codec.commands import DATA_ERRORS

            if not isinstance(error, DATA_ERRORS):
                raise
        print(f"sae: error: {error}", file=sys.stderr)
        return 1
    return 0

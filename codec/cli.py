"""The ``sae`` command: compress audio to ``.sae``, decompress it, inspect a file, compare
a decoded file with its original, fit and animate, and train a shared model.

Exit codes: 0 success, 1 bad data (unreadable audio, damaged file, existing output),
2 bad usage, 130 interrupted (Ctrl-C; 143 for SIGTERM, 129 for SIGHUP), 141 when the
reader of standard output went away. Errors are one line on stderr, never a traceback.
The arguments are read and checked before anything heavy is imported, so help and usage
errors are quick; ``-`` names standard input or output, as for flac and opusenc.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from codec.interrupts import interrupted, quiet_stdout, stop
from codec.usage import UsageError, check_files, check_usage

DEFAULT_QUALITY = 7.0  # codec.quantizer.DEFAULT_QUALITY, which a test keeps in step
QUALITY_RANGE = (0.0, 24.0)  # codec.rate.QUALITY_RANGE, likewise
DEFAULT_ITERATIONS = 1000  # codec.settings.FitSettings().iterations, likewise
POST_ITERATIONS = 150  # the post's
SCORE_SECONDS = 20  # codec.perceptual.SCORE_SECONDS, likewise: what --score scores
# the filterbank path, then codec.architectures.ARCHITECTURES, which a test keeps in step
ARCHITECTURES = ("filterbank", "post", "signed")
QUALITY_HELP = (
    "quality, 0 to 24 (default 7): the price of a bit is 2**-Q in distortion, which sets "
    "the quantizer step; each step up buys about 3 dB of SNR for more bits"
)
FRAMES = 40  # frames of a fit animation, unless --every says otherwise (codec.commands)
BITS = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}  # --bits: soundfile's names
FORMATS = (
    "formats: sae reads audio in any format libsndfile reads (WAV, FLAC, Ogg Vorbis and "
    "Opus, MP3, AIFF, CAF, ...) and writes .sae files; decompress writes WAV, FLAC, Ogg "
    "Vorbis or AIFF, as the output's extension says, in the input's sample format unless "
    "--bits says otherwise. '-' reads standard input or writes standard output (WAV)."
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as the CLI promises
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Version(argparse.Action):
    """--version, read from the installed package only when asked for."""

    def __init__(self, option_strings, dest, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            parser.exit(0, f"sae {version('sae')}\n")
        except PackageNotFoundError:
            parser.exit(0, "sae (not installed: run from a source tree)\n")


def _number(text: str, low: float, high: float, what: str, kind=float) -> float:
    """``text`` as a number of ``kind`` in [low, high], or a one-line usage error."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if not low <= value <= high:  # NaN fails this too
        low, high = (f"{end:g}" if isinstance(end, float) else str(end) for end in (low, high))
        raise argparse.ArgumentTypeError(f"{text} is outside {low} to {high}")
    return value


def _quality(text: str) -> float:
    return _number(text, *QUALITY_RANGE, "a number")


def _positive_float(text: str) -> float:
    value = _number(text, 0, 1e6, "a positive number")
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _positive(text: str) -> int:
    return int(_number(text, 1, 1 << 31, "a positive whole number", int))


def _seed(text: str) -> int:
    return int(_number(text, 0, (1 << 32) - 1, "a whole number", int))


def _option_groups() -> dict[str, argparse.ArgumentParser]:
    """The options several commands share, each group defined once (argparse parents)."""
    output = _Parser(add_help=False)
    output.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")
    output.add_argument(
        "--quiet", action="store_true", help="no progress bars (drawn only on a terminal)"
    )
    fitting = _Parser(add_help=False)  # defaults None: what was given can be told apart
    fitting.add_argument(
        "--iterations",
        type=_positive,
        help=f"fitting iterations of paths that fit by gradient (default {DEFAULT_ITERATIONS})",
    )
    fitting.add_argument(
        "--arch",
        choices=ARCHITECTURES,
        default="filterbank",
        help="what codes: the designed filterbank (default), or a learned autoencoder trained "
        "on the song: 'post' (the post's, exactly) or 'signed' (signed latents, PReLU, "
        "kernels of 8)",
    )
    fitting.add_argument("--seed", type=_seed, help="random seed, 0 to 2**32-1 (default 0)")
    fitting.add_argument(
        "--device", choices=["cpu", "cuda"], help="where paths that fit by gradient fit (cpu)"
    )
    batch = _Parser(add_help=False)  # several files: a Dask cluster (codec.catalogue)
    batch.add_argument(
        "-j",
        "--jobs",
        type=_positive,
        help="for several inputs or a folder: worker processes of the Dask cluster started "
        "on this machine (default: its cores)",
    )
    batch.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the batch on a running Dask cluster, e.g. tcp://host:8786 (dask scheduler, "
        "dask worker): its workers must see the inputs and outputs at the same paths",
    )
    batch.add_argument(
        "--manifest",
        type=Path,
        metavar="FILE.json",
        help="write a JSON record of the batch: each input, its output, bytes, bits/sample, "
        "SNR, seconds, error",
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
    return {"output": output, "fitting": fitting, "models": models, "batch": batch}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sae",
        description="Neural audio codec: fits what it codes to each song (by default a "
        "designed filterbank whose decoder and entropy tables are fitted) and writes a "
        "self-contained .sae file, every bit counted.",
        epilog=FORMATS,
    )
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    group = _option_groups()

    c = commands.add_parser(
        "compress",
        parents=[group["output"], group["fitting"], group["batch"]],
        help="code a song and write INPUT.sae",
        description="Code each INPUT (wav, flac, ogg, mp3, ...; '-' for standard input) and "
        "write a .sae file holding what the decoder needs, the coded latents, and the "
        "input's sample format and small tags, a segment of 95 s (at 44.1 kHz) at a time. "
        "Prints the size in bits per sample and kbps, and the SNR of decoding the written "
        "file (with --score its ViSQOL MOS too; on stderr when the file goes to standard "
        "output). Several inputs, or folders (the audio files in them, at any depth), are "
        "a batch, coded on a Dask cluster (-j workers on this machine, or --scheduler's), "
        "a line each as they finish, then a summary: one that fails does not stop the "
        "others, and an output that exists and is complete is skipped (-f codes it again).",
        epilog=FORMATS,
    )
    c.add_argument(
        "inputs", type=Path, nargs="+", metavar="INPUT", help="audio files, folders, or -"
    )
    c.add_argument(
        "-o",
        "--output",
        type=Path,
        help="output file, for one input, or - for standard output; for several inputs or "
        "a folder, an existing folder, where the outputs go as the inputs sit in theirs "
        "(default: INPUT with .sae; standard output for standard input)",
    )
    rate = c.add_mutually_exclusive_group()
    rate.add_argument("-q", "--quality", type=_quality, help=QUALITY_HELP)
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
        "--tune",
        choices=("snr", "listen"),
        default="snr",
        help="the filterbank path codes for the SNR (default), or for a listener: its error "
        "follows the music's spectrum, and what it leaves at zero the decoder fills with "
        "noise of the level the file holds (a much lower SNR, a less muffled sound; at the "
        "same -q, 0.4 to 0.8 times the bits: --bitrate sets the size)",
    )
    c.add_argument(
        "--model",
        type=Path,
        metavar="ARTIST.saem",
        help="code with this shared model (sae train-artist) instead of fitting one: no "
        "fitting, its quality, and the file names the model instead of carrying it",
    )
    c.add_argument(
        "--score",
        action="store_true",
        help="also print the ViSQOL MOS (audio mode, 1 to about 4.7: what a listener might "
        f"say) of the written file, decoded, over the middle {SCORE_SECONDS} s (a few "
        "seconds more; needs the visqol-python package)",
    )

    d = commands.add_parser(
        "decompress",
        parents=[group["output"], group["models"], group["batch"]],
        help="decode .sae files to audio",
        description="Decode each INPUT.sae ('-' for standard input) to an audio file with "
        "the original's sample rate, channel count, length, sample format and tags (the "
        "format from the extension; WAV to standard output). Several inputs, or folders, "
        "are a batch on a Dask cluster, as for compress.",
        epilog=FORMATS,
    )
    d.add_argument(
        "inputs", type=Path, nargs="+", metavar="INPUT", help=".sae files, folders, or -"
    )
    d.add_argument(
        "-o",
        "--output",
        type=Path,
        help="output file, for one input, or - for standard output; for several inputs or "
        "a folder, an existing folder (default: INPUT with .wav; standard output for "
        "standard input)",
    )
    d.add_argument(
        "--bits",
        choices=list(BITS),
        help="write 16-bit or 24-bit integers or 32-bit floats (default: as the input was)",
    )

    i = commands.add_parser(
        "info",
        parents=[group["output"], group["models"]],
        help="show .sae files' headers and section sizes",
        description="Show the header fields of each .sae file ('-' for standard input), "
        "what its input was, and the bytes of each section; every CRC is checked.",
    )
    i.add_argument(
        "inputs", type=Path, nargs="+", metavar="INPUT", help=".sae files, folders, or -"
    )
    i.add_argument("--json", action="store_true", help="print a JSON object (a line) per file")
    i.add_argument(
        "--plot",
        type=Path,
        metavar="OUT.png",
        help="also draw the bits spent on each latent channel and over time (one input)",
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
        "the original post's autoencoder on plain mean squared error, "
        f"{POST_ITERATIONS} iterations unless --iterations says otherwise) and print how "
        "close it gets. With --animate, write an animated GIF of one fixed random segment "
        "(the seed picks it): left and right channels, the original against the "
        "reconstruction, a frame every few iterations, iteration and SNR in the title.",
    )
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.progress = not args.quiet and sys.stderr.isatty()
    # SIGTERM and SIGHUP stop the command as Ctrl-C does: its outputs are cleaned up
    handlers = {n: signal.signal(n, stop) for n in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return _run(parser, args)
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        check_usage(args)
        check_files(args)
        from codec import commands  # the codec is imported once the arguments are good

        commands.COMMANDS[args.command](args)
        sys.stdout.flush()
    except UsageError as error:
        prog = f"sae {args.command}"
        parser.exit(2, f"{prog}: error: {error} (see {prog} --help)\n")
    except KeyboardInterrupt as error:
        return interrupted(error)
    except BrokenPipeError:
        quiet_stdout()
        return 128 + signal.SIGPIPE
    except Exception as error:
        if not isinstance(error, OSError):  # a missing file needs no codec to say so
            from codec.commands import DATA_ERRORS

            if not isinstance(error, DATA_ERRORS):
                raise
        print(f"sae: error: {error}", file=sys.stderr)
        return 1
    return 0

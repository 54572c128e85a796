"""What the arguments of ``sae`` must satisfy before any work, checked before anything
heavy is imported: files that exist, outputs that do not collide, pipes that are pipes."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

STDIO = "-"  # standard input or output, in place of a file name


class UsageError(Exception):
    """Options that do not go together: exit code 2, like any usage error."""


def is_stdio(path: Path | None) -> bool:
    return path is not None and str(path) == STDIO


def _named_files(args: argparse.Namespace) -> list[Path]:
    """The files the command reads, which must exist."""
    model = getattr(args, "model", None)
    named = [getattr(args, name, None) for name in ("input", "original", "decoded")]
    named += model if isinstance(model, list) else [model]
    named += [*getattr(args, "inputs", []), *getattr(args, "songs", [])]
    return [path for path in named if path is not None and not is_stdio(path)]


def check_files(args: argparse.Namespace) -> None:
    """A missing input or a folder in its place: one line, before any work."""
    for path in _named_files(args):
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder, not a file")
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file")
    for path in getattr(args, "outputs", []):
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder: name the output file")
    if getattr(args, "model_dir", None) is not None and not args.model_dir.is_dir():
        raise FileNotFoundError(f"{args.model_dir}: no such folder")


def outputs(args: argparse.Namespace, suffix: str) -> list[Path]:
    """The output of each input of compress or decompress, checked against one another:
    ``-`` for standard output."""
    inputs = args.inputs
    if args.output is not None and len(inputs) > 1:
        raise UsageError("-o names one output: give one input, or leave -o out")
    if any(is_stdio(path) for path in inputs) and len(inputs) > 1:
        raise UsageError("standard input (-) is coded on its own: give it as the only input")
    named = [args.output or (Path(STDIO) if is_stdio(path) else path.with_suffix(suffix))
             for path in inputs]  # fmt: skip
    if is_stdio(named[0]) and sys.stdout.isatty():
        raise UsageError("standard output is a terminal: redirect it, or name a file with -o")
    seen: dict[Path, Path] = {}
    for source, output in zip(inputs, named, strict=True):
        if is_stdio(output):
            continue
        key = Path(os.path.abspath(output))
        if key in seen:
            raise UsageError(
                f"{seen[key]} and {source} would both be written to {output}: "
                "give them separately, each with -o"
            )
        seen[key] = source
    return named


def check_usage(args: argparse.Namespace) -> None:
    """Options that do not go together, before anything is imported or read."""
    piped = [path for path in getattr(args, "inputs", []) if is_stdio(path)]
    if len(piped) > 1:
        raise UsageError("standard input (-) can be read once")
    if piped and sys.stdin.isatty():
        raise UsageError("standard input is a terminal: pipe a file into sae, or name it")
    if args.command in ("compress", "decompress"):
        args.outputs = outputs(args, ".sae" if args.command == "compress" else ".wav")
    if args.command == "compress" and args.model is not None:
        options = {"-q": args.quality, "--bitrate": args.bitrate, "--seed": args.seed,
                   "--bits-per-sample": args.bits_per_sample, "--iterations": args.iterations,
                   "--device": args.device}  # fmt: skip
        given = [option for option, value in options.items() if value is not None]
        if given:
            raise UsageError(
                f"{', '.join(given)}: no effect with --model, which codes at the model's "
                "quality and fits nothing"
            )
    if args.command == "compress" and args.tune != "snr" and args.arch != "filterbank":
        raise UsageError(f"--tune {args.tune}: the filterbank path's, not --arch {args.arch}'s")
    if args.command == "info" and args.plot is not None and len(args.inputs) > 1:
        raise UsageError("--plot draws one file: give one input")

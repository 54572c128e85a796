"""What the arguments of ``sae`` must satisfy before any work, checked before anything
heavy is imported: files that exist, outputs that do not collide, pipes that are pipes,
and folders given as inputs, opened into the files they hold."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

STDIO = "-"  # standard input or output, in place of a file name
# what a folder given to compress holds that is audio: the extensions of the formats
# libsndfile reads (headerless RAW left out: it cannot be read without being described)
AUDIO_SUFFIXES = frozenset((".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif",
                            ".aiff", ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64"))  # fmt: skip
FOLDER_FILES = {"compress": (AUDIO_SUFFIXES, "audio files"), "decompress": ({".sae"}, ".sae files"),
                "info": ({".sae"}, ".sae files")}  # fmt: skip
# a Dask scheduler: tcp://host:port (or tls://, ucx://, or host:port alone)
ADDRESS = re.compile(r"(?:[a-z]+://)?(?:\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}")


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
    """A missing input or a folder in its place: one line, before any work. (Folders
    given as the inputs of compress, decompress and info are opened by
    :func:`check_usage`.)"""
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


def files_in(folder: Path, suffixes: set[str] | frozenset[str]) -> list[Path]:
    """The files under ``folder`` (at any depth) whose extension is one of ``suffixes``,
    in sorted order; hidden files and folders are left out (a temporary ``.NAME.part``
    output of a run under way among them)."""
    found = []
    for root, folders, names in os.walk(folder):  # links to folders not followed: no loops
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        found += [Path(root, name) for name in sorted(names)
                  if not name.startswith(".")
                  and Path(name).suffix.lower() in suffixes]  # fmt: skip
    return found


def open_folders(args: argparse.Namespace) -> None:
    """Replace each folder among the inputs with the files it holds, and remember where
    each input sits under its folder (``args.within``: the path an output mirrors)."""
    suffixes, what = FOLDER_FILES[args.command]
    args.folders = [path for path in args.inputs if not is_stdio(path) and path.is_dir()]
    inputs, within = [], []
    for path in args.inputs:
        if is_stdio(path) or not path.is_dir():
            inputs.append(path)
            within.append(Path(path.name))
            continue
        found = files_in(path, suffixes)
        if not found:
            raise FileNotFoundError(f"{path}: a folder with no {what} in it")
        inputs += found
        within += [file.relative_to(path) for file in found]
    args.inputs, args.within = inputs, within


def outputs(args: argparse.Namespace, suffix: str) -> list[Path]:
    """The output of each input of compress or decompress, checked against one another:
    ``-`` for standard output. With several inputs, or a folder, ``-o`` names a folder
    that the outputs go to, as the inputs sit in their folders."""
    inputs = args.inputs
    many = len(inputs) > 1 or bool(args.folders)
    into = args.output if many and args.output is not None else None
    if into is not None and not into.is_dir():
        raise UsageError(f"-o names one output file; for several inputs, or a folder, name an "
                         f"existing folder ({into} is not one)")  # fmt: skip
    if any(is_stdio(path) for path in inputs) and len(inputs) > 1:
        raise UsageError("standard input (-) is coded on its own: give it as the only input")
    if into is not None:
        named = [into / place.with_suffix(suffix) for place in args.within]
    else:
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
    if args.command in FOLDER_FILES:
        open_folders(args)
    if args.command in ("compress", "decompress"):
        args.outputs = outputs(args, ".sae" if args.command == "compress" else ".wav")
        check_batch(args)
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


def check_batch(args: argparse.Namespace) -> None:
    """Whether compress or decompress runs as a batch (``args.batch``), on a Dask cluster:
    for several inputs, a folder, ``--scheduler`` or ``--manifest``; and what a batch
    cannot do."""
    args.batch = bool(len(args.inputs) > 1 or args.folders or args.scheduler or args.manifest)
    if not args.batch:
        return
    if is_stdio(args.inputs[0]) or is_stdio(args.outputs[0]):
        raise UsageError("standard input and output are coded here, not as a batch on a "
                         "cluster: name files for --scheduler and --manifest")  # fmt: skip
    if args.scheduler is not None:
        if args.jobs is not None:
            raise UsageError("-j sizes a cluster on this machine: with --scheduler the "
                             "cluster's own workers do the work")  # fmt: skip
        if not ADDRESS.fullmatch(args.scheduler):
            raise UsageError(f"--scheduler: {args.scheduler!r} is not a scheduler's address, "
                             "such as tcp://host:8786")  # fmt: skip
    if args.manifest is not None:
        if args.manifest.is_dir():
            raise UsageError(f"--manifest: {args.manifest} is a folder: name the file")
        if not args.manifest.absolute().parent.is_dir():
            raise UsageError(f"--manifest: no folder {args.manifest.parent}")
        if os.path.abspath(args.manifest) in map(os.path.abspath, args.outputs):
            raise UsageError(f"--manifest: {args.manifest} is an output of the batch")

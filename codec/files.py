"""Reading audio, and writing outputs atomically: a temporary file, then a rename.

An interrupted write never leaves a partial file under the final name, and an existing
file is only replaced when the caller says so. A temporary file is named after the
output and the process writing it (``.song.sae.<pid>-<random>.part.sae``), so that one a
killed process left behind is recognized, and removed, the next time that output is
written. An output may also be a stream (standard output): it gets the bytes once they
are all written, so a failure sends it nothing.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

from bitstream.sae import SAMPLE_FORMATS, Source, tags_that_fit

# the tags soundfile reads and writes (WAV INFO chunks, FLAC and Vorbis comments)
TAG_NAMES = ("title", "artist", "album", "date", "genre", "tracknumber", "comment",
             "copyright", "license", "software")  # fmt: skip
# for a recorded sample format, the ones to write in order of preference, where the output
# format cannot hold it (FLAC has no float samples, WAV no signed 8-bit ones)
NEAREST = {"PCM_S8": ("PCM_S8", "PCM_U8", "PCM_16"), "PCM_U8": ("PCM_U8", "PCM_S8", "PCM_16"),
           "PCM_16": ("PCM_16",), "PCM_24": ("PCM_24", "PCM_32", "FLOAT"),
           "PCM_32": ("PCM_32", "PCM_24"), "FLOAT": ("FLOAT", "PCM_24"),
           "DOUBLE": ("DOUBLE", "FLOAT", "PCM_24")}  # fmt: skip
INTEGER_FORMATS = ("PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32")
PIPE_FORMAT = "WAV"  # audio written to a stream


class OutputExistsError(FileExistsError):
    """The output file exists and overwriting was not asked for."""


class OutputFormatError(ValueError):
    """The output's extension names no audio format that can be written, or the format
    cannot hold the samples asked for."""


def is_stream(target: object) -> bool:
    """Whether ``target`` is an open binary stream rather than a path."""
    return hasattr(target, "write") or hasattr(target, "read")


def audio_format(path: str | os.PathLike | BinaryIO) -> str:
    """The soundfile format the extension of ``path`` names (WAV for a stream), or
    :class:`OutputFormatError`."""
    if is_stream(path):
        return PIPE_FORMAT
    suffix = Path(path).suffix
    if suffix.lstrip(".").upper() not in sf.available_formats():
        known = ", ".join(sorted(f".{name.lower()}" for name in ("WAV", "FLAC", "OGG", "AIFF")))
        raise OutputFormatError(
            f"cannot write audio as {suffix or 'a file with no extension'} ({known}, ...)"
        )
    return suffix.lstrip(".").upper()


def check_output(
    path: str | os.PathLike | BinaryIO,
    overwrite: bool = False,
    source: str | os.PathLike | BinaryIO | None = None,
) -> None:
    """Raise now what writing ``path`` would raise later, so that no long work ends in
    that error: a folder, the ``source`` file itself, an existing file (without
    ``overwrite``), a missing folder. A stream can always be written."""
    if is_stream(path):
        return
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder: name the output file")
    if (
        source is not None
        and not is_stream(source)
        and path.exists()
        and os.path.samefile(source, path)
    ):
        raise OSError(f"{path} is the input file; choose another output")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists (use -f to overwrite)")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: no folder {path.parent}")


def _part_name(path: Path) -> re.Pattern:
    """The names of temporary files of ``path``: the process id is the first group."""
    return re.compile(rf"\.{re.escape(path.name)}\.(\d+)-\w+\.part{re.escape(path.suffix)}")


def remove_stale_parts(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of ``path`` whose process is gone (killed before it
    could clean up); those of running processes stay. Returns what was removed."""
    path, removed = Path(path), []
    pattern = _part_name(path)
    with contextlib.suppress(OSError):
        for name in os.listdir(path.parent):
            match = pattern.fullmatch(name)
            if match and not _running(int(match.group(1))):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path.parent / name)
                    removed.append(path.parent / name)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process, or no pid at all: leave its file alone
    return not _ended(pid)


def _ended(pid: int) -> bool:
    """Whether ``pid`` is a process that has ended but not yet been collected by its
    parent (a zombie, on Linux): a killed Dask worker is, for a moment, when its task is
    sent to another worker on the same machine."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``."""
    path = Path(path)
    check_output(path, overwrite)
    remove_stale_parts(path)
    # named before it is made, so that the cleanup knows it whenever a signal strikes;
    # it keeps the extension: writers that go by it (images) can too
    temp = path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(6)}.part{path.suffix}"
    try:
        try:  # mode as a plain open() makes it, umask applied
            os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:  # not ours to remove
            temp = None
            raise
        yield temp
        os.replace(temp, path)
    finally:
        if temp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)


@contextlib.contextmanager
def output_file(
    target: str | os.PathLike | BinaryIO, overwrite: bool = False
) -> Iterator[BinaryIO]:
    """Yield a binary file, open for writing and reading back, whose bytes become
    ``target``: a path, written atomically, or a stream, which gets them once they are all
    written."""
    if is_stream(target):
        with tempfile.TemporaryFile() as temp:  # anonymous: nothing to leave behind
            yield temp
            temp.seek(0)
            shutil.copyfileobj(temp, target, 1 << 20)
            target.flush()
        return
    with atomic_output(target, overwrite) as temp, open(temp, "w+b") as handle:
        yield handle


def write_bytes(path: str | os.PathLike, data: bytes, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_output(path, overwrite) as temp:
        temp.write_bytes(data)


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """``(audio, sample_rate)`` with audio float32 shaped (frames, channels)."""
    audio, rate = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    return audio, rate


WRITE_BLOCK = 1 << 16  # frames clipped and written at a time


def source_of(audio_file: sf.SoundFile) -> tuple[Source, list[str]]:
    """What an open audio file is, as a ``.sae`` file records it: its sample format (none
    for lossy ones) and the tags that fit; and the names of those that did not."""
    subtype = audio_file.subtype if audio_file.subtype in SAMPLE_FORMATS else ""
    tags = {name: value for name, value in audio_file.copy_metadata().items() if value}
    kept, left_out = tags_that_fit(tags)
    return Source(subtype, kept), left_out


def output_subtype(kind: str, recorded: str, asked: str | None = None) -> str | None:
    """The sample format to write audio format ``kind`` in: the one ``asked`` for (an
    :class:`OutputFormatError` if the format cannot hold it), else the ``recorded`` one
    or the nearest the format holds; None for the format's default (lossy formats, or
    nothing recorded: 16-bit)."""
    if asked is not None:
        if not sf.check_format(kind, asked):
            raise OutputFormatError(f"{kind} cannot hold {asked} samples")
        return asked
    return next((s for s in NEAREST.get(recorded, ()) if sf.check_format(kind, s)), None)


@contextlib.contextmanager
def audio_writer(
    target: str | os.PathLike | BinaryIO,
    sample_rate: int,
    channels: int,
    overwrite: bool = False,
    subtype: str | None = None,
    tags: dict[str, str] | None = None,
) -> Iterator[Callable[[np.ndarray], None]]:
    """Yield a function that appends audio (frames, channels) to ``target``, written
    atomically in the format the extension names (WAV to a stream), as ``subtype`` (the
    format's default if None), with ``tags``.

    Samples are clipped to [-1, 1] for integer formats, which would otherwise wrap around.
    """
    kind = audio_format(target)
    clip = subtype is None or subtype in INTEGER_FORMATS
    with (
        output_file(target, overwrite) as handle,
        sf.SoundFile(handle, "w", sample_rate, channels, subtype, format=kind) as out,
    ):
        for name, value in (tags or {}).items():
            if name in TAG_NAMES:  # before any audio: some formats write them up front
                setattr(out, name, value)

        def write(audio: np.ndarray) -> None:
            for start in range(0, len(audio), WRITE_BLOCK):  # clipped copies stay small
                block = audio[start : start + WRITE_BLOCK]
                out.write(np.clip(block, -1.0, 1.0) if clip else block)

        yield write

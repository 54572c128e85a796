"""Reading audio, and writing outputs atomically: a temporary file, then a rename.

An interrupted write never leaves a partial file under the final name, and an existing
file is only replaced when the caller says so.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import soundfile as sf


class OutputExistsError(FileExistsError):
    """The output file exists and overwriting was not asked for."""


class OutputFormatError(ValueError):
    """The output's extension names no audio format that can be written."""


def audio_format(path: str | os.PathLike) -> str:
    """The soundfile format the extension of ``path`` names, or :class:`OutputFormatError`."""
    suffix = Path(path).suffix
    if suffix.lstrip(".").upper() not in sf.available_formats():
        known = ", ".join(sorted(f".{name.lower()}" for name in ("WAV", "FLAC", "OGG", "AIFF")))
        raise OutputFormatError(
            f"cannot write audio as {suffix or 'a file with no extension'} ({known}, ...)"
        )
    return suffix.lstrip(".").upper()


def check_output(
    path: str | os.PathLike, overwrite: bool = False, source: str | os.PathLike | None = None
) -> None:
    """Raise now what writing ``path`` would raise later, so that no long work ends in
    that error: the ``source`` file itself, an existing file (without ``overwrite``), a
    missing folder."""
    path = Path(path)
    if source is not None and path.exists() and os.path.samefile(source, path):
        raise OSError(f"{path} is the input file; choose another output")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists (use -f to overwrite)")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: no folder {path.parent}")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``."""
    path = Path(path)
    check_output(path, overwrite)
    # the temporary file keeps the extension: writers that go by it (images) still can
    handle, temp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".part{path.suffix}", dir=path.parent
    )
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o666 & ~umask)  # as a plain open() would make it: mkstemp's is 0600
    try:
        yield Path(temp)
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def write_bytes(path: str | os.PathLike, data: bytes, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_output(path, overwrite) as temp:
        temp.write_bytes(data)


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """``(audio, sample_rate)`` with audio float32 shaped (frames, channels)."""
    audio, rate = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    return audio, rate


WRITE_BLOCK = 1 << 16  # frames clipped and written at a time


@contextlib.contextmanager
def audio_writer(
    path: str | os.PathLike, sample_rate: int, channels: int, overwrite: bool = False
) -> Iterator[Callable[[np.ndarray], None]]:
    """Yield a function that appends audio (frames, channels) to ``path``, written
    atomically in the format the extension names.

    Samples are clipped to [-1, 1] first: integer formats would otherwise wrap around.
    """
    kind = audio_format(path)
    with (
        atomic_output(path, overwrite) as temp,
        sf.SoundFile(temp, "w", sample_rate, channels, format=kind) as out,
    ):

        def write(audio: np.ndarray) -> None:
            for start in range(0, len(audio), WRITE_BLOCK):  # clipped copies stay small
                out.write(np.clip(audio[start : start + WRITE_BLOCK], -1.0, 1.0))

        yield write

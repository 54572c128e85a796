"""``-`` on the command line: standard input and output, so that sae sits in pipes.

The readers seek (an audio file's header, a ``.sae`` file's sections are checked before
they are used), so what comes from a pipe is first copied to an anonymous temporary file,
which nothing can leave behind. What goes to standard output is written whole once it is
done (:func:`codec.files.output_file`).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from codec.usage import is_stdio


@contextlib.contextmanager
def readable(path: Path) -> Iterator[Path | BinaryIO]:
    """``path`` as the codec reads it: a regular file as it is; standard input (``-``), or
    a pipe such as bash's ``<(...)``, copied to a temporary file first."""
    if not is_stdio(path) and path.is_file():
        yield path
        return
    with tempfile.TemporaryFile() as spool:
        with contextlib.ExitStack() as stack:
            source = sys.stdin.buffer if is_stdio(path) else stack.enter_context(open(path, "rb"))
            shutil.copyfileobj(source, spool, 1 << 20)
        spool.seek(0)
        yield spool


def writable(path: Path) -> Path | BinaryIO:
    """``path``, or standard output for ``-``."""
    return sys.stdout.buffer if is_stdio(path) else path

"""The ``.saem`` file: a model shared by many ``.sae`` files (an artist's).

A ``.saem`` file is a :mod:`bitstream.container` with magic ``b"SAEM"``, version 5, and
these sections, in this order:

``HEAD`` (little-endian)::

    f32  quality the model was fitted at
    u8   length n of the coding path's name, then its n ASCII bytes

Then the coding path's model sections, as a ``.sae`` segment of that path holds its own
(the filterbank path's: :mod:`bitstream.filterbank`), and last ``SHA2``: the SHA-256
digest of the sections before it (each as tag, u32 length, payload). A ``.sae`` segment
coded with this model names it by this digest (its ``MODL`` section); the reader
recomputes it, so a model that does not match its digest never decodes anything. The
file holds numbers only: loading an untrusted one runs no code.

>>> shared = SharedModel("demo", 7.0, {b"DATA": b"123"})
>>> back = read_model(write_model(shared))
>>> back.path, back.quality, back.sections, back.digest == shared.digest
('demo', 7.0, {b'DATA': b'123'}, True)
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass, field

import numpy as np

from bitstream.container import FormatError, bytes_left, read_container, write_container

MODEL_MAGIC = b"SAEM"
MODEL_VERSION = 5
DIGEST_SIZE = 32  # SHA-256
_HEAD = struct.Struct("<fB")


@dataclass(frozen=True)
class SharedModel:
    """A coding path's model that ``.sae`` files name instead of carrying it."""

    path: str  # the coding path it belongs to
    quality: float
    sections: dict[bytes, bytes]  # the path's model sections
    digest: bytes = field(init=False, repr=False)  # SHA-256 of the sections as written

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", _digest_of(_sections(self)))


def _sections(shared: SharedModel) -> list[tuple[bytes, bytes]]:
    name = shared.path.encode("ascii")
    head = _HEAD.pack(shared.quality, len(name)) + name
    return [(b"HEAD", head), *shared.sections.items()]


def _digest_of(sections: list[tuple[bytes, bytes]]) -> bytes:
    digest = hashlib.sha256()
    for tag, payload in sections:
        digest.update(tag + struct.pack("<I", len(payload)) + payload)
    return digest.digest()


def write_model(shared: SharedModel) -> bytes:
    """Serialize a shared model, its digest last."""
    sections = [*_sections(shared), (b"SHA2", shared.digest)]
    return write_container(MODEL_MAGIC, MODEL_VERSION, sections)


def read_model(data: bytes) -> SharedModel:
    """Check and read a ``.saem`` file; every problem is a :class:`FormatError`."""
    stream = io.BytesIO(data)
    _, sections = read_container(stream, MODEL_MAGIC, {MODEL_VERSION})
    if bytes_left(stream):
        raise FormatError(f"{bytes_left(stream)} unexpected bytes after the model")
    tags = list(sections)
    if tags[:1] != [b"HEAD"] or tags[-1:] != [b"SHA2"]:
        raise FormatError("a model file runs from its HEAD section to its SHA2 digest")
    digest = sections.pop(b"SHA2")
    if _digest_of(list(sections.items())) != digest:
        raise FormatError("the model's SHA-256 digest does not match its contents")
    head = sections.pop(b"HEAD")
    if len(head) < _HEAD.size or len(head) != _HEAD.size + head[_HEAD.size - 1]:
        raise FormatError(f"HEAD section of {len(head)} bytes does not hold its fields")
    (quality, _) = _HEAD.unpack_from(head)
    if not np.isfinite(quality):
        raise FormatError(f"header: quality {quality} is unusable")
    path = head[_HEAD.size :].decode("ascii", "replace")
    return SharedModel(path, quality, sections)

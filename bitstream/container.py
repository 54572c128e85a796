"""The container shared by ``.sae`` files: magic, version, then CRC-checked sections.

Byte layout (all integers little-endian)::

    offset  size  field
    0       4     magic: b"SAE\\x1a" for compressed audio
    4       2     format version (u16)
    6       2     section count n (u16), at most MAX_SECTIONS
    8             n sections, one after another, each:
                    4   tag: four ASCII letters naming the section, e.g. b"HEAD"
                    4   payload length L (u32)
                    L   payload
                    4   CRC32 of tag + payload (u32)

Containers may follow one another in a stream (a ``.sae`` file is a run of them, one per
segment of audio). A reader checks every length against the bytes that are actually
left in the stream before it reads anything, and every CRC before it hands a payload on,
so a damaged file stops here with a :class:`FormatError` that names the problem and its
byte offset, and no claimed length makes it allocate more than the file holds.

>>> blob = write_container(SAE_MAGIC, 1, [(b"HEAD", b"abc"), (b"DATA", b"")])
>>> read_container(io.BytesIO(blob), SAE_MAGIC, {1})
(1, {b'HEAD': b'abc', b'DATA': b''})
>>> try:  # caught, not shown as a traceback: its module's name depends on how it is run
...     read_container(io.BytesIO(blob[:-1]), SAE_MAGIC, {1})
... except FormatError as error:
...     print(error)
truncated file: section b'DATA' at offset 23 needs 12 bytes, 11 left
>>> looks_like(b"RIFF....WAVEfmt ")
'WAV audio'
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import BinaryIO

SAE_MAGIC = b"SAE\x1a"
MAX_SECTIONS = 64
# what a file's first bytes say it is, so that a wrong file is named, not dumped as bytes
KINDS = {
    b"SAE\x1a": "a .sae file", b"SAEM": "a .saem model", b"RIFF": "WAV audio",
    b"RF64": "WAV audio", b"fLaC": "FLAC audio", b"OggS": "Ogg audio", b"FORM": "AIFF audio",
    b"ID3": "MP3 audio", b"\xff\xfb": "MP3 audio", b"\xff\xf3": "MP3 audio",
    b"\xff\xf2": "MP3 audio", b"caff": "CAF audio", b"\x89PNG": "a PNG image",
    b"GIF8": "a GIF image", b"%PDF": "a PDF document", b"PK\x03\x04": "a ZIP archive",
}  # fmt: skip

_PREAMBLE = struct.Struct("<4sHH")
_SECTION_HEAD = struct.Struct("<4sI")
_CRC = struct.Struct("<I")


class FormatError(ValueError):
    """The bytes are not a valid file of this package: the message says what and where."""


def write_container(magic: bytes, version: int, sections: list[tuple[bytes, bytes]]) -> bytes:
    """Lay ``sections`` (tag, payload) out behind the magic and version, each with its CRC32."""
    if len(sections) > MAX_SECTIONS:
        raise ValueError(f"{len(sections)} sections, at most {MAX_SECTIONS} fit a container")
    parts = [_PREAMBLE.pack(magic, version, len(sections))]
    for tag, payload in sections:
        if len(tag) != 4:
            raise ValueError(f"section tag {tag!r} must be 4 bytes")
        parts.append(_SECTION_HEAD.pack(tag, len(payload)))
        parts.append(payload)
        parts.append(_CRC.pack(zlib.crc32(tag + payload)))
    return b"".join(parts)


def looks_like(head: bytes) -> str | None:
    """What a file that starts with ``head`` looks like, if its first bytes say so."""
    return next((kind for start, kind in KINDS.items() if head.startswith(start)), None)


def _wrong_magic(magic: bytes, found: bytes, offset: int) -> str:
    wanted = KINDS.get(magic, f"a {magic!r} file")
    if offset > 0:  # after a valid container: damage, or bytes appended
        return f"no container at offset {offset}: {found!r} where {wanted} goes on"
    kind = looks_like(found)
    return f"not {wanted}" + (f" (it looks like {kind})" if kind else "")


def bytes_left(stream: BinaryIO) -> int:
    """How many bytes lie between the stream's position and its end."""
    position = stream.tell()
    end = stream.seek(0, io.SEEK_END)
    stream.seek(position)
    return end - position


def read_container(
    stream: BinaryIO, magic: bytes, versions: set[int]
) -> tuple[int, dict[bytes, bytes]]:
    """Check and read the container at the stream's position into ``(version, {tag:
    payload})``, leaving the stream just after it.

    Raises :class:`FormatError` for a wrong magic, an unknown version, a truncated file,
    a duplicated tag or a CRC mismatch.
    """
    offset, left = stream.tell(), bytes_left(stream)
    if left < _PREAMBLE.size:
        head = stream.read(left)
        if offset == 0 and not magic.startswith(head[: len(magic)]):
            raise FormatError(_wrong_magic(magic, head, offset))
        if offset == 0 and not head:
            raise FormatError(f"an empty file (0 bytes) is not {KINDS.get(magic, repr(magic))}")
        raise FormatError(
            f"truncated file: {left} bytes at offset {offset}, a header needs {_PREAMBLE.size}"
        )
    found_magic, version, count = _PREAMBLE.unpack(stream.read(_PREAMBLE.size))
    if found_magic != magic:
        raise FormatError(_wrong_magic(magic, found_magic, offset))
    if version not in versions:
        known = ", ".join(str(v) for v in sorted(versions))
        raise FormatError(f"unsupported format version {version} (this reader knows {known}): "
                          "written by another version of sae")  # fmt: skip
    if count > MAX_SECTIONS:
        raise FormatError(f"header claims {count} sections, at most {MAX_SECTIONS} are allowed")
    offset, left = offset + _PREAMBLE.size, left - _PREAMBLE.size
    sections: dict[bytes, bytes] = {}
    for _ in range(count):
        if left < _SECTION_HEAD.size:
            raise FormatError(
                f"truncated file: section header at offset {offset} needs "
                f"{_SECTION_HEAD.size} bytes, {left} left"
            )
        tag, length = _SECTION_HEAD.unpack(stream.read(_SECTION_HEAD.size))
        need = _SECTION_HEAD.size + length + _CRC.size
        if need > left:
            raise FormatError(
                f"truncated file: section {tag!r} at offset {offset} needs {need} bytes, "
                f"{left} left"
            )
        payload = stream.read(length)
        (crc,) = _CRC.unpack(stream.read(_CRC.size))
        if zlib.crc32(tag + payload) != crc:
            raise FormatError(f"CRC mismatch in section {tag!r} at offset {offset}: data damaged")
        if tag in sections:
            raise FormatError(f"section {tag!r} appears twice (second at offset {offset})")
        sections[tag] = payload
        offset, left = offset + need, left - need
    return version, sections


def require(sections: dict[bytes, bytes], *tags: bytes) -> list[bytes]:
    """The payloads of ``tags``, or a :class:`FormatError` naming the first one missing."""
    for tag in tags:
        if tag not in sections:
            raise FormatError(f"missing section {tag!r}")
    return [sections[tag] for tag in tags]

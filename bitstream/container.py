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
    end           nothing: bytes after the last section are an error

A reader checks every length against the bytes that are actually there before it
slices anything, and every CRC before it hands a payload on, so a damaged file stops
here with a :class:`FormatError` that names the problem and its byte offset.

>>> blob = write_container(SAE_MAGIC, 1, [(b"HEAD", b"abc"), (b"DATA", b"")])
>>> read_container(blob, SAE_MAGIC, {1})
(1, {b'HEAD': b'abc', b'DATA': b''})
>>> read_container(blob[:-1], SAE_MAGIC, {1})
Traceback (most recent call last):
bitstream.container.FormatError: truncated file: section b'DATA' at offset 23 needs 12 bytes...
"""

from __future__ import annotations

import struct
import zlib

SAE_MAGIC = b"SAE\x1a"
MAX_SECTIONS = 64

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


def read_container(data: bytes, magic: bytes, versions: set[int]) -> tuple[int, dict[bytes, bytes]]:
    """Check and split a container into ``(version, {tag: payload})``.

    Raises :class:`FormatError` for a wrong magic, an unknown version, a truncated or
    oversized file, a duplicated tag or a CRC mismatch.
    """
    view = memoryview(data)
    if len(view) < _PREAMBLE.size:
        raise FormatError(f"truncated file: {len(view)} bytes, a header needs {_PREAMBLE.size}")
    found_magic, version, count = _PREAMBLE.unpack_from(view, 0)
    if found_magic != magic:
        raise FormatError(f"not a {magic!r} file: starts with {bytes(found_magic)!r}")
    if version not in versions:
        known = ", ".join(str(v) for v in sorted(versions))
        raise FormatError(f"unsupported format version {version} (this reader knows {known})")
    if count > MAX_SECTIONS:
        raise FormatError(f"header claims {count} sections, at most {MAX_SECTIONS} are allowed")
    offset = _PREAMBLE.size
    sections: dict[bytes, bytes] = {}
    for _ in range(count):
        left = len(view) - offset
        if left < _SECTION_HEAD.size:
            raise FormatError(
                f"truncated file: section header at offset {offset} needs "
                f"{_SECTION_HEAD.size} bytes, {left} left"
            )
        tag, length = _SECTION_HEAD.unpack_from(view, offset)
        tag = bytes(tag)
        need = _SECTION_HEAD.size + length + _CRC.size
        if need > left:
            raise FormatError(
                f"truncated file: section {tag!r} at offset {offset} needs {need} bytes, "
                f"{left} left"
            )
        start = offset + _SECTION_HEAD.size
        payload = bytes(view[start : start + length])
        (crc,) = _CRC.unpack_from(view, start + length)
        if zlib.crc32(tag + payload) != crc:
            raise FormatError(f"CRC mismatch in section {tag!r} at offset {offset}: data damaged")
        if tag in sections:
            raise FormatError(f"section {tag!r} appears twice (second at offset {offset})")
        sections[tag] = payload
        offset += need
    if offset != len(view):
        raise FormatError(f"{len(view) - offset} unexpected bytes after the last section")
    return version, sections


def require(sections: dict[bytes, bytes], *tags: bytes) -> list[bytes]:
    """The payloads of ``tags``, or a :class:`FormatError` naming the first one missing."""
    for tag in tags:
        if tag not in sections:
            raise FormatError(f"missing section {tag!r}")
    return [sections[tag] for tag in tags]

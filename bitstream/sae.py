"""The ``.sae`` file: compressed audio with everything needed to decode it.

A ``.sae`` file is a run of segments, back to back, each coding the next stretch of the
track (at most :data:`MAX_SEGMENT_FRAMES` frames) on its own, so that neither side ever
holds more than a segment in memory. The first segment starts at frame 0, each next one
where the one before it ends, and the last one says so: a file cut at a segment boundary
is an error, not a shorter song. A segment is a :mod:`bitstream.container` with magic
``b"SAE\\x1a"``, version 13, whose first section is ``HEAD`` (little-endian)::

    u32  sample rate (Hz)
    u8   channels of the original audio (1 or 2; mono is coded as two equal channels)
    u8   flags: 1 = the last segment of the file
    u64  first frame: where this segment starts in the track
    u64  frames of the original audio in this segment
    f32  gain: the decoded signal is multiplied by it (the codec codes audio / gain)
    f32  quality the segment was made with (informative)
    u8   length n of the coding path's name, then its n ASCII bytes: the coding path
         (:mod:`codec.paths`) that wrote the segment and decodes it, e.g. "filterbank"

The first segment may hold ``SRCE`` next, what the input was, so that decoding gives
it back (a file coded from an array of floats has none)::

    u8   sample format of the input: 0 not recorded, 1 8-bit signed, 2 8-bit unsigned,
         3 16-bit, 4 24-bit, 5 32-bit integer, 6 32-bit float, 7 64-bit float
    u8   number n of tags, at most 16, then n times:
           u8   length k of the tag's name (1 to 16), then k lowercase ASCII letters
           u16  length v of its value, at most 1024, then v bytes of UTF-8

The whole section is at most 4096 bytes: tags are kept only when small (title, artist,
album, date, genre, track number, ...); a longer one is left out when coding.

The coding path's own sections follow (the filterbank path's: :mod:`bitstream.filterbank`).
Where a path's model sections would be, a segment coded with a shared model holds
``MODL``, the 32-byte SHA-256 digest of a :mod:`bitstream.saem` file, whose sections
stand in for them when it is read: it decodes only with that model at hand.

>>> header = SegmentHeader(8000, 2, 0, 100, True, 0.5, 7.0, "demo")
>>> source = Source("PCM_24", {"title": "Feelings"})
>>> [segment] = read_segments(write_segment(header, [(b"DATA", b"123")], source))
>>> segment.header.path, segment.sections, segment.source.sample_format
('demo', {b'DATA': b'123'}, 'PCM_24')
"""

from __future__ import annotations

import io
import math
import re
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import BinaryIO

from bitstream.container import SAE_MAGIC, FormatError, bytes_left, read_container, write_container
from bitstream.saem import DIGEST_SIZE, SharedModel

VERSION = 13
SHARED_MODEL = b"MODL"  # the section naming a shared model by its digest
SOURCE = b"SRCE"  # what the input was: the first segment's
# the sample formats SRCE records, by code, as soundfile names them ("" for not recorded)
SAMPLE_FORMATS = ("", "PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")
MAX_TAGS = 16
MAX_TAG_BYTES = 1024  # of a tag's value
MAX_SOURCE_BYTES = 4096  # of the whole SRCE section
TAG_NAME = re.compile(r"[a-z]{1,16}")
MAX_SEGMENT_FRAMES = 1 << 22  # bounds what one segment makes a decoder allocate
MAX_FRAMES = 1 << 36  # about 18 days at 44.1 kHz
LAST = 1  # the flag of the last segment
PATH_NAME = re.compile(r"[a-z0-9_-]{1,32}")

_HEAD = struct.Struct("<IBBQQff")


@dataclass(frozen=True)
class SegmentHeader:
    """What every segment says of itself, whatever coded it."""

    sample_rate: int
    channels: int
    first_frame: int
    frames: int
    last: bool
    gain: float
    quality: float
    path: str  # the coding path that wrote it

    def pack(self) -> bytes:
        name = self.path.encode("ascii")
        fixed = _HEAD.pack(self.sample_rate, self.channels, LAST if self.last else 0,
                           self.first_frame, self.frames, self.gain, self.quality)  # fmt: skip
        data = fixed + bytes([len(name)]) + name
        _unpack_header(data)  # what could not be read back is not written
        return data


@dataclass(frozen=True)
class Source:
    """What the input was: its sample format (a soundfile subtype, "" if not recorded)
    and its tags (name: value)."""

    sample_format: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def pack(self) -> bytes:
        """The SRCE payload; a ValueError if it breaks the limits (see :func:`tags_that_fit`)."""
        parts = [bytes([SAMPLE_FORMATS.index(self.sample_format), len(self.tags)])]
        for name, value in self.tags.items():
            data = value.encode("utf-8")
            parts.append(bytes([len(name)]) + name.encode("ascii"))
            parts.append(struct.pack("<H", len(data)) + data)
        data = b"".join(parts)
        _unpack_source(data)  # what could not be read back is not written
        return data


def tags_that_fit(tags: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The tags a SRCE section can hold, in order while they fit, and the names of those
    left out (too long, too many, or a name that is not lowercase letters)."""
    kept: dict[str, str] = {}
    left_out = []
    size = 2
    for name, value in tags.items():
        length = len(value.encode("utf-8"))
        grown = size + 3 + len(name) + length
        fits = length <= MAX_TAG_BYTES and grown <= MAX_SOURCE_BYTES and len(kept) < MAX_TAGS
        if fits and TAG_NAME.fullmatch(name) and name not in kept:
            kept[name], size = value, grown
        else:
            left_out.append(name)
    return kept, left_out


@dataclass
class Segment:
    """One segment of a ``.sae`` file, checked and split into sections."""

    header: SegmentHeader
    sections: dict[bytes, bytes]  # the coding path's, a named shared model's included
    stored_bytes: dict[str, int]  # each section's payload as stored in the file
    model_digest: bytes | None  # the shared model's, when the segment names one
    source: Source | None = None  # what the input was: the first segment's, if recorded


class MissingModelError(FormatError):
    """The file was coded with a shared model that the reader was not given."""

    def __init__(self, digest: bytes) -> None:
        super().__init__(
            f"this file was coded with the shared model {digest.hex()}, which was not given "
            "(pass its .saem file)"
        )
        self.digest = digest


def write_segment(
    header: SegmentHeader, sections: list[tuple[bytes, bytes]], source: Source | None = None
) -> bytes:
    """A segment: ``HEAD``, ``SRCE`` (the first segment's, if a ``source`` is given), then
    the coding path's ``sections`` (tag, payload)."""
    head = [(b"HEAD", header.pack())]
    if source is not None:
        if header.first_frame != 0:
            raise ValueError("only the first segment records the source")
        head.append((SOURCE, source.pack()))
    return write_container(SAE_MAGIC, VERSION, [*head, *sections])


def source_size(source: Source | None) -> int:
    """Bytes that recording ``source`` adds to the first segment."""
    return 0 if source is None else 12 + len(source.pack())


def segment_size(path: str, sections: list[tuple[bytes, bytes]]) -> int:
    """Bytes of the segment that :func:`write_segment` makes of a path's ``sections``."""
    head = _HEAD.size + 1 + len(path)
    return 8 + sum(12 + len(payload) for payload in [bytes(head), *(p for _, p in sections)])


def read_segments(
    source: bytes | BinaryIO,
    models: Mapping[bytes, SharedModel] = MappingProxyType({}),
    need_models: bool = True,
) -> Iterator[Segment]:
    """Check and read the segments of a ``.sae`` file (its bytes, or a binary file open at
    its start), one at a time; every problem is a :class:`FormatError`, raised when the
    iteration reaches it. ``models`` maps digests to the shared models that segments may
    name; a segment that names one not given raises :class:`MissingModelError`, unless
    ``need_models`` is False (then its sections are its own: all ``sae info`` needs).
    """
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    first: SegmentHeader | None = None
    frame, last = 0, False
    while not last:
        offset = stream.tell()
        if first is not None and bytes_left(stream) == 0:
            raise FormatError(f"truncated file: the segments end at frame {frame}, not the last")
        segment = _read_segment(stream, models, need_models)
        header = segment.header
        if header.first_frame != frame:
            raise FormatError(
                f"segment at offset {offset} starts at frame {header.first_frame}, not {frame}"
            )
        if first is None:
            first = header
        elif (header.sample_rate, header.channels, header.path) != (
            first.sample_rate, first.channels, first.path
        ):  # fmt: skip
            raise FormatError(f"segment at offset {offset}: rate, channels or coding path change")
        if header.frames == 0 and not (frame == 0 and header.last):
            raise FormatError(f"segment at offset {offset} is empty")
        frame += header.frames
        if frame > MAX_FRAMES:
            raise FormatError(f"segments run past {MAX_FRAMES} frames")
        last = header.last
        yield segment
    if bytes_left(stream):
        raise FormatError(f"{bytes_left(stream)} unexpected bytes after the last segment")


def _read_segment(stream: BinaryIO, models: Mapping, need_models: bool) -> Segment:
    _, sections = read_container(stream, SAE_MAGIC, {VERSION})
    stored = {tag.decode("ascii", "replace"): len(payload) for tag, payload in sections.items()}
    if next(iter(sections), None) != b"HEAD":
        raise FormatError("a segment must start with its HEAD section")
    header = _unpack_header(sections.pop(b"HEAD"))
    source = None
    if SOURCE in sections:
        if next(iter(sections)) != SOURCE or header.first_frame != 0:
            raise FormatError("a SRCE section must follow the first segment's HEAD")
        source = _unpack_source(sections.pop(SOURCE))
    digest = sections.get(SHARED_MODEL)
    if digest is not None:
        if len(digest) != DIGEST_SIZE:
            raise FormatError(f"MODL section is {len(digest)} bytes, a digest is {DIGEST_SIZE}")
        if digest in models:
            shared = models[digest]
            if shared.path != header.path:
                raise FormatError(f"the shared model is for the {shared.path} path")
            if set(shared.sections) & set(sections):
                raise FormatError("a section is both in the segment and in its shared model")
            del sections[SHARED_MODEL]
            sections.update(shared.sections)
        elif need_models:
            raise MissingModelError(digest)
    return Segment(header, sections, stored, digest, source)


def _unpack_header(data: bytes) -> SegmentHeader:
    if len(data) < _HEAD.size + 1 or len(data) != _HEAD.size + 1 + data[_HEAD.size]:
        raise FormatError(f"HEAD section of {len(data)} bytes does not hold its fields")
    rate, channels, flags, first_frame, frames, gain, quality = _HEAD.unpack_from(data)
    name = data[_HEAD.size + 1 :].decode("ascii", "replace")
    if rate == 0:
        raise FormatError("header: sample rate is 0")
    if channels not in (1, 2):
        raise FormatError(f"header: {channels} audio channels (1 or 2 are coded)")
    if flags & ~LAST:
        raise FormatError(f"header: unknown flags {flags:#x}")
    if frames > MAX_SEGMENT_FRAMES or first_frame > MAX_FRAMES:
        raise FormatError(f"header: {frames} frames from frame {first_frame} (at most "
                          f"{MAX_SEGMENT_FRAMES} a segment, {MAX_FRAMES} a file)")  # fmt: skip
    if not (math.isfinite(gain) and math.isfinite(quality)) or gain <= 0:
        raise FormatError(f"header: gain {gain} or quality {quality} is unusable")
    if not PATH_NAME.fullmatch(name):
        raise FormatError(f"header: {name!r} is not a coding path's name")
    return SegmentHeader(rate, channels, first_frame, frames, bool(flags & LAST), gain,
                         quality, name)  # fmt: skip


def _unpack_source(data: bytes) -> Source:
    if len(data) < 2 or len(data) > MAX_SOURCE_BYTES:
        raise FormatError(f"SRCE section of {len(data)} bytes (2 to {MAX_SOURCE_BYTES})")
    code, count = data[0], data[1]
    if code >= len(SAMPLE_FORMATS):
        raise FormatError(f"SRCE: unknown sample format {code}")
    if count > MAX_TAGS:
        raise FormatError(f"SRCE: {count} tags, at most {MAX_TAGS}")
    tags, at = {}, 2
    for _ in range(count):
        length = data[at] if at < len(data) else 0
        name = data[at + 1 : at + 1 + length].decode("ascii", "replace")
        at += 1 + length
        if not TAG_NAME.fullmatch(name) or name in tags or at + 2 > len(data):
            raise FormatError(f"SRCE: tag name {name!r} is unusable, repeated or cut short")
        (size,) = struct.unpack_from("<H", data, at)
        value = data[at + 2 : at + 2 + size]
        at += 2 + size
        if size > MAX_TAG_BYTES or at > len(data):
            raise FormatError(f"SRCE: tag {name} claims {size} bytes")
        try:
            tags[name] = value.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(f"SRCE: tag {name} is not UTF-8") from None
    if at != len(data):
        raise FormatError(f"SRCE: {len(data) - at} bytes after the tags")
    return Source(SAMPLE_FORMATS[code], tags)

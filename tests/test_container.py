import io
import struct
import zlib

import pytest

from bitstream.container import (
    MAX_SECTIONS,
    SAE_MAGIC,
    FormatError,
    read_container,
    require,
    write_container,
)

SECTIONS = [(b"HEAD", b"header"), (b"BODY", bytes(range(256)) * 4), (b"NONE", b"")]


def blob() -> bytes:
    return write_container(SAE_MAGIC, 1, SECTIONS)


def read(data: bytes, versions: set[int] = frozenset({1})) -> tuple[int, dict[bytes, bytes]]:
    return read_container(io.BytesIO(data), SAE_MAGIC, versions)


def test_round_trip():
    version, sections = read(blob())
    assert version == 1
    assert sections == dict(SECTIONS)


@pytest.mark.parametrize("cut", range(len(blob())))
def test_every_truncation_is_a_format_error(cut):
    with pytest.raises(FormatError, match=r"truncated|CRC|bytes"):
        read(blob()[:cut])


def test_wrong_magic_and_version():
    with pytest.raises(FormatError, match="not a"):
        read(b"RIFF" + blob()[4:])
    with pytest.raises(FormatError, match="unsupported format version 1"):
        read(blob(), {2})


def test_every_flipped_payload_bit_fails_its_crc():
    data = bytearray(blob())
    start = 8 + 8  # first payload byte
    for i in range(start, start + len(SECTIONS[0][1])):
        data[i] ^= 0x10
        with pytest.raises(FormatError, match="CRC mismatch in section b'HEAD' at offset 8"):
            read(bytes(data))
        data[i] ^= 0x10


def test_absurd_sizes():
    huge_length = bytearray(blob())
    struct.pack_into("<I", huge_length, 12, 0xFFFFFFFF)
    with pytest.raises(FormatError, match="needs 4294967307 bytes"):
        read(bytes(huge_length))
    too_many = bytearray(blob())
    struct.pack_into("<H", too_many, 6, MAX_SECTIONS + 1)
    with pytest.raises(FormatError, match="sections"):
        read(bytes(too_many))


def test_containers_follow_one_another_in_a_stream():
    stream = io.BytesIO(blob() + write_container(SAE_MAGIC, 2, [(b"NEXT", b"x")]))
    assert read_container(stream, SAE_MAGIC, {1})[1] == dict(SECTIONS)
    assert read_container(stream, SAE_MAGIC, {2}) == (2, {b"NEXT": b"x"})
    assert stream.read() == b""


def test_duplicate_and_missing_sections():
    twice = write_container(SAE_MAGIC, 1, [(b"HEAD", b"a"), (b"HEAD", b"b")])
    with pytest.raises(FormatError, match="appears twice"):
        read(twice)
    _, sections = read(blob())
    with pytest.raises(FormatError, match="missing section b'LATS'"):
        require(sections, b"HEAD", b"LATS")


def test_crc_covers_the_tag():
    data = bytearray(blob())
    data[8:12] = b"HEAX"
    assert zlib.crc32(b"HEAX" + b"header") != zlib.crc32(b"HEAD" + b"header")
    with pytest.raises(FormatError, match="CRC"):
        read(bytes(data))

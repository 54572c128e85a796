import io
import struct
import zlib
from dataclasses import replace

import numpy as np
import pytest

from benchmarks import fuzz
from bitstream import (
    FormatError,
    FrequencyTable,
    SegmentHeader,
    Source,
    read_segments,
    write_segment,
)
from bitstream.container import SAE_MAGIC, read_container, write_container
from bitstream.context import BUCKETS, GROUPS, HEADS, LEVELS, CoefficientTables
from bitstream.entropy import pack_tables
from bitstream.filterbank import (
    FilterbankModel,
    FilterbankSegment,
    model_sections,
    read_segment,
    segment_sections,
)
from bitstream.sae import VERSION, source_size, tags_that_fit
from bitstream.weights import pack_weights, unpack_weights

HEADER = SegmentHeader(44100, 2, 0, 300, True, 0.25, 7.0, "filterbank")


def sample_segment(bins: tuple[int, ...] = (16, 8, 16)) -> FilterbankSegment:
    """Three coded channels of 80 latent steps (6 frames of 16 bins, 11 of 8)."""
    rng = np.random.default_rng(0)
    q = tuple(np.round(rng.laplace(size=(80 // b + 1, b)) * 2).astype(np.int64) for b in bins)
    flat = CoefficientTables.flat(channels=3)
    heads = [FrequencyTable.from_probabilities(0, rng.random(HEADS) + 0.1) for _ in range(4)]
    weights = {"w": rng.integers(-300, 300, (4, 3, 2)), "b": np.zeros(4, dtype=int)}
    tables = CoefficientTables(
        rng.integers(-2, 3, (3, GROUPS)),
        rng.integers(-2, 3, (len(LEVELS), 2, BUCKETS)),
        heads,
        flat.remainders,
    )
    model = FilterbankModel(0.3, bins, weights, 0.001, tables)
    return FilterbankSegment(model, 80, q, angles=((-1234,),))


def sections_of(segment: FilterbankSegment) -> list[tuple[bytes, bytes]]:
    return model_sections(segment.model) + segment_sections(segment)


def read_one(data: bytes, decode_indices: bool = True) -> FilterbankSegment:
    """The filterbank sections of the one segment of ``data``."""
    [segment] = read_segments(data)
    return read_segment(segment.sections, segment.header.frames, decode_indices)


def test_file_round_trip():
    sample = sample_segment()
    data = write_segment(HEADER, sections_of(sample))
    [segment] = read_segments(data)
    assert segment.header == HEADER
    model_tags, segment_tags = ["QUAN", "WGTS", "CTXM", "TABL"], ["LAYT", "ROTN", "LATS"]
    assert list(segment.stored_bytes) == ["HEAD", *model_tags, *segment_tags]
    back = read_one(data)
    assert back.angles == ((-1234,),)
    for channel, sent in zip(back.indices, sample.indices, strict=True):
        np.testing.assert_array_equal(channel, sent)
    model = back.model
    np.testing.assert_array_equal(model.tables.base, sample.model.tables.base)
    np.testing.assert_array_equal(model.tables.adjust, sample.model.tables.adjust)
    assert model.tables.heads == sample.model.tables.heads
    assert model.tables.remainders == sample.model.tables.remainders
    assert (back.latent_steps, model.bins, model.coded_channels) == (80, (16, 8, 16), 3)
    assert model.step == pytest.approx(0.3) and model.weight_step == pytest.approx(0.001)
    np.testing.assert_array_equal(model.weights["w"], sample.model.weights["w"])
    assert [c.shape for c in read_one(data, decode_indices=False).indices] == [
        (0, 16),
        (0, 8),
        (0, 16),
    ]


def rewrite(tag: bytes, payload: bytes, bins: tuple[int, ...] = (16, 8, 16)) -> bytes:
    """A valid container (fresh CRCs) with one section replaced or added."""
    data = write_segment(HEADER, sections_of(sample_segment(bins)))
    _, sections = read_container(io.BytesIO(data), SAE_MAGIC, {VERSION})
    sections[tag] = payload
    return write_container(SAE_MAGIC, VERSION, list(sections.items()))


def head(path: bytes = b"filterbank", **changes) -> bytes:
    fields = dict(rate=44100, channels=2, flags=1, first=0, frames=300, gain=0.25, q=7.0)
    fields.update(changes)
    return struct.pack("<IBBQQff", *fields.values()) + bytes([len(path)]) + path


@pytest.mark.parametrize(
    "data, message",
    [
        (head(rate=0), "sample rate is 0"),
        (head(channels=3), "3 audio channels"),
        (head(frames=1 << 60), "at most 4194304 a segment"),
        (head(first=1 << 60), "from frame 1152921504606846976"),
        (head(flags=3), "unknown flags 0x3"),
        (head(gain=float("nan")), "unusable"),
        (head(gain=0.0), "unusable"),
        (head(b"Not A Path"), "not a coding path's name"),
        (head()[:-1], "does not hold its fields"),
    ],
)
def test_bad_headers(data, message):
    with pytest.raises(FormatError, match=message):
        read_one(rewrite(b"HEAD", data))


def quan(step=0.3, bins=(16, 8, 16), coded=3) -> bytes:
    return struct.pack(f"<fH{len(bins)}H", step, coded, *bins)


@pytest.mark.parametrize(
    "tag, payload, message",
    [
        (b"QUAN", quan(step=0.0), "step 0.0 is unusable"),
        (b"QUAN", quan(bins=(16, 3, 16)), r"transform bins \[16, 3, 16\]"),
        (b"QUAN", quan(bins=(16,) * 65, coded=65), "65 coded channels"),
        (b"QUAN", quan(bins=(16, 16), coded=2), "CTXM section is"),
        (b"QUAN", quan(bins=(16, 16)), "QUAN section is 10 bytes for 3 coded channels"),
        (b"QUAN", quan(bins=(16, 16, 8)), "symbol stream"),
        (b"QUAN", quan()[:5], "QUAN section is 5 bytes"),
        (b"LAYT", struct.pack("<I", 1 << 30), "latent steps for 300 frames"),
        (b"LAYT", struct.pack("<I", 81), "symbol stream"),
        (b"LAYT", b"\x00", "LAYT section is 1 bytes"),
        (b"ROTN", b"\x00", "ROTN section is 1 bytes, cut at offset 0"),
        (b"ROTN", struct.pack("<Hh", 1, -(1 << 14) - 1), "an angle beyond"),
        (b"ROTN", struct.pack("<Hhh", 2, 0, 0), r"2 knots at offset 0 \(1 to 1\)"),
        (b"ROTN", struct.pack("<Hh", 0, 0), "0 knots at offset 0"),
        (b"ROTN", struct.pack("<H", 1), "ROTN section is 2 bytes, cut at offset 2"),
        (b"ROTN", struct.pack("<Hhx", 1, 0), "its knots end at 4"),
        (b"CTXM", b"\x00", "CTXM section"),
        (b"SCAL", bytes(3 * GROUPS - 1), "SCAL section is 23 bytes for 3 coded channels"),
        (b"SCAL", bytes([33]) + bytes(3 * GROUPS - 1), "an exponent beyond"),
        (b"NOIS", b"\x00" * 4, "NOIS section of 4 bytes"),
        (b"NOIS", bytes(4) + bytes([8]), "first group 8"),
        (b"NOIS", bytes(4) + bytes([4]) + bytes(12), "NOIS section of 17 bytes for 3"),
        (b"NOIS", bytes(4) + bytes([4]) + bytes(12) + struct.pack("<I", 99), "table of 99"),
        (b"XTRA", b"", "unknown sections"),
    ],
)
def test_bad_filterbank_sections(tag, payload, message):
    bins = (16, 16, 16) if tag in (b"NOIS", b"SCAL") else (16, 8, 16)  # NOIS, SCAL need one
    with pytest.raises(FormatError, match=message):
        read_one(rewrite(tag, payload, bins))


def test_noise_needs_one_frame_length():
    for tag in (b"NOIS", b"SCAL"):
        with pytest.raises(FormatError, match="one frame length for every coded channel"):
            read_one(rewrite(tag, bytes(3 * GROUPS)))


def test_bad_tables():
    sections = dict(sections_of(sample_segment()))
    with pytest.raises(FormatError, match="0 rungs"):
        read_one(rewrite(b"CTXM", b"\x00" + sections[b"CTXM"][1:]))
    shifted = FrequencyTable.from_probabilities(1, np.ones(HEADS))  # heads start at 0
    flat = CoefficientTables.flat(channels=1)
    with pytest.raises(FormatError, match="symbols 0 to at most 4"):
        read_one(rewrite(b"TABL", pack_tables([shifted] * 4 + flat.remainders)))
    with pytest.raises(FormatError, match="remainder tables"):
        read_one(rewrite(b"TABL", pack_tables(flat.heads * 2)))


def test_an_old_version_is_named():
    data = rewrite(b"HEAD", head())
    old = data[:4] + struct.pack("<H", 4) + data[6:]
    with pytest.raises(FormatError, match="unsupported format version 4"):
        list(read_segments(old))


def segments(*frames: int, **changes) -> list[bytes]:
    """A track cut into segments of these lengths; ``changes`` to the last one's header."""
    starts = np.cumsum((0, *frames))
    sections = sections_of(sample_segment())
    headers = [
        replace(HEADER, first_frame=int(start), frames=n, last=i == len(frames) - 1)
        for i, (start, n) in enumerate(zip(starts, frames, strict=False))
    ]
    headers[-1] = replace(headers[-1], **changes)
    return [write_segment(header, sections) for header in headers]


def test_segments_follow_one_another():
    back = list(read_segments(io.BytesIO(b"".join(segments(300, 300, 100)))))
    assert [(s.header.first_frame, s.header.frames, s.header.last) for s in back] == [
        (0, 300, False),
        (300, 300, False),
        (600, 100, True),
    ]


@pytest.mark.parametrize(
    "parts, message",
    [
        (segments(300, 300)[:1], "truncated file: the segments end at frame 300, not the last"),
        (segments(300, 300)[::-1], "starts at frame 300, not 0"),
        ([segments(300, 300)[0]] * 2, "starts at frame 0, not 300"),
        (segments(300, 0, 300), "is empty"),
        (segments(300) * 2, "unexpected bytes after the last segment"),
        (segments(300, 300, path="other"), "coding path change"),
        (segments(300, 300, channels=1), "channels or coding path change"),
    ],
)
def test_segments_that_do_not_make_a_track(parts, message):
    with pytest.raises(FormatError, match=message):
        list(read_segments(b"".join(parts)))


def test_weights_round_trip_and_errors():
    rng = np.random.default_rng(0)
    tensors = {
        "a.weight": (0.25, rng.integers(-2000, 2000, (2, 3))),
        "a.bias": (1.5, np.array([0, -(1 << 23)])),
    }
    back = unpack_weights(pack_weights(tensors))
    assert list(back) == ["a.weight", "a.bias"]
    for name, (step, values) in tensors.items():
        assert back[name][0] == step
        np.testing.assert_array_equal(back[name][1], values)
    zeros = pack_weights({"w": (1.0, np.zeros((64, 8, 32), dtype=int))})
    assert len(zeros) < 40  # an unfitted decoder: 16,384 zero offsets in a few bytes
    data = pack_weights(tensors)
    with pytest.raises(FormatError, match=r"truncated weights|symbol stream"):
        unpack_weights(data[:-8])  # (a stream cut short may also decode to garbage: the CRC's job)
    with pytest.raises(FormatError, match="whole 32-bit words"):
        unpack_weights(data + b"\x00")
    with pytest.raises(FormatError, match="more than"):
        unpack_weights(struct.pack("<HB1sfB2I", 1, 1, b"x", 1.0, 2, 1 << 20, 1 << 20))
    with pytest.raises(FormatError, match="more than"):  # 2**64 values: overflows int64 to 0
        unpack_weights(struct.pack("<HB1sfB3I", 1, 1, b"x", 1.0, 3, 1 << 31, 1 << 31, 4))
    with pytest.raises(FormatError, match="unusable"):
        unpack_weights(struct.pack("<HB1sfB", 1, 1, b"x", float("nan"), 0))
    with pytest.raises(ValueError, match="below 2"):
        pack_weights({"x": (1.0, np.array([1 << 24]))})


SOURCE = Source("PCM_24", {"title": "Feelings", "artist": "Sectoid", "album": "ö"})


def with_source(source_payload: bytes | None = None, **changes) -> bytes:
    """One segment recording SOURCE, or a forged SRCE payload behind a fresh CRC."""
    data = write_segment(replace(HEADER, **changes), sections_of(sample_segment()), SOURCE)
    if source_payload is None:
        return data
    _, sections = read_container(io.BytesIO(data), SAE_MAGIC, {VERSION})
    sections[b"SRCE"] = source_payload
    return write_container(SAE_MAGIC, VERSION, list(sections.items()))


def test_the_source_is_recorded_in_the_first_segment():
    [segment] = read_segments(with_source())
    assert segment.source == SOURCE and list(segment.stored_bytes)[:2] == ["HEAD", "SRCE"]
    assert b"SRCE" not in segment.sections  # the coding path never sees it
    assert len(read_one(with_source()).indices) == len(sample_segment().indices)
    plain = write_segment(HEADER, sections_of(sample_segment()))
    assert next(read_segments(plain)).source is None  # a file coded from an array
    assert len(with_source()) - len(plain) == source_size(SOURCE) == 12 + len(SOURCE.pack())
    with pytest.raises(ValueError, match="only the first segment"):
        write_segment(replace(HEADER, first_frame=300), [], SOURCE)


def tag(name: bytes, value: bytes) -> bytes:
    return bytes([len(name)]) + name + struct.pack("<H", len(value)) + value


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"\x04", "SRCE section of 1 bytes"),
        (b"\x09\x00", "unknown sample format 9"),
        (bytes([4, 17]) + tag(b"title", b"x") * 17, "17 tags, at most 16"),
        (b"\x04\x01" + tag(b"Title", b"x"), "tag name 'Title' is unusable"),
        (b"\x04\x02" + tag(b"title", b"x") * 2, "repeated"),
        (b"\x04\x01" + tag(b"title", b"x")[:-1], "claims 1 bytes"),
        (b"\x04\x01" + tag(b"title", b"x")[:-2], "cut short"),
        (b"\x04\x01" + tag(b"title", b"\xff\xfe"), "not UTF-8"),
        (b"\x04\x01" + tag(b"title", b"x" * 1025), "claims 1025 bytes"),
        (b"\x04\x01" + tag(b"title", b"x") + b"\x00", "1 bytes after the tags"),
        (b"\x04\x00" + bytes(4095), "SRCE section of 4097 bytes"),
    ],
)
def test_bad_source_sections(payload, message):
    with pytest.raises(FormatError, match=message):
        list(read_segments(with_source(payload)))


def test_the_source_belongs_to_the_first_segment_after_head():
    first, second = segments(300, 300)
    _, sections = read_container(io.BytesIO(second), SAE_MAGIC, {VERSION})
    forged = [(b"HEAD", sections.pop(b"HEAD")), (b"SRCE", SOURCE.pack()), *sections.items()]
    with pytest.raises(FormatError, match="must follow the first segment's HEAD"):
        list(read_segments(first + write_container(SAE_MAGIC, VERSION, forged)))
    _, sections = read_container(io.BytesIO(with_source()), SAE_MAGIC, {VERSION})
    moved = [*sections.items()][::-1]  # SRCE no longer right after HEAD
    moved.insert(0, moved.pop())
    with pytest.raises(FormatError, match="must follow"):
        list(read_segments(write_container(SAE_MAGIC, VERSION, moved)))


def test_only_small_tags_are_kept():
    tags = {"title": "t", "comment": "x" * 1025, "Bad": "b", **{f"{c}tag": "v" for c in "abc"}}
    kept, left_out = tags_that_fit(tags)
    assert list(kept) == ["title", "atag", "btag", "ctag"] and left_out == ["comment", "Bad"]
    many = {f"{'abcdefghijklmnopq'[i]}x": "v" * 1000 for i in range(17)}
    kept, left_out = tags_that_fit(many)
    assert len(kept) == 4 and len(Source("", kept).pack()) <= 4096  # 4 kB in all
    assert Source("FLOAT", kept).pack()[0] == 6


def test_fuzz_cases_reach_the_source_section():
    """The fuzzer's sample records a source, so damage behind a fresh CRC reaches it."""
    data = fuzz.sample_files()["sae"]
    assert next(read_segments(data)).source == fuzz.SAMPLE_SOURCE
    start, end, tag_name = fuzz.section_spans(data)[1]
    assert tag_name == b"SRCE"
    rng = np.random.default_rng(0)
    outcomes = set()
    for at in range(start + 8, end - 4):  # every payload byte, rewritten behind a fresh CRC
        damaged = bytearray(data)
        damaged[at] = int(rng.integers(256))
        payload = bytes(damaged[start + 8 : end - 4])
        damaged[end - 4 : end] = struct.pack("<I", zlib.crc32(b"SRCE" + payload))
        outcomes.add(fuzz.check(bytes(damaged), "fresh crc"))
    assert outcomes == {"error", "decoded"}  # some damage is caught, some is only a tag

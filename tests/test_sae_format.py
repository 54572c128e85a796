import io
import struct
from dataclasses import replace

import numpy as np
import pytest

from bitstream import FormatError, FrequencyTable, SegmentHeader, read_segments, write_segment
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
from bitstream.sae import VERSION
from bitstream.weights import pack_weights, unpack_weights

HEADER = SegmentHeader(44100, 2, 0, 300, True, 0.25, 7.0, "filterbank")


def sample_segment() -> FilterbankSegment:
    rng = np.random.default_rng(0)
    q = np.round(rng.laplace(size=(3, 6, 16)) * 2).astype(np.int64)
    flat = CoefficientTables.flat(channels=3)
    heads = [FrequencyTable.from_probabilities(0, rng.random(HEADS) + 0.1) for _ in range(4)]
    weights = {"w": rng.integers(-300, 300, (4, 3, 2)), "b": np.zeros(4, dtype=int)}
    tables = CoefficientTables(
        rng.integers(-2, 3, (3, GROUPS)),
        rng.integers(-2, 3, (len(LEVELS), 2, BUCKETS)),
        heads,
        flat.remainders,
    )
    return FilterbankSegment(FilterbankModel(0.3, 16, weights, 0.001, tables), 80, q)


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
    assert list(segment.stored_bytes) == ["HEAD", "QUAN", "WGTS", "CTXM", "TABL", "LAYT", "LATS"]
    back = read_one(data)
    np.testing.assert_array_equal(back.indices, sample.indices)
    model = back.model
    np.testing.assert_array_equal(model.tables.base, sample.model.tables.base)
    np.testing.assert_array_equal(model.tables.adjust, sample.model.tables.adjust)
    assert model.tables.heads == sample.model.tables.heads
    assert model.tables.remainders == sample.model.tables.remainders
    assert (back.latent_steps, model.bins, model.coded_channels) == (80, 16, 3)
    assert model.step == pytest.approx(0.3) and model.weight_step == pytest.approx(0.001)
    np.testing.assert_array_equal(model.weights["w"], sample.model.weights["w"])
    assert read_one(data, decode_indices=False).indices.size == 0


def rewrite(tag: bytes, payload: bytes) -> bytes:
    """A valid container (fresh CRCs) with one section replaced or added."""
    data = write_segment(HEADER, sections_of(sample_segment()))
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


def quan(step=0.3, bins=16, coded=3) -> bytes:
    return struct.pack("<fHH", step, bins, coded)


@pytest.mark.parametrize(
    "tag, payload, message",
    [
        (b"QUAN", quan(step=0.0), "step 0.0 is unusable"),
        (b"QUAN", quan(bins=3), "3 transform bins"),
        (b"QUAN", quan(coded=65), "65 coded channels"),
        (b"QUAN", quan(coded=2), "CTXM section is"),
        (b"QUAN", quan()[:-1], "QUAN section is 7 bytes"),
        (b"LAYT", struct.pack("<II", 1 << 30, 6), "latent steps for 300 frames"),
        (b"LAYT", struct.pack("<II", 80, 1000), "1000 frames of 16 bins"),
        (b"LAYT", b"\x00", "LAYT section is 1 bytes"),
        (b"CTXM", b"\x00", "CTXM section"),
        (b"XTRA", b"", "unknown sections"),
    ],
)
def test_bad_filterbank_sections(tag, payload, message):
    with pytest.raises(FormatError, match=message):
        read_one(rewrite(tag, payload))


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
        unpack_weights(data[:-4])
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

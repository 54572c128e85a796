import io
import struct
from dataclasses import replace

import numpy as np
import pytest

from bitstream import FormatError, FrequencyTable, SaeSegment, read_segments, write_segment
from bitstream.container import SAE_MAGIC, read_container, write_container
from bitstream.context import BUCKETS, GROUPS, HEADS, LEVELS, CoefficientModel
from bitstream.entropy import pack_tables
from bitstream.sae import VERSION
from bitstream.weights import pack_weights, unpack_weights


def sample_file() -> SaeSegment:
    rng = np.random.default_rng(0)
    q = np.round(rng.laplace(size=(3, 6, 16)) * 2).astype(np.int64)
    flat = CoefficientModel.flat(channels=3)
    heads = [FrequencyTable.from_probabilities(0, rng.random(HEADS) + 0.1) for _ in range(4)]
    weights = {"w": rng.integers(-300, 300, (4, 3, 2)), "b": np.zeros(4, dtype=int)}
    return SaeSegment(
        sample_rate=44100,
        channels=2,
        first_frame=0,
        frames=300,
        last=True,
        gain=0.25,
        quality=7.0,
        step=0.3,
        latent_channels=64,
        latent_steps=80,
        config={"hidden_channels": 8},
        weights=weights,
        weight_step=0.001,
        model=CoefficientModel(
            rng.integers(-2, 3, (3, GROUPS)),
            rng.integers(-2, 3, (len(LEVELS), 2, BUCKETS)),
            heads,
            flat.remainders,
        ),
        coefficients=q,
    )


def read_sae(data: bytes, decode_latents: bool = True) -> SaeSegment:
    """The one segment of ``data``."""
    [segment] = read_segments(data, decode_latents)
    return segment


def test_file_round_trip():
    sae = sample_file()
    back = read_sae(write_segment(sae))
    np.testing.assert_array_equal(back.coefficients, sae.coefficients)
    np.testing.assert_array_equal(back.model.base, sae.model.base)
    np.testing.assert_array_equal(back.model.adjust, sae.model.adjust)
    assert (back.sample_rate, back.channels, back.frames) == (44100, 2, 300)
    assert (back.latent_channels, back.latent_steps) == (64, 80)
    assert back.gain == pytest.approx(0.25) and back.step == pytest.approx(0.3)
    assert back.config == {"hidden_channels": 8}
    assert back.model.heads == sae.model.heads
    assert back.model.remainders == sae.model.remainders
    np.testing.assert_array_equal(back.weights["w"], sae.weights["w"])
    assert back.weight_step == pytest.approx(0.001)
    assert set(back.section_bytes) == {"HEAD", "CONF", "WGTS", "CTXM", "TABL", "LATS"}
    assert read_sae(write_segment(sae), decode_latents=False).coefficients.size == 0


def rewrite(tag: bytes, payload: bytes) -> bytes:
    """A valid container (fresh CRCs) with one section replaced."""
    _, sections = read_container(io.BytesIO(write_segment(sample_file())), SAE_MAGIC, {VERSION})
    sections[tag] = payload
    return write_container(SAE_MAGIC, VERSION, list(sections.items()))


def header(**changes) -> bytes:
    fields = dict(
        rate=44100, channels=2, flags=1, first=0, frames=300, latent=64, steps=80, coded=3,
        tframes=6, bins=16, gain=0.25, q=7.0, step=0.3,
    )  # fmt: skip
    fields.update(changes)
    return struct.pack("<IBBQQHIHIHfff", *fields.values())


@pytest.mark.parametrize(
    "data, message",
    [
        (header(rate=0), "sample rate is 0"),
        (header(channels=3), "3 audio channels"),
        (header(frames=1 << 60), "at most 4194304 a segment"),
        (header(first=1 << 60), "from frame 1152921504606846976"),
        (header(flags=3), "unknown flags 0x3"),
        (header(latent=0), "coded of 0 latent channels"),
        (header(coded=65), "65 coded of 64"),
        (header(coded=65, latent=128), "65 coded of 128"),
        (header(steps=1 << 30), "latent steps for 300 frames"),
        (header(bins=3), "transform frames of 3 bins"),
        (header(tframes=1000), "1000 transform frames"),
        (header(gain=float("nan")), "unusable"),
        (header(step=0.0), "unusable"),
        (header(coded=2), "CTXM section is"),
        (header()[:-1], "HEAD section is 47 bytes"),
    ],
)
def test_bad_headers(data, message):
    with pytest.raises(FormatError, match=message):
        read_sae(rewrite(b"HEAD", data))


def test_bad_sections():
    with pytest.raises(FormatError, match="not JSON"):
        read_sae(rewrite(b"CONF", b"{nope"))
    with pytest.raises(FormatError, match="not a JSON object"):
        read_sae(rewrite(b"CONF", b"[1, 2]"))
    with pytest.raises(FormatError, match="unknown sections"):
        read_sae(rewrite(b"XTRA", b""))
    with pytest.raises(FormatError, match="CTXM section"):
        read_sae(rewrite(b"CTXM", b"\x00"))
    _, sections = read_container(io.BytesIO(write_segment(sample_file())), SAE_MAGIC, {VERSION})
    with pytest.raises(FormatError, match="0 rungs"):
        read_sae(rewrite(b"CTXM", b"\x00" + sections[b"CTXM"][1:]))
    shifted = FrequencyTable.from_probabilities(1, np.ones(HEADS))  # heads start at 0
    flat = CoefficientModel.flat(channels=1)
    with pytest.raises(FormatError, match="symbols 0 to at most 4"):
        read_sae(rewrite(b"TABL", pack_tables([shifted] * 4 + flat.remainders)))
    with pytest.raises(FormatError, match="remainder tables"):
        read_sae(rewrite(b"TABL", pack_tables(flat.heads * 2)))


def segments(*frames: int) -> list[SaeSegment]:
    """A track cut into segments of these lengths."""
    starts = np.cumsum((0, *frames))
    return [
        replace(sample_file(), first_frame=int(start), frames=n, last=i == len(frames) - 1)
        for i, (start, n) in enumerate(zip(starts, frames, strict=False))
    ]


def test_segments_follow_one_another():
    data = b"".join(map(write_segment, segments(300, 300, 100)))
    back = list(read_segments(io.BytesIO(data)))
    assert [(s.first_frame, s.frames, s.last) for s in back] == [
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
        ([segments(300, 300)[0], replace(segments(300, 300)[1], channels=1)], "channels change"),
    ],
)
def test_segments_that_do_not_make_a_track(parts, message):
    with pytest.raises(FormatError, match=message):
        list(read_segments(b"".join(map(write_segment, parts))))


def test_weights_round_trip_and_errors():
    rng = np.random.default_rng(0)
    arrays = {"a.weight": rng.integers(-2000, 2000, (2, 3)), "a.bias": np.array([0, -(1 << 23)])}
    step, back = unpack_weights(pack_weights(arrays, 0.25))
    assert step == 0.25 and list(back) == ["a.weight", "a.bias"]
    for name, values in arrays.items():
        np.testing.assert_array_equal(back[name], values)
    zeros = pack_weights({"w": np.zeros((64, 8, 32), dtype=int)}, 1.0)
    assert len(zeros) < 40  # an unfitted decoder: 16,384 zero offsets in a few bytes
    data = pack_weights(arrays, 0.25)
    with pytest.raises(FormatError, match=r"truncated weights|symbol stream"):
        unpack_weights(data[:-4])
    with pytest.raises(FormatError, match="whole 32-bit words"):
        unpack_weights(data + b"\x00")
    with pytest.raises(FormatError, match="more than"):
        unpack_weights(struct.pack("<fHB1sB2I", 1.0, 1, 1, b"x", 2, 1 << 20, 1 << 20))
    with pytest.raises(FormatError, match="more than"):  # 2**64 values: overflows int64 to 0
        unpack_weights(struct.pack("<fHB1sB3I", 1.0, 1, 1, b"x", 3, 1 << 31, 1 << 31, 4))
    with pytest.raises(FormatError, match="unusable"):
        unpack_weights(struct.pack("<fH", float("nan"), 0))
    with pytest.raises(ValueError, match="below 2"):
        pack_weights({"x": np.array([1 << 24])}, 1.0)

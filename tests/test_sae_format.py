import struct

import numpy as np
import pytest

from bitstream import FormatError, FrequencyTable, SaeFile, read_sae, write_sae
from bitstream.container import SAE_MAGIC, read_container, write_container
from bitstream.context import BUCKETS, GROUPS, MAX_CLASS, PASSES
from bitstream.entropy import pack_tables
from bitstream.weights import pack_weights, unpack_weights


def sample_file() -> SaeFile:
    rng = np.random.default_rng(0)
    q = np.round(rng.laplace(size=(3, 6, 16)) * 2).astype(np.int64)
    classes = np.arange(-MAX_CLASS, MAX_CLASS + 1)
    tables = [FrequencyTable.from_probabilities(-MAX_CLASS, 0.3 ** np.abs(classes))]
    weights = {"w": rng.standard_normal((4, 3, 2)).astype(np.float32), "b": np.zeros(4)}
    return SaeFile(
        sample_rate=44100,
        channels=2,
        frames=300,
        gain=0.25,
        quality=7.0,
        step=0.3,
        latent_channels=64,
        latent_steps=80,
        config={"hidden_channels": 8},
        weights=weights,
        base=rng.integers(-2, 3, (3, GROUPS)),
        adjust=rng.integers(-2, 3, (PASSES, BUCKETS)),
        tables=tables,
        coefficients=q,
    )


def test_file_round_trip():
    sae = sample_file()
    back = read_sae(write_sae(sae))
    np.testing.assert_array_equal(back.coefficients, sae.coefficients)
    np.testing.assert_array_equal(back.base, sae.base)
    np.testing.assert_array_equal(back.adjust, sae.adjust)
    assert (back.sample_rate, back.channels, back.frames) == (44100, 2, 300)
    assert (back.latent_channels, back.latent_steps) == (64, 80)
    assert back.gain == pytest.approx(0.25) and back.step == pytest.approx(0.3)
    assert back.config == {"hidden_channels": 8}
    assert back.tables == sae.tables
    np.testing.assert_allclose(back.weights["w"], sae.weights["w"], rtol=1e-3, atol=1e-4)
    assert set(back.section_bytes) == {"HEAD", "CONF", "WGTS", "CTXM", "TABL", "LATS"}
    assert read_sae(write_sae(sae), decode_latents=False).coefficients.size == 0


def rewrite(tag: bytes, payload: bytes) -> bytes:
    """A valid container (fresh CRCs) with one section replaced."""
    _, sections = read_container(write_sae(sample_file()), SAE_MAGIC, {2})
    sections[tag] = payload
    return write_container(SAE_MAGIC, 2, list(sections.items()))


def header(**changes) -> bytes:
    fields = dict(
        rate=44100, channels=2, frames=300, latent=64, steps=80, coded=3, tframes=6, bins=16,
        gain=0.25, q=7.0, step=0.3,
    )  # fmt: skip
    fields.update(changes)
    return struct.pack("<IBQHIHIHfff", *fields.values())


@pytest.mark.parametrize(
    "data, message",
    [
        (header(rate=0), "sample rate is 0"),
        (header(channels=3), "3 audio channels"),
        (header(frames=1 << 60), "frames is more than"),
        (header(latent=0), "coded of 0 latent channels"),
        (header(coded=65), "65 coded of 64"),
        (header(steps=1 << 30), "latent steps for 300 frames"),
        (header(bins=3), "transform frames of 3 bins"),
        (header(tframes=1000), "1000 transform frames"),
        (header(gain=float("nan")), "unusable"),
        (header(step=0.0), "unusable"),
        (header(coded=2), "CTXM section is"),
        (header()[:-1], "HEAD section is 38 bytes"),
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
    big = FrequencyTable.from_probabilities(MAX_CLASS, [0.5, 0.5])  # reaches class 25
    with pytest.raises(FormatError, match="beyond class"):
        read_sae(rewrite(b"TABL", pack_tables([big])))


def test_weights_round_trip_and_errors():
    arrays = {"a.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "a.bias": np.ones(2)}
    back = unpack_weights(pack_weights(arrays))
    assert list(back) == ["a.weight", "a.bias"]
    np.testing.assert_array_equal(back["a.weight"], arrays["a.weight"])
    data = pack_weights(arrays)
    with pytest.raises(FormatError, match="truncated weights"):
        unpack_weights(data[:-1])
    with pytest.raises(FormatError, match="unexpected bytes"):
        unpack_weights(data + b"\x00")
    with pytest.raises(FormatError, match="more than"):
        unpack_weights(struct.pack("<HB1sB2I", 1, 1, b"x", 2, 1 << 20, 1 << 20))
    with pytest.raises(FormatError, match="non-finite"):
        unpack_weights(pack_weights({"x": np.array([np.inf])}))

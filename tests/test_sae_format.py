import struct

import numpy as np
import pytest

from bitstream import FormatError, FrequencyTable, SaeFile, read_sae, write_sae
from bitstream.container import SAE_MAGIC, read_container, write_container
from bitstream.weights import pack_weights, unpack_weights


def sample_file() -> SaeFile:
    rng = np.random.default_rng(0)
    latents = rng.integers(-3, 4, size=(3, 50)).astype(np.int32)
    latents[2] = 1  # a constant channel
    tables = [
        FrequencyTable.from_probabilities(int(row.min()), np.ones(row.max() - row.min() + 1))
        for row in latents
    ]
    weights = {"w": rng.standard_normal((4, 3, 2)).astype(np.float32), "b": np.zeros(4)}
    return SaeFile(44100, 2, 200, 0.25, 7.0, {"hidden_channels": 8}, weights, tables, latents)


def test_file_round_trip():
    sae = sample_file()
    back = read_sae(write_sae(sae))
    np.testing.assert_array_equal(back.latents, sae.latents)
    assert (back.sample_rate, back.channels, back.frames) == (44100, 2, 200)
    assert back.gain == pytest.approx(0.25) and back.quality == 7.0
    assert back.config == {"hidden_channels": 8}
    assert back.tables == sae.tables
    np.testing.assert_allclose(back.weights["w"], sae.weights["w"], rtol=1e-3, atol=1e-4)
    assert set(back.section_bytes) == {"HEAD", "CONF", "WGTS", "TABL", "LATS"}


def rewrite(tag: bytes, payload: bytes) -> bytes:
    """A valid container (fresh CRCs) with one section replaced."""
    _, sections = read_container(write_sae(sample_file()), SAE_MAGIC, {1})
    sections[tag] = payload
    return write_container(SAE_MAGIC, 1, list(sections.items()))


def header(**changes) -> bytes:
    fields = dict(rate=44100, channels=2, frames=200, latent=3, steps=50, gain=0.25, q=7.0)
    fields.update(changes)
    return struct.pack("<IBQHIff", *fields.values())


@pytest.mark.parametrize(
    "data, message",
    [
        (header(rate=0), "sample rate is 0"),
        (header(channels=3), "3 audio channels"),
        (header(frames=1 << 60), "frames is more than"),
        (header(latent=0), "0 latent channels"),
        (header(latent=4), "3 frequency tables for 4 latent channels"),
        (header(steps=1 << 30), "latent steps for 200 frames"),
        (header(gain=float("nan")), "not a usable number"),
        (header()[:-1], "HEAD section is 26 bytes"),
    ],
)
def test_bad_headers(data, message):
    with pytest.raises(FormatError, match=message):
        read_sae(rewrite(b"HEAD", data))


def test_bad_config_and_unknown_sections():
    with pytest.raises(FormatError, match="not JSON"):
        read_sae(rewrite(b"CONF", b"{nope"))
    with pytest.raises(FormatError, match="not a JSON object"):
        read_sae(rewrite(b"CONF", b"[1, 2]"))
    with pytest.raises(FormatError, match="unknown sections"):
        read_sae(rewrite(b"XTRA", b""))


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

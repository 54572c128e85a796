"""The learned coding path: any registered autoencoder, trained per song or per artist."""

import io

import numpy as np
import pytest
import torch

from bitstream import FormatError, MissingModelError, read_segments
from bitstream.container import SAE_MAGIC, read_container, write_container
from bitstream.learned import (
    HEAD,
    LatentTables,
    decode_latents,
    encode_latents,
    read_latents,
    read_model,
)
from bitstream.sae import VERSION
from codec import compress, decompress, describe, register_architecture, snr_db, train_artist
from codec.paths.learned import LearnedPath
from codec.settings import FitSettings
from tests.helpers import synthetic_stereo

RATE = 8000
QUICK = FitSettings(iterations=40, batch_size=8, window=512)


@pytest.fixture(scope="module")
def coded() -> tuple[np.ndarray, bytes]:
    audio = synthetic_stereo(seconds=1)
    return audio, compress(audio, RATE, path=LearnedPath("post"), quality=9, settings=QUICK)


def test_the_posts_autoencoder_codes_a_song(coded):
    audio, data = coded
    decoded, rate = decompress(data)
    assert decoded.shape == audio.shape and rate == RATE
    assert snr_db(audio, decoded) > 8  # a broken model, table or bitstream lands near 0
    info = describe(data)
    assert info["path"] == "learned" and info["arch"] == "post"
    assert {"ARCH", "NETW", "QUAN", "LTBL", "LAYT", "LATS"} <= set(info["sections"])


def test_the_integers_decode_the_same_with_1_and_2_threads(coded):
    _, data = coded
    threads = torch.get_num_threads()
    runs = []
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            [segment] = read_segments(data)
            model = read_model(segment.sections)
            q = read_latents(segment.sections, model, segment.header.frames)
            runs.append((q, decompress(data)[0]))
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_allclose(runs[0][1], runs[1][1], atol=1e-6, rtol=0)


@pytest.mark.parametrize("arch", ["post", "signed"])
def test_every_architecture_keeps_length_rate_and_channels(arch):
    audio = synthetic_stereo(seconds=0.3)[:, :1]  # mono, and not whole latents
    data = compress(audio, RATE, path=LearnedPath(arch), settings=FitSettings(iterations=2))
    assert decompress(data)[0].shape == audio.shape


def small() -> tuple[torch.nn.Module, torch.nn.Module]:
    """A decoder of 514 weights: a target of a few kilobytes is mostly latents."""
    return torch.nn.Conv1d(2, 64, 4, stride=4), torch.nn.ConvTranspose1d(64, 2, 4, stride=4)


register_architecture("small", small, context_steps=1)


@pytest.mark.parametrize("target", [1.0, 3.0])
def test_a_size_target_is_met_by_the_latents_step(target):
    audio = synthetic_stereo(seconds=2, seed=1)
    data = compress(audio, RATE, path=LearnedPath("small"), bits_per_sample=target, settings=QUICK)
    assert 8 * len(data) / audio.size == pytest.approx(target, rel=0.03)


def test_an_artist_model_codes_a_song_without_training_and_names_itself():
    songs = [synthetic_stereo(seconds=1, seed=seed) for seed in range(3)]
    shared = train_artist(songs[:2], path=LearnedPath("post"), quality=9, settings=QUICK)
    data = compress(songs[2], RATE, shared=shared, path=LearnedPath("post"))
    info = describe(data)
    assert info["shared_model"] == shared.digest.hex() and "NETW" not in info["sections"]
    decoded, _ = decompress(data, models=[shared])
    assert decoded.shape == songs[2].shape and snr_db(songs[2], decoded) > 5
    with pytest.raises(MissingModelError, match=shared.digest.hex()):
        decompress(data)


def test_an_unknown_architecture_is_a_one_line_format_error(coded):
    _, data = coded
    _, sections = read_container(io.BytesIO(data), SAE_MAGIC, {VERSION})
    sections[b"ARCH"] = b"pest"  # a fresh CRC: it reaches the decoder
    with pytest.raises(FormatError, match="no architecture is named 'pest'"):
        decompress(write_container(SAE_MAGIC, VERSION, list(sections.items())))


def test_latents_are_coded_in_the_context_of_their_neighbours():
    """Loud and quiet stretches: each integer's table, chosen by its decoded neighbours'
    magnitudes, codes them in fewer bytes than one table per channel could."""
    rng = np.random.default_rng(0)
    envelope = np.repeat(rng.choice([0.3, 4.0], size=(3, 64)), 50, axis=1)
    q = np.round(rng.laplace(size=envelope.shape) * envelope).astype(np.int64)
    q[0, 7] = 1000  # an escape
    tables = LatentTables.counted(q)
    data = encode_latents(q, tables)
    assert np.array_equal(decode_latents(data, q.shape, tables), q)
    per_channel = 0.0  # bits of the best static table for each channel
    for row in np.clip(q, -HEAD - 1, HEAD + 1):
        _, counts = np.unique(row, return_counts=True)
        per_channel -= np.sum(counts * np.log2(counts / counts.sum()))
    assert 8 * len(data) < 0.95 * per_channel  # measured: 0.91

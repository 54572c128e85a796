"""Shared (per-artist) models: trained once, named by the files coded with them."""

import io
import struct
import zlib

import numpy as np
import pytest
import soundfile as sf

from bitstream.container import read_container
from bitstream.saem import MODEL_MAGIC, MODEL_VERSION
from codec import (
    FormatError,
    MissingModelError,
    compress,
    decompress,
    describe,
    read_model,
    snr_db,
    train_artist,
    write_model,
)
from tests.helpers import TINY_PATH, run, synthetic_stereo

RATE = 8000


@pytest.fixture(scope="module")
def songs() -> list[np.ndarray]:
    return [synthetic_stereo(seconds=1, seed=seed) for seed in range(3)]


@pytest.fixture(scope="module")
def shared(songs):
    return train_artist(songs[:2], quality=8.0, path=TINY_PATH)


def test_a_song_coded_with_a_shared_model_names_it_and_decodes_with_it(songs, shared):
    data = compress(songs[2], RATE, shared=shared)
    info = describe(data)
    assert info["shared_model"] == shared.digest.hex()
    assert set(info["sections"]) == {"HEAD", "MODL", "LAYT", "ROTN", "LATS"}
    decoded, _ = decompress(data, models=[shared])
    assert decoded.shape == songs[2].shape and snr_db(songs[2], decoded) > 25
    own = compress(songs[2], RATE, quality=8.0, path=TINY_PATH)
    assert len(data) < len(own)  # a short song: its own model costs more than it saves


def test_a_shared_model_codes_music_unlike_what_it_was_fitted_to(shared):
    """Loud broadband noise after quiet tones: symbols the model never saw still code."""
    noise = 0.9 * np.random.default_rng(5).uniform(-1, 1, (RATE, 2)).astype(np.float32)
    decoded, _ = decompress(compress(noise, RATE, shared=shared), models=[shared])
    assert snr_db(noise, decoded) > 15


def test_without_its_model_a_file_names_the_digest_it_needs(songs, shared):
    data = compress(songs[2], RATE, shared=shared)
    other = train_artist(songs[1:], quality=8.0, path=TINY_PATH)
    for models in ([], [other]):
        with pytest.raises(MissingModelError, match=shared.digest.hex()):
            decompress(data, models=models)


def test_model_files_round_trip_and_refuse_tampering(shared):
    data = write_model(shared)
    back = read_model(data)
    assert back.digest == shared.digest and back.sections == shared.sections
    assert write_model(back) == data
    _, sections = read_container(io.BytesIO(data), MODEL_MAGIC, {MODEL_VERSION})
    tampered = bytearray(sections[b"WGTS"])
    tampered[-1] ^= 1  # a change behind a fresh CRC: only the digest can catch it
    parts = [data[:8]]
    for tag, payload in sections.items():
        payload = bytes(tampered) if tag == b"WGTS" else payload
        parts += [tag, struct.pack("<I", len(payload)), payload]
        parts.append(struct.pack("<I", zlib.crc32(tag + payload)))
    with pytest.raises(FormatError, match="digest does not match"):
        read_model(b"".join(parts))
    with pytest.raises(FormatError, match="not a"):
        read_model(b"RIFF" + data[4:])


def test_a_shared_model_has_no_rate_target(songs, shared):
    with pytest.raises(ValueError, match="own quality"):
        compress(songs[0], RATE, shared=shared, bits_per_sample=1.0)


def test_the_artist_commands(tmp_path, songs):
    paths = []
    for i, song in enumerate(songs):
        paths.append(tmp_path / f"song{i}.wav")
        sf.write(paths[-1], song, RATE)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    model = tmp_path / "artist.saem"
    trained = run("train-artist", *paths[:2], "-o", model, "--iterations", "5", "--quiet")
    assert trained.returncode == 0, trained.stderr
    result = run("compress", paths[2], bad, paths[0], "--model", model, "-j", "2")
    assert result.returncode == 1 and "bad.wav" in result.stderr  # one failure, one line
    assert (tmp_path / "song2.sae").exists() and (tmp_path / "song0.sae").exists()
    assert not (tmp_path / "bad.sae").exists()
    out = tmp_path / "out.wav"
    missing = run("decompress", tmp_path / "song2.sae", "-o", out)
    assert missing.returncode == 1 and "shared model" in missing.stderr and not out.exists()
    found = run("decompress", tmp_path / "song2.sae", "-o", out, "--model-dir", tmp_path)
    assert found.returncode == 0 and sf.info(out).frames == len(songs[2])

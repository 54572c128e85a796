import io
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from bitstream.container import SAE_MAGIC, read_container, write_container
from bitstream.sae import VERSION
from bitstream.weights import pack_weights, unpack_weights
from codec import (
    AudioError,
    FitSettings,
    FormatError,
    compress,
    decompress,
    describe,
    fit_post,
    snr_db,
)
from tests.helpers import ROOT, TINY_PATH, synthetic_stereo


def test_round_trip_reaches_an_snr_floor(stereo):
    """A broken model, table or bitstream lands near 0 dB; a working one far above."""
    data = compress(stereo, 8000, quality=8.0, path=TINY_PATH)
    decoded, rate = decompress(data)
    assert rate == 8000 and decoded.shape == stereo.shape and decoded.dtype == np.float32
    assert snr_db(stereo, decoded) > 25
    assert describe(data)["bytes"] == len(data)


def test_quality_trades_bits_for_snr(stereo):
    results = []
    for quality in (4.0, 8.0, 12.0):
        data = compress(stereo, 8000, quality=quality, path=TINY_PATH)
        results.append((len(data), snr_db(stereo, decompress(data)[0])))
    sizes, snrs = zip(*results, strict=True)
    assert list(sizes) == sorted(sizes) and list(snrs) == sorted(snrs)
    assert snrs[-1] - snrs[0] > 10  # about 3 dB a quality step, until the noise floor


def test_rate_control_hits_its_target():
    audio = synthetic_stereo(seconds=4, rate=16000, seed=3)
    audio += 0.05 * np.random.default_rng(1).standard_normal(audio.shape).astype(np.float32)
    for target in (0.5, 2.0):
        data = compress(audio, 16000, bits_per_sample=target, path=TINY_PATH)
        assert 8 * len(data) / audio.size == pytest.approx(target, rel=0.03)


def fitted_offsets(data: bytes) -> tuple[dict, float, np.ndarray]:
    """The sections of a one-segment file, and its decoder's offsets and their step."""
    _, sections = read_container(io.BytesIO(data), SAE_MAGIC, {VERSION})
    step, offsets = unpack_weights(sections[b"WGTS"])["synthesis"]
    return sections, step, offsets


def test_the_fitted_decoder_improves_the_snr_where_it_pays():
    """The file's decoder is fitted to the song where the fit gains more than its bytes
    cost: on 6 minutes of music at quality 5 it does, and with its offsets zeroed (the
    designed inverse of the analysis) the same file decodes worse; on 2 s it does not, and
    the offsets are 0. (The fit pays less each round: with the 256-tap filterbank, each
    channel's own frame length and the stereo rotation it no longer gains its kilobyte on
    90 s of this clip at 44.1 kHz, so the clip is taken at a quarter of its rate, where
    one segment holds 6 minutes.)"""
    clip, rate = sf.read(ROOT / "examples" / "sectoid-feelings-10s.flac", dtype="float32")
    rate //= 4
    music = np.tile(resample_poly(clip, 1, 4, axis=0).astype(np.float32), (36, 1))
    data = compress(music, rate, quality=5.0)
    sections, step, offsets = fitted_offsets(data)
    assert np.abs(offsets).max() > 0
    sections[b"WGTS"] = pack_weights({"synthesis": (step, 0 * offsets)})
    unfitted = write_container(SAE_MAGIC, VERSION, list(sections.items()))
    assert snr_db(music, decompress(data)[0]) > snr_db(music, decompress(unfitted)[0]) + 0.01
    _, _, short = fitted_offsets(compress(clip[: 2 * rate], rate, quality=8.0))
    assert not short.any()


def test_decoding_is_deterministic(stereo):
    data = compress(stereo[:2000], 8000, path=TINY_PATH)
    first, _ = decompress(data)
    second, _ = decompress(data)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000])
@pytest.mark.parametrize("frames", [1, 3, 4, 1001])
def test_length_rate_and_channels_are_kept(rate, frames):
    audio = synthetic_stereo(seconds=1, rate=rate)[:frames]
    decoded, decoded_rate = decompress(compress(audio, rate, path=TINY_PATH))
    assert decoded.shape == audio.shape and decoded_rate == rate


def test_mono_comes_back_mono():
    mono = synthetic_stereo()[:, 0]
    decoded, _ = decompress(compress(mono, 8000, path=TINY_PATH))
    assert decoded.shape == (len(mono), 1)
    assert snr_db(mono[:, None], decoded) > 20


@pytest.mark.parametrize("shape", [(0, 1), (0, 2)])
def test_empty_audio_codes_to_empty_audio(shape):
    decoded, rate = decompress(compress(np.zeros(shape, np.float32), 44100))
    assert decoded.shape == shape and rate == 44100


def test_digital_silence_decodes_to_silence():
    decoded, _ = decompress(compress(np.zeros((5000, 2), np.float32), 44100))
    assert not decoded.any()


@pytest.mark.parametrize(
    "audio, message",
    [
        (np.zeros((100, 3), np.float32), "mono or stereo audio; this has 3 channels"),
        (np.full((100, 2), np.nan, np.float32), "NaN or infinite"),
        (np.array([[0.0, np.inf]] * 10, np.float32), "NaN or infinite"),
        (np.zeros((100, 2), np.int16), "floats"),
        (np.zeros((2, 2, 2), np.float32), "shaped"),
    ],
)
def test_bad_audio_is_refused(audio, message):
    with pytest.raises(AudioError, match=message):
        compress(audio, 44100)


def test_bad_sample_rate_is_refused():
    with pytest.raises(AudioError, match="sample rate"):
        compress(np.zeros((10, 2), np.float32), 0)


def test_damaged_bytes_raise_format_errors(stereo):
    data = compress(stereo[:1000], 8000, path=TINY_PATH)
    rng = np.random.default_rng(0)
    for _ in range(50):
        damaged = bytearray(data)
        damaged[rng.integers(len(data))] ^= 1 << rng.integers(8)
        with pytest.raises(FormatError):
            decompress(bytes(damaged))
    for cut in range(0, len(data), max(1, len(data) // 40)):
        with pytest.raises(FormatError):
            decompress(data[:cut])
    with pytest.raises(FormatError, match="not a"):
        decompress(b"RIFF" + data[4:])


@pytest.mark.parametrize("channels", [1, 2])
def test_the_posts_model_as_written(stereo, channels):
    """The post's recipe: a few iterations already beat a floor that a broken fit misses,
    and the song comes back in its own shape."""
    audio = stereo[:1001, :channels]
    settings = replace(FitSettings.of_post(), iterations=40, batch_size=16)
    decoded = fit_post(stereo[:, :channels], settings=settings)
    assert decoded.shape == stereo[:, :channels].shape and decoded.dtype == np.float32
    assert snr_db(stereo[:, :channels], decoded) > 12
    assert fit_post(audio, settings=settings).shape == audio.shape  # not whole latents

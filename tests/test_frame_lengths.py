"""Each latent channel's own transform frame length: long where a band holds steady tones,
short where it holds clicks."""

import numpy as np
import pytest

from codec import compress, decompress, describe
from codec.inspect import bit_usage
from codec.paths import FilterbankPath
from codec.paths.framing import choose_frame_steps
from codec.pqmf import analyse

RATE = 16000


def tone_under_clicks(seconds: float = 6.0) -> np.ndarray:
    """A steady low tone (in the lowest band) and, above a quarter of the rate, clicks of
    noise every 0.2 s: stereo float32 (frames, 2)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * RATE)) / RATE
    tone = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.1 * np.sin(2 * np.pi * 660 * t)
    clicks = np.zeros_like(t)
    for start in range(0, len(t) - 80, RATE // 5):
        clicks[start : start + 80] = rng.standard_normal(80) * np.hanning(80)
    clicks = np.diff(clicks, 2, prepend=[0, 0])  # mostly above a quarter of the rate
    mono = tone + 0.3 * clicks
    return np.stack([mono, 0.9 * mono], axis=1).astype(np.float32)


def test_steady_bands_get_long_frames_and_clicking_ones_short():
    latents = analyse(tone_under_clicks().T)
    bins = choose_frame_steps([latents], quality=9.0)
    assert bins[0] >= 512  # the mid's lowest band: the tone
    assert max(bins[2:4]) <= 256  # the mid's upper bands: the clicks
    assert len(set(choose_frame_steps([latents], 9.0, each_channel=False))) == 1


@pytest.mark.parametrize("tune", ["snr", "listen"])
def test_files_code_each_channel_s_frame_length(tune):
    audio = tone_under_clicks(3.0)
    data = compress(audio, RATE, quality=9.0, path=FilterbankPath(tune=tune))
    bins = describe(data)["transform_bins"]
    assert len(bins) == 8
    # noise filling and scale factors take one frame length
    assert (len(set(bins)) == 1) == (tune == "listen")
    decoded, rate = decompress(data)
    error = decoded - audio
    assert rate == RATE and 10 * np.log10(np.sum(audio**2) / np.sum(error**2)) > 20


def test_bits_over_time_add_up_with_mixed_frame_lengths():
    data = compress(tone_under_clicks(3.0), RATE, quality=9.0)
    usage = bit_usage(data)
    hop_seconds = usage.seconds[1] - usage.seconds[0]  # the shortest frames' hop
    assert len(set(describe(data)["transform_bins"])) > 1
    assert np.sum(usage.kbps) * hop_seconds * 1000 == pytest.approx(usage.channel_bits.sum())

"""Tuned to listen (--tune listen): noise filling, the post's "noise feature", and scale
factors that shape the error to the spectrum, in the filterbank path."""

import numpy as np
import pytest

from bitstream.noise import NoiseFill
from codec import FilterbankPath, compress, decompress, describe, snr_db
from codec.noise import with_noise
from tests.helpers import run, synthetic_stereo

RATE = 16000


def bright(seconds: float = 2.0) -> np.ndarray:
    """Tones, and quiet noise above 2 kHz: at a low rate its regions quantize to zero."""
    rng = np.random.default_rng(0)
    tones = synthetic_stereo(seconds=seconds, rate=RATE)
    hiss = np.diff(rng.standard_normal((len(tones) + 1, 2)), axis=0) * 0.02
    return (tones + hiss).astype(np.float32)


@pytest.fixture(scope="module")
def coded():
    audio = bright()
    snr = compress(audio, RATE, quality=4, path=FilterbankPath(frame_steps=64))
    listen = compress(audio, RATE, quality=4, path=FilterbankPath(frame_steps=64, tune="listen"))
    return audio, snr, listen


def top_octave_energy(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x, axis=0)) ** 2
    return float(spectrum[len(spectrum) // 2 :].sum())


def test_listening_fills_the_empty_top_octaves_with_noise_of_their_level(coded):
    audio, snr, listen = coded
    sections = describe(listen)["sections"]
    assert {"NOIS", "SCAL"} <= set(sections)
    assert not {"NOIS", "SCAL"} & set(describe(snr)["sections"])
    quiet, filled = decompress(snr)[0], decompress(listen)[0]
    original = top_octave_energy(audio)
    assert top_octave_energy(quiet) < 0.2 * original  # muffled
    assert 0.2 * original < top_octave_energy(filled) < 1.2 * original  # filled, not louder
    # the noise costs SNR where it fills (its error adds)
    assert snr_db(audio, filled) < snr_db(audio, quiet)


def two_bands(seconds: float = 2.0) -> np.ndarray:
    """Noise from 1 to 1.5 kHz, noise 30 dB quieter from 5 to 5.5 kHz, and a floor of
    noise 45 dB below the first everywhere."""
    rng = np.random.default_rng(1)
    frames = int(seconds * RATE)
    spectrum = np.fft.rfft(rng.standard_normal((frames, 2)), axis=0)
    frequency = np.fft.rfftfreq(frames, 1 / RATE)[:, None]
    gain = 10 ** (-45 / 20) + ((frequency >= 1000) & (frequency < 1500))
    gain += ((frequency >= 5000) & (frequency < 5500)) * 10 ** (-30 / 20)
    return (0.3 * np.fft.irfft(spectrum * gain, frames, axis=0)).astype(np.float32)


def error_db(original: np.ndarray, decoded: np.ndarray, low: float, high: float) -> float:
    """The error's power from ``low`` to ``high`` Hz, in dB."""
    frequency = np.fft.rfftfreq(len(original), 1 / RATE)
    error = np.fft.rfft(original, axis=0) - np.fft.rfft(decoded, axis=0)
    return float(10 * np.log10(np.sum(np.abs(error[(frequency >= low) & (frequency < high)]) ** 2)))


def test_scale_factors_shape_the_error_to_the_spectrum():
    """Coded for the SNR, the error is about as loud in a band 30 dB quieter as in the loud
    one; tuned to listen it follows the music, SHAPE x 30 = 15 dB quieter there."""
    audio = two_bands()
    for tune, (low, high) in (("snr", (0, 8)), ("listen", (11, 19))):
        data = compress(audio, RATE, bits_per_sample=2.0, path=FilterbankPath(tune=tune))
        decoded = decompress(data)[0]
        loud, quiet = error_db(audio, decoded, 1000, 1500), error_db(audio, decoded, 5000, 5500)
        assert low < loud - quiet < high, tune


def test_holes_in_coded_regions_are_filled_at_their_level():
    """A region with one coefficient coded keeps it; its other bins, holes, get noise of
    the region's hole level, from the first filled group up; lower groups stay exact."""
    indices = np.zeros((1, 1, 64), np.int64)
    indices[0, 0, [0, 20, 40]] = 3  # a coefficient in group 0, 5 and 7 of 64 bins
    dequantized = indices * 1.0
    holes = np.array([[0, 64, 0, 32]])  # groups 4 to 7: none, 1 step, none, half a step
    filled = with_noise(dequantized, indices, 0.5, NoiseFill(7, 4, np.zeros(2, np.int64), holes))
    out = filled[0, 0]
    assert np.array_equal(out[:6], dequantized[0, 0, :6])  # below the first group: exact
    assert out[20] == 3 and out[40] == 3  # coded bins keep their value
    groups = np.searchsorted(np.round(np.exp2(np.arange(1, 8) * np.log2(65) / 8)) - 1,
                             np.arange(64), side="right")  # fmt: skip
    group5 = (groups == 5) & (np.arange(64) != 20)
    group7 = (groups == 7) & (np.arange(64) != 40)
    assert np.sqrt(np.mean(out[group5] ** 2)) == pytest.approx(0.5, rel=0.5)
    assert np.sqrt(np.mean(out[group7] ** 2)) == pytest.approx(0.25, rel=0.5)
    assert not out[groups == 6].any()  # empty region at level 0, holes at level 0


def test_the_noise_is_the_same_on_every_decode(coded):
    _, _, listen = coded
    np.testing.assert_array_equal(decompress(listen)[0], decompress(listen)[0])


def test_the_command_line_tunes_the_filterbank_path_only(tmp_path):
    import soundfile as sf

    wav = tmp_path / "a.wav"
    sf.write(wav, bright(0.5), RATE)
    done = run("compress", wav, "--tune", "listen", "--quiet")
    assert done.returncode == 0, done.stderr
    refused = run("compress", wav, "--tune", "listen", "--arch", "post", "-f")
    assert refused.returncode == 2 and "filterbank path" in refused.stderr

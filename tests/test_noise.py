"""Noise filling (--tune listen): the post's "noise feature" in the filterbank path."""

import numpy as np
import pytest

from codec import FilterbankPath, compress, decompress, describe, snr_db
from codec.plots import band_snr
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


def test_listening_fills_the_empty_top_octaves_with_noise_of_their_level(coded):
    audio, snr, listen = coded
    assert "NOIS" in describe(listen)["sections"] and "NOIS" not in describe(snr)["sections"]
    quiet, filled = decompress(snr)[0], decompress(listen)[0]

    def top_octave_energy(x: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(x, axis=0)) ** 2
        return float(spectrum[len(spectrum) // 2 :].sum())

    original = top_octave_energy(audio)
    assert top_octave_energy(quiet) < 0.2 * original  # muffled
    assert 0.2 * original < top_octave_energy(filled) < 1.2 * original  # filled, not louder
    # the noise costs SNR where it fills (its error adds), and a few bytes
    assert snr_db(audio, filled) < snr_db(audio, quiet)
    for (_, _, before), (_, _, after) in zip(
        band_snr(audio, quiet, RATE)[:3], band_snr(audio, filled, RATE)[:3], strict=True
    ):
        assert after == pytest.approx(before, abs=0.5)  # the low octaves stay as they were
    assert len(snr) < len(listen) < 1.4 * len(snr)  # short frames: many regions


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

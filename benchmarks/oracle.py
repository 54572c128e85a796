"""The oracle curve: Gaussian reverse water-filling on mid/side MDCT coefficients.

Each frame's 1024 bins are split into bands of BAND bins; a coefficient is taken as
Gaussian with its band's mean square in that frame as variance, known to the decoder for
free (no side information). At water level theta a coefficient of variance v costs
max(0, log2(v / theta) / 2) bits and leaves min(v, theta) of error. This is a reference
curve for a transform coder that knew its spectral envelope, not a bound on any codec.

>>> audio = np.random.default_rng(0).standard_normal((44100, 2))
>>> bits, snr = oracle_curve(audio, [0.1])
>>> round(float(bits[0]), 2), round(float(snr[0]), 1)
(1.63, 9.9)
"""

from __future__ import annotations

import numpy as np

from benchmarks.mdct import HOP, mid_side
from codec.transform import mdct

BAND = 16


def banded(audio: np.ndarray) -> np.ndarray:
    """(channels, frames, bands, BAND) mid/side MDCT coefficients, a frame's bins in bands."""
    coefficients = mdct(mid_side(np.asarray(audio, np.float64)), HOP)
    return coefficients.reshape(*coefficients.shape[:2], HOP // BAND, BAND)


def oracle_curve(audio: np.ndarray, thetas) -> tuple[np.ndarray, np.ndarray]:
    """(bits per sample, SNR dB) of reverse water-filling at each water level in ``thetas``."""
    coefficients = banded(audio)
    variances = np.repeat(np.mean(coefficients**2, -1), BAND, axis=-1).ravel()
    energy = np.sum(coefficients**2)
    samples = audio.shape[0] * audio.shape[1]
    bits, snr = [], []
    for theta in thetas:
        rate = np.sum(0.5 * np.log2(np.maximum(variances, theta) / theta))
        distortion = np.sum(np.minimum(variances, theta))
        bits.append(rate / samples)
        snr.append(10 * np.log10(energy / distortion))
    return np.array(bits), np.array(snr)

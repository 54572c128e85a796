"""The MDCT: a sine-window lapped transform, orthonormal, computed with scipy's DCT-IV.

Frames of ``2 * hop`` samples overlap by half; the signal is zero-padded with ``hop``
samples in front and up to a whole frame behind, so every sample lies in two frames and
:func:`imdct` gives it back exactly (time-domain aliasing cancels between neighbours).

>>> x = np.random.default_rng(0).standard_normal((3, 1000))
>>> coefficients = mdct(x, 256)
>>> coefficients.shape
(3, 5, 256)
>>> bool(np.allclose(imdct(coefficients, 1000), x))
True
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.fft import dct


@cache
def _window(hop: int) -> np.ndarray:
    return np.sin(np.pi * (np.arange(2 * hop) + 0.5) / (2 * hop))


def frame_count(length: int, hop: int) -> int:
    """Frames :func:`mdct` makes of ``length`` samples."""
    return -(-length // hop) + 1


def mdct(signal: np.ndarray, hop: int) -> np.ndarray:
    """(..., frames, hop) coefficients of signals laid along the last axis."""
    length = signal.shape[-1]
    frames = frame_count(length, hop)
    pad = [(0, 0)] * (signal.ndim - 1) + [(hop, frames * hop - length)]
    padded = np.pad(signal, pad)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * hop, axis=-1)[..., ::hop, :]
    a, b, c, d = np.split(windows * _window(hop), 4, axis=-1)
    folded = np.concatenate([-c[..., ::-1] - d, a - b[..., ::-1]], axis=-1)
    return dct(folded, type=4, norm="ortho", axis=-1)


def imdct(coefficients: np.ndarray, length: int) -> np.ndarray:
    """Overlap-add inverse of :func:`mdct`, cut to ``length`` samples."""
    hop = coefficients.shape[-1]
    lead = coefficients.shape[:-2]
    frames = coefficients.shape[-2]
    u1, u2 = np.split(dct(coefficients, type=4, norm="ortho", axis=-1), 2, axis=-1)
    window = _window(hop)
    # each frame's first half overlaps the previous frame's second half: add them in place
    out = np.zeros((*lead, frames + 1, hop))
    out[..., :-1, :] = np.concatenate([u2, -u2[..., ::-1]], axis=-1) * window[:hop]
    out[..., 1:, :] -= np.concatenate([u1[..., ::-1], u1], axis=-1) * window[hop:]
    return out.reshape(*lead, -1)[..., hop : hop + length]

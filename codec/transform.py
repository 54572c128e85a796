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

IMDCT_BLOCK = 1 << 17  # coefficients inverted at a time


@cache
def _window(hop: int) -> np.ndarray:
    return np.sin(np.pi * (np.arange(2 * hop) + 0.5) / (2 * hop))


def frame_count(length: int, hop: int) -> int:
    """Frames :func:`mdct` makes of ``length`` samples."""
    return -(-length // hop) + 1


def mdct(signal: np.ndarray, hop: int) -> np.ndarray:
    """(..., frames, hop) coefficients of signals laid along the last axis, a signal at a
    time (its windowed copies are twice its size)."""
    length = signal.shape[-1]
    frames = frame_count(length, hop)
    rows = signal.reshape(-1, length)
    out = np.empty((len(rows), frames, hop))
    for row, coefficients in zip(rows, out, strict=True):
        padded = np.pad(row, (hop, frames * hop - length))
        windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * hop)[::hop]
        a, b, c, d = np.split(windows * _window(hop), 4, axis=-1)
        folded = np.concatenate([-c[..., ::-1] - d, a - b[..., ::-1]], axis=-1)
        coefficients[:] = dct(folded, type=4, norm="ortho", axis=-1)
    return out.reshape(*signal.shape[:-1], frames, hop)


def imdct(coefficients: np.ndarray, length: int) -> np.ndarray:
    """Overlap-add inverse of :func:`mdct`, cut to ``length`` samples, a signal at a time."""
    frames, hop = coefficients.shape[-2:]
    rows = coefficients.reshape(-1, frames, hop)
    out = np.empty((len(rows), length))
    window = _window(hop)
    for row, signal in zip(rows, out, strict=True):
        # each frame's first half overlaps the previous frame's second half: add in place,
        # a block of frames at a time (the DCT's temporaries are each as large as the row)
        added = np.zeros((frames + 1, hop))
        block = max(IMDCT_BLOCK // hop, 1)
        for start in range(0, frames, block):
            stop = min(start + block, frames)
            u1, u2 = np.split(dct(row[start:stop], type=4, norm="ortho", axis=-1), 2, axis=-1)
            added[start:stop] += np.concatenate([u2, -u2[..., ::-1]], axis=-1) * window[:hop]
            added[start + 1 : stop + 1] -= (
                np.concatenate([u1[..., ::-1], u1], axis=-1) * window[hop:]
            )
        signal[:] = added.reshape(-1)[hop : hop + length]
    return out.reshape(*coefficients.shape[:-2], length)

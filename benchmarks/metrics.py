"""The benchmark's measures: aligned SNR, interpolation on the rate axis, Bjontegaard deltas.

>>> x = np.sin(np.arange(5000) / 7.0)[:, None] * [1.0, 0.5]
>>> y = np.roll(x, 3, axis=0) * 0.99
>>> snr, lag = aligned_snr(x, y)
>>> round(snr, 1), lag
(40.0, 3)
>>> snr_at(np.array([1.0, 2.0, 4.0]), np.array([10.0, 16.0, 22.0]), 2.0)
16.0
>>> snr_at(np.array([1.0, 2.0]), np.array([10.0, 16.0]), 4.0) is None  # never extrapolated
True
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.signal import correlate

MAX_LAG = 8192


def aligned_snr(reference: np.ndarray, decoded: np.ndarray) -> tuple[float, int]:
    """SNR (dB) of ``decoded`` against ``reference`` (frames, channels) after shifting it by
    the integer lag that best aligns their channel sums, both trimmed to the overlap.

    Returns ``(snr_db, lag)``; a positive lag means the decoded audio comes late.
    """
    n = min(len(reference), len(decoded))
    a = reference[:n].sum(axis=1)
    b = decoded[:n].sum(axis=1)
    correlation = correlate(b, a, mode="full", method="fft")
    lags = np.arange(-n + 1, n)
    window = np.abs(lags) <= MAX_LAG
    lag = int(lags[window][np.argmax(correlation[window])])
    ref, dec = (x.astype(np.float64) for x in aligned(reference, decoded, lag))
    error = np.sum((ref - dec) ** 2)
    return (float(10 * np.log10(np.sum(ref**2) / error)) if error > 0 else float("inf")), lag


def aligned(reference: np.ndarray, decoded: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """``reference`` and ``decoded`` shifted by ``lag`` (the decoded audio that late) and
    trimmed to their overlap, which starts ``max(0, -lag)`` frames into the reference.

    >>> [x.tolist() for x in aligned(np.arange(5), np.arange(-2, 3), 2)]
    [[0, 1, 2], [0, 1, 2]]
    """
    if lag >= 0:
        ref, dec = reference[: len(decoded) - lag], decoded[lag:]
    else:
        ref, dec = reference[-lag:], decoded[: len(reference) + lag]
    m = min(len(ref), len(dec))
    return ref[:m], dec[:m]


def _curve(bits: np.ndarray, snr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points sorted by rate, keeping only those that improve SNR (the convex-ish hull)."""
    order = np.argsort(bits)
    bits, snr = np.asarray(bits, float)[order], np.asarray(snr, float)[order]
    keep = np.maximum.accumulate(snr) == snr
    keep &= np.concatenate([[True], np.diff(bits) > 0])
    return bits[keep], snr[keep]


def snr_at(bits: np.ndarray, snr: np.ndarray, rate: float) -> float | None:
    """SNR interpolated (monotone cubic in log rate) at ``rate``; None outside the points."""
    bits, snr = _curve(bits, snr)
    if len(bits) == 0 or not bits[0] <= rate <= bits[-1]:
        return None
    if len(bits) == 1:
        return float(snr[0])
    return float(PchipInterpolator(np.log2(bits), snr)(np.log2(rate)))


def bd_snr(
    ref_bits, ref_snr, test_bits, test_snr, window=(0.0, np.inf), samples: int = 200
) -> float | None:
    """Mean SNR gain (dB) of the test curve over the reference, over their common rate
    range within ``window`` (bits per sample)."""
    rb, rs = _curve(ref_bits, ref_snr)
    tb, ts = _curve(test_bits, test_snr)
    if len(rb) < 2 or len(tb) < 2:
        return None
    low, high = max(rb[0], tb[0], window[0]), min(rb[-1], tb[-1], window[1])
    if low >= high:
        return None
    grid = np.linspace(np.log2(low), np.log2(high), samples)
    ref = PchipInterpolator(np.log2(rb), rs)(grid)
    test = PchipInterpolator(np.log2(tb), ts)(grid)
    return float(np.mean(test - ref))


def bd_rate(
    ref_bits, ref_snr, test_bits, test_snr, window=(0.0, np.inf), samples: int = 200
) -> float | None:
    """Mean rate change (%) of the test curve against the reference at equal SNR, over the
    SNR range both reach while the reference's rate is within ``window``."""
    rb, rs = _curve(ref_bits, ref_snr)
    tb, ts = _curve(test_bits, test_snr)
    if len(rb) < 2 or len(tb) < 2:
        return None
    reference = PchipInterpolator(np.log2(rb), rs)
    limits = np.clip(np.log2(np.maximum(window, 1e-300)), np.log2(rb[0]), np.log2(rb[-1]))
    low, high = max(float(reference(limits[0])), ts[0]), min(float(reference(limits[1])), ts[-1])
    if low >= high:
        return None
    grid = np.linspace(low, high, samples)
    ref = PchipInterpolator(rs, np.log2(rb))(grid)
    test = PchipInterpolator(ts, np.log2(tb))(grid)
    return float((2 ** np.mean(test - ref) - 1) * 100)

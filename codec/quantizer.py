"""The filterbank path's quantizer: the quality scale, rounding, the trellis search, and
dequantization.

``quality`` q sets lambda = 2**-q, the price in distortion (mean squared error of the
gain-normalized audio, so 1 / distortion is the SNR) of one bit per sample, and the step
:func:`quantizer_step`: each quality step is worth about 3 dB.

The indices mean what :mod:`bitstream.trellis` says: each row (one coded latent channel,
one transform frame) is a chain through an 8-state trellis whose state picks one of two
quantizers, Q0 (the even multiples of the step) or Q1 (zero and the odd multiples).
:func:`trellis_quantize` finds, for every row, the path through the trellis that
minimizes squared error + lambda x bits, counting the bits with frozen tables under the
contexts the decoder will see (:mod:`bitstream.context`): a Viterbi search along the bins
in which each of the eight survivors keeps its own last two magnitudes (the near
context). Rows of one frame level only depend on the levels before them, so they are
searched together, a bin at a time. :func:`quantize` alternates the search with refitting
the tables.

Against dead-zone rounding with a context coder of its own, this measured 0.8 to 1.3 dB
more SNR at the same size on dense and on sparse music
(``benchmarks/results/experiments.md``).

>>> rng = np.random.default_rng(0)
>>> coefficients = rng.laplace(size=(2, 8, 32))
>>> k, tables = quantize(coefficients, step=0.1, lam=0.01)
>>> error = coefficients - dequantize(k, 0.1)
>>> round(float(10 * np.log10(np.mean(coefficients**2) / np.mean(error**2))))  # SNR, dB
27
"""

from __future__ import annotations

import math

import numpy as np

from bitstream.context import (
    CLASS_THRESHOLDS,
    FAR_CAP,
    HEADS,
    LEVELS,
    CoefficientTables,
    bin_groups,
    class_far,
    far_activity,
    level_frames,
    spread,
)
from bitstream.entropy import code_lengths
from bitstream.integers import MAX_CLASS
from bitstream.trellis import NEXT_STATE, QUANTIZER_OF_STATE, STATES, reconstruction_levels
from codec.entropy_model import channel_arrays, fit_tables

DEFAULT_QUALITY = 7.0
# a (channels, frames, bins) array, or one (frames, bins) array per coded channel, whose
# frame lengths may differ
Coefficients = np.ndarray | list[np.ndarray]
STEP_PER_ROOT_LAMBDA = 1.88


def quality_to_lambda(quality: float) -> float:
    """lambda = 2 ** -quality: the price, in distortion, of one bit per sample."""
    return 2.0 ** (-quality)


def quantizer_step(quality: float) -> float:
    """The trellis quantizer's step, in units of the normalized latents, for the quality.

    It grows as sqrt(lambda), as the step of any quantizer whose errors are uniform. The
    factor was measured: from 1.6 to 1.9 x sqrt(lambda), the trellis, pricing bits at
    lambda, codes within 0.05 dB of the same rate-distortion curve.
    """
    return STEP_PER_ROOT_LAMBDA * math.sqrt(quality_to_lambda(quality))


def round_to_q0(coefficients: np.ndarray, step: float) -> np.ndarray:
    """Plain rounding to Q0 (the even multiples of the step): the trellis's first guess,
    and a quick stand-in for it."""
    return np.round(coefficients / (2 * step)).astype(np.int64)


def dequantize(indices: np.ndarray, step: float) -> np.ndarray:
    """The coefficients that trellis indices decode to."""
    return reconstruction_levels(indices) * step


# the two (state, parity) moves into each state: NEXT_STATE[s, p] == t
_INTO = [
    [(s, p) for s in range(STATES) for p in range(2) if NEXT_STATE[s, p] == t]
    for t in range(STATES)
]
INTO_STATE = np.array([[s for s, _ in moves] for moves in _INTO])
INTO_PARITY = np.array([[p for _, p in moves] for moves in _INTO])
UNSEEN_BITS = 32.0  # the cost of a remainder class beyond its table: never chosen


def quantize(coefficients: Coefficients, step: float, lam: float, rounds: int = 2):
    """Trellis indices of ``coefficients`` and the tables fitted to them: a (channels,
    frames, bins) array gives an array, one (frames, bins) array per coded channel gives
    a list of them. ``lam`` prices a bit in squared error of the coefficients; each of
    ``rounds`` searches counts bits with the tables fitted to the previous one's indices,
    the first with tables fitted to plain rounding."""
    k = _each(round_to_q0, coefficients, step)
    for _ in range(rounds):
        k = trellis_quantize(coefficients, step, lam, fit_tables(k), k)
    return k, fit_tables(k)


def _each(function, coefficients: Coefficients, *arguments):
    """``function`` of an array, or of each channel's."""
    if isinstance(coefficients, np.ndarray):
        return function(coefficients, *arguments)
    return [function(channel, *arguments) for channel in coefficients]


def trellis_quantize(
    coefficients: Coefficients,
    step: float,
    lam: float,
    tables: CoefficientTables,
    guess: Coefficients,
):
    """The indices that minimize squared error + ``lam`` x bits under ``tables``, an array
    or a list as ``coefficients`` is (:func:`quantize`). Level 0's remainder classes are
    picked by the level's previous frame, not known before the search: indices ``guess``
    (a previous search's, or plain rounding) stand in for it."""
    if isinstance(coefficients, np.ndarray):
        return _trellis_quantize(coefficients, step, lam, tables, np.asarray(guess))
    k: list = [None] * len(coefficients)
    for channels, part in channel_arrays(guess):
        x = np.stack([coefficients[c] for c in channels])
        found = _trellis_quantize(x, step, lam, tables.of_channels(channels), part)
        for c, each in zip(channels, found, strict=True):
            k[c] = each
    return k


def _trellis_quantize(
    coefficients: np.ndarray,
    step: float,
    lam: float,
    tables: CoefficientTables,
    guess: np.ndarray,
) -> np.ndarray:
    """:func:`trellis_quantize` of one (channels, frames, bins) array."""
    from codec.kernels import trellis_search  # compiled: decoding never needs it

    channels, frames, bins = coefficients.shape
    head_cost, class_cost = _costs(tables, lam / step**2)
    k = np.zeros(coefficients.shape, dtype=np.int64)
    known = np.zeros(coefficients.shape, dtype=np.int8)
    base = tables.base[:, bin_groups(bins)]  # (channels, bins)
    spreads = np.zeros(coefficients.shape, np.int32)  # of the frames searched, and level 0's
    spreads[:, level_frames(frames, 0)] = spread(guess[:, level_frames(frames, 0)])
    for level in range(len(LEVELS)):
        f = level_frames(frames, level)
        far = far_activity(known, level)
        rows = far.shape[1]
        class_step = np.searchsorted(CLASS_THRESHOLDS, class_far(spreads, level), side="right")
        x = coefficients[:, f].reshape(-1, bins) / step
        magnitude = np.zeros(x.shape, dtype=np.int64)
        trellis_search(
            np.abs(x).astype(np.float32), far.reshape(-1, bins), class_step.reshape(-1, bins),
            np.repeat(base, rows, axis=0), level, tables.adjust[level][QUANTIZER_OF_STATE],
            head_cost, class_cost, np.float32(lam / step**2), tables.rungs, magnitude,
        )  # fmt: skip
        k[:, f] = (np.where(x < 0, -magnitude, magnitude)).reshape(channels, rows, bins)
        known[:, f] = np.minimum(magnitude, FAR_CAP).reshape(channels, rows, bins)
        spreads[:, f] = spread(k[:, f])
    return k


def _costs(tables: CoefficientTables, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """The tables' bits per head symbol and per remainder class, scaled by lambda (in units
    of the step squared), float32. A head table never used (one symbol) is priced flat: the
    search may well go where the last one did not; a class its table has not seen is priced
    as the cheapest table prices it, so that the search does not keep away from it."""
    bits = code_lengths(tables.heads, HEADS, beyond=0.0)
    unused = np.array([len(table.frequencies) < HEADS for table in tables.heads])
    bits[unused] = np.log2(HEADS)
    classes = code_lengths(tables.remainders, MAX_CLASS + 1, beyond=UNSEEN_BITS)
    unseen = np.ones(classes.shape, bool)  # beyond a table, or at its least code
    for row, table in zip(unseen, tables.remainders, strict=True):
        row[: len(table.frequencies)] = table.codes == 0
    classes = np.where(unseen, classes.min(axis=0)[None, :], classes)
    return (lam * bits).astype(np.float32).ravel(), (lam * classes).astype(np.float32)

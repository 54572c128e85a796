"""The filterbank path's quantizer: the quality scale, rounding, the trellis search, and
dequantization.

``quality`` q sets lambda = 2**-q, the price in distortion (mean squared error of the
gain-normalized audio, so 1 / distortion is the SNR) of one bit per sample, and the step
:func:`quantizer_step`: each quality step is worth about 3 dB.

The indices mean what :mod:`bitstream.trellis` says: each row (one coded latent channel,
one transform frame) is a chain through a 4-state trellis whose state picks one of two
quantizers, Q0 (the even multiples of the step) or Q1 (zero and the odd multiples).
:func:`trellis_quantize` finds, for every row, the path through the trellis that
minimizes squared error + lambda x bits, counting the bits with frozen tables under the
contexts the decoder will see (:mod:`bitstream.context`): a Viterbi search along the bins
in which each of the four survivors keeps its own last two magnitudes (the near
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
    FAR_CAP,
    HEADS,
    LEVELS,
    NEAR_CAP,
    CoefficientTables,
    bin_groups,
    buckets,
    far_activity,
    level_frames,
    near_activity,
    split_heads,
)
from bitstream.entropy import code_lengths
from bitstream.integers import MAX_CLASS, bit_lengths
from bitstream.trellis import NEXT_STATE, QUANTIZER_OF_STATE, reconstruction_levels
from codec.entropy_model import fit_tables

DEFAULT_QUALITY = 7.0
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
_INTO = [[(s, p) for s in range(4) for p in range(2) if NEXT_STATE[s, p] == t] for t in range(4)]
INTO_STATE = np.array([[s for s, _ in moves] for moves in _INTO])
INTO_PARITY = np.array([[p for _, p in moves] for moves in _INTO])
ROWS_PER_SEARCH = 8192  # bounds the search's memory: bins x rows x 4 back-pointers
BINS_PER_BLOCK = 32  # bins whose candidates are priced together
UNSEEN_BITS = 32.0  # the cost of a remainder class beyond its table: never chosen


def quantize(
    coefficients: np.ndarray, step: float, lam: float, rounds: int = 2
) -> tuple[np.ndarray, CoefficientTables]:
    """Trellis indices of ``coefficients`` (channels, frames, bins) and the tables fitted
    to them. ``lam`` prices a bit in squared error of the coefficients; each of ``rounds``
    searches counts bits with the tables fitted to the previous one's indices, the first
    with tables fitted to plain rounding."""
    k = round_to_q0(coefficients, step)
    for _ in range(rounds):
        k = trellis_quantize(coefficients, step, lam, fit_tables(k))
    return k, fit_tables(k)


def trellis_quantize(
    coefficients: np.ndarray, step: float, lam: float, tables: CoefficientTables
) -> np.ndarray:
    """The indices that minimize squared error + ``lam`` x bits under ``tables``."""
    channels, frames, bins = coefficients.shape
    scaled = coefficients / step
    costs = _Costs(tables, lam / step**2)
    k = np.zeros(coefficients.shape, dtype=np.int64)
    known = np.zeros(coefficients.shape, dtype=np.int8)
    base = tables.base[:, bin_groups(bins)]  # (channels, bins)
    for level in range(len(LEVELS)):
        f = level_frames(frames, level)
        far = far_activity(known, level)
        rows = far.shape[1]
        x = scaled[:, f].reshape(-1, bins)
        far = far.reshape(-1, bins)
        row_base = np.repeat(base, rows, axis=0)
        magnitude = np.zeros(x.shape, dtype=np.int64)
        for start in range(0, len(x), ROWS_PER_SEARCH):
            part = slice(start, start + ROWS_PER_SEARCH)
            magnitude[part] = _search(np.abs(x[part]), far[part], row_base[part], level, costs)
        k[:, f] = (np.where(x < 0, -magnitude, magnitude)).reshape(channels, rows, bins)
        known[:, f] = np.minimum(magnitude, FAR_CAP).reshape(channels, rows, bins)
    return k


class _Costs:
    """Tables' bits per head symbol, scaled by lambda (in units of the step squared), and
    per remainder class the cheapest of its tables (the search prices remainders, rare
    and costly anyway, without their context). A head table never used (one symbol) is
    priced flat: the search may well go where the last one did not."""

    def __init__(self, tables: CoefficientTables, lam: float) -> None:
        self.tables, self.lam = tables, lam
        bits = code_lengths(tables.heads, HEADS, beyond=0.0)
        unused = np.array([len(table.frequencies) < HEADS for table in tables.heads])
        bits[unused] = np.log2(HEADS)
        self.head = (lam * bits).astype(np.float32).ravel()
        remainder = code_lengths(tables.remainders, MAX_CLASS + 1, beyond=UNSEEN_BITS)
        self.remainder = remainder.min(axis=0)


def _candidates(a: np.ndarray, costs: _Costs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For |x| = ``a`` (bins, rows): the magnitudes (bins, rows, quantizer, 1, 3) each
    quantizer may choose (zero and its two levels around ``a``), their head symbols, and
    their squared error + lambda x the bits that do not depend on the context. The
    singleton axis is for the two states that share each quantizer."""
    a = a.astype(np.float32)
    nearest = np.stack([np.floor(a / 2), np.maximum(np.floor((a + 1) / 2), 1)], -1)
    magnitude = np.stack([np.zeros_like(nearest), nearest, nearest + 1], -1).astype(np.int32)
    value = np.where(magnitude > 0, 2 * magnitude - np.arange(2, dtype=np.int32)[:, None], 0)
    head, remainder = split_heads(magnitude)
    size = np.minimum(bit_lengths(remainder), MAX_CLASS)
    rest = np.where(head >= 3, np.maximum(size - 1, 0) + costs.remainder[size], 0)
    error = (a[..., None, None] - value) ** 2
    fixed = error + np.float32(costs.lam) * ((magnitude > 0) + rest).astype(np.float32)
    return magnitude[..., None, :], head[..., None, :], fixed[..., None, :]


def _search(a, far, row_base, level: int, costs: _Costs) -> np.ndarray:
    """Viterbi search of magnitudes for rows of |scaled coefficients| ``a`` (rows, bins)."""
    rows, bins = a.shape
    tables = costs.tables
    a, far, row_base = a.T, far.T, row_base.T  # bins first: each step reads contiguous rows
    adjust = tables.adjust[level][QUANTIZER_OF_STATE]  # (state, bucket)
    states = np.arange(4)
    cost = np.zeros((rows, 4), dtype=np.float32)
    cost[:, 1:] = np.inf  # every chain starts in state 0
    m1 = np.zeros((rows, 4), dtype=np.int32)
    m2 = np.zeros((rows, 4), dtype=np.int32)
    from_state = np.zeros((bins, rows, 4), dtype=np.int8)
    chosen = np.zeros((bins, rows, 4), dtype=np.int32)
    for block in range(0, bins, BINS_PER_BLOCK):
        magnitude, head, fixed = _candidates(a[block : block + BINS_PER_BLOCK], costs)
        # per state (rows, 4): its quantizer's lower and upper level, and their parities
        lower = np.repeat(magnitude[..., 0, 1], 2, axis=-1)
        upper = np.repeat(magnitude[..., 0, 2], 2, axis=-1)
        lower_is_even = (lower & 1) == 0
        for i in range(len(magnitude)):
            j = block + i
            bucket = buckets(near_activity(m1, m2), far[j][:, None], level)
            rung = np.clip(row_base[j][:, None] + adjust[states, bucket], 0, tables.rungs - 1)
            first = (2 * rung + QUANTIZER_OF_STATE) * HEADS  # each state's head table
            total = costs.head[first.reshape(rows, 2, 2, 1) + head[i]] + fixed[i]
            total = total.reshape(rows, 4, 3) + cost[..., None]
            # each state's best even and best odd move (zero is even)
            even = np.where(lower_is_even[i], total[..., 1], total[..., 2])
            odd = np.where(lower_is_even[i], total[..., 2], total[..., 1])
            zero = total[..., 0] <= even
            best = np.stack([np.where(zero, total[..., 0], even), odd], -1)
            even_magnitude = np.where(zero, 0, np.where(lower_is_even[i], lower[i], upper[i]))
            odd_magnitude = np.where(lower_is_even[i], upper[i], lower[i])
            best_magnitude = np.stack([even_magnitude, odd_magnitude], -1)
            # each next state takes the cheaper of the two moves into it
            options = best[:, INTO_STATE, INTO_PARITY]
            second = options[..., 1] < options[..., 0]
            cost = np.where(second, options[..., 1], options[..., 0])
            previous = np.where(second, INTO_STATE[:, 1], INTO_STATE[:, 0])
            moves = best_magnitude[:, INTO_STATE, INTO_PARITY]
            chosen[j] = np.where(second, moves[..., 1], moves[..., 0])
            from_state[j] = previous
            m2 = np.take_along_axis(m1, previous, axis=1)
            m1 = np.minimum(chosen[j], NEAR_CAP)
    state = np.argmin(cost, axis=1)
    out = np.zeros((rows, bins), dtype=np.int64)
    every = np.arange(rows)
    for j in range(bins - 1, -1, -1):
        out[:, j] = chosen[j][every, state]
        state = from_state[j][every, state]
    return out

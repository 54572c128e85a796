"""Compiled loops of the filterbank path (numba, cached on disk after the first run): the
trellis search, the symbols of every index, and the decoder's transposed convolution.
The integer ones give the same integers as the numpy they replaced. Those that run on one
thread let go of the interpreter's lock (``nogil``), so that the encoder can price its
options on threads (:func:`codec.paths.framing.choose_rotation`).
"""

from __future__ import annotations

import numba
import numpy as np

from bitstream.context import (
    BUCKET_OF_ACTIVITY,
    BUCKETS,
    HEADS,
    NEAR_CAP,
    RUNGS_PER_CLASS_STEP,
)
from bitstream.integers import MAX_CLASS
from bitstream.trellis import QUANTIZER_OF_STATE, STATES
from codec.quantizer import INTO_PARITY, INTO_STATE


@numba.njit(cache=True, nogil=True)
def heads_and_classes_of(magnitude, head, size):
    """Head symbol and remainder class of each magnitude (codec.entropy_model)."""
    for i in range(len(magnitude)):
        m = magnitude[i]
        head[i] = m if m < 3 else 4 - (m & 1)
        remainder, size[i] = max(m - 3, 0) >> 1, 0
        while remainder:
            remainder, size[i] = remainder >> 1, size[i] + 1


@numba.njit(inline="always")
def _move_cost(head_cost, class_cost, first, table, head, size, fixed, cost):
    """A move's cost: its head's and its remainder class's bits (scaled), what else it
    costs, and the cost of the path it extends."""
    price = np.float64(head_cost[first + head])
    if size >= 0:
        price += np.float64(class_cost[table, size])
    return (price + fixed) + cost


@numba.njit(cache=True, parallel=True)
def trellis_search(
    a, far, class_step, row_base, level, adjust, head_cost, class_cost, lam, rungs, out
):
    """Viterbi search of magnitudes ``out`` (rows, bins) for |scaled coefficients| ``a``
    (float32), a row at a time: rows are independent, so they run in parallel and give
    the same integers whatever the thread count.

    Along a row each of the 8 states keeps its survivor's cost and its last two
    magnitudes (the near context). At a bin, each state's quantizer offers zero and its
    two levels around ``a``; each is priced squared error + lambda x bits, its head under
    the table that the state's context picks (``row_base + adjust[state, bucket]``, as
    the decoder will), its remainder's class under the table that the state's rung and
    ``class_step`` pick, and each next state takes the cheaper of its two moves in. The
    float32 and float64 steps are those the coder was tuned with.
    """
    rows, bins = a.shape
    for row in numba.prange(rows):
        cost = np.zeros(STATES)
        cost[1:] = np.inf  # every chain starts in state 0
        m1 = np.zeros(STATES, np.int64)
        m2 = np.zeros(STATES, np.int64)
        chosen = np.zeros((bins, STATES), np.int64)
        from_state = np.zeros((bins, STATES), np.int64)
        moves = np.zeros((STATES, 2))  # each state's best even and best odd move
        moved = np.zeros((STATES, 2), np.int64)  # and their magnitudes
        fixed = np.zeros((2, 3))  # per quantizer and candidate: the costs not in context
        heads = np.zeros((2, 3), np.int64)
        sizes = np.zeros((2, 3), np.int64)  # remainder classes; -1 where none
        classes = class_cost.shape[0]
        for j in range(bins):
            x = a[row, j]
            lower = np.zeros(2, np.int64)
            lower[0] = int(np.floor(x / np.float32(2)))
            lower[1] = int(max(np.floor((x + np.float32(1)) / np.float32(2)), np.float32(1)))
            for q in range(2):
                for c in range(3):
                    m = 0 if c == 0 else lower[q] + c - 1
                    value = 2 * m - q if m > 0 else 0
                    head = m if m < 3 else 4 - (m & 1)
                    rest, sizes[q, c] = 0.0, -1
                    if head >= 3:
                        size, remainder = 0, (m - 3) >> 1
                        while remainder:
                            size, remainder = size + 1, remainder >> 1
                        sizes[q, c] = min(size, MAX_CLASS)
                        rest = max(sizes[q, c] - 1, 0)
                    error = (np.float64(x) - value) ** 2
                    bits = np.float32((1.0 if m > 0 else 0.0) + rest)
                    fixed[q, c] = error + np.float64(lam * bits)
                    heads[q, c] = head
            for s in range(STATES):
                q = QUANTIZER_OF_STATE[s]
                near = 2 * m1[s] + m2[s]
                activity = 3 * near if level == 0 else 2 * near + far[row, j]
                rung = min(max(row_base[row, j] + adjust[s, BUCKET_OF_ACTIVITY[activity]], 0),
                           rungs - 1)  # fmt: skip
                first = (2 * rung + q) * HEADS
                table = min(class_step[row, j] + rung // RUNGS_PER_CLASS_STEP, classes - 1)
                total0 = _move_cost(head_cost, class_cost, first, table, heads[q, 0],
                                    sizes[q, 0], fixed[q, 0], cost[s])  # fmt: skip
                total1 = _move_cost(head_cost, class_cost, first, table, heads[q, 1],
                                    sizes[q, 1], fixed[q, 1], cost[s])  # fmt: skip
                total2 = _move_cost(head_cost, class_cost, first, table, heads[q, 2],
                                    sizes[q, 2], fixed[q, 2], cost[s])  # fmt: skip
                lower_is_even = (lower[q] & 1) == 0
                even = total1 if lower_is_even else total2
                zero = total0 <= even
                moves[s, 0] = total0 if zero else even
                moves[s, 1] = total2 if lower_is_even else total1
                moved[s, 0] = 0 if zero else (lower[q] if lower_is_even else lower[q] + 1)
                moved[s, 1] = lower[q] + 1 if lower_is_even else lower[q]
            previous_m1 = m1.copy()
            for t in range(STATES):  # each next state takes the cheaper of its two moves in
                sa, pa = INTO_STATE[t, 0], INTO_PARITY[t, 0]
                sb, pb = INTO_STATE[t, 1], INTO_PARITY[t, 1]
                if moves[sb, pb] < moves[sa, pa]:
                    cost[t], from_state[j, t], chosen[j, t] = moves[sb, pb], sb, moved[sb, pb]
                else:
                    cost[t], from_state[j, t], chosen[j, t] = moves[sa, pa], sa, moved[sa, pa]
            for t in range(STATES):
                m2[t] = previous_m1[from_state[j, t]]
                m1[t] = min(chosen[j, t], NEAR_CAP)
        state = np.argmin(cost)
        for j in range(bins - 1, -1, -1):
            out[row, j] = chosen[j, state]
            state = from_state[j, state]


@numba.njit(cache=True, nogil=True)
def pair_sums(k, context, envelope_keys, contexts, pairs):
    """Per (envelope, context) pair of the indices ``k``: the sum of their magnitudes (plus
    0.05 each, a floor for the scale's estimate) and their count, summed in array order."""
    total, count = np.zeros(pairs), np.zeros(pairs, np.int64)
    channels, frames, bins = k.shape
    for c in range(channels):
        for f in range(frames):
            for j in range(bins):
                pair = envelope_keys[c, j] * contexts + context[c, f, j]
                total[pair] += abs(k[c, f, j]) + 0.05
                count[pair] += 1
    return total, count


@numba.njit(cache=True, nogil=True)
def symbol_counts(k, context, envelope_keys, rung_of_pair, contexts, rungs, rung):
    """How often each head symbol is coded with each table (rung and quantizer); each
    index's rung into ``rung``."""
    heads = np.zeros(rungs * 2 * HEADS, np.int64)
    channels, frames, bins = k.shape
    for c in range(channels):
        for f in range(frames):
            for j in range(bins):
                r = rung_of_pair[envelope_keys[c, j] * contexts + context[c, f, j]]
                rung[c, f, j] = r
                quantizer = context[c, f, j] // BUCKETS % 2
                m = abs(k[c, f, j])
                head = m if m < 3 else 4 - (m & 1)
                heads[(r * 2 + quantizer) * HEADS + head] += 1
    return heads


@numba.njit(cache=True, nogil=True)
def index_bits_sum(k, context, rung, classes, heads, remainders):
    """The ideal code length of each channel of ``k``: each head under its table (rung
    and quantizer), a sign bit per non-zero index, each remainder's class under its table
    (``classes``) and its mantissa bits."""
    channels, frames, bins = k.shape
    bits = np.zeros(channels)
    for c in range(channels):
        for f in range(frames):
            for j in range(bins):
                quantizer = context[c, f, j] // BUCKETS % 2
                m = abs(k[c, f, j])
                head = m if m < 3 else 4 - (m & 1)
                bits[c] += heads[2 * rung[c, f, j] + quantizer, head] + (1.0 if m > 0 else 0.0)
                if head >= 3:
                    size, remainder = 0, (m - 3) >> 1
                    while remainder:
                        size, remainder = size + 1, remainder >> 1
                    bits[c] += remainders[classes[c, f, j], size] + max(size - 1, 0)
    return bits


BLOCK = 4096  # input steps a pass spreads: its output stays within the caches


@numba.njit(cache=True, parallel=True)
def spread_phases(x, weight, phases):
    """Add each input step ``x[i, n]`` times tap ``r + stride m`` of ``weight[i, o]`` into
    ``phases[r, o, n + m]``: a transposed convolution, one output phase at a time. The
    innermost loop runs along the steps, contiguous: it vectorizes. Zero taps are skipped:
    the filterbank's decoder, unless fitted, joins no mid band to a side output, so half
    its weights are zeros."""
    channels, steps = x.shape
    outs, taps = weight.shape[1], weight.shape[2]
    stride = phases.shape[0]
    for task in numba.prange(stride * outs):
        r, o = task // outs, task % outs
        out = phases[r, o]
        for start in range(0, steps, BLOCK):
            stop = min(start + BLOCK, steps)
            for i in range(channels):
                row = x[i]
                for tap in range(r, taps, stride):
                    w, m = weight[i, o, tap], (tap - r) // stride
                    if w == 0:
                        continue
                    target = out[start + m : stop + m]
                    source = row[start:stop]
                    for n in range(stop - start):
                        target[n] += w * source[n]

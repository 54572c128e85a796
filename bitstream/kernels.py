"""Compiled loops of the context coder (numba, cached on disk after the first run): the
encoder's contexts of every index, and the decoder's per-bin step over all rows. They let
go of the interpreter's lock (``nogil``), so that the encoder can price its options on
threads (:func:`codec.paths.framing.choose_rotation`).
"""

from __future__ import annotations

import numba
import numpy as np

from bitstream.context import (
    BUCKET_OF_ACTIVITY,
    BUCKETS,
    CLASS_THRESHOLDS,
    DISTANCE,
    FAR_CAP,
    LEVELS,
    NEAR_CAP,
    NEXT,
    QUANTIZER,
    RUNGS_PER_CLASS_STEP,
)

CYCLE = LEVELS[0][1]  # level 0 holds every 4th frame, level 1 those halfway, level 2 the rest


@numba.njit(inline="always")
def _level_of(f):
    """The level (:data:`bitstream.context.LEVELS`) of frame ``f``."""
    return 0 if f % CYCLE == 0 else (1 if f % CYCLE == CYCLE // 2 else 2)


@numba.njit(cache=True, nogil=True)
def context_keys_of(k, context, quantizer):
    """One pass over ``k``, a row at a time: the trellis state along the row gives the
    quantizer, its last two magnitudes the near activity, and the frames ``DISTANCE``
    away (of earlier levels, so known to the decoder) the far activity."""
    channels, frames, bins = k.shape
    for c in range(channels):
        for f in range(frames):
            level = _level_of(f)
            d = DISTANCE[level]
            state = m1 = m2 = 0
            for j in range(bins):
                q = QUANTIZER[state]
                near = 2 * m1 + m2
                if level == 0:
                    activity = 3 * near
                else:
                    far = 0
                    for g in (f - d, f + d):
                        if 0 <= g < frames:
                            for jj, weight in ((j - 1, 1), (j, 2), (j + 1, 1)):
                                if 0 <= jj < bins:
                                    far += weight * min(abs(k[c, g, jj]), FAR_CAP)
                    activity = 2 * near + far
                context[c, f, j] = (level * 2 + q) * BUCKETS + BUCKET_OF_ACTIVITY[activity]
                quantizer[c, f, j] = q
                magnitude = abs(k[c, f, j])
                state = NEXT[2 * state + (magnitude & 1)]
                m1, m2 = min(magnitude, NEAR_CAP), m1


@numba.njit(cache=True, nogil=True)
def class_tables_of(k, rung, tables, chosen):
    """One pass over ``k``: the table of each remainder class, as the decoder picks it with
    :func:`bitstream.context.class_far` and :func:`bitstream.context.class_tables` (0 where
    there is no remainder)."""
    channels, frames, bins = k.shape
    for c in range(channels):
        for f in range(frames):
            level = _level_of(f)
            for j in range(bins):
                chosen[c, f, j] = 0
                if abs(k[c, f, j]) < 3:
                    continue
                if level == 0:  # the level's previous frame, counted twice (level_zero_far)
                    sources = (f - CYCLE, f - CYCLE)
                else:
                    sources = (f - DISTANCE[level], f + DISTANCE[level])
                far = 0
                for g in sources:
                    if 0 <= g < frames:
                        for jj, tap in ((j - 1, 1), (j, 2), (j + 1, 1)):
                            if 0 <= jj < bins:
                                far += tap * abs(k[c, g, jj])
                step = np.searchsorted(CLASS_THRESHOLDS, far, side="right")
                chosen[c, f, j] = min(step + rung[c, f, j] // RUNGS_PER_CLASS_STEP, tables - 1)


@numba.njit(cache=True, nogil=True)
def head_tables(state, m1, m2, far, base, adjust, level, rungs, probabilities, rung, chosen):
    """For one bin of every row: the rung that the row's context picks (into ``rung``) and
    its head table's probabilities (into the rows of ``chosen``)."""
    for r in range(len(state)):
        quantizer = QUANTIZER[state[r]]
        near = 2 * m1[r] + m2[r]
        activity = 3 * near if level == 0 else 2 * near + far[r]
        bucket = BUCKET_OF_ACTIVITY[activity]
        rung[r] = min(max(base[r] + adjust[quantizer * BUCKETS + bucket], 0), rungs - 1)
        chosen[r, :] = probabilities[2 * rung[r] + quantizer]


@numba.njit(cache=True, nogil=True)
def advance_rows(head, state, m1, m2):
    """Each row's trellis state and near context after its head (its parity, its
    magnitude capped at NEAR_CAP: 3 and 4 stand for larger ones)."""
    for r in range(len(head)):
        state[r] = NEXT[2 * state[r] + (head[r] & 1)]
        m2[r] = m1[r]
        m1[r] = min(head[r], NEAR_CAP)

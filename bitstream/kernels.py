"""Compiled loops of the coder (numba): what the encoder runs over every index. The
decoder does not need them, so it does not pay for compiling or loading them.
"""

from __future__ import annotations

import numba

from bitstream.context import (
    BUCKET_OF_ACTIVITY,
    BUCKETS,
    DISTANCE,
    FAR_CAP,
    NEAR_CAP,
    NEXT,
)


@numba.njit(cache=True)
def context_keys_of(k, context, quantizer):
    """One pass over ``k``, a row at a time: the trellis state along the row gives the
    quantizer, its last two magnitudes the near activity, and the frames ``DISTANCE``
    away (of earlier levels, so known to the decoder) the far activity."""
    channels, frames, bins = k.shape
    for c in range(channels):
        for f in range(frames):
            level = 0 if f % 4 == 0 else (1 if f % 4 == 2 else 2)
            d = DISTANCE[level]
            state = m1 = m2 = 0
            for j in range(bins):
                q = state >> 1
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

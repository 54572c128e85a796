"""What trellis quantization indices mean: the decoder's side of the quantizer.

Each row ``k[c, f, :]`` of an index array (coded latent channel ``c``, transform frame
``f``) is one chain through a 4-state trellis along its bins: the state before bin 0 is
0, and the state after an index is ``NEXT_STATE[state, |k| & 1]``. States 0 and 1 use
quantizer Q0, whose levels are the even multiples of the step (index k means level 2k);
states 2 and 3 use Q1, whose levels are zero and the odd multiples (level 2k - sgn k).
Either quantizer alone is twice as coarse as the step; the encoder's trellis search
(:mod:`codec.quantizer`) picks the path through both, which packs the reconstruction
points more densely than any scalar quantizer of the same rate. This is the "dependent
quantization" of H.266/VVC.

>>> reconstruction_levels(np.array([[[1, 1, -2, 0]]])).tolist()  # states 0, 2, 3, 3
[[[2, 1, -3, 0]]]
"""

from __future__ import annotations

import numpy as np

NEXT_STATE = np.array([[0, 2], [2, 0], [1, 3], [3, 1]])
QUANTIZER_OF_STATE = np.array([0, 0, 1, 1])


def quantizer_bits(k: np.ndarray) -> np.ndarray:
    """Whether each index of ``k`` (..., bins) is read with Q1 (state >= 2).

    Writing the state as 2a + b, NEXT_STATE is a' = b xor parity, b' = a: so a at bin n
    is the parity of the indices at n - 1, n - 3, n - 5, ..., a running sum over every
    other bin, which numpy computes without a loop over the bins.
    """
    parity = (k & 1).astype(np.int8)  # two's complement: the parity of |k| too
    bits = np.zeros(k.shape, dtype=np.int8)
    for first in (0, 1):  # bins n - 1 of one parity give a at bins of the other
        running = np.cumsum(parity[..., first::2], axis=-1, dtype=np.int32) & 1
        count = len(range(first + 1, k.shape[-1], 2))
        bits[..., first + 1 :: 2] = running[..., :count]
    return bits


def reconstruction_levels(k: np.ndarray) -> np.ndarray:
    """Integer levels (multiples of the step) that the indices ``k`` decode to."""
    return 2 * k - quantizer_bits(k) * np.sign(k)

"""Integer helpers of the format: bit lengths, their classes, and runs of equal values.

Large integers (remainders of the coefficients, decoder weight offsets) are coded as a
*class*, the bit length of the magnitude, under a frequency table, then the bits below
the leading one, raw, in runs of equal width.

>>> size, width, mantissa = bit_classes(np.array([0, 1, 2, 3, 12]))
>>> size.tolist(), width.tolist(), mantissa.tolist()
([0, 1, 2, 2, 4], [0, 0, 1, 1, 3], [0, 0, 0, 1, 4])
>>> [run.tolist() for run in runs_of(np.array([1, 0, 1, 2]), 3)]
[[1], [0, 2], [3]]
"""

from __future__ import annotations

import numpy as np

MAX_CLASS = 24  # integers coded by class stay below 2**24 in magnitude


def bit_lengths(values: np.ndarray) -> np.ndarray:
    """Bit length of each non-negative integer below 2**53 (0 for 0)."""
    return np.frexp(np.asarray(values, dtype=np.float64))[1].astype(np.int64)


def bit_classes(magnitudes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class (bit length), mantissa width and mantissa (the bits below the leading one)
    of non-negative integers."""
    magnitudes = np.asarray(magnitudes, dtype=np.int64)
    size = bit_lengths(magnitudes)
    width = np.maximum(size - 1, 0)
    return size, width, magnitudes - np.where(size > 0, 1 << width, 0)


def runs_of(values: np.ndarray, count: int) -> list[np.ndarray]:
    """Positions holding each value 0 .. count - 1 of ``values``, each run in order."""
    order = np.argsort(values, kind="stable")
    cuts = np.searchsorted(values[order], np.arange(count + 1))
    return [order[cuts[v] : cuts[v + 1]] for v in range(count)]

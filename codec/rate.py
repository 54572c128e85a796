"""Rate control: the coding whose size comes nearest a target, searched over the quality.

>>> def code(quality):  # a coding whose size doubles every 4 quality steps
...     return Candidate(quality, 2 ** (quality / 4), 0.0)
>>> round(search_rate(code, bits_per_sample=8.0, start=7.0).quality, 2)
12.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

RATE_TOLERANCE = 0.01  # how far from the target, in log size, a search may stop
QUALITY_RANGE = (0.0, 24.0)  # the documented quality scale: a search never leaves it
RATE_SEARCH_STEPS = 8
LOG_RATE_PER_QUALITY = 0.25  # about how much log(size) grows a quality step: a first slope


class Candidate(NamedTuple):
    """One way of coding a segment, and what it costs."""

    quality: float
    bits_per_sample: float
    distortion: float  # mean squared error of the gain-normalized audio
    coded: Any = None  # what the coding made, for the caller to keep

    def cost(self, lam: float) -> float:
        return self.distortion + lam * self.bits_per_sample


def off_target(bits_per_sample: float, target: float) -> float:
    """How far a size is from the target, in log size."""
    return float(np.log(max(bits_per_sample, 1e-12) / target))


def search_rate(
    code: Callable[[float], Candidate], bits_per_sample: float, start: float
) -> Candidate:
    """The coding whose size is nearest ``bits_per_sample``, searched from quality ``start``
    by the secant method on log(size), which is close to linear in the quality, until
    within RATE_TOLERANCE, after RATE_SEARCH_STEPS codings, or at an end of the range."""
    tried: list[Candidate] = []

    def miss(quality: float) -> float:
        tried.append(code(float(np.clip(quality, *QUALITY_RANGE))))
        return off_target(tried[-1].bits_per_sample, bits_per_sample)

    error, slope = miss(start), LOG_RATE_PER_QUALITY
    while abs(error) > RATE_TOLERANCE and len(tried) < RATE_SEARCH_STEPS:
        previous = tried[-1].quality
        following = float(np.clip(previous - error / slope, *QUALITY_RANGE))
        if following == previous:
            break  # an end of the quality range, and the target lies beyond it
        next_error = miss(following)
        if next_error != error:
            slope = max((next_error - error) / (following - previous), 0.01)
        error = next_error
    return min(tried, key=lambda c: abs(off_target(c.bits_per_sample, bits_per_sample)))

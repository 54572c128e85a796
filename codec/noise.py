"""Noise filling, the post's "noise feature", for the filterbank path's ``tune="listen"``.

An MSE codec spends its bits where the energy is: at low rates the quiet high bands
quantize to zero and the song comes back muffled. Where a region of a transform frame
(a log-spaced bin group, from :data:`FIRST_GROUP` up) quantized to zero, the file holds
the level of its real coefficients (:mod:`bitstream.noise`), and the decoder fills it
with noise of that level: the error grows (the SNR drops a little), the spectrum comes
back as it was.

>>> rng = np.random.default_rng(0)
>>> coefficients = 0.1 * rng.standard_normal((1, 4, 64))
>>> indices = np.zeros((1, 4, 64), np.int64)
>>> levels = noise_levels(coefficients, indices, step=0.5)
>>> filled = with_noise(np.zeros((1, 4, 64)), indices, 0.5, levels, seed=1)
>>> bool(0.05 < np.sqrt(np.mean(filled[..., 9:] ** 2)) < 0.1)  # the highest groups
True
"""

from __future__ import annotations

import numpy as np

from bitstream.noise import LEVELS, OFFSET, empty, noise, regions

FIRST_GROUP = 4  # the bin groups filled, of 8 log-spaced ones: the upper half
GAIN = 0.7  # x each region's rms: a little less than it was, as perceptual codecs do


def noise_levels(coefficients: np.ndarray, indices: np.ndarray, step: float) -> np.ndarray:
    """The level of each empty region (channel, frame, region order): its coefficients'
    rms over the step, in 6 dB steps (:mod:`bitstream.noise`)."""
    rms = np.stack([np.sqrt(np.mean(coefficients[..., r] ** 2, -1))
                    for r in regions(indices.shape[-1], FIRST_GROUP)], -1)  # fmt: skip
    rms = rms[empty(indices, FIRST_GROUP)] * GAIN / step
    with np.errstate(divide="ignore"):
        levels = np.round(np.log2(rms)) + OFFSET
    return np.clip(np.nan_to_num(levels, neginf=0), 0, LEVELS - 1).astype(np.int64)


def with_noise(
    dequantized: np.ndarray,
    indices: np.ndarray,
    step: float,
    levels: np.ndarray,
    seed: int,
    first: int = FIRST_GROUP,
    position: int = 0,
) -> np.ndarray:
    """``dequantized`` coefficients (channels, frames, bins) with the empty regions
    filled: each with noise of its level (none at level 0). The noise at each bin is that
    of its place in the segment, ``position`` for the first bin, so channels may be filled
    one at a time."""
    out = dequantized.copy()
    silent = empty(indices, first)
    scale = np.zeros(silent.shape)
    scale[silent] = np.where(levels > 0, step * 2.0 ** (levels - OFFSET), 0.0)
    positions = position + np.arange(indices.size).reshape(indices.shape)
    for region, r in enumerate(regions(indices.shape[-1], first)):
        filled = scale[..., region] > 0
        level = scale[..., region][filled][:, None]
        out[..., r][filled] = noise(seed, positions[..., r][filled]) * level
    return out

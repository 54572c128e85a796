"""Noise filling, the post's "noise feature", for the filterbank path's ``tune="listen"``.

An MSE codec spends its bits where the energy is: at low rates the quiet high bands
quantize to zero and the song comes back muffled, and the bands it does code come back
with holes where single coefficients fell to zero. Where a region of a transform frame
(a log-spaced bin group, from :data:`FIRST_GROUP` up) quantized to zero, the file holds
the level of its real coefficients, and the decoder fills it with noise of that level;
the holes in the other regions are filled with noise at the level of the coefficients
that fell into them, one level for each coded channel and bin group
(:mod:`bitstream.noise`). The error grows (the SNR drops), the spectrum comes back as it
was.

>>> rng = np.random.default_rng(0)
>>> coefficients = 0.1 * rng.standard_normal((1, 4, 64))
>>> indices = np.zeros((1, 4, 64), np.int64)
>>> fill = noise_fill(coefficients, indices, step=0.5, seed=1)
>>> filled = with_noise(np.zeros((1, 4, 64)), indices, 0.5, fill)
>>> bool(0.05 < np.sqrt(np.mean(filled[..., 9:] ** 2)) < 0.1)  # the highest groups
True
"""

from __future__ import annotations

import numpy as np

from bitstream.context import GROUPS, bin_groups
from bitstream.noise import HOLE_UNIT, LEVELS, OFFSET, NoiseFill, empty, noise, regions

FIRST_GROUP = 4  # the bin groups filled where empty, of 8 log-spaced ones: the upper half
GAIN = 0.7  # x the rms of what is filled: a little less than it was, as perceptual codecs do


def noise_fill(coefficients: np.ndarray, indices: np.ndarray, step: float, seed: int) -> NoiseFill:
    """The noise fill of ``coefficients`` (channels, frames, bins) quantized to
    ``indices``: the level of each empty region (channel, frame, region order), its
    coefficients' rms over the step in 6 dB steps, and the hole level of each channel
    and group from :data:`FIRST_GROUP` up: the rms of its coefficients that quantized to
    zero in the other regions."""
    rms = np.stack([np.sqrt(np.mean(coefficients[..., r] ** 2, -1))
                    for r in regions(indices.shape[-1], FIRST_GROUP)], -1)  # fmt: skip
    silent = empty(indices, FIRST_GROUP)
    rms = rms[silent] * GAIN / step
    with np.errstate(divide="ignore"):
        levels = np.round(np.log2(rms)) + OFFSET
    levels = np.clip(np.nan_to_num(levels, neginf=0), 0, LEVELS - 1).astype(np.int64)
    holes = _holes(indices, silent, FIRST_GROUP)
    groups = np.broadcast_to(bin_groups(indices.shape[-1]), indices.shape)
    power = np.zeros((len(indices), GROUPS))
    count = np.zeros((len(indices), GROUPS))
    for channel in range(len(indices)):
        inside = holes[channel]
        power[channel] = np.bincount(groups[channel][inside], coefficients[channel][inside] ** 2,
                                     GROUPS)  # fmt: skip
        count[channel] = np.bincount(groups[channel][inside], minlength=GROUPS)
    hole_rms = np.sqrt(power / np.maximum(count, 1))
    hole_levels = np.clip(np.round(hole_rms * GAIN / step * HOLE_UNIT), 0, 255).astype(np.int64)
    return NoiseFill(seed, FIRST_GROUP, levels, hole_levels[:, FIRST_GROUP:])


def _holes(indices: np.ndarray, silent: np.ndarray, first: int) -> np.ndarray:
    """Whether each index is a hole: zero, in a region from group ``first`` up that is not
    ``silent`` (empty: filled as a whole)."""
    holes = np.zeros(indices.shape, bool)
    for region, r in enumerate(regions(indices.shape[-1], first)):
        holes[..., r] = (indices[..., r] == 0) & ~silent[..., region][..., None]
    return holes


def with_noise(
    dequantized: np.ndarray,
    indices: np.ndarray,
    step: float,
    fill: NoiseFill,
    position: int = 0,
) -> np.ndarray:
    """``dequantized`` coefficients (channels, frames, bins) with the empty regions and
    the holes filled with noise of their levels (none at level 0). The noise at each bin
    is that of its place in the segment, ``position`` for the first bin, so channels may
    be filled one at a time (``fill``'s hole levels are then the channel's own)."""
    out = dequantized.copy()
    positions = position + np.arange(indices.size).reshape(indices.shape)
    silent = empty(indices, fill.first)
    holes = _holes(indices, silent, fill.first)
    hole_levels = np.pad(fill.holes, ((0, 0), (fill.first, 0)))  # no holes filled below
    hole_scale = step * hole_levels[:, bin_groups(indices.shape[-1])] / HOLE_UNIT
    hole_scale = np.broadcast_to(hole_scale[:, None, :], indices.shape)
    out[holes] = noise(fill.seed, positions[holes]) * hole_scale[holes]
    scale = np.zeros(silent.shape)
    scale[silent] = np.where(fill.levels > 0, step * 2.0 ** (fill.levels - OFFSET), 0.0)
    for region, r in enumerate(regions(indices.shape[-1], fill.first)):
        filled = scale[..., region] > 0
        level = scale[..., region][filled][:, None]
        out[..., r][filled] = noise(fill.seed, positions[..., r][filled]) * level
    return out

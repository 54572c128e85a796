"""Scale factors for the filterbank path's ``tune="listen"``: each region's own step.

An MSE codec leaves the same error in every bin: the loud low octaves come back far above
their error, the quiet high ones under it. An ear hears the error against the music
around it, so a perceptual codec shapes its error to follow the spectrum. Here each
region (a coded channel's bin group, :func:`bitstream.context.bin_groups`) has its step
scaled by its masking power to the ``SHAPE / 2``: its error follows the spectrum's power
to the ``SHAPE`` (0 is plain MSE, 1 an equal SNR in every region). A region's masking
power is the loudest of its own power and its neighbours', which falls off with their
distance in octaves (faster below a sound than above it, as in an ear): a quiet region
beside a loud one is not refined as if it stood alone. Mid and side share the factors of
their band: what hides an error in the left or right channel is the music at that
frequency in both.

The factors are per segment (quarter octaves, :mod:`bitstream.filterbank`'s ``SCAL``):
they follow the song's spectrum, not each frame's.

>>> rng = np.random.default_rng(0)
>>> loud_low = rng.standard_normal((8, 20, 64)) * np.r_[10.0, 1, 1, 1, 10, 1, 1, 1][:, None, None]
>>> scales = scale_factors(loud_low)  # the lowest band 20 dB louder: a 10 dB coarser step
>>> scales.shape, scales[:4, 7].tolist(), bool(np.all(scales[:4] == scales[4:]))
((8, 8), [5, -1, -2, -2], True)
"""

from __future__ import annotations

import numpy as np

from bitstream.context import GROUPS, bin_groups
from bitstream.filterbank import MAX_SCALE

SHAPE = 0.5  # the error follows the masking power to this power
FLOOR = 1e-7  # of the loudest region's power: quieter regions are not refined further
UPWARD_DB, DOWNWARD_DB = 30.0, 60.0  # per octave: how a region's music masks its neighbours'
BANDS = 4  # coded channels 0-3 are mid's bands, 4-7 side's


def scale_factors(coefficients: np.ndarray) -> np.ndarray:
    """(coded channels, GROUPS) exponents, quarter octaves of step, of the segment's
    transform ``coefficients`` (coded channels, frames, bins), their mean exponent 0."""
    bins = coefficients.shape[-1]
    groups = bin_groups(bins)
    counts = np.bincount(groups, minlength=GROUPS)
    power = coefficients[:BANDS] ** 2 + coefficients[BANDS:] ** 2  # (bands, frames, bins)
    frame_power = np.stack([power[..., groups == g].mean(-1) if counts[g] else power[..., 0] * 0
                            for g in range(GROUPS)], -1)  # fmt: skip
    # the median frame: the segment's first and last frames hold its margins, whose
    # edges spread over every bin
    masking = masking_power(np.median(frame_power, axis=1), bins)
    loudest = masking.max()
    if loudest <= 0:
        return np.zeros((len(coefficients), GROUPS), np.int64)
    log_power = np.log2(np.maximum(masking, loudest * FLOOR))
    log_power -= np.sum(log_power * counts) / np.sum(counts * BANDS)
    exponents = np.round(4 * SHAPE / 2 * log_power)
    exponents = np.clip(exponents, -MAX_SCALE, MAX_SCALE).astype(np.int64)
    return np.concatenate([exponents, exponents])


def region_octaves(bins: int) -> np.ndarray:
    """(BANDS, GROUPS) the centre of each band's bin groups, in octaves below half the
    sample rate (odd bands of the cosine-modulated filterbank are mirrored)."""
    groups = bin_groups(bins)
    counts = np.maximum(np.bincount(groups, minlength=GROUPS), 1)
    within = np.bincount(groups, (np.arange(bins) + 0.5) / bins, GROUPS) / counts
    within = np.where(np.bincount(groups, minlength=GROUPS) > 0, within, 0.5)
    bands = np.arange(BANDS)[:, None]
    place = np.where(bands % 2, 1 - within, within)
    return np.log2((bands + place) / BANDS)


def masking_power(power: np.ndarray, bins: int) -> np.ndarray:
    """(BANDS, GROUPS): the loudest of each region's own power and its neighbours',
    falling off with their distance in octaves, faster downward than upward."""
    octaves = region_octaves(bins).ravel()
    above = octaves[:, None] - octaves[None, :]  # how far each region lies above each masker
    fall_db = np.where(above > 0, UPWARD_DB * above, -DOWNWARD_DB * above)
    spread = power.ravel()[None, :] * 10 ** (-fall_db / 10)
    return spread.max(axis=1).reshape(power.shape)


def bin_scales(scales: np.ndarray, bins: int) -> np.ndarray:
    """(coded channels, 1, bins): the step multiplier of each bin, to broadcast over
    frames."""
    return np.exp2(scales[:, bin_groups(bins)] / 4)[:, None, :]

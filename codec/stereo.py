"""The stereo rotation fitted to each segment: each band's (mid, side) pair of latent
channels turned to its principal axes.

Mid and side, (L +- R) / sqrt(2), are the principal axes of music mixed to the centre;
a band whose sources are panned, or whose left and right differ in level, has mid and
side correlated, and codes both at nearly full size. Turning the pair by the angle that
decorrelates it (a 2 x 2 Karhunen-Loeve transform) puts its energy into the first
channel. The turn is orthonormal, so the coding's
error in the latents is the error in the audio, as before.

Designed: that it is a rotation, per band pair. Fitted to each segment: the angle of each
band, an integer of :data:`bitstream.filterbank.ANGLE_UNIT` in the file.

>>> rng = np.random.default_rng(0)
>>> left, right = rng.standard_normal((2, 4, 1000)) * [[[1.0]], [[0.3]]]
>>> latents = np.concatenate([left + right, left - right]) / np.sqrt(2)  # mid, side
>>> angles = principal_angles(latents)
>>> turned = rotate(latents, angles)
>>> bool(np.all(np.sum(turned[4:] ** 2, axis=1) < 0.2 * np.sum(turned[:4] ** 2, axis=1)))
True
>>> bool(np.allclose(rotate(turned, angles, inverse=True), latents))
True
"""

from __future__ import annotations

import numpy as np

from bitstream.filterbank import ANGLE_UNIT, MAX_ANGLE


def principal_angles(latents: np.ndarray) -> tuple[int, ...]:
    """The angle, in :data:`~bitstream.filterbank.ANGLE_UNIT`, that turns each band pair
    (channel ``b`` and ``b + C / 2`` of the coded channels, mid and side) to its principal
    axes: the first channel of the pair then holds the larger share."""
    half = len(latents) // 2
    angles = []
    for mid, side in zip(latents[:half], latents[half : 2 * half], strict=True):
        across, along = 2 * np.dot(mid, side), np.dot(mid, mid) - np.dot(side, side)
        angle = 0.5 * np.arctan2(across, along)  # 0 for mono and silence
        angles.append(int(np.clip(round(angle / ANGLE_UNIT), -MAX_ANGLE, MAX_ANGLE)))
    return tuple(angles)


def rotate(latents: np.ndarray, angles: tuple[int, ...], inverse: bool = False) -> np.ndarray:
    """``latents`` (coded channels, steps) with each band pair turned by its angle, or,
    ``inverse``, turned back; ``latents`` themselves where no pair is turned."""
    if not any(angles):  # most bands of most songs: the decoder skips a pass over them
        return latents
    half = len(angles)
    out = latents.copy()
    for band, angle in enumerate(angles):
        if angle == 0:
            continue
        cos, sin = np.cos(angle * ANGLE_UNIT), np.sin(angle * ANGLE_UNIT)
        sin = -sin if inverse else sin
        mid, side = latents[band], latents[half + band]
        out[band], out[half + band] = cos * mid + sin * side, cos * side - sin * mid
    return out

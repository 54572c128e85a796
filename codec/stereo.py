"""The stereo rotation fitted to each segment: each band's (mid, side) pair of latent
channels turned to its principal axes, by an angle that may change over the segment.

Mid and side, (L +- R) / sqrt(2), are the principal axes of music mixed to the centre;
a band whose sources are panned, or whose left and right differ in level, has mid and
side correlated, and codes both at nearly full size. Turning the pair by the angle that
decorrelates it (a 2 x 2 Karhunen-Loeve transform) puts its energy into the first
channel. A mix changes over a song, so the angle may too: it is given at *knots* spread
evenly over the segment and interpolated between them. The turn at each latent step is
orthonormal, so the coding's error in the latents is the error in the audio, as before.

Designed: that it is a rotation, per band pair, interpolated linearly between knots.
Fitted to each segment: the angle at each knot, an integer of
:data:`bitstream.filterbank.ANGLE_UNIT` in the file.

>>> rng = np.random.default_rng(0)
>>> left, right = rng.standard_normal((2, 4, 1000)) * [[[1.0]], [[0.3]]]
>>> latents = np.concatenate([left + right, left - right]) / np.sqrt(2)  # mid, side
>>> angles = principal_angles(latents, knots=1)
>>> turned = rotate(latents, angles)
>>> bool(np.all(np.sum(turned[4:] ** 2, axis=1) < 0.2 * np.sum(turned[:4] ** 2, axis=1)))
True
>>> bool(np.allclose(rotate(turned, angles, inverse=True), latents))
True
>>> curve = angle_curve((0, 2**14 - 100, -(2**14) + 100), steps=6)  # the short way round
>>> [round(float(a / ANGLE_UNIT)) for a in curve]
[0, 0, 8142, 16284, 16384, 16484]
"""

from __future__ import annotations

import numpy as np

from bitstream.filterbank import ANGLE_UNIT, MAX_ANGLE, max_knots

# latent steps between the knots of an angle that changes, one spacing or the other for
# each band pair, as the estimate prefers: 0.74 s and 93 ms at 44.1 kHz (a mix that
# changes between a song's sections, or from one note to the next)
KNOT_SPACINGS = (8192, 1024)
ROTATION_BLOCK = 1 << 14  # latent steps turned at a time: its temporaries stay in cache
QUIET = 0.01  # a block below this share of a band's mean energy takes the segment's angle


def knot_count(steps: int, spacing: int) -> int:
    """The knots of an angle that changes over a segment of ``steps`` latent steps, about
    ``spacing`` apart."""
    return min(max(1, round(steps / spacing)), max_knots(steps))


def principal_angles(latents: np.ndarray, knots: int) -> tuple[tuple[int, ...], ...]:
    """The angles, in :data:`~bitstream.filterbank.ANGLE_UNIT`, at ``knots`` knots, that turn
    each band pair (channel ``b`` and ``b + C / 2`` of the coded channels, mid and side) to
    its principal axes over the knot's share of the segment: the first channel of the pair
    then holds the larger share. A quiet share (or silence) takes the whole segment's."""
    half, steps = len(latents) // 2, latents.shape[1]
    edges = np.arange(knots + 1) * steps // knots
    angles = []
    for mid, side in zip(latents[:half], latents[half : 2 * half], strict=True):
        # each block's sums of mid x side, mid^2 and side^2
        moments = np.add.reduceat(np.stack([mid * side, mid * mid, side * side], 1), edges[:-1])
        # a quiet block's few samples would set its angle at random: the segment's prevails
        moments += QUIET * moments.mean(0)
        across, along = 2 * moments[:, 0], moments[:, 1] - moments[:, 2]
        angle = 0.5 * np.arctan2(across, along)  # 0 for mono and silence
        units = np.clip(np.round(angle / ANGLE_UNIT), -MAX_ANGLE, MAX_ANGLE)
        angles.append(tuple(int(a) for a in units))
    return tuple(angles)


def angle_curve(knots: tuple[int, ...], steps: int) -> np.ndarray:
    """The angle (radians, float64) at each of ``steps`` latent steps, from a band pair's
    ``knots`` as :mod:`bitstream.filterbank` says: each the short way round from the one
    before, interpolated linearly between them, held beyond the first and the last."""
    unwrapped = [knots[0]]
    for angle in knots[1:]:  # integers: every machine takes the same way round
        unwrapped.append(unwrapped[-1] + (angle - unwrapped[-1] + MAX_ANGLE) % (2 * MAX_ANGLE)
                         - MAX_ANGLE)  # fmt: skip
    centres = (np.arange(len(knots)) + 0.5) * steps / len(knots)
    return np.interp(np.arange(steps), centres, np.array(unwrapped) * ANGLE_UNIT)


def rotate(
    latents: np.ndarray,
    angles: tuple[tuple[int, ...], ...],
    inverse: bool = False,
    in_place: bool = False,
) -> np.ndarray:
    """``latents`` (coded channels, steps) with each band pair turned by its angles, or,
    ``inverse``, turned back: a new array, or ``latents`` themselves turned ``in_place``,
    or where no pair is turned."""
    if not any(any(knots) for knots in angles):  # mono, or a mix that needs no turn: no pass
        return latents
    half, steps = len(angles), latents.shape[1]
    out = latents if in_place else latents.copy()
    for band, knots in enumerate(angles):
        if not any(knots):
            continue
        curve = angle_curve(knots, steps) if len(knots) > 1 else None  # else one angle
        for start in range(0, steps, ROTATION_BLOCK):  # float64 temporaries a block long
            part = slice(start, start + ROTATION_BLOCK)
            theta = knots[0] * ANGLE_UNIT if curve is None else curve[part]
            cos, sin = np.cos(theta), np.sin(theta)
            sin = -sin if inverse else sin
            mid, side = latents[band, part], latents[half + band, part]
            # both sides are computed before either is stored: safe in place
            out[band, part], out[half + band, part] = cos * mid + sin * side, cos * side - sin * mid
    return out


def turns_described(angles: tuple[tuple[int, ...], ...]) -> str:
    """Each band pair's turn, lowest band first, as ``sae info`` shows it: an angle, or a
    curve's knots and the range of their angles (degrees, each the axes' own, within
    +-90)."""
    described = []
    for knots in angles:
        low, high = np.array([min(knots), max(knots)]) * ANGLE_UNIT * 180 / np.pi
        curve = f"{len(knots)} knots, {low:.1f} to {high:.1f} deg"
        described.append(f"{low:.1f} deg" if len(knots) == 1 else curve)
    return "; ".join(described)

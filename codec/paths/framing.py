"""How the filterbank path frames a segment's latents for its transform: each band pair's
stereo turn (:mod:`codec.stereo`) and each latent channel's frame length, both chosen by a
quick estimate of distortion + lambda x rate, and the MDCT of each channel at its length.

>>> rng = np.random.default_rng(0)
>>> latents = rng.standard_normal((8, 4000)) * np.linspace(2, 0.1, 8)[:, None]
>>> angles, bins = choose_rotation(latents, quality=8.0)
>>> len(angles), len(bins), set(bins) <= set(FRAME_STEPS)
(4, 8, True)
>>> [c.shape[1] for c in transform([latents], bins)] == list(bins)
True
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from bitstream.context import channel_groups
from codec.entropy_model import estimated_channel_bits
from codec.quantizer import quality_to_lambda, quantizer_step, round_to_q0
from codec.stereo import KNOT_SPACINGS, knot_count, principal_angles, rotate
from codec.transform import mdct

FRAME_STEPS = (128, 256, 512, 1024)  # frame lengths along latent time a song may use


def choose_rotation(
    latents: np.ndarray, quality: float, each_channel: bool = True
) -> tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]:
    """The angles of each band pair (:mod:`codec.stereo`), whichever costs least in the
    estimate, the knots' bits counted: none (mid and side), the principal axes' of the
    whole segment, or an angle that follows them from knot to knot, at either of
    :data:`~codec.stereo.KNOT_SPACINGS` (a band whose stereo image is uncorrelated only in
    some of its bins can lose by a turn); and with those
    turns, the frame length of each coded channel (:func:`choose_frame_steps`)."""
    half, steps = len(latents) // 2, latents.shape[1]
    unturned = ((0,),) * half
    counts = sorted({1, *(knot_count(steps, spacing) for spacing in KNOT_SPACINGS)})
    turned = [principal_angles(latents, knots) for knots in counts]
    turns = [unturned, *(angles for angles in turned if any(any(each) for each in angles))]

    def priced(angles) -> np.ndarray:  # unturned: rotate gives the latents themselves
        return _channel_costs([rotate(latents, angles)], quality)

    # each option is priced on its own: on threads, as the estimate's compiled loops and
    # numpy's large operations let go of the interpreter's lock; each thread holds its
    # option's rotated latents and estimate (about 0.17 GB a minute of audio)
    with ThreadPoolExecutor(min(len(turns), numba.get_num_threads())) as pool:
        options = list(zip(turns, pool.map(priced, turns), strict=True))
    lam = quality_to_lambda(quality)
    # each option's cost of each band pair: its two channels at their best lengths
    pair_costs = np.array([
        [c[:, b].min() + c[:, half + b].min() + lam * 16 * len(a[b]) for b in range(half)]
        for a, c in options
    ])  # fmt: skip
    best = np.argmin(pair_costs, axis=0)
    angles = tuple(options[o][0][b] for b, o in enumerate(best))
    costs = np.stack([options[best[c % half]][1][:, c] for c in range(2 * half)], axis=1)
    return angles, _least(costs, each_channel)


def choose_frame_steps(
    latents: list[np.ndarray], quality: float, each_channel: bool = True
) -> tuple[int, ...]:
    """The frame length of each coded channel whose estimate, over the latents of one or
    more segments, costs least distortion + lambda x rate: long frames for tonal music,
    short ones for dense; without ``each_channel``, the one length that costs least in
    all channels together."""
    return _least(_channel_costs(latents, quality), each_channel)


def _channel_costs(latents: list[np.ndarray], quality: float) -> np.ndarray:
    """(lengths, channels): the estimated distortion + lambda x rate of each coded channel
    at each of :data:`FRAME_STEPS`."""
    return np.array([_costs_at(latents, frame_steps, quality) for frame_steps in FRAME_STEPS])


def _costs_at(latents: list[np.ndarray], frame_steps: int, quality: float) -> np.ndarray:
    """Each coded channel's estimate at one frame length. It runs on several threads at
    once, so it holds little: the error a channel at a time (the same sums), and the
    coefficients let go before the tables are fitted."""
    step = quantizer_step(quality)
    coefficients = _pooled(latents, frame_steps)
    indices = round_to_q0(coefficients, step)
    pairs = zip(coefficients, indices, strict=True)
    error = np.array([np.sum((c - 2 * i * step) ** 2) for c, i in pairs])
    del coefficients, pairs
    return error + quality_to_lambda(quality) * estimated_channel_bits(indices)


def _least(costs: np.ndarray, each_channel: bool) -> tuple[int, ...]:
    if not each_channel:
        return (FRAME_STEPS[int(np.argmin(costs.sum(1)))],) * costs.shape[1]
    return tuple(FRAME_STEPS[int(choice)] for choice in np.argmin(costs, axis=0))


def transform(latents: list[np.ndarray], bins: tuple[int, ...]) -> list[np.ndarray]:
    """The MDCT coefficients (frames, bins) of each latent channel, each its own frame
    length, of the latents of one or more segments (their frames one after another)."""
    coefficients: list = [None] * len(bins)
    for group in channel_groups(bins):
        pooled = _pooled([each[group] for each in latents], bins[group[0]])
        for c, each in zip(group, pooled, strict=True):
            coefficients[c] = each
    return coefficients


def _pooled(latents: list[np.ndarray], frame_steps: int) -> np.ndarray:
    """The coefficients of several segments' latents, their frames one after another."""
    return np.concatenate([mdct(each, frame_steps) for each in latents], axis=1)

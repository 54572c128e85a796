"""The entropy model of the latents' transform coefficients, fitted to the song.

Each coefficient is modelled as Laplacian with a scale that is a product of two learned
factors: one per latent channel and bin group (the song's spectral envelope in that
channel), one per coding pass and context bucket (how busy the already-decoded
neighbours are; see :mod:`bitstream.context`). The log scales are fitted to the song's
own coefficients by alternating maximum-likelihood updates, then frozen: rounded onto a
ladder of scales a quarter-octave apart, which gives the integer maps ``base`` and
``adjust`` of :mod:`bitstream.context`, and one integer frequency table per ladder rung,
built from the classes of the coefficients that use it. Maps and tables go into the
file; the decoder never evaluates a float probability.

>>> from bitstream.context import decode_coefficients, encode_coefficients
>>> rng = np.random.default_rng(0)
>>> q = np.round(rng.laplace(size=(2, 6, 64)) * [[[4.0]], [[0.5]]]).astype(np.int64)
>>> model = fit_context_model(q)
>>> data = encode_coefficients(q, model.base, model.adjust, model.tables)
>>> bool(np.array_equal(decode_coefficients(data, q.shape, *model), q))
True
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bitstream import FrequencyTable
from bitstream.context import (
    BUCKETS,
    GROUPS,
    PASSES,
    KnownMagnitudes,
    pass_positions,
    split_classes,
)

RUNG = np.log(2) / 3  # ladder spacing in log scale: a third of an octave
SMALLEST = 0.02  # scale of the lowest rung, in quantizer steps
FIT_ROUNDS = 6


class ContextModel(NamedTuple):
    base: np.ndarray  # (channels, GROUPS) rung offsets
    adjust: np.ndarray  # (PASSES, BUCKETS) rung offsets
    tables: list[FrequencyTable]  # one per rung, lowest scale first


def coding_contexts(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flat (channel, group, pass, bucket) of every coefficient of ``q``, as the coder sees them."""
    channels, frames, bins = q.shape
    known = KnownMagnitudes(q.shape)
    out = [[], [], [], []]
    for p in range(PASSES):
        f, j = pass_positions(frames, bins, p)
        bucket, group = known.contexts(p)
        channel = np.broadcast_to(np.arange(channels)[:, None, None], bucket.shape)
        for part, values in zip(
            out, (channel, group, np.full(bucket.shape, p), bucket), strict=True
        ):
            part.append(values.ravel())
        known.store(p, q[:, f, j])
    return tuple(np.concatenate(part) for part in out)


def coefficients_in_coding_order(q: np.ndarray) -> np.ndarray:
    frames, bins = q.shape[1:]
    return np.concatenate(
        [q[:, f, j].ravel() for f, j in (pass_positions(frames, bins, p) for p in range(PASSES))]
    )


def fit_context_model(q: np.ndarray) -> ContextModel:
    """Fit and freeze the entropy model to integer coefficients (channels, frames, bins)."""
    channel, group, passes, bucket = coding_contexts(q)
    magnitude = np.abs(coefficients_in_coding_order(q)).astype(np.float64) + 0.05
    envelope_key = channel * GROUPS + group
    context_key = passes * BUCKETS + bucket
    envelope = np.zeros(len(q) * GROUPS)
    context = np.zeros(PASSES * BUCKETS)

    def mean_by(key, values, size):
        total = np.bincount(key, values, size)
        count = np.bincount(key, minlength=size)
        return np.where(count > 0, total / np.maximum(count, 1), 1.0)

    # Laplace maximum likelihood for scale = exp(envelope + context), one factor at a time
    for _ in range(FIT_ROUNDS):
        envelope = np.log(
            mean_by(envelope_key, magnitude / np.exp(context[context_key]), envelope.size)
        )
        context = np.log(
            mean_by(context_key, magnitude / np.exp(envelope[envelope_key]), context.size)
        )
    base = np.round((envelope - np.log(SMALLEST)) / RUNG).astype(np.int64)
    adjust = np.round(context / RUNG).astype(np.int64)
    rungs = int(np.clip(base.max() + adjust.max(), 0, 63)) + 1
    rung = np.clip(base[envelope_key] + adjust[context_key], 0, rungs - 1)
    classes = split_classes(coefficients_in_coding_order(q))[0]
    return ContextModel(
        base.reshape(len(q), GROUPS), adjust.reshape(PASSES, BUCKETS), _tables(classes, rung, rungs)
    )


def _tables(classes: np.ndarray, rung: np.ndarray, rungs: int) -> list[FrequencyTable]:
    """Each rung's table: the counts of its classes, over the range it needs."""
    tables = []
    for k in range(rungs):
        mine = classes[rung == k]
        if mine.size == 0:
            tables.append(FrequencyTable.from_probabilities(0, [1.0]))
            continue
        low, high = int(mine.min()), int(mine.max())
        counts = np.bincount(mine - low, minlength=high - low + 1).astype(np.float64)
        tables.append(FrequencyTable.from_probabilities(low, counts))
    return tables

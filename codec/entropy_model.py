"""The filterbank path's entropy model of its trellis indices, fitted to the song and
frozen to integer tables.

Each index's magnitude is modelled as Laplacian with a scale that is the product of two
learned factors: one per coded latent channel and bin group (the song's spectral envelope
in that channel), one per frame level, quantizer and activity bucket (what the
already-decoded neighbours say; see :mod:`bitstream.context`). The log scales are fitted
to the song's own indices by alternating maximum-likelihood updates, then frozen: rounded
onto a ladder of rungs a quarter-octave apart, which gives the integer maps ``base`` and
``adjust``, and each rung gets a head table per quantizer (and every four rungs a
remainder table) built from the counts of the symbols that use it; the remainder classes'
tables are picked by the neighbouring frames' magnitudes and the rung
(:func:`bitstream.context.class_tables`), each built from its classes' counts. Maps and tables go
into the file; the decoder never evaluates a float probability.

>>> from bitstream.context import decode_coefficients, encode_coefficients
>>> rng = np.random.default_rng(0)
>>> k = np.round(rng.laplace(size=(2, 6, 64)) * [[[4.0]], [[0.5]]]).astype(np.int64)
>>> tables = fit_tables(k)
>>> data = encode_coefficients(k, tables)
>>> bool(np.array_equal(decode_coefficients(data, k.shape, tables), k))
True
>>> bool(0.95 < 8 * len(data) / estimated_bits(k) < 1.05)  # the coder meets the estimate
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bitstream.context import (
    BUCKETS,
    CLASS_TABLES,
    GROUPS,
    HEADS,
    LEVELS,
    MAX_RUNGS,
    CoefficientTables,
    bin_groups,
    channel_groups,
    coding_contexts,
    context_keys,
    remainder_tables_of,
)
from bitstream.entropy import PRECISION, FrequencyTable, code_lengths
from bitstream.integers import MAX_CLASS

RUNG = np.log(2) / 4  # ladder spacing in log scale: a quarter of an octave
SMALLEST = 0.01  # scale of the lowest rung, in indices
FIT_ROUNDS = 6


Indices = np.ndarray | Sequence[np.ndarray]  # (channels, frames, bins), or a channel's each


def fit_tables(k: Indices, cover_all: bool = False) -> CoefficientTables:
    """Fit the entropy model to trellis indices, frozen to tables: ``k`` is a (channels,
    frames, bins) array, or one (frames, bins) array per coded channel, whose frame
    lengths may differ (the channels of each length are coded together, one set of tables
    shared by all).

    A song's own tables need to cover only the symbols it holds; with ``cover_all`` every
    table covers every symbol there is (those never seen at the least frequency), so that
    they can code songs they were not fitted to (a shared model).
    """
    return _fit(k, cover_all)[0]


def estimated_bits(k: Indices) -> float:
    """The bits that coding ``k`` under tables fitted to it takes, tables left out: the
    ideal code length of its heads and remainder classes, plus its raw bits."""
    return float(estimated_channel_bits(k).sum())


def estimated_channel_bits(k: Indices) -> np.ndarray:
    """:func:`estimated_bits` of each coded channel."""
    from codec.kernels import index_bits_sum

    tables, groups = _fit(k)
    heads = code_lengths(tables.heads, HEADS, BEYOND_BITS)
    remainders = code_lengths(tables.remainders, MAX_CLASS + 1, BEYOND_BITS)
    bits = np.zeros(len(tables.base))
    for channels, part, context, rung, classes in groups:
        bits[channels] = index_bits_sum(part, context, rung, classes, heads, remainders)
    return bits


def index_bits(k: Indices, tables: CoefficientTables) -> list[np.ndarray]:
    """The bits each index of ``k`` takes under ``tables`` (its ideal code length, head,
    sign and remainder together), a (frames, bins) array per coded channel: where a
    file's bits go."""
    bits: list = [None] * len(tables.base)
    for channels, part in channel_arrays(k):
        rung, quantizer = coding_contexts(part, tables.of_channels(channels))
        classes = remainder_tables_of(part, rung, len(tables.remainders))
        part_bits = _index_bits(np.abs(part), rung, quantizer, classes, tables)
        for c, each in zip(channels, part_bits, strict=True):
            bits[c] = each
    return bits


def channel_arrays(k: Indices) -> list[tuple[list[int], np.ndarray]]:
    """The coded channels of each frame length in ``k`` (:func:`bitstream.context.
    channel_groups`), and their indices as one (channels, frames, bins) int64 array."""
    if isinstance(k, np.ndarray):  # one frame length: the array as it is
        return [(list(range(len(k))), np.ascontiguousarray(k, dtype=np.int64))]
    return [(group, np.stack([k[c] for c in group]).astype(np.int64))
            for group in channel_groups([np.shape(channel)[-1] for channel in k])]  # fmt: skip


BEYOND_BITS = PRECISION + 8.0  # a symbol past a short table: the coder's least probability


def _index_bits(magnitude, rung, quantizer, classes, tables: CoefficientTables) -> np.ndarray:
    head, size = heads_and_classes(magnitude)
    heads = code_lengths(tables.heads, HEADS, BEYOND_BITS)
    bits = heads[2 * rung + quantizer, head] + (magnitude > 0)
    big = head >= 3
    remainders = code_lengths(tables.remainders, MAX_CLASS + 1, BEYOND_BITS)
    size = size[big]
    bits[big] += remainders[classes[big], size] + np.maximum(size - 1, 0)
    return bits


def heads_and_classes(magnitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Head symbol and remainder class (its bit length) of each magnitude, in one pass
    (:mod:`bitstream.context`)."""
    from codec.kernels import heads_and_classes_of  # compiled: decoding never needs it

    flat = np.ascontiguousarray(magnitude, np.int64).ravel()
    head, size = np.empty(flat.shape, np.int8), np.empty(flat.shape, np.int8)
    heads_and_classes_of(flat, head, size)
    return head.reshape(np.shape(magnitude)), size.reshape(np.shape(magnitude))


def _envelope_keys(channels: list[int], bins: int) -> np.ndarray:
    """(channels, bins): the envelope factor of each index, by coded channel and bin group."""
    return np.asarray(channels)[:, None] * GROUPS + bin_groups(bins)[None, :]


def _fit(k: Indices, cover_all: bool = False):
    """The tables, and what pricing ``k`` under them needs, for each frame length's
    channels: their numbers, their indices as int64, and each index's context, rung and
    remainder table."""
    from codec.kernels import pair_sums, symbol_counts

    arrays = channel_arrays(k)
    channels = sum(len(group) for group, _ in arrays)
    contexts = len(LEVELS) * 2 * BUCKETS
    # sums and counts per (envelope, context) pair are all the fit needs
    shape = (channels * GROUPS, contexts)
    total, count = np.zeros(shape[0] * shape[1]), np.zeros(shape[0] * shape[1], np.int64)
    keyed = []
    for group, part in arrays:
        context, _ = context_keys(part)
        envelope_keys = _envelope_keys(group, part.shape[2])
        part_total, part_count = pair_sums(part, context, envelope_keys, contexts, total.size)
        total, count = total + part_total, count + part_count
        keyed.append((group, part, context, envelope_keys))
    total, count = total.reshape(shape), count.reshape(shape)
    envelope, context_scale = np.zeros(shape[0]), np.zeros(shape[1])

    def log_mean(total: np.ndarray, count: np.ndarray) -> np.ndarray:
        return np.log(np.where(count > 0, total / np.maximum(count, 1), 1.0))

    # Laplace maximum likelihood for scale = exp(envelope + context), one factor at a time
    for _ in range(FIT_ROUNDS):
        envelope = log_mean((total / np.exp(context_scale)).sum(1), count.sum(1))
        context_scale = log_mean((total / np.exp(envelope)[:, None]).sum(0), count.sum(0))
    base = np.clip(np.round((envelope - np.log(SMALLEST)) / RUNG), -128, 127).astype(np.int64)
    adjust = np.clip(np.round(context_scale / RUNG), -128, 127).astype(np.int64)
    rungs = int(np.clip(base.max() + adjust.max() + 1, 1, MAX_RUNGS))
    rung_of_pair = np.clip(base[:, None] + adjust[None, :], 0, rungs - 1).ravel()
    heads = np.zeros(rungs * 2 * HEADS, np.int64)
    sizes = np.zeros((CLASS_TABLES, MAX_CLASS), np.int64)
    groups = []
    for group, part, context, envelope_keys in keyed:
        rung = np.empty(part.shape, np.int8)
        heads += symbol_counts(part, context, envelope_keys, rung_of_pair, contexts, rungs, rung)
        classes = remainder_tables_of(part, rung, CLASS_TABLES)
        head, size = heads_and_classes(np.abs(part))
        big = head >= 3
        pairs = classes[big].astype(np.int64) * MAX_CLASS + size[big]
        sizes += np.bincount(pairs, minlength=sizes.size).reshape(sizes.shape)
        groups.append((group, part, context, rung, classes))
    used = CLASS_TABLES if cover_all else int(np.flatnonzero(sizes.sum(1)).max(initial=0)) + 1
    largest = int(np.flatnonzero(sizes.sum(0)).max(initial=0))
    remainders = sizes[:used, : MAX_CLASS if cover_all else largest + 1]

    def table(counts: np.ndarray) -> FrequencyTable:
        """Symbols never seen keep the least frequency. A table nobody uses has one symbol
        (the least there is to store), unless every symbol must be covered."""
        if counts.sum() == 0:
            counts = np.ones(len(counts) if cover_all else 1)
        return FrequencyTable.from_probabilities(0, counts)

    def remainder_table(counts: np.ndarray) -> FrequencyTable:
        return table(counts if cover_all else np.trim_zeros(counts, "b"))  # ends at the last seen

    tables = CoefficientTables(
        base.reshape(channels, GROUPS),
        adjust.reshape(len(LEVELS), 2, BUCKETS),
        [table(counts) for counts in heads.reshape(-1, HEADS)],
        [remainder_table(counts) for counts in remainders],
    )
    return tables, groups

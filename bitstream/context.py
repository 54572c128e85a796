"""Context coding of the latents' integer transform coefficients.

The coefficients ``q[c, f, j]`` (latent channel, frame, bin) are coded in six passes,
each over all frames at once, so that decoding is a handful of vectorized steps. Frames
come in three levels: every fourth frame (level 0), the frames halfway between them
(level 1, whose neighbours two frames away are known) and the odd frames (level 2, whose
neighbours one frame away are known). Each level codes its even bins, then its odd ones:

=====  =====  ======  ============================================================
pass   level  bins    activity: weighted magnitudes already decoded (d: 2, or 1)
=====  =====  ======  ============================================================
0      0      even    none
1      0      odd     bins j-1 and j+1 of the same frame
2      1      even    bin j of frames f-d, f+d (x2); bins j-1, j+1 there
3      1      odd     bins j-1, j+1 of the same frame; bin j of frames f-d, f+d
4      2      even    as pass 2
5      2      odd     as pass 3
=====  =====  ======  ============================================================

The activity picks one of ``BUCKETS`` buckets (integer thresholds); the bin picks one of
``GROUPS`` log-spaced groups. A coefficient is coded with table
``clip(base[c, group] + adjust[pass, bucket], 0, len(tables) - 1)``: the encoder sorts
its tables by spread and fits the two small integer maps, the decoder only reads them.
Each coefficient is a signed class ``sign(q) * bit_length(|q|)`` under that table,
followed, for classes beyond 1, by the bits of ``|q|`` below its leading one, raw.
Everything the decoder computes is integer arithmetic.

>>> rng = np.random.default_rng(0)
>>> q = np.round(rng.laplace(size=(2, 5, 8)) * 3).astype(np.int64)
>>> base, adjust = np.zeros((2, GROUPS), np.int64), np.zeros((PASSES, BUCKETS), np.int64)
>>> classes = np.arange(-MAX_CLASS, MAX_CLASS + 1)
>>> tables = [FrequencyTable.from_probabilities(-MAX_CLASS, 0.5 ** np.abs(classes))]
>>> data = encode_coefficients(q, base, adjust, tables)
>>> bool(np.array_equal(decode_coefficients(data, q.shape, base, adjust, tables), q))
True
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from bitstream.container import FormatError
from bitstream.entropy import FrequencyTable, RawBits, SymbolReader, encode_symbols

PASSES = 6
GROUPS = 8
BUCKETS = 16
MAX_CLASS = 24  # |q| < 2**24
_THRESHOLDS = np.array([1, 2, 3, 5, 7, 11, 15, 23, 31, 47, 63, 95, 127, 191, 255])  # about 2**(k/2)


def bin_groups(bins: int) -> np.ndarray:
    """Group (0 to GROUPS - 1) of each bin, log-spaced so low bins get groups of their own."""
    edges = np.round(np.exp2(np.arange(1, GROUPS) * np.log2(bins + 1) / GROUPS)) - 1
    return np.searchsorted(edges, np.arange(bins), side="right")


_LEVELS = ((0, 4), (2, 4), (1, 2))  # (first frame, frame stride) of each level


def pass_positions(frames: int, bins: int, pass_index: int, pad: tuple[int, int] = (0, 0)):
    """(frame slice, bin slice) a pass covers, each shifted by ``pad``."""
    level, bin_parity = divmod(pass_index, 2)
    first, stride = _LEVELS[level]
    return (
        slice(first + pad[0], frames + pad[0], stride),
        slice(bin_parity + pad[1], bins + pad[1], 2),
    )


class KnownMagnitudes:
    """The magnitudes decoded so far (zero where nothing is decoded yet), kept padded so
    that every pass reads its neighbours with plain slices."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        channels, self.frames, self.bins = shape
        self.padded = np.zeros((channels, self.frames + 4, self.bins + 2), dtype=np.int32)

    def store(self, pass_index: int, values: np.ndarray) -> None:
        """Record the integers of a pass (channels, pass frames, pass bins)."""
        self.padded[(slice(None), *pass_positions(self.frames, self.bins, pass_index, (2, 1)))] = (
            np.abs(values)
        )

    def contexts(self, pass_index: int) -> tuple[np.ndarray, np.ndarray]:
        """(bucket, group) of each coefficient of a pass, from what is known before it."""
        f, j = pass_positions(self.frames, self.bins, pass_index, (2, 1))
        d = 2 if pass_index in (2, 3) else 1  # distance to the known neighbouring frames
        m = self.padded

        def at(df: int, dj: int) -> np.ndarray:
            return m[:, f.start + df : f.stop + df : f.step, j.start + dj : j.stop + dj : j.step]

        if pass_index == 0:
            activity = np.zeros(at(0, 0).shape, np.int32)
        elif pass_index == 1:
            activity = at(0, -1) + at(0, 1)
        elif pass_index % 2 == 0:
            activity = 2 * (at(-d, 0) + at(d, 0)) + at(-d, -1) + at(-d, 1) + at(d, -1) + at(d, 1)
        else:
            activity = at(0, -1) + at(0, 1) + at(-d, 0) + at(d, 0)
        bucket = np.searchsorted(_THRESHOLDS, activity, side="right")
        group = np.broadcast_to(bin_groups(self.bins)[j.start - 1 :: 2], bucket.shape)
        return bucket, group


def table_indices(
    bucket: np.ndarray, group: np.ndarray, base: np.ndarray, adjust: np.ndarray, pass_index: int
) -> np.ndarray:
    channel = np.arange(len(base))[:, None, None]
    return base[channel, group] + adjust[pass_index][bucket]


def split_classes(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signed class, class size (bits of the mantissa) and mantissa of each integer."""
    magnitude = np.abs(q)
    size = np.zeros_like(magnitude)
    nonzero = magnitude > 0
    size[nonzero] = np.floor(np.log2(magnitude[nonzero])).astype(np.int64) + 1
    mantissa_bits = np.maximum(size - 1, 0)
    mantissa = magnitude - np.where(size > 0, 1 << mantissa_bits, 0)
    return np.sign(q) * size, mantissa_bits, mantissa


def _passes(shape, base, adjust, tables) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Checks the maps, then yields (pass, frame mesh, bin mesh) in coding order."""
    channels, frames, bins = shape
    if base.shape != (channels, GROUPS) or adjust.shape != (PASSES, BUCKETS):
        raise FormatError(f"context maps of shapes {base.shape}, {adjust.shape} for {shape}")
    if not tables:
        raise FormatError("no coefficient tables")
    for p in range(PASSES):
        f, j = pass_positions(frames, bins, p)
        yield p, f, j


def _runs_of(indices: np.ndarray, count: int) -> list[np.ndarray]:
    """Positions (in C order) holding each value 0..count-1 of ``indices``."""
    order = np.argsort(indices.astype(np.int16), kind="stable")  # a radix sort
    cuts = np.searchsorted(indices[order], np.arange(count + 1))
    return [order[cuts[k] : cuts[k + 1]] for k in range(count)]


def encode_coefficients(
    q: np.ndarray, base: np.ndarray, adjust: np.ndarray, tables: Sequence[FrequencyTable]
) -> bytes:
    """Code integer coefficients (channels, frames, bins) with the context maps and tables."""
    q = np.asarray(q, dtype=np.int64)
    if np.abs(q).max(initial=0) >= 1 << MAX_CLASS:
        raise ValueError(f"coefficients must stay below 2**{MAX_CLASS} in magnitude")
    known = KnownMagnitudes(q.shape)
    streams: list = []
    for p, f, j in _passes(q.shape, base, adjust, tables):
        bucket, group = known.contexts(p)
        index = np.clip(table_indices(bucket, group, base, adjust, p), 0, len(tables) - 1).ravel()
        values = q[:, f, j].ravel()
        classes, bits, mantissa = split_classes(values)
        for k, run in enumerate(_runs_of(index, len(tables))):
            streams.append((classes[run], tables[k]))
        for size, run in enumerate(_runs_of(bits, MAX_CLASS)):
            streams.append((mantissa[run], RawBits(size)))
        known.store(p, q[:, f, j])
    return encode_symbols(streams)


def decode_coefficients(
    data: bytes,
    shape: tuple[int, int, int],
    base: np.ndarray,
    adjust: np.ndarray,
    tables: Sequence[FrequencyTable],
) -> np.ndarray:
    """The inverse of :func:`encode_coefficients`."""
    reader = SymbolReader(data)
    q = np.zeros(shape, dtype=np.int64)
    known = KnownMagnitudes(shape)
    for p, f, j in _passes(shape, base, adjust, tables):
        bucket, group = known.contexts(p)
        index = np.clip(table_indices(bucket, group, base, adjust, p), 0, len(tables) - 1).ravel()
        classes = np.zeros(index.size, dtype=np.int64)
        for k, run in enumerate(_runs_of(index, len(tables))):
            classes[run] = reader.read(tables[k], len(run))
        if np.abs(classes).max(initial=0) > MAX_CLASS:
            raise FormatError(f"coefficient class beyond {MAX_CLASS} in pass {p}")
        size = np.abs(classes)
        bits = np.maximum(size - 1, 0)
        mantissa = np.zeros(index.size, dtype=np.int64)
        for width, run in enumerate(_runs_of(bits, MAX_CLASS)):
            mantissa[run] = reader.read(RawBits(width), len(run))
        magnitude = np.where(size > 0, (1 << bits) + mantissa, 0)
        values = (np.sign(classes) * magnitude).reshape(q[:, f, j].shape)
        q[:, f, j] = values
        known.store(p, values)
    reader.finish()
    return q

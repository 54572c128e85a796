"""The context coding of trellis quantization indices.

The indices are those of the trellis quantizer (:mod:`bitstream.trellis`).

**Coding order.** Frames come in three levels: every fourth frame (level 0), the frames
halfway between them (level 1, whose neighbours two frames away are known) and the odd
frames (level 2, whose neighbours one frame away are known). Within a level the bins are
coded one at a time from low to high, all rows of the level at once, so that the state of
every row is known before its next index is read. Each index is coded as a *head* under a
table chosen by the row's quantizer and an activity context: ``|k|`` itself for 0, 1 and
2, else its parity (3: odd, 4: even). After a level's heads come its signs (a raw bit per
non-zero index) and the remainders ``(|k| - 3) // 2`` of the heads 3 and 4: a class
``bit_length(remainder)`` under a table, then the bits below the leading one, raw. Level
0 writes its classes and their bits a frame at a time, each frame's after the one before,
whose magnitudes pick its tables.

**Contexts.** The activity of index (c, f, j) is ``3 x near`` in level 0 and
``2 x near + far`` in levels 1 and 2, where ``near = 2 m(f, j-1) + m(f, j-2)`` with
``m = min(|k|, 3)`` from the row's own heads, and ``far`` sums
``m'(j-1) + 2 m'(j) + m'(j+1)`` over the two known frames ``f +- d``, with
``m' = min(|k|, 15)``. :data:`THRESHOLDS` put the activity in one of :data:`BUCKETS`
buckets; the bin's place puts it in one of :data:`GROUPS` log-spaced groups. The head is
coded with table ``2 r + quantizer``, where the *rung*
``r = clip(base[c, group] + adjust[level, quantizer, bucket], 0, rungs - 1)``. Its
remainder's class is coded with table ``min(h + r // 8, tables - 1)``, where ``h`` counts the
:data:`CLASS_THRESHOLDS` (half octaves) that the neighbouring frames' whole magnitudes reach:
``M'(j-1) + 2 M'(j) + M'(j+1)`` summed over the frames ``f +- d`` in levels 1 and 2, twice
that of frame ``f - 4`` in level 0, uncapped, because large magnitudes are what a class tells
apart. The encoder fits the small integer maps and the tables; the decoder reads them from
the file, and everything it computes is integer arithmetic.

>>> rng = np.random.default_rng(0)
>>> k = np.round(rng.laplace(size=(2, 5, 8)) * 3).astype(np.int64)
>>> tables = CoefficientTables.flat(channels=2)
>>> data = encode_coefficients(k, tables)
>>> bool(np.array_equal(decode_coefficients(data, k.shape, tables), k))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bitstream.container import FormatError
from bitstream.entropy import (
    FrequencyTable,
    RawBits,
    SymbolReader,
    TableSet,
    encode_symbols,
    mantissa_streams,
    read_magnitudes,
)
from bitstream.integers import MAX_CLASS, bit_classes
from bitstream.trellis import NEXT_STATE, QUANTIZER_OF_STATE

LEVELS = ((0, 4), (2, 4), (1, 2))  # (first frame, frame stride) of each level
DISTANCE = (0, 2, 1)  # how far each level's known neighbouring frames are
HEADS = 5  # head symbols: 0, 1, 2, then 3 (odd |k| >= 3) and 4 (even |k| >= 4)
NEAR_CAP, FAR_CAP = 3, 15  # 2 x 4 x FAR_CAP, the far activity, fits an int8
THRESHOLDS = np.array([1, 2, 3, 4, 6, 8, 11, 15, 20, 27, 36, 48, 64, 90, 120])
BUCKETS = len(THRESHOLDS) + 1
GROUPS = 8
MAX_RUNGS = 64
# the neighbouring frames' magnitude sums where a class's context steps up a table:
# 8 x (2^(i/2) - 1) rounded up, written out so that no machine's pow can move them
CLASS_THRESHOLDS = np.array([4, 8, 15, 24, 38, 56, 83, 120, 174, 248, 355, 504, 717, 1016,
                             1441, 2040, 2889, 4088, 5785, 8184, 11578, 16376, 23163])  # fmt: skip
RUNGS_PER_CLASS_STEP = 8  # two octaves of the rung add one to a class's context
CLASS_TABLES = 32  # at most

NEXT = NEXT_STATE.ravel().astype(np.int8)  # next state at 2 x state + parity
QUANTIZER = QUANTIZER_OF_STATE.astype(np.int8)  # of each state
_MAX_ACTIVITY = 2 * 3 * NEAR_CAP + 2 * 4 * FAR_CAP  # 2 near + far, near and far at most
BUCKET_OF_ACTIVITY = np.searchsorted(THRESHOLDS, np.arange(_MAX_ACTIVITY + 1), side="right")


def bin_groups(bins: int) -> np.ndarray:
    """Group (0 to GROUPS - 1) of each bin, log-spaced so low bins get groups of their own."""
    edges = np.round(np.exp2(np.arange(1, GROUPS) * np.log2(bins + 1) / GROUPS)) - 1
    return np.searchsorted(edges, np.arange(bins), side="right")


def channel_groups(bins: Sequence[int]) -> list[list[int]]:
    """The coded channels whose frames have ``bins`` bins, each length's together, the
    shortest first: the order in which they are coded, each group as one array."""
    return [[c for c, b in enumerate(bins) if b == length] for length in sorted(set(bins))]


def level_frames(frames: int, level: int) -> slice:
    first, stride = LEVELS[level]
    return slice(first, frames, stride)


def split_heads(magnitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Head symbol and remainder of magnitudes |k| (the remainder is 0 below 3)."""
    head = np.where(magnitude < 3, magnitude, 4 - (magnitude & 1))
    return head, np.maximum(magnitude - 3, 0) >> 1


def spread(k: np.ndarray) -> np.ndarray:
    """``M(j-1) + 2 M(j) + M(j+1)`` of the magnitudes ``M = |k|`` along the bins (the last
    axis), int32: magnitudes stay below 2**(MAX_CLASS + 1), so sums of a few of them fit."""
    m = np.abs(k).astype(np.int32, copy=False)  # no second copy: these are song-sized
    out = 2 * m
    out[..., 1:] += m[..., :-1]
    out[..., :-1] += m[..., 1:]
    return out


def class_far(spreads: np.ndarray, level: int) -> np.ndarray:
    """(channels, level frames, bins) sums of the neighbouring frames' whole magnitudes
    that pick remainder classes' tables, from the :func:`spread` of every frame (channels,
    frames, bins), of which those frames' must be known. In level 0 only the level's
    previous frame is known (twice its spread, as if on both sides)."""
    channels, frames, bins = spreads.shape
    rows = np.arange(frames)[level_frames(frames, level)]
    far = np.zeros((channels, len(rows), bins), dtype=np.int32)
    if level == 0:
        far[:, 1:] = level_zero_far(spreads[:, rows[:-1]])
        return far
    for source in (rows - DISTANCE[level], rows + DISTANCE[level]):
        inside = (source >= 0) & (source < frames)
        far[:, inside] += spreads[:, source[inside]]
    return far


def level_zero_far(previous: np.ndarray) -> np.ndarray:
    """A level-0 frame's neighbours' sum, from the :func:`spread` of the level's previous
    frame: twice it, as if it stood on both sides."""
    return 2 * previous


def class_tables(far: np.ndarray, rung: np.ndarray, tables: int) -> np.ndarray:
    """The table of each remainder class, from its neighbours' sum ``far`` and its rung."""
    steps = np.searchsorted(CLASS_THRESHOLDS, far, side="right")
    return np.minimum(steps + rung // RUNGS_PER_CLASS_STEP, tables - 1)


def remainder_tables_of(k: np.ndarray, rung: np.ndarray, tables: int) -> np.ndarray:
    """The table of every index's remainder class (channels, frames, bins), as the decoder
    picks it, from all the indices and their rungs; 0 where there is no remainder (int8:
    as large as the song)."""
    from bitstream.kernels import class_tables_of  # compiled: only the encoder needs it

    chosen = np.empty(k.shape, np.int8)
    class_tables_of(np.ascontiguousarray(k, dtype=np.int64), rung, tables, chosen)
    return chosen


def far_activity(known: np.ndarray, level: int) -> np.ndarray:
    """(channels, level frames, bins) activity from the frames ``DISTANCE[level]`` away.

    ``known`` holds min(|k|, FAR_CAP) where it is already decoded and zero elsewhere
    (int8, small: these arrays are as large as the song)."""
    channels, frames, bins = known.shape
    rows = np.arange(frames)[level_frames(frames, level)]
    activity = np.zeros((channels, len(rows), bins), dtype=np.int8)
    d = DISTANCE[level]
    for source in (rows - d, rows + d) if d else ():
        inside = (source >= 0) & (source < frames)
        m = known[:, source[inside]]
        spread = 2 * m
        spread[:, :, 1:] += m[:, :, :-1]
        spread[:, :, :-1] += m[:, :, 1:]
        activity[:, inside] += spread
    return activity


@dataclass(frozen=True, eq=False)
class CoefficientTables:
    """The frozen entropy model of the indices: integer maps and tables (see above)."""

    base: np.ndarray  # (coded channels, GROUPS) rung offsets
    adjust: np.ndarray  # (len(LEVELS), 2 quantizers, BUCKETS) rung offsets
    # table 2 r + quantizer for rung r: symbols 0 .. HEADS - 1, or a one-symbol table
    # where the encoder codes nothing: it costs the file a few bytes, not a dozen
    heads: list[FrequencyTable]
    remainders: list[FrequencyTable]  # classes, by :func:`class_tables`

    @property
    def rungs(self) -> int:
        return len(self.heads) // 2

    @classmethod
    def flat(cls, channels: int) -> CoefficientTables:
        """One rung with geometric tables: tables for tests and examples."""
        head = FrequencyTable.from_probabilities(0, 0.5 ** np.arange(HEADS))
        remainder = FrequencyTable.from_probabilities(0, 0.5 ** np.arange(MAX_CLASS))
        return cls(
            np.zeros((channels, GROUPS), np.int64),
            np.zeros((len(LEVELS), 2, BUCKETS), np.int64),
            [head, head],
            [remainder],
        )

    def check(self, channels: int) -> None:
        """Raise :class:`FormatError` unless the tables fit ``channels`` coded channels."""
        if self.base.shape != (channels, GROUPS) or self.adjust.shape != (
            len(LEVELS),
            2,
            BUCKETS,
        ):
            raise FormatError(
                f"context maps of shapes {self.base.shape}, {self.adjust.shape} "
                f"for {channels} coded channels"
            )
        if not self.heads or len(self.heads) % 2 or self.rungs > MAX_RUNGS:
            raise FormatError(f"{len(self.heads)} head tables (2 per rung, 1 to {MAX_RUNGS})")
        if any(t.offset != 0 or len(t.frequencies) > HEADS for t in self.heads):
            raise FormatError(f"head tables must cover symbols 0 to at most {HEADS - 1}")
        if not 1 <= len(self.remainders) <= CLASS_TABLES:
            raise FormatError(f"{len(self.remainders)} remainder tables (1 to {CLASS_TABLES})")
        if any(t.offset != 0 or len(t.frequencies) > MAX_CLASS for t in self.remainders):
            raise FormatError(f"remainder tables must cover classes 0 to at most {MAX_CLASS - 1}")

    def of_channels(self, channels: Sequence[int]) -> CoefficientTables:
        """The tables as they code some of the coded channels (in that order): their rows
        of ``base``, everything else shared."""
        return CoefficientTables(self.base[list(channels)], self.adjust, self.heads,
                                 self.remainders)  # fmt: skip

    def rung(self, channel, group, level, quantizer, bucket) -> np.ndarray:
        r = self.base[channel, group] + self.adjust[level, quantizer, bucket]
        return np.clip(r, 0, self.rungs - 1)


def context_keys(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The context of every index of ``k`` (channels, frames, bins) as the decoder will see
    it, ``(level x 2 + quantizer) x BUCKETS + bucket``, and its quantizer (int8 each):
    everything but the maps that turn them into rungs."""
    from bitstream.kernels import context_keys_of  # compiled: only the encoder needs it

    context = np.empty(k.shape, np.int8)
    quantizer = np.empty(k.shape, np.int8)
    context_keys_of(np.ascontiguousarray(k, dtype=np.int64), context, quantizer)
    return context, quantizer


def coding_contexts(k: np.ndarray, tables: CoefficientTables) -> tuple[np.ndarray, np.ndarray]:
    """Rung and quantizer of every index of ``k`` (int8 each: they are as large as k)."""
    context, quantizer = context_keys(k)
    channels, _, bins = k.shape
    # the rung of every (channel, bin, context): a small table, looked up per index
    rung_of = tables.base[:, bin_groups(bins), None] + tables.adjust.ravel()[None, None, :]
    rung_of = np.clip(rung_of, 0, tables.rungs - 1).astype(np.int8)
    rung = np.empty(k.shape, np.int8)
    for channel in range(channels):
        rung[channel] = rung_of[channel, np.arange(bins), context[channel]]
    return rung, quantizer


def encode_coefficients(k: np.ndarray, tables: CoefficientTables) -> bytes:
    """Code indices ``k`` (channels, frames, bins) with ``tables``; see the module's text."""
    return encode_symbols(coefficient_streams(k, tables))


def coefficient_streams(k: np.ndarray, tables: CoefficientTables) -> list:
    """The runs of symbols (:func:`bitstream.entropy.encode_symbols`) that code ``k``:
    several arrays' runs, one after another, code them into one stream."""
    k = np.asarray(k, dtype=np.int64)
    tables.check(k.shape[0])
    if np.abs(k).max(initial=0) >= (1 << MAX_CLASS) + 3:
        raise ValueError(f"indices must stay below 2**{MAX_CLASS} in magnitude")
    rung, quantizer = coding_contexts(k, tables)
    table = 2 * rung + quantizer  # int8: at most 2 x 63 + 1
    heads, remainders = TableSet(tables.heads), TableSet(tables.remainders)
    magnitude = np.abs(k)
    chosen = remainder_tables_of(k, rung, len(tables.remainders))
    streams: list = []
    for level in range(len(LEVELS)):
        f = level_frames(k.shape[1], level)
        head, remainder = split_heads(magnitude[:, f])
        for j in range(k.shape[2]):
            streams.append((head[:, :, j], heads.choose(table[:, f, j])))
        streams.append(((k[:, f][k[:, f] != 0] < 0).astype(np.int64), RawBits(1)))  # signs
        classes = chosen[:, f]
        # level 0 a frame at a time: each frame's classes need the frame before it whole
        parts = range(head.shape[1]) if level == 0 else [slice(None)]
        for part in parts:
            big = head[:, part] >= 3
            size, width, mantissa = bit_classes(remainder[:, part][big])
            streams.append((size, remainders.choose(classes[:, part][big])))
            streams += mantissa_streams(width, mantissa)
    return streams


def decode_coefficients(
    data: bytes, shape: tuple[int, int, int], tables: CoefficientTables
) -> np.ndarray:
    """The inverse of :func:`encode_coefficients`."""
    reader = SymbolReader(data)
    k = read_coefficients(reader, shape, tables)
    reader.finish()
    return k


def read_coefficients(
    reader: SymbolReader, shape: tuple[int, int, int], tables: CoefficientTables
) -> np.ndarray:
    """Indices of ``shape`` read from ``reader``, where :func:`coefficient_streams` put them.

    Decoding runs a loop over the bins of each level, so it keeps its arrays small (int8
    where it can): they are as large as the song, and memory traffic is most of its time.
    """
    from bitstream.kernels import advance_rows, head_tables  # compiled, cached on disk

    channels, frames, bins = shape
    tables.check(channels)
    heads, remainders = TableSet(tables.heads), TableSet(tables.remainders)
    k = np.zeros(shape, dtype=np.int32)
    known = np.zeros(shape, dtype=np.int8)
    base = tables.base[:, bin_groups(bins)].T  # (bins, channels)
    for level in range(len(LEVELS)):
        f = level_frames(frames, level)
        far = far_activity(known, level)
        rows = far.shape[1]
        # bins first, each step's rows (channel-major, as the encoder wrote them) contiguous
        far = np.moveaxis(far, 2, 0).reshape(bins, -1)
        row_base = np.repeat(base.astype(np.int8), rows, axis=1)  # maps are int8 in the file
        adjust = tables.adjust[level].ravel()  # at quantizer x BUCKETS + bucket
        state, m1, m2 = (np.zeros(channels * rows, dtype=np.int8) for _ in range(3))
        head = np.zeros((bins, channels * rows), dtype=np.int8)
        rung = np.zeros_like(head)
        chosen = np.zeros((channels * rows, heads.probabilities.shape[1]))
        for j in range(bins):  # compiled: each row's table, then its state after the head
            head_tables(state, m1, m2, far[j], row_base[j], adjust, level, tables.rungs,
                        heads.probabilities, rung[j], chosen)  # fmt: skip
            head[j] = reader.read_rows(chosen)
            advance_rows(head[j], state, m1, m2)
        head = np.moveaxis(head.reshape(bins, channels, rows), 0, 2)
        rung = np.moveaxis(rung.reshape(bins, channels, rows), 0, 2)
        magnitude = head.astype(np.int32, order="C")  # C order: reshape(-1) is a view
        negative = reader.read(RawBits(1), int(np.count_nonzero(head))).astype(bool)
        if level == 0:  # a frame at a time: each frame's tables need the frame before it
            previous = np.zeros((channels, bins), np.int32)  # the first has none: zeros
            for row in range(rows):
                far = level_zero_far(previous)
                _read_remainders(reader, magnitude[:, row], far, rung[:, row], remainders)
                previous = spread(magnitude[:, row])
        else:
            _read_remainders(reader, magnitude, class_far(spread(k), level), rung, remainders)
        known[:, f] = np.minimum(magnitude, FAR_CAP)
        flat = magnitude.reshape(-1)
        flipped = np.flatnonzero(flat)[negative]
        flat[flipped] = -flat[flipped]
        k[:, f] = magnitude
    return k


def _read_remainders(reader: SymbolReader, magnitude, far, rung, remainders: TableSet) -> None:
    """Complete the heads 3 and 4 in ``magnitude`` with their remainders, whose classes'
    tables their neighbours' sums ``far`` and their rungs pick."""
    big = magnitude >= 3
    classes = class_tables(far[big], rung[big], len(remainders.sizes))
    sizes = reader.read(remainders.choose(classes), int(big.sum()))
    magnitude[big] = 3 + 2 * read_magnitudes(reader, sizes) + (magnitude[big] == 4)

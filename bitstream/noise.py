"""The filterbank path's noise levels (``NOIS``): where the quantizer left a region of a
transform frame at zero, the level of the noise the decoder fills it with.

A *region* is one of the log-spaced bin groups of :func:`bitstream.context.bin_groups`,
from group ``first`` up, of one coded channel and one transform frame. For each region
whose indices are all zero, in channel, frame, group order, a level ``l`` from 0 to
``LEVELS - 1``: 0 leaves it silent, else its bins decode to noise of rms ``step x
2**(l - OFFSET)`` (6 dB apart: an ear tells 3 dB apart, but each level costs bits).

The zero indices of the other regions from group ``first`` up, the holes the quantizer
leaves among the coefficients it codes, are filled too: for each coded channel and each
of those groups, a hole level ``h`` from 0 to 255, noise of rms ``step x h / HOLE_UNIT``.

The noise comes from a counter-based generator seeded by the section, so every decoder
makes the same samples.

Payload (little-endian): u32 seed, u8 first group, C x (GROUPS - first) u8 hole levels
(C coded channels), u32 length T of the level table, T bytes of it (:mod:`bitstream.entropy`),
then the levels, coded with it.

>>> indices = np.zeros((1, 1, 64), np.int64)  # one frame of 64 bins, all zero
>>> levels = np.array([0, 5, 5, 7])  # groups 4 to 7
>>> holes = np.full((1, 4), 16)
>>> back = unpack_noise(pack_noise(NoiseFill(9, 4, levels, holes)), indices)
>>> back.seed, back.first, back.levels.tolist(), back.holes.tolist()
(9, 4, [0, 5, 5, 7], [[16, 16, 16, 16]])
>>> noise(9, np.arange(3)).round(3).tolist()  # the same on every machine
[1.566, 1.018, 0.788]
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import numpy as np

from bitstream.container import FormatError
from bitstream.context import GROUPS, bin_groups
from bitstream.entropy import (
    FrequencyTable,
    SymbolReader,
    encode_symbols,
    pack_tables,
    unpack_tables,
)

LEVELS = 16
OFFSET = 12  # level OFFSET is noise of rms one quantizer step
HOLE_UNIT = 64  # hole level HOLE_UNIT is noise of rms one quantizer step
_HEAD = struct.Struct("<IB")
_TABLE = struct.Struct("<I")


class NoiseFill(NamedTuple):
    """What the decoder fills with noise: the seed, the first group whose empty regions
    are filled, their levels (in order), and the hole levels (channels, GROUPS - first)."""

    seed: int
    first: int
    levels: np.ndarray
    holes: np.ndarray


def regions(bins: int, first: int) -> list[slice]:
    """The bins of each region of a frame: bin groups ``first`` to GROUPS - 1."""
    groups = bin_groups(bins)
    present = [g for g in range(first, GROUPS) if np.any(groups == g)]
    return [slice(int(np.argmax(groups == g)), int(bins - np.argmax(groups[::-1] == g)))
            for g in present]  # fmt: skip


def empty(indices: np.ndarray, first: int) -> np.ndarray:
    """(channels, frames, regions): whether each region's indices are all zero."""
    return np.stack([~indices[..., r].any(-1) for r in regions(indices.shape[-1], first)], -1)


def pack_noise(fill: NoiseFill) -> bytes:
    """The NOIS payload of a segment's noise fill."""
    holes = fill.holes
    if holes.shape[1:] != (GROUPS - fill.first,) or holes.min() < 0 or holes.max() > 255:
        raise ValueError(f"hole levels: (channels, {GROUPS - fill.first}), 0 to 255")
    counts = np.bincount(fill.levels, minlength=1)
    table = FrequencyTable.from_probabilities(0, counts if counts.any() else [1.0])
    tables = pack_tables([table])
    head = _HEAD.pack(fill.seed, fill.first) + holes.astype(np.uint8).tobytes()
    levels = encode_symbols([(fill.levels, table)])
    return head + _TABLE.pack(len(tables)) + tables + levels


def unpack_noise(data: bytes, indices: np.ndarray) -> NoiseFill:
    """The noise fill of a segment whose indices are ``indices``."""
    if len(data) < _HEAD.size:
        raise FormatError(f"NOIS section of {len(data)} bytes")
    seed, first = _HEAD.unpack_from(data)
    if first >= GROUPS:
        raise FormatError(f"NOIS: first group {first} (0 to {GROUPS - 1})")
    shape = (len(indices), GROUPS - first)
    start = _HEAD.size + shape[0] * shape[1] + _TABLE.size
    if len(data) < start:
        raise FormatError(f"NOIS section of {len(data)} bytes for {len(indices)} coded channels")
    holes = np.frombuffer(data, np.uint8, shape[0] * shape[1], _HEAD.size).reshape(shape)
    [length] = _TABLE.unpack_from(data, start - _TABLE.size)
    if length > len(data) - start:
        raise FormatError(f"NOIS: a table of {length} bytes in {len(data) - start}")
    [table] = unpack_tables(data[start : start + length], max_tables=1)
    if table.offset != 0 or len(table.frequencies) > LEVELS:
        raise FormatError(f"NOIS: noise levels from 0 to at most {LEVELS - 1}")
    reader = SymbolReader(data[start + length :])
    levels = reader.read(table, int(empty(indices, first).sum()))
    reader.finish()
    return NoiseFill(seed, first, levels, holes.astype(np.int64))


def noise(seed: int, positions: np.ndarray) -> np.ndarray:
    """Unit-variance noise, float64, at integer ``positions``: a counter-based generator
    (splitmix64) in integer arithmetic, so every machine makes the same samples."""
    offset = np.uint64((seed + 1) * 0x9E3779B97F4A7C15 % (1 << 64))  # wraps, as in C
    with np.errstate(over="ignore"):
        z = positions.astype(np.uint64) + offset
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    uniform = (z >> np.uint64(40)).astype(np.float64) / (1 << 24)  # 24 bits in [0, 1)
    return (2 * uniform - 1) * np.sqrt(3)

"""The sections of the learned coding path (:mod:`codec.paths.learned`): an autoencoder's
decoder, how its latents are rounded, and the rounded latents, coded with integer tables.

The path's *model*, what its decoder needs besides a segment's latents, is held in four
sections, a segment's own or a shared model's (:mod:`bitstream.saem`, which also holds
the encoder, ``ENCW``, to code new songs with):

``ARCH``: the architecture's name, ASCII; it must be registered where the file decodes.

``NETW``: the decoder's weights, each tensor rounded to a step of its own
(:mod:`bitstream.weights`).

``QUAN`` (little-endian): f32 latent step s, u16 latent channels C, then C x f32 offsets
m: channel c's integer q decodes to the latent s x q + m[c].

``LTBL``: C tables, one per channel, over integers from -(HEAD + 1) to HEAD + 1, then one
table of escape classes (:mod:`bitstream.entropy`).

Then the segment's own two: ``LAYT`` (u32 latent steps T) and ``LATS``, the C x T
integers: each channel's run coded with its table, where -(HEAD + 1) and HEAD + 1 stand
for anything beyond (an escape); then each escape's excess ``|q| - HEAD - 1`` as a class
(its bit length) under the class table, then its bits below the leading one, raw.

>>> q = np.array([[0, 1, -1, 40], [0, 0, 0, 0]])
>>> tables = LatentTables.counted(q)
>>> bool(np.array_equal(decode_latents(encode_latents(q, tables), q.shape, tables), q))
True
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from bitstream.container import FormatError, require
from bitstream.entropy import (
    FrequencyTable,
    RawBits,
    SymbolReader,
    encode_symbols,
    pack_tables,
    unpack_tables,
)
from bitstream.integers import MAX_CLASS, bit_classes, runs_of
from bitstream.weights import Tensors, pack_weights, unpack_weights

HEAD = 15  # integers coded directly; beyond, an escape
MAX_CHANNELS = 1024
MODEL_SECTIONS = (b"ARCH", b"NETW", b"QUAN", b"LTBL")
ENCODER = b"ENCW"  # a shared model's encoder
SEGMENT_SECTIONS = (b"LAYT", b"LATS")
_LAYT = struct.Struct("<I")


@dataclass(frozen=True, eq=False)
class LatentTables:
    """A table per channel over -(HEAD + 1) .. HEAD + 1 (or less), and one of classes."""

    channels: list[FrequencyTable]
    classes: FrequencyTable

    @classmethod
    def counted(cls, q: np.ndarray, cover_all: bool = False) -> LatentTables:
        """Tables fitted to the integers ``q`` (channels, steps): each channel's counts,
        its range trimmed to what it holds (a channel that holds one value costs nothing),
        or, with ``cover_all``, every value at least the least frequency (a shared model,
        for songs it was not fitted to)."""
        symbols = np.clip(q, -HEAD - 1, HEAD + 1)
        tables = []
        for row in symbols:
            counts = np.bincount(row + HEAD + 1, minlength=2 * HEAD + 3).astype(np.float64)
            if cover_all:
                tables.append(FrequencyTable.from_probabilities(-HEAD - 1, counts + 1e-9))
                continue
            seen = np.flatnonzero(counts)
            low, high = (seen[0], seen[-1]) if len(seen) else (HEAD + 1, HEAD + 1)
            tables.append(FrequencyTable.from_probabilities(low - HEAD - 1, counts[low : high + 1]))
        sizes = bit_classes(_excess(q))[0]
        counts = np.bincount(sizes, minlength=MAX_CLASS if cover_all else 1) + 1e-9 * cover_all
        classes = FrequencyTable.from_probabilities(0, counts if counts.any() else [1.0])
        return cls(tables, classes)

    def check(self, channels: int) -> None:
        if len(self.channels) != channels:
            raise FormatError(f"{len(self.channels)} latent tables for {channels} channels")
        for table in self.channels:
            if table.offset < -HEAD - 1 or table.symbols.stop > HEAD + 2:
                raise FormatError(f"a latent table spans {table.symbols}, beyond +-{HEAD + 1}")
        if self.classes.offset != 0 or len(self.classes.frequencies) > MAX_CLASS:
            raise FormatError(f"escape classes must be 0 to at most {MAX_CLASS - 1}")


def _excess(q: np.ndarray) -> np.ndarray:
    """How far each escaped integer lies beyond the directly coded ones."""
    magnitude = np.abs(q[np.abs(q) > HEAD])
    return magnitude - HEAD - 1


def encode_latents(q: np.ndarray, tables: LatentTables) -> bytes:
    """Code integers ``q`` (channels, steps) with ``tables``; see the module's text."""
    q = np.asarray(q, dtype=np.int64)
    tables.check(len(q))
    size, width, mantissa = bit_classes(_excess(q))
    if size.max(initial=0) >= MAX_CLASS:
        raise ValueError(f"latent integers must stay below 2**{MAX_CLASS - 1} in magnitude")
    symbols = np.clip(q, -HEAD - 1, HEAD + 1)
    streams: list = list(zip(symbols, tables.channels, strict=True))
    streams.append((size, tables.classes))
    streams += [
        (mantissa[run], RawBits(bits)) for bits, run in enumerate(runs_of(width, MAX_CLASS))
    ]
    return encode_symbols(streams)


def decode_latents(data: bytes, shape: tuple[int, int], tables: LatentTables) -> np.ndarray:
    """The inverse of :func:`encode_latents`."""
    channels, steps = shape
    tables.check(channels)
    reader = SymbolReader(data)
    q = np.stack([reader.read(table, steps) for table in tables.channels]).reshape(shape)
    escaped = np.abs(q) > HEAD
    size = reader.read(tables.classes, int(escaped.sum()))
    width = np.maximum(size - 1, 0)
    mantissa = np.zeros(len(size), dtype=np.int64)
    for bits, run in enumerate(runs_of(width, MAX_CLASS)):
        mantissa[run] = reader.read(RawBits(bits), len(run))
    reader.finish()
    excess = np.where(size > 0, (1 << width) + mantissa, 0)
    q[escaped] = np.sign(q[escaped]) * (HEAD + 1 + excess)
    return q


@dataclass(frozen=True, eq=False)
class LearnedModel:
    """What the decoder needs besides the latents: trained on a song, or shared."""

    architecture: str
    decoder: Tensors  # name: (step, integers)
    step: float  # the latents' step
    offsets: np.ndarray  # (channels,) float32
    tables: LatentTables


def model_sections(model: LearnedModel) -> list[tuple[bytes, bytes]]:
    """The ARCH, NETW, QUAN and LTBL sections of a model."""
    quan = struct.pack(f"<fH{len(model.offsets)}f", model.step, len(model.offsets),
                       *model.offsets)  # fmt: skip
    return [
        (b"ARCH", model.architecture.encode("ascii")),
        (b"NETW", pack_weights(model.decoder)),
        (b"QUAN", quan),
        (b"LTBL", pack_tables([*model.tables.channels, model.tables.classes])),
    ]


def read_model(sections: dict[bytes, bytes]) -> LearnedModel:
    """The model in ``sections``; every problem is a :class:`FormatError`."""
    arch, netw, quan, ltbl = require(sections, *MODEL_SECTIONS)
    if not 0 < len(arch) <= 64 or not arch.isascii():
        raise FormatError("ARCH section is not an architecture's name")
    if len(quan) < 6:
        raise FormatError(f"QUAN section of {len(quan)} bytes")
    step, channels = struct.unpack_from("<fH", quan)
    if not 1 <= channels <= MAX_CHANNELS or len(quan) != 6 + 4 * channels:
        raise FormatError(f"QUAN section of {len(quan)} bytes for {channels} channels")
    offsets = np.frombuffer(quan, "<f4", channels, 6).astype(np.float32)
    if not (math.isfinite(step) and step > 0 and np.all(np.isfinite(offsets))):
        raise FormatError("QUAN: the latents' step or offsets are unusable")
    tables = unpack_tables(ltbl, max_tables=channels + 1)
    if len(tables) != channels + 1:
        raise FormatError(f"LTBL holds {len(tables)} tables for {channels} channels")
    latent_tables = LatentTables(tables[:-1], tables[-1])
    latent_tables.check(channels)
    return LearnedModel(arch.decode(), unpack_weights(netw), step, offsets, latent_tables)


def segment_sections(q: np.ndarray, tables: LatentTables) -> list[tuple[bytes, bytes]]:
    """The LAYT and LATS sections of a segment's integers ``q`` (channels, steps)."""
    return [(b"LAYT", _LAYT.pack(q.shape[1])), (b"LATS", encode_latents(q, tables))]


def read_latents(sections: dict[bytes, bytes], model: LearnedModel, frames: int) -> np.ndarray:
    """The segment's integers (channels, steps), for a segment of ``frames`` frames."""
    unknown = set(sections) - {*MODEL_SECTIONS, ENCODER, *SEGMENT_SECTIONS}
    if unknown:
        raise FormatError(f"unknown sections {sorted(unknown)}")
    layout, lats = require(sections, *SEGMENT_SECTIONS)
    if len(layout) != _LAYT.size:
        raise FormatError(f"LAYT section is {len(layout)} bytes, expected {_LAYT.size}")
    (steps,) = _LAYT.unpack(layout)
    if steps > frames // 4 + (1 << 16):
        raise FormatError(f"LAYT: {steps} latent steps for {frames} frames")
    return decode_latents(lats, (len(model.offsets), steps), model.tables)

"""The sections of the filterbank coding path (:mod:`codec.paths.filterbank`).

The path's *model*, what its decoder needs besides a segment's indices, is held in four
sections, a segment's own or a shared model's (:mod:`bitstream.saem`):

``QUAN`` (6 + 2 C bytes, little-endian)::

    f32  quantizer step: an index decodes to its reconstruction level times the step
    u16  coded latent channels C: channels 0 to C-1 of the 64 carry coefficients
    C x u16  transform bins B_c of each coded channel: latent steps per transform frame

``WGTS``: the decoder's first layer, as integer offsets (times one step) from the
filterbank synthesis it starts from (:mod:`bitstream.weights`).

``CTXM``: the context maps of :mod:`bitstream.context`: u8 rung count R, then as int8
``base`` (C x GROUPS) and ``adjust`` (LEVELS x 2 x BUCKETS).

``TABL``: the 2 R head tables, then 1 to 32 tables of remainder classes
(:mod:`bitstream.entropy`).

Then the segment's own three:

``LAYT`` (4 bytes): u32 latent steps S (the audio and a margin on each side, a quarter
rate). Coded channel c has F_c = ceil(S / B_c) + 1 transform frames.

``ROTN``: for each band pair, coded channels b and b + floor(C / 2) (mid and side), a u16
knot count K_b (1 to max(1, S // 1024)), then K_b i16 angles a_b,i (|a_b,i| <= 2^14, in
pi / 2^15 radians). Knot i sits at latent step (i + 1/2) S / K_b; each knot is taken the
short way round from the one before (its angle plus the multiple of 2^15 nearest that
one's: a pair's axes are the same turned by pi), and the angle at each latent step is
interpolated linearly between knots, held beyond the first and the last. The decoder
turns the pair's decoded latents (p, q) back by that angle theta, to p cos - q sin and
p sin + q cos (:mod:`codec.stereo`). One knot is one angle for the whole segment.

``LATS``: the trellis quantization indices (:mod:`bitstream.context`), F_c x B_c of each
coded channel, in one stream: the channels of each frame length together as one array,
the shortest frames first (:func:`bitstream.context.channel_groups`).

``NOIS``, only in files coded for listening: the levels of the noise that fills the
regions the indices leave at zero (:mod:`bitstream.noise`). Here, and with ``SCAL``,
every coded channel has the same frame length.

``SCAL``, only in files coded for listening: scale factors, C x GROUPS int8 exponents
``e`` (-32 to 32), one for each coded channel and bin group of
:func:`bitstream.context.bin_groups`; the coefficients of that region decode to their
dequantized value (noise included) times ``2 ** (e / 4)``, so each region has its own
quantizer step, in 1.5 dB steps.

>>> model = FilterbankModel(0.25, (4, 2), {}, 1e-3, CoefficientTables.flat(channels=2))
>>> indices = (np.array([[0, 1, -2, 0]] * 4), np.array([[3, 0]] * 6))  # 10 steps
>>> segment = FilterbankSegment(model, 10, indices, angles=((0,),))
>>> sections = dict(model_sections(model) + segment_sections(segment))
>>> [channel.tolist() for channel in read_segment(sections, frames=8).indices]
[[[0, 1, -2, 0], [0, 1, -2, 0], [0, 1, -2, 0], [0, 1, -2, 0]],
 [[3, 0], [3, 0], [3, 0], [3, 0], [3, 0], [3, 0]]]
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from bitstream.container import FormatError, require
from bitstream.context import (
    BUCKETS,
    CLASS_TABLES,
    GROUPS,
    LEVELS,
    MAX_RUNGS,
    CoefficientTables,
    channel_groups,
    coefficient_streams,
    read_coefficients,
)
from bitstream.entropy import SymbolReader, encode_symbols, pack_tables, unpack_tables
from bitstream.noise import NoiseFill, pack_noise, unpack_noise
from bitstream.weights import pack_weights, unpack_weights

MODEL_SECTIONS = (b"QUAN", b"WGTS", b"CTXM", b"TABL")
SEGMENT_SECTIONS = (b"LAYT", b"ROTN", b"LATS")
NOISE = b"NOIS"  # a segment's noise levels, where it has them (bitstream.noise)
SCALES = b"SCAL"  # a segment's scale factors, where it has them
MAX_SCALE = 32  # |exponent|: a region's step at most 2**8 times the model's, either way
MAX_CODED_CHANNELS = 64
_QUAN = struct.Struct("<fH")  # then a u16 per coded channel
_LAYT = struct.Struct("<I")
ANGLE_UNIT = math.pi / 2**15  # radians per unit of a ROTN angle
MAX_ANGLE = 2**14  # a quarter turn either way: a pair's axes, whichever way round
MIN_KNOT_SPACING = 1024  # latent steps: bounds a segment's knots by its length
_KNOTS = struct.Struct("<H")


@dataclass(frozen=True, eq=False)
class FilterbankModel:
    """What the decoder needs besides the indices: fitted to a song, or shared."""

    step: float
    bins: tuple[int, ...]  # latent steps per transform frame, of each coded channel
    weights: dict[str, np.ndarray]  # integers: the decoder's offsets over weight_step
    weight_step: float
    tables: CoefficientTables

    @property
    def coded_channels(self) -> int:
        return self.tables.base.shape[0]


@dataclass(frozen=True, eq=False)
class FilterbankSegment:
    """One segment's integers: its model and its indices."""

    model: FilterbankModel
    latent_steps: int
    indices: tuple[np.ndarray, ...]  # (transform frames, bins) of each coded channel
    angles: tuple[tuple[int, ...], ...]  # each band pair's knots, in ANGLE_UNIT
    noise: NoiseFill | None = None
    scales: np.ndarray | None = None  # (coded channels, GROUPS) exponents, quarter octaves


def model_sections(model: FilterbankModel) -> list[tuple[bytes, bytes]]:
    """The QUAN, WGTS, CTXM and TABL sections of a model."""
    tables = model.tables
    maps = np.concatenate([tables.base.ravel(), tables.adjust.ravel()])
    if np.abs(maps).max(initial=0) > 127:
        raise ValueError("context maps must fit int8")
    if len(model.bins) != model.coded_channels:
        raise ValueError(f"{len(model.bins)} frame lengths for {model.coded_channels} channels")
    quan = _QUAN.pack(model.step, model.coded_channels) + struct.pack(
        f"<{len(model.bins)}H", *model.bins
    )
    _read_quan(quan)
    offsets = {name: (model.weight_step, values) for name, values in model.weights.items()}
    return [
        (b"QUAN", quan),
        (b"WGTS", pack_weights(offsets)),
        (b"CTXM", bytes([tables.rungs]) + maps.astype(np.int8).tobytes()),
        (b"TABL", pack_tables(tables.heads + tables.remainders)),
    ]


def segment_sections(segment: FilterbankSegment) -> list[tuple[bytes, bytes]]:
    """The LAYT, ROTN and LATS sections of a segment (its indices entropy-coded), and its
    NOIS and SCAL sections if it has noise levels and scale factors."""
    model, indices = segment.model, segment.indices
    shapes = [np.shape(channel) for channel in indices]
    coded = model.coded_channels
    if shapes != [(frame_count(segment.latent_steps, bins), bins) for bins in model.bins]:
        raise ValueError(f"indices of shapes {shapes} for {segment.latent_steps} steps")
    if (segment.noise is not None or segment.scales is not None) and len(set(model.bins)) > 1:
        raise ValueError("noise levels and scale factors need one frame length")
    layout = _LAYT.pack(segment.latent_steps)
    rotation = _pack_angles(segment.angles, coded, segment.latent_steps)
    streams = []
    for group in channel_groups(model.bins):
        k = np.stack([indices[c] for c in group])
        streams += coefficient_streams(k, model.tables.of_channels(group))
    lats = encode_symbols(streams)
    noise = [] if segment.noise is None else [(NOISE, pack_noise(segment.noise))]
    scales = [] if segment.scales is None else [(SCALES, _pack_scales(segment.scales, coded))]
    return [(b"LAYT", layout), (b"ROTN", rotation), (b"LATS", lats), *noise, *scales]


def max_knots(steps: int) -> int:
    """The most knots a band pair's angle may have in a segment of ``steps`` latent steps."""
    return max(1, steps // MIN_KNOT_SPACING)


def _pack_angles(angles: tuple[tuple[int, ...], ...], coded: int, steps: int) -> bytes:
    if len(angles) != coded // 2 or not all(1 <= len(k) <= max_knots(steps) for k in angles):
        raise ValueError(f"rotation: {coded // 2} pairs, 1 to {max_knots(steps)} knots each")
    if any(abs(a) > MAX_ANGLE for knots in angles for a in knots):
        raise ValueError(f"rotation: angles |a| <= {MAX_ANGLE}")
    return b"".join(_KNOTS.pack(len(k)) + struct.pack(f"<{len(k)}h", *k) for k in angles)


def _read_angles(data: bytes, coded: int, steps: int) -> tuple[tuple[int, ...], ...]:
    angles, at = [], 0
    for _ in range(coded // 2):
        if at + _KNOTS.size > len(data):
            raise FormatError(f"ROTN section is {len(data)} bytes, cut at offset {at}")
        [count] = _KNOTS.unpack_from(data, at)
        if not 1 <= count <= max_knots(steps):
            raise FormatError(f"ROTN: {count} knots at offset {at} (1 to {max_knots(steps)})")
        at += _KNOTS.size
        if at + 2 * count > len(data):
            raise FormatError(f"ROTN section is {len(data)} bytes, cut at offset {at}")
        knots = struct.unpack_from(f"<{count}h", data, at)
        if any(abs(a) > MAX_ANGLE for a in knots):
            raise FormatError(f"ROTN: an angle beyond +-{MAX_ANGLE} after offset {at}")
        angles.append(knots)
        at += 2 * count
    if at != len(data):
        raise FormatError(f"ROTN section is {len(data)} bytes, its knots end at {at}")
    return tuple(angles)


def _pack_scales(scales: np.ndarray, coded: int) -> bytes:
    if scales.shape != (coded, GROUPS) or np.abs(scales).max() > MAX_SCALE:
        raise ValueError(f"scale factors: {coded} x {GROUPS} exponents, |e| <= {MAX_SCALE}")
    return scales.astype(np.int8).tobytes()


def _read_scales(data: bytes, coded: int) -> np.ndarray:
    if len(data) != coded * GROUPS:
        raise FormatError(f"SCAL section is {len(data)} bytes for {coded} coded channels")
    scales = np.frombuffer(data, np.int8).astype(np.int64).reshape(coded, GROUPS)
    if np.abs(scales).max() > MAX_SCALE:
        raise FormatError(f"SCAL: an exponent beyond +-{MAX_SCALE}")
    return scales


def read_model(sections: dict[bytes, bytes]) -> FilterbankModel:
    """The model in ``sections``; every problem is a :class:`FormatError`."""
    quan, wgts, ctxm, tabl = require(sections, *MODEL_SECTIONS)
    step, bins, coded = _read_quan(quan)
    if len(ctxm) != 1 + coded * GROUPS + len(LEVELS) * 2 * BUCKETS:
        raise FormatError(f"CTXM section is {len(ctxm)} bytes for {coded} coded channels")
    rungs = ctxm[0]
    if not 1 <= rungs <= MAX_RUNGS:
        raise FormatError(f"CTXM section: {rungs} rungs (1 to {MAX_RUNGS})")
    maps = np.frombuffer(ctxm, dtype=np.int8, offset=1).astype(np.int64)
    heads_and_remainders = unpack_tables(tabl, max_tables=2 * MAX_RUNGS + CLASS_TABLES)
    tables = CoefficientTables(
        base=maps[: coded * GROUPS].reshape(coded, GROUPS),
        adjust=maps[coded * GROUPS :].reshape(len(LEVELS), 2, BUCKETS),
        heads=heads_and_remainders[: 2 * rungs],
        remainders=heads_and_remainders[2 * rungs :],
    )
    tables.check(coded)
    tensors = unpack_weights(wgts)
    steps = {tensor_step for tensor_step, _ in tensors.values()}
    if len(steps) > 1:
        raise FormatError("WGTS: the decoder's offsets share one step")
    weights = {name: values for name, (_, values) in tensors.items()}
    return FilterbankModel(step, bins, weights, steps.pop() if steps else 1.0, tables)


def read_segment(
    sections: dict[bytes, bytes], frames: int, decode_indices: bool = True
) -> FilterbankSegment:
    """The segment in ``sections`` (of ``frames`` audio frames); without
    ``decode_indices`` its indices are left undecoded (an empty array in their place)."""
    unknown = set(sections) - {*MODEL_SECTIONS, *SEGMENT_SECTIONS, NOISE, SCALES}
    if unknown:
        raise FormatError(f"unknown sections {sorted(unknown)}")
    model = read_model(sections)
    layout, rotation, lats = require(sections, *SEGMENT_SECTIONS)
    steps = _read_steps(layout)
    if steps > frames // 4 + (1 << 16):
        raise FormatError(f"LAYT: {steps} latent steps for {frames} frames")
    angles = _read_angles(rotation, model.coded_channels, steps)
    if (NOISE in sections or SCALES in sections) and len(set(model.bins)) > 1:
        raise FormatError("NOIS and SCAL need one frame length for every coded channel")
    if not decode_indices:
        undecoded = tuple(np.zeros((0, bins), np.int64) for bins in model.bins)
        return FilterbankSegment(model, steps, undecoded, angles)
    indices: list = [None] * model.coded_channels
    reader = SymbolReader(lats)
    for group in channel_groups(model.bins):
        bins = model.bins[group[0]]
        shape = (len(group), frame_count(steps, bins), bins)
        k = read_coefficients(reader, shape, model.tables.of_channels(group))
        for c, channel in zip(group, k, strict=True):
            indices[c] = channel
    reader.finish()
    stacked = np.stack(indices) if NOISE in sections else None  # one frame length: checked
    noise = unpack_noise(sections[NOISE], stacked) if NOISE in sections else None
    scales = _read_scales(sections[SCALES], len(indices)) if SCALES in sections else None
    return FilterbankSegment(model, steps, tuple(indices), angles, noise, scales)


def read_angles(sections: dict[bytes, bytes]) -> tuple[tuple[int, ...], ...]:
    """Each band pair's knots (ROTN) in a segment's ``sections``, without its indices."""
    quan, layout, rotation = require(sections, b"QUAN", b"LAYT", b"ROTN")
    return _read_angles(rotation, _read_quan(quan)[2], _read_steps(layout))


def _read_steps(layout: bytes) -> int:
    if len(layout) != _LAYT.size:
        raise FormatError(f"LAYT section is {len(layout)} bytes, expected {_LAYT.size}")
    return _LAYT.unpack(layout)[0]


def frame_count(steps: int, bins: int) -> int:
    """Transform frames of a coded channel of ``bins`` bins in a segment of ``steps``
    latent steps (the MDCT's, :func:`codec.transform.frame_count`)."""
    return -(-steps // bins) + 1


def _read_quan(quan: bytes) -> tuple[float, tuple[int, ...], int]:
    if len(quan) < _QUAN.size:
        raise FormatError(f"QUAN section is {len(quan)} bytes, at least {_QUAN.size}")
    step, coded = _QUAN.unpack_from(quan)
    if not math.isfinite(step) or step <= 0:
        raise FormatError(f"QUAN: quantizer step {step} is unusable")
    if not 1 <= coded <= MAX_CODED_CHANNELS:
        raise FormatError(f"QUAN: {coded} coded channels (1 to {MAX_CODED_CHANNELS})")
    if len(quan) != _QUAN.size + 2 * coded:
        raise FormatError(f"QUAN section is {len(quan)} bytes for {coded} coded channels")
    bins = struct.unpack_from(f"<{coded}H", quan, _QUAN.size)
    if any(b < 2 or b % 2 for b in bins):
        raise FormatError(f"QUAN: transform bins {list(bins)} (even numbers, at least 2)")
    return step, bins, coded

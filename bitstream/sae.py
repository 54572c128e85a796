"""The ``.sae`` file: compressed audio with everything needed to decode it.

A ``.sae`` file is a run of segments, back to back, each coding the next stretch of the
track (at most :data:`MAX_SEGMENT_FRAMES` frames) with a model of its own, so that
neither side ever holds more than a segment in memory. The first segment starts at frame
0, each next one where the one before it ends, and the last one says so: a file cut at a
segment boundary is an error, not a shorter song. A segment is a
:mod:`bitstream.container` with magic ``b"SAE\\x1a"``, version 4, and these sections, in
this order:

``HEAD`` (48 bytes, little-endian)::

    u32  sample rate (Hz)
    u8   channels of the original audio (1 or 2; mono is coded as two equal channels)
    u8   flags: 1 = the last segment of the file
    u64  first frame: where this segment starts in the track
    u64  frames of the original audio in this segment
    u16  latent channels of the model
    u32  latent steps (the latents cover the audio plus a margin at each end)
    u16  coded channels C: latent channels 0 to C-1 carry coefficients, the rest are zero
    u32  transform frames F of each coded channel
    u16  transform bins B per frame
    f32  gain: the decoded signal is multiplied by it (the codec codes audio / gain)
    f32  quality the file was made with (informative)
    f32  quantizer step: a coefficient decodes to its reconstruction level times the step

``CONF``: the model configuration as a UTF-8 JSON object; the codec checks its keys.

``WGTS``: the decoder's weights, as offsets from the filterbank it starts from
(:func:`codec.model.filterbank_init`): integers times a step, entropy-coded
(:mod:`bitstream.weights`).

``CTXM``: the context maps of :mod:`bitstream.context`: u8 rung count R, then as int8
``base`` (C x GROUPS) and ``adjust`` (LEVELS x 2 x BUCKETS).

``TABL``: the 2 R head tables, then the remainder tables (:mod:`bitstream.entropy`).

``LATS``: the C x F x B trellis quantization indices, coded by :mod:`bitstream.context`.

A segment coded with a shared model (an artist's, :mod:`bitstream.saem`) holds ``HEAD``,
then ``MODL`` (the model's 32-byte SHA-256 digest) in place of ``CONF`` to ``TABL``, then
``LATS``; it decodes only with that model at hand.

>>> q = np.array([[[0, 1, -2, 0]] * 3])
>>> segment = SaeSegment(44100, 2, 0, 8, True, 0.1, 5.0, 0.25, 64, 10, {"kind": "demo"}, {},
...                      1e-3, CoefficientModel.flat(channels=1), q)
>>> [back] = read_segments(write_segment(segment))
>>> back.frames, back.coefficients.tolist(), back.config
(8, [[[0, 1, -2, 0], [0, 1, -2, 0], [0, 1, -2, 0]]], {'kind': 'demo'})
"""

from __future__ import annotations

import io
import json
import math
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import BinaryIO

import numpy as np

from bitstream.container import (
    SAE_MAGIC,
    FormatError,
    bytes_left,
    read_container,
    require,
    write_container,
)
from bitstream.context import (
    BUCKETS,
    GROUPS,
    LEVELS,
    MAX_RUNGS,
    CoefficientModel,
    decode_coefficients,
    encode_coefficients,
)
from bitstream.entropy import pack_tables, unpack_tables
from bitstream.weights import pack_weights, unpack_weights

VERSION = 4
MODEL_SECTIONS = (b"CONF", b"WGTS", b"CTXM", b"TABL")
SECTIONS = (b"HEAD", *MODEL_SECTIONS, b"LATS")
SHARED_SECTIONS = (b"HEAD", b"MODL", b"LATS")  # a segment coded with a shared model
MAX_SEGMENT_FRAMES = 1 << 22  # bounds what one segment makes a decoder allocate
MAX_FRAMES = 1 << 36  # about 18 days at 44.1 kHz
MAX_LATENT_CHANNELS = 1024
MAX_CODED_CHANNELS = 64
LAST = 1  # the flag of the last segment
DIGEST_SIZE = 32  # SHA-256

_HEAD = struct.Struct("<IBBQQHIHIHfff")


@dataclass
class SaeSegment:
    """The decoded contents of one segment of a ``.sae`` file."""

    sample_rate: int
    channels: int
    first_frame: int
    frames: int
    last: bool
    gain: float
    quality: float
    step: float
    latent_channels: int
    latent_steps: int
    config: dict
    weights: dict[str, np.ndarray]  # integers: the decoder's offsets over weight_step
    weight_step: float
    model: CoefficientModel
    coefficients: np.ndarray  # trellis indices, (coded channels, transform frames, bins)
    section_bytes: dict[str, int] = field(default_factory=dict)
    model_digest: bytes | None = None  # the shared model's, when the file names one


class MissingModelError(FormatError):
    """The file was coded with a shared model that the reader was not given."""

    def __init__(self, digest: bytes) -> None:
        super().__init__(
            f"this file was coded with the shared model {digest.hex()}, which was not given "
            "(pass its .saem file)"
        )
        self.digest = digest


def write_segment(sae: SaeSegment) -> bytes:
    """Serialize ``sae`` to bytes (the coefficients are entropy-coded with its tables)."""
    coded, frames, bins = sae.coefficients.shape
    head = _HEAD.pack(
        sae.sample_rate,
        sae.channels,
        LAST if sae.last else 0,
        sae.first_frame,
        sae.frames,
        sae.latent_channels,
        sae.latent_steps,
        coded,
        frames,
        bins,
        sae.gain,
        sae.quality,
        sae.step,
    )
    _check_header(*_HEAD.unpack(head))
    if sae.model_digest is None:
        model = model_sections(sae.config, sae.weights, sae.weight_step, sae.model)
    else:
        model = [(b"MODL", sae.model_digest)]
    lats = encode_coefficients(sae.coefficients, sae.model)
    return write_container(SAE_MAGIC, VERSION, [(b"HEAD", head), *model, (b"LATS", lats)])


def model_sections(
    config: dict, weights: dict[str, np.ndarray], weight_step: float, model: CoefficientModel
) -> list[tuple[bytes, bytes]]:
    """The CONF, WGTS, CTXM and TABL sections of a model (of a segment, or shared)."""
    maps = np.concatenate([model.base.ravel(), model.adjust.ravel()])
    if np.abs(maps).max(initial=0) > 127:
        raise ValueError("context maps must fit int8")
    return [
        (b"CONF", json.dumps(config, separators=(",", ":"), sort_keys=True).encode()),
        (b"WGTS", pack_weights(weights, weight_step)),
        (b"CTXM", bytes([model.rungs]) + maps.astype(np.int8).tobytes()),
        (b"TABL", pack_tables(model.heads + model.remainders)),
    ]


def read_model_sections(
    sections: dict[bytes, bytes], coded: int
) -> tuple[dict, dict[str, np.ndarray], float, CoefficientModel]:
    """(config, weights, weight step, coefficient model) from a model's sections."""
    conf, wgts, ctxm, tabl = require(sections, *MODEL_SECTIONS)
    try:
        config = json.loads(conf.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FormatError(f"CONF section is not JSON: {error}") from None
    if not isinstance(config, dict):
        raise FormatError("CONF section is not a JSON object")
    adjust_size = len(LEVELS) * 2 * BUCKETS
    if len(ctxm) != 1 + coded * GROUPS + adjust_size:
        raise FormatError(f"CTXM section is {len(ctxm)} bytes for {coded} coded channels")
    rungs = ctxm[0]
    if not 1 <= rungs <= MAX_RUNGS:
        raise FormatError(f"CTXM section: {rungs} rungs (1 to {MAX_RUNGS})")
    maps = np.frombuffer(ctxm, dtype=np.int8, offset=1).astype(np.int64)
    tables = unpack_tables(tabl, max_tables=2 * MAX_RUNGS + MAX_RUNGS)
    model = CoefficientModel(
        base=maps[: coded * GROUPS].reshape(coded, GROUPS),
        adjust=maps[coded * GROUPS :].reshape(len(LEVELS), 2, BUCKETS),
        heads=tables[: 2 * rungs],
        remainders=tables[2 * rungs :],
    )
    model.check(coded)
    weight_step, weights = unpack_weights(wgts)
    return config, weights, weight_step, model


def read_segments(
    source: bytes | BinaryIO, decode_latents: bool = True, models: Mapping = MappingProxyType({})
) -> Iterator[SaeSegment]:
    """Check and read the segments of a ``.sae`` file (its bytes, or a binary file open at
    its start), one at a time; every problem is a :class:`FormatError`, raised when the
    iteration reaches it. ``models`` maps digests to the shared models
    (:class:`bitstream.saem.SharedModel`) that segments may name; a segment that names one
    not given raises :class:`MissingModelError`, unless ``decode_latents`` is False.

    With ``decode_latents=False`` the coefficients are not decoded (an empty array takes
    their place), which is all ``sae info`` needs.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    first: SaeSegment | None = None
    frame, last = 0, False
    while not last:
        offset = stream.tell()
        if first is not None and bytes_left(stream) == 0:
            raise FormatError(f"truncated file: the segments end at frame {frame}, not the last")
        segment = _read_segment(stream, decode_latents, models)
        if segment.first_frame != frame:
            raise FormatError(
                f"segment at offset {offset} starts at frame {segment.first_frame}, not {frame}"
            )
        if first is None:
            first = segment
        elif (segment.sample_rate, segment.channels) != (first.sample_rate, first.channels):
            raise FormatError(f"segment at offset {offset}: sample rate or channels change")
        if segment.frames == 0 and not (frame == 0 and segment.last):
            raise FormatError(f"segment at offset {offset} is empty")
        frame += segment.frames
        if frame > MAX_FRAMES:
            raise FormatError(f"segments run past {MAX_FRAMES} frames")
        last = segment.last
        yield segment
    if bytes_left(stream):
        raise FormatError(f"{bytes_left(stream)} unexpected bytes after the last segment")


def _read_segment(stream: BinaryIO, decode_latents: bool, models: Mapping) -> SaeSegment:
    _, sections = read_container(stream, SAE_MAGIC, {VERSION})
    layout = SHARED_SECTIONS if b"MODL" in sections else SECTIONS
    unknown = set(sections) - set(layout)
    if unknown:
        raise FormatError(f"unknown sections {sorted(unknown)}")
    head, lats = require(sections, b"HEAD", b"LATS")
    if len(head) != _HEAD.size:
        raise FormatError(f"HEAD section is {len(head)} bytes, expected {_HEAD.size}")
    fields = _HEAD.unpack(head)
    _check_header(*fields)
    rate, channels, flags, first_frame, frames, latent_channels, steps, coded, tframes, bins = (
        fields[:10]
    )
    gain, quality, step = fields[10:]
    digest = sections.get(b"MODL")
    if digest is None:
        config, weights, weight_step, model = read_model_sections(sections, coded)
    elif len(digest) != DIGEST_SIZE:
        raise FormatError(f"MODL section is {len(digest)} bytes, a digest is {DIGEST_SIZE}")
    elif digest not in models:
        if decode_latents:
            raise MissingModelError(digest)
        config, weights, weight_step, model = {}, {}, 1.0, CoefficientModel.flat(coded)
    else:
        shared = models[digest]
        config, weights, weight_step, model = (
            shared.config, shared.weights, shared.weight_step, shared.model
        )  # fmt: skip
        if model.base.shape[0] != coded:
            raise FormatError(f"the shared model codes {model.base.shape[0]} channels, not {coded}")
    shape = (coded, tframes, bins)
    if decode_latents:
        coefficients = decode_coefficients(lats, shape, model)
    else:
        coefficients = np.zeros((coded, 0, bins), dtype=np.int64)
    return SaeSegment(
        sample_rate=rate,
        channels=channels,
        first_frame=first_frame,
        frames=frames,
        last=bool(flags & LAST),
        gain=gain,
        quality=quality,
        step=step,
        latent_channels=latent_channels,
        latent_steps=steps,
        config=config,
        weights=weights,
        weight_step=weight_step,
        model=model,
        coefficients=coefficients,
        section_bytes={tag.decode(): len(sections[tag]) for tag in layout},
        model_digest=digest,
    )


def _check_header(
    rate, channels, flags, first_frame, frames, latent_channels, steps, coded, tframes, bins,
    gain, quality, step,
) -> None:  # fmt: skip
    if rate == 0:
        raise FormatError("header: sample rate is 0")
    if channels not in (1, 2):
        raise FormatError(f"header: {channels} audio channels (1 or 2 are coded)")
    if flags & ~LAST:
        raise FormatError(f"header: unknown flags {flags:#x}")
    if frames > MAX_SEGMENT_FRAMES or first_frame > MAX_FRAMES:
        raise FormatError(f"header: {frames} frames from frame {first_frame} (at most "
                          f"{MAX_SEGMENT_FRAMES} a segment, {MAX_FRAMES} a file)")  # fmt: skip
    if not 1 <= latent_channels <= MAX_LATENT_CHANNELS or coded > min(
        latent_channels, MAX_CODED_CHANNELS
    ):
        raise FormatError(f"header: {coded} coded of {latent_channels} latent channels")
    if steps > frames // 4 + (1 << 16):
        raise FormatError(f"header: {steps} latent steps for {frames} frames")
    if bins < 2 or bins % 2 or tframes > steps // bins + 2:
        raise FormatError(f"header: {tframes} transform frames of {bins} bins for {steps} steps")
    if not all(math.isfinite(v) for v in (gain, quality, step)) or gain <= 0 or step <= 0:
        raise FormatError(f"header: gain {gain}, quality {quality} or step {step} is unusable")

"""The ``.sae`` file: compressed audio with everything needed to decode it.

A ``.sae`` file is a :mod:`bitstream.container` with magic ``b"SAE\\x1a"``, version 1,
and these sections, in this order:

``HEAD`` (27 bytes, little-endian)::

    u32  sample rate (Hz)
    u8   channels of the original audio (1 or 2; mono is coded as two equal channels)
    u64  frames of the original audio
    u16  latent channels C
    u32  latent steps T
    f32  gain: the decoded signal is multiplied by it (the codec codes audio / gain)
    f32  quality the file was made with (informative)

``CONF``: the model configuration as a UTF-8 JSON object; the codec checks its keys.

``WGTS``: the decoder's weights (:mod:`bitstream.weights`).

``TABL``: C integer frequency tables, one per latent channel (:mod:`bitstream.entropy`).

``LATS``: the C x T integer latents, channel after channel, each channel coded with its
table (:func:`bitstream.entropy.encode_symbols`).

>>> table = FrequencyTable.from_probabilities(0, [0.5, 0.5])
>>> sae = SaeFile(44100, 2, 8, 0.1, 5.0, {"kind": "demo"}, {},
...               [table], np.array([[0, 1]], dtype=np.int32))
>>> blob = write_sae(sae)
>>> back = read_sae(blob)
>>> back.frames, back.latents.tolist(), back.config
(8, [[0, 1]], {'kind': 'demo'})
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field

import numpy as np

from bitstream.container import SAE_MAGIC, FormatError, read_container, require, write_container
from bitstream.entropy import (
    FrequencyTable,
    decode_symbols,
    encode_symbols,
    pack_tables,
    unpack_tables,
)
from bitstream.weights import pack_weights, unpack_weights

VERSION = 1
SECTIONS = (b"HEAD", b"CONF", b"WGTS", b"TABL", b"LATS")
MAX_FRAMES = 1 << 36  # about 18 days at 44.1 kHz
MAX_LATENT_CHANNELS = 1024

_HEAD = struct.Struct("<IBQHIff")


@dataclass
class SaeFile:
    """The decoded contents of a ``.sae`` file."""

    sample_rate: int
    channels: int
    frames: int
    gain: float
    quality: float
    config: dict
    weights: dict[str, np.ndarray]
    tables: list[FrequencyTable]
    latents: np.ndarray  # int32, (latent channels, latent steps)
    section_bytes: dict[str, int] = field(default_factory=dict)


def write_sae(sae: SaeFile) -> bytes:
    """Serialize ``sae`` to bytes (the latents are entropy-coded with its tables)."""
    channels, steps = sae.latents.shape
    if len(sae.tables) != channels:
        raise ValueError(f"{len(sae.tables)} tables for {channels} latent channels")
    head = _HEAD.pack(
        sae.sample_rate, sae.channels, sae.frames, channels, steps, sae.gain, sae.quality
    )
    _check_header(*_HEAD.unpack(head))
    streams = list(zip(sae.latents, sae.tables, strict=True))
    sections = [
        (b"HEAD", head),
        (b"CONF", json.dumps(sae.config, separators=(",", ":"), sort_keys=True).encode()),
        (b"WGTS", pack_weights(sae.weights)),
        (b"TABL", pack_tables(sae.tables)),
        (b"LATS", encode_symbols(streams)),
    ]
    return write_container(SAE_MAGIC, VERSION, sections)


def read_sae(data: bytes, decode_latents: bool = True) -> SaeFile:
    """Check and read a ``.sae`` file; every problem is a :class:`FormatError`.

    With ``decode_latents=False`` only the header, configuration and sizes are read
    (``latents`` is then an empty array), which is all ``sae info`` needs.
    """
    _, sections = read_container(data, SAE_MAGIC, {VERSION})
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise FormatError(f"unknown sections {sorted(unknown)}")
    head, conf, wgts, tabl, lats = require(sections, *SECTIONS)
    if len(head) != _HEAD.size:
        raise FormatError(f"HEAD section is {len(head)} bytes, expected {_HEAD.size}")
    rate, channels, frames, latent_channels, steps, gain, quality = _HEAD.unpack(head)
    _check_header(rate, channels, frames, latent_channels, steps, gain, quality)
    try:
        config = json.loads(conf.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FormatError(f"CONF section is not JSON: {error}") from None
    if not isinstance(config, dict):
        raise FormatError("CONF section is not a JSON object")
    tables = unpack_tables(tabl, max_tables=MAX_LATENT_CHANNELS)
    if len(tables) != latent_channels:
        raise FormatError(f"{len(tables)} frequency tables for {latent_channels} latent channels")
    if decode_latents:
        latents = np.stack(decode_symbols(lats, tables, [steps] * latent_channels))
    else:
        latents = np.zeros((latent_channels, 0), dtype=np.int32)
    return SaeFile(
        sample_rate=rate,
        channels=channels,
        frames=frames,
        gain=gain,
        quality=quality,
        config=config,
        weights=unpack_weights(wgts),
        tables=tables,
        latents=latents,
        section_bytes={tag.decode(): len(sections[tag]) for tag in SECTIONS},
    )


def _check_header(rate, channels, frames, latent_channels, steps, gain, quality) -> None:
    if rate == 0:
        raise FormatError("header: sample rate is 0")
    if channels not in (1, 2):
        raise FormatError(f"header: {channels} audio channels (1 or 2 are coded)")
    if frames > MAX_FRAMES:
        raise FormatError(f"header: {frames} frames is more than {MAX_FRAMES}")
    if not 1 <= latent_channels <= MAX_LATENT_CHANNELS:
        raise FormatError(f"header: {latent_channels} latent channels")
    if steps > frames + (1 << 16):
        raise FormatError(f"header: {steps} latent steps for {frames} frames")
    if not (math.isfinite(gain) and gain > 0 and math.isfinite(quality)):
        raise FormatError(f"header: gain {gain} or quality {quality} is not a usable number")

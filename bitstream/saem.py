"""The ``.saem`` file: a model shared by many ``.sae`` files (an artist's).

A ``.saem`` file is a :mod:`bitstream.container` with magic ``b"SAEM"``, version 1, and
these sections, in this order:

``HEAD`` (10 bytes, little-endian)::

    f32  quality the model was fitted at
    f32  quantizer step the model's tables were fitted to
    u16  coded channels C

``CONF``, ``WGTS``, ``CTXM``, ``TABL``: the model, as a ``.sae`` segment holds its own
(:mod:`bitstream.sae`).

``SHA2``: the SHA-256 digest of the sections before it (each as tag, u32 length,
payload). A ``.sae`` segment coded with this model names it by this digest (its ``MODL``
section); the reader recomputes it, so a model that does not match its digest never
decodes anything. The file holds numbers only: loading an untrusted one runs no code.

>>> shared = SharedModel(7.0, 0.25, {"kind": "demo"}, {}, 1e-3, CoefficientModel.flat(1))
>>> back = read_model(write_model(shared))
>>> back.quality, back.config, back.digest == model_digest(shared)
(7.0, {'kind': 'demo'}, True)
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass

import numpy as np

from bitstream.container import FormatError, bytes_left, read_container, require, write_container
from bitstream.context import CoefficientModel
from bitstream.sae import MAX_CODED_CHANNELS, MODEL_SECTIONS, model_sections, read_model_sections

MODEL_MAGIC = b"SAEM"
MODEL_VERSION = 1
_HEAD = struct.Struct("<ffH")


@dataclass
class SharedModel:
    """A model that ``.sae`` files name instead of carrying it."""

    quality: float
    step: float
    config: dict
    weights: dict[str, np.ndarray]  # integers: the decoder's offsets over weight_step
    weight_step: float
    model: CoefficientModel

    @property
    def digest(self) -> bytes:
        """The SHA-256 digest that names this model (see :func:`model_digest`)."""
        return model_digest(self)


def _sections(shared: SharedModel) -> list[tuple[bytes, bytes]]:
    head = _HEAD.pack(shared.quality, shared.step, shared.model.base.shape[0])
    return [(b"HEAD", head), *model_sections(shared.config, shared.weights,
                                             shared.weight_step, shared.model)]  # fmt: skip


def _digest_of(sections: list[tuple[bytes, bytes]]) -> bytes:
    digest = hashlib.sha256()
    for tag, payload in sections:
        digest.update(tag + struct.pack("<I", len(payload)) + payload)
    return digest.digest()


def model_digest(shared: SharedModel) -> bytes:
    """The SHA-256 digest of the model's sections, as :func:`write_model` writes them."""
    return _digest_of(_sections(shared))


def write_model(shared: SharedModel) -> bytes:
    """Serialize a shared model, its digest last."""
    sections = _sections(shared)
    return write_container(MODEL_MAGIC, MODEL_VERSION, [*sections, (b"SHA2", _digest_of(sections))])


def read_model(data: bytes) -> SharedModel:
    """Check and read a ``.saem`` file; every problem is a :class:`FormatError`."""
    stream = io.BytesIO(data)
    _, sections = read_container(stream, MODEL_MAGIC, {MODEL_VERSION})
    if bytes_left(stream):
        raise FormatError(f"{bytes_left(stream)} unexpected bytes after the model")
    tags = (b"HEAD", *MODEL_SECTIONS)
    unknown = set(sections) - {*tags, b"SHA2"}
    if unknown:
        raise FormatError(f"unknown sections {sorted(unknown)}")
    payloads = require(sections, *tags, b"SHA2")
    if _digest_of(list(zip(tags, payloads, strict=False))) != payloads[-1]:
        raise FormatError("the model's SHA-256 digest does not match its contents")
    head = payloads[0]
    if len(head) != _HEAD.size:
        raise FormatError(f"HEAD section is {len(head)} bytes, expected {_HEAD.size}")
    quality, step, coded = _HEAD.unpack(head)
    if not (np.isfinite(quality) and np.isfinite(step) and step > 0):
        raise FormatError(f"header: quality {quality} or step {step} is unusable")
    if not 1 <= coded <= MAX_CODED_CHANNELS:
        raise FormatError(f"header: {coded} coded channels (1 to {MAX_CODED_CHANNELS})")
    config, weights, weight_step, model = read_model_sections(sections, coded)
    return SharedModel(quality, step, config, weights, weight_step, model)

"""The coding-path seam: what a way of coding audio provides to plug into the codec.

A coding path turns one segment of audio into the sections of a ``.sae`` segment and
back. Around it the codec does the same for every path: it cuts a track into segments,
hands each one over as a :class:`~codec.segments.SegmentSignal` (stereo, over its gain,
with the track's audio around it as margins), writes the segment's header (which names
the path) and its sections, and decodes with the path the header names. Inside, a path
analyses the audio to latents (the post's interface: 64 channels at a quarter of the
sample rate, of which a path codes those that carry information), fits what it fits
per song, quantizes and entropy-codes its latents, serializes its model (or names a
shared one), and on the way back synthesizes audio from the decoded latents.

The default path is :class:`~codec.paths.filterbank.FilterbankPath`. A path of one's own
is an object with the members of :class:`CodingPath`, registered under its name. This
toy one splits the audio into 8 polyphase channels at a quarter rate (a critically
sampled "encoder") and rounds them to a step set by the quality, coded with one table:

>>> import numpy as np
>>> from bitstream import FrequencyTable, decode_symbols, encode_symbols
>>> from codec import compress, decompress, snr_db
>>> class Polyphase:
...     name, context_steps = "polyphase", 0
...     def encode(self, signal, options):
...         latents = signal.audio.reshape(2, -1, 4).transpose(0, 2, 1).reshape(8, -1)
...         step = 2.0 ** (-options.quality / 2)
...         k = np.round(latents / step).astype(np.int64).ravel()
...         table = FrequencyTable.from_probabilities(int(k.min()), np.bincount(k - k.min()))
...         data = encode_symbols([(k, table)])
...         head = np.array([step, table.offset, len(table.frequencies)], "<f8").tobytes()
...         return [(b"POLY", head + table.frequencies.tobytes() + data)]
...     def decode(self, sections, frames):
...         step, offset, size = np.frombuffer(sections[b"POLY"][:24], "<f8")
...         frequencies = np.frombuffer(sections[b"POLY"], np.uint32, int(size), 24)
...         table = FrequencyTable(int(offset), frequencies.copy())
...         steps = -(-frames // 4)
...         data = sections[b"POLY"][24 + 4 * int(size) :]
...         [k] = decode_symbols(data, [table], [8 * steps])
...         latents = k.reshape(2, 4, steps).transpose(0, 2, 1).reshape(2, -1) * step
...         return latents[:, :frames].astype(np.float32)
...     def describe(self, sections):
...         return {}
>>> from codec.paths import register_path
>>> register_path(Polyphase())
>>> audio = np.sin(np.arange(8000)[:, None] / [7.0, 11.0]).astype(np.float32) * 0.3
>>> data = compress(audio, 8000, path="polyphase", quality=12)
>>> decoded, rate = decompress(data)
>>> decoded.shape, round(snr_db(audio, decoded))
((8000, 2), 47)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from bitstream import SharedModel
from codec.segments import SegmentSignal
from codec.settings import FitSettings

# called before a fit's first iteration and after each, with a function that decodes
# (start, frames) of the segment as the decoder being fitted stands
OnFitStep = Callable[[int, Callable[[int, int], np.ndarray]], None]


@dataclass(frozen=True)
class EncodeOptions:
    """What a caller asks of a coding path for a segment."""

    quality: float
    bits_per_sample: float | None = None  # a size target: the quality is searched
    settings: FitSettings = FitSettings()
    progress: bool = False
    on_fit_step: OnFitStep | None = None
    shared: SharedModel | None = None  # code with this model: nothing is fitted


class CodingPath(Protocol):
    """A way to code a segment of stereo audio."""

    name: str  # in every segment's header; lowercase letters, digits, '-' and '_'
    context_steps: int  # latent steps of the track's audio each side a segment reads

    def encode(self, signal: SegmentSignal, options: EncodeOptions) -> list[tuple[bytes, bytes]]:
        """The sections (tag, payload) coding ``signal.audio`` between its margins."""
        ...

    def decode(self, sections: dict[bytes, bytes], frames: int) -> np.ndarray:
        """The gain-normalized stereo audio (2, frames) of a segment's sections; a
        :class:`bitstream.FormatError` for sections it cannot decode."""
        ...

    def describe(self, sections: dict[bytes, bytes]) -> dict:
        """Fields of the sections worth showing (``sae info``), without decoding audio."""
        ...

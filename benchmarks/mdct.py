"""MDCT+EC: the classical MSE transform codec that sae has to beat.

MDCT with a 2048-sample sine window and 50 % overlap (1024 bins per frame), orthonormal
mid/side, one global step size with a dead zone, and context-adaptive entropy coding with
``constriction``'s range coder. Nothing is fitted or sent but a 10-byte header: the
models learn as they code, the same way in the decoder.

- **Quantization**: ``|c| / step`` below :data:`ZERO` is 0, anything above is rounded
  with an offset of :data:`ROUNDING`. A zero costs far fewer bits than a 1, so the zero
  bin is wider (a dead zone); neighbouring non-zero levels cost nearly the same, so they
  are rounded almost plainly, which keeps the high-rate error at step² / 12.
- **Symbols**: a magnitude's *class* (0 to 3 are their own, from 4 on its octave and the
  bit below its leading one) under an adaptive model, then its lower bits and its sign as
  one uniform symbol: the lower bits of a large magnitude are close to uniform.
- **Order**: a wavefront over (frame t, bin k): step i codes every coefficient with
  ``SLOPE * t + k = i``, mid then side, in one coder call each. Every coefficient then
  finds decoded the bins below it in its own frame, bins k - 2 to k + 2 of the frame
  before, bin k two frames before and, for side, mid at its own bin.
- **Context**: the weighted sum of those neighbours' magnitudes in half-octave buckets,
  whether the own frame's neighbours or the previous frames' are the louder (tonal music
  follows the frames before, noisy music its own frame), one of six frequency bands, and
  the channel. A context's class counts start at 1, grow by 32 per symbol and are halved
  when they pass 2**16, so the model follows the music.

Every bit is counted, and :func:`decode` rebuilds the audio from the bytes alone.

>>> rng = np.random.default_rng(0)
>>> audio = rng.standard_normal((5000, 2)) * 0.1
>>> data = encode(audio, step=0.01)
>>> decoded = decode(data)
>>> snr = float(10 * np.log10(np.sum(audio**2) / np.sum((audio - decoded) ** 2)))
>>> decoded.shape, round(8 * len(data) / audio.size, 2), round(snr, 1)  # bits/sample, dB
((5000, 2), 6.89, 30.6)
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from functools import lru_cache
from itertools import pairwise

import constriction
import numpy as np

from bitstream.integers import bit_lengths
from codec.transform import frame_count, imdct, mdct

HOP = 1024  # bins per frame; the window is twice as long
ZERO = 0.62  # |c| / step below this is 0 ...
ROUNDING = 0.46  # ... above it, |c| / step + 0.46 rounded down (0.5 is plain rounding)
MAX_MAGNITUDE = 1 << 24  # a uniform symbol holds at most 24 bits: lower bits and sign
SLOPE = 3  # wavefront: the frame before is decoded up to bin k + SLOPE - 1 (here k + 2)
# neighbours of bin k in frame t: (frames back, bin offset, weight)
OWN = ((0, -1, 4), (0, -2, 2), (0, -3, 1), (0, -4, 1))
PAST = ((1, -2, 1), (1, -1, 2), (1, 0, 4), (1, 1, 2), (1, 2, 1), (2, 0, 2))
MID = 2  # weight of mid at the same bin, in side's context
BUCKETS = 32  # half-octave buckets of the neighbours' mean magnitude
BAND_EDGES = (32, 96, 256, 512, 768)  # at 44.1 kHz: 0.7, 2.1, 5.5, 11 and 16.5 kHz
INCREMENT = 32
LIMIT = 1 << 16  # a context's counts are halved when they add up to more
_HEADER = struct.Struct("<IBfB")  # frames, channels, step, classes in the alphabet
_BELOW, _ABOVE = 4, 2  # zero bins padded around a frame, for the neighbours
_WIDTH = HOP + _BELOW + _ABOVE
_BAND = np.searchsorted(BAND_EDGES, np.arange(HOP), side="right")
_BANDS = len(BAND_EDGES) + 1
_CATEGORICAL = constriction.stream.model.Categorical(perfect=False)  # rows given per symbol
_UNIFORM = constriction.stream.model.Uniform()  # sizes given per symbol


def mid_side(audio: np.ndarray) -> np.ndarray:
    """(channels, frames): orthonormal mid/side of stereo (its own inverse); mono unchanged."""
    if audio.shape[1] == 1:
        return audio.T.copy()
    left, right = audio.T
    return np.stack([left + right, left - right]) / np.sqrt(2)


def quantize(audio: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Magnitudes and signs (channels, frames, bins) of the dead-zone quantized MDCT."""
    coefficients = mdct(mid_side(np.asarray(audio, np.float64)), HOP)
    scaled = np.abs(coefficients) / step
    magnitudes = np.where(scaled < ZERO, 0, np.floor(scaled + ROUNDING)).astype(np.int64)
    if magnitudes.size and magnitudes.max() >= MAX_MAGNITUDE:
        raise ValueError(f"step {step:g} is too small for this audio")
    return magnitudes, (coefficients < 0) & (magnitudes > 0)


def dequantize(magnitudes: np.ndarray, signs: np.ndarray, step: float, frames: int) -> np.ndarray:
    """Audio (frames, channels) from quantized magnitudes and signs."""
    values = np.where(signs, -1.0, 1.0) * magnitudes * step
    return mid_side(imdct(values, frames).T).T


def reconstruct(audio: np.ndarray, step: float) -> np.ndarray:
    """What :func:`decode` must return for ``encode(audio, step)``: the check that the
    entropy coding is exact. The header holds the step as float32, and both sides use that."""
    stored = float(np.float32(step))
    return dequantize(*quantize(audio, stored), stored, len(audio))


def _classes(magnitudes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class, lower bits and their count of each magnitude."""
    octave = np.maximum(bit_lengths(magnitudes) - 1, 2)  # floor(log2), from 4 on
    width = octave - 1  # bits below the leading one and the one after it
    big = magnitudes >= 4
    classes = np.where(big, 2 * octave + ((magnitudes >> width) & 1), magnitudes)
    return classes, np.where(big, magnitudes & ((1 << width) - 1), 0), np.where(big, width, 0)


def _class_bases(classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Smallest magnitude and lower-bit count of each class (the inverse of _classes)."""
    c = np.arange(classes)
    width = np.maximum(c // 2 - 1, 0)
    return np.where(c < 4, c, (2 + c % 2) << width), np.where(c < 4, 0, width)


@lru_cache(maxsize=2)
def _wavefront(frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The coding order: where each coefficient lies in a channel's (frames x bins), in
    the zero-padded plane of decoded magnitudes, its band, and where each step starts."""
    steps = SLOPE * np.arange(frames)[:, None] + np.arange(HOP)
    order = np.argsort(steps, axis=None, kind="stable")  # within a step, frame by frame
    frame, bin_ = np.divmod(order, HOP)
    starts = np.concatenate([[0], np.cumsum(np.bincount(steps.ravel()))])
    return order, (frame + 2) * _WIDTH + bin_ + _BELOW, _BAND[bin_] * BUCKETS, starts


class _Model:
    """What encoder and decoder both keep: the magnitudes decoded so far, in zero-padded
    planes, and the adaptive class counts of every context."""

    def __init__(self, channels: int, frames: int, classes: int) -> None:
        self.order, self.positions, self.bands, self.starts = _wavefront(frames)
        self.plane = (frames + 2) * _WIDTH
        # floats, exact for these integers, so that the weighted sums are one BLAS product
        self.magnitudes = np.zeros(channels * self.plane)
        self.offsets = np.array([bin_ - back * _WIDTH for back, bin_, _ in OWN + PAST])
        self.weights = np.zeros((len(OWN + PAST), 3))  # columns: own frame, past, both
        self.weights[: len(OWN), 0] = [w for _, _, w in OWN]
        self.weights[len(OWN) :, 1] = [w for _, _, w in PAST]
        self.weights[:, 2] = self.weights[:, 0] + self.weights[:, 1]
        self.own_past = own, past = self.weights[:, :2].sum(axis=0)
        # bucket j >= 1 where the neighbours' mean magnitude a = sum / weight has
        # 2 log2(1 + 4 a) >= j, as integer thresholds on the (integer) sum
        j = np.arange(1, BUCKETS) / 2
        self.thresholds = [
            np.ceil((own + past + MID * c) * (2**j - 1) / 4).astype(np.int64)
            for c in range(channels)
        ]
        self.counts = np.ones((channels * 2 * _BANDS * BUCKETS, classes))
        self.totals = self.counts.sum(axis=1)

    def contexts(self, channel: int, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Where coefficients ``start:end`` of a channel lie, and their contexts."""
        positions = self.positions[start:end] + channel * self.plane
        own, past, total = (self.magnitudes[positions[:, None] + self.offsets] @ self.weights).T
        if channel:
            total += MID * self.magnitudes[positions - self.plane]
        bucket = np.searchsorted(self.thresholds[channel], total, side="right")
        louder = own * self.own_past[1] > past * self.own_past[0]  # the own frame's mean
        contexts = (2 * channel + louder) * (_BANDS * BUCKETS) + self.bands[start:end] + bucket
        return positions, contexts

    def update(self, contexts: np.ndarray, classes: np.ndarray) -> None:
        """Count the classes just coded; halve a context's counts when they pass LIMIT, so
        that what it learned long ago weighs less than what it sees now."""
        np.add.at(self.counts, (contexts, classes), INCREMENT)
        self.totals += INCREMENT * np.bincount(contexts, minlength=len(self.totals))
        full = np.flatnonzero(self.totals > LIMIT)
        if len(full):
            self.counts[full] = np.ceil(self.counts[full] / 2)
            self.totals[full] = self.counts[full].sum(axis=1)


def _steps(model: _Model, channels: int) -> Iterator[tuple[int, int, int]]:
    """(channel, start, end) of each coder call, in coding order: mid before side."""
    starts = model.starts.tolist()
    for start, end in pairwise(starts):
        for channel in range(channels):
            yield channel, start, end


def encode(audio: np.ndarray, step: float) -> bytes:
    """Code ``audio`` (frames, channels) at quantizer ``step``; returns the real bytes."""
    step = float(np.float32(step))
    magnitudes, signs = quantize(audio, step)
    channels, frames, _ = magnitudes.shape
    classes, lower, widths = _classes(magnitudes)
    alphabet = max(int(classes.max()) + 1, 2)  # classes the models need
    model = _Model(channels, frames, alphabet)
    # in coding order: each class, and the lower bits and sign as one uniform symbol
    ordered = [a.reshape(channels, -1)[:, model.order] for a in (magnitudes, classes)]
    model.magnitudes.reshape(channels, -1)[:, model.positions] = ordered[0]
    classes = ordered[1].astype(np.int32)
    uniform = ((lower << 1) | signs).reshape(channels, -1)[:, model.order].astype(np.int32)
    sizes = (2 << widths).reshape(channels, -1)[:, model.order].astype(np.int32)
    encoder = constriction.stream.queue.RangeEncoder()
    for channel, start, end in _steps(model, channels):
        _, contexts = model.contexts(channel, start, end)
        symbols = classes[channel, start:end]
        encoder.encode(symbols, _CATEGORICAL, model.counts[contexts])
        nonzero = start + np.flatnonzero(symbols)
        if len(nonzero):
            encoder.encode(uniform[channel, nonzero], _UNIFORM, sizes[channel, nonzero])
        model.update(contexts, symbols)
    header = _HEADER.pack(len(audio), audio.shape[1], step, alphabet)
    return header + encoder.get_compressed().astype("<u4").tobytes()


def decode(data: bytes) -> np.ndarray:
    """Audio (frames, channels) from the bytes of :func:`encode`."""
    length, channels, step, alphabet = _HEADER.unpack_from(data)
    words = np.frombuffer(data[_HEADER.size :], "<u4").copy()
    decoder = constriction.stream.queue.RangeDecoder(words)
    frames = frame_count(length, HOP)
    model = _Model(channels, frames, alphabet)
    bases, widths = _class_bases(alphabet)
    ordered = np.zeros((channels, frames * HOP), np.int64)  # magnitudes in coding order
    negative = np.zeros((channels, frames * HOP), bool)
    for channel, start, end in _steps(model, channels):
        positions, contexts = model.contexts(channel, start, end)
        symbols = decoder.decode(_CATEGORICAL, model.counts[contexts])
        magnitudes = bases[symbols]
        nonzero = np.flatnonzero(symbols)
        if len(nonzero):
            sizes = (2 << widths[symbols[nonzero]]).astype(np.int32)
            uniform = decoder.decode(_UNIFORM, sizes)
            magnitudes[nonzero] += uniform >> 1
            negative[channel, start + nonzero] = uniform & 1
        ordered[channel, start:end] = magnitudes
        model.magnitudes[positions] = magnitudes
        model.update(contexts, symbols)
    magnitudes, signs = np.zeros_like(ordered), np.zeros_like(negative)
    magnitudes[:, model.order], signs[:, model.order] = ordered, negative
    shape = (channels, frames, HOP)
    return dequantize(magnitudes.reshape(shape), signs.reshape(shape), step, length)

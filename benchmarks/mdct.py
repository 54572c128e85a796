"""MDCT+EC: the classical MSE transform codec that sae has to beat.

MDCT with a 2048-sample sine window and 50 % overlap (1024 bins per frame), orthonormal
mid/side, one global step size with dead-zone rounding, and real entropy coding with
``constriction``: each quantized magnitude is coded with an adaptive model (counts that
grow frame by frame) chosen by its already-coded neighbours. Even bins of a frame are
coded first, conditioned on the previous frame; odd bins then see their even neighbours
on both sides too. Large magnitudes escape to an Elias-gamma code; signs are raw bits.
Every bit is counted (a 12-byte header plus the coded words), and :func:`decode` rebuilds
the audio from the bytes alone.

>>> rng = np.random.default_rng(0)
>>> audio = rng.standard_normal((5000, 2)) * 0.1
>>> data = encode(audio, step=0.01)
>>> decoded = decode(data)
>>> decoded.shape, round(10 * np.log10(np.sum(audio**2) / np.sum((audio - decoded) ** 2)))
((5000, 2), 30)
"""

from __future__ import annotations

import struct

import constriction
import numpy as np

from codec.transform import imdct, mdct

HOP = 1024  # bins per frame; the window is twice as long
ROUNDING = 0.4  # dead zone: |c| / step + 0.4, rounded down (0.5 is plain rounding)
ESCAPE = 15  # magnitudes from here on are coded as ESCAPE + an Elias-gamma remainder
BUCKETS = 12
BANDS = 8
_HEADER = struct.Struct("<IBf")  # frames, channels, step


def mid_side(audio: np.ndarray) -> np.ndarray:
    """(channels, frames): orthonormal mid/side of stereo (its own inverse); mono unchanged."""
    if audio.shape[1] == 1:
        return audio.T.copy()
    left, right = audio.T
    return np.stack([left + right, left - right]) / np.sqrt(2)


_BAND_OF_BIN = np.minimum((np.log2(np.arange(HOP) + 1) * BANDS / np.log2(HOP + 1)), BANDS - 1)
_BAND_OF_BIN = _BAND_OF_BIN.astype(np.int64)


def _bucket(activity: np.ndarray) -> np.ndarray:
    return np.minimum((2 * np.log2(1 + activity)).astype(np.int64), BUCKETS - 1)


def _contexts(previous: np.ndarray, current: np.ndarray, odd: bool) -> np.ndarray:
    """Context bucket of each even (or odd) bin from already-coded magnitudes (escapes of
    the current frame are not decoded yet when its odd bins are, so all count as ESCAPE)."""
    prev = np.pad(np.minimum(previous, ESCAPE), 1)
    if not odd:
        k = np.arange(0, HOP, 2)
        activity = prev[k] + 2 * prev[k + 1] + prev[k + 2]
    else:
        k = np.arange(1, HOP, 2)
        cur = np.pad(np.minimum(current, ESCAPE), 1)
        activity = 2 * (cur[k] + cur[k + 2]) + prev[k + 1]
    return _bucket(activity) * BANDS + _BAND_OF_BIN[k]


class _Magnitudes:
    """Adaptive magnitude models: counts per (channel, pass, context), grown frame by frame."""

    def __init__(self, channels: int) -> None:
        self.counts = np.ones((channels, 2, BUCKETS * BANDS, ESCAPE + 1))
        self.counts[..., 0] = 4.0  # zero is the likeliest magnitude before anything is seen

    def probabilities(self, channel: int, odd: bool, contexts: np.ndarray) -> np.ndarray:
        rows = self.counts[channel, int(odd), contexts]
        return (rows / rows.sum(axis=1, keepdims=True)).astype(np.float32)

    def update(self, channel: int, odd: bool, contexts: np.ndarray, symbols: np.ndarray) -> None:
        np.add.at(self.counts[channel, int(odd)], (contexts, symbols), 1.0)


def _gamma_parts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elias-gamma split of values >= 0: bit lengths and the bits below the leading one."""
    lengths = np.floor(np.log2(values + 1)).astype(np.int32)
    return lengths, (values + 1 - (1 << lengths)).astype(np.int32)


def quantize(audio: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Magnitudes and signs (channels, frames, bins) of the dead-zone quantized MDCT."""
    coefficients = mdct(mid_side(np.asarray(audio, np.float64)), HOP)
    magnitudes = np.floor(np.abs(coefficients) / step + ROUNDING).astype(np.int64)
    return magnitudes, (coefficients < 0) & (magnitudes > 0)


def dequantize(magnitudes: np.ndarray, signs: np.ndarray, step: float, frames: int) -> np.ndarray:
    """Audio (frames, channels) from quantized magnitudes and signs."""
    values = np.where(signs, -1.0, 1.0) * magnitudes * step
    return mid_side(imdct(values, frames).T).T


def reconstruct(audio: np.ndarray, step: float) -> np.ndarray:
    """What :func:`decode` must return for ``encode(audio, step)``: the check that the
    entropy coding is exact. The header holds the step as float32, so the decoder's step
    is that."""
    stored = float(np.float32(step))
    return dequantize(*quantize(audio, step), stored, len(audio))


def encode(audio: np.ndarray, step: float) -> bytes:
    """Code ``audio`` (frames, channels) at quantizer ``step``; returns the real bytes."""
    magnitudes, signs = quantize(audio, step)
    channels, frames, _ = magnitudes.shape
    models = _Magnitudes(channels)
    chunks: list[tuple] = []  # (symbols, model, probabilities) in decoding order
    family = constriction.stream.model.Categorical(perfect=False)
    for t in range(frames):
        for c in range(channels):
            previous = magnitudes[c, t - 1] if t else np.zeros(HOP, np.int64)
            current = magnitudes[c, t]
            for odd in (False, True):
                contexts = _contexts(previous, current, odd)
                symbols = np.minimum(current[int(odd) :: 2], ESCAPE)
                chunks.append((symbols, family, models.probabilities(c, odd, contexts)))
                models.update(c, odd, contexts, symbols)
            big = current[current >= ESCAPE] - ESCAPE
            lengths, rest = _gamma_parts(big)
            chunks.append((lengths, constriction.stream.model.Uniform(32), None))
            for length, bits in zip(lengths.tolist(), rest.tolist(), strict=True):
                if length:
                    chunks.append(
                        (np.array([bits]), constriction.stream.model.Uniform(1 << length), None)
                    )
            chunks.append(
                (
                    signs[c, t][current > 0].astype(np.int32),
                    constriction.stream.model.Uniform(2),
                    None,
                )
            )
    coder = constriction.stream.stack.AnsCoder()
    for symbols, model, probabilities in reversed(chunks):
        if len(symbols) == 0:
            continue
        symbols = np.asarray(symbols, dtype=np.int32)
        if probabilities is None:
            coder.encode_reverse(symbols, model)
        else:
            coder.encode_reverse(symbols, model, probabilities)
    header = _HEADER.pack(len(audio), audio.shape[1], step)
    return header + coder.get_compressed().astype("<u4").tobytes()


def decode(data: bytes) -> np.ndarray:
    """Audio (frames, channels) from the bytes of :func:`encode`."""
    frames, channels, step = _HEADER.unpack_from(data)
    coder = constriction.stream.stack.AnsCoder(np.frombuffer(data[_HEADER.size :], "<u4").copy())
    steps = -(-frames // HOP) + 1
    magnitudes = np.zeros((channels, steps, HOP), np.int64)
    signs = np.zeros((channels, steps, HOP), bool)
    models = _Magnitudes(channels)
    family = constriction.stream.model.Categorical(perfect=False)
    for t in range(steps):
        for c in range(channels):
            previous = magnitudes[c, t - 1] if t else np.zeros(HOP, np.int64)
            current = magnitudes[c, t]
            for odd in (False, True):
                contexts = _contexts(previous, current, odd)
                symbols = coder.decode(family, models.probabilities(c, odd, contexts))
                current[int(odd) :: 2] = symbols
                models.update(c, odd, contexts, symbols)
            escaped = np.flatnonzero(current >= ESCAPE)
            lengths = coder.decode(constriction.stream.model.Uniform(32), len(escaped))
            for index, length in zip(escaped.tolist(), lengths.tolist(), strict=True):
                rest = coder.decode(constriction.stream.model.Uniform(1 << length)) if length else 0
                current[index] = ESCAPE + (1 << length) - 1 + rest
            nonzero = np.flatnonzero(current)
            signs[c, t, nonzero] = (
                coder.decode(constriction.stream.model.Uniform(2), len(nonzero)) == 1
            )
    return dequantize(magnitudes, signs, step, frames)

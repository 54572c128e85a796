"""Audio as the codec takes it: checks, mono and stereo, and the SNR.

Every coding path codes stereo; mono is coded as two equal channels and comes back as
their mean, so the shape a caller gave is the shape it gets back.

>>> mono = np.array([0.5, -0.25], dtype=np.float32)
>>> stereo = to_stereo(check_audio(mono))
>>> stereo.tolist(), to_channels(stereo, 1).tolist()
([[0.5, 0.5], [-0.25, -0.25]], [[0.5], [-0.25]])
>>> round(snr_db(mono, mono * 0.9), 1), round(snr_db(mono, mono[:, None] * 0.9), 1)
(20.0, 20.0)
"""

from __future__ import annotations

import numpy as np


class AudioError(ValueError):
    """The audio cannot be coded: wrong shape, too many channels, NaN or infinite samples."""


def check_audio(audio: np.ndarray) -> np.ndarray:
    """``audio`` as float32 (frames, channels), or an :class:`AudioError` saying why not."""
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.ndim != 2:
        raise AudioError(f"audio must be shaped (frames, channels), not {audio.shape}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise AudioError(f"audio must hold floats in [-1, 1], not {audio.dtype}")
    if audio.shape[1] not in (1, 2):
        raise AudioError(
            f"sae codes mono or stereo audio; this has {audio.shape[1]} channels "
            "(split it into pairs first)"
        )
    if not np.all(np.isfinite(audio)):
        raise AudioError("audio holds NaN or infinite samples")
    return audio.astype(np.float32)


def check_rate(sample_rate: int) -> None:
    if not 0 < sample_rate < 1 << 32:
        raise AudioError(f"sample rate {sample_rate} is out of range")


def to_stereo(audio: np.ndarray) -> np.ndarray:
    """(frames, 2): mono as two equal channels, stereo as it is."""
    return np.repeat(audio, 2 // audio.shape[1], axis=1)


def to_channels(stereo: np.ndarray, channels: int) -> np.ndarray:
    """(frames, channels) of decoded stereo: the mean of its two channels for mono."""
    return stereo.mean(axis=1, keepdims=True) if channels == 1 else stereo


def snr_db(reference: np.ndarray, decoded: np.ndarray) -> float:
    """10 log10(signal energy / error energy) over all samples; inf for an exact copy.

    Mono may be shaped (frames,), as ``soundfile.read`` gives it, on one side and
    (frames, 1), as :func:`codec.decompress` gives it, on the other; any other difference
    in shape is an :class:`AudioError`, never a broadcast.
    """
    reference = np.asarray(reference, dtype=np.float64)
    decoded = np.asarray(decoded)
    if reference.shape != decoded.shape:
        mono = {(len(reference),), (len(reference), 1)}
        if reference.ndim == 0 or {reference.shape, decoded.shape} != mono:
            raise AudioError(f"cannot compare audio shaped {reference.shape} with {decoded.shape}")
        reference, decoded = reference.reshape(-1), decoded.reshape(-1)
    return energy_ratio_db(np.sum(reference**2), np.sum((reference - decoded) ** 2))


def energy_ratio_db(signal: float, error: float) -> float:
    """The SNR of a signal energy and an error energy, in dB."""
    return float(10 * np.log10(signal / error)) if error > 0 else float("inf")

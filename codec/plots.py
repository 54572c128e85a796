"""Figures of what the codec does: how fitting proceeds, where the error lies, where the
bits go. Drawn with matplotlib's object API (no pyplot state, no display needed) and
written straight to files.

>>> rate = 8000
>>> t = np.arange(rate) / rate
>>> original = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 2500 * t)], axis=1)
>>> decoded = original + 0.01 * np.random.default_rng(0).standard_normal(original.shape)
>>> [f"{low:g}-{high:g} Hz" for low, high, snr in band_snr(original, decoded, rate) if snr > 20]
['250-500 Hz', '2000-4000 Hz']
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence

import numpy as np
from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.figure import Figure
from scipy.signal import stft

from codec.files import atomic_output

CHANNEL_NAMES = ("left", "right")
SPECTROGRAM_FLOOR_DB = -100.0


def band_snr(
    original: np.ndarray, decoded: np.ndarray, rate: int
) -> list[tuple[float, float, float]]:
    """(low Hz, high Hz, SNR dB) of octave bands from 62.5 Hz up to half the rate, the
    lowest taking everything below: where the error lies."""
    n = min(len(original), len(decoded))
    spectrum = np.fft.rfft(np.asarray(original[:n], np.float64), axis=0)
    error = spectrum - np.fft.rfft(np.asarray(decoded[:n], np.float64), axis=0)
    frequency = np.fft.rfftfreq(n, 1 / rate)
    octaves = 62.5 * 2.0 ** np.arange(int(np.log2(rate / 2 / 62.5)) + 1)
    edges = [0.0, *octaves[octaves < rate / 2], rate / 2]
    result = []
    for low, high in itertools.pairwise(edges):
        inside = (frequency >= low) & (frequency < high if high < rate / 2 else frequency <= high)
        signal = np.sum(np.abs(spectrum[inside]) ** 2)
        noise = np.sum(np.abs(error[inside]) ** 2)
        snr = 10 * np.log10(signal / noise) if noise > 0 and signal > 0 else float("inf")
        result.append((low, high, float(snr)))
    return result


def _spectrogram_db(audio: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frequency, time, values = stft(audio.mean(axis=1), rate, nperseg=1024)
    power = np.maximum(np.abs(values) ** 2, 10 ** (SPECTROGRAM_FLOOR_DB / 10))
    return frequency, time, 10 * np.log10(power)


def plot_comparison(
    original: np.ndarray, decoded: np.ndarray, rate: int, path: str | os.PathLike
) -> list[tuple[float, float, float]]:
    """Waveforms of a short stretch, spectrograms of the original, the decoded audio and
    the error, and the SNR of each octave band; returns the band SNRs."""
    n = min(len(original), len(decoded))
    original, decoded = original[:n], decoded[:n]
    bands = band_snr(original, decoded, rate)
    fig = Figure(figsize=(11, 10), layout="constrained")
    grid = fig.add_gridspec(3, 2)
    # the loudest 20 ms, where a listener would look first
    span = max(1, min(n, int(0.02 * rate)))
    loud = np.convolve(np.sum(original**2, axis=1), np.ones(span), mode="valid")
    start = int(np.argmax(loud)) if len(loud) else 0
    stretch = np.arange(start, min(n, start + span))
    wave = fig.add_subplot(grid[0, :])
    for c in range(original.shape[1]):
        name = CHANNEL_NAMES[c] if original.shape[1] == 2 else "mono"
        wave.plot(stretch / rate, original[stretch, c], lw=1.2, label=f"original {name}")
        wave.plot(stretch / rate, decoded[stretch, c], lw=1, ls="--", label=f"decoded {name}")
    wave.set_xlabel("seconds")
    wave.set_title("the loudest 20 ms")
    wave.legend(fontsize=8, ncol=2)
    spectra = [("original", original), ("decoded", decoded), ("error", original - decoded)]
    low = None
    for i, (title, audio) in enumerate(spectra):
        ax = fig.add_subplot(grid[1 + i // 2, i % 2])
        frequency, time, level = _spectrogram_db(audio, rate)
        low = level.max() - 90 if low is None else low  # one colour scale for all three
        image = ax.pcolormesh(time, frequency / 1000, level, vmin=low, vmax=low + 90)
        ax.set_title(f"{title} (dB)")
        ax.set_xlabel("seconds")
        ax.set_ylabel("kHz")
        fig.colorbar(image, ax=ax)
    ax = fig.add_subplot(grid[2, 1])
    names = [f"{lo:.0f}-{hi:.0f}" if lo else f"<{hi:.0f}" for lo, hi, _ in bands]
    ax.bar(range(len(bands)), [min(snr, 120) for _, _, snr in bands])
    ax.set_xticks(range(len(bands)), names, rotation=45, fontsize=7)
    ax.set_xlabel("band (Hz)")
    ax.set_ylabel("SNR (dB)")
    ax.set_title("SNR per octave band")
    with atomic_output(path, overwrite=True) as temp:
        fig.savefig(temp, format=_format(path), dpi=100)
    return bands


def plot_bits(
    channel_bits: Sequence[float],
    channel_names: Sequence[str],
    seconds: np.ndarray,
    kbps: np.ndarray,
    path: str | os.PathLike,
) -> None:
    """Bits spent on each latent channel, and the rate over time."""
    fig = Figure(figsize=(10, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    total = max(sum(channel_bits), 1)
    top.bar(range(len(channel_bits)), [100 * b / total for b in channel_bits])
    top.set_xticks(range(len(channel_bits)), channel_names, fontsize=8)
    top.set_ylabel("% of the coefficients' bits")
    top.set_title("bits per latent channel")
    bottom.plot(seconds, kbps, lw=1)
    bottom.set_xlabel("seconds")
    bottom.set_ylabel("kbps")
    bottom.set_title("rate over time (coefficients, one point a transform frame)")
    bottom.grid(alpha=0.3)
    with atomic_output(path, overwrite=True) as temp:
        fig.savefig(temp, format=_format(path), dpi=100)


def animate_fit(
    original: np.ndarray,
    frames: Sequence[tuple[int, np.ndarray]],
    rate: int,
    path: str | os.PathLike,
    title: str,
    fps: int = 8,
) -> None:
    """An animated GIF of a segment (samples, channels): the original against each
    snapshot ``(iteration, reconstruction)``, SNR and iteration in the title."""
    fig = Figure(figsize=(9, 5), layout="constrained")
    axes = fig.subplots(original.shape[1], 1, sharex=True, squeeze=False)[:, 0]
    time = np.arange(len(original)) / rate * 1000
    lines = []
    for c, ax in enumerate(axes):
        ax.plot(time, original[:, c], color="black", lw=1.2, label="original")
        (line,) = ax.plot(time, frames[0][1][:, c], color="tab:orange", lw=1, label="decoded")
        lines.append(line)
        ax.set_ylabel(CHANNEL_NAMES[c] if original.shape[1] == 2 else "mono")
        span = np.max(np.abs(original)) * 1.3 or 1.0
        ax.set_ylim(-span, span)
    axes[0].legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("milliseconds")
    energy = np.sum(original.astype(np.float64) ** 2)

    def draw(index: int) -> list:
        iteration, reconstruction = frames[index]
        for c, line in enumerate(lines):
            line.set_ydata(reconstruction[:, c])
        error = np.sum((original - reconstruction) ** 2)
        snr = 10 * np.log10(energy / error) if error > 0 else float("inf")
        fig.suptitle(f"{title}: iteration {iteration}, SNR {snr:.1f} dB")
        return lines

    animation = FuncAnimation(fig, draw, frames=len(frames), blit=False)
    with atomic_output(path, overwrite=True) as temp:
        animation.save(temp, writer=PillowWriter(fps=fps))


def _format(path: str | os.PathLike) -> str:
    return os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"

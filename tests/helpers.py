"""What several test modules use: synthetic signals made here, tiny fitting settings, the
real command as a user runs it, and how error lies near block edges."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from codec import FilterbankPath, FitSettings

TINY_PATH = FilterbankPath(frame_steps=64)  # transform frames that fit short signals
# fits by gradient in tests are tiny: a few small batches, enough to beat a floor that a
# broken model would miss, nowhere near the benchmark's settings
TINY_SETTINGS = FitSettings(iterations=40, batch_size=8)


def synthetic_stereo(seconds: float = 2.0, rate: int = 8000, seed: int = 0) -> np.ndarray:
    """A few tones, different in each channel, swelling and fading, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    left = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 550 * t + 1)
    right = 0.25 * np.sin(2 * np.pi * 220 * t + 0.5) + 0.1 * np.sin(2 * np.pi * 330 * t)
    audio = np.stack([left, right], axis=1) * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t))[:, None]
    return (audio + 0.003 * rng.standard_normal(audio.shape)).astype(np.float32)


ROOT = Path(__file__).resolve().parent.parent


def sae_command(*args) -> list[str]:
    """The real console command, with these arguments."""
    return [sys.executable, "-m", "codec", *map(str, args)]


def sae_env() -> dict[str, str]:
    """The environment to run it in: this tree's code, wherever it runs from."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def run(*args, **options) -> subprocess.CompletedProcess:
    """Run the real console command, as a user would (text unless ``text=False``)."""
    options = {"capture_output": True, "text": True, "env": sae_env(), **options}
    return subprocess.run(sae_command(*args), **options)


def boundary_and_middle_error(error: np.ndarray, block: int, edge: int = 16):
    """Mean squared error of (channels, frames) within ``edge`` samples of internal block
    boundaries, and elsewhere."""
    near = np.zeros(error.shape[-1], dtype=bool)
    for boundary in range(block, error.shape[-1], block):
        near[boundary - edge : boundary + edge] = True
    squared = (error**2).sum(axis=0)
    return squared[near].mean(), squared[~near].mean()

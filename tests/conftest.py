"""Shared helpers: synthetic signals made here, and tiny fitting settings."""

from __future__ import annotations

import numpy as np
import pytest

from codec import FitSettings, ModelConfig

# Fits in tests are tiny: a small hidden layer and a few small batches, enough to beat a
# floor that a broken model would miss, nowhere near the benchmark's settings.
TINY_CONFIG = ModelConfig(hidden_channels=8, frame_steps=64)  # frames fit short signals
TINY_SETTINGS = FitSettings(iterations=40, batch_size=8)
QUICK = FitSettings(iterations=0)  # the decoder as initialized: no fitting


def synthetic_stereo(seconds: float = 2.0, rate: int = 8000, seed: int = 0) -> np.ndarray:
    """A few tones, different in each channel, swelling and fading, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    left = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 550 * t + 1)
    right = 0.25 * np.sin(2 * np.pi * 220 * t + 0.5) + 0.1 * np.sin(2 * np.pi * 330 * t)
    audio = np.stack([left, right], axis=1) * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t))[:, None]
    return (audio + 0.003 * rng.standard_normal(audio.shape)).astype(np.float32)


@pytest.fixture(scope="session")
def stereo() -> np.ndarray:
    return synthetic_stereo()

"""How networks are trained on a song: the settings every training loop takes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FitSettings:
    """Adam on batches of random windows of the song, as in the post; by default, what a
    learned autoencoder trains with from scratch for rate and distortion. Without a
    ``learning_rate`` the architecture's own is used (the post's 2e-2: at 3e-3 it had not
    converged after 600 iterations, benchmarks/results/experiments.md)."""

    iterations: int = 1000
    learning_rate: float | None = None
    batch_size: int = 100  # the post's batches: 100 windows of 1024 stereo samples
    window: int = 1024  # audio samples scored per window
    seed: int = 0
    device: str = "cpu"

    @classmethod
    def of_post(cls) -> FitSettings:
        """The original post's recipe: 150 iterations, plain mean squared error."""
        return cls(iterations=150, learning_rate=2e-2)

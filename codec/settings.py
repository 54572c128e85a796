"""How networks are fitted to a song: the settings every fitting loop takes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FitSettings:
    """Adam on batches of random windows of the song, as in the post."""

    iterations: int = 300
    learning_rate: float = 3e-4  # small: the filterbank decoder starts exact, and is refined
    batch_size: int = 100  # the post's batches: 100 windows of 1024 stereo samples
    window: int = 1024  # audio samples scored per window
    seed: int = 0
    device: str = "cpu"

    @classmethod
    def of_post(cls) -> FitSettings:
        """The original post's recipe: 150 iterations, from scratch, so a larger step."""
        return cls(iterations=150, learning_rate=2e-2)

"""One model for many songs (an artist's): fitted once, named by files instead of carried.

:func:`train_artist` fits what :func:`codec.compress` fits per song to several songs at
once, at one quality, and returns a :class:`bitstream.SharedModel`.
``compress(..., shared=model)`` then codes a song with no fitting at all, and its file
holds the model's digest instead of the model.

>>> from codec import compress, decompress
>>> rate = 8000
>>> t = np.arange(rate) / rate
>>> songs = [np.stack([np.sin(2 * np.pi * f * t)] * 2, axis=1) for f in (220, 330)]
>>> shared = train_artist(songs, settings=FitSettings(iterations=5, batch_size=4))
>>> data = compress(songs[0], rate, shared=shared)
>>> decompress(data, models=[shared])[0].shape
(8000, 2)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tqdm import tqdm

from bitstream import SharedModel
from bitstream.sae import MAX_SEGMENT_FRAMES
from codec.paths import DEFAULT_PATH, CodingPath, path_named
from codec.quantizer import DEFAULT_QUALITY
from codec.segments import blocks_of_array, coding_signal, margin_frames
from codec.settings import FitSettings


def train_artist(
    songs: Sequence[np.ndarray],
    *,
    path: str | CodingPath = DEFAULT_PATH,
    quality: float = DEFAULT_QUALITY,
    settings: FitSettings = FitSettings(),
    progress: bool = False,
) -> SharedModel:
    """Fit one model to ``songs`` (each float (frames, channels), mono or stereo), coding
    at ``quality``. The songs share one segment's worth of frames, each lending the same
    number from its middle, so memory stays what compressing one segment takes; each is
    normalized by its own gain, as :func:`codec.compress` normalizes every segment.
    """
    if not songs:
        raise ValueError("an artist model needs at least one song")
    coding = path_named(path) if isinstance(path, str) else path
    if not hasattr(coding, "train"):
        raise ValueError(f"the {coding.name} path has no shared models")
    share = MAX_SEGMENT_FRAMES // len(songs)
    margin = margin_frames(coding.context_steps)
    signals = []
    for song in tqdm(songs, desc="analysing", unit="song", disable=not progress, leave=False):
        start = max(len(song) - share, 0) // 2
        middle = np.asarray(song)[start : start + share]
        block = next(blocks_of_array(middle, margin, MAX_SEGMENT_FRAMES))
        signals.append(coding_signal(block, coding.context_steps))
    return coding.train(signals, quality, settings, progress)

"""One model for many songs (an artist's): fitted once, named by files instead of carried.

:func:`train_artist` fits what :func:`codec.compress` fits per song (the transform's
frame length, the entropy model's tables, the decoder) to several songs at once, at one
quality, and returns a :class:`bitstream.SharedModel`. ``compress(..., shared=model)``
then codes a song with no fitting at all, and its file holds the model's digest instead
of the model (about 2.4 kB less a segment on the corpus).

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
from dataclasses import replace

import numpy as np
import torch
from tqdm import tqdm

from bitstream import SharedModel
from bitstream.context import reconstruction_levels
from codec.api import (
    FRAME_STEPS,
    SEGMENT_FRAMES,
    analyse_segment,
    blocks_of_array,
    quantized_offsets,
    rounded_cost,
    segment_margin,
)
from codec.entropy_model import fit_coefficient_model
from codec.fit import DEFAULT_QUALITY, FitSettings, fit_decoder, quality_to_lambda, quantizer_step
from codec.model import ModelConfig
from codec.quantizer import quantize
from codec.transform import frame_count, imdct, mdct


def train_artist(
    songs: Sequence[np.ndarray],
    *,
    quality: float = DEFAULT_QUALITY,
    settings: FitSettings = FitSettings(),
    config: ModelConfig = ModelConfig(),
    progress: bool = False,
) -> SharedModel:
    """Fit one model to ``songs`` (each float (frames, channels), mono or stereo), coding
    at ``quality``. The songs share one segment's worth of frames
    (:data:`codec.api.SEGMENT_FRAMES`), each lending the same number from its middle, so
    memory stays what compressing one segment takes; each is normalized by its own gain,
    as :func:`codec.compress` normalizes every segment.
    """
    if not songs:
        raise ValueError("an artist model needs at least one song")
    margin, share = segment_margin(config), SEGMENT_FRAMES // len(songs)
    analyses = []
    for song in tqdm(songs, desc="analysing", unit="song", disable=not progress, leave=False):
        start = max(len(song) - share, 0) // 2
        middle = np.asarray(song)[start : start + share]
        analyses.append(analyse_segment(next(blocks_of_array(middle, margin)), config))
    step, lam = quantizer_step(quality), quality_to_lambda(quality)

    def pooled(frame_steps: int) -> np.ndarray:
        return np.concatenate([mdct(a.latents, frame_steps) for a in analyses], axis=1)

    def cost(frame_steps: int) -> float:
        bits, error = rounded_cost(pooled(frame_steps), quality)
        return error + lam * bits

    frame_steps = config.frame_steps or min(FRAME_STEPS, key=cost)
    indices, _ = quantize(pooled(frame_steps), step, lam)
    entropy = fit_coefficient_model(indices, cover_all=True)  # for songs it has not seen
    counts = [frame_count(a.steps, frame_steps) for a in analyses]
    dequantized, frames, error = [], 0, 0.0
    for a, k in zip(analyses, np.split(indices, np.cumsum(counts)[:-1], axis=1), strict=True):
        levels = imdct(reconstruction_levels(k) * step, a.steps)
        error += float(np.sum((a.latents - levels) ** 2))
        dequantized.append(torch.from_numpy(levels.astype(np.float32)))
        frames += a.signal.shape[1]
    model = analyses[0].model  # every song's filterbank is the same: fit one decoder
    start = {name: value.clone() for name, value in model.decoder.state_dict().items()}
    signals = torch.cat([a.signal for a in analyses], dim=1)
    fit_decoder(model, torch.cat(dequantized, dim=1), signals, settings, progress)
    fitted = model.decoder.state_dict()
    offsets = {name: fitted[name] - value for name, value in start.items()}
    weights, weight_step = quantized_offsets(offsets, error / (2 * frames))
    file_config = replace(config, frame_steps=frame_steps).to_dict()
    return SharedModel(quality, step, file_config, weights, weight_step, entropy)

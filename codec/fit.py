"""Fitting a model to one song: Adam on random stereo segments of the song itself.

The loss is ``distortion + lambda * rate``: distortion is the mean squared error of the
gain-normalized audio (so ``1 / distortion`` is the SNR), rate the bits per audio sample
that the entropy model predicts for the latents plus uniform noise, the usual relaxation
of rounding. ``quality`` picks lambda on a log scale: each step up halves lambda, which
buys roughly 3 dB of SNR for more bits.

>>> audio = np.random.default_rng(0).standard_normal((4096, 2)).astype(np.float32)
>>> model, entropy = fit_song(audio, ModelConfig(hidden_channels=4),
...                           FitSettings(iterations=2, batch_size=2), quality=5.0)
>>> type(model).__name__, type(entropy).__name__
('Autoencoder', 'LatentEntropyModel')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from codec.entropy_model import LatentEntropyModel
from codec.model import STRIDE, Autoencoder, ModelConfig

DEFAULT_QUALITY = 7.0


def quality_to_lambda(quality: float) -> float:
    """lambda = 2 ** -quality: the price, in distortion, of one bit per sample."""
    return 2.0 ** (-quality)


@dataclass(frozen=True)
class FitSettings:
    """How a model is fitted: the post's batches of 100 x 1024 samples, Adam.

    ``rate_segments`` of each batch estimate the rate (the entropy model is most of the
    cost of an iteration; a quarter of the batch gives the same fit in half the time).
    The last ``hard_fraction`` of iterations feed the decoder rounded latents (with a
    straight-through gradient) instead of noisy ones, so it learns the values it will see.
    """

    iterations: int = 1000
    learning_rate: float = 2e-2
    batch_size: int = 100
    segment: int = 1024
    rate_segments: int = 25
    hard_fraction: float = 0.2
    seed: int = 0
    device: str = "cpu"


def training_signal(audio: np.ndarray, min_frames: int) -> torch.Tensor:
    """(2, frames) tensor of ``audio`` (frames, 2), repeated until it holds ``min_frames``."""
    reps = -(-min_frames // len(audio))
    return torch.from_numpy(np.ascontiguousarray(np.tile(audio, (reps, 1)).T))


def fit_song(
    audio: np.ndarray,
    config: ModelConfig,
    settings: FitSettings,
    quality: float | None = DEFAULT_QUALITY,
    progress: bool = False,
) -> tuple[Autoencoder, LatentEntropyModel]:
    """Fit an autoencoder and entropy model to ``audio`` (frames, 2), gain-normalized.

    ``quality=None`` fits the post's plain autoencoder instead: mean squared error alone,
    no rate term and no quantization noise (the entropy model stays untrained).

    Each segment is read with ``config.context_steps`` latent steps of real signal on
    both sides and only its middle is scored, so the model never learns from, or for,
    zero-padded edges.
    """
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    device = torch.device(settings.device)
    margin = config.context_steps * STRIDE
    span = settings.segment + 2 * margin
    signal = training_signal(audio, span).to(device)
    model = Autoencoder(config).to(device)
    entropy = LatentEntropyModel(config.latent_channels).to(device)
    params = [*model.parameters(), *entropy.parameters()]
    optimizer = torch.optim.Adam(params, lr=settings.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, settings.iterations)
    plain = quality is None
    offsets = torch.arange(span, device=device)
    keep = slice(config.context_steps, config.context_steps + settings.segment // STRIDE)
    hard_from = round(settings.iterations * (1 - settings.hard_fraction))
    bar = tqdm(range(settings.iterations), desc="fitting", disable=not progress, unit="it")
    for iteration in bar:
        starts = rng.integers(0, signal.shape[1] - span + 1, settings.batch_size)
        index = torch.as_tensor(starts, device=device)[:, None] + offsets
        batch = signal[:, index].transpose(0, 1)  # (batch, 2, span)
        latents = model.encoder(batch)
        noisy = latents + torch.empty_like(latents).uniform_(-0.5, 0.5)
        if plain:
            decoded = model.decoder(latents)
        elif iteration < hard_from:
            decoded = model.decoder(noisy)
        else:  # rounded latents, with the gradient passed straight through the rounding
            decoded = model.decoder(latents + (torch.round(latents) - latents).detach())
        error = (decoded - batch)[..., margin:-margin]
        distortion = error.pow(2).mean()
        shown = {"snr": f"{-10 * torch.log10(distortion.detach()).item():.1f}dB"}
        loss = distortion
        if not plain:
            rated = noisy[: settings.rate_segments, :, keep]
            rate = entropy.bits(rated).sum() / (rated.shape[0] * error[0].numel())
            loss = distortion + quality_to_lambda(quality) * rate
            shown["bits"] = f"{rate.item():.3f}/sample"
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        bar.set_postfix(shown)
    return model.cpu().eval(), entropy.cpu().eval()

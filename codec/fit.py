"""Fitting a model to one song, and the quality scale.

``quality`` q sets lambda = 2**-q, the price in distortion (mean squared error of the
gain-normalized audio, so 1 / distortion is the SNR) of one bit per sample. The trellis
quantizer (:mod:`codec.quantizer`) weighs bits at that price, with the step
:func:`quantizer_step`: each quality step is worth about 3 dB.

Two fits live here. :func:`fit_decoder` fits the codec's decoder to the song: Adam on
random segments of the song's own quantized latents, to reproduce the song (mean squared
error), so the decoder learns what the quantizer threw away as well as it can.
:func:`fit_plain` is the original post's recipe, a plain autoencoder trained on mean
squared error with no quantization, kept to reproduce the post.

>>> audio = torch.randn(2, 4096)
>>> model = fit_plain(audio, ModelConfig.of_post(), FitSettings(iterations=2, batch_size=2))
>>> type(model).__name__
'Autoencoder'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from codec.model import STRIDE, Autoencoder, ModelConfig

DEFAULT_QUALITY = 7.0


def quality_to_lambda(quality: float) -> float:
    """lambda = 2 ** -quality: the price, in distortion, of one bit per sample."""
    return 2.0 ** (-quality)


STEP_PER_ROOT_LAMBDA = 1.88


def quantizer_step(quality: float) -> float:
    """The trellis quantizer's step, in units of the normalized latents, for the quality.

    It grows as sqrt(lambda), as the step of any quantizer whose errors are uniform. The
    factor was measured: from 1.6 to 1.9 x sqrt(lambda), the trellis, pricing bits at
    lambda, codes within 0.05 dB of the same rate-distortion curve.
    """
    return STEP_PER_ROOT_LAMBDA * math.sqrt(quality_to_lambda(quality))


@dataclass(frozen=True)
class FitSettings:
    """How a model is fitted: Adam on batches of random segments of the song."""

    iterations: int = 300
    learning_rate: float = 3e-4  # small: the decoder starts near-perfect, and is refined
    batch_size: int = 100  # the post's batches: 100 segments of 1024 stereo samples
    segment: int = 1024  # audio samples scored per segment
    seed: int = 0
    device: str = "cpu"

    @classmethod
    def of_post(cls) -> FitSettings:
        """The original post's recipe: 150 iterations, from scratch, so a larger step."""
        return cls(iterations=150, learning_rate=2e-2)


def _batches(settings: FitSettings, length: int, span: int):
    """Start positions of ``settings.batch_size`` random windows of ``span``, per iteration."""
    rng = np.random.default_rng(settings.seed)
    for _ in range(settings.iterations):
        yield torch.as_tensor(rng.integers(0, length - span + 1, settings.batch_size))


def _windows(signal: torch.Tensor, starts: torch.Tensor, span: int) -> torch.Tensor:
    """(batch, channels, span) windows of ``signal`` (channels, length)."""
    index = starts.to(signal.device)[:, None] + torch.arange(span, device=signal.device)
    return signal[:, index].transpose(0, 1)


OnStep = Callable[[int, Autoencoder], None]  # (iterations done, the model as it stands)


def fit_decoder(
    model: Autoencoder,
    latents: torch.Tensor,
    audio: torch.Tensor,
    settings: FitSettings,
    progress: bool = False,
    bits_per_sample: float | None = None,
    on_step: OnStep | None = None,
) -> Autoencoder:
    """Fit ``model.decoder`` so that it turns ``latents`` (inputs, steps), the dequantized
    latents of the song, into ``audio`` (2, 4 x steps), the gain-normalized song.
    ``bits_per_sample``, the file's size, is shown on the progress bar; ``on_step`` is
    called before the first iteration and after each.

    Segments are read with ``context_steps`` latents of real signal on both sides and
    only their middle is scored, so nothing is learned from zero-padded edges.
    """
    torch.manual_seed(settings.seed)
    device = torch.device(settings.device)
    decoder = model.decoder.to(device).train()
    context = model.config.context_steps
    steps = max(1, min(settings.segment // STRIDE, latents.shape[1] - 2 * context))
    span = steps + 2 * context
    latents, audio = latents.to(device), audio.to(device)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=settings.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, settings.iterations)
    margin = context * STRIDE
    rate = "" if bits_per_sample is None else f" at {bits_per_sample:.3f} bits/sample"
    bar = tqdm(
        _batches(settings, latents.shape[1], span),
        total=settings.iterations,
        desc=f"fitting decoder{rate}",
        disable=not progress,
        unit="it",
    )
    if on_step is not None:
        on_step(0, model)
    for iteration, starts in enumerate(bar, start=1):
        decoded = decoder(_windows(latents, starts, span))
        target = _windows(audio, starts * STRIDE, span * STRIDE)
        distortion = (decoded - target)[..., margin:-margin].pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        distortion.backward()
        optimizer.step()
        schedule.step()
        bar.set_postfix(snr=f"{-10 * torch.log10(distortion.detach()).item():.1f}dB")
        if on_step is not None:
            on_step(iteration, model)
    model.cpu().eval()
    return model


def fit_plain(
    audio: torch.Tensor,
    config: ModelConfig,
    settings: FitSettings,
    progress: bool = False,
    on_step: OnStep | None = None,
) -> Autoencoder:
    """The post's recipe: an autoencoder fitted to ``audio`` (2, frames) on plain mean
    squared error, latents unquantized. ``on_step`` is called before the first iteration
    and after each."""
    torch.manual_seed(settings.seed)
    device = torch.device(settings.device)
    model = Autoencoder(config).to(device)
    margin = config.context_steps * STRIDE
    span = settings.segment + 2 * margin
    reps = -(-span // audio.shape[1])
    signal = audio.repeat(1, reps).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    bar = tqdm(
        _batches(settings, signal.shape[1], span),
        total=settings.iterations,
        desc="fitting",
        disable=not progress,
        unit="it",
    )
    if on_step is not None:
        on_step(0, model)
    for iteration, starts in enumerate(bar, start=1):
        batch = _windows(signal, starts, span)
        error = (model.decoder(model.encoder(batch)) - batch)[..., margin:-margin]
        distortion = error.pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        distortion.backward()
        optimizer.step()
        bar.set_postfix(snr=f"{-10 * torch.log10(distortion.detach()).item():.1f}dB")
        if on_step is not None:
            on_step(iteration, model)
    return model.cpu().eval()

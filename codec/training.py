"""The fitting loop: Adam on batches of random windows of one song, as in the post.

:func:`fit` is the loop every fitted network goes through; :func:`fit_decoder` fits the
filterbank path's decoder to a song's quantized latents, so that it turns them back into
the song as well as it can (what the quantizer threw away, it partly undoes).

>>> from codec.networks import filterbank_decoder
>>> latents, audio = np.zeros((8, 300), np.float32), np.zeros((2, 1200), np.float32)
>>> decoder = fit_decoder(filterbank_decoder(), latents, audio, FitSettings(iterations=2))
>>> type(decoder).__name__
'Sequential'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from codec.pqmf import CONTEXT_STEPS, STRIDE
from codec.settings import FitSettings

OnStep = Callable[[int], None]  # called with the iterations done, 0 before the first


def fit(
    parameters,
    loss: Callable[[torch.Tensor], torch.Tensor],
    settings: FitSettings,
    length: int,
    span: int,
    *,
    description: str,
    anneal: bool = False,
    progress: bool = False,
    on_step: OnStep | None = None,
) -> None:
    """Minimize ``loss(starts)``, the mean squared error of the windows of ``span``
    positions that start at ``starts`` (of a signal of ``length``), by Adam over
    ``settings.iterations`` batches; ``anneal`` lowers the step along a cosine to zero."""
    optimizer = torch.optim.Adam(parameters, lr=settings.learning_rate)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR
    schedule = cosine(optimizer, settings.iterations) if anneal else None
    bar = tqdm(
        _batches(settings, length, span),
        total=settings.iterations,
        desc=description,
        disable=not progress,
        unit="it",
    )
    if on_step is not None:
        on_step(0)
    for iteration, starts in enumerate(bar, start=1):
        distortion = loss(starts)
        optimizer.zero_grad(set_to_none=True)
        distortion.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        bar.set_postfix(snr=f"{-10 * torch.log10(distortion.detach()).item():.1f}dB")
        if on_step is not None:
            on_step(iteration)


def _batches(settings: FitSettings, length: int, span: int) -> Iterator[torch.Tensor]:
    """Start positions of ``settings.batch_size`` random windows of ``span``, per iteration."""
    rng = np.random.default_rng(settings.seed)
    for _ in range(settings.iterations):
        yield torch.as_tensor(rng.integers(0, length - span + 1, settings.batch_size))


def windows(signal: torch.Tensor, starts: torch.Tensor, span: int) -> torch.Tensor:
    """(batch, channels, span) windows of ``signal`` (channels, length)."""
    index = starts.to(signal.device)[:, None] + torch.arange(span, device=signal.device)
    return signal[:, index].transpose(0, 1)


def fit_decoder(
    decoder: nn.Module,
    latents: np.ndarray,
    audio: np.ndarray,
    settings: FitSettings,
    progress: bool = False,
    bits_per_sample: float | None = None,
    on_step: OnStep | None = None,
) -> nn.Module:
    """Fit ``decoder`` so that it turns ``latents`` (inputs, steps), the dequantized
    latents of a song, into ``audio`` (2, 4 x steps), the gain-normalized song.
    ``bits_per_sample``, the file's size, is shown on the progress bar.

    Windows are read with the decoder's context of real signal on both sides and only
    their middle is scored, so nothing is learned from zero-padded edges.
    """
    torch.manual_seed(settings.seed)
    device = torch.device(settings.device)
    decoder = decoder.to(device).train()
    context = CONTEXT_STEPS
    steps = max(1, min(settings.window // STRIDE, latents.shape[1] - 2 * context))
    span = steps + 2 * context
    latent_signal = torch.from_numpy(latents).to(device)
    target_signal = torch.from_numpy(audio).to(device)
    margin = context * STRIDE

    def loss(starts: torch.Tensor) -> torch.Tensor:
        decoded = decoder(windows(latent_signal, starts, span))
        target = windows(target_signal, starts * STRIDE, span * STRIDE)
        return (decoded - target)[..., margin:-margin].pow(2).mean()

    rate = "" if bits_per_sample is None else f" at {bits_per_sample:.3f} bits/sample"
    fit(decoder.parameters(), loss, settings, latents.shape[1], span, anneal=True,
        description=f"fitting decoder{rate}", progress=progress, on_step=on_step)  # fmt: skip
    return decoder.cpu().eval()

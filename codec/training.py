"""The fitting loop: Adam on batches of random windows of one song, as in the post,
which every network fitted by gradient goes through (the post's autoencoder).

>>> network = torch.nn.Linear(1, 1)
>>> signal = torch.linspace(-1, 1, 64)[None]
>>> def loss(starts):
...     batch = windows(signal, starts, 8).reshape(-1, 1)
...     return (network(batch) - 2 * batch).pow(2).mean()
>>> fit(network.parameters(), loss, FitSettings(iterations=200, learning_rate=0.05), 64, 8,
...     description="fitting")
>>> round(network.weight.item(), 1)
2.0
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from tqdm import tqdm

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
    postfix: Callable[[], str] | None = None,
) -> None:
    """Minimize ``loss(starts)``, a loss over the windows of ``span`` positions that start
    at ``starts`` (of a signal of ``length``), by Adam over ``settings.iterations``
    batches; ``anneal`` lowers the step along a cosine to zero. The progress bar shows
    ``postfix()``, or the loss as an SNR (a mean squared error of unit-power audio)."""
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
        if postfix is not None:
            bar.set_postfix_str(postfix())
        else:
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

"""Rate-distortion training of a learned autoencoder on one song (or an artist's songs).

The loss is distortion + lambda x bits, as the filterbank path prices its trellis: the
mean squared error of the gain-normalized audio, plus lambda = 2**-quality times the
bits per sample that the latents cost under a learned density. Quantization is relaxed
as in learned image codecs: the density prices the latents with additive uniform noise
(their rounding's distribution), and the decoder sees them rounded, around learned
per-channel offsets, with the gradient passed straight through. Adam on batches of
random windows of the song, as in the post (:func:`codec.training.fit`).

The density (:class:`FactorizedDensity`) is per channel and non-parametric: a small
monotone network per channel gives its cumulative distribution, as in Balle et al.
(2018) and CompressAI's ``EntropyBottleneck``. It only trains: the file codes the
rounded latents with integer tables counted from them (:mod:`bitstream.learned`).

>>> from codec.architectures import ARCHITECTURES
>>> audio = np.random.default_rng(0).standard_normal((2, 4096)).astype(np.float32)
>>> trained = train_autoencoder([audio], ARCHITECTURES["post"], quality=7.0,
...                             settings=FitSettings(iterations=3, batch_size=4))
>>> trained.offsets.shape
torch.Size([64])
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from codec.architectures import LATENT_CHANNELS, Architecture
from codec.pqmf import STRIDE
from codec.quantizer import quality_to_lambda
from codec.settings import FitSettings
from codec.training import fit, windows

RATE_SAMPLING = 8


class FactorizedDensity(nn.Module):
    """A learned density per latent channel: the likelihood of a value is the rise of its
    channel's cumulative distribution over the unit interval around it."""

    def __init__(self, channels: int = LATENT_CHANNELS, filters=(3, 3, 3), scale=10.0):
        super().__init__()
        widths = (1, *filters, 1)
        per_layer = scale ** (1 / (len(widths) - 1))
        self.matrices, self.biases, self.factors = (nn.ParameterList() for _ in range(3))
        for inputs, outputs in itertools.pairwise(widths):
            start = math.log(math.expm1(1 / per_layer / outputs))
            self.matrices.append(nn.Parameter(torch.full((channels, outputs, inputs), start)))
            self.biases.append(nn.Parameter(torch.rand(channels, outputs, 1) - 0.5))
            self.factors.append(nn.Parameter(torch.zeros(channels, outputs, 1)))

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        """The cumulative distribution's logit at values ``x`` (channels, 1, n)."""
        for index, (matrix, bias, factor) in enumerate(
            zip(self.matrices, self.biases, self.factors, strict=True)
        ):
            x = torch.matmul(nn.functional.softplus(matrix), x) + bias
            if index < len(self.matrices) - 1:
                x = x + torch.tanh(factor) * torch.tanh(x)
        return x

    def bits(self, values: torch.Tensor) -> torch.Tensor:
        """The bits of ``values`` (batch, channels, steps), each priced over its unit
        interval; summed."""
        channels = values.shape[1]
        x = values.transpose(0, 1).reshape(channels, 1, -1)
        lower, upper = self._logits(x - 0.5), self._logits(x + 0.5)
        sign = -torch.sign(lower + upper).detach()  # the flat side: no sigmoid saturation
        likelihood = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        return -torch.log2(likelihood.clamp_min(1e-9)).sum()


@dataclass
class TrainedAutoencoder:
    """What training leaves: the networks and the rounding's per-channel offsets."""

    encoder: nn.Module
    decoder: nn.Module
    offsets: torch.Tensor  # (64,) the latents are rounded around these


OnStep = Callable[[int, "TrainedAutoencoder"], None]


def train_autoencoder(
    signals: list[np.ndarray],
    architecture: Architecture,
    quality: float,
    settings: FitSettings,
    progress: bool = False,
    on_step: OnStep | None = None,
    start: TrainedAutoencoder | None = None,
) -> TrainedAutoencoder:
    """An autoencoder trained on ``signals`` (each (2, samples), gain-normalized, with
    the track's audio around them as margins), from ``start`` or from scratch."""
    settings = replace(settings, learning_rate=settings.learning_rate or architecture.learning_rate)
    torch.manual_seed(settings.seed)
    device = torch.device(settings.device)
    if start is None:
        encoder, decoder = architecture.build()
        offsets = nn.Parameter(torch.zeros(LATENT_CHANNELS))
    else:
        encoder, decoder = start.encoder, start.decoder
        offsets = nn.Parameter(start.offsets.clone())
    density = FactorizedDensity()
    for module in (encoder, decoder, density):
        module.to(device).train()
    offsets = nn.Parameter(offsets.detach().to(device))
    audio = torch.from_numpy(np.concatenate(signals, axis=1)).to(device)
    margin = architecture.context_steps * STRIDE
    span = min(settings.window + 2 * margin, audio.shape[1] // STRIDE * STRIDE)
    lam = quality_to_lambda(quality)
    shown = {"snr": 0.0, "bits": 0.0}

    # only a window's middle is scored: its edges lack part of their receptive field
    edge = architecture.context_steps if span > 2 * margin + STRIDE else 0

    def loss(starts: torch.Tensor) -> torch.Tensor:
        batch = windows(audio, starts, span)
        latents = encoder(batch)
        centred = latents - offsets[:, None]
        rounded = centred + (torch.round(centred) - centred).detach()  # straight through
        decoded = decoder(rounded + offsets[:, None])
        error = (decoded - batch)[..., STRIDE * edge : span - STRIDE * edge]
        distortion = error.pow(2).mean()
        # the density prices every RATE_SAMPLING-th step (from a random one): the same
        # bits on average, for an eighth of its cost, most of a training step's
        first = edge + int(torch.randint(RATE_SAMPLING, ()))
        sampled = centred[..., first : span // STRIDE - edge : RATE_SAMPLING]
        noisy = sampled + torch.rand_like(sampled) - 0.5
        bits = RATE_SAMPLING * density.bits(noisy) / error.numel()
        shown["snr"] = -10 * math.log10(max(distortion.item(), 1e-12))
        shown["bits"] = bits.item()
        return distortion + lam * bits

    parameters = [*encoder.parameters(), *decoder.parameters(), *density.parameters(), offsets]
    trained = TrainedAutoencoder(encoder, decoder, offsets.data)

    def step(iteration: int) -> None:
        if on_step is not None:
            on_step(iteration, trained)

    fit(parameters, loss, settings, audio.shape[1], span, anneal=True,
        description=f"training {architecture.name}", progress=progress, on_step=step,
        postfix=lambda: f"{shown['snr']:.1f}dB {shown['bits']:.3f} bits/sample")  # fmt: skip
    for module in (encoder, decoder):
        module.cpu().eval()
    return TrainedAutoencoder(encoder, decoder, offsets.detach().cpu())


REFINE_SHARE = 5  # the decoder's refinement takes a fifth of the training's iterations
REFINE_RATE = 0.1  # x the training's learning rate: it starts near where it should end


def refine_decoder(
    decoder: nn.Module,
    latents: np.ndarray,
    audio: np.ndarray,
    live: np.ndarray,
    architecture: Architecture,
    settings: FitSettings,
    progress: bool = False,
) -> nn.Module:
    """``decoder`` fitted to the latents as they will be decoded (rounded, (64, steps)),
    with its weights from the channels that are not ``live`` (constant: they carry
    nothing) held at zero, so that the file need not store them (where its first layer
    is a transposed convolution from the latents); ``audio`` (2, 4 x steps) is what it
    must give back."""
    first = next(module for module in decoder.modules() if hasattr(module, "weight"))
    if isinstance(first, nn.ConvTranspose1d) and first.in_channels == len(live):
        mask = torch.zeros_like(first.weight)
        mask[torch.from_numpy(live)] = 1.0  # ConvTranspose1d weights are (in, out, taps)
        with torch.no_grad():
            first.weight.mul_(mask)
        first.weight.register_hook(lambda gradient: gradient * mask)
    device = torch.device(settings.device)
    decoder.to(device).train()
    latent_signal = torch.from_numpy(latents).to(device)
    target_signal = torch.from_numpy(audio).to(device)
    edge = architecture.context_steps
    steps = max(1, min(settings.window // STRIDE, latents.shape[1] - 2 * edge))
    span = min(steps + 2 * edge, latents.shape[1])
    margin = STRIDE * edge if span > 2 * edge + 1 else 0

    def loss(starts: torch.Tensor) -> torch.Tensor:
        decoded = decoder(windows(latent_signal, starts, span))
        target = windows(target_signal, starts * STRIDE, span * STRIDE)
        return (decoded - target)[..., margin : span * STRIDE - margin].pow(2).mean()

    learning_rate = (settings.learning_rate or architecture.learning_rate) * REFINE_RATE
    refining = replace(settings, iterations=max(settings.iterations // REFINE_SHARE, 1),
                       learning_rate=learning_rate)  # fmt: skip
    fit(decoder.parameters(), loss, refining, latents.shape[1], span, anneal=True,
        description="refining the decoder", progress=progress)  # fmt: skip
    return decoder.cpu().eval()

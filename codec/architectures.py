"""Learned autoencoders by name: what the learned coding path (:mod:`codec.paths.learned`)
trains, one per song or per artist.

An architecture builds a fresh encoder, stereo audio ``(batch, 2, samples)`` to latents
``(batch, 64, samples / 4)``, and a decoder that maps them back; and says how many latent
steps of context a window needs on each side for its output to match the whole track's
(its receptive field, rounded up). Register one of your own with
:func:`register_architecture`; :mod:`codec.paths.learned` has an example that codes one.

>>> import torch
>>> encoder, decoder = ARCHITECTURES["post"].build()
>>> latents = encoder(torch.randn(1, 2, 1024))
>>> latents.shape, decoder(latents).shape
(torch.Size([1, 64, 256]), torch.Size([1, 2, 1024]))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

LATENT_CHANNELS = 64  # the post's interface: 64 channels at a quarter of the sample rate


@dataclass(frozen=True)
class Architecture:
    """A learned autoencoder's shape."""

    name: str
    build: Callable[[], tuple[nn.Module, nn.Module]]  # a fresh (encoder, decoder)
    context_steps: int  # latent steps of context a window needs on each side
    description: str = ""
    learning_rate: float = 2e-2  # Adam's, unless the caller's settings say otherwise


ARCHITECTURES: dict[str, Architecture] = {}


def register_architecture(
    name: str,
    build: Callable[[], tuple[nn.Module, nn.Module]],
    context_steps: int,
    description: str = "",
    learning_rate: float = 2e-2,
) -> Architecture:
    """Make an encoder/decoder pair trainable and codable by name (``--arch NAME``). Files
    coded with it name it, and decode wherever it is registered under that name."""
    architecture = Architecture(name, build, context_steps, description, learning_rate)
    ARCHITECTURES[name] = architecture
    return architecture


def _convolutions(hidden: int, kernel: int, signed: bool) -> tuple[nn.Module, nn.Module]:
    """Two strided convolutions (stride 2 each) and their transposed mirror, 'same'
    padding; ReLU between, and on the latents unless ``signed``."""
    pad = (kernel - 2) // 2

    def activation() -> nn.Module:
        return nn.PReLU(hidden) if signed else nn.ReLU()

    encoder = nn.Sequential(
        nn.Conv1d(2, hidden, kernel, stride=2, padding=pad),
        activation(),
        nn.Conv1d(hidden, LATENT_CHANNELS, kernel, stride=2, padding=pad),
        *([] if signed else [nn.ReLU()]),
    )
    decoder = nn.Sequential(
        nn.ConvTranspose1d(LATENT_CHANNELS, hidden, kernel, stride=2, padding=pad),
        activation(),
        nn.ConvTranspose1d(hidden, 2, kernel, stride=2, padding=pad),
    )
    return encoder, decoder


def _context_steps(kernel: int) -> int:
    """Latent steps that two layers of ``kernel`` taps (strides 2 and 4 in samples) see."""
    return -(-(1 + (kernel - 1) * 3) // 4) + 1


register_architecture(
    "post",
    lambda: _convolutions(hidden=32, kernel=4, signed=False),
    _context_steps(4),
    "the post exactly: two Conv1d (kernel 4, stride 2, 32 hidden, ReLU, ReLU latents)",
)
register_architecture(
    "signed",
    lambda: _convolutions(hidden=32, kernel=8, signed=True),
    _context_steps(8),
    "the post's shape with signed latents, PReLU and kernels of 8",
    learning_rate=5e-3,  # 2e-2 diverged with kernels of 16 (experiments.md)
)

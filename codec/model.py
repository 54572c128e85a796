"""The stereo autoencoder of the original post, and whole-track encoding and decoding.

Encoder: two strided ``Conv1d`` layers (kernel 4, stride 2, ReLU) turn stereo audio into
64-channel latents at a quarter of the sample rate; the decoder mirrors them with
``ConvTranspose1d``. :func:`encode_track` and :func:`decode_track` run a model over a
whole track in blocks, each block read with enough context on both sides that every
sample sees its full receptive field: block edges leave no trace in the output.

>>> model = Autoencoder(ModelConfig(hidden_channels=8))
>>> audio = torch.randn(2, 1000)
>>> latents = encode_track(model, audio, block_steps=64)
>>> latents.shape
torch.Size([64, 250])
>>> decode_track(model, latents, block_steps=64).shape
torch.Size([2, 1000])
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

STRIDE = 4  # audio samples per latent step


@dataclass(frozen=True)
class ModelConfig:
    """The autoencoder's shape; written into every ``.sae`` file."""

    hidden_channels: int = 32
    latent_channels: int = 64
    kernel_size: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.hidden_channels <= 1024 or not 1 <= self.latent_channels <= 1024:
            raise ValueError("hidden and latent channels must be between 1 and 1024")
        if self.kernel_size < 2 or self.kernel_size % 2 or self.kernel_size > 4096:
            raise ValueError("kernel_size must be even, from 2 to 4096")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        """Build from a file's configuration; unknown keys or bad values raise ValueError."""
        names = {f.name for f in fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"unknown model settings {sorted(unknown)}")
        if not all(type(v) is int for v in values.values()):
            raise ValueError("model settings must be integers")
        return cls(**values)

    @property
    def context_steps(self) -> int:
        """Latent steps of context a block needs on each side to match the whole track."""
        receptive_field = 1 + (self.kernel_size - 1) * (1 + 2)  # two layers, strides 1 and 2
        return math.ceil(receptive_field / STRIDE) + 1


class Autoencoder(nn.Module):
    """Encoder and decoder of the post, with 'same' padding so shapes stay a factor 4 apart."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        h, c, k = config.hidden_channels, config.latent_channels, config.kernel_size
        pad = (k - 2) // 2
        self.encoder = nn.Sequential(
            nn.Conv1d(2, h, k, stride=2, padding=pad),
            nn.ReLU(),
            nn.Conv1d(h, c, k, stride=2, padding=pad),
            nn.ReLU(),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose1d(c, h, k, stride=2, padding=pad),
            nn.ReLU(),
            nn.ConvTranspose1d(h, 2, k, stride=2, padding=pad),
        )


def _blockwise(layer: nn.Module, signal: torch.Tensor, block: int, context: int, scale: float):
    """Run ``layer`` over ``signal`` (channels, length) in blocks of ``block`` input
    positions, each read with ``context`` positions of zero-padded surroundings and the
    corresponding margin cut from its output; ``scale`` = output length / input length."""
    length = signal.shape[-1]
    padded = nn.functional.pad(signal, (context, context))
    out = []
    with torch.no_grad():
        for start in range(0, length, block):
            stop = min(start + block, length)
            piece = layer(padded[None, :, start : stop + 2 * context])[0]
            margin = round(context * scale)
            out.append(piece[:, margin : margin + round((stop - start) * scale)])
    return torch.cat(out, dim=-1)


def encode_track(model: Autoencoder, audio: torch.Tensor, block_steps: int = 1 << 14):
    """Float latents (latent channels, steps) of ``audio`` (2, 4 x steps), steps > 0."""
    context = model.config.context_steps * STRIDE
    return _blockwise(model.encoder, audio, block_steps * STRIDE, context, 1 / STRIDE)


def decode_track(model: Autoencoder, latents: torch.Tensor, block_steps: int = 1 << 14):
    """Audio (2, 4 x steps) from latents (latent channels, steps)."""
    return _blockwise(model.decoder, latents, block_steps, model.config.context_steps, STRIDE)

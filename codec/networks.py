"""The torch networks: the post's autoencoder; and running a network over a whole track
in blocks.

:func:`run_blockwise` reads each block with enough context on both sides that every
sample sees its full receptive field: block edges leave no trace in the output.

>>> network = PostAutoencoder()
>>> audio = torch.randn(2, 1000)
>>> latents = run_blockwise(network.encoder, audio, 64 * STRIDE, 3, 1 / STRIDE)
>>> latents.shape
torch.Size([64, 250])
>>> run_blockwise(network.decoder, latents, 64, 3, STRIDE).shape
torch.Size([2, 1000])
"""

from __future__ import annotations

import math

import torch
from torch import nn

from codec.pqmf import STRIDE

BLOCK_STEPS = 1 << 14  # latent steps a block: bounds the memory of a pass


class PostAutoencoder(nn.Module):
    """The original post's autoencoder: two ``Conv1d`` (kernel 4, stride 2, 32 hidden
    channels, ReLU, ReLU latents: 64 channels at a quarter rate) and their transposed
    mirror. Its convolutions pad with zeros ('SAME'), as the post's did."""

    hidden = 32
    latent = 64
    kernel = 4

    def __init__(self) -> None:
        super().__init__()
        h, c, k = self.hidden, self.latent, self.kernel
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

    @classmethod
    def context_steps(cls) -> int:
        """Latent steps of context a window needs on each side to match the whole track."""
        return math.ceil((1 + (cls.kernel - 1) * (1 + 2)) / STRIDE) + 1


def run_blockwise(
    layer, signal: torch.Tensor, block: int, context: int, scale: float
) -> torch.Tensor:
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

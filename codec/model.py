"""The stereo autoencoder, and whole-track encoding and decoding.

Encoder: two strided ``Conv1d`` layers (stride 2 each) turn stereo audio into 64-channel
latents at a quarter of the sample rate; the decoder mirrors them with ``ConvTranspose1d``.
The post's model (:meth:`ModelConfig.of_post`) has kernels of 4 and ReLUs, latents
included. The codec's model keeps the latents signed and starts from a critically sampled
filterbank (:func:`filterbank_init`): mid/side, then four bands per side at a quarter
rate (an extended lapped transform), in 8 of the 64 channels. The codec then takes a
lapped transform (:mod:`codec.transform`) along each latent channel's time axis,
``frame_steps`` latents a frame, which gives the frequency resolution that short
convolutions at a quarter rate cannot have.

:func:`encode_track` and :func:`decode_track` run a model over a whole track in blocks,
each block read with enough context on both sides that every sample sees its full
receptive field: block edges leave no trace in the output.

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
FILTERBANK_CHANNELS = 8  # latent channels the filterbank initialization uses


@dataclass(frozen=True)
class ModelConfig:
    """The autoencoder's shape; written into every ``.sae`` file."""

    hidden_channels: int = 16
    latent_channels: int = 64
    kernel_size: int = 8
    frame_steps: int = 512
    post: bool = False  # the post's ReLUs (hidden and latent) instead of PReLU, signed latents

    def __post_init__(self) -> None:
        if not 4 <= self.hidden_channels <= 1024 or not 8 <= self.latent_channels <= 1024:
            raise ValueError("hidden channels must be 4 to 1024, latent channels 8 to 1024")
        if self.kernel_size < 4 or self.kernel_size % 2 or self.kernel_size > 4096:
            raise ValueError("kernel_size must be even, from 4 to 4096")
        if self.frame_steps < 2 or self.frame_steps % 2 or self.frame_steps > 1 << 14:
            raise ValueError("frame_steps must be even, from 2 to 16384")

    @classmethod
    def of_post(cls) -> ModelConfig:
        """The original post's model: kernels of 4, 32 hidden channels, ReLU everywhere."""
        return cls(hidden_channels=32, kernel_size=4, post=True)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        """Build from a file's configuration; unknown keys or bad values raise ValueError."""
        names = {f.name: f.type for f in fields(cls)}
        unknown = set(values) - set(names)
        if unknown:
            raise ValueError(f"unknown model settings {sorted(unknown)}")
        for name, value in values.items():
            expected = bool if names[name] == "bool" else int
            if type(value) is not expected:
                raise ValueError(f"model setting {name} must be {expected.__name__}")
        return cls(**values)

    @property
    def context_steps(self) -> int:
        """Latent steps of context a block needs on each side to match the whole track."""
        receptive_field = 1 + (self.kernel_size - 1) * (1 + 2)  # two layers, strides 1 and 2
        return math.ceil(receptive_field / STRIDE) + 1


class Autoencoder(nn.Module):
    """Encoder and decoder with 'same' padding, so shapes stay a factor 4 apart.

    ``decoder_inputs`` is how many latent channels the decoder reads (the first ones):
    a file only carries decoder weights for channels that hold information.
    """

    def __init__(self, config: ModelConfig, decoder_inputs: int | None = None) -> None:
        super().__init__()
        self.config = config
        h, c, k = config.hidden_channels, config.latent_channels, config.kernel_size
        pad = (k - 2) // 2

        def activation() -> nn.Module:
            return nn.ReLU() if config.post else nn.PReLU(h, init=1.0)

        self.encoder = nn.Sequential(
            nn.Conv1d(2, h, k, stride=2, padding=pad),
            activation(),
            nn.Conv1d(h, c, k, stride=2, padding=pad),
            *([nn.ReLU()] if config.post else []),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose1d(decoder_inputs or c, h, k, stride=2, padding=pad),
            activation(),
            nn.ConvTranspose1d(h, 2, k, stride=2, padding=pad),
        )


def elt_basis(bands: int = 4) -> torch.Tensor:
    """(4 x bands, bands) basis of Malvar's extended lapped transform with overlap 2:
    orthonormal, like the MDCT, but with windows twice as long and sharper bands."""
    n = torch.arange(4 * bands, dtype=torch.float64)[:, None]
    k = torch.arange(bands, dtype=torch.float64)[None, :]
    window = -1 / (2 * math.sqrt(2)) + 0.5 * torch.cos((n + 0.5) * math.pi / (2 * bands))
    return (
        window
        * math.sqrt(2 / bands)
        * torch.cos((n + (bands + 1) / 2) * (k + 0.5) * math.pi / bands)
    )


def filterbank_init(model: Autoencoder) -> None:
    """Set the model to an orthonormal, critically sampled filterbank and its inverse.

    The first layer takes mid and side, (L +- R) / sqrt(2), split into even and odd
    samples; the second turns each pair into four bands at a quarter rate with a 16-tap
    extended lapped transform (:func:`elt_basis`). Latent channels 0-3 hold mid, 4-7 side;
    the others stay zero. The decoder is the exact adjoint, so before fitting it inverts
    the encoder.
    """
    k = model.config.kernel_size
    if k < 8:
        raise ValueError("the filterbank needs kernels of at least 8")
    pad = (k - 2) // 2
    first = torch.zeros_like(model.encoder[0].weight)  # (hidden, 2, k)
    second = torch.zeros_like(model.encoder[2].weight)  # (latent, hidden, k)
    r = 1 / math.sqrt(2)
    for side, (left, right) in enumerate([(r, r), (r, -r)]):
        for phase in range(2):  # hidden unit 2 side + phase reads sample 2t + phase
            first[2 * side + phase, 0, pad + phase] = left
            first[2 * side + phase, 1, pad + phase] = right
    basis = elt_basis(4)  # latent t's window covers samples 4t - 6 .. 4t + 9
    for side in range(2):
        for band in range(4):
            for n in range(16):
                step, phase = divmod(n, 2)  # sample 4t - 6 + n is hidden position 2t - 3 + step
                second[4 * side + band, 2 * side + phase, pad - 3 + step] = basis[n, band]
    inputs = model.decoder[0].weight.shape[0]
    with torch.no_grad():
        model.encoder[0].weight.copy_(first)
        model.encoder[2].weight.copy_(second)
        model.decoder[0].weight.copy_(second[:inputs])
        model.decoder[2].weight.copy_(first)
        for layer in (model.encoder[0], model.encoder[2], model.decoder[0], model.decoder[2]):
            layer.bias.zero_()


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
    """Audio (2, 4 x steps) from latents (decoder inputs, steps)."""
    return _blockwise(model.decoder, latents, block_steps, model.config.context_steps, STRIDE)

"""The original post, as written: its autoencoder fitted to a song on plain mean squared
error, latents left unquantized: no compression, a reference and an animation.

>>> from codec.settings import FitSettings
>>> audio = np.random.default_rng(0).standard_normal((4096, 2)).astype(np.float32)
>>> fit_post(audio, settings=FitSettings(iterations=2, batch_size=2)).shape
(4096, 2)
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from codec.audio import check_audio, to_channels, to_stereo
from codec.networks import BLOCK_STEPS, PostAutoencoder, run_blockwise
from codec.paths.base import OnFitStep
from codec.pqmf import STRIDE
from codec.settings import FitSettings
from codec.training import fit, windows

POST_LEARNING_RATE = FitSettings.of_post().learning_rate


def fit_post(
    audio: np.ndarray,
    *,
    settings: FitSettings = FitSettings.of_post(),
    progress: bool = False,
    on_fit_step: OnFitStep | None = None,
) -> np.ndarray:
    """The post's autoencoder (:class:`codec.networks.PostAutoencoder`) fitted to
    ``audio`` (frames, channels) on plain mean squared error, latents left unquantized.
    Returns the song it decodes, float32 (frames, channels). Its latents, 64 float32
    channels at a quarter rate, take 256 bits per sample: no compression.

    Its convolutions pad with zeros ('SAME'), as the post's did, so its song and
    ``on_fit_step``'s stretches (see :func:`codec.compress`) show the edge sag the post
    describes.
    """
    audio = check_audio(audio)
    settings = replace(settings, learning_rate=settings.learning_rate or POST_LEARNING_RATE)
    frames, channels = audio.shape
    stereo = to_stereo(audio)
    gain = float(np.sqrt(np.mean(stereo.astype(np.float64) ** 2))) or 1.0
    stereo = np.pad(stereo / gain, ((0, -frames % STRIDE), (0, 0)))  # whole latents
    signal = torch.from_numpy(np.ascontiguousarray(stereo.T, dtype=np.float32))
    torch.manual_seed(settings.seed)
    device = torch.device(settings.device)
    network = PostAutoencoder().to(device)
    margin = network.context_steps() * STRIDE
    span = settings.window + 2 * margin
    repeated = signal.repeat(1, -(-span // signal.shape[1])).to(device)

    def loss(starts: torch.Tensor) -> torch.Tensor:
        batch = windows(repeated, starts, span)
        error = (network.decoder(network.encoder(batch)) - batch)[..., margin:-margin]
        return error.pow(2).mean()

    def to_audio(decoded: np.ndarray) -> np.ndarray:
        return to_channels(decoded * np.float32(gain), channels)

    def reconstruct(start: int, count: int) -> np.ndarray:
        first = max(start - margin, 0) // STRIDE * STRIDE
        last = min(start + count + margin + -(start + count + margin) % STRIDE, len(stereo))
        window = signal[None, :, first:last].to(device)
        with torch.no_grad():
            out = network.decoder(network.encoder(window))[0].cpu().numpy().T
        return to_audio(out[start - first :][:count])

    def on_step(iteration: int) -> None:
        on_fit_step(iteration, reconstruct)

    fit(network.parameters(), loss, settings, repeated.shape[1], span, description="fitting",
        progress=progress, on_step=on_step if on_fit_step is not None else None)  # fmt: skip
    network = network.cpu().eval()
    context = network.context_steps()
    latents = run_blockwise(network.encoder, signal, BLOCK_STEPS * STRIDE, context * STRIDE,
                            1 / STRIDE)  # fmt: skip
    decoded = run_blockwise(network.decoder, latents, BLOCK_STEPS, context, STRIDE)
    return np.ascontiguousarray(to_audio(decoded.numpy().T[:frames]))

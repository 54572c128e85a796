"""The learned coding path: an autoencoder (the post's, or any registered architecture)
trained on each song for rate and distortion, its latents rounded and coded with integer
tables, its decoder in the file.

Learned per song (each segment): the encoder, the decoder and the rounding's offsets,
trained together (:mod:`codec.autoencoder`); the decoder's weights, rounded to a step per
tensor, go into the file and are counted. Measured per song: the tables that code the
rounded latents (:mod:`bitstream.learned`), from their own counts, so decoding never
evaluates a float probability and gives the same integers on any machine.

Any encoder/decoder pair codes once registered (:func:`codec.register_architecture`):

>>> import torch
>>> from codec import compress, decompress, register_architecture, snr_db
>>> from codec.settings import FitSettings
>>> def tiny():  # audio to 64 latent channels at a quarter rate, and back
...     return (torch.nn.Conv1d(2, 64, 4, stride=4), torch.nn.ConvTranspose1d(64, 2, 4, stride=4))
>>> _ = register_architecture("tiny", tiny, context_steps=1)
>>> t = np.arange(8000) / 8000
>>> audio = np.stack([np.sin(2 * np.pi * 220 * t)] * 2, axis=1).astype(np.float32)
>>> data = compress(audio, 8000, path=LearnedPath("tiny"), quality=10,
...                 settings=FitSettings(iterations=100, batch_size=8, window=512))
>>> decoded, _ = decompress(data)
>>> decoded.shape, snr_db(audio, decoded) > 10
((8000, 2), True)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from bitstream import FormatError, SharedModel
from bitstream.learned import (
    CONTEXTS,
    ENCODER,
    LatentTables,
    LearnedModel,
    model_sections,
    read_latents,
    read_model,
    segment_sections,
)
from bitstream.sae import SHARED_MODEL, segment_size
from bitstream.weights import pack_weights, unpack_weights
from codec.architectures import ARCHITECTURES, Architecture
from codec.audio import to_channels
from codec.autoencoder import TrainedAutoencoder, refine_decoder, train_autoencoder
from codec.networks import BLOCK_STEPS, run_blockwise
from codec.paths.base import EncodeOptions
from codec.pqmf import STRIDE
from codec.rate import RATE_TOLERANCE, Candidate, off_target, search_rate
from codec.segments import SegmentSignal, layout
from codec.settings import FitSettings

NAME = "learned"
WEIGHT_PRECISION = 2.0**-7  # a weight's step, x its tensor's rms: the rounding costs < 0.05 dB


@dataclass(frozen=True)
class LearnedPath:
    """The learned path with the architecture ``arch`` (by name, see
    :data:`codec.architectures.ARCHITECTURES`); decoding reads it from the file."""

    arch: str = "post"
    name: str = NAME
    fits_by_gradient = True  # its iterations, seed and device matter (codec.commands)

    @property
    def context_steps(self) -> int:
        return architecture_named(self.arch).context_steps

    def encode(self, signal: SegmentSignal, options: EncodeOptions) -> list[tuple[bytes, bytes]]:
        return encode(signal, options, architecture_named(self.arch))

    def decode(self, sections: dict[bytes, bytes], frames: int) -> np.ndarray:
        return decode(sections, frames)

    def train(
        self, signals: list[SegmentSignal], quality: float, settings: FitSettings, progress: bool
    ) -> SharedModel:
        return train(signals, quality, settings, progress, architecture_named(self.arch))

    def describe(self, sections: dict[bytes, bytes]) -> dict:
        model = read_model(sections)
        coded = sum(any(len(model.tables.table(c, k).frequencies) > 1 for k in range(CONTEXTS))
                    for c in range(len(model.offsets)))  # fmt: skip
        return {"arch": model.architecture, "coded_latent_channels": coded,
                "latent_step": model.step}  # fmt: skip


def architecture_named(name: str) -> Architecture:
    if name not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise FormatError(f"no architecture is named {name!r} (known: {known})")
    return ARCHITECTURES[name]


def encode(
    signal: SegmentSignal, options: EncodeOptions, architecture: Architecture
) -> list[tuple[bytes, bytes]]:
    """Code one segment, top to bottom: train the autoencoder, round its decoder's
    weights, encode the segment, search the latents' step for a size target, count the
    tables and entropy-code."""
    if options.shared is not None:
        return encode_shared(signal, options.shared)
    on_step = _animation(signal, architecture, options.on_fit_step)
    trained = train_autoencoder([signal.audio], architecture, options.quality,
                                options.settings, options.progress, on_step)  # fmt: skip
    latents = encode_track(trained.encoder, signal.audio, architecture)
    offsets = trained.offsets.numpy().astype(np.float32)
    quality, target = options.quality, options.bits_per_sample

    def coding(decoder: torch.nn.Module):
        weights = rounded_weights(decoder)
        return functools.partial(code_at, latents, offsets, weights, architecture.name, signal,
                                 options.quality)  # fmt: skip

    best = coding(trained.decoder)(quality)
    if target is not None:
        best = search_rate(coding(trained.decoder), target, quality)
    # the decoder, refined on the latents as they will be decoded, without the channels
    # that carry nothing; then the size target again, with its weights' bytes
    step, q = best.coded[1], best.coded[2]
    decoder = refine_decoder(trained.decoder, step * q.astype(np.float32) + offsets[:, None],
                             signal.audio, q.min(axis=1) < q.max(axis=1), architecture,
                             options.settings, options.progress)  # fmt: skip
    best = coding(decoder)(best.quality)
    if target is not None and abs(off_target(best.bits_per_sample, target)) > RATE_TOLERANCE:
        best = search_rate(coding(decoder), target, best.quality)
    return best.coded[0]


def code_at(latents, offsets, decoder, architecture: str, signal, trained_at, quality):
    """The segment's sections, the latents rounded to the step of ``quality`` (each
    quality step above ``trained_at``, the quality trained for, where the step is 1,
    divides it by sqrt 2), and their exact size."""
    step = float(np.float32(2.0 ** ((trained_at - quality) / 2)))  # as the file holds it
    q = np.round((latents - offsets[:, None]) / step).astype(np.int64)
    tables = LatentTables.counted(q)
    model = LearnedModel(architecture, decoder, step, offsets, tables)
    sections = model_sections(model) + segment_sections(q, tables)
    bits = 8 * segment_size(NAME, sections) / signal.samples
    return Candidate(quality, bits, 0.0, (sections, np.float32(step), q))


def encode_track(encoder: torch.nn.Module, audio: np.ndarray, architecture: Architecture):
    """Latents (64, steps), float32, of a whole segment's audio (2, 4 x steps)."""
    context = architecture.context_steps * STRIDE
    signal = torch.from_numpy(audio)
    return run_blockwise(encoder, signal, BLOCK_STEPS * STRIDE, context, 1 / STRIDE).numpy()


def decode_track(decoder: torch.nn.Module, latents: np.ndarray, architecture: Architecture):
    """Audio (2, 4 x steps), float32, of latents (64, steps)."""
    signal = torch.from_numpy(latents)
    return run_blockwise(decoder, signal, BLOCK_STEPS, architecture.context_steps, STRIDE).numpy()


def rounded_weights(network: torch.nn.Module) -> dict:
    """The network's weights as the file holds them: each tensor rounded to a step of its
    own, a fixed fraction of its rms."""
    tensors = {}
    for name, value in network.state_dict().items():
        values = value.double().numpy()
        rms = float(np.sqrt(np.mean(values**2))) if values.size else 0.0
        step = float(np.float32(WEIGHT_PRECISION * rms)) or 1.0
        tensors[name] = step, np.round(values / step).astype(np.int64)
    return tensors


def load_weights(network: torch.nn.Module, tensors: dict) -> torch.nn.Module:
    """``network`` with the weights of ``tensors``, or a FormatError if they do not fit."""
    state = network.state_dict()
    shapes = {name: tuple(value.shape) for name, value in state.items()}
    if {name: values.shape for name, (_, values) in tensors.items()} != shapes:
        raise FormatError("the weights do not fit the architecture the file names")
    weights = {name: (step * values).astype(np.float32) for name, (step, values) in tensors.items()}
    network.load_state_dict({name: torch.from_numpy(value) for name, value in weights.items()})
    return network.eval()


def _animation(signal: SegmentSignal, architecture: Architecture, on_fit_step):
    """What training calls after each iteration, for ``on_fit_step``: the segment's
    frames as the autoencoder, trained so far, codes them (rounded latents)."""
    if on_fit_step is None:
        return None

    def on_step(iteration: int, trained: TrainedAutoencoder) -> None:
        def reconstruct(first_frame: int, count: int) -> np.ndarray:
            margin = architecture.context_steps * STRIDE
            start = signal.left + first_frame
            first = max(start - margin, 0) // STRIDE * STRIDE
            last = min(-(-(start + count + margin) // STRIDE) * STRIDE, signal.audio.shape[1])
            window = torch.from_numpy(signal.audio[None, :, first:last])
            offsets = trained.offsets[:, None]
            with torch.no_grad():
                latents = torch.round(trained.encoder(window) - offsets) + offsets
                out = trained.decoder(latents)[0].numpy().T * signal.gain
            return to_channels(out[start - first :][:count], signal.channels)

        on_fit_step(iteration, reconstruct)

    return on_step


def train(
    signals: list[SegmentSignal],
    quality: float,
    settings: FitSettings,
    progress: bool,
    architecture: Architecture,
) -> SharedModel:
    """One autoencoder trained on several segments (an artist's songs), and tables that
    cover every integer (for songs they were not trained on); the model file holds the
    encoder too, to code new songs with."""
    trained = train_autoencoder([signal.audio for signal in signals], architecture, quality,
                                settings, progress)  # fmt: skip
    offsets = trained.offsets.numpy().astype(np.float32)
    q = [np.round(encode_track(trained.encoder, signal.audio, architecture) - offsets[:, None])
         for signal in signals]  # fmt: skip
    tables = LatentTables.counted(np.concatenate(q, axis=1).astype(np.int64), cover_all=True)
    model = LearnedModel(architecture.name, rounded_weights(trained.decoder), 1.0, offsets,
                         tables)  # fmt: skip
    encoder = pack_weights(rounded_weights(trained.encoder))
    return SharedModel(NAME, quality, dict([*model_sections(model), (ENCODER, encoder)]))


def encode_shared(signal: SegmentSignal, shared: SharedModel) -> list[tuple[bytes, bytes]]:
    """A segment coded with a shared model: nothing trained, its encoder and tables."""
    model = read_model(shared.sections)
    architecture = architecture_named(model.architecture)
    encoder = load_weights(architecture.build()[0], unpack_weights(shared.sections[ENCODER]))
    latents = encode_track(encoder, signal.audio, architecture)
    q = np.round((latents - model.offsets[:, None]) / model.step).astype(np.int64)
    return [(SHARED_MODEL, shared.digest), *segment_sections(q, model.tables)]


def decode(sections: dict[bytes, bytes], frames: int) -> np.ndarray:
    """The gain-normalized stereo audio (2, frames) of a segment's sections."""
    model = read_model(sections)
    architecture = architecture_named(model.architecture)
    q = read_latents(sections, model, frames)
    steps, left, _ = layout(frames, architecture.context_steps)
    if q.shape[1] != steps:
        raise FormatError(f"{q.shape[1]} latent steps for {frames} frames")
    if frames == 0:
        return np.zeros((2, 0), dtype=np.float32)
    decoder = load_weights(architecture.build()[1], model.decoder)
    latents = q.astype(np.float32) * np.float32(model.step) + model.offsets[:, None]
    return decode_track(decoder, latents, architecture)[:, left : left + frames]

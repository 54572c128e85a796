"""The public API: compress audio to ``.sae`` bytes and back, in memory or between files.

>>> rate = 8000
>>> t = np.arange(rate) / rate
>>> audio = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)], axis=1)
>>> data = compress(audio, rate, settings=FitSettings(iterations=20, batch_size=8))
>>> decoded, decoded_rate = decompress(data)
>>> decoded.shape, decoded_rate
((8000, 2), 8000)
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from bitstream import FormatError, SaeFile, read_sae, write_sae
from bitstream.context import reconstruction_levels
from codec.entropy_model import estimated_bits, index_bits
from codec.files import audio_format, check_output, read_audio, write_audio, write_bytes
from codec.fit import (
    DEFAULT_QUALITY,
    FitSettings,
    fit_decoder,
    fit_plain,
    quality_to_lambda,
    quantizer_step,
)
from codec.model import (
    FILTERBANK_CHANNELS,
    STRIDE,
    Autoencoder,
    ModelConfig,
    decode_track,
    encode_track,
    filterbank_init,
)
from codec.quantizer import quantize
from codec.transform import frame_count, imdct, mdct


class AudioError(ValueError):
    """The audio cannot be coded: wrong shape, too many channels, NaN or infinite samples."""


def _check_audio(audio: np.ndarray) -> np.ndarray:
    """``audio`` as float32 (frames, channels), or an :class:`AudioError` saying why not."""
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.ndim != 2:
        raise AudioError(f"audio must be shaped (frames, channels), not {audio.shape}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise AudioError(f"audio must hold floats in [-1, 1], not {audio.dtype}")
    if audio.shape[1] not in (1, 2):
        raise AudioError(
            f"sae codes mono or stereo audio; this has {audio.shape[1]} channels "
            "(split it into pairs first)"
        )
    if not np.all(np.isfinite(audio)):
        raise AudioError("audio holds NaN or infinite samples")
    return audio.astype(np.float32)


def snr_db(reference: np.ndarray, decoded: np.ndarray) -> float:
    """10 log10(signal energy / error energy) over all samples; inf for an exact copy."""
    reference = np.asarray(reference, dtype=np.float64)
    error = np.sum((reference - decoded) ** 2)
    return float(10 * np.log10(np.sum(reference**2) / error)) if error > 0 else float("inf")


def _padding(frames: int, config: ModelConfig) -> tuple[int, int, int]:
    """Latent steps and the (left, right) padding that frames them: a margin of
    ``context_steps`` latents on each side, so edge samples keep their full receptive field."""
    edge = config.context_steps
    steps = -(-frames // STRIDE) + 2 * edge
    return steps, edge * STRIDE, steps * STRIDE - frames - edge * STRIDE


FRAME_STEPS = (128, 256, 512, 1024)  # frame lengths along latent time a song may use
OnFitStep = Callable[[int, Callable[[int, int], np.ndarray]], None]


def compress(
    audio: np.ndarray,
    sample_rate: int,
    *,
    quality: float = DEFAULT_QUALITY,
    bits_per_sample: float | None = None,
    settings: FitSettings = FitSettings(),
    config: ModelConfig = ModelConfig(),
    progress: bool = False,
    on_fit_step: OnFitStep | None = None,
) -> bytes:
    """Fit a model to ``audio`` (frames, channels), code it, return the ``.sae`` bytes.

    ``quality`` trades bits for SNR (see :func:`codec.fit.quantizer_step`); or, with
    ``bits_per_sample``, the quality is searched so that the whole file comes within
    :data:`RATE_TOLERANCE` of that size (the decoder is fitted once, at the end: fitting
    never changes the size). Unless ``config.frame_steps`` pins it, the transform along
    latent time takes the frame length of :data:`FRAME_STEPS` that a quick estimate says
    costs least distortion + lambda x rate for this song: long frames for tonal music,
    short ones for dense music. ``settings`` says how to fit (iterations, seed, device),
    ``config`` what to fit. ``on_fit_step(iteration, reconstruct)`` is called before the
    decoder's first fitting iteration and after each: ``reconstruct(start, frames)`` is the
    audio of those frames as the decoder, fitted so far, decodes them.
    """
    audio = _check_audio(audio)
    if not 0 < sample_rate < 1 << 32:
        raise AudioError(f"sample rate {sample_rate} is out of range")
    if config.post:
        raise ValueError("the post's model has no quantizer; the codec needs ModelConfig()")
    frames, channels = audio.shape
    stereo = np.repeat(audio, 2 // channels, axis=1)
    gain = float(np.sqrt(np.mean(stereo.astype(np.float64) ** 2))) if frames else 0.0
    steps, left, right = _padding(frames, config)
    mode = "reflect" if frames else "constant"  # reflect: edge samples see music, not zeros
    padded = np.pad(stereo / (gain or 1.0), ((left, right), (0, 0)), mode=mode)
    signal = torch.from_numpy(np.ascontiguousarray(padded.T, dtype=np.float32))
    model = _filterbank(config, FILTERBANK_CHANNELS)
    start = {name: value.clone() for name, value in model.decoder.state_dict().items()}
    offsets = {name: torch.zeros_like(value) for name, value in start.items()}  # not fitted yet
    latents = encode_track(model, signal)[:FILTERBANK_CHANNELS].double().numpy()
    samples = max(frames * channels, 1)

    @functools.lru_cache(maxsize=1)  # one frame length's coefficients at a time: memory
    def transformed(frame_steps: int) -> np.ndarray:
        return mdct(latents, frame_steps)

    stages = tqdm(desc="quantizing", unit="pass", disable=not progress, leave=False)

    def estimate(quality: float, frame_steps: int) -> Candidate:
        """Plain rounding to one of the trellis's quantizers, priced by the fitted model:
        a quick stand-in for :func:`coded` (its rate comes out a little higher)."""
        coefficients, step = transformed(frame_steps), quantizer_step(quality)
        indices = np.round(coefficients / (2 * step)).astype(np.int64)
        error = np.sum((coefficients - 2 * indices * step) ** 2)
        bits = estimated_bits(indices) / samples
        stages.update()
        stages.set_postfix_str(f"estimate: frames of {frame_steps}, q {quality:.2f}, {bits:.3f}")
        return Candidate(quality, bits, error / samples, None)

    def coded(quality: float, frame_steps: int) -> Candidate:
        step = quantizer_step(quality)
        indices, entropy = quantize(transformed(frame_steps), step, quality_to_lambda(quality))
        error = np.sum((transformed(frame_steps) - reconstruction_levels(indices) * step) ** 2)
        # the transforms are (near) orthonormal: coefficient error is audio error
        weights, weight_step = _quantized(offsets, error / samples)
        sae = SaeFile(
            sample_rate=sample_rate,
            channels=channels,
            frames=frames,
            gain=gain or 1.0,
            quality=quality,
            step=step,
            latent_channels=config.latent_channels,
            latent_steps=steps,
            config=replace(config, frame_steps=frame_steps).to_dict(),
            weights=weights,
            weight_step=weight_step,
            model=entropy,
            coefficients=indices,
        )
        bits = 8 * len(write_sae(sae)) / samples
        stages.update()
        stages.set_postfix_str(f"trellis: frames of {frame_steps}, q {quality:.2f}, {bits:.3f}")
        return Candidate(quality, bits, error / samples, sae)

    if bits_per_sample is not None:  # a first guess of the quality, from the estimate
        guess = functools.partial(estimate, frame_steps=config.frame_steps or FRAME_STEPS[2])
        quality = _search_rate(guess, bits_per_sample, DEFAULT_QUALITY).quality
    lam = quality_to_lambda(quality)
    frame_steps = config.frame_steps or min(
        FRAME_STEPS, key=lambda f: estimate(quality, f).cost(lam)
    )
    code = functools.partial(coded, frame_steps=frame_steps)
    best = (
        code(quality) if bits_per_sample is None else _search_rate(code, bits_per_sample, quality)
    )
    stages.close()
    sae = best.sae
    if gain > 0:
        dequantized = imdct(reconstruction_levels(sae.coefficients) * sae.step, steps)
        dequantized = dequantized.astype(np.float32)
        bits = best.bits_per_sample if progress else None

        def reconstruct(start: int, count: int) -> np.ndarray:
            edge = config.context_steps  # latents of context on each side
            first = max((left + start) // STRIDE - edge, 0)
            last = min(-(-(left + start + count) // STRIDE) + edge, steps)
            window = torch.from_numpy(dequantized[None, :, first:last])
            with torch.no_grad():
                out = model.decoder(window.to(settings.device))[0].cpu().numpy().T * gain
            out = out[left + start - first * STRIDE :][:count]
            return out.mean(axis=1, keepdims=True) if channels == 1 else out

        def on_step(iteration: int, _: Autoencoder) -> None:
            on_fit_step(iteration, reconstruct)

        fit_decoder(
            model,
            torch.from_numpy(dequantized),
            signal,
            settings,
            progress,
            bits,
            on_step if on_fit_step is not None else None,
        )
        fitted = model.decoder.state_dict()
        offsets.update({name: fitted[name] - value for name, value in start.items()})
        sae.weights, sae.weight_step = _quantized(offsets, best.distortion)
        size = 8 * len(write_sae(sae)) / samples
        if bits_per_sample is not None and abs(np.log(size / bits_per_sample)) > RATE_TOLERANCE:
            # the weights' bytes moved the size off target (short files): search again,
            # now with the fitted weights in every coding
            sae = _search_rate(code, bits_per_sample, best.quality).sae
    return write_sae(sae)


class Candidate(NamedTuple):
    """One way of coding the song, with the decoder's weights as they stand."""

    quality: float
    bits_per_sample: float
    distortion: float  # mean squared error of the gain-normalized audio
    sae: SaeFile | None  # None for an estimate

    def cost(self, lam: float) -> float:
        return self.distortion + lam * self.bits_per_sample


RATE_TOLERANCE = 0.01
QUALITY_RANGE = (-8.0, 32.0)
RATE_SEARCH_STEPS = 8
LOG_RATE_PER_QUALITY = 0.25  # about how much log(size) grows a quality step: a first slope


def _search_rate(code, bits_per_sample: float, start: float) -> Candidate:
    """The coding whose size is nearest ``bits_per_sample``, searched from quality ``start``
    by the secant method on log(size), which is close to linear in the quality, until
    within RATE_TOLERANCE, after RATE_SEARCH_STEPS codings, or at an end of the range."""
    tried: list[Candidate] = []

    def miss(quality: float) -> float:
        tried.append(code(float(np.clip(quality, *QUALITY_RANGE))))
        return float(np.log(max(tried[-1].bits_per_sample, 1e-12) / bits_per_sample))

    error, slope = miss(start), LOG_RATE_PER_QUALITY
    while abs(error) > RATE_TOLERANCE and len(tried) < RATE_SEARCH_STEPS:
        previous = tried[-1].quality
        following = float(np.clip(previous - error / slope, *QUALITY_RANGE))
        if following == previous:
            break  # an end of the quality range, and the target lies beyond it
        next_error = miss(following)
        if next_error != error:
            slope = max((next_error - error) / (following - previous), 0.01)
        error = next_error
    return min(tried, key=lambda c: abs(np.log(max(c.bits_per_sample, 1e-12) / bits_per_sample)))


def decompress(data: bytes) -> tuple[np.ndarray, int]:
    """``(audio, sample_rate)`` from ``.sae`` bytes; audio is float32 (frames, channels)."""
    sae = read_sae(data)
    config = _file_config(sae)
    steps, left, _ = _padding(sae.frames, config)
    coded, frames, bins = sae.coefficients.shape
    if (sae.latent_steps, bins, frames) != (steps, config.frame_steps, frame_count(steps, bins)):
        raise FormatError(f"coefficients of shape {sae.coefficients.shape} for {sae.frames} frames")
    if config.post or sae.latent_channels != config.latent_channels or coded < 1:
        raise FormatError("the file's model is not one this codec decodes")
    if sae.frames == 0:
        return np.zeros((0, sae.channels), dtype=np.float32), sae.sample_rate
    try:
        model = _filterbank(config, coded)
        start = model.decoder.state_dict()
        if set(sae.weights) != set(start):
            raise ValueError(f"decoder weights named {sorted(sae.weights)}")
        step = sae.weight_step
        fitted = {name: start[name] + torch.from_numpy(sae.weights[name] * step) for name in start}
        model.decoder.load_state_dict(fitted)
    except (RuntimeError, ValueError) as error:
        raise FormatError(f"decoder weights do not fit the model: {error}") from None
    latents = np.empty((coded, steps), dtype=np.float32)
    for channel, indices in enumerate(sae.coefficients):  # a channel at a time: less memory
        latents[channel] = imdct(reconstruction_levels(indices[None]) * sae.step, steps)[0]
    decoded = decode_track(model, torch.from_numpy(latents))
    audio = decoded.numpy().T[left : left + sae.frames] * np.float32(sae.gain)
    if sae.channels == 1:
        audio = audio.mean(axis=1, keepdims=True)
    return np.ascontiguousarray(audio), sae.sample_rate


def fit_post(
    audio: np.ndarray,
    *,
    settings: FitSettings = FitSettings.of_post(),
    progress: bool = False,
    on_fit_step: OnFitStep | None = None,
) -> np.ndarray:
    """The original post, as written: its autoencoder (:meth:`ModelConfig.of_post`)
    fitted to ``audio`` (frames, channels) on plain mean squared error, latents left
    unquantized. Returns the song it decodes, float32 (frames, channels). Its latents,
    64 float32 channels at a quarter rate, take 256 bits per sample: no compression.

    Its convolutions pad with zeros ('SAME'), as the post's did, so its song and
    ``on_fit_step``'s stretches (see :func:`compress`) show the edge sag the post
    describes.
    """
    audio = _check_audio(audio)
    frames, channels = audio.shape
    stereo = np.repeat(audio, 2 // channels, axis=1)
    gain = float(np.sqrt(np.mean(stereo.astype(np.float64) ** 2))) or 1.0
    stereo = np.pad(stereo / gain, ((0, -frames % STRIDE), (0, 0)))  # whole latents
    signal = torch.from_numpy(np.ascontiguousarray(stereo.T, dtype=np.float32))
    config = ModelConfig.of_post()
    margin = config.context_steps * STRIDE

    def to_audio(decoded: np.ndarray) -> np.ndarray:
        decoded = decoded * np.float32(gain)
        return decoded.mean(axis=1, keepdims=True) if channels == 1 else decoded

    def on_step(iteration: int, model: Autoencoder) -> None:
        def reconstruct(start: int, count: int) -> np.ndarray:
            first = max(start - margin, 0) // STRIDE * STRIDE
            last = min(start + count + margin + -(start + count + margin) % STRIDE, len(stereo))
            window = signal[None, :, first:last].to(settings.device)
            with torch.no_grad():
                out = model.decoder(model.encoder(window))[0].cpu().numpy().T
            return to_audio(out[start - first :][:count])

        on_fit_step(iteration, reconstruct)

    step = on_step if on_fit_step is not None else None
    model = fit_plain(signal, config, settings, progress, step)
    decoded = decode_track(model, encode_track(model, signal)).numpy().T[:frames]
    return np.ascontiguousarray(to_audio(decoded))


@dataclass(frozen=True)
class CompressionReport:
    """What compressing a file cost and how close the decoded file comes back."""

    frames: int
    channels: int
    sample_rate: int
    bytes: int
    snr_db: float
    seconds: float

    @property
    def bits_per_sample(self) -> float:
        """Every byte of the file, x 8, per sample of each channel."""
        return 8 * self.bytes / max(self.frames * self.channels, 1)

    @property
    def kbps(self) -> float:
        return self.bits_per_sample * self.channels * self.sample_rate / 1000

    @property
    def ratio_to_pcm16(self) -> float:
        """How many times smaller than 16-bit PCM of the same audio."""
        return 16 / self.bits_per_sample if self.bytes else float("inf")

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "bits_per_sample": self.bits_per_sample,
            "kbps": self.kbps,
            "ratio_to_pcm16": self.ratio_to_pcm16,
        }


def compress_file(
    source: str | os.PathLike, target: str | os.PathLike, *, overwrite: bool = False, **options
) -> CompressionReport:
    """Compress the audio file ``source`` into ``target`` (.sae), written atomically.

    ``options`` are those of :func:`compress`. The report's SNR comes from decoding the
    file as written, not from the model's own estimate. A target that cannot be written
    is refused before any work.
    """
    check_output(target, overwrite, source)
    audio, rate = read_audio(source)
    started = time.perf_counter()
    data = compress(audio, rate, **options)
    seconds = time.perf_counter() - started
    write_bytes(target, data, overwrite)
    with open(target, "rb") as written:
        decoded, _ = decompress(written.read())
    frames, channels = audio.shape
    return CompressionReport(frames, channels, rate, len(data), snr_db(audio, decoded), seconds)


def decompress_file(
    source: str | os.PathLike, target: str | os.PathLike, *, overwrite: bool = False
) -> tuple[int, int, int]:
    """Decode the ``.sae`` file ``source`` into the audio file ``target`` (format by extension).

    Returns (frames, channels, sample rate) of what was written. A target that cannot be
    written is refused before any decoding.
    """
    audio_format(target)
    check_output(target, overwrite, source)
    with open(source, "rb") as handle:
        audio, rate = decompress(handle.read())
    write_audio(target, audio, rate, overwrite)
    return (*audio.shape, rate)


def describe(data: bytes) -> dict:
    """Header fields and section sizes of ``.sae`` bytes, without decoding the audio."""
    sae = read_sae(data, decode_latents=False)
    samples = sae.frames * sae.channels
    return {
        "sample_rate": sae.sample_rate,
        "channels": sae.channels,
        "frames": sae.frames,
        "seconds": sae.frames / sae.sample_rate,
        "bytes": len(data),
        "bits_per_sample": 8 * len(data) / samples if samples else 0.0,
        "kbps": 8 * len(data) * sae.sample_rate / sae.frames / 1000 if sae.frames else 0.0,
        "quality": sae.quality,
        "model": sae.config,
        "latent_channels": sae.latent_channels,
        "coded_latent_channels": int(sae.coefficients.shape[0]),
        "quantizer_step": sae.step,
        "sections": sae.section_bytes,
    }


class BitUsage(NamedTuple):
    """Where a file's coefficient bits go (their ideal code lengths under its tables)."""

    channel_names: list[str]  # the coded latent channels: which signal, which band
    channel_bits: np.ndarray  # per coded latent channel
    seconds: np.ndarray  # the middle of each transform frame
    kbps: np.ndarray  # each transform frame's bits over its hop


def bit_usage(data: bytes) -> BitUsage:
    """Bits per latent channel and over time of ``.sae`` bytes (decodes the indices)."""
    sae = read_sae(data)
    bits = index_bits(sae.coefficients, sae.model)
    coded, frames, hop = sae.coefficients.shape
    nyquist = sae.sample_rate / 2 / 1000
    names = [
        f"{('mid', 'side')[c // 4]} {nyquist * (c % 4) / 4:.3g}-{nyquist * (c % 4 + 1) / 4:.3g} kHz"
        if coded == FILTERBANK_CHANNELS
        else f"latent {c}"
        for c in range(coded)
    ]
    left = _padding(sae.frames, _file_config(sae))[1]
    hop_seconds = hop * STRIDE / sae.sample_rate
    seconds = (np.arange(frames) * hop * STRIDE - left) / sae.sample_rate
    kbps = bits.sum(axis=(0, 2)) / hop_seconds / 1000
    return BitUsage(names, bits.sum(axis=(1, 2)), seconds, kbps)


WEIGHT_STEP = 0.0095  # x the coding's rms error: the weights' rounding stays ~30 dB below it
SMALLEST_WEIGHT_STEP = 2.0**-20


def _quantized(offsets: dict[str, torch.Tensor], distortion: float) -> tuple[dict, float]:
    """The decoder's weight offsets as integers, and their step.

    The file holds the fitted decoder as offsets from the filterbank it starts from: small
    numbers, rounded to a step that grows with the coding's own error, so that they cost
    about 1 kB and change the SNR by less than 0.01 dB (measured on 60 s excerpts).
    """
    step = max(WEIGHT_STEP * float(np.sqrt(distortion)), SMALLEST_WEIGHT_STEP)
    integers = {name: np.round(value.double().numpy() / step) for name, value in offsets.items()}
    return {name: value.astype(np.int64) for name, value in integers.items()}, step


def _file_config(sae: SaeFile) -> ModelConfig:
    try:
        return ModelConfig.from_dict(sae.config)
    except (TypeError, ValueError) as error:
        raise FormatError(f"bad model configuration: {error}") from None


def _filterbank(config: ModelConfig, decoder_inputs: int) -> Autoencoder:
    """The model every file's decoder starts from: the filterbank and its inverse."""
    model = Autoencoder(config, decoder_inputs=decoder_inputs)
    filterbank_init(model)
    return model

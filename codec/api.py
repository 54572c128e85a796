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
import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from typing import NamedTuple

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from bitstream import FormatError, SaeSegment, SharedModel, read_segments, write_segment
from bitstream.context import reconstruction_levels
from bitstream.sae import MAX_SEGMENT_FRAMES
from codec.entropy_model import estimated_bits, index_bits
from codec.files import atomic_output, audio_format, audio_writer, check_output
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
from codec.quantizer import quantize, trellis_quantize
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
    return _energy_ratio_db(np.sum(reference**2), np.sum((reference - decoded) ** 2))


def _energy_ratio_db(signal: float, error: float) -> float:
    return float(10 * np.log10(signal / error)) if error > 0 else float("inf")


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
    shared: SharedModel | None = None,
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

    Audio longer than :data:`SEGMENT_FRAMES` is coded in segments, one after another,
    each with a model, tables and (with ``bits_per_sample``) rate search of its own, so
    that memory stays bounded whatever the length; ``on_fit_step`` then follows the first
    segment's fitting.

    With a ``shared`` model (:func:`codec.train_artist`) nothing is fitted: the audio is
    coded at the model's quality with its decoder and tables, and the file names the model
    instead of carrying one (:func:`decompress` then needs it too).
    """
    _check_rate(sample_rate)
    options = dict(quality=quality, bits_per_sample=bits_per_sample, settings=settings,
                   config=config, progress=progress, on_fit_step=on_fit_step,
                   shared=shared)  # fmt: skip
    blocks = blocks_of_array(audio, segment_margin(_coding_config(config, shared)))
    return b"".join(_compress_segments(blocks, sample_rate, **options))


def _coding_config(config: ModelConfig, shared: SharedModel | None) -> ModelConfig:
    """The model configuration a coding uses: the shared model's, if there is one."""
    if shared is None:
        return config
    return _file_config(shared.config)


SEGMENT_FRAMES = MAX_SEGMENT_FRAMES  # about 1.5 GB to compress one, at most 0.3 to decode


def _check_rate(sample_rate: int) -> None:
    if not 0 < sample_rate < 1 << 32:
        raise AudioError(f"sample rate {sample_rate} is out of range")


class SegmentAudio(NamedTuple):
    """One segment's audio, and the track's audio around it, which its coding sees (as
    the middle of a track would) so that segment edges leave no trace."""

    first: int  # where the segment starts in the track
    audio: np.ndarray
    before: np.ndarray  # at most a margin of frames just before the segment
    after: np.ndarray  # at most a margin of frames just after it; none after the last
    last: bool


def segment_margin(config: ModelConfig) -> int:
    """Frames of the track around a segment that its coding reads."""
    return min(_padding(0, config)[2] + STRIDE, SEGMENT_FRAMES)


def blocks_of_array(audio: np.ndarray, margin: int) -> Iterator[SegmentAudio]:
    """The segments of an array of audio."""
    audio = _check_audio(audio)
    starts = range(0, max(len(audio), 1), SEGMENT_FRAMES)
    for start in starts:
        stop = start + SEGMENT_FRAMES
        before, after = audio[max(start - margin, 0) : start], audio[stop : stop + margin]
        yield SegmentAudio(start, audio[start:stop], before, after, start == starts[-1])


def _blocks_of_file(audio_file: sf.SoundFile, margin: int) -> Iterator[SegmentAudio]:
    """The segments of an open audio file, read as it goes, one segment ahead."""

    def read() -> np.ndarray:
        return _check_audio(audio_file.read(SEGMENT_FRAMES, "float32", always_2d=True))

    first, block = 0, read()
    before = block[:0]
    while True:
        following = read()
        yield SegmentAudio(first, block, before, following[:margin], len(following) == 0)
        if len(following) == 0:
            return
        first, before, block = first + len(block), block[len(block) - margin :], following


def _compress_segments(
    blocks: Iterable[SegmentAudio],
    sample_rate: int,
    *,
    progress: bool = False,
    on_fit_step: OnFitStep | None = None,
    **options,
) -> Iterator[bytes]:
    """The ``.sae`` bytes of each segment, as :func:`compress` codes them."""
    bar = tqdm(desc="segments", unit="segment", disable=not progress, leave=False)
    for block in blocks:
        step = on_fit_step if block.first == 0 else None
        yield _compress_segment(block, sample_rate, progress=progress, on_fit_step=step,
                                **options)  # fmt: skip
        bar.update()
    bar.close()


def _compress_segment(
    block: SegmentAudio,
    sample_rate: int,
    *,
    quality: float = DEFAULT_QUALITY,
    bits_per_sample: float | None = None,
    settings: FitSettings = FitSettings(),
    config: ModelConfig = ModelConfig(),
    progress: bool = False,
    on_fit_step: OnFitStep | None = None,
    shared: SharedModel | None = None,
) -> bytes:
    """One segment of :func:`compress`."""
    if config.post:
        raise ValueError("the post's model has no quantizer; the codec needs ModelConfig()")
    if shared is not None:
        if bits_per_sample is not None:
            raise ValueError("a shared model codes at its own quality: no bits_per_sample")
        return _compress_shared(block, sample_rate, shared)
    frames, channels = block.audio.shape
    analysis = analyse_segment(block, config)
    signal, latents, gain, steps, left, model = analysis
    start = {name: value.clone() for name, value in model.decoder.state_dict().items()}
    offsets = {name: torch.zeros_like(value) for name, value in start.items()}  # not fitted yet
    samples = max(frames * channels, 1)

    @functools.lru_cache(maxsize=1)  # one frame length's coefficients at a time: memory
    def transformed(frame_steps: int) -> np.ndarray:
        return mdct(latents, frame_steps)

    stages = tqdm(desc="quantizing", unit="pass", disable=not progress, leave=False)

    def estimate(quality: float, frame_steps: int) -> Candidate:
        """Plain rounding to one of the trellis's quantizers, priced by the fitted model:
        a quick stand-in for :func:`coded` (its rate comes out a little higher)."""
        bits, error = rounded_cost(transformed(frame_steps), quality)
        bits /= samples
        stages.update()
        stages.set_postfix_str(f"estimate: frames of {frame_steps}, q {quality:.2f}, {bits:.3f}")
        return Candidate(quality, bits, error / samples, None)

    def coded(quality: float, frame_steps: int) -> Candidate:
        step = quantizer_step(quality)
        indices, entropy = quantize(transformed(frame_steps), step, quality_to_lambda(quality))
        error = np.sum((transformed(frame_steps) - reconstruction_levels(indices) * step) ** 2)
        # the transforms are (near) orthonormal: coefficient error is audio error
        weights, weight_step = quantized_offsets(offsets, error / samples)
        file_config = replace(config, frame_steps=frame_steps).to_dict()
        sae = _segment(block, sample_rate, config.latent_channels, analysis, quality, step,
                       indices, config=file_config, weights=weights, weight_step=weight_step,
                       model=entropy)  # fmt: skip
        bits = 8 * len(write_segment(sae)) / samples
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
        sae.weights, sae.weight_step = quantized_offsets(offsets, best.distortion)
        size = 8 * len(write_segment(sae)) / samples
        if bits_per_sample is not None and abs(np.log(size / bits_per_sample)) > RATE_TOLERANCE:
            # the weights' bytes moved the size off target (short files): search again,
            # now with the fitted weights in every coding
            sae = _search_rate(code, bits_per_sample, best.quality).sae
    return write_segment(sae)


class Analysis(NamedTuple):
    """A segment through the filterbank."""

    signal: torch.Tensor  # (2, 4 x steps): the audio over its gain, with its margins
    latents: np.ndarray  # (filterbank channels, steps), float64
    gain: float  # the audio's rms; 0 for silence
    steps: int
    left: int  # frames of margin before the audio
    model: Autoencoder  # the filterbank that made the latents, its decoder to be fitted


def analyse_segment(block: SegmentAudio, config: ModelConfig) -> Analysis:
    """The segment's audio over its gain, with its margins, through the filterbank."""
    frames, channels = block.audio.shape
    gain = float(np.sqrt(np.mean(block.audio.astype(np.float64) ** 2))) if frames else 0.0
    steps, left, right = _padding(frames, config)
    known_left, known_right = min(left, len(block.before)), min(right, len(block.after))
    before = block.before[len(block.before) - known_left :]
    around = [before, block.audio, block.after[:known_right]]
    stereo = np.repeat(np.concatenate(around), 2 // channels, axis=1) / (gain or 1.0)
    # where the track ends, odd reflection: edge samples see music that goes on smoothly,
    # not zeros or a kink (a kink costs bits and leaves a burst of error at the edge)
    pad = ((left - known_left, right - known_right), (0, 0))
    if frames:
        padded = np.pad(stereo, pad, mode="reflect", reflect_type="odd")
    else:
        padded = np.zeros((left + right, 2))
    signal = torch.from_numpy(np.ascontiguousarray(padded.T, dtype=np.float32))
    model = filterbank_model(config, FILTERBANK_CHANNELS)
    latents = encode_track(model, signal, channels=FILTERBANK_CHANNELS).double().numpy()
    return Analysis(signal, latents, gain, steps, left, model)


def rounded_cost(coefficients: np.ndarray, quality: float) -> tuple[float, float]:
    """(estimated bits, squared error) of plain rounding to one of the trellis's
    quantizers, priced by a model fitted to it: a quick stand-in for the trellis."""
    step = quantizer_step(quality)
    indices = np.round(coefficients / (2 * step)).astype(np.int64)
    return estimated_bits(indices), float(np.sum((coefficients - 2 * indices * step) ** 2))


def _segment(
    block: SegmentAudio,
    sample_rate: int,
    latent_channels: int,
    analysis: Analysis,
    quality: float,
    step: float,
    indices: np.ndarray,
    **model,
) -> SaeSegment:
    """A segment of coded ``indices``; ``model``: its config, weights, weight step and
    coefficient model (and the digest of a shared model)."""
    frames, channels = block.audio.shape
    return SaeSegment(
        sample_rate=sample_rate,
        channels=channels,
        first_frame=block.first,
        frames=frames,
        last=block.last,
        gain=analysis.gain or 1.0,
        quality=quality,
        step=step,
        latent_channels=latent_channels,
        latent_steps=analysis.steps,
        coefficients=indices,
        **model,
    )


def _compress_shared(block: SegmentAudio, sample_rate: int, shared: SharedModel) -> bytes:
    """A segment coded with a shared model: no fitting, the model's tables as they are."""
    config = _file_config(shared.config)
    analysis = analyse_segment(block, config)
    lam = quality_to_lambda(shared.quality)
    coefficients = mdct(analysis.latents, config.frame_steps)
    indices = trellis_quantize(coefficients, shared.step, lam, shared.model)
    sae = _segment(block, sample_rate, config.latent_channels, analysis, shared.quality,
                   shared.step, indices, config=shared.config, weights=shared.weights,
                   weight_step=shared.weight_step, model=shared.model,
                   model_digest=shared.digest)  # fmt: skip
    return write_segment(sae)


class Candidate(NamedTuple):
    """One way of coding the song, with the decoder's weights as they stand."""

    quality: float
    bits_per_sample: float
    distortion: float  # mean squared error of the gain-normalized audio
    sae: SaeSegment | None  # None for an estimate

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


def decompress(data: bytes, models: Iterable[SharedModel] = ()) -> tuple[np.ndarray, int]:
    """``(audio, sample_rate)`` from ``.sae`` bytes; audio is float32 (frames, channels).
    ``models``: shared models the file may name (:class:`bitstream.MissingModelError`
    if it names one that is not among them)."""
    segments = read_segments(data, models=_by_digest(models))
    first = next(segments)
    audio = np.concatenate([_decode_segment(first), *map(_decode_segment, segments)])
    return audio, first.sample_rate


def _by_digest(models: Iterable[SharedModel]) -> dict[bytes, SharedModel]:
    return {model.digest: model for model in models}


def _decode_segment(sae: SaeSegment) -> np.ndarray:
    """The audio of one segment, float32 (frames, channels)."""
    config = _file_config(sae.config)
    steps, left, _ = _padding(sae.frames, config)
    coded, frames, bins = sae.coefficients.shape
    if (sae.latent_steps, bins, frames) != (steps, config.frame_steps, frame_count(steps, bins)):
        raise FormatError(f"coefficients of shape {sae.coefficients.shape} for {sae.frames} frames")
    if config.post or sae.latent_channels != config.latent_channels or coded < 1:
        raise FormatError("the file's model is not one this codec decodes")
    if sae.frames == 0:
        return np.zeros((0, sae.channels), dtype=np.float32)
    try:
        model = filterbank_model(config, coded)
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
    return np.ascontiguousarray(audio)


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

    ``options`` are those of :func:`compress`. The audio is read, coded and written a
    segment at a time, so memory stays bounded whatever the length. The report's SNR comes
    from decoding the file as written (before it takes its final name), not from the
    model's own estimate. A target that cannot be written is refused before any work.
    """
    check_output(target, overwrite, source)
    started = time.perf_counter()
    with atomic_output(target, overwrite) as temp:
        with sf.SoundFile(source) as audio_file, open(temp, "wb") as out:
            rate, channels = audio_file.samplerate, audio_file.channels
            _check_rate(rate)
            config = _coding_config(options.get("config", ModelConfig()), options.get("shared"))
            blocks = _blocks_of_file(audio_file, segment_margin(config))
            for data in _compress_segments(blocks, rate, **options):
                out.write(data)
        seconds = time.perf_counter() - started
        signal = error = 0.0
        with sf.SoundFile(source) as audio_file, open(temp, "rb") as written:
            shared = [options["shared"]] if options.get("shared") else []
            for segment in read_segments(written, models=_by_digest(shared)):
                original = audio_file.read(segment.frames, "float32", always_2d=True)
                decoded = _decode_segment(segment)
                signal += float(np.sum(original.astype(np.float64) ** 2))
                error += float(np.sum((original.astype(np.float64) - decoded) ** 2))
            frames = audio_file.tell()
        size = os.path.getsize(temp)
    snr = _energy_ratio_db(signal, error)
    return CompressionReport(frames, channels, rate, size, snr, seconds)


def decompress_file(
    source: str | os.PathLike,
    target: str | os.PathLike,
    *,
    overwrite: bool = False,
    models: Iterable[SharedModel] = (),
) -> tuple[int, int, int]:
    """Decode the ``.sae`` file ``source`` into the audio file ``target`` (format by
    extension), a segment at a time: memory stays bounded whatever the length.

    Returns (frames, channels, sample rate) of what was written. A target that cannot be
    written is refused before any decoding; a damaged segment anywhere leaves no output.
    """
    audio_format(target)
    check_output(target, overwrite, source)
    with open(source, "rb") as handle:
        segments = read_segments(handle, models=_by_digest(models))
        first = next(segments)
        frames = 0
        with audio_writer(target, first.sample_rate, first.channels, overwrite) as write:
            for segment in itertools.chain([first], segments):
                audio = _decode_segment(segment)
                write(audio)
                frames += len(audio)
    return frames, first.channels, first.sample_rate


def describe(data: bytes) -> dict:
    """Header fields and section sizes of ``.sae`` bytes, without decoding the audio.
    ``quality`` is the first segment's (a rate target may set each segment's own)."""
    segments = list(read_segments(data, decode_latents=False))
    first = segments[0]
    frames = sum(segment.frames for segment in segments)
    samples = frames * first.channels
    return {
        "sample_rate": first.sample_rate,
        "channels": first.channels,
        "frames": frames,
        "seconds": frames / first.sample_rate,
        "bytes": len(data),
        "bits_per_sample": 8 * len(data) / samples if samples else 0.0,
        "kbps": 8 * len(data) * first.sample_rate / frames / 1000 if frames else 0.0,
        "quality": first.quality,
        "segments": len(segments),
        "model": first.config,
        "shared_model": first.model_digest.hex() if first.model_digest else None,
        "latent_channels": first.latent_channels,
        "coded_latent_channels": int(first.coefficients.shape[0]),
        "quantizer_step": first.step,
        "sections": {
            name: sum(segment.section_bytes[name] for segment in segments)
            for name in first.section_bytes
        },
    }


class BitUsage(NamedTuple):
    """Where a file's coefficient bits go (their ideal code lengths under its tables)."""

    channel_names: list[str]  # the coded latent channels: which signal, which band
    channel_bits: np.ndarray  # per coded latent channel
    seconds: np.ndarray  # the middle of each transform frame
    kbps: np.ndarray  # each transform frame's bits over its hop


def bit_usage(data: bytes, models: Iterable[SharedModel] = ()) -> BitUsage:
    """Bits per latent channel and over time of ``.sae`` bytes (decodes the indices)."""
    channel_bits, seconds, kbps = [], [], []
    for sae in read_segments(data, models=_by_digest(models)):
        if channel_bits and sae.coefficients.shape[0] != len(channel_bits[0]):
            raise FormatError(f"segment at frame {sae.first_frame} codes other latent channels")
        bits = index_bits(sae.coefficients, sae.model)
        coded, frames, hop = sae.coefficients.shape
        left = _padding(sae.frames, _file_config(sae.config))[1]
        hop_seconds = hop * STRIDE / sae.sample_rate
        start = sae.first_frame - left
        seconds.append((start + np.arange(frames) * hop * STRIDE) / sae.sample_rate)
        kbps.append(bits.sum(axis=(0, 2)) / hop_seconds / 1000)
        channel_bits.append(bits.sum(axis=(1, 2)))
    nyquist = sae.sample_rate / 2 / 1000
    names = [
        f"{('mid', 'side')[c // 4]} {nyquist * (c % 4) / 4:.3g}-{nyquist * (c % 4 + 1) / 4:.3g} kHz"
        if coded == FILTERBANK_CHANNELS
        else f"latent {c}"
        for c in range(coded)
    ]
    total = np.sum(channel_bits, axis=0)
    return BitUsage(names, total, np.concatenate(seconds), np.concatenate(kbps))


WEIGHT_STEP = 0.0095  # x the coding's rms error: the weights' rounding stays ~30 dB below it
SMALLEST_WEIGHT_STEP = 2.0**-20


def quantized_offsets(offsets: dict[str, torch.Tensor], distortion: float) -> tuple[dict, float]:
    """The decoder's weight offsets as integers, and their step.

    The file holds the fitted decoder as offsets from the filterbank it starts from: small
    numbers, rounded to a step that grows with the coding's own error, so that they cost
    about 1 kB and change the SNR by less than 0.01 dB (measured on 60 s excerpts).
    """
    step = max(WEIGHT_STEP * float(np.sqrt(distortion)), SMALLEST_WEIGHT_STEP)
    integers = {name: np.round(value.double().numpy() / step) for name, value in offsets.items()}
    return {name: value.astype(np.int64) for name, value in integers.items()}, step


def _file_config(config: dict) -> ModelConfig:
    try:
        return ModelConfig.from_dict(config)
    except (TypeError, ValueError) as error:
        raise FormatError(f"bad model configuration: {error}") from None


def filterbank_model(config: ModelConfig, decoder_inputs: int) -> Autoencoder:
    """The model every file's decoder starts from: the filterbank and its inverse."""
    model = Autoencoder(config, decoder_inputs=decoder_inputs)
    filterbank_init(model)
    return model

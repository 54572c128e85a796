"""The filterbank coding path, the codec's default: what is designed, and what is fitted.

Designed (the same for every song):

- **analysis** (:mod:`codec.pqmf`): mid/side, then four bands per side at a quarter rate,
  a critically sampled cosine-modulated filterbank in 8 of the 64 latent channels;
- **transform**: an MDCT along each latent channel's time axis, ``bins`` latents a frame,
  chosen for each channel (:mod:`codec.transform`), 128 to 1024 frequency bins per band;
- **quantizer** (:mod:`codec.quantizer`): 8-state trellis-coded quantization;
- **coder** (:mod:`bitstream.context`): the indices coded by context, with integer tables.

Fitted to each song (each segment): the frame length of each latent channel (a quick
estimate of distortion + lambda x rate picks one of :data:`FRAME_STEPS`: a band of a tonal
bass may want long frames while the bands above want short ones), the entropy tables
(:mod:`codec.entropy_model`), and the decoder's first layer, which starts as the
filterbank's exact inverse and is fitted, in closed form, to turn the song's quantized
latents back into the song (:mod:`codec.refine`); its offsets go into the file.

Nothing here needs torch: analysis, fitting and synthesis are numpy.

>>> from codec.segments import blocks_of_array, coding_signal
>>> t = np.arange(8000) / 8000
>>> audio = np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1).astype(np.float32)
>>> path = FilterbankPath(frame_steps=64)
>>> signal = coding_signal(next(blocks_of_array(audio, 0, 8000)), path.context_steps)
>>> sections = dict(path.encode(signal, EncodeOptions(quality=7, settings=FitSettings(0))))
>>> sorted(sections)
[b'CTXM', b'LATS', b'LAYT', b'QUAN', b'ROTN', b'TABL', b'WGTS']
>>> path.decode(sections, frames=8000).shape
(2, 8000)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from bitstream import FormatError, SharedModel
from bitstream.filterbank import (
    FilterbankModel,
    FilterbankSegment,
    model_sections,
    read_angles,
    read_model,
    read_segment,
    segment_sections,
)
from bitstream.noise import empty
from bitstream.sae import SHARED_MODEL, segment_size
from codec.audio import to_channels
from codec.entropy_model import estimated_bits, fit_tables
from codec.masking import bin_scales, scale_factors
from codec.noise import noise_fill, with_noise
from codec.paths.base import EncodeOptions
from codec.paths.framing import FRAME_STEPS, choose_frame_steps, choose_rotation, transform
from codec.pqmf import (
    CODED_CHANNELS,
    CONTEXT_STEPS,
    STRIDE,
    analyse,
    hidden_of,
    synthesis_start,
    synthesize,
)
from codec.quantizer import (
    dequantize,
    quality_to_lambda,
    quantize,
    quantizer_step,
    round_to_q0,
    trellis_quantize,
)
from codec.rate import RATE_TOLERANCE, Candidate, off_target, search_rate
from codec.refine import fit_synthesis
from codec.segments import SegmentSignal, layout
from codec.settings import FitSettings
from codec.stereo import rotate, turns_described
from codec.transform import imdct, mdct

NAME = "filterbank"
TUNES = ("snr", "listen")
NOISE_SEED = 1  # the noise generator's, in the file: an encoder may choose another
SYNTHESIS = "synthesis"  # the decoder's first layer, as WGTS names its offsets
WEIGHT_STEP = 0.0095  # x the coding's rms error: the weights' rounding stays ~30 dB below it
SMALLEST_WEIGHT_STEP = 2.0**-20


@dataclass(frozen=True)
class FilterbankPath:
    """The filterbank path; ``frame_steps`` pins the transform's frame length (latent
    steps, a multiple of 4) in every channel, which is otherwise chosen per song and
    channel; ``tune`` says what it codes for: the SNR (the default), or a listener
    (:mod:`codec.noise`), which takes one frame length for all channels."""

    frame_steps: int | None = None
    tune: str = "snr"  # or "listen": regions left at zero are filled with noise
    name: str = NAME
    context_steps: int = CONTEXT_STEPS

    def __post_init__(self) -> None:
        if self.tune not in TUNES:
            raise ValueError(f"tune must be one of {', '.join(TUNES)}, not {self.tune!r}")

    def encode(self, signal: SegmentSignal, options: EncodeOptions) -> list[tuple[bytes, bytes]]:
        return encode(signal, options, self.frame_steps, self.tune == "listen")

    def decode(self, sections: dict[bytes, bytes], frames: int) -> np.ndarray:
        return decode(sections, frames)

    def train(
        self, signals: list[SegmentSignal], quality: float, settings: FitSettings, progress: bool
    ) -> SharedModel:
        return train(signals, quality, settings, progress, self.frame_steps)

    def describe(self, sections: dict[bytes, bytes]) -> dict:
        model = read_model(sections)
        return {"arch": NAME, "coded_latent_channels": model.coded_channels,
                "transform_bins": list(model.bins), "quantizer_step": model.step,
                "stereo_turns": turns_described(read_angles(sections))}  # fmt: skip


def encode(
    signal: SegmentSignal,
    options: EncodeOptions,
    frame_steps: int | None = None,
    listen: bool = False,
) -> list[tuple[bytes, bytes]]:
    """Code one segment, top to bottom: analyse, choose the frame length, quantize and
    search the rate, fit the decoder, entropy-code."""
    latents = analyse(signal.audio)
    if options.shared is not None:
        return encode_shared(signal, latents, options)
    passes = tqdm(desc="quantizing", unit="pass", disable=not options.progress, leave=False)
    quality, target = options.quality, options.bits_per_sample
    if target is not None:  # a first guess of the quality, from the quick estimate
        guess = _counted(passes, estimate, mdct(latents, frame_steps or FRAME_STEPS[2]), signal)
        quality = search_rate(guess, target, quality).quality
    # noise filling and scale factors work on one frame length
    angles, bins = choose_rotation(latents, quality, each_channel=not listen)
    if frame_steps is not None:
        bins = (frame_steps,) * CODED_CHANNELS
    coefficients = transform([rotate(latents, angles)], bins)
    scales = scale_factors(np.stack(coefficients)) if listen else None
    unfitted = np.zeros(synthesis_start().shape)
    code = _counted(passes, code_at, coefficients, angles, signal, scales, unfitted)
    best = code(quality) if target is None else search_rate(code, target, quality)
    passes.close()
    if signal.gain > 0:  # fitting the decoder is what the path learns of the song
        best, offsets = fit(signal, latents, best, options)
        if target is not None and abs(off_target(best.bits_per_sample, target)) > RATE_TOLERANCE:
            # the weights' bytes moved the size off target (short files): search again,
            # now with the fitted weights in every coding
            code = functools.partial(code_at, coefficients, angles, signal, scales, offsets)
            best = search_rate(code, target, best.quality)
    return best.coded[1]


def _counted(passes: tqdm, coding, *arguments):
    """``coding`` with its leading ``arguments``, each call a pass on the ``passes`` bar."""

    def run(quality: float) -> Candidate:
        candidate = coding(*arguments, quality)
        passes.update()
        passes.set_postfix_str(f"q {quality:.2f}: {candidate.bits_per_sample:.3f} bits/sample")
        return candidate

    return run


def estimate(coefficients: np.ndarray, signal: SegmentSignal, quality: float) -> Candidate:
    """Plain rounding to one of the trellis's quantizers, priced by tables fitted to it: a
    quick stand-in for :func:`code_at` (its rate comes out a little higher)."""
    bits, error = _rounded_cost(coefficients, quality)
    return Candidate(quality, bits / signal.samples, error / signal.samples)


def _rounded_cost(coefficients: np.ndarray, quality: float) -> tuple[float, float]:
    step = quantizer_step(quality)
    indices = round_to_q0(coefficients, step)
    return estimated_bits(indices), float(np.sum((coefficients - 2 * indices * step) ** 2))


def code_at(
    coefficients: list[np.ndarray],
    angles: tuple[tuple[int, ...], ...],
    signal: SegmentSignal,
    scales: np.ndarray | None,
    offsets: np.ndarray,
    quality: float,
) -> Candidate:
    """The segment, its coefficients (frames, bins) of each channel (its band pairs turned
    by ``angles``), coded at ``quality``
    with the decoder's weight ``offsets``, and, for a listener, with scale factors
    ``scales`` (:mod:`codec.masking`) and noise levels: its sections, and their exact
    size."""
    step, lam = quantizer_step(quality), quality_to_lambda(quality)
    bins = tuple(np.shape(channel)[1] for channel in coefficients)
    noise = None
    if scales is None:
        indices, tables = quantize(coefficients, step, lam)
        # the transforms are (near) orthonormal: coefficient error is audio error
        error = sum(float(np.sum((x - dequantize(k, step)) ** 2))
                    for x, k in zip(coefficients, indices, strict=True))  # fmt: skip
    else:  # one frame length (choose_frame_steps): the channels as one array
        multipliers = bin_scales(scales, bins[0])
        # the trellis weighs each region's error by its scale factor's square: it spends
        # the bits where the scale factors say the error is heard
        scaled = np.stack(coefficients) / multipliers
        indices, tables = quantize(scaled, step, lam)
        error = float(np.sum(((scaled - dequantize(indices, step)) * multipliers) ** 2))
        noise = noise_fill(scaled, indices, step, NOISE_SEED)
    distortion = error / signal.samples
    model = FilterbankModel(step, bins, *weight_integers(offsets, distortion), tables)
    segment = FilterbankSegment(model, signal.steps, tuple(indices), angles, noise, scales)
    sections = model_sections(model) + segment_sections(segment)
    bits = 8 * segment_size(NAME, sections) / signal.samples
    return Candidate(quality, bits, distortion, (segment, sections))


def fit(
    signal: SegmentSignal, latents: np.ndarray, best: Candidate, options: EncodeOptions
) -> tuple[Candidate, np.ndarray]:
    """``best`` (coded with the decoder as it starts) with its decoder's first layer fitted
    to the segment's dequantized latents (:mod:`codec.refine`), and the layer's offsets
    from where it starts; ``best`` itself and zero offsets where the fit does not pay for
    its bytes."""
    segment: FilterbankSegment = best.coded[0]
    dequantized = latents_of(segment.indices, segment.model.step, signal.steps,
                             segment.angles, scales=segment.scales)  # fmt: skip
    start = synthesis_start()
    fitted = fit_synthesis(*_decoded_part(signal, dequantized, hidden_of(signal.audio)))
    # kept where it lowers distortion + lambda x rate as decoded: its weights cost about
    # 1 kB a segment (a short file at a low rate may not gain that much), and its fit
    # takes zeros beyond the segment's ends, where the decoder reads the margins' latents
    # (on a few pure tones, whose fit is ill-conditioned, that cost more than it gained)
    lam = quality_to_lambda(best.quality)
    offsets = fitted.astype(np.float64) - start
    with_fit = refit_weights(best, offsets, signal)
    if (_decoded_error(signal, dequantized, fitted) / signal.samples
            + lam * with_fit.bits_per_sample) >= (
            _decoded_error(signal, dequantized, start) / signal.samples
            + lam * best.bits_per_sample):  # fmt: skip
        fitted, with_fit, offsets = start, best, np.zeros(start.shape)
    if options.on_fit_step is not None:  # before and after: the fit has no iterations
        for iteration, layer in enumerate((start, fitted)):
            options.on_fit_step(iteration, _reconstruct(signal, dequantized, layer))
    return with_fit, offsets


def _decoded_error(signal: SegmentSignal, dequantized: np.ndarray, layer: np.ndarray) -> float:
    """The squared error of the segment, its margins cut, as the decoder ``layer`` decodes
    its dequantized latents."""
    inside = slice(STRIDE * CONTEXT_STEPS, STRIDE * (signal.steps - CONTEXT_STEPS))
    decoded = synthesize(dequantized.astype(np.float32), layer)
    return float(np.sum((decoded[:, inside] - signal.audio[:, inside]) ** 2))


def _decoded_part(signal: SegmentSignal, latents: np.ndarray, hidden: np.ndarray):
    """The latents and hidden signal of the segment itself, its margins cut: the margins
    are never decoded, and their error (reflected audio at a track's ends) would pull the
    fit away from the music."""
    inside = slice(CONTEXT_STEPS, signal.steps - CONTEXT_STEPS)
    return latents[:, inside], hidden[:, 2 * inside.start : 2 * inside.stop]


def _reconstruct(signal: SegmentSignal, dequantized: np.ndarray, layer: np.ndarray):
    """A function giving frames of the segment as the decoder ``layer`` decodes them."""

    def reconstruct(first_frame: int, count: int) -> np.ndarray:
        start = signal.left + first_frame
        first = max(start // STRIDE - CONTEXT_STEPS, 0)
        last = min(-(-(start + count) // STRIDE) + CONTEXT_STEPS, signal.steps)
        out = synthesize(dequantized[:, first:last].astype(np.float32), layer)
        out = out.T[start - first * STRIDE :][:count] * signal.gain
        return to_channels(out, signal.channels)

    return reconstruct


def weight_integers(offsets: np.ndarray, distortion: float) -> tuple[dict, float]:
    """The decoder's weight offsets as integers, named as the file holds them, and their
    step: rounded to a step that grows with the coding's own error, so that they cost
    about 1 kB and change the SNR by less than 0.01 dB (measured on 60 s excerpts). The step
    is a whole number of quarter octaves: the distortion's last bits differ with the BLAS's
    thread count (a Dask worker has one), and the file must not."""
    target = max(WEIGHT_STEP * float(np.sqrt(distortion)), SMALLEST_WEIGHT_STEP)
    step = 2.0 ** (round(4 * math.log2(target)) / 4)
    return {SYNTHESIS: np.round(offsets / step).astype(np.int64)}, step


def refit_weights(best: Candidate, offsets: np.ndarray, signal: SegmentSignal) -> Candidate:
    """``best`` with the fitted decoder's weights in its WGTS section."""
    segment, sections = best.coded
    weights, weight_step = weight_integers(offsets, best.distortion)
    model = FilterbankModel(segment.model.step, segment.model.bins, weights, weight_step,
                            segment.model.tables)  # fmt: skip
    segment = FilterbankSegment(model, segment.latent_steps, segment.indices, segment.angles,
                                segment.noise, segment.scales)  # fmt: skip
    new = dict(model_sections(model))
    sections = [(tag, new.get(tag, payload)) for tag, payload in sections]
    bits = 8 * segment_size(NAME, sections) / signal.samples
    return best._replace(bits_per_sample=bits, coded=(segment, sections))


def train(
    signals: list[SegmentSignal],
    quality: float,
    settings: FitSettings,
    progress: bool = False,
    frame_steps: int | None = None,
) -> SharedModel:
    """One model fitted to several segments (an artist's songs) at one quality: the frame
    length and the tables (covering every symbol, for songs they were not fitted to).
    Nothing of ``settings`` is used: nothing here is fitted by gradient."""
    latents = []
    for signal in signals:  # each song turned as it will be coded
        analysed = analyse(signal.audio)
        latents.append(rotate(analysed, choose_rotation(analysed, quality)[0]))
    step, lam = quantizer_step(quality), quality_to_lambda(quality)
    if frame_steps is not None:
        bins = (frame_steps,) * CODED_CHANNELS
    else:
        bins = choose_frame_steps(latents, quality)
    indices, _ = quantize(transform(latents, bins), step, lam)
    tables = fit_tables(indices, cover_all=True)
    # the decoder stays the designed inverse: its fit corrects one song's quantization
    # error, and fitted to tones it cost a song of noise 7.6 dB (tests/test_artist.py)
    weights, weight_step = weight_integers(np.zeros(synthesis_start().shape), 1.0)
    model = FilterbankModel(step, bins, weights, weight_step, tables)
    return SharedModel(NAME, quality, dict(model_sections(model)))


def encode_shared(signal: SegmentSignal, latents: np.ndarray, options: EncodeOptions):
    """A segment coded with a shared model: nothing fitted, the model's tables as they are."""
    shared = options.shared
    model = read_model(shared.sections)
    angles = choose_rotation(latents, shared.quality)[0]
    coefficients = transform([rotate(latents, angles)], model.bins)
    lam = quality_to_lambda(shared.quality)
    guess = [round_to_q0(channel, model.step) for channel in coefficients]
    indices = trellis_quantize(coefficients, model.step, lam, model.tables, guess)
    segment = FilterbankSegment(model, signal.steps, tuple(indices), angles)
    return [(SHARED_MODEL, shared.digest), *segment_sections(segment)]


def latents_of(
    indices: tuple[np.ndarray, ...],
    step: float,
    steps: int,
    angles: tuple[tuple[int, ...], ...],
    dtype=np.float64,
    noise=None,
    scales=None,
) -> np.ndarray:
    """The dequantized latents (channels, steps) of trellis indices, each channel's
    (frames, bins), with the regions left at zero filled where ``noise`` (a
    :class:`NoiseFill`) says and each region scaled by its scale factor, a channel at a
    time (the intermediate arrays are as large as the channel), and each band pair turned
    back by its angle."""
    latents = np.empty((len(indices), steps), dtype)
    if noise is not None:
        ends = np.cumsum([empty(rows[None], noise.first).sum() for rows in indices])
    for channel, rows in enumerate(indices):
        coefficients = dequantize(rows, step)
        if noise is not None:
            mine = noise._replace(levels=noise.levels[(ends[channel - 1] if channel else 0)
                                                      : ends[channel]],
                                  holes=noise.holes[channel : channel + 1])  # fmt: skip
            coefficients = with_noise(coefficients[None], rows[None], step, mine,
                                      position=channel * rows.size)[0]  # fmt: skip
        if scales is not None:
            coefficients = coefficients * bin_scales(scales, rows.shape[1])[channel]
        latents[channel] = imdct(coefficients, steps)
    return rotate(latents, angles, inverse=True, in_place=True)


def decode(sections: dict[bytes, bytes], frames: int) -> np.ndarray:
    """The gain-normalized stereo audio (2, frames) of a segment's sections."""
    segment = read_segment(sections, frames)
    model = segment.model
    steps, left, _ = layout(frames, CONTEXT_STEPS)
    coded = len(segment.indices)
    if segment.latent_steps != steps:
        raise FormatError(f"{segment.latent_steps} latent steps for {frames} frames")
    if coded != CODED_CHANNELS:
        raise FormatError(f"{coded} coded latent channels; the filterbank has {CODED_CHANNELS}")
    start = synthesis_start()
    if set(model.weights) != {SYNTHESIS} or model.weights[SYNTHESIS].shape != start.shape:
        raise FormatError("decoder weights do not fit the filterbank's decoder")
    if frames == 0:
        return np.zeros((2, 0), dtype=np.float32)
    layer = (start + model.weights[SYNTHESIS] * model.weight_step).astype(np.float32)
    latents = latents_of(segment.indices, model.step, steps, segment.angles, np.float32,
                         segment.noise, segment.scales)  # fmt: skip
    del segment  # its indices, as large as the latents, are not needed to synthesize
    return synthesize(latents, layer)[:, left : left + frames]

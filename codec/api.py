"""The public API: compress audio to ``.sae`` bytes and back, in memory or between files.

>>> rate = 8000
>>> t = np.arange(rate) / rate
>>> audio = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)], axis=1)
>>> data = compress(audio, rate, settings=FitSettings(iterations=20, batch_size=8))
>>> decoded, decoded_rate = decompress(data)
>>> decoded.shape, decoded_rate, snr_db(audio, decoded) > 30
((8000, 2), 8000, True)
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import BinaryIO

import numpy as np
import soundfile as sf
from tqdm import tqdm

from bitstream import Segment, SegmentHeader, SharedModel, read_segments, write_segment
from bitstream.sae import MAX_SEGMENT_FRAMES, Source, source_size
from codec.audio import check_rate, energy_ratio_db, snr_db, to_channels
from codec.files import (
    audio_format,
    audio_writer,
    check_output,
    is_stream,
    output_file,
    output_subtype,
    source_of,
)
from codec.paths import DEFAULT_PATH, CodingPath, EncodeOptions, OnFitStep, path_named
from codec.quantizer import DEFAULT_QUALITY
from codec.segments import (
    SegmentAudio,
    blocks_of_array,
    blocks_of_file,
    coding_signal,
    margin_frames,
)
from codec.settings import FitSettings

__all__ = ["compress", "compress_file", "decompress", "decompress_file", "snr_db"]


def compress(
    audio: np.ndarray,
    sample_rate: int,
    *,
    path: str | CodingPath = DEFAULT_PATH,
    quality: float = DEFAULT_QUALITY,
    bits_per_sample: float | None = None,
    settings: FitSettings = FitSettings(),
    progress: bool = False,
    on_fit_step: OnFitStep | None = None,
    shared: SharedModel | None = None,
    segment_frames: int = MAX_SEGMENT_FRAMES,
    source: Source | None = None,
) -> bytes:
    """Code ``audio`` (frames, channels), mono or stereo floats, and return the ``.sae``
    bytes.

    ``path`` is the coding path, by name or as an object (:mod:`codec.paths`). ``quality``
    trades bits for SNR (:func:`codec.quantizer.quantizer_step`); or, with
    ``bits_per_sample``, the quality is searched so that each segment comes within 1 % of
    that size, every byte counted. ``settings`` says how the path fits what it fits (its
    iterations, seed, device); ``on_fit_step(iteration, reconstruct)`` is called before
    the first segment's first fitting iteration and after each, ``reconstruct(start,
    frames)`` giving that stretch as the decoder fitted so far decodes it.

    Audio longer than ``segment_frames`` is coded in segments, one after another, each
    with what is fitted of its own, so that memory stays bounded whatever the length.
    With a ``shared`` model (:func:`codec.train_artist`) nothing is fitted: the audio is
    coded with that model at its quality, and the file names the model instead of
    carrying it (:func:`decompress` then needs it too). A ``source`` (the sample format
    and tags of the file the audio came from) is recorded in the file.
    """
    check_rate(sample_rate)
    coding = _coding_path(path, shared)
    options = _options(quality, bits_per_sample, settings, progress, on_fit_step, shared)
    blocks = blocks_of_array(audio, margin_frames(coding.context_steps), segment_frames)
    segments = -(-len(audio) // segment_frames)
    return b"".join(_encode_segments(blocks, sample_rate, coding, options, source, segments))


def _coding_path(path: str | CodingPath, shared: SharedModel | None) -> CodingPath:
    coding = path_named(path) if isinstance(path, str) else path
    if shared is not None and shared.path != coding.name:
        raise ValueError(f"the shared model is for the {shared.path} path, not {coding.name}")
    return coding


def _options(quality, bits_per_sample, settings, progress, on_fit_step, shared) -> EncodeOptions:
    if shared is not None:
        if bits_per_sample is not None:
            raise ValueError("a shared model codes at its own quality: no bits_per_sample")
        quality = shared.quality
    return EncodeOptions(quality, bits_per_sample, settings, progress, on_fit_step, shared)


def _encode_segments(
    blocks: Iterable[SegmentAudio],
    sample_rate: int,
    coding: CodingPath,
    options: EncodeOptions,
    source: Source | None = None,
    segments: int | None = None,
) -> Iterator[bytes]:
    """The ``.sae`` bytes of each segment (of ``segments``, if known, for the bar)."""
    bar = tqdm(desc="segments", unit="segment", total=segments or None,
               disable=not options.progress or segments == 1, leave=False)  # fmt: skip
    target = options.bits_per_sample
    for block in blocks:
        signal = coding_signal(block, coding.context_steps)
        extra = source_size(source) if block.first == 0 else 0
        if target is not None and extra:  # the source's bytes count too, every byte counted
            options = replace(options, bits_per_sample=max(target - 8 * extra / signal.samples,
                                                           target / 100))  # fmt: skip
        sections = coding.encode(signal, options)
        gain = signal.gain or 1.0  # silence is coded as it is
        header = SegmentHeader(sample_rate, signal.channels, block.first, signal.frames,
                               block.last, gain, options.quality, coding.name)  # fmt: skip
        yield write_segment(header, sections, source if block.first == 0 else None)
        # the fit animation follows the first segment only
        options = replace(options, on_fit_step=None, bits_per_sample=target)
        bar.update()
    bar.close()


def decompress(data: bytes, models: Iterable[SharedModel] = ()) -> tuple[np.ndarray, int]:
    """``(audio, sample_rate)`` from ``.sae`` bytes; audio is float32 (frames, channels).
    ``models``: shared models the file may name (:class:`bitstream.MissingModelError`
    if it names one that is not among them)."""
    segments = read_segments(data, models=by_digest(models))
    first = next(segments)
    audio = np.concatenate([decode_segment(first), *map(decode_segment, segments)])
    return audio, first.header.sample_rate


def by_digest(models: Iterable[SharedModel]) -> dict[bytes, SharedModel]:
    return {model.digest: model for model in models}


def decode_segment(segment: Segment) -> np.ndarray:
    """The audio of one segment, float32 (frames, channels)."""
    header = segment.header
    stereo = path_named(header.path).decode(segment.sections, header.frames)
    audio = np.empty((header.frames, 2), np.float32)  # one copy: the segment is large
    audio[:] = stereo.T
    audio *= np.float32(header.gain)
    return to_channels(audio, header.channels)


@dataclass(frozen=True)
class CompressionReport:
    """What compressing a file cost and how close the decoded file comes back."""

    frames: int
    channels: int
    sample_rate: int
    bytes: int
    snr_db: float
    seconds: float
    source: Source | None = None  # the input's sample format and the tags recorded
    tags_left_out: tuple[str, ...] = ()  # tags too large to record

    @property
    def bits_per_sample(self) -> float:
        """Every byte of the file, x 8, per sample of each channel."""
        return 8 * self.bytes / max(self.frames * self.channels, 1)

    @property
    def kbps(self) -> float:
        return self.bits_per_sample * self.channels * self.sample_rate / 1000

    @property
    def ratio_to_pcm16(self) -> float:
        """How many times smaller than 16-bit PCM of the same audio (below 1: larger)."""
        return 16 / self.bits_per_sample if self.bytes else float("inf")


Readable = str | os.PathLike | BinaryIO  # a path, or a seekable binary file open for reading


def compress_file(
    source: Readable,
    target: str | os.PathLike | BinaryIO,
    *,
    overwrite: bool = False,
    path: str | CodingPath = DEFAULT_PATH,
    quality: float = DEFAULT_QUALITY,
    bits_per_sample: float | None = None,
    settings: FitSettings = FitSettings(),
    progress: bool = False,
    shared: SharedModel | None = None,
    segment_frames: int = MAX_SEGMENT_FRAMES,
) -> CompressionReport:
    """Compress the audio file ``source`` into ``target`` (.sae), written atomically.

    ``source`` is a path or a seekable binary file; ``target`` a path or a binary stream
    (standard output), which gets the bytes once they are all written and checked. The
    options are those of :func:`compress`. The audio is read, coded and written a segment
    at a time, so memory stays bounded whatever the length. The input's sample format and
    small tags are recorded (:class:`bitstream.sae.Source`). The report's SNR comes from
    decoding the file as written (before it takes its final name). A target that cannot
    be written is refused before any work.
    """
    check_output(target, overwrite, source)
    coding = _coding_path(path, shared)
    options = _options(quality, bits_per_sample, settings, progress, None, shared)
    started = time.perf_counter()
    with output_file(target, overwrite) as out:
        with _open(source) as audio_file:
            rate, channels = audio_file.samplerate, audio_file.channels
            check_rate(rate)
            recorded, left_out = source_of(audio_file)
            margin = margin_frames(coding.context_steps)
            blocks = blocks_of_file(audio_file, margin, segment_frames)
            segments = -(-audio_file.frames // segment_frames) if audio_file.seekable() else None
            for data in _encode_segments(blocks, rate, coding, options, recorded, segments):
                out.write(data)
        seconds = time.perf_counter() - started
        size = out.tell()
        signal = error = 0.0
        out.seek(0)
        with _open(source) as audio_file:
            for segment in read_segments(out, models=by_digest([shared] if shared else [])):
                original = audio_file.read(segment.header.frames, "float32", always_2d=True)
                original = original.astype(np.float64)  # the audio as it was coded
                signal += float(np.sum(original**2))
                error += float(np.sum((original - decode_segment(segment)) ** 2))
            frames = audio_file.tell()
    snr = energy_ratio_db(signal, error)
    return CompressionReport(frames, channels, rate, size, snr, seconds, recorded,
                             tuple(left_out))  # fmt: skip


def _open(source: Readable) -> sf.SoundFile:
    """The audio file ``source``, from its start."""
    if is_stream(source):
        source.seek(0)
        return sf.SoundFile(source)
    return sf.SoundFile(source)


def decompress_file(
    source: Readable,
    target: str | os.PathLike | BinaryIO,
    *,
    overwrite: bool = False,
    models: Iterable[SharedModel] = (),
    subtype: str | None = None,
    progress: bool = False,
) -> tuple[int, int, int]:
    """Decode the ``.sae`` file ``source`` (a path or a seekable binary file) into the
    audio file ``target``, a segment at a time: memory stays bounded whatever the length.

    ``target`` is a path, in the format its extension names, or a binary stream, which
    gets WAV once all is decoded. The samples are written as ``subtype`` (soundfile's
    name: "PCM_16", "PCM_24", "FLOAT", ...) or, by default, in the input's sample format
    that the file records, or the nearest one the output format holds; the recorded
    tags are written too; ``progress`` draws a bar over the segments. Returns (frames,
    channels, sample rate) of what was written. A
    target that cannot be written is refused before any decoding; a damaged segment
    anywhere leaves no output.
    """
    kind = audio_format(target)
    check_output(target, overwrite, source)
    if subtype is not None:
        output_subtype(kind, "", subtype)  # a format that cannot hold it: before decoding
    with contextlib.ExitStack() as stack:
        handle = source if is_stream(source) else stack.enter_context(open(source, "rb"))
        segments = read_segments(handle, models=by_digest(models))
        first = next(segments)
        rate, channels = first.header.sample_rate, first.header.channels
        recorded = first.source or Source()
        subtype = output_subtype(kind, recorded.sample_format, subtype)
        frames = 0
        with audio_writer(target, rate, channels, overwrite, subtype, recorded.tags) as write:
            bar = tqdm(desc="decoding", unit="segment", disable=not progress, leave=False)
            for segment in itertools.chain([first], segments):
                audio = decode_segment(segment)
                write(audio)
                frames += len(audio)
                del audio  # written: the next segment's decoding need not hold it too
                bar.update()
            bar.close()
    return frames, channels, rate

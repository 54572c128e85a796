"""What each ``sae`` command does, once :mod:`codec.cli` has read and checked its arguments."""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

from bitstream import FormatError, read_model, read_segments, write_model
from bitstream.sae import MAX_SEGMENT_FRAMES, MAX_SOURCE_BYTES, MAX_TAG_BYTES, MAX_TAGS
from codec.api import (
    by_digest,
    compress,
    compress_file,
    decode_segment,
    decompress,
    decompress_file,
)
from codec.artist import train_artist
from codec.audio import AudioError, snr_db
from codec.cli import BITS, FRAMES, POST_ITERATIONS
from codec.console import DataError, Job, JobError, Outcome, note, run_jobs, say
from codec.files import (
    OutputFormatError,
    audio_format,
    check_output,
    is_stream,
    output_subtype,
    read_audio,
    write_bytes,
)
from codec.inspect import SAMPLE_FORMAT_NAMES, bit_usage, describe, info_lines
from codec.paths import DEFAULT_PATH, LEARNED, CodingPath, FilterbankPath, path_named
from codec.quantizer import DEFAULT_QUALITY
from codec.rate import QUALITY_RANGE
from codec.settings import FitSettings
from codec.streams import readable, writable
from codec.usage import UsageError, is_stdio

# the errors that are the data's fault: exit code 1, one line
DATA_ERRORS = (FormatError, AudioError, OutputFormatError, OSError, sf.LibsndfileError, DataError,
               JobError)  # fmt: skip
FIT_OPTIONS = ("iterations", "seed", "device")  # what FitSettings takes from the command line
MISSED_TARGET = 0.02  # a size this far off its target, in log size, is said to miss it


def fits_by_gradient(coding: CodingPath) -> bool:
    """Whether ``coding`` fits something by gradient, so that the iterations, seed and
    device of :class:`FitSettings` change what it writes. A path says so with a true
    ``fits_by_gradient`` attribute; the filterbank path fits its decoder in closed form."""
    return bool(getattr(coding, "fits_by_gradient", False))


def settings_of(
    args: argparse.Namespace, by_gradient: bool, what: str, used: tuple[str, ...] = ()
) -> FitSettings:
    """The fit settings the options give. Given to ``what`` that fits nothing by gradient
    (``by_gradient`` False), they have no effect, and a note says so; ``used``: options
    the command uses itself whatever fits."""
    given = {name: getattr(args, name) for name in FIT_OPTIONS if getattr(args, name) is not None}
    ignored = [f"--{name}" for name in given if name not in used]
    if ignored and not by_gradient:
        verb = "has" if len(ignored) == 1 else "have"
        note(f"{' and '.join(ignored)} {verb} no effect on {what}, which fits nothing by gradient")
    if by_gradient and given.get("device") == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available here")
    return replace(FitSettings(), **given)


def shared_models(args: argparse.Namespace) -> list:
    paths = list(args.model)
    if args.model_dir is not None:
        paths += sorted(args.model_dir.glob("*.saem"))
    return [read_model_file(path) for path in paths]


def read_model_file(path: Path):
    try:
        return read_model(path.read_bytes())
    except FormatError as error:
        raise FormatError(f"{path}: {error}") from None


def shown(path: Path) -> str:
    return "standard output" if is_stdio(path) else str(path)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def coding_path(arch: str, shared=None, tune: str = "snr") -> CodingPath:
    """The coding path ``--arch`` names (the filterbank path ``--tune`` d); with a shared
    model, the one it belongs to."""
    if shared is not None and shared.path == LEARNED:
        from bitstream.learned import read_model as read_learned
        from codec.paths.learned import LearnedPath

        return LearnedPath(read_learned(shared.sections).architecture)
    if shared is not None:
        return path_named(shared.path)
    if arch == DEFAULT_PATH:
        return FilterbankPath(tune=tune)
    from codec.paths.learned import LearnedPath  # torch: only for learned autoencoders

    return LearnedPath(arch)


def slim(args: argparse.Namespace, *names: str) -> argparse.Namespace:
    """The options a file's work reads: a batch's tasks carry them, not every input."""
    return argparse.Namespace(**{name: getattr(args, name) for name in names})


def run_batch(args: argparse.Namespace, jobs: list[Job], work) -> None:
    """The jobs on a Dask cluster for a batch (several inputs, a folder, --scheduler or
    --manifest), or here, one after another."""
    if not args.batch:
        run_jobs(jobs, work, DATA_ERRORS, progress=args.progress)
        return
    from codec.catalogue import run_catalogue  # distributed: only when a batch runs

    run_catalogue(jobs, work, DATA_ERRORS, command=args.command, workers=args.jobs,
                  scheduler=args.scheduler, force=args.force, progress=args.progress,
                  manifest=args.manifest)  # fmt: skip


def run_compress(args: argparse.Namespace) -> None:
    if args.score:
        from codec.perceptual import ScorerMissing, check_available  # scipy: when asked

        try:
            check_available()
        except ScorerMissing as error:
            raise UsageError(f"--score: {error}") from None
    shared = read_model_file(args.model) if args.model is not None else None
    coding = coding_path(args.arch, shared, args.tune)
    settings = settings_of(args, fits_by_gradient(coding), f"the {coding.name} path")
    for path in args.inputs:
        if path.suffix.lower() == ".sae":
            raise AudioError(f"{path} is already a .sae file (sae decompress decodes it)")
    jobs = [Job(source, output) for source, output in zip(args.inputs, args.outputs, strict=True)]
    options = slim(args, "quality", "bitrate", "bits_per_sample", "force", "score")
    work = functools.partial(compress_one, args=options, settings=settings, shared=shared,
                             coding=coding)  # fmt: skip
    run_batch(args, jobs, work)


def compress_one(job: Job, progress: bool, args, settings, shared, coding) -> Outcome:
    """Compress one file: its line; notes for what the user asked and did not get."""
    notes = []
    with readable(job.source) as source:
        with sf.SoundFile(source) as audio:  # an unreadable input says so before the output
            rate, channels = audio.samplerate, audio.channels
        bits = args.bits_per_sample
        if args.bitrate is not None:
            bits = args.bitrate * 1000 / (rate * channels)
        quality = DEFAULT_QUALITY if args.quality is None else args.quality
        target = writable(job.output)
        # to standard output: held until it is scored, since what went out cannot be read
        held = io.BytesIO() if args.score and is_stream(target) else None
        report = compress_file(source, target if held is None else held, overwrite=args.force,
                               path=coding, quality=quality, bits_per_sample=bits,
                               settings=settings, progress=progress, shared=shared)  # fmt: skip
        mos = ""
        if args.score:
            mos = mos_of(source, job.output if held is None else held, shared, job.name)
    if held is not None:
        target.write(held.getvalue())
        target.flush()
    if bits is not None and abs(math.log(report.bits_per_sample / bits)) > MISSED_TARGET:
        asked = f"{args.bitrate:g} kbps" if args.bitrate else f"{bits:g} bits/sample"
        low, high = QUALITY_RANGE
        notes.append(f"{job.name}: {asked} could not be met within quality {low:g} to "
                     f"{high:g}: {report.kbps:.1f} kbps ({report.bits_per_sample:.3f} "
                     "bits/sample) written, the nearest found")  # fmt: skip
    if report.tags_left_out:
        notes.append(f"{job.name}: tags too large to record were left out (at most {MAX_TAGS} "
                     f"of {MAX_TAG_BYTES} bytes each, {MAX_SOURCE_BYTES} in all): "
                     f"{', '.join(report.tags_left_out)}")  # fmt: skip
    ratio = report.ratio_to_pcm16
    size = f"{ratio:.1f}x smaller" if ratio >= 1 else f"{1 / ratio:.1f}x larger"
    how = "coded with the shared model" if shared else "fitted and coded"
    line = (f"{shown(job.output)}: {report.bytes} bytes, {report.bits_per_sample:.3f} "
            f"bits/sample, {report.kbps:.1f} kbps, {size} than 16-bit PCM, SNR "
            f"{report.snr_db:.2f} dB (decoded from the file){mos}, {how} in "
            f"{report.seconds:.1f} s")  # fmt: skip
    return Outcome(line, tuple(notes), bytes=report.bytes, frames=report.frames,
                   channels=report.channels, sample_rate=report.sample_rate,
                   snr_db=report.snr_db, seconds=report.seconds)  # fmt: skip


def mos_of(source, written, shared, name: str) -> str:
    """``", ViSQOL MOS 3.12"`` for the written ``.sae`` file (a path or a binary file),
    decoded, against ``source``, over the middle of the track that
    :func:`codec.perceptual.middle` scores (only that is read and decoded, so memory stays
    bounded); a note and nothing for audio that ViSQOL cannot score."""
    from codec import perceptual

    if is_stream(source):
        source.seek(0)
    with sf.SoundFile(source) as audio_file:
        rate, frames = audio_file.samplerate, audio_file.frames
        window = perceptual.middle(frames, rate)
        audio_file.seek(window.start)
        original = audio_file.read(window.stop - window.start, "float32", always_2d=True)
    pieces, start = [], 0
    with contextlib.ExitStack() as stack:
        handle = written if is_stream(written) else stack.enter_context(open(written, "rb"))
        handle.seek(0)
        for segment in read_segments(handle, models=by_digest([shared] if shared else [])):
            end = start + segment.header.frames
            if start < window.stop and end > window.start:
                audio = decode_segment(segment)
                pieces.append(audio[max(window.start - start, 0) : window.stop - start])
            start = end
    try:
        mos = perceptual.visqol_mos(original, np.concatenate([original[:0], *pieces]), rate)
    except perceptual.ScoreError as error:
        note(f"{name}: no ViSQOL MOS: {error}")
        return ""
    where = f" over the middle {perceptual.SCORE_SECONDS:g} s" if window.stop < frames else ""
    return f", ViSQOL MOS {mos:.2f}{where}"


def run_train_artist(args: argparse.Namespace) -> None:
    if args.output.suffix.lower() != ".saem":
        raise OutputFormatError(f"{args.output}: a shared model is a .saem file: name it so")
    check_output(args.output, args.force)
    coding = coding_path(args.arch)
    settings = settings_of(args, fits_by_gradient(coding), f"the {coding.name} path")
    songs = [read_audio(path)[0] for path in args.songs]
    shared = train_artist(songs, path=coding, quality=args.quality, settings=settings,
                          progress=args.progress)  # fmt: skip
    data = write_model(shared)
    write_bytes(args.output, data, args.force)
    say(f"{args.output}: {len(data)} bytes, model {shared.digest.hex()}, from {len(songs)} songs")


def run_decompress(args: argparse.Namespace) -> None:
    subtype = BITS.get(args.bits)
    for output in args.outputs:
        kind = audio_format(writable(output))  # an unknown extension: before any decoding
        try:
            output_subtype(kind, "", subtype)
        except OutputFormatError as error:
            raise UsageError(f"--bits {args.bits}: {error}") from None
    models = shared_models(args)
    jobs = [Job(source, output) for source, output in zip(args.inputs, args.outputs, strict=True)]
    work = functools.partial(decompress_one, args=slim(args, "force"), models=models,
                             subtype=subtype)  # fmt: skip
    run_batch(args, jobs, work)


def decompress_one(job: Job, progress: bool, args, models, subtype) -> Outcome:
    with readable(job.source) as source:
        recorded = _checked(source)
        target = writable(job.output)
        kind = audio_format(target)
        written = output_subtype(kind, recorded, subtype) or sf.default_subtype(kind)
        frames, channels, rate = decompress_file(source, target, overwrite=args.force,
                                                 models=models, subtype=subtype,
                                                 progress=progress)  # fmt: skip
        size = None if is_stream(source) else source.stat().st_size
    name = SAMPLE_FORMAT_NAMES.get(written, written)
    line = f"{shown(job.output)}: {frames} frames, {plural(channels, 'channel')}, {rate} Hz, {name}"
    return Outcome(line, bytes=size, frames=frames, channels=channels, sample_rate=rate)


def _checked(source) -> str:
    """Read every segment of a ``.sae`` file, so that a damaged one says so before an
    output is made; its recorded sample format."""
    with contextlib.ExitStack() as stack:
        handle = source if is_stream(source) else stack.enter_context(open(source, "rb"))
        segments = read_segments(handle, need_models=False)
        first = next(segments)
        for _ in segments:
            pass
        if is_stream(source):
            source.seek(0)
    return first.source.sample_format if first.source else ""


def run_info(args: argparse.Namespace) -> None:
    models = shared_models(args)
    if args.plot is not None:
        check_output(args.plot, args.force, None if is_stdio(args.inputs[0]) else args.inputs[0])
    work = functools.partial(info_one, args=args, models=models)
    jobs = [Job(source) for source in args.inputs]
    run_jobs(jobs, work, DATA_ERRORS, progress=args.progress, numbered=False)


def info_one(job: Job, progress: bool, args, models) -> str:
    with readable(job.source) as source:
        data = source.read() if is_stream(source) else source.read_bytes()
    info = describe(data, models)
    if args.plot is not None:
        usage = bit_usage(data, models)
        from codec.plots import plot_bits  # matplotlib: only for the commands that draw

        plot_bits(usage.channel_bits, usage.channel_names, usage.seconds, usage.kbps, args.plot)
    if args.json:
        return json.dumps({"file": job.name, **info})
    lines = [job.name, *info_lines(info)]
    if args.plot is not None:
        lines.append(f"{args.plot}: bits per latent channel and over time")
    return "\n".join(lines)


def run_fit(args: argparse.Namespace) -> None:
    if args.animate is not None:
        if args.animate.suffix.lower() != ".gif":
            raise OutputFormatError(f"{args.animate}: the animation is a GIF: name it .gif")
        check_output(args.animate, args.force, args.input)
    coding = coding_path(args.arch)
    if args.no_rate:  # the post's autoencoder fits by gradient, as the post did
        settings = settings_of(args, True, "the post's autoencoder")
        iterations = args.iterations or POST_ITERATIONS
    else:
        by_gradient = fits_by_gradient(coding)
        used = ("seed",) if args.animate else ()  # the seed picks the segment animated
        settings = settings_of(args, by_gradient, f"the {coding.name} path", used=used)
        iterations = settings.iterations if by_gradient else 1  # closed form: before, after
    audio, rate = read_audio(args.input)
    length = round(args.segment_seconds * rate) if args.segment_seconds else 1024
    first_segment = min(len(audio), MAX_SEGMENT_FRAMES)  # the animation follows its fitting
    length = max(1, min(length, first_segment))
    start = int(np.random.default_rng(settings.seed).integers(0, first_segment - length + 1))
    every = args.every or max(1, iterations // FRAMES)
    frames: list[tuple[int, np.ndarray]] = []

    def snapshot(iteration: int, reconstruct) -> None:
        if iteration % every == 0 or iteration == iterations or not args.no_rate:
            frames.append((iteration, reconstruct(start, length)))  # the filterbank: 0 and 1

    if args.no_rate:
        from codec.post import fit_post  # torch: only for the post's model

        post = FitSettings.of_post()
        settings = replace(settings, iterations=iterations, learning_rate=post.learning_rate)
        decoded = fit_post(audio, settings=settings, progress=args.progress,
                           on_fit_step=snapshot)  # fmt: skip
        title, size = "the post's autoencoder, plain MSE", "latents unquantized"
        how = f"after {iterations} iterations"
    else:
        data = compress(audio, rate, path=coding, quality=args.quality, settings=settings,
                        progress=args.progress, on_fit_step=snapshot)  # fmt: skip
        decoded, _ = decompress(data)
        title = f"sae ({args.arch}) at quality {args.quality:g}"
        size = f"{8 * len(data) / audio.size:.3f} bits/sample"
        how = f"after {iterations} iterations" if fits_by_gradient(coding) else "(closed form)"
    snr = snr_db(audio, decoded)
    say(f"{args.input}: SNR {snr:.2f} dB {how} ({size})")
    if args.animate is not None:
        from codec.plots import animate_fit

        animate_fit(audio[start : start + length], frames, rate, args.animate, title)
        say(f"{args.animate}: {len(frames)} frames of {length} samples from frame {start}")


def run_compare(args: argparse.Namespace) -> None:
    output = args.output or args.decoded.with_suffix(".png")
    check_output(output, args.force, args.decoded)
    original, rate = read_audio(args.original)
    decoded, decoded_rate = read_audio(args.decoded)
    if decoded_rate != rate or decoded.shape[1] != original.shape[1]:
        raise AudioError(
            f"{args.decoded} ({decoded_rate} Hz, {plural(decoded.shape[1], 'channel')}) does "
            f"not match {args.original} ({rate} Hz, {plural(original.shape[1], 'channel')})"
        )
    if min(len(original), len(decoded)) < 2:
        raise AudioError("too short to compare: fewer than 2 frames")
    from codec.plots import plot_comparison

    bands = plot_comparison(original, decoded, rate, output)
    n = min(len(original), len(decoded))
    lines = [f"{output}: SNR {snr_db(original[:n], decoded[:n]):.2f} dB over {n} frames"]
    lines += [f"  {low:>7.0f} - {high:<7.0f} Hz  {snr:6.2f} dB" for low, high, snr in bands]
    say("\n".join(lines))


COMMANDS = {
    "compress": run_compress,
    "decompress": run_decompress,
    "info": run_info,
    "fit": run_fit,
    "compare": run_compare,
    "train-artist": run_train_artist,
}

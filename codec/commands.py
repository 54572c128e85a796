"""What each ``sae`` command does, once :mod:`codec.cli` has read its arguments."""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from bitstream import FormatError, read_model, write_model
from bitstream.sae import MAX_SEGMENT_FRAMES
from codec.api import compress, compress_file, decompress, decompress_file
from codec.artist import train_artist
from codec.audio import AudioError, snr_db
from codec.cli import FRAMES, UsageError
from codec.files import OutputFormatError, check_output, read_audio, write_bytes
from codec.inspect import bit_usage, describe
from codec.settings import FitSettings


class DataError(Exception):
    """Some of many files failed (each has said why): exit code 1."""


# the errors that are the data's fault: exit code 1, one line
DATA_ERRORS = (FormatError, AudioError, OutputFormatError, OSError, sf.LibsndfileError, DataError)


def settings_of(args: argparse.Namespace) -> FitSettings:
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available here")
    return FitSettings(iterations=args.iterations, seed=args.seed, device=args.device)


def shared_models(args: argparse.Namespace) -> list:
    paths = list(args.model)
    if args.model_dir is not None:
        if not args.model_dir.is_dir():
            raise FileNotFoundError(f"{args.model_dir}: no such folder")
        paths += sorted(args.model_dir.glob("*.saem"))
    return [read_model_file(path) for path in paths]


def read_model_file(path: Path):
    try:
        return read_model(path.read_bytes())
    except FormatError as error:
        raise FormatError(f"{path}: {error}") from None


def run_compress(args: argparse.Namespace) -> None:
    if args.output is not None and len(args.inputs) > 1:
        raise UsageError("-o names one output: give one input, or leave -o out")
    if args.model is not None and (args.bitrate or args.bits_per_sample):
        raise UsageError("--model codes at the model's quality: no --bitrate or --bits-per-sample")
    settings = settings_of(args)
    for path in args.inputs:
        if path.suffix.lower() == ".sae":
            raise AudioError(f"{path} is already a .sae file (sae decompress decodes it)")
    shared = read_model_file(args.model) if args.model is not None else None
    jobs = [(path, args.output or path.with_suffix(".sae")) for path in args.inputs]
    if len(jobs) == 1:  # its error is the command's error
        compress_one(*jobs[0], args, settings, shared, progress=not args.quiet)
        return
    if args.jobs == 1:
        failed = [job for job in jobs if not try_compress(*job, args, settings, shared)]
    else:
        with ProcessPoolExecutor(min(args.jobs, len(jobs))) as pool:
            done = [pool.submit(try_compress, *job, args, settings, shared) for job in jobs]
            failed = [job for job, future in zip(jobs, done, strict=True) if not future.result()]
    if failed:
        raise DataError(f"{len(failed)} of {len(jobs)} files failed")


def try_compress(source: Path, output: Path, args, settings, shared) -> bool:
    """One of many files: its line, or its error's; True if it worked."""
    try:
        compress_one(source, output, args, settings, shared, progress=False)
    except DATA_ERRORS as error:
        print(f"sae: error: {source}: {error}", file=sys.stderr, flush=True)
        return False
    return True


def compress_one(source: Path, output: Path, args, settings, shared, progress: bool) -> None:
    """Compress one file and print its line."""
    info = sf.info(str(source))  # an unreadable input says so before the output does
    bits = args.bits_per_sample
    if args.bitrate is not None:
        bits = args.bitrate * 1000 / (info.samplerate * info.channels)
    report = compress_file(source, output, overwrite=args.force, quality=args.quality,
                           bits_per_sample=bits, settings=settings, progress=progress,
                           shared=shared)  # fmt: skip
    how = "coded with the shared model" if shared else "fitted and coded"
    print(
        f"{output}: {report.bytes} bytes, {report.bits_per_sample:.3f} bits/sample, "
        f"{report.kbps:.1f} kbps, {report.ratio_to_pcm16:.1f}x smaller than 16-bit PCM, "
        f"SNR {report.snr_db:.2f} dB (decoded from the file), {how} in {report.seconds:.1f} s",
        flush=True,
    )


def run_train_artist(args: argparse.Namespace) -> None:
    if args.output.suffix.lower() != ".saem":
        raise OutputFormatError(f"{args.output}: a shared model is a .saem file: name it so")
    check_output(args.output, args.force)
    settings = settings_of(args)
    songs = [read_audio(path)[0] for path in args.songs]
    shared = train_artist(songs, quality=args.quality, settings=settings, progress=not args.quiet)
    data = write_model(shared)
    write_bytes(args.output, data, args.force)
    print(f"{args.output}: {len(data)} bytes, model {shared.digest.hex()}, from {len(songs)} songs")


def run_decompress(args: argparse.Namespace) -> None:
    output = args.output or args.input.with_suffix(".wav")
    describe(args.input.read_bytes())  # a damaged file says so before the output does
    frames, channels, rate = decompress_file(
        args.input, output, overwrite=args.force, models=shared_models(args)
    )
    print(f"{output}: {frames} frames, {channels} channels, {rate} Hz")


GENERIC_FIELDS = {"path", "sample_rate", "channels", "frames", "seconds", "bytes", "segments",
                  "bits_per_sample", "kbps", "quality", "shared_model", "sections"}  # fmt: skip


def run_info(args: argparse.Namespace) -> None:
    data = args.input.read_bytes()
    models = shared_models(args)
    info = describe(data, models)
    if args.plot is not None:
        check_output(args.plot, args.force, args.input)
        usage = bit_usage(data, models)
        from codec.plots import plot_bits  # matplotlib: only for the commands that draw

        plot_bits(usage.channel_bits, usage.channel_names, usage.seconds, usage.kbps, args.plot)
    if args.json:
        print(json.dumps(info))
        return
    print(f"{args.input}")
    for key in ("path", "sample_rate", "channels", "frames", "seconds", "bytes", "segments"):
        print(f"  {key:<24}{info[key]}")
    print(f"  {'bits_per_sample':<24}{info['bits_per_sample']:.4f}")
    print(f"  {'kbps':<24}{info['kbps']:.2f}")
    print(f"  {'quality':<24}{info['quality']:g}")
    if info["shared_model"]:
        print(f"  {'shared model':<24}{info['shared_model']}")
    for key, value in info.items():  # the coding path's own fields
        if key not in GENERIC_FIELDS:
            print(f"  {key:<24}{value:.4g}" if isinstance(value, float) else f"  {key:<24}{value}")
    for name, size in info["sections"].items():
        print(f"  section {name:<16}{size} bytes")
    if args.plot is not None:
        print(f"{args.plot}: bits per latent channel and over time")


def run_fit(args: argparse.Namespace) -> None:
    if args.animate is not None:
        if args.animate.suffix.lower() != ".gif":
            raise OutputFormatError(f"{args.animate}: the animation is a GIF: name it .gif")
        check_output(args.animate, args.force, args.input)
    settings = settings_of(args)
    audio, rate = read_audio(args.input)
    length = round(args.segment_seconds * rate) if args.segment_seconds else 1024
    first_segment = min(len(audio), MAX_SEGMENT_FRAMES)  # the animation follows its fitting
    length = max(1, min(length, first_segment))
    start = int(np.random.default_rng(args.seed).integers(0, first_segment - length + 1))
    every = args.every or max(1, args.iterations // FRAMES)
    frames: list[tuple[int, np.ndarray]] = []

    def snapshot(iteration: int, reconstruct) -> None:
        if iteration % every == 0 or iteration == args.iterations or not args.no_rate:
            frames.append((iteration, reconstruct(start, length)))  # the filterbank: 0 and 1

    progress = not args.quiet
    if args.no_rate:
        from codec.post import fit_post  # torch: only for the post's model

        post = FitSettings.of_post()
        settings = FitSettings(settings.iterations, post.learning_rate, post.batch_size,
                               post.window, settings.seed, settings.device)  # fmt: skip
        decoded = fit_post(audio, settings=settings, progress=progress, on_fit_step=snapshot)
        title, size = "the post's autoencoder, plain MSE", "latents unquantized"
    else:
        data = compress(audio, rate, quality=args.quality, settings=settings, progress=progress,
                        on_fit_step=snapshot)  # fmt: skip
        decoded, _ = decompress(data)
        title = f"sae at quality {args.quality:g}"
        size = f"{8 * len(data) / audio.size:.3f} bits/sample"
    snr = snr_db(audio, decoded)
    print(f"{args.input}: SNR {snr:.2f} dB after {args.iterations} iterations ({size})")
    if args.animate is not None:
        from codec.plots import animate_fit

        animate_fit(audio[start : start + length], frames, rate, args.animate, title)
        print(f"{args.animate}: {len(frames)} frames of {length} samples from frame {start}")


def run_compare(args: argparse.Namespace) -> None:
    output = args.output or args.decoded.with_suffix(".png")
    check_output(output, args.force, args.decoded)
    original, rate = read_audio(args.original)
    decoded, decoded_rate = read_audio(args.decoded)
    if decoded_rate != rate or decoded.shape[1] != original.shape[1]:
        raise AudioError(
            f"{args.decoded} ({decoded_rate} Hz, {decoded.shape[1]} channels) does not match "
            f"{args.original} ({rate} Hz, {original.shape[1]} channels)"
        )
    if min(len(original), len(decoded)) < 2:
        raise AudioError("too short to compare: fewer than 2 frames")
    from codec.plots import plot_comparison

    bands = plot_comparison(original, decoded, rate, output)
    n = min(len(original), len(decoded))
    print(f"{output}: SNR {snr_db(original[:n], decoded[:n]):.2f} dB over {n} frames")
    for low, high, snr in bands:
        print(f"  {low:>7.0f} - {high:<7.0f} Hz  {snr:6.2f} dB")


COMMANDS = {
    "compress": run_compress,
    "decompress": run_decompress,
    "info": run_info,
    "fit": run_fit,
    "compare": run_compare,
    "train-artist": run_train_artist,
}

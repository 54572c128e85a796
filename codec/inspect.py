"""Looking inside ``.sae`` bytes: header fields, section sizes, and where the bits go.

>>> from codec import compress
>>> data = compress(np.zeros((800, 2), np.float32), 8000)
>>> info = describe(data)
>>> info["path"], info["frames"], info["bytes"] == len(data)
('filterbank', 800, True)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from bitstream import FormatError, SharedModel, read_segments
from bitstream.filterbank import read_segment
from codec.api import by_digest
from codec.entropy_model import index_bits
from codec.paths import path_named
from codec.paths.filterbank import NAME as FILTERBANK
from codec.pqmf import CODED_CHANNELS, CONTEXT_STEPS, STRIDE
from codec.segments import layout

# soundfile's names of the sample formats a file records, as people say them
SAMPLE_FORMAT_NAMES = {"": "not recorded", "PCM_S8": "8-bit", "PCM_U8": "8-bit unsigned",
                       "PCM_16": "16-bit", "PCM_24": "24-bit", "PCM_32": "32-bit",
                       "FLOAT": "32-bit float", "DOUBLE": "64-bit float",
                       "VORBIS": "Vorbis"}  # fmt: skip


def describe(data: bytes, models: Iterable[SharedModel] = ()) -> dict:
    """Header fields, what the input was (its sample format, "" if not recorded, and
    tags) and section sizes of ``.sae`` bytes, without decoding the audio.
    ``quality`` is the first segment's (a rate target may set each segment's own); the
    coding path's own fields come from the first segment, where its model is at hand."""
    segments = list(read_segments(data, by_digest(models), need_models=False))
    first = segments[0].header
    frames = sum(segment.header.frames for segment in segments)
    samples = frames * first.channels
    info = {
        "sample_rate": first.sample_rate,
        "channels": first.channels,
        "frames": frames,
        "seconds": frames / first.sample_rate,
        "bytes": len(data),
        "bits_per_sample": 8 * len(data) / samples if samples else 0.0,
        "kbps": 8 * len(data) * first.sample_rate / frames / 1000 if frames else 0.0,
        "quality": first.quality,
        "segments": len(segments),
        "path": first.path,
        "shared_model": digest.hex() if (digest := segments[0].model_digest) else None,
        "sample_format": source.sample_format if (source := segments[0].source) else "",
        "tags": dict(source.tags) if source else {},
        "sections": {
            name: sum(segment.stored_bytes.get(name, 0) for segment in segments)
            for name in segments[0].stored_bytes
        },
    }
    if segments[0].model_digest is None or segments[0].model_digest in by_digest(models):
        info.update(path_named(first.path).describe(segments[0].sections))
    return info


class BitUsage(NamedTuple):
    """Where a file's coefficient bits go (their ideal code lengths under its tables)."""

    channel_names: list[str]  # the coded latent channels: which signal, which band
    channel_bits: np.ndarray  # per coded latent channel
    seconds: np.ndarray  # where each hop of the shortest transform frames starts
    kbps: np.ndarray  # the bits of each such hop (longer frames' spread evenly) over it


def bit_usage(data: bytes, models: Iterable[SharedModel] = ()) -> BitUsage:
    """Bits per latent channel and over time of ``.sae`` bytes of the filterbank path
    (decodes the indices)."""
    channel_bits, seconds, kbps = [], [], []
    for segment in read_segments(data, models=by_digest(models)):
        header = segment.header
        if header.path != FILTERBANK:
            raise FormatError(f"bit usage is drawn for the filterbank path, not {header.path}")
        coded = read_segment(segment.sections, header.frames)
        bits = index_bits(coded.indices, coded.model.tables)
        # over time on the shortest frames' hops: a longer frame's bits spread evenly
        # over the hops it spans
        hop = min(coded.model.bins)
        spans = [channel.shape[1] // hop for channel in bits]
        cells = max(len(channel) * span for channel, span in zip(bits, spans, strict=True))
        over_time = np.zeros(cells)
        for channel, span in zip(bits, spans, strict=True):
            spread = np.repeat(channel.sum(axis=1) / span, span)
            over_time[: len(spread)] += spread
        left = layout(header.frames, CONTEXT_STEPS)[1]
        hop_seconds = hop * STRIDE / header.sample_rate
        start = header.first_frame - left
        seconds.append((start + np.arange(cells) * hop * STRIDE) / header.sample_rate)
        kbps.append(over_time / hop_seconds / 1000)
        channel_bits.append([channel.sum() for channel in bits])
    nyquist = header.sample_rate / 2 / 1000
    names = [
        f"{('mid', 'side')[c // 4]} {nyquist * (c % 4) / 4:.3g}-{nyquist * (c % 4 + 1) / 4:.3g} kHz"
        for c in range(CODED_CHANNELS)
    ]
    total = np.sum(channel_bits, axis=0)
    return BitUsage(names, total, np.concatenate(seconds), np.concatenate(kbps))


GENERIC_FIELDS = {"path", "sample_rate", "channels", "frames", "seconds", "bytes", "segments",
                  "bits_per_sample", "kbps", "quality", "shared_model", "sections",
                  "sample_format", "tags"}  # fmt: skip


def info_lines(info: dict) -> list[str]:
    """:func:`describe`'s fields as ``sae info`` prints them, a line each, indented."""
    lines = []
    for key in ("path", "sample_rate", "channels", "frames", "seconds", "bytes", "segments"):
        lines.append(f"  {key:<24}{info[key]}")
    lines.append(f"  {'bits_per_sample':<24}{info['bits_per_sample']:.4f}")
    lines.append(f"  {'kbps':<24}{info['kbps']:.2f}")
    lines.append(f"  {'quality':<24}{info['quality']:g}")
    format_name = SAMPLE_FORMAT_NAMES.get(info["sample_format"], info["sample_format"])
    lines.append(f"  {'sample_format':<24}{format_name}")
    lines += [f"  tag {name:<20}{value}" for name, value in info["tags"].items()]
    if info["shared_model"]:
        lines.append(f"  {'shared model':<24}{info['shared_model']}")
    for key, value in info.items():  # the coding path's own fields
        if key not in GENERIC_FIELDS:
            lines.append(f"  {key:<24}{value:.4g}" if isinstance(value, float) else
                         f"  {key:<24}{value}")  # fmt: skip
    lines += [f"  section {name:<16}{size} bytes" for name, size in info["sections"].items()]
    return lines

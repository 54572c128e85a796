"""Fuzzing the ``.sae`` reader: damaged files must end in a FormatError, nothing else.

    python -m benchmarks.fuzz [--cases N] [--seed S] [--out FILE]

Damages a small valid two-segment file in the ways real files get damaged or forged
(truncation at every section boundary and at random offsets, bit flips, random bytes
after a valid magic, a header that claims huge sizes, a section rewritten with a fresh
CRC so that the damage reaches the parsers behind the CRC check) and decodes each.
A case passes when decoding raises :class:`FormatError` or, for damage behind a fresh
CRC, returns audio of the shape the file claims; any other exception fails the run.
Prints, and with ``--out`` writes as JSON, how many cases of each kind were tried.
The test suite runs a bounded number of cases of the same kinds through hypothesis.
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

import codec.api
from bitstream import FormatError
from bitstream.container import SAE_MAGIC, read_container

KINDS = ("cut at a section", "cut anywhere", "bit flips", "bytes after magic", "huge sizes",
         "fresh crc")  # fmt: skip


def sample_file() -> bytes:
    """A valid file of two short segments (a tiny, unfitted model: quick to decode)."""
    rate = 8000
    t = np.arange(rate // 2) / rate
    audio = np.stack([np.sin(2 * np.pi * 300 * t), np.sin(2 * np.pi * 450 * t)], axis=1)
    saved = codec.api.SEGMENT_FRAMES
    codec.api.SEGMENT_FRAMES = 2500
    try:
        config = codec.api.ModelConfig(hidden_channels=4, frame_steps=64)
        settings = codec.api.FitSettings(iterations=0)
        return codec.api.compress(0.5 * audio, rate, settings=settings, config=config)
    finally:
        codec.api.SEGMENT_FRAMES = saved


def section_spans(data: bytes) -> list[tuple[int, int, bytes]]:
    """(start, end, tag) of each section's bytes, header and CRC included, in file order."""
    stream, spans = io.BytesIO(data), []
    while stream.tell() < len(data):
        start = stream.tell() + 8
        _, sections = read_container(stream, SAE_MAGIC, {4})
        for tag, payload in sections.items():
            spans.append((start, start + 12 + len(payload), tag))
            start += 12 + len(payload)
    return spans


def damage(data: bytes, kind: str, rng: np.random.Generator) -> bytes:
    """``data`` damaged one way of :data:`KINDS`."""
    spans = section_spans(data)
    if kind == "cut at a section":
        start, end, _ = spans[rng.integers(len(spans))]
        cut = (start, end)[rng.integers(2)] + int(rng.integers(-1, 2))
        return data[: min(cut, len(data) - 1)]
    if kind == "cut anywhere":
        return data[: rng.integers(len(data))]
    if kind == "bit flips":
        damaged = bytearray(data)
        for _ in range(rng.integers(1, 9)):
            damaged[rng.integers(len(data))] ^= 1 << rng.integers(8)
        return bytes(damaged)
    if kind == "bytes after magic":
        return SAE_MAGIC + rng.bytes(rng.integers(0, 4 * len(data)))
    start, end, tag = spans[rng.integers(len(spans))]
    payload = bytearray(data[start + 8 : end - 4])
    if kind == "huge sizes":  # a section length, or a header field, far too large
        if tag != b"HEAD" or rng.integers(2):
            length = struct.pack("<I", 1 << rng.integers(20, 32))
            return data[: start + 4] + length + data[start + 8 :]
        field = rng.choice([5, 6, 14, 24, 28, 30, 34])  # flags, first frame, frames, sizes
        payload[field : field + 4] = struct.pack("<I", 0xFFFFFFFF >> rng.integers(0, 16))
    else:  # fresh crc: random bytes written over part of a payload, CRC recomputed
        if payload:
            at = int(rng.integers(len(payload)))
            payload[at : at + int(rng.integers(1, 9))] = rng.bytes(int(rng.integers(1, 9)))
    crc = struct.pack("<I", zlib.crc32(tag + bytes(payload)))
    head = tag + struct.pack("<I", len(payload))
    return data[:start] + head + bytes(payload) + crc + data[end:]


def check(data: bytes, kind: str) -> str:
    """Decode damaged ``data``: ``"error"`` for a FormatError, ``"decoded"`` for audio of
    the claimed shape after damage behind a fresh CRC; anything else raises."""
    try:
        audio, _ = codec.api.decompress(data)
    except FormatError:
        return "error"
    info = codec.api.describe(data)
    if kind not in ("fresh crc", "huge sizes") or audio.shape != (info["frames"], info["channels"]):
        raise AssertionError(f"{kind}: damaged file decoded to {audio.shape} without an error")
    return "decoded"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__)
    parser.add_argument("--cases", type=int, default=5000, help="damaged files to try")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the counts here as JSON")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    data, outcomes = sample_file(), Counter()
    started = time.perf_counter()
    for _ in tqdm(range(args.cases), desc="fuzz", unit="case"):
        kind = KINDS[rng.integers(len(KINDS))]
        outcomes[kind, check(damage(data, kind, rng), kind)] += 1
    result = {
        "cases": args.cases,
        "seconds": round(time.perf_counter() - started, 1),
        "file_bytes": len(data),
        "outcomes": {f"{kind}: {outcome}": n for (kind, outcome), n in sorted(outcomes.items())},
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

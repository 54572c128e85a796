"""Fuzzing the readers: damaged ``.sae`` and ``.saem`` files must end in a FormatError.

    python -m benchmarks.fuzz [--cases N] [--seed S] [--out FILE]

Damages small valid two-segment ``.sae`` files and ``.saem`` model files of both coding
paths (the filterbank path's and the learned path's, the post's autoencoder) in the ways
real files get damaged or forged
(truncation at every section boundary and at random offsets, bit flips, random bytes
after a valid magic, a header that claims huge sizes, a section rewritten with a fresh
CRC so that the damage reaches the parsers behind the CRC check) and decodes each.
A case passes when decoding raises :class:`FormatError` or, for damage behind a fresh
CRC, returns audio of the shape the file claims (a model file's digest catches even
that); any other exception fails the run.
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

from bitstream import FormatError, SharedModel, Source, read_model, read_segments, write_model
from bitstream.container import read_container
from bitstream.filterbank import MODEL_SECTIONS
from bitstream.sae import VERSION
from bitstream.saem import MODEL_MAGIC, MODEL_VERSION
from codec import (
    FilterbankPath,
    FitSettings,
    LearnedPath,
    compress,
    decompress,
    describe,
    train_artist,
)

SAMPLE_SOURCE = Source("PCM_24", {"title": "Fuzz", "artist": "sae"})
KINDS = ("cut at a section", "cut anywhere", "bit flips", "bytes after magic", "huge sizes",
         "fresh crc")  # fmt: skip


def sample_files() -> dict[str, bytes]:
    """For each coding path, a valid file of two short segments whose first segment
    records its source (sample format and tags), and a model file: the filterbank path's
    (an unfitted decoder: quick to decode) made of the file's first segment's model, the
    learned path's trained for a few steps on the same audio. The filterbank path's
    file sweeps its sound from one side to the other, so that its first segment's
    stereo angles change (ROTN knots)."""
    rate = 8000
    t = np.arange(rate // 2) / rate
    audio = 0.5 * np.stack([np.sin(2 * np.pi * 300 * t), np.sin(2 * np.pi * 450 * t)], axis=1)
    t = np.arange(3 * rate // 2) / rate
    pan, sound = np.pi / 4 + 0.7 * (2 * t / 1.5 - 1), np.sin(2 * np.pi * 300 * t)
    sweep = 0.4 * (sound + 0.5 * np.sin(2 * np.pi * 1230 * t))[:, None]
    sweep = sweep * np.stack([np.cos(pan), np.sin(pan)], axis=1)
    # tuned to listen: its noise levels (NOIS) and scale factors (SCAL) are damaged too
    path, settings = FilterbankPath(frame_steps=64, tune="listen"), FitSettings(iterations=0)
    data = compress(sweep, rate, path=path, settings=settings, segment_frames=8000,
                    source=SAMPLE_SOURCE)  # fmt: skip
    first = next(read_segments(data))
    model = {tag: first.sections[tag] for tag in MODEL_SECTIONS}
    learned, quick = LearnedPath("post"), FitSettings(iterations=4, batch_size=4, window=512)
    return {
        "sae": data,
        "saem": write_model(SharedModel(path.name, 7.0, model)),
        "learned.sae": compress(
            audio, rate, path=learned, settings=quick, segment_frames=2500, source=SAMPLE_SOURCE
        ),
        "learned.saem": write_model(train_artist([audio], path=learned, settings=quick)),
    }


# header fields that claim sizes, by section: offsets where a huge number is written (in
# SRCE: the tag count, the first tag's name length and its value's length)
# (QUAN: the coded channels, after the step; LAYT: the latent steps; ROTN: the first band
# pair's knot count; NOIS: the length of its table, after the 8 coded channels' 4 hole
# levels)
SIZE_FIELDS = {b"HEAD": (5, 6, 10, 14, 18, 27), b"QUAN": (2, 4), b"LAYT": (0,),
               b"ROTN": (0,), b"SRCE": (1, 2, 8), b"NOIS": (37,)}  # fmt: skip


def section_spans(data: bytes) -> list[tuple[int, int, bytes]]:
    """(start, end, tag) of each section's bytes, header and CRC included, in file order."""
    stream, spans = io.BytesIO(data), []
    magic = data[:4]
    while stream.tell() < len(data):
        start = stream.tell() + 8
        _, sections = read_container(stream, magic, {MODEL_VERSION, VERSION})
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
    if kind == "bit flips":  # 1 to 8 different bits: the same bit twice would undo itself
        damaged = bytearray(data)
        for bit in rng.choice(8 * len(data), size=rng.integers(1, 9), replace=False):
            damaged[bit // 8] ^= 1 << (bit % 8)
        return bytes(damaged)
    if kind == "bytes after magic":
        return data[:4] + rng.bytes(rng.integers(0, 4 * len(data)))
    start, end, tag = spans[rng.integers(len(spans))]
    payload = bytearray(data[start + 8 : end - 4])
    if kind == "huge sizes":  # a section length, or a header field, far too large
        if tag not in SIZE_FIELDS or rng.integers(2):
            length = struct.pack("<I", 1 << rng.integers(20, 32))
            return data[: start + 4] + length + data[start + 8 :]
        field = rng.choice(SIZE_FIELDS[tag])
        payload[field : field + 4] = struct.pack("<I", 0xFFFFFFFF >> rng.integers(0, 16))
    else:  # fresh crc: random bytes written over part of a payload, CRC recomputed
        before = bytes(payload)
        if payload:
            at = int(rng.integers(len(payload)))
            payload[at : at + int(rng.integers(1, 9))] = rng.bytes(int(rng.integers(1, 9)))
        if bytes(payload) == before:  # the bytes drawn were those already there: no damage
            payload += b"\x00"
    crc = struct.pack("<I", zlib.crc32(tag + bytes(payload)))
    head = tag + struct.pack("<I", len(payload))
    return data[:start] + head + bytes(payload) + crc + data[end:]


def check(data: bytes, kind: str) -> str:
    """Read damaged ``data`` (a ``.sae`` file or a ``.saem`` model): ``"error"`` for a
    FormatError, ``"decoded"`` for audio of the claimed shape after damage behind a fresh
    CRC; anything else raises."""
    try:
        if data[:4] == MODEL_MAGIC:
            read_model(data)
        else:
            audio, _ = decompress(data)
    except FormatError:
        return "error"
    if data[:4] == MODEL_MAGIC:
        raise AssertionError(f"{kind}: a damaged model file passed its digest check")
    info = describe(data)
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
    files, outcomes = sample_files(), Counter()
    started = time.perf_counter()
    for _ in tqdm(range(args.cases), desc="fuzz", unit="case"):
        target = list(files)[rng.integers(len(files))]
        kind = KINDS[rng.integers(len(KINDS))]
        outcomes[target, kind, check(damage(files[target], kind, rng), kind)] += 1
    result = {
        "cases": args.cases,
        "seconds": round(time.perf_counter() - started, 1),
        "file_bytes": {target: len(data) for target, data in files.items()},
        "outcomes": {
            f".{t} {kind}: {outcome}": n for (t, kind, outcome), n in sorted(outcomes.items())
        },
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

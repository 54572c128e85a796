"""Rate-distortion benchmark: every method on every track of a folder of music.

    python -m benchmarks.rd --corpus DIR --out DIR [--excerpt SECONDS] [--methods ...]
                            [--jobs N | --scheduler ADDRESS]

Writes ``points.csv`` (one row per track, method and setting), ``rd.png`` (mean curves),
``rd_tracks.png`` (per-track curves) and ``summary.md``. Each result is cached under
``OUT/cache`` keyed by the excerpt and a hash of the code the method depends on, so a
re-run only re-assembles, and a change to a method's code re-runs just that method. The
runs go to a Dask cluster (:mod:`codec.cluster`): ``--jobs`` worker processes started on
this machine, or the running cluster at ``--scheduler``, whose workers must see the corpus
and this repository at the same paths.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from benchmarks.methods import METHODS
from benchmarks.metrics import aligned_snr
from benchmarks.report import write_report

ROOT = Path(__file__).resolve().parent.parent
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}
FIELDS = [
    "track",
    "method",
    "setting",
    "bits_per_sample",
    "snr_db",
    "lag",
    "encode_seconds",
    "decode_seconds",
    "excerpt_seconds",
]


def load_excerpt(path: Path, seconds: float | None) -> tuple[np.ndarray, int]:
    """A window of ``seconds`` from the middle of the track (the whole track if None)."""
    info = sf.info(str(path))
    frames = info.frames if seconds is None else min(info.frames, int(seconds * info.samplerate))
    start = (info.frames - frames) // 2
    audio, rate = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    return audio, rate


RUNNER_SOURCES = ("benchmarks/rd.py", "benchmarks/methods.py", "benchmarks/metrics.py")


def source_hash(sources: tuple[str, ...]) -> str:
    """Hash of the code a method's results depend on: its own sources and the runner's."""
    digest = hashlib.sha256()
    for source in RUNNER_SOURCES + sources:
        path = ROOT / source
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(file.relative_to(ROOT).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def run_one(track: str, path: str, excerpt: float | None, method: str, setting) -> dict:
    """Code one excerpt with one method and setting; the row for ``points.csv``."""
    audio, rate = load_excerpt(Path(path), excerpt)
    coded = METHODS[method].run(audio, rate, setting)
    samples = audio.shape[0] * audio.shape[1]
    bits = 8 * coded.bytes / samples if coded.bytes is not None else coded.bits_per_sample
    if coded.decoded is not None:
        snr, lag = aligned_snr(audio, coded.decoded)
    else:
        snr, lag = coded.snr_db, 0
    return {
        "track": track,
        "method": method,
        "setting": setting,
        "bits_per_sample": bits,
        "snr_db": snr,
        "lag": lag,
        "encode_seconds": coded.encode_seconds,
        "decode_seconds": coded.decode_seconds,
        "excerpt_seconds": len(audio) / rate,
    }


def _drop_stale(cache: Path, methods: list[str], excerpt: float | None) -> None:
    """Delete cached results of these methods made by code that has since changed."""
    for method in methods:
        key = source_hash(METHODS[method].sources)
        for path in cache.glob(f"*__{method}__*__{excerpt or 0:g}__*.json"):
            if not path.stem.endswith(key):
                path.unlink()


def run_task(threads: int | None, *task) -> dict:
    """On a worker: :func:`run_one`, with torch on ``threads`` threads (the machine's
    cores shared among the local workers; a running cluster's workers keep their own)."""
    if threads is not None:  # Dask's workers start with OMP_NUM_THREADS=1
        os.environ["OMP_NUM_THREADS"] = str(threads)  # read when torch is first imported
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
    return run_one(*task)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.rd",
        description="Rate-distortion benchmark of sae against real codecs, MDCT+EC and "
        "an oracle curve, on every audio file of a folder.",
    )
    parser.add_argument("--corpus", type=Path, required=True, help="folder of audio files")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument(
        "--excerpt",
        type=float,
        default=60.0,
        help="seconds from the middle of each track (default %(default)s; 0 = whole track)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=list(METHODS),
        default=list(METHODS),
        help="methods to run (default: all)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="worker processes of a Dask cluster on this machine (default %(default)s)",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on this running Dask cluster instead (tcp://host:port); its workers "
        "must see the corpus and this repository at the same paths",
    )
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        parser.error(f"{args.corpus} is not a folder")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return args


def run_all(todo: list, jobs: int, scheduler: str | None):
    """Each task's row as it finishes, with the cache file it goes to, from a Dask
    cluster; the slowest methods go first, so that the workers finish together."""
    if not todo:
        return
    from distributed import as_completed

    from codec.cluster import connect

    threads = None if scheduler else max(1, (os.cpu_count() or 1) // jobs)
    with connect(jobs, scheduler) as cluster:
        futures = {}
        for path, task in todo:
            slow = task[3] in ("sae", "post", "signed")
            future = cluster.client.submit(run_task, threads, *task, pure=False,
                                           priority=int(slow))  # fmt: skip
            futures[future] = path
        for future in as_completed(futures):
            yield futures[future], future.result()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    excerpt = args.excerpt or None
    tracks = sorted(p for p in args.corpus.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not tracks:
        print(f"rd: error: no audio files in {args.corpus}", file=sys.stderr)
        return 1
    cache = args.out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    rows, todo = [], []
    for method in args.methods:
        key = source_hash(METHODS[method].sources)
        for track in tracks:
            for setting in METHODS[method].settings:
                name = f"{track.stem}__{method}__{setting:g}__{excerpt or 0:g}__{key}.json"
                if (cache / name).exists():
                    rows.append(json.loads((cache / name).read_text()))
                else:
                    todo.append((cache / name, (track.stem, str(track), excerpt, method, setting)))
    bar = tqdm(run_all(todo, args.jobs, args.scheduler), total=len(todo), desc="benchmark",
               unit="run")  # fmt: skip
    for path, row in bar:
        bar.set_postfix_str(f"{row['track']} {row['method']} {row['setting']:g}")
        path.write_text(json.dumps(row))
        rows.append(row)
    _drop_stale(cache, args.methods, excerpt)
    rows.sort(key=lambda r: (r["method"], r["track"], r["setting"]))
    with open(args.out / "points.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    write_report(rows, args.out, excerpt)
    print(f"wrote {args.out / 'points.csv'}, {args.out / 'summary.md'} and the plots")
    return 0


if __name__ == "__main__":
    sys.exit(main())

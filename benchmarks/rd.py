"""Rate-distortion benchmark: every method on every track of a folder of music.

    python -m benchmarks.rd --corpus DIR --out DIR [--excerpt SECONDS] [--methods ...]
                            [--jobs N | --scheduler ADDRESS]

Writes ``points.csv`` (one row per track, method and setting), ``rd.png`` (mean curves),
``rd_tracks.png`` (per-track curves), ``mos.png`` (ViSQOL MOS against rate) and
``summary.md``. Each result is cached under ``OUT/cache`` keyed by the excerpt and a hash
of the code the method depends on, so a re-run only re-assembles, and a change to a
method's code re-runs just that method. The runs go to a Dask cluster
(:mod:`codec.cluster`): ``--jobs`` worker processes started on this machine, or the
running cluster at ``--scheduler``, whose workers must see the corpus and this repository
at the same paths.

A row also carries the ViSQOL MOS of the middle 20 s of the decoded excerpt
(:mod:`codec.perceptual`), with the key of the scorer that gave it (a hash of its source
and the package's version). The scored window of decoded audio (mono, float32) is kept in
``OUT/cache/decoded`` (about 3.5 MB a point at 44.1 kHz, never committed), so that a new
scorer re-scores the rows without coding anything again; a row whose window is not there
is coded again.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from benchmarks.methods import METHODS
from benchmarks.metrics import aligned, aligned_snr
from benchmarks.report import write_report
from codec import perceptual

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
    "visqol",
    "visqol_seconds",
]


def load_excerpt(path: Path, seconds: float | None) -> tuple[np.ndarray, int]:
    """A window of ``seconds`` from the middle of the track (the whole track if None)."""
    info = sf.info(str(path))
    frames = info.frames if seconds is None else min(info.frames, int(seconds * info.samplerate))
    start = (info.frames - frames) // 2
    audio, rate = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    return audio, rate


KEPT = "decoded"  # the folder of OUT/cache holding the scored windows of decoded audio
SLOW = ("sae", "sae-listen", "post", "signed")  # methods that fit something to each song
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


SCORER_SOURCE = "codec/perceptual.py"


def scorer_key() -> str:
    """Hash of what a ViSQOL score depends on: the scorer's source and the package's
    version (:class:`codec.perceptual.ScorerMissing` if it is not installed)."""
    digest = hashlib.sha256(perceptual.scorer_version().encode())
    digest.update((ROOT / SCORER_SOURCE).read_bytes())
    return digest.hexdigest()[:16]


def _mono(audio: np.ndarray) -> np.ndarray:
    """The mono mix, as ViSQOL scores stereo, in float32: what is kept and scored."""
    return audio.mean(axis=1, dtype=np.float64).astype(np.float32)


def run_one(
    track: str, path: str, excerpt: float | None, method: str, setting, kept: Path, scorer: str
) -> dict:
    """Code one excerpt with one method and setting; the row for ``points.csv``, scored
    (its scored window of decoded audio kept in the file ``kept``)."""
    audio, rate = load_excerpt(Path(path), excerpt)
    coded = METHODS[method].run(audio, rate, setting)
    samples = audio.shape[0] * audio.shape[1]
    bits = 8 * coded.bytes / samples if coded.bytes is not None else coded.bits_per_sample
    if coded.decoded is not None:
        snr, lag = aligned_snr(audio, coded.decoded)
    else:
        snr, lag = coded.snr_db, 0
    row = {
        "track": track,
        "method": method,
        "setting": setting,
        "bits_per_sample": bits,
        "snr_db": snr,
        "lag": lag,
        "encode_seconds": coded.encode_seconds,
        "decode_seconds": coded.decode_seconds,
        "excerpt_seconds": len(audio) / rate,
        "visqol": None,  # None: nothing decoded to score, or nothing ViSQOL can score
        "visqol_seconds": None,
        "visqol_key": None,
    }
    if coded.decoded is None:
        return row
    reference, decoded = aligned(audio, coded.decoded, lag)
    window = perceptual.middle(len(reference), rate)
    start = max(0, -lag) + window.start  # where the scored window starts in the excerpt
    row["visqol_frames"] = [start, start + window.stop - window.start]
    partial = kept.with_suffix(".part")  # renamed into place whole: a kept window is trusted
    with open(partial, "wb") as handle:
        np.save(handle, _mono(decoded[window]))
    partial.replace(kept)
    return score(row, path, excerpt, kept, scorer)


def score(row: dict, path: str, excerpt: float | None, kept: Path, scorer: str) -> dict:
    """``row`` with the ViSQOL MOS of its kept window of decoded audio against the same
    window of the excerpt."""
    audio, rate = load_excerpt(Path(path), excerpt)
    start, stop = row["visqol_frames"]
    started = time.perf_counter()
    try:
        mos = perceptual.visqol_mos(_mono(audio[start:stop]), np.load(kept), rate)
    except perceptual.ScoreError:
        mos = None  # too short, or silent: left blank
    seconds = time.perf_counter() - started
    return {**row, "visqol": mos, "visqol_seconds": seconds, "visqol_key": scorer}


def _drop_stale(cache: Path, methods: list[str], excerpt: float | None) -> None:
    """Delete cached results of these methods made by code that has since changed, and
    their kept windows of decoded audio."""
    for method in methods:
        key = source_hash(METHODS[method].sources)
        pattern = f"*__{method}__*__{excerpt or 0:g}__*"
        for path in [*cache.glob(f"{pattern}.json"), *(cache / KEPT).glob(f"{pattern}.npy")]:
            if not path.stem.endswith(key):
                path.unlink()


def run_task(threads: int | None, work, *task) -> dict:
    """On a worker: ``work(*task)`` (:func:`run_one` or :func:`score`), with torch on
    ``threads`` threads (the machine's cores shared among the local workers; a running
    cluster's workers keep their own)."""
    if threads is not None:  # Dask's workers start with OMP_NUM_THREADS=1
        os.environ["OMP_NUM_THREADS"] = str(threads)  # read when torch is first imported
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
    return work(*task)


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
        for slow, saved, work, task in todo:
            future = cluster.client.submit(run_task, threads, work, *task, pure=False,
                                           priority=int(slow))  # fmt: skip
            futures[future] = saved
        for future in as_completed(futures):
            yield futures[future], future.result()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    excerpt = args.excerpt or None
    tracks = sorted(p for p in args.corpus.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not tracks:
        print(f"rd: error: no audio files in {args.corpus}", file=sys.stderr)
        return 1
    try:
        scorer = scorer_key()
    except perceptual.ScorerMissing as error:
        print(f"rd: error: {error}", file=sys.stderr)
        return 1
    cache = args.out / "cache"
    (cache / KEPT).mkdir(parents=True, exist_ok=True)
    rows, todo = [], []
    for method in args.methods:
        key = source_hash(METHODS[method].sources)
        for track in tracks:
            for setting in METHODS[method].settings:
                stem = f"{track.stem}__{method}__{setting:g}__{excerpt or 0:g}__{key}"
                saved, kept = cache / f"{stem}.json", cache / KEPT / f"{stem}.npy"
                row = json.loads(saved.read_text()) if saved.exists() else {}
                if row and row.get("visqol_key", "") in (scorer, None):
                    rows.append(row)  # scored by this scorer, or nothing to score
                elif row and kept.exists():  # a new scorer: score again, code nothing
                    todo.append((False, saved, score, (row, str(track), excerpt, kept, scorer)))
                else:
                    task = (track.stem, str(track), excerpt, method, setting, kept, scorer)
                    todo.append((method in SLOW, saved, run_one, task))
    bar = tqdm(run_all(todo, args.jobs, args.scheduler), total=len(todo), desc="benchmark",
               unit="run")  # fmt: skip
    for saved, row in bar:
        bar.set_postfix_str(f"{row['track']} {row['method']} {row['setting']:g}")
        saved.write_text(json.dumps(row))
        rows.append(row)
    _drop_stale(cache, args.methods, excerpt)
    rows.sort(key=lambda r: (r["method"], r["track"], r["setting"]))
    with open(args.out / "points.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    write_report(rows, args.out, excerpt)
    print(f"wrote {args.out / 'points.csv'}, {args.out / 'summary.md'} and the plots")
    return 0


if __name__ == "__main__":
    sys.exit(main())

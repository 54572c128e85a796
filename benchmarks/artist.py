"""Per-artist models against per-song fitting, leave-one-out, at matched quality.

    python -m benchmarks.artist --corpus DIR --out DIR [--excerpt SECONDS] [--qualities Q ...]

Tracks are grouped by artist (the file name up to its first ``-``). For each track and
quality, three codings of its middle excerpt, every byte counted and decoded back:

- **per song**: ``sae compress`` as usual; the model is inside the file;
- **artist (leave-one-out)**: a shared model trained on the artist's *other* tracks;
  the file names it, and the model's bytes are amortized over the artist's tracks (the
  ones it was trained on and this one), as if one model served them all;
- **other artist**: a shared model trained on all the other artist's tracks (its bytes
  amortized over those tracks and this one).

Writes ``artist.json`` and ``artist.md`` to OUT, with the length of song at which the
artist model's saving (no model in the file) and its cost (tables and decoder not fitted
to the song) break even.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

import codec
from benchmarks.rd import AUDIO_SUFFIXES, load_excerpt
from bitstream import write_model
from bitstream.filterbank import MODEL_SECTIONS
from codec import FitSettings


def _coded(data: bytes, audio: np.ndarray, models=()) -> dict:
    decoded, _ = codec.decompress(data, models=models)
    info = codec.describe(data)
    return {
        "bytes": len(data),
        "bits_per_sample": 8 * len(data) / audio.size,
        "snr_db": codec.snr_db(audio, decoded),
        "model_bytes_in_file": sum(info["sections"].get(tag.decode(), 0) for tag in MODEL_SECTIONS),
        "coefficient_bytes": info["sections"]["LATS"],
    }


def measure(
    tracks: dict[str, list[tuple[str, np.ndarray, int]]], quality: float, settings: FitSettings
) -> list[dict]:
    """Every track coded the three ways at ``quality``, models fitted with ``settings``."""
    rows = []
    artists = sorted(tracks)
    total = sum(len(songs) for songs in tracks.values())
    bar = tqdm(total=total, desc=f"quality {quality:g}", unit="track")
    others = {}  # each artist's model, for the other artist's tracks
    for artist in artists:
        started = time.perf_counter()
        songs = [audio for _, audio, _ in tracks[artist]]
        shared = codec.train_artist(songs, quality=quality, settings=settings)
        others[artist] = (shared, len(write_model(shared)), time.perf_counter() - started)
    for artist in artists:
        songs = tracks[artist]
        for name, audio, rate in songs:
            own = _coded(codec.compress(audio, rate, quality=quality, settings=settings), audio)
            rest = [a for n, a, _ in songs if n != name]
            started = time.perf_counter()
            shared = codec.train_artist(rest, quality=quality, settings=settings)
            train_seconds = time.perf_counter() - started
            loo = _coded(codec.compress(audio, rate, shared=shared), audio, [shared])
            loo["model_file_bytes"] = len(write_model(shared))
            loo["shared_by"] = len(songs)
            loo["train_seconds"] = round(train_seconds, 1)
            other_artist = next(a for a in artists if a != artist)
            other_model, other_bytes, other_seconds = others[other_artist]
            other = _coded(codec.compress(audio, rate, shared=other_model), audio, [other_model])
            other["model_file_bytes"] = other_bytes
            other["shared_by"] = len(tracks[other_artist]) + 1
            other["train_seconds"] = round(other_seconds, 1)
            for coding in (loo, other):
                amortized = coding["model_file_bytes"] / coding["shared_by"]
                coding["bits_per_sample_amortized"] = 8 * (coding["bytes"] + amortized) / audio.size
            seconds = len(audio) / rate
            # bytes a second the artist model's coefficients cost beyond the song's own
            extra = (loo["coefficient_bytes"] - own["coefficient_bytes"]) / seconds
            saved = own["model_bytes_in_file"] - loo["model_file_bytes"] / loo["shared_by"]
            rows.append({
                "track": name, "artist": artist, "quality": quality, "seconds": seconds,
                "per_song": own, "artist_loo": loo, "other_artist": other,
                "break_even_seconds": saved / extra if extra > 0 else None,
            })  # fmt: skip
            bar.update()
    bar.close()
    return rows


def write_table(rows: list[dict], path: Path, excerpt: float) -> None:
    lines = [
        "# Per-artist models against per-song fitting",
        "",
        f"`python -m benchmarks.artist`, {excerpt:g} s middle excerpts, leave-one-out: the "
        "artist model of each track is trained on the artist's other tracks; the other "
        "artist's model on all that artist's tracks. Every byte counted and decoded back. "
        "bits/sample: the file alone (per song: the model is inside); + model: the shared "
        "model's bytes amortized over the tracks that share it (the artist's 4 for its "
        "own artist, the other artist's 4 plus this one). Break-even: the song length "
        "below which the artist model (file alone) takes fewer bytes than per-song "
        "fitting, from the measured model bytes and the extra coefficient bytes a second "
        "(any: the artist model's coefficients took no more bytes than the song's own; its "
        "SNR may still be lower).",
        "",
        "| quality | track | per song: bits/sample | SNR dB | artist: bits/sample "
        "| + model | SNR dB | other artist: bits/sample | + model | SNR dB | break-even s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def cells(row: dict) -> str:
        own, loo, other = row["per_song"], row["artist_loo"], row["other_artist"]
        even = row["break_even_seconds"]
        return (
            f"{own['bits_per_sample']:.3f} | {own['snr_db']:.2f} | {loo['bits_per_sample']:.3f} "
            f"| {loo['bits_per_sample_amortized']:.3f} | {loo['snr_db']:.2f} "
            f"| {other['bits_per_sample']:.3f} | {other['bits_per_sample_amortized']:.3f} "
            f"| {other['snr_db']:.2f} | {'any' if even is None else f'{even:.0f}'}"
        )

    by_quality = defaultdict(list)
    for row in rows:
        by_quality[row["quality"]].append(row)
        lines.append(f"| {row['quality']:g} | {row['track']} | {cells(row)} |")
    for quality, group in by_quality.items():
        mean = {
            key: {
                field: float(np.mean([r[key][field] for r in group]))
                for field in ("bits_per_sample", "snr_db", "bits_per_sample_amortized")
                if field in group[0][key]
            }
            for key in ("per_song", "artist_loo", "other_artist")
        }
        evens = [r["break_even_seconds"] for r in group if r["break_even_seconds"] is not None]
        mean["break_even_seconds"] = float(np.median(evens)) if evens else None
        label = "**mean** (break-even: median of the others)"
        lines.append(f"| {quality:g} | {label} | {cells(mean)} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.artist", description=__doc__)
    parser.add_argument("--corpus", type=Path, required=True, help="folder of songs")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--excerpt", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--qualities", type=float, nargs="+", default=[codec.DEFAULT_QUALITY])
    parser.add_argument(
        "--iterations", type=int, default=FitSettings.iterations, help="decoder fitting"
    )
    args = parser.parse_args(argv)
    tracks = defaultdict(list)
    for path in sorted(args.corpus.iterdir()):
        if path.suffix.lower() in AUDIO_SUFFIXES:
            audio, rate = load_excerpt(path, args.excerpt)
            tracks[path.stem.split("-")[0]].append((path.stem, audio, rate))
    if len(tracks) < 2 or min(map(len, tracks.values())) < 2:
        parser.error("needs two artists with at least two tracks each (ARTIST-title.ext)")
    settings = FitSettings(iterations=args.iterations)
    rows = [row for quality in args.qualities for row in measure(tracks, quality, settings)]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "artist.json").write_text(json.dumps(rows, indent=1) + "\n")
    write_table(rows, args.out / "artist.md", args.excerpt)
    return 0


if __name__ == "__main__":
    sys.exit(main())

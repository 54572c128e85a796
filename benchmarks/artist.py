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
import itertools
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
from bitstream.filterbank import MODEL_SECTIONS as FILTERBANK_MODEL
from bitstream.learned import MODEL_SECTIONS as LEARNED_MODEL
from codec import FilterbankPath, FitSettings, LearnedPath

MODEL_SECTIONS = {*FILTERBANK_MODEL, *LEARNED_MODEL}


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
    tracks: dict[str, list[tuple[str, np.ndarray, int]]],
    quality: float,
    settings: FitSettings,
    path,
) -> list[dict]:
    """Every track coded the three ways at ``quality`` with the coding ``path``, models
    fitted with ``settings`` (the other artist's only where there is another artist)."""
    rows = []
    artists = sorted(tracks)
    total = sum(len(songs) for songs in tracks.values())
    bar = tqdm(total=total, desc=f"quality {quality:g}", unit="track")
    others = {}  # each artist's model, for the other artist's tracks
    for artist in artists if len(artists) > 1 else ():  # the other artist's models
        started = time.perf_counter()
        songs = [audio for _, audio, _ in tracks[artist]]
        shared = codec.train_artist(songs, path=path, quality=quality, settings=settings)
        others[artist] = (shared, len(write_model(shared)), time.perf_counter() - started)
    for artist in artists:
        songs = tracks[artist]
        for name, audio, rate in songs:
            own = codec.compress(audio, rate, path=path, quality=quality, settings=settings)
            own = _coded(own, audio)
            rest = [a for n, a, _ in songs if n != name]
            started = time.perf_counter()
            shared = codec.train_artist(rest, path=path, quality=quality, settings=settings)
            train_seconds = time.perf_counter() - started
            loo = _coded(codec.compress(audio, rate, path=path, shared=shared), audio, [shared])
            loo["model_file_bytes"] = len(write_model(shared))
            loo["shared_by"] = len(songs)
            loo["train_seconds"] = round(train_seconds, 1)
            codings = [loo]
            other_artist = next((a for a in artists if a != artist), None)
            if other_artist is not None:
                other_model, other_bytes, other_seconds = others[other_artist]
                other = _coded(codec.compress(audio, rate, path=path, shared=other_model), audio,
                               [other_model])  # fmt: skip
                other["model_file_bytes"] = other_bytes
                other["shared_by"] = len(tracks[other_artist]) + 1
                other["train_seconds"] = round(other_seconds, 1)
                codings.append(other)
            for coding in codings:
                amortized = coding["model_file_bytes"] / coding["shared_by"]
                coding["bits_per_sample_amortized"] = 8 * (coding["bytes"] + amortized) / audio.size
            seconds = len(audio) / rate
            # bytes a second the artist model's coefficients cost beyond the song's own
            extra = (loo["coefficient_bytes"] - own["coefficient_bytes"]) / seconds
            saved = own["model_bytes_in_file"] - loo["model_file_bytes"] / loo["shared_by"]
            rows.append({
                "track": name, "artist": artist, "quality": quality, "seconds": seconds,
                "per_song": own, "artist_loo": loo,
                "other_artist": codings[1] if len(codings) > 1 else None,
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
        others = (
            f"{other['bits_per_sample']:.3f} | {other['bits_per_sample_amortized']:.3f} "
            f"| {other['snr_db']:.2f}" if other else "— | — | —"
        )  # fmt: skip
        return (
            f"{own['bits_per_sample']:.3f} | {own['snr_db']:.2f} | {loo['bits_per_sample']:.3f} "
            f"| {loo['bits_per_sample_amortized']:.3f} | {loo['snr_db']:.2f} "
            f"| {others} | {'any' if even is None else f'{even:.0f}'}"
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
            if group[0][key] is not None
        }
        mean.setdefault("other_artist", None)
        evens = [r["break_even_seconds"] for r in group if r["break_even_seconds"] is not None]
        mean["break_even_seconds"] = float(np.median(evens)) if evens else None
        label = "**mean** (break-even: median of the others)"
        lines.append(f"| {quality:g} | {label} | {cells(mean)} |")
    lines += ["", *equal_snr_table(rows)]
    path.write_text("\n".join(lines) + "\n")


SNR_TARGETS = (15.0, 20.0, 25.0)
CATALOGUE = 100  # songs a shared model is amortized over, in the last column


def bits_at(points: list[tuple[float, float]], snr: float) -> float | None:
    """Bits/sample at ``snr``, interpolated (log bits, linear in SNR) between measured
    (snr, bits) points; None outside them."""
    points = sorted(points)
    for (s0, b0), (s1, b1) in itertools.pairwise(points):
        if s0 <= snr <= s1 and s1 > s0:
            return float(np.exp(np.log(b0) + (snr - s0) / (s1 - s0) * np.log(b1 / b0)))
    return None


def equal_snr_table(rows: list[dict]) -> list[str]:
    """Bits/sample at equal SNR, means over the tracks whose curves reach it: per song;
    the artist's model amortized over its artist's songs, and over a catalogue."""
    by_track = defaultdict(list)
    for row in rows:
        by_track[row["track"]].append(row)
    ways = {
        "per song": lambda r: (r["per_song"]["snr_db"], r["per_song"]["bits_per_sample"]),
        "artist model": lambda r: (r["artist_loo"]["snr_db"],
                                   r["artist_loo"]["bits_per_sample_amortized"]),
        f"artist model over {CATALOGUE} songs": lambda r: (
            r["artist_loo"]["snr_db"],
            8 * (r["artist_loo"]["bytes"] + r["artist_loo"]["model_file_bytes"] / CATALOGUE)
            / (r["per_song"]["bytes"] * 8 / r["per_song"]["bits_per_sample"]),
        ),
    }  # fmt: skip
    lines = ["## Bits/sample at equal SNR (means over the tracks that reach it)", "",
             "| coding | " + " | ".join(f"{s:g} dB" for s in SNR_TARGETS) + " |",
             "|---" * (len(SNR_TARGETS) + 1) + "|"]  # fmt: skip
    for name, point in ways.items():
        cells = []
        for snr in SNR_TARGETS:
            values = [bits_at([point(r) for r in group], snr) for group in by_track.values()]
            values = [v for v in values if v is not None]
            mark = f" ({len(values)})" if 0 < len(values) < len(by_track) else ""
            cells.append(f"{np.mean(values):.3f}{mark}" if values else "—")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.artist", description=__doc__)
    parser.add_argument("--corpus", type=Path, required=True, help="folder of songs")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--excerpt", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--qualities", type=float, nargs="+", default=[codec.DEFAULT_QUALITY])
    parser.add_argument(
        "--iterations", type=int, default=FitSettings.iterations, help="training iterations"
    )
    parser.add_argument("--arch", default="filterbank", help="filterbank, post, signed, ...")
    args = parser.parse_args(argv)
    tracks = defaultdict(list)
    for path in sorted(args.corpus.iterdir()):
        if path.suffix.lower() in AUDIO_SUFFIXES:
            audio, rate = load_excerpt(path, args.excerpt)
            tracks[path.stem.split("-")[0]].append((path.stem, audio, rate))
    if min(map(len, tracks.values()), default=0) < 2:
        parser.error("needs artists with at least two tracks each (ARTIST-title.ext)")
    settings = FitSettings(iterations=args.iterations)
    path = FilterbankPath() if args.arch == "filterbank" else LearnedPath(args.arch)
    rows = [row for q in args.qualities for row in measure(tracks, q, settings, path)]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "artist.json").write_text(json.dumps(rows, indent=1) + "\n")
    write_table(rows, args.out / "artist.md", args.excerpt)
    return 0


if __name__ == "__main__":
    sys.exit(main())

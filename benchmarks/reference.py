"""The benchmark's curves against the independent MDCT+EC reference (``../shared/reference``).

    python -m benchmarks.reference --corpus DIR --points POINTS.csv --excerpt SECONDS
                                   --out FILE.md [--methods sae mdct ...]

Runs the reference's own tools, never a copy of them: ``points.py`` codes the same middle
excerpts at its ladder of steps (its points are kept beside ``FILE.md`` and reused), then,
for each method of ``POINTS.csv`` (a ``python -m benchmarks.rd`` result), ``bd.py`` gives
its BD-SNR against the reference per track and their mean, over all points and over
0.5 to 4 bits/sample. Writes a table to ``FILE.md``.
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
CANDIDATE = "candidate"  # bd.py matches methods by substring: no method's name holds another
RANGES = {"all points": (0.0, float("inf")), "0.5 to 4 bits/sample": (0.5, 4.0)}


def reference_points(corpus: Path, excerpt: float, saved: Path) -> list[dict]:
    if not saved.exists():
        command = [sys.executable, str(REFERENCE / "points.py"), "--corpus", str(corpus),
                   "--excerpt", f"{excerpt:g}", "--out", str(saved)]  # fmt: skip
        subprocess.run(command, check=True)
    return list(csv.DictReader(saved.open()))


def bd_snr(rows: list[dict], low: float, high: float) -> tuple[dict[str, float], float]:
    """bd.py's BD-SNR of ``candidate`` against ``mdct_ref`` on the rows within the range:
    per track, and the mean."""
    kept = [r for r in rows if low <= float(r["bits_per_sample"]) <= high]
    with tempfile.NamedTemporaryFile("w", suffix=".csv", newline="") as merged:
        writer = csv.DictWriter(merged, ["track", "method", "bits_per_sample", "snr_db"],
                                extrasaction="ignore")  # fmt: skip
        writer.writeheader()
        writer.writerows(kept)
        merged.flush()
        command = [sys.executable, str(REFERENCE / "bd.py"), merged.name, CANDIDATE, "mdct_ref"]
        out = subprocess.run(command, capture_output=True, text=True).stdout
    tracks = {
        m[1]: float(m[2]) for m in re.finditer(r"^(\S+): BD-SNR .* = ([-+\d.]+) dB", out, re.M)
    }
    mean = re.search(r"^BD-SNR .*: ([-+\d.]+) dB over", out, re.M)
    return tracks, float(mean[1]) if mean else float("nan")


def points_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The arguments of a script that compares a ``benchmarks.rd`` result with something
    computed on the same excerpts of the same folder, and writes a markdown table."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--points", type=Path, required=True, help="benchmarks.rd's points.csv")
    parser.add_argument("--excerpt", type=float, required=True, help="as benchmarks.rd ran")
    parser.add_argument("--out", type=Path, required=True, help="the table, markdown")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = points_parser("python -m benchmarks.reference", __doc__)
    parser.add_argument("--methods", nargs="+", default=["sae", "sae-listen", "mdct"])
    args = parser.parse_args(argv)
    saved = args.out.with_name(args.out.stem + "_points.csv")
    reference = reference_points(args.corpus, args.excerpt, saved)
    ours = list(csv.DictReader(args.points.open()))
    lines = [f"# Against the independent reference MDCT+EC ({args.corpus.name})", "",
             f"`python -m benchmarks.reference --corpus {args.corpus} --points {args.points} "
             f"--excerpt {args.excerpt:g} --out {args.out}`: the reference's `points.py` on "
             f"the same {args.excerpt:g} s excerpts, its `bd.py` for the BD-SNR (dB) of each "
             "method against it (positive: better). Reference points: "
             f"`{saved.name}`.", ""]  # fmt: skip
    tracks = sorted({r["track"] for r in reference})
    lines += ["| method | range | mean | " + " | ".join(tracks) + " |",
              "|---|---|---|" + "---|" * len(tracks)]  # fmt: skip
    for method in args.methods:
        rows = [{**r, "method": CANDIDATE} for r in ours if r["method"] == method]
        for name, (low, high) in RANGES.items():
            per_track, mean = bd_snr(reference + rows, low, high)
            cells = [f"{per_track[t]:+.2f}" if t in per_track else "—" for t in tracks]
            lines.append(f"| {method} | {name} | **{mean:+.2f}** | " + " | ".join(cells) + " |")
            print(f"{method}, {name}: {mean:+.3f} dB", flush=True)
    args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

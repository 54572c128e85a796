"""The oracle charged for its envelope: reverse water-filling when the band variances it
is given for free must be sent.

    python -m benchmarks.envelope --corpus DIR --points POINTS.csv --excerpt SECONDS
                                  --out FILE.md [--method sae]

The oracle (``benchmarks/oracle.py``) knows each frame's 16-bin band variances (mid/side
MDCT, 1024 bins) without paying for them. Here it pays. Each band's variance v is sent as
``round(log2(v / theta) / step)`` (a symbol of its own, 0, for a band at or below the
water level theta, which takes no bits and leaves v of error), and the band's
coefficients cost the rate of that rounded variance: the oracle's ``log2(v / theta) / 2``
bits each plus the Gaussian mismatch ``KL(v || rounded)``. The symbols cost their
empirical entropy given the previous frame's symbol in the band and the band below's in
the frame: an optimistic price, as no table is paid for and each is fitted to the very
symbols it codes. At each water level the cheapest of four steps (1.5 to 6 dB) is taken.
The distortion is the oracle's. Writes a table of SNR at rates and of BD-SNR (dB) of
``--method`` from ``POINTS.csv`` (a ``python -m benchmarks.rd`` result on the same
excerpts) against the oracle and the charged oracle.

>>> audio = np.random.default_rng(0).standard_normal((44100, 2))
>>> free, snr = oracle_curve(audio, [0.1])
>>> charged = charged_oracle_curve(audio, [0.1])
>>> bool(charged[0] > free[0]), round(float(snr[0]), 1)
(True, 9.9)
"""

from __future__ import annotations

import csv
import sys

import numpy as np

from benchmarks.metrics import bd_snr, snr_at
from benchmarks.oracle import BAND, banded, oracle_curve
from benchmarks.rd import AUDIO_SUFFIXES, load_excerpt
from benchmarks.reference import points_parser
from benchmarks.report import cell, mean_cell

STEPS = (0.5, 1.0, 1.5, 2.0)  # in log2 of the variance: 1.5, 3, 4.5 and 6 dB
THETAS = tuple(10.0 ** (-e / 8) for e in range(4, 70))
RATES = (0.5, 1.0, 2.0, 4.0)


def _conditional_entropy(symbols: np.ndarray, contexts: np.ndarray) -> float:
    """Sum over symbols of -log2 p(symbol | context), p counted from these very symbols."""
    _, pairs, joint = np.unique(contexts * 4096 + symbols, return_inverse=True, return_counts=True)
    _, each, context = np.unique(contexts, return_inverse=True, return_counts=True)
    return float(-np.sum(np.log2(joint[pairs] / context[each])))


def _charged_bits(variances: np.ndarray, theta: float, step: float) -> float:
    """Bits for the coefficients under rounded variances plus the variances' own bits."""
    active = variances > theta
    octaves = np.log2(np.maximum(variances, theta) / theta)
    symbols = np.where(active, np.round(octaves / step).astype(np.int64) + 1, 0)
    ratio = np.where(active, variances / (theta * 2.0 ** ((symbols - 1) * step)), 1.0)
    mismatch = (ratio - 1 - np.log(ratio)) / (2 * np.log(2))  # KL(v || rounded), bits
    coefficients = BAND * np.sum(np.where(active, octaves / 2 + mismatch, 0.0))
    previous = np.pad(symbols, ((0, 0), (1, 0), (0, 0)), constant_values=-1)[:, :-1]
    below = np.pad(symbols, ((0, 0), (0, 0), (1, 0)), constant_values=-1)[:, :, :-1]
    contexts = (previous + 1) * 4096 + below + 1
    return coefficients + _conditional_entropy(symbols, contexts)


def charged_oracle_curve(audio: np.ndarray, thetas) -> np.ndarray:
    """Bits per sample of the charged oracle at each water level, where its SNR is
    :func:`~benchmarks.oracle.oracle_curve`'s."""
    variances = np.mean(banded(audio) ** 2, -1)
    samples = audio.shape[0] * audio.shape[1]
    charged = [min(_charged_bits(variances, t, s) for s in STEPS) / samples for t in thetas]
    return np.array(charged)


def main(argv: list[str] | None = None) -> int:
    parser = points_parser("python -m benchmarks.envelope", __doc__)
    parser.add_argument("--method", default="sae", help="a method of POINTS.csv")
    args = parser.parse_args(argv)
    points: dict[str, list[tuple[float, float]]] = {}
    for row in csv.DictReader(args.points.open()):
        if row["method"] == args.method:
            points.setdefault(row["track"], []).append(
                (float(row["bits_per_sample"]), float(row["snr_db"]))
            )
    rates = " | ".join(f"{r:g}" for r in RATES)
    lines = [f"# The oracle charged for its envelope ({args.corpus.name})", "",
             f"`python -m benchmarks.envelope --corpus {args.corpus} --points {args.points} "
             f"--excerpt {args.excerpt:g} --out {args.out}` (see its docstring). SNR (dB) at "
             f"{rates} bits/sample: the oracle as the benchmark reports it, the oracle "
             f"charged for its band variances, and {args.method}; then {args.method}'s "
             "BD-SNR (dB) against each over their common range within 0.5 to 4 bits/sample, "
             "and the envelope's share of the charged oracle's bits at 1 bit/sample.", "",
             "| track | oracle | charged oracle | " + args.method + " | BD-SNR vs oracle | "
             "vs charged | envelope at 1 b/s |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    table = []
    for path in sorted(p for p in args.corpus.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES):
        if path.stem not in points:
            continue
        audio, _ = load_excerpt(path, args.excerpt)
        free, snr = oracle_curve(audio, THETAS)
        charged = charged_oracle_curve(audio, THETAS)
        bits, ours = np.array(points[path.stem]).T
        at = [
            [snr_at(b, s, r) for r in RATES] for b, s in ((free, snr), (charged, snr), (bits, ours))
        ]
        gains = [bd_snr(b, snr, bits, ours, (0.5, 4.0)) for b in (free, charged)]
        share = 1 - np.interp(0.0, np.log2(charged), free / charged)
        table.append((at, gains, share))
        lines.append(f"| {path.stem} | " + " | ".join(" / ".join(cell(v, 2) for v in a) for a in at)
                     + f" | {gains[0]:+.2f} | {gains[1]:+.2f} | {share:.1%} |")  # fmt: skip
        print(lines[-1], flush=True)
    means = [  # each curve's mean at each rate over the tracks that reach it
        " / ".join(mean_cell([t[0][k][i] for t in table], len(table), 2) for i in range(len(RATES)))
        for k in range(3)
    ]
    lines.append("| **mean** | " + " | ".join(means)
                 + f" | {np.mean([t[1][0] for t in table]):+.2f} | "
                 f"{np.mean([t[1][1] for t in table]):+.2f} | "
                 f"{np.mean([t[2] for t in table]):.1%} |")  # fmt: skip
    args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Tables and plots from the benchmark's rows: ``summary.md``, ``rd.png``, ``rd_tracks.png``,
``mos.png``."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from benchmarks.methods import METHODS
from benchmarks.metrics import bd_rate, bd_snr, snr_at

RATES = (0.5, 1.0, 2.0, 4.0)
MOS_RATES = (0.25, 0.5, 1.0, 2.0)  # where perceptual codecs differ: low rates
REFERENCE = "mdct"
BD_WINDOW = (0.5, 4.0)  # bits per sample the Bjontegaard deltas are taken over
CANDIDATES = ("sae", "sae-listen", "post", "signed")  # compared with MDCT+EC

DEFINITIONS = """\
- **bits/sample**: every byte of the compressed file (headers and, for sae, the model's
  weights and entropy tables included) x 8 / (frames x channels). The oracle has no file:
  its figure is the water-filling rate.
- **SNR**: 10 log10(sum x^2 / sum (x - x')^2) over the whole excerpt, both channels, after
  shifting the decoded audio by the integer lag that best aligns it (the lag is reported)
  and trimming both to the same length.
- **SNR at a rate**: interpolated per track (monotone cubic in log rate) between measured
  points, never extrapolated, then averaged over the tracks that reach that rate; a
  column marked with (n) averages only n tracks.
- **BD-SNR / BD-rate**: Bjontegaard deltas of sae's methods against MDCT+EC, each track's curves
  compared over their common range within 0.5 to 4 bits/sample (monotone cubic
  interpolation in log rate), then averaged over tracks.
- **ViSQOL MOS**: ViSQOL v3 in audio mode (`visqol-python`, its bundled SVR model), a
  MOS-LQO from 1 to about 4.73 (identical audio), on the middle 20 s of each excerpt
  (aligned as for the SNR; all of it if shorter): the mono mix of each channel, as ViSQOL
  scores stereo files, resampled from the track's rate to 48 kHz (scipy's polyphase
  `resample_poly`), the rate its audio mode is fitted at. An error only in the side
  channel goes unseen. A MOS at a rate is interpolated per track as the SNR is.
- **x real time**: excerpt seconds / seconds to encode (for sae: fitting included) or decode.
- Opus, Vorbis and MP3 aim at perceived quality, not SNR; their SNR is shown for
  reference. libsndfile writes Opus only at 48 kHz and below, so Opus runs on audio
  resampled to 48 kHz and back (scipy's polyphase resampler), which it is charged for.
- The oracle is Gaussian reverse water-filling on mid/side MDCT coefficients with
  per-frame, per-16-bin-band variances known for free: a reference curve, not a bound.
"""


def _by(rows, *keys):
    groups = defaultdict(list)
    for row in rows:
        groups[tuple(row[k] for k in keys)].append(row)
    return groups


def cell(value, digits=1, suffix="") -> str:
    """A table cell: the value to ``digits`` places and ``suffix``, or a dash for None."""
    return "—" if value is None else f"{value:.{digits}f}{suffix}"


def mean_cell(values, tracks: int, digits: int) -> str:
    """The mean of ``values`` that are not None (the tracks that reach a rate), with their
    count in brackets where fewer than ``tracks`` do; a dash where none does."""
    reached = [v for v in values if v is not None]
    mark = f" ({len(reached)})" if 0 < len(reached) < tracks else ""
    return cell(np.mean(reached) if reached else None, digits, mark)


def _track_curve(rows, field: str = "snr_db"):
    return np.array([r["bits_per_sample"] for r in rows]), np.array([r[field] for r in rows])


def write_report(rows: list[dict], out: Path, excerpt: float | None) -> None:
    per_method_track = _by(rows, "method", "track")
    tracks = sorted({r["track"] for r in rows})
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    lines = [
        "# Rate-distortion benchmark",
        "",
        f"{len(tracks)} tracks, "
        + ("whole tracks. " if excerpt is None else f"{excerpt:g} s from the middle of each. ")
        + "Made by `python -m benchmarks.rd`; every number below is measured from real "
        "bytes decoded back, except the oracle's.",
        "",
        DEFINITIONS,
        "## SNR (dB) at a given rate, mean over tracks",
        "",
        "| method | "
        + " | ".join(f"{r:g} bit/sample" for r in RATES)
        + " | encode x real time | decode x real time | lag (samples) |",
        "|---" * (len(RATES) + 4) + "|",
    ]
    for method in methods:
        if not METHODS[method].curve:
            continue
        cells = []
        for rate in RATES:
            values = [
                snr_at(*_track_curve(per_method_track[(method, t)]), rate)
                for t in tracks
                if (method, t) in per_method_track
            ]
            cells.append(mean_cell(values, len(tracks), 1))
        mine = [r for r in rows if r["method"] == method]
        speed = []
        for kind in ("encode", "decode"):
            ratios = [
                r["excerpt_seconds"] / r[f"{kind}_seconds"]
                for r in mine
                if r[f"{kind}_seconds"] > 0
            ]
            speed.append(cell(np.median(ratios) if ratios else None, 1))
        lags = sorted({r["lag"] for r in mine})
        lag = str(lags[0]) if len(lags) == 1 else f"{lags[0]} to {lags[-1]}"
        lines.append(f"| {METHODS[method].label} | " + " | ".join(cells + speed) + f" | {lag} |")

    lines += _mos_table(rows, per_method_track, methods, tracks)

    candidates = [m for m in CANDIDATES if m in methods]
    if candidates and REFERENCE in methods:
        lines += [
            "",
            "## sae against MDCT+EC: BD-SNR (dB) / BD-rate (%)",
            "",
            "| track | " + " | ".join(METHODS[m].label for m in candidates) + " |",
            "|---" * (len(candidates) + 1) + "|",
        ]
        deltas = {m: ([], []) for m in candidates}
        for t in tracks:
            cells = []
            for method in candidates:
                ref = _track_curve(per_method_track.get((REFERENCE, t), []))
                test = _track_curve(per_method_track.get((method, t), []))
                if not test[0].size:
                    cells.append("—")
                    continue
                snr, rate = bd_snr(*ref, *test, BD_WINDOW), bd_rate(*ref, *test, BD_WINDOW)
                deltas[method][0].extend([snr] if snr is not None else [])
                deltas[method][1].extend([rate] if rate is not None else [])
                cells.append(f"{cell(snr, 2)} / {cell(rate, 1)}")
            lines.append(f"| {t} | " + " | ".join(cells) + " |")
        means = [
            f"**{cell(np.mean(snrs) if snrs else None, 2)} / "
            f"{cell(np.mean(rates) if rates else None, 1)}**"
            for snrs, rates in deltas.values()
        ]
        lines.append("| **mean** | " + " | ".join(means) + " |")
        lines += ["", "Positive BD-SNR and negative BD-rate mean beating MDCT+EC; — : no "
                  "common range within the window."]  # fmt: skip

    lines += ["", "## Reference figures", ""]
    if "flac" in methods:
        flac = [r["bits_per_sample"] for r in rows if r["method"] == "flac"]
        lines.append(
            f"- FLAC (16-bit, highest compression): {np.mean(flac):.2f} bits/sample on average"
            f"{_mean_mos(rows, 'flac')}."
        )
    if "post-mse" in methods:
        snrs = [r["snr_db"] for r in rows if r["method"] == "post-mse"]
        seconds = [r["encode_seconds"] for r in rows if r["method"] == "post-mse"]
        lines.append(
            f"- The post's model as written (plain MSE, latents unquantized, so not a codec: "
            f"no size), 150 iterations of 100 x 1024: SNR {np.mean(snrs):.1f} dB on average "
            f"({min(snrs):.1f} to {max(snrs):.1f}){_mean_mos(rows, 'post-mse')}, fitted and "
            f"decoded in {np.mean(seconds):.0f} s on average."
        )
    lines += [
        "",
        "Per-track points: `points.csv`. Plots: `rd.png` (means), `rd_tracks.png` (per track), "
        "`mos.png` (ViSQOL MOS, means).",
    ]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    _plot_means(rows, methods, out / "rd.png")
    _plot_means(rows, methods, out / "mos.png", "visqol")
    _plot_tracks(per_method_track, methods, tracks, out / "rd_tracks.png")


def _scored(rows: list[dict]) -> list[dict]:
    """The rows with a ViSQOL MOS (not the oracle's, which decodes nothing)."""
    return [r for r in rows if r.get("visqol") is not None]


def _mean_mos(rows: list[dict], method: str) -> str:
    scores = [r["visqol"] for r in _scored(rows) if r["method"] == method]
    return f" (ViSQOL MOS {np.mean(scores):.2f})" if scores else ""


def _mos_table(rows, per_method_track, methods, tracks) -> list[str]:
    """The MOS at each of :data:`MOS_RATES`, per method with a curve and a MOS."""
    lines = [
        "",
        "## ViSQOL MOS at a given rate, mean over tracks",
        "",
        "| method | " + " | ".join(f"{r:g} bit/sample" for r in MOS_RATES) + " |",
        "|---" * (len(MOS_RATES) + 1) + "|",
    ]
    for method in methods:
        scored = {t: _scored(per_method_track.get((method, t), [])) for t in tracks}
        if not METHODS[method].curve or not any(scored.values()):
            continue
        cells = []
        for rate in MOS_RATES:
            values = [snr_at(*_track_curve(s, "visqol"), rate) for s in scored.values() if s]
            cells.append(mean_cell(values, len(tracks), 2))
        lines.append(f"| {METHODS[method].label} | " + " | ".join(cells) + " |")
    return lines


def _plot_means(rows, methods, path: Path, field: str = "snr_db") -> None:
    """Mean curves of ``field`` (``snr_db`` or ``visqol``) against bits per sample."""
    fig = Figure(figsize=(8, 5.5))
    ax = fig.subplots()
    for method in methods:
        mine = [r for r in rows if r["method"] == method and r.get(field) is not None]
        if not METHODS[method].curve or not mine:
            continue
        groups = _by(mine, "setting")
        points = sorted(
            (np.mean([r["bits_per_sample"] for r in g]), np.mean([r[field] for r in g]))
            for g in groups.values()
        )
        bits, values = zip(*points, strict=True)
        ax.plot(bits, values, marker="o", ms=3, label=METHODS[method].label)
    flac = [r["bits_per_sample"] for r in rows if r["method"] == "flac"]
    if flac:
        ax.axvline(np.mean(flac), color="grey", ls=":", label="FLAC (lossless)")
    ax.set_xscale("log", base=2)
    ax.set_xlim(0.125 if field == "visqol" else 0.25, 16)  # MOS: where perceptual codecs go
    ax.set_xlabel("bits per sample (every byte of the file)")
    if field == "visqol":
        ax.set_ylabel("ViSQOL MOS-LQO (audio mode, 48 kHz)")
        ax.set_ylim(1, 5)
        ax.set_title("ViSQOL MOS against rate, mean over tracks (each setting averaged)")
    else:
        ax.set_ylabel("SNR (dB)")
        ax.set_title("Rate-distortion, mean over tracks (each setting averaged)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _plot_tracks(per_method_track, methods, tracks, path: Path) -> None:
    columns = min(4, len(tracks))
    rows_n = -(-len(tracks) // columns)
    fig = Figure(figsize=(4 * columns, 3.2 * rows_n))
    axes = fig.subplots(rows_n, columns, squeeze=False)
    for ax, track in zip(axes.ravel(), tracks, strict=False):
        for method in methods:
            if METHODS[method].curve and (method, track) in per_method_track:
                bits, snr = _track_curve(
                    sorted(per_method_track[(method, track)], key=lambda r: r["bits_per_sample"])
                )
                ax.plot(bits, snr, marker="o", ms=2, label=method)
        ax.set_xscale("log", base=2)
        ax.set_xlim(0.25, 16)
        ax.set_title(track, fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    for ax in axes.ravel()[len(tracks) :]:
        ax.axis("off")
    if axes[0, 0].get_legend_handles_labels()[0]:
        axes[0, 0].legend(fontsize=7)
    fig.supxlabel("bits per sample")
    fig.supylabel("SNR (dB)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)

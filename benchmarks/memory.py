"""Peak memory and speed of ``sae compress`` and ``sae decompress`` on long tracks.

    python -m benchmarks.memory --corpus DIR --out DIR [--minutes 3 20 60]

For each length, builds a 44.1 kHz stereo 16-bit wav of that many minutes from the
corpus's songs, one after another (looped as needed), runs the real commands on it in
child processes and records each one's peak resident memory (the kernel's ``ru_maxrss``
of that child), its wall time, and the file's size and SNR as ``sae compress`` reports
them. Writes ``memory.json`` and ``memory.md`` to OUT.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

from benchmarks.rd import AUDIO_SUFFIXES

RATE = 44100
BLOCK = 1 << 20


def build_track(corpus: Path, minutes: float, path: Path) -> None:
    """A wav of ``minutes`` of the corpus's songs played one after another."""
    songs = sorted(p for p in corpus.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    left = round(minutes * 60 * RATE)
    with sf.SoundFile(path, "w", RATE, 2, subtype="PCM_16") as out:
        while left > 0:
            for song in songs:
                with sf.SoundFile(song) as source:
                    if (source.samplerate, source.channels) != (RATE, 2):
                        continue
                    while left > 0 and (block := source.read(min(BLOCK, left), "float32")).size:
                        out.write(block)
                        left -= len(block)


def run_measured(command: list[str]) -> tuple[float, float, str]:
    """(seconds, peak resident GB, stdout) of a child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {process.returncode}")
    return time.perf_counter() - started, usage.ru_maxrss / 1e6, stdout  # ru_maxrss: kB


def measure(corpus: Path, minutes: float, folder: Path) -> dict:
    wav, sae, back = folder / f"{minutes:g}min.wav", folder / "track.sae", folder / "back.wav"
    build_track(corpus, minutes, wav)
    sae_command = [sys.executable, "-m", "codec"]
    compress_s, compress_gb, report = run_measured(
        [*sae_command, "compress", str(wav), "-o", str(sae), "--quiet", "-f"]
    )
    decompress_s, decompress_gb, _ = run_measured(
        [*sae_command, "decompress", str(sae), "-o", str(back), "-f"]
    )
    if sf.info(back).frames != sf.info(wav).frames:
        raise RuntimeError("the decoded track does not have the original's length")
    info_command = [*sae_command, "info", str(sae), "--json"]
    info = json.loads(subprocess.run(info_command, capture_output=True, check=True).stdout)
    seconds = minutes * 60
    result = {
        "minutes": minutes,
        "segments": info["segments"],
        "bits_per_sample": round(info["bits_per_sample"], 4),
        "snr_db": float(re.search(r"SNR (-?[\d.]+) dB", report).group(1)),
        "compress_seconds": round(compress_s, 1),
        "compress_peak_gb": round(compress_gb, 2),
        "compress_x_realtime": round(seconds / compress_s, 2),
        "decompress_seconds": round(decompress_s, 1),
        "decompress_peak_gb": round(decompress_gb, 2),
        "decompress_x_realtime": round(seconds / decompress_s, 1),
    }
    for path in (wav, sae, back):
        path.unlink()
    return result


def write_table(results: list[dict], path: Path) -> None:
    lines = [
        "# Long tracks: peak memory and speed",
        "",
        "`python -m benchmarks.memory` on this 2-core machine: 44.1 kHz stereo tracks made "
        "of the corpus's songs one after another, default quality, the real `sae` commands "
        "in child processes (peak resident memory = the child's `ru_maxrss`; times include "
        "starting Python and importing torch; compress includes decoding the written file "
        "for its SNR).",
        "",
        "| minutes | segments | bits/sample | SNR dB | compress s | x RT | peak GB "
        "| decompress s | x RT | peak GB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['minutes']:g} | {r['segments']} | {r['bits_per_sample']:.3f} "
            f"| {r['snr_db']:.2f} | {r['compress_seconds']:.0f} | {r['compress_x_realtime']:.2f} "
            f"| {r['compress_peak_gb']:.2f} | {r['decompress_seconds']:.0f} "
            f"| {r['decompress_x_realtime']:.0f} | {r['decompress_peak_gb']:.2f} |"
        )
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("--corpus", type=Path, required=True, help="folder of songs")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--minutes", type=float, nargs="+", default=[3, 20, 60])
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for minutes in args.minutes:
            results.append(measure(args.corpus, minutes, Path(folder)))
            print(json.dumps(results[-1]), flush=True)
    (args.out / "memory.json").write_text(json.dumps(results, indent=2) + "\n")
    write_table(results, args.out / "memory.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory and speed of ``sae compress`` and ``sae decompress`` on long tracks.

    python -m benchmarks.memory --corpus DIR --out DIR [--minutes 3 20 60]

For each length, builds a 44.1 kHz stereo 16-bit wav of that many minutes from the
corpus's songs, one after another (looped as needed), runs the real commands on it in
child processes and records each one's peak resident memory (the kernel's ``ru_maxrss``
of that child), its wall time, and the file's size and SNR as ``sae compress`` reports
them. As a reference, the same track resampled to 48 kHz is coded with Opus (libsndfile's,
at its default level, untimed) and decoded to a wav in a child process by libsndfile,
block by block: what a player pays to decode Opus from Python. Writes ``memory.json`` and
``memory.md`` to OUT.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

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


OPUS_RATE = 48000  # the only rate above 24 kHz at which libsndfile writes Opus
# the reference decoder: libsndfile's, block by block from a .opus file to a wav
OPUS_DECODER = """
import sys, soundfile as sf
with sf.SoundFile(sys.argv[1]) as source, sf.SoundFile(
    sys.argv[2], "w", source.samplerate, source.channels, "PCM_16"
) as out:
    for block in source.blocks(1 << 16, dtype="float32"):
        out.write(block)
"""


def encode_opus(wav: Path, opus: Path) -> None:
    """``wav`` resampled to 48 kHz and coded with Opus, a block at a time."""
    with (
        sf.SoundFile(wav) as source,
        sf.SoundFile(opus, "w", OPUS_RATE, source.channels, "OPUS", format="OGG") as out,
    ):
        for block in source.blocks(RATE * 10, dtype="float32"):  # 10 s: whole resampler periods
            out.write(np.clip(resample_poly(block, OPUS_RATE // 300, RATE // 300, axis=0), -1, 1))


# Runs a command and prints its peak resident kB. Linux records the peak of the memory a
# process had before exec into that process's ru_maxrss, so a child started straight from
# this (large) Python would report at least this process's size: start it from this small
# one instead.
LAUNCHER = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
sys.stdout.buffer.write(process.stdout.read())
_, status, usage = os.wait4(process.pid, 0)
print(f"\\n{usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(command: list[str]) -> tuple[float, float, str]:
    """(seconds, peak resident GB, stdout) of a child process."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", LAUNCHER, *command], stdout=subprocess.PIPE,
                          text=True)  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {done.returncode}")
    stdout, _, peak_kb = done.stdout.rstrip("\n").rpartition("\n")
    return seconds, int(peak_kb) / 1e6, stdout


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
    opus = folder / "track.opus"
    encode_opus(wav, opus)
    opus_s, opus_gb, _ = run_measured([sys.executable, "-c", OPUS_DECODER, str(opus), str(back)])
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
        "opus_decode_seconds": round(opus_s, 1),
        "opus_decode_peak_gb": round(opus_gb, 2),
        "opus_decode_x_realtime": round(seconds / opus_s, 1),
    }
    for path in (wav, sae, back, opus):
        path.unlink()
    return result


def write_table(results: list[dict], path: Path) -> None:
    lines = [
        "# Long tracks: peak memory and speed",
        "",
        "`python -m benchmarks.memory` on this 2-core machine: 44.1 kHz stereo tracks made "
        "of the corpus's songs one after another, default quality, the real `sae` commands "
        "in child processes (peak resident memory = the child's `ru_maxrss`; times include "
        "starting Python and the imports; compress includes fitting and decoding the "
        "written file for its SNR). Opus: the same track at 48 kHz, decoded to a wav by "
        "libsndfile in a Python child process, block by block (a reference for decoding).",
        "",
        "| minutes | segments | bits/sample | SNR dB | compress s | x RT | peak GB "
        "| decompress s | x RT | peak GB | Opus decode s | x RT | peak GB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['minutes']:g} | {r['segments']} | {r['bits_per_sample']:.3f} "
            f"| {r['snr_db']:.2f} | {r['compress_seconds']:.0f} | {r['compress_x_realtime']:.2f} "
            f"| {r['compress_peak_gb']:.2f} | {r['decompress_seconds']:.0f} "
            f"| {r['decompress_x_realtime']:.0f} | {r['decompress_peak_gb']:.2f} "
            f"| {r['opus_decode_seconds']:.1f} | {r['opus_decode_x_realtime']:.0f} "
            f"| {r['opus_decode_peak_gb']:.2f} |"
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

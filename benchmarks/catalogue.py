"""A catalogue on a cluster: how fast ``sae compress`` codes a folder of tracks through
Dask, on this machine and through a scheduler and workers started as separate commands,
and what a killed worker costs.

    python -m benchmarks.catalogue --corpus ../shared/corpus ../shared/corpus-orchestral \\
        --out benchmarks/results [--tracks 16] [--seconds 30]

Cuts ``--tracks`` excerpts of ``--seconds`` from the corpora (the middle of each song,
then a second excerpt a quarter in, until there are enough), writes them as 16-bit WAV,
and times the real commands, each a fresh process as a user runs it: one ``sae
compress`` per track (a shell loop); a batch on a local cluster of 1 and of 2 workers;
a batch through ``dask scheduler`` and two ``dask worker`` processes started on
127.0.0.1; the same with one worker killed (SIGKILL) in the middle of a track; a second
run that finds every track complete; and decompressing the batch. Every batch's ``.sae``
files are compared byte for byte with the first's. It also times the fixed costs: a
process's start-up, Dask's import and local cluster, and a task's scheduling. Writes
``catalogue.md`` and ``catalogue.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import soundfile as sf

from benchmarks.rd import AUDIO_SUFFIXES, ROOT
from codec.cluster import MMAP_THRESHOLD

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # this tree's code, for sae and the workers
# the workers of a running cluster, started as the README says (codec.cluster)
WORKER_ENV = {**ENV, "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD)}


def excerpts(corpora: list[Path], count: int, seconds: float, folder: Path) -> list[Path]:
    """``count`` excerpts of ``seconds``: each song's middle, then a quarter in, ...;
    16-bit WAV in ``folder``."""
    songs = sorted(p for corpus in corpora for p in corpus.iterdir()
                   if p.suffix.lower() in AUDIO_SUFFIXES)  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for place in (0.5, 0.25, 0.75):
        for song in songs:
            if len(written) == count:
                return written
            info = sf.info(str(song))
            frames = int(seconds * info.samplerate)
            start = max(0, int(place * info.frames) - frames // 2)
            audio, rate = sf.read(str(song), start=start, frames=frames, always_2d=True)
            path = folder / f"{song.stem}-{round(100 * place):02d}.wav"
            sf.write(path, audio, rate, subtype="PCM_16")
            written.append(path)
    return written


def sae(*args) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of the real command, and what it did."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "codec", *map(str, args)], env=ENV,
                            capture_output=True, text=True)  # fmt: skip
    return time.perf_counter() - started, result


def batch(name: str, inputs: Path, out: Path, audio: float, *options) -> dict:
    """A batch of compress (or of decompress, with ``inputs`` a folder of .sae files)."""
    out.mkdir(parents=True, exist_ok=True)
    manifest = out.parent / f"{out.name}.json"
    command = "decompress" if next(inputs.glob("*.sae"), None) else "compress"
    seconds, result = sae(command, inputs, "-o", out, "--quiet", "--manifest", manifest,
                          *options)  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"{name}: {result.stderr.strip()}")
    record = json.loads(manifest.read_text())
    files = record["files"]
    done = [f for f in files if f["status"] == "done"]  # a skipped file keeps its old seconds
    busy = sum(f["seconds"] for f in done)
    print(f"{name}: {seconds:.1f} s, {result.stdout.splitlines()[-1]}", file=sys.stderr)
    return {"run": name, "folder": out.name, "seconds": seconds, "tracks": len(files),
            "done": record["done"], "skipped": record["skipped"], "failed": record["failed"],
            "workers": record["workers"], "tracks_per_minute": 60 * len(files) / seconds,
            "real_time_factor": audio / seconds, "busy": busy / (record["workers"] * seconds),
            "load": os.getloadavg()[0], "bits_per_sample": record["bits_per_sample"],
            "snr_db": _mean([f["snr_db"] for f in files]),
            "summary": result.stdout.splitlines()[-1], "manifest": files}  # fmt: skip


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _tail(files: list[dict]) -> float | None:
    """Seconds from the first worker's last task ending to the last's: how long workers
    waited, idle, at the end of the batch (what finer tasks could win back). Workers
    whose last task ended before the last task started had died (a killed one)."""
    from datetime import datetime

    ends, last_start = {}, 0.0
    for f in files:
        if f["status"] == "done" and f["started"] and f["seconds"]:
            start = datetime.fromisoformat(f["started"]).timestamp()
            ends[f["worker"]] = max(ends.get(f["worker"], 0.0), start + f["seconds"])
            last_start = max(last_start, start)
    alive = [end for end in ends.values() if end >= last_start]
    return max(alive) - min(alive) if len(ends) > 1 else None


def _median(values: list[float]) -> float | None:
    values = sorted(values)
    return values[len(values) // 2] if values else None


def same_bytes(folder: Path, reference: Path) -> bool:
    names = sorted(p.name for p in reference.glob("*.sae"))
    return names == sorted(p.name for p in folder.glob("*.sae")) and all(
        (folder / n).read_bytes() == (reference / n).read_bytes() for n in names
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dask_command(*args) -> list[str]:
    """``dask scheduler ...`` or ``dask worker ...``, as a cluster's machines run them."""
    found = shutil.which("dask")
    return [found, *args] if found else [sys.executable, "-m", "dask", *args]


def start_cluster(work: Path) -> tuple[str, list[subprocess.Popen], float]:
    """A scheduler and two single-threaded workers, each its own command and process;
    their address, processes, and seconds until both workers had joined."""
    started = time.perf_counter()
    address = f"tcp://127.0.0.1:{free_port()}"
    port = address.rsplit(":", 1)[1]
    log = open(work / "dask.log", "w")  # noqa: SIM115 (closed with the processes)
    processes = [subprocess.Popen(dask_command("scheduler", "--host", "127.0.0.1", "--port",
                                               port, "--no-dashboard", "--dashboard-address",
                                               ":0"), env=ENV, stdout=log, stderr=log)]  # fmt: skip
    for _ in range(2):
        processes.append(subprocess.Popen(dask_command("worker", address, "--nthreads", "1",
                                                       "--no-dashboard"), env=WORKER_ENV,
                                          stdout=log, stderr=log))  # fmt: skip
    from distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(2, timeout=120)
    return address, processes, time.perf_counter() - started


def kill_a_worker(out: Path, after: int, killed: list, stop: threading.Event) -> None:
    """Once ``after`` outputs are written, SIGKILL the worker process writing the next
    (its process id names its temporary file)."""
    while not stop.is_set():
        names = os.listdir(out) if out.exists() else []
        if sum(n.endswith(".sae") and not n.startswith(".") for n in names) >= after:
            for name in names:
                match = re.fullmatch(r"\.(.+\.sae)\.(\d+)-\w+\.part\.sae", name)
                if match:
                    os.kill(int(match.group(2)), signal.SIGKILL)
                    killed.append({"track": match.group(1), "pid": int(match.group(2)),
                                   "at": time.time()})  # fmt: skip
                    return
        time.sleep(0.01)


# timed in a fresh process, as sae runs it: Dask's workers are spawned, and a spawned
# process imports its parent's main module (this one would bring torch and scipy along)
CLUSTER_COSTS = """
import json, time
started = time.perf_counter()
from codec.cluster import connect
costs = {"import_distributed": time.perf_counter() - started}

def imports(_):
    import codec.api, codec.catalogue

def nothing(index):
    return index

if __name__ == "__main__":
    started = time.perf_counter()
    with connect(2, None) as cluster:
        costs["local_cluster_2_workers"] = time.perf_counter() - started
        for name, task, count in (("first_task_imports_codec", imports, 2),
                                  ("task_overhead", nothing, 1000)):
            started = time.perf_counter()
            cluster.client.gather(cluster.client.map(task, range(count), pure=False))
            costs[name] = (time.perf_counter() - started) / (1 if count == 2 else count)
    print(json.dumps(costs))
"""


def fixed_costs() -> dict:
    """Seconds of what every process, cluster and task pays before coding anything."""
    costs = {}
    for name, code in (("python", "pass"), ("codec", "import codec.commands, codec.api"),
                       ("distributed", "import distributed")):  # fmt: skip
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=ENV, check=True)
        costs[f"start_{name}"] = time.perf_counter() - started
    cluster = subprocess.run([sys.executable, "-c", CLUSTER_COSTS], env=ENV, check=True,
                             capture_output=True, text=True)  # fmt: skip
    return {**costs, **json.loads(cluster.stdout)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.catalogue", description=__doc__)
    parser.add_argument("--corpus", type=Path, nargs="+", required=True, help="folders")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--tracks", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--report-only", action="store_true", help="catalogue.md again from catalogue.json"
    )
    parser.add_argument(
        "--costs-only", action="store_true", help="measure the fixed costs again, alone"
    )
    args = parser.parse_args(argv)
    if args.report_only or args.costs_only:
        result = json.loads((args.out / "catalogue.json").read_text())
        if args.costs_only:
            result["fixed_costs"] = fixed_costs()
            (args.out / "catalogue.json").write_text(json.dumps(result, indent=1) + "\n")
        (args.out / "catalogue.md").write_text(report(result))
        return 0
    work = Path(tempfile.mkdtemp(prefix="sae-catalogue-"))
    load = os.getloadavg()
    try:
        tracks = excerpts(args.corpus, args.tracks, args.seconds, work / "in")
        audio = sum(sf.info(str(t)).duration for t in tracks)
        costs = fixed_costs()
        runs = [shell_loop(tracks, work / "loop", audio)]
        runs.append(batch("local cluster, 1 worker (-j 1)", work / "in", work / "j1", audio,
                          "-j", "1"))  # fmt: skip
        runs.append(batch("local cluster, 2 workers (-j 2)", work / "in", work / "j2", audio,
                          "-j", "2"))  # fmt: skip
        address, processes, joined = start_cluster(work)
        try:
            where = ("--scheduler", address)
            runs.append(batch("dask scheduler + 2 dask workers", work / "in", work / "sep",
                              audio, *where))  # fmt: skip
            killed: list = []
            stop = threading.Event()
            after = args.tracks // 4
            killer = threading.Thread(target=kill_a_worker, daemon=True,
                                      args=(work / "kill", after, killed, stop))  # fmt: skip
            killer.start()
            runs.append(batch("same, one worker killed mid-track", work / "in", work / "kill",
                              audio, *where))  # fmt: skip
            stop.set()
            runs[-1]["killed"] = killed
            runs.append(batch("same, run again: all complete", work / "in", work / "sep",
                              audio, *where))  # fmt: skip
        finally:
            for process in reversed(processes):
                process.terminate()
                process.wait(timeout=60)
        runs.append(batch("decompress, local cluster, 2 workers", work / "j2", work / "dec",
                          audio, "-j", "2"))  # fmt: skip
        for run in runs[1:-1]:  # the batches of compress
            run["same_bytes_as_loop"] = same_bytes(work / run.pop("folder"), work / "loop")
        runs[-1].pop("folder")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"tracks": len(tracks), "seconds_each": args.seconds, "audio_seconds": audio,
              "cores": os.cpu_count(), "load_before": load, "load_after": os.getloadavg(),
              "cluster_joined_seconds": joined, "fixed_costs": costs,
              "runs": runs}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "catalogue.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "catalogue.md").write_text(report(result))
    print(f"wrote {args.out / 'catalogue.md'} and {args.out / 'catalogue.json'}")
    return 0


def shell_loop(tracks: list[Path], out: Path, audio: float) -> dict:
    """One ``sae compress`` process per track, one after another: the start-up of each
    paid each time."""
    out.mkdir(parents=True)
    started = time.perf_counter()
    inside = 0.0
    for track in tracks:
        _, result = sae("compress", track, "-o", out / f"{track.stem}.sae", "--quiet")
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        inside += float(re.search(r"in ([\d.]+) s$", result.stdout.strip()).group(1))
    seconds = time.perf_counter() - started
    print(f"shell loop: {seconds:.1f} s", file=sys.stderr)
    return {"run": "one sae compress per track (shell loop)", "seconds": seconds,
            "tracks": len(tracks), "done": len(tracks), "skipped": 0, "failed": 0,
            "workers": 1, "tracks_per_minute": 60 * len(tracks) / seconds,
            "real_time_factor": audio / seconds, "busy": inside / seconds,
            "load": os.getloadavg()[0], "bits_per_sample": None, "snr_db": None}  # fmt: skip


def report(result: dict) -> str:
    costs = result["fixed_costs"]
    lines = [
        "# A catalogue on a cluster",
        "",
        f"`python -m benchmarks.catalogue`: {result['tracks']} excerpts of "
        f"{result['seconds_each']:g} s ({result['audio_seconds']:.0f} s of 44.1 kHz stereo "
        "in all) from the two corpora, coded by the real `sae compress` at the default "
        f"quality, on this {result['cores']}-core machine, shared with other work (load "
        f"average {result['load_before'][0]:.1f} before, {result['load_after'][0]:.1f} "
        "after). Wall seconds of each whole command, start-up included.",
        "",
        "| run | workers | seconds | tracks/minute | x real time | s per track | busy | "
        "idle tail | same bytes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in result["runs"]:
        files = run.get("manifest", [])
        tail = _tail(files)
        each = _median([f["seconds"] for f in files if f["status"] == "done"])
        cells = ["" if value is None else f"{value:.1f}" for value in (each, tail)]
        same = {True: "yes", False: "NO", None: ""}[run.get("same_bytes_as_loop")]
        extra = f" ({run['done']} done, {run['skipped']} skipped)" if run["skipped"] else ""
        lines.append(f"| {run['run']}{extra} | {run['workers']} | {run['seconds']:.1f} | "
                     f"{run['tracks_per_minute']:.1f} | {run['real_time_factor']:.1f} | "
                     f"{cells[0]} | {100 * run['busy']:.0f} % | {cells[1]} | {same} |")  # fmt: skip
    killed = next((r for r in result["runs"] if r.get("killed")), None)
    lines += [
        "",
        "*s per track*: the median task's seconds on its worker (reading, coding, writing "
        "and checking a track); *busy*: the tasks' seconds over workers x wall seconds; "
        "*idle tail*: seconds from the first worker's last task ending to the last's; "
        "*same bytes*: every `.sae` file equal to the shell loop's.",
        "",
    ]
    if killed:
        k = killed["killed"][0]
        lines += [f"Killed: the worker writing `{k['track']}` (pid {k['pid']}), once "
                  f"{result['tracks'] // 4} tracks were written; Dask ran the track again: "
                  f"{killed['done']} tracks written, {killed['failed']} failed.", ""]  # fmt: skip
    lines += [
        "Fixed costs (seconds, each in a fresh process as sae runs it): "
        f"a Python process {costs['start_python']:.2f}; importing the codec "
        f"{costs['start_codec']:.2f} and distributed {costs['start_distributed']:.2f} "
        "(each a fresh process, start-up included); starting a local cluster of 2 workers "
        f"{costs['local_cluster_2_workers']:.2f}; the first task on each worker (importing "
        f"the codec) {costs['first_task_imports_codec']:.2f}; a task's scheduling "
        f"{1000 * costs['task_overhead']:.1f} ms; two `dask worker` processes joining a "
        f"`dask scheduler` {result['cluster_joined_seconds']:.1f}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

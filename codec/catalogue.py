"""A batch of files on a Dask cluster (:mod:`codec.cluster`): ``sae compress`` or
``sae decompress`` of a whole catalogue, on one machine or many, resumable.

The unit of work is a track: a task reads its input, writes its output atomically and
checks it, so an output is only ever written whole, by one task, and a task that is run
again (its worker killed) starts from nothing. A track rather than a segment, by
measurement (``python -m benchmarks.catalogue``, ``benchmarks/results/catalogue.md``): a
task cost Dask 1.8 ms against 2.7 s of coding a 30 s track, and with the largest inputs
sent first the workers ended within 0.1 to 1.1 s of each other; splitting a track would
only pay when a few very long tracks are most of a batch.

A task whose output exists and is complete (it reads to its last segment: every CRC,
and the flag that ends the file) is skipped, on the worker, so a run again after a crash
resumes where it stopped; ``-f`` redoes it.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import functools
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import soundfile as sf
from tqdm import tqdm

from bitstream import FormatError, Segment, read_segments
from codec.audio import AudioError
from codec.cluster import ClusterError, connect
from codec.console import DataError, Job, Outcome, Work, note, say, with_name
from codec.files import remove_stale_parts, write_bytes

# is a job's existing output complete: its outcome as a skipped file; raises if it is not
Finished = Callable[[Job], Outcome]
MANIFEST_FIELDS = ("input", "output", "status", "bytes", "bits_per_sample", "snr_db",
                   "seconds", "worker", "started", "error")  # fmt: skip


def run_catalogue(
    jobs: list[Job],
    work: Work,
    errors: tuple[type[Exception], ...],
    *,
    command: str,
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    progress: bool = False,
    manifest: Path | None = None,
) -> None:
    """Do ``work`` on each job on a Dask cluster (:func:`codec.cluster.connect`), a line
    for each as it finishes, then a summary; a job whose output exists and is complete
    is skipped unless ``force``. One failing stops no other: :class:`DataError` at the end
    if any did. An interruption is raised on with ``written``: the outputs finished."""
    started, when = time.perf_counter(), datetime.datetime.now().astimezone()
    outcomes: dict[int, Outcome] = {}
    running: list[int] = []
    bar = tqdm(total=len(jobs), desc="files", unit="file", disable=not progress, leave=False)
    size = 0
    workers = min(workers or os.cpu_count() or 1, len(jobs))  # no worker left idle
    try:
        with connect(workers, scheduler) as cluster:
            size = cluster.size
            finished = FINISHED[command]
            futures = _submit(cluster.client, jobs, work, finished, errors, force, command)
            try:
                for index, outcome in _as_finished(futures, jobs):
                    outcomes[index] = outcome
                    _show(outcome, jobs[index], f"[{index + 1}/{len(jobs)}] ")
                    failed = sum(o.status == "failed" for o in outcomes.values())
                    bar.set_postfix_str(f"{failed} failed" if failed else "")
                    bar.update()
            except KeyboardInterrupt:
                outcomes.update(_finished_unseen(futures, outcomes))
                running = _running(cluster.client, futures)
                cluster.stop_now()
                raise
    except KeyboardInterrupt as interrupt:
        interrupt.written = [jobs[i].output for i, o in outcomes.items() if o.status == "done"]
        interrupt.elsewhere = len(running) if scheduler else 0  # tasks cannot be stopped
        raise
    finally:
        bar.close()
        for index in running if scheduler is None else []:  # a killed worker's temporary file
            remove_stale_parts(jobs[index].output)
        seconds = time.perf_counter() - started
        summary = _summary(outcomes.values(), seconds)
        if manifest is not None:
            _write_manifest(manifest, jobs, outcomes, summary, command, scheduler, size, when)
    verb = "compressed" if command == "compress" else "decompressed"
    say(f"sae: {len(jobs)} files: {summary['done']} {verb}, {summary['skipped']} skipped "
        f"(complete), {summary['failed']} failed; {_bits(summary)}; "
        f"{summary['audio_seconds']:.1f} s of audio in {seconds:.1f} s, "
        f"{summary['real_time_factor']:.1f}x real time on {size} "
        f"worker{'s' * (size != 1)}")  # fmt: skip
    if summary["failed"]:
        raise DataError(f"{summary['failed']} of {len(jobs)} files failed")


def _submit(client, jobs, work, finished, errors, force, command) -> dict:
    """A future for each job, the largest inputs first: the last tasks of a batch are
    then short, and the workers finish together."""
    task = functools.partial(_task, work, finished, errors, force)
    run = uuid.uuid4().hex[:12]  # keys are the scheduler's, shared by every client
    futures = {}
    for index, job in enumerate(jobs):
        priority = 0
        with contextlib.suppress(OSError):
            priority = os.path.getsize(job.source)
        futures[client.submit(task, job, key=f"sae-{command}-{run}-{index}", pure=False,
                              priority=priority)] = index  # fmt: skip
    return futures


def _task(work: Work, finished: Finished, errors, force: bool, job: Job) -> Outcome:
    """On a worker: the job's outcome, skipped if its output is complete, or failed. The
    files are opened by their absolute paths (a worker elsewhere has another working
    folder), and named in messages as they were given."""
    started, when = time.perf_counter(), time.time()
    found = Job(job.source.absolute(), job.output.absolute())
    try:
        if found.output.exists() and not force:
            outcome = finished(found)
        else:
            found.output.parent.mkdir(parents=True, exist_ok=True)  # -o DIR mirrors inputs
            outcome = work(found, False)
            outcome = Outcome(outcome) if isinstance(outcome, str) else outcome
            outcome = replace(outcome, seconds=time.perf_counter() - started)
    except errors as error:
        outcome = Outcome(with_name(error, found), status="failed")

    def given(text: str) -> str:
        for path, name in ((found.output, job.output), (found.source, job.source)):
            text = text.replace(str(path), str(name))
        return text

    return replace(outcome, line=given(outcome.line), notes=tuple(map(given, outcome.notes)),
                   worker=_worker(), started=when)  # fmt: skip


def _read_through(source: Path) -> Segment:
    """The last segment of a ``.sae`` file, read to it: every CRC checked, and the flag
    that ends the file. Its header's first frame and frames give the file's length."""
    with open(source, "rb") as handle:
        (last,) = collections.deque(read_segments(handle, need_models=False), maxlen=1)
    return last


def finished_sae(job: Job) -> Outcome:
    """A batch's existing output, as a skipped file if it is complete; if not, it is not
    replaced without -f."""
    try:
        last = _read_through(job.output)
    except FormatError as error:
        raise FormatError(f"{job.output} exists but is not a complete .sae file ({error}): "
                          "-f codes it again") from None  # fmt: skip
    header, size = last.header, job.output.stat().st_size
    frames = header.first_frame + header.frames
    bits = 8 * size / max(frames * header.channels, 1)
    return Outcome(f"{job.output}: complete, skipped ({size} bytes, {bits:.3f} bits/sample)",
                   status="skipped", bytes=size, frames=frames, channels=header.channels,
                   sample_rate=header.sample_rate)  # fmt: skip


def finished_audio(job: Job) -> Outcome:
    """A batch's existing decoded file, as a skipped file if it holds all of its .sae
    file's frames, at its rate and channels; if not, it is not replaced without -f."""
    header = _read_through(job.source).header
    shape = (header.first_frame + header.frames, header.channels, header.sample_rate)
    try:
        info = sf.info(str(job.output))
        found = (info.frames, info.channels, info.samplerate)
    except (sf.LibsndfileError, RuntimeError):
        found = (0, 0, 0)
    if found != shape:
        raise AudioError(f"{job.output} exists but is not a complete decoding of {job.source} "
                         f"({found[0]} of {shape[0]} frames): -f decodes it again")  # fmt: skip
    return Outcome(f"{job.output}: complete, skipped ({shape[0]} frames)", status="skipped",
                   bytes=job.source.stat().st_size, frames=shape[0], channels=shape[1],
                   sample_rate=shape[2])  # fmt: skip


FINISHED: dict[str, Finished] = {"compress": finished_sae, "decompress": finished_audio}


def _worker() -> str:
    from distributed import get_worker

    try:
        return get_worker().address
    except ValueError:  # not on a worker
        return ""


def _as_finished(futures: dict, jobs: list[Job]):
    """(index, outcome) of each job as it finishes. A task that raised what is not a
    data error (a worker without sae, a bug) fails its job alone; one whose workers died
    each time it ran is given up (``KilledWorker``)."""
    from distributed import KilledWorker, as_completed

    for future in as_completed(futures):
        index = futures[future]
        try:
            outcome = future.result()
        except KilledWorker:
            outcome = Outcome(f"{jobs[index].name}: its worker died each time it was run "
                              "(out of memory?)", status="failed")  # fmt: skip
        except Exception as error:
            if getattr(error, "reason", None) == "scheduler-connection-lost":  # all are lost
                raise ClusterError("lost the connection to the Dask scheduler: run the "
                                   "command again to go on where it stopped") from None  # fmt: skip
            message = str(error).splitlines()[0] if str(error) else ""
            outcome = Outcome(f"{jobs[index].name}: {type(error).__name__}: {message}",
                              status="failed")  # fmt: skip
        future.release()  # a catalogue's results need not stay on the cluster
        yield index, outcome


def _finished_unseen(futures: dict, seen: dict[int, Outcome]) -> dict[int, Outcome]:
    """The outcomes of jobs that finished while the last ones were being shown."""
    unseen = {}
    for future, index in futures.items():
        if index not in seen and future.status == "finished":
            with contextlib.suppress(Exception):
                unseen[index] = future.result(timeout=1)
    return unseen


def _running(client, futures: dict) -> list[int]:
    """The jobs under way on the workers now."""
    keys = {future.key: index for future, index in futures.items()}
    with contextlib.suppress(Exception):
        return [keys[key] for tasks in client.processing().values() for key in tasks
                if key in keys]  # fmt: skip
    return []


def _show(outcome: Outcome, job: Job, prefix: str) -> None:
    if outcome.status == "failed":
        tqdm.write(f"sae: error: {outcome.line}", file=sys.stderr)
        return
    for message in outcome.notes:
        note(message)
    say(prefix + outcome.line)


def _summary(outcomes, seconds: float) -> dict:
    outcomes = list(outcomes)
    done = [o for o in outcomes if o.status == "done"]
    sized = [o for o in outcomes if o.status != "failed" and o.bits_per_sample is not None]
    samples = sum(o.frames * o.channels for o in sized)
    audio = sum(o.audio_seconds for o in done)
    return {
        "done": len(done),
        "skipped": sum(o.status == "skipped" for o in outcomes),
        "failed": sum(o.status == "failed" for o in outcomes),
        "bits_per_sample": 8 * sum(o.bytes for o in sized) / samples if samples else None,
        "audio_seconds": audio,
        "seconds": seconds,
        "real_time_factor": audio / seconds if seconds else 0.0,
    }


def _bits(summary: dict) -> str:
    bits = summary["bits_per_sample"]
    return "no .sae file" if bits is None else f"{bits:.3f} bits/sample over the .sae files"


def _record(job: Job, outcome: Outcome | None) -> dict:
    record = dict.fromkeys(MANIFEST_FIELDS)
    record.update(input=str(job.source.absolute()), output=str(job.output.absolute()),
                  status="not run")  # fmt: skip
    if outcome is not None:
        failed = outcome.status == "failed"
        record.update(status=outcome.status, bytes=outcome.bytes, snr_db=outcome.snr_db,
                      bits_per_sample=outcome.bits_per_sample, seconds=outcome.seconds,
                      worker=outcome.worker or None, started=_iso(outcome.started),
                      error=outcome.line if failed else None)  # fmt: skip
    return record


def _iso(when: float | None) -> str | None:
    if when is None:
        return None
    return datetime.datetime.fromtimestamp(when).astimezone().isoformat(timespec="milliseconds")


def _write_manifest(path, jobs, outcomes, summary, command, scheduler, size, when) -> None:
    """The batch as JSON, written atomically; a skipped file keeps the SNR and seconds
    that an earlier manifest at the same path recorded for the same output."""
    earlier = {}
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError, AttributeError):
        earlier = {r["output"]: r for r in json.loads(Path(path).read_text())["files"]}
    files = []
    for index, job in enumerate(jobs):
        record = _record(job, outcomes.get(index))
        before = earlier.get(record["output"])
        if record["status"] == "skipped" and before and before.get("bytes") == record["bytes"]:
            record.update({name: before.get(name) for name in ("snr_db", "seconds", "worker",
                                                                "started")})  # fmt: skip
        files.append(record)
    data = {"command": command, "started": when.isoformat(timespec="seconds"),
            "cluster": scheduler or "local", "workers": size, **summary,
            "files": files}  # fmt: skip
    write_bytes(path, (json.dumps(data, indent=1) + "\n").encode(), overwrite=True)

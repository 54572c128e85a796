"""What a command shows while it works on one file or many: result lines, notes, errors,
a progress bar over the files with the time left, and what an interruption left.

Progress bars are drawn only on a terminal (the caller decides, :mod:`codec.cli`), so a
log gets a line per file and nothing else. A batch goes on past a file that fails, and
says at the end how many did.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from codec.cli import Interrupted
from codec.usage import STDIO


class DataError(Exception):
    """Some of many files failed (each has said why): exit code 1."""


class JobError(Exception):
    """A file's error, its message naming the file: exit code 1."""


@dataclass(frozen=True)
class Job:
    """One input of a command, and where its output goes (``-``: standard output)."""

    source: Path
    output: Path | None = None

    @property
    def name(self) -> str:
        return "standard input" if str(self.source) == STDIO else str(self.source)


# a job's work: its result line(s), given whether it may draw progress bars
Work = Callable[[Job, bool], str]


def note(message: str) -> None:
    """One line on stderr about something the user should know, not an error."""
    tqdm.write(f"sae: note: {message}", file=sys.stderr)


def say(lines: str, to_stderr: bool = False) -> None:
    """A result, on stdout unless the data goes there."""
    tqdm.write(lines, file=sys.stderr if to_stderr else sys.stdout)
    (sys.stderr if to_stderr else sys.stdout).flush()


def with_name(error: Exception, job: Job) -> str:
    """The error's message, naming the file it is about if it does not yet."""
    message = str(error)
    named = job.name in message or (job.output is not None and str(job.output) in message)
    return message if named else f"{job.name}: {message}"


def run_jobs(
    jobs: list[Job],
    work: Work,
    errors: tuple[type[Exception], ...],
    *,
    workers: int = 1,
    progress: bool = False,
    numbered: bool = True,
) -> None:
    """Do ``work`` on each job and show its result; one failing (with one of ``errors``)
    stops no other. A single job's error is the command's error. ``workers`` > 1 runs
    jobs in that many processes. An interruption is raised on with ``written``: the
    outputs that were finished."""
    if len(jobs) == 1:
        try:
            lines = work(jobs[0], progress)
        except BrokenPipeError:
            raise  # the reader of stdout went away: not the file's fault
        except errors as error:
            raise JobError(with_name(error, jobs[0])) from error
        say(lines, to_stderr=str(jobs[0].output) == STDIO)
        return
    bar = tqdm(total=len(jobs), desc="files", unit="file", disable=not progress, leave=False)
    written: list[Path] = []
    failed = 0
    try:
        for index, outcome in _outcomes(jobs, work, errors, workers, progress, bar):
            job = jobs[index]
            if isinstance(outcome, _Failure):
                failed += 1
                tqdm.write(f"sae: error: {outcome}", file=sys.stderr)
            else:
                say(f"[{index + 1}/{len(jobs)}] {outcome}" if numbered else outcome)
                written += [job.output] if job.output is not None else []
            bar.update()
    except KeyboardInterrupt as interrupt:
        interrupt.written = written
        raise
    finally:
        bar.close()
    if failed:
        raise DataError(f"{failed} of {len(jobs)} files failed")


def _outcomes(jobs, work, errors, workers, progress, bar) -> Iterator[tuple[int, str]]:
    """(index, result lines or a :class:`_Failure`) of each job, as they finish."""
    if workers == 1:
        for index, job in enumerate(jobs):
            bar.set_postfix_str(job.name)
            yield index, _attempt(work, errors, job, progress)
        return
    pool = ProcessPoolExecutor(min(workers, len(jobs)), initializer=_worker_signals)
    try:
        futures = {pool.submit(_attempt, work, errors, job, False): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            yield futures[future], future.result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for child in multiprocessing.active_children():  # each cleans up its output
            child.terminate()
        for child in multiprocessing.active_children():
            child.join(timeout=30)
        raise
    pool.shutdown()


def _attempt(work: Work, errors, job: Job, progress: bool) -> str:
    """The job's result lines, or its error's message (naming its file) as a
    :class:`_Failure`."""
    global _busy
    _busy = True
    try:
        return work(job, progress)
    except BrokenPipeError:
        raise
    except errors as error:
        return _Failure(with_name(error, job))
    finally:
        _busy = False


class _Failure(str):
    """An error's message, told apart from a result line."""


_busy = False  # whether this worker process is doing a job


def _worker_signals() -> None:
    """In a worker process: Ctrl-C is the main process's to handle; SIGTERM (which the
    main process sends when interrupted) stops the job at hand, which removes its
    temporary file, or ends an idle worker quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)
    signal.signal(signal.SIGHUP, _stop_worker)


def _stop_worker(number: int, frame) -> None:
    if _busy:
        raise Interrupted(number)
    sys.exit(128 + number)

"""What a command shows while it works on one file or many: result lines, notes, errors,
a progress bar over the files with the time left, and what an interruption left.

Progress bars are drawn only on a terminal (the caller decides, :mod:`codec.cli`), so a
log gets a line per file and nothing else. A batch goes on past a file that fails, and
says at the end how many did. Files are worked on here, one after another; a batch of
compress or decompress runs on a Dask cluster instead (:mod:`codec.catalogue`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

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


@dataclass(frozen=True)
class Outcome:
    """What working on one file gave: its result line, notes for the user, and what a
    batch's summary and manifest record (sizes of the ``.sae`` side; no SNR for a decoded
    or skipped file)."""

    line: str
    notes: tuple[str, ...] = ()
    status: str = "done"  # or "skipped" (its output was complete), or "failed"
    bytes: int | None = None
    frames: int = 0
    channels: int = 0
    sample_rate: int = 0
    snr_db: float | None = None
    seconds: float | None = None  # of work on the file, wherever it ran
    worker: str = ""  # which Dask worker did it, in a batch
    started: float | None = None  # when, in a batch (seconds since the epoch)

    @property
    def bits_per_sample(self) -> float | None:
        samples = self.frames * self.channels
        return 8 * self.bytes / samples if self.bytes is not None and samples else None

    @property
    def audio_seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


# a job's work: its outcome (or result line), given whether it may draw progress bars
Work = Callable[[Job, bool], "Outcome | str"]


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


def show(outcome: Outcome | str, job: Job, prefix: str = "") -> None:
    """The notes of an outcome, then its line."""
    if isinstance(outcome, str):
        outcome = Outcome(outcome)
    for message in outcome.notes:
        note(message)
    say(prefix + outcome.line, to_stderr=str(job.output) == STDIO)


def run_jobs(
    jobs: list[Job],
    work: Work,
    errors: tuple[type[Exception], ...],
    *,
    progress: bool = False,
    numbered: bool = True,
) -> None:
    """Do ``work`` on each job, one after another, and show its result; one failing (with
    one of ``errors``) stops no other. A single job's error is the command's error. An
    interruption is raised on with ``written``: the outputs that were finished."""
    if len(jobs) == 1:
        try:
            outcome = work(jobs[0], progress)
        except BrokenPipeError:
            raise  # the reader of stdout went away: not the file's fault
        except errors as error:
            raise JobError(with_name(error, jobs[0])) from error
        show(outcome, jobs[0])
        return
    bar = tqdm(total=len(jobs), desc="files", unit="file", disable=not progress, leave=False)
    written: list[Path] = []
    failed = 0
    try:
        for index, job in enumerate(jobs):
            bar.set_postfix_str(job.name)
            try:
                outcome = work(job, progress)
            except BrokenPipeError:
                raise
            except errors as error:
                failed += 1
                tqdm.write(f"sae: error: {with_name(error, job)}", file=sys.stderr)
            else:
                show(outcome, job, f"[{index + 1}/{len(jobs)}] " if numbered else "")
                written += [job.output] if job.output is not None else []
            bar.update()
    except KeyboardInterrupt as interrupt:
        interrupt.written = written
        raise
    finally:
        bar.close()
    if failed:
        raise DataError(f"{failed} of {len(jobs)} files failed")

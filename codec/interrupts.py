"""How the ``sae`` command stops: SIGTERM and SIGHUP as Ctrl-C does (its outputs cleaned
up), what an interruption left said in one line, and a closed standard output.

Imported before the arguments are read, so it needs nothing but the standard library.
"""

from __future__ import annotations

import os
import signal
import sys


class Interrupted(KeyboardInterrupt):
    """A signal that stops the command as Ctrl-C does: outputs are cleaned up."""

    def __init__(self, number: int) -> None:
        super().__init__(signal.Signals(number).name)
        self.number = number


def stop(number: int, frame) -> None:
    for other in (signal.SIGTERM, signal.SIGHUP):  # let the cleanup run to its end
        signal.signal(other, signal.SIG_IGN)
    raise Interrupted(number)


def interrupted(error: KeyboardInterrupt) -> int:
    """Say what an interruption left, and its exit code."""
    written, elsewhere = getattr(error, "written", []), getattr(error, "elsewhere", 0)
    how = f" ({error.args[0]})" if isinstance(error, Interrupted) else ""
    # a running cluster's workers finish the tasks under way: they cannot be stopped
    rest = ("a track under way on the cluster's workers is finished there" if elsewhere
            else "nothing else written")  # fmt: skip
    if written:
        shown = ", ".join(map(str, written[:3])) + (", ..." if len(written) > 3 else "")
        left = f"{len(written)} finished output{'s' if len(written) > 1 else ''} kept ({shown})"
        print(f"sae: interrupted{how}; {left}, {rest}", file=sys.stderr)
    elif elsewhere:
        print(f"sae: interrupted{how}; {rest}", file=sys.stderr)
    else:
        print(f"sae: interrupted{how}; no output was written", file=sys.stderr)
    return 128 + (error.number if isinstance(error, Interrupted) else signal.SIGINT)


def quiet_stdout() -> None:
    """Standard output's reader went away (| head): stop writing to it, silently."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())

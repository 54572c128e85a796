"""Where a batch runs: a Dask cluster of worker processes started on this machine, or a
running cluster reached at its scheduler's address.

Dask's ``distributed`` does the scheduling, so that the same batch runs on one machine or
on many: a task goes to a free worker, and one whose worker dies (killed, out of memory)
is run again on another, up to ``distributed.scheduler.allowed-failures`` times (3). It
is imported only when a batch runs: it takes 0.7 s to import and 2 s to start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import dask
from distributed import Client, LocalCluster, WorkerPlugin
from tqdm import tqdm

QUIET = logging.CRITICAL  # Dask's own messages: what a batch has to say, it says itself
CONNECT_TIMEOUT = "10s"  # to reach a running scheduler
# no dashboard, and the scheduler's web endpoints on any free port, not on 8787, where
# another cluster (dask scheduler's dashboard) may be, which Dask would warn about
NO_DASHBOARD = {"dashboard": False, "dashboard_address": ":0"}
# Dask starts its workers with MALLOC_TRIM_THRESHOLD_ set, to hand freed memory back to
# the system; setting it also stops glibc from raising its mmap threshold above 128 kB,
# so each of the coder's large arrays is mapped, zeroed page by page and unmapped: a
# worker coded 1.7 times slower than the same command in a shell, most of it system time.
# Allocations up to 32 MiB (glibc's own ceiling for that threshold) come from the heap
# again. Workers of a running cluster need the same variable (README, "A catalogue on a
# cluster").
MMAP_THRESHOLD = 32 << 20
LARGE_ALLOCATIONS = {"distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD}


class ClusterError(ConnectionError):
    """The cluster cannot be reached, or its workers cannot run sae: exit code 1."""


@dataclass
class Cluster:
    """A connected client; ``local``: the cluster this process started and owns."""

    client: Client
    local: LocalCluster | None = None

    @property
    def size(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def stop_now(self) -> None:
        """Kill the workers' processes of a cluster started here, so that no task still
        running finishes after an interruption (a task's thread cannot be stopped
        otherwise); their temporary files are left to be removed. A running cluster's
        tasks are cancelled, but those under way finish on their workers."""
        if self.local is None:
            self.client.cancel(list(self.client.futures), force=True)
            return
        for nanny in list(self.local.workers.values()):
            with contextlib.suppress(Exception):
                nanny.close_gracefully()  # its nanny must not start it again
            pid = getattr(nanny, "pid", None)
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


class _LocalWorker(WorkerPlugin):
    """How a worker started here differs from any other: Ctrl-C reaches every process of
    the terminal's process group, and this process stops the batch and says what was
    finished; and its progress bars (none are drawn) lock with a thread lock, not a
    semaphore, which a killed worker would leave for the resource tracker to complain
    about on this process's stderr."""

    def setup(self, worker) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        tqdm.set_lock(threading.RLock())


def _ready() -> int:
    """Run on each worker before a batch: that it can import sae (this module) at all."""
    return os.getpid()


@contextlib.contextmanager
def connect(workers: int | None, scheduler: str | None) -> Iterator[Cluster]:
    """A cluster of ``workers`` processes (default: this machine's cores), one task at a
    time each, started here and closed at the end; or the running cluster whose
    scheduler is at ``scheduler``."""
    for name in [*logging.root.manager.loggerDict, "distributed"]:  # Dask sets each its own
        if name.split(".")[0] == "distributed":
            logging.getLogger(name).setLevel(QUIET)
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            size = workers or os.cpu_count() or 1
            stack.enter_context(dask.config.set(LARGE_ALLOCATIONS))
            local = LocalCluster(n_workers=size, threads_per_worker=1, processes=True,
                                 host="127.0.0.1", dashboard_address=None, silence_logs=QUIET,
                                 scheduler_kwargs=NO_DASHBOARD)  # fmt: skip
            stack.enter_context(local)
            client = stack.enter_context(Client(local))
            client.register_plugin(_LocalWorker(), name="sae-local-worker")
            yield Cluster(client, local)
            return
        try:
            client = stack.enter_context(Client(scheduler, timeout=CONNECT_TIMEOUT))
        except (OSError, TimeoutError) as error:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
        try:
            client.run(_ready)
        except Exception as error:  # raised on a worker: any kind
            raise ClusterError(f"the workers of {scheduler} cannot run sae ({type(error).__name__}"
                               f": {error}): install it on them") from None  # fmt: skip
        yield Cluster(client)

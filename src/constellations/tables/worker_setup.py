"""Set-up of the local Dask cluster's worker processes: they ignore the stop signals and never
outlive the client.

A terminal sends SIGINT to the whole foreground process group (and a batch scheduler may send
SIGTERM to the whole group), so the worker processes of a local cluster receive every stop signal
meant for the client.  Left alone, each of them dies with a ``KeyboardInterrupt`` traceback on the
shared stderr (about 30 lines per worker), or is killed and restarted by its nanny, while the
client is still cancelling their tasks and closing the cluster.  Only the client decides when a
run stops; :func:`dask_setup` is run by ``distributed`` in every worker process at start-up (the
worker ``preload`` mechanism, so a worker restarted by its nanny is set up too).

The worker processes of a ``LocalCluster(processes=True)`` are children of the client process
(its nannies live there, and start them from an event-loop thread).  :func:`dask_setup` makes each
worker exit when that process is gone, whatever ended it (SIGKILL included):
:func:`constellations.core.interrupts.die_with_parent` with ``pdeathsig=False``, since Linux's
parent-death signal would fire when the *thread* that started the worker ends, not the process.
The client passes its pid in :data:`PARENT_ENV`, so a worker whose client died before this hook ran
exits at once.
"""
from __future__ import annotations

import os
import signal
import threading

from constellations.core import interrupts

__all__ = ["dask_setup", "ignore_stop_signals", "watch_parent", "PARENT_ENV"]

#: Environment variable holding the pid of the client process that the workers watch.
PARENT_ENV = "CONSTELLATIONS_TABLE_PARENT"


def ignore_stop_signals() -> bool:
    """Ignore SIGINT and SIGTERM (:data:`constellations.core.interrupts.STOP_SIGNALS`) in this process
    for good, then unblock them (a worker is started with both blocked, see
    :func:`~tables.runner._start_local_cluster`; one held meanwhile is discarded).  Returns
    False (and does nothing) off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return False
    for sig in interrupts.STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, set(interrupts.STOP_SIGNALS))
    return True


def watch_parent() -> int:
    """Exit this worker when the client process is gone; returns the pid watched.

    The pid is :data:`PARENT_ENV` when set (by the runner), else this process's parent.
    """
    try:
        parent = int(os.environ[PARENT_ENV])
    except (KeyError, ValueError):
        parent = os.getppid()
    interrupts.die_with_parent(parent, pdeathsig=False)
    return parent


def dask_setup(worker=None) -> None:
    """``distributed`` preload hook: called once in each worker process."""
    ignore_stop_signals()
    watch_parent()

"""Set-up of the local Dask cluster's worker processes: they ignore Ctrl-C.

A terminal sends SIGINT to the whole foreground process group, so the worker processes of a
local cluster receive every Ctrl-C meant for the client.  Left alone, each of them dies with a
``KeyboardInterrupt`` traceback on the shared stderr (about 30 lines per worker) while the
client is still cancelling their tasks and closing the cluster.  Only the client decides when
a run stops; :func:`dask_setup` is run by ``distributed`` in every worker process at start-up
(the worker ``preload`` mechanism, so a worker restarted by its nanny ignores SIGINT too).
"""
from __future__ import annotations

import signal
import threading

__all__ = ["dask_setup", "ignore_sigint"]


def ignore_sigint() -> bool:
    """Ignore SIGINT in this process; returns False (and does nothing) off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return True


def dask_setup(worker=None) -> None:
    """``distributed`` preload hook: called once in each worker process."""
    ignore_sigint()

"""Stop signals: SIGINT (Ctrl-C) and SIGTERM (cluster schedulers, ``timeout``) end a run the same way.

A long run (search, train, table, reproduce) that receives either signal stops at its next
check, keeps or writes its best result so far, marks it as interrupted, and the CLI exits with
128 + the signal's number (130 for SIGINT, 143 for SIGTERM), the shell's convention.

Every place that changes how a stop signal is handled goes through this module, so that the two
signals never drift apart: :func:`on_stop` installs one handler for both, :func:`blocked` holds
both while a child process is started, and :func:`received` tells the CLI which one came.  Worker
processes never outlive their parent: :func:`die_with_parent` (called in each worker at start-up)
asks Linux to kill the worker when its parent dies, and checks that the parent is still there.
"""
from __future__ import annotations

import ctypes
import os
import signal
import threading
from contextlib import contextmanager

__all__ = ["Interrupt", "INTERRUPT", "sigint_sets_flag", "STOP_SIGNALS", "record", "received", "clear", "exit_status", "raise_interrupt", "install",
           "on_stop", "ignored", "blocked", "die_with_parent"]

#: The signals that stop a run and keep its best result.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_RECEIVED: list[int] = []


def record(signum: int) -> None:
    """Remember that ``signum`` arrived (read back by :func:`received`)."""
    _RECEIVED.append(int(signum))


def received() -> int | None:
    """The last stop signal that arrived in this process, or None."""
    return _RECEIVED[-1] if _RECEIVED else None


def clear() -> None:
    """Forget the signals received so far (tests that run several commands in one process)."""
    _RECEIVED.clear()


def exit_status() -> int:
    """128 + the last stop signal (130 for SIGINT, 143 for SIGTERM); 130 when none was recorded
    (a KeyboardInterrupt raised by other means)."""
    return 128 + (received() or signal.SIGINT)


def raise_interrupt(signum, frame) -> None:
    """A handler: record the signal and raise KeyboardInterrupt, as Python does for SIGINT."""
    record(signum)
    raise KeyboardInterrupt


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def install() -> None:
    """Make SIGTERM behave like SIGINT in this process (main thread only): both raise
    KeyboardInterrupt and are recorded, so every ``except KeyboardInterrupt`` path serves both."""
    if _main_thread():
        for sig in STOP_SIGNALS:
            signal.signal(sig, raise_interrupt)


@contextmanager
def _handled(handler):
    """Both stop signals go to ``handler`` within the block (main thread only; elsewhere a no-op);
    the previous handlers come back on the way out."""
    if not _main_thread():
        yield
        return
    old = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def on_stop(callback):
    """Within the block, a stop signal calls ``callback(signum)`` (after recording it) instead of
    raising; the previous handlers come back on the way out.  Main thread only; elsewhere a no-op."""
    def handler(signum, frame):
        record(signum)
        callback(signum)

    return _handled(handler)


def ignored():
    """Ignore both stop signals within the block (main thread only).  Children spawned meanwhile
    inherit the ignored disposition across ``exec``."""
    return _handled(signal.SIG_IGN)


@contextmanager
def blocked():
    """Block both stop signals in this thread within the block; a child started here inherits the
    blocked mask across ``exec``, so a signal cannot kill it half-started.  A signal that arrives
    meanwhile is delivered once the block is left."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, set(STOP_SIGNALS))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


_PR_SET_PDEATHSIG = 1

#: Seconds between two looks of a worker's watchdog at its parent.
WATCH_SECONDS = 0.5


def die_with_parent(parent_pid: int, pdeathsig: bool = True) -> None:
    """Called in a worker process at start-up: the worker exits when its parent dies, however the
    parent dies (SIGKILL included), and at once if the parent is already gone.

    Two mechanisms: Linux's ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (immediate; only when the thread
    that started the worker lives as long as the parent, as the main thread does: pass
    ``pdeathsig=False`` otherwise, for example for workers started by an event-loop thread), and a
    daemon thread that compares ``os.getppid()`` with ``parent_pid`` every :data:`WATCH_SECONDS`
    (any POSIX system; it runs between Python bytecodes, so a worker inside a long compiled kernel
    exits when the kernel returns).
    """
    if pdeathsig:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - not Linux
            pass
    if os.getppid() != parent_pid:  # the parent died before the request above took effect
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid,), name="die-with-parent", daemon=True).start()


def _watch(parent_pid: int) -> None:
    event = threading.Event()
    while not event.wait(WATCH_SECONDS):
        if os.getppid() != parent_pid:
            os._exit(1)


# ------------------------------------------------------------------ the stop flag of a long computation

class Interrupt:
    """Ctrl-C as a flag of this process, polled between kernel calls and iterations (through
    :meth:`constellations.core.deadline.Deadline.expired`, which every loop asks).

    During :func:`search` SIGINT only sets the flag (:func:`sigint_sets_flag`): a KeyboardInterrupt
    raised while a Numba kernel runs surfaces as ``SystemError: CPUDispatcher(...) returned a
    result with an exception set`` and loses the run.  Worker processes also watch ``event``, a
    multiprocessing Event the parent sets when it is interrupted.
    """

    def __init__(self):
        self.flag = False
        self.event = None

    def set(self):
        self.flag = True
        if self.event is not None:
            self.event.set()

    def is_set(self) -> bool:
        return self.flag or (self.event is not None and self.event.is_set())


INTERRUPT = Interrupt()


@contextmanager
def sigint_sets_flag():
    """Within the block, SIGINT and SIGTERM set INTERRUPT instead of raising (main thread only,
    :func:`constellations.core.on_stop`: the signal is recorded, so the CLI exits 130 or
    143); the old handlers come back and the flag is cleared on the way out.  A flag already set
    on the way in (a caller's Ctrl-C that came before the search) makes the search return at once."""
    try:
        with on_stop(lambda signum: INTERRUPT.set()):
            yield
    finally:
        INTERRUPT.flag = False

"""Options shared by the commands that run long: worker counts and time limits.

A time limit is a promise about the whole command, from the moment the process started: the
seconds spent starting Python and importing the libraries (1-3 s, more under load) are taken off
the budget before it reaches the library (:func:`remaining`).
"""
from __future__ import annotations

import time

import click
import psutil

from constellations.core.workers import resolve_count

__all__ = ["WorkersType", "WORKERS", "check_workers", "threads_option", "seconds_since_start", "remaining"]


class WorkersType(click.ParamType):
    """A worker count: "auto" or a positive integer (checked against the machine by the library,
    :func:`constellations.core.workers.resolve_count`, which refuses more than the cores available)."""

    name = "auto|N"

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text == "auto":
            return "auto"
        if text.isascii() and text.isdigit() and int(text) >= 1:
            return int(text)
        self.fail(f"{value!r} is not 'auto' or a positive integer", param, ctx)


#: Shared instance of :class:`WorkersType`.
WORKERS = WorkersType()


def check_workers(ctx, param, value):
    """A click callback: more workers than the cores available is refused when the command line is
    parsed, before any work, naming the option (:func:`constellations.core.workers.resolve_count`)."""
    resolve_count(value, param.opts[0])
    return value


def threads_option(help: str = "torch CPU threads, or auto (every core); at most the cores available."):
    """The shared ``--threads auto|N`` option of the torch commands (default 1), checked against the
    machine (:func:`constellations.core.workers.resolve_count`) when the command line is parsed."""
    return click.option("--threads", type=WORKERS, default=1, show_default=True, callback=check_workers,
                        help=help)


def seconds_since_start() -> float:
    """Seconds since this process was created (the OS's record of it, so interpreter start-up and
    imports count)."""
    try:
        return max(0.0, time.time() - psutil.Process().create_time())
    except (psutil.Error, OSError):  # pragma: no cover - no process table
        return 0.0


def remaining(time_limit: float | None) -> float | None:
    """The part of ``time_limit`` (seconds, None: no limit) left for the library's call."""
    if time_limit is None or not time_limit >= 0 or time_limit == float("inf"):
        return time_limit  # NaN, infinite or negative: left for the library to refuse
    return max(0.0, float(time_limit) - seconds_since_start())

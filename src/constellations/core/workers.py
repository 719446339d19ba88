"""How many worker processes or threads this machine can run: one rule for every command.

Worker counts (``search --jobs``, ``table --workers``, ``train --threads``) are checked against
the machine before anything starts: more than the cores available to this process would only
share those cores (and multiply the memory), so a larger count is refused with one line.  "auto"
means every core available to the process (its CPU affinity, as ``taskset`` or a cgroup sets it).
"""
from __future__ import annotations

import os

from constellations.core.errors import ConfigurationError

__all__ = ["available_cores", "physical_memory", "resolve_count", "WORKER_PROCESS_BYTES"]

#: Resident memory of one spawned worker process that has imported the search stack (NumPy,
#: SciPy, Numba, torch): about 0.4 GiB measured on Linux; planned with a margin.
WORKER_PROCESS_BYTES = 600 << 20

#: Worker processes may plan for at most this share of the physical memory.
MEMORY_SHARE = 0.5


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity; ``os.cpu_count()`` where that is unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def physical_memory() -> int | None:
    """Bytes of physical memory, or None where the system does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def resolve_count(value, what: str, per_worker_bytes: int = 0) -> int:
    """A worker count: ``"auto"`` (or None) is :func:`available_cores`; an integer must lie in
    1 .. available cores, and ``value * per_worker_bytes`` within :data:`MEMORY_SHARE` of the
    physical memory.

    Parameters
    ----------
    value : "auto", None, int or str of an int
    what : str
        The option's name for the message ("n_jobs", "--workers", ...).
    per_worker_bytes : int
        Memory each worker needs (0: not checked).

    Raises
    ------
    ConfigurationError
        Not a positive integer, or more than the machine has (the message gives the limit).
    """
    cores, most = available_cores(), _most_by_memory(per_worker_bytes)
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return max(1, min(cores, most))
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{what} must be a positive integer or 'auto', got {value!r}") from None
    if isinstance(value, bool) or isinstance(value, float) and count != value or count < 1:
        raise ConfigurationError(f"{what} must be a positive integer or 'auto', got {value!r}")
    if count > cores:
        raise ConfigurationError(f"{what}={count} is more than the {cores} core{'s' * (cores != 1)} available "
                                 f"to this process; use at most {cores} (or 'auto')")
    if count > most:
        raise ConfigurationError(f"{what}={count} workers need about {count * per_worker_bytes / 2**30:.3g} GiB of "
                                 f"memory, more than {MEMORY_SHARE:.0%} of the physical memory; use at most {most}")
    return count


def _most_by_memory(per_worker_bytes: int) -> int:
    """How many workers of ``per_worker_bytes`` fit in MEMORY_SHARE of the memory (huge if unknown)."""
    phys = physical_memory()
    if not per_worker_bytes or phys is None:
        return 1 << 30
    return max(1, int(MEMORY_SHARE * phys // per_worker_bytes))

r"""The budget of a search: Ctrl-C, deadlines, memory and the time verification takes.

- **Ctrl-C** (SIGINT, and SIGTERM alike) is a flag (:data:`constellations.core.interrupts.INTERRUPT`,
  imported here for the search's modules).  During a search a stop signal only sets it
  (:func:`sigint_sets_flag`); every loop and every kernel polls it between row blocks, so the
  search returns its best so far instead of dying inside a Numba kernel.
- **Deadlines** are :class:`constellations.core.deadline.Deadline` objects, one passed everywhere
  (restarts, moves, kernels, polishes): :meth:`~constellations.core.deadline.Deadline.expired` is the
  one test every loop uses (the stop flag or the clock); a phase's shares of the time are derived
  from the search's deadline (:meth:`~constellations.core.deadline.Deadline.share`).
- **Plan**: :func:`plan` refuses, before anything is allocated, problems that do not fit in memory
  or whose verification alone would break the time limit, and sets the end of the search proper
  so that the final verification (float64 passes over all pairs, timed by :func:`pass_seconds`)
  still fits within the limit.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np

from constellations.core.deadline import Deadline
from constellations.core.errors import ConfigurationError
from constellations.core.interrupts import INTERRUPT, sigint_sets_flag
from constellations.core.workers import physical_memory

__all__ = ["INTERRUPT", "sigint_sets_flag", "plan", "pass_seconds", "polish_fits"]


#: A search plans for at most this share of the physical memory.
MEMORY_SHARE = 0.5


#: Without a time limit, problems whose single objective evaluation is estimated above this many
#: seconds are refused (a restart takes thousands of evaluations).
MAX_UNTIMED_EVAL_SECONDS = 30.0


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.3g} GiB"


def _memory_estimate(n_vars: int, n: int, dim: int) -> int:
    """Bytes a search holds at once: about 40 arrays the size of the iterate (L-BFGS pairs, trial
    points, gradients, candidates) plus per-thread kernel accumulators and row blocks."""
    threads = os.cpu_count() or 1
    return 8 * (40 * n_vars + threads * n * dim + 3 * (1 << 20))


def pass_seconds(n: int, dim: int) -> float:
    """Estimated seconds of one blocked float64 pass over the N (N - 1) inner products of one edge.

    One block of the verification's own shape ((1 << 20)/N rows against all N rows) is timed here,
    the median of 3 after a warm-up, and scaled by the number of blocks.  Thin products against a
    smaller matrix mislead: on a loaded machine their timings swing by 50x."""
    if n * n * dim <= 100_000_000:  # well under 0.1 s: not worth timing
        return n * n * dim / 1e9
    rows = max(1, min(n, (1 << 20) // n))
    A, B = np.full((rows, dim), 0.5), np.full((n, dim), 0.25)
    times = []
    for _ in range(4):
        t = time.perf_counter()
        (A @ B.T).max()
        times.append(time.perf_counter() - t)
    return float(np.median(times[1:])) * n / rows


#: A polish (one LP step at least) starts only with this many seconds per variable left, plus four
#: passes over all pairs (building the LP, checking its step): an LP step over 48,000 variables
#: (N = 3000, d = 16) took 4 s on a loaded 2-core machine, whatever HiGHS's own time limit said.
POLISH_SECONDS_PER_VAR = 1e-4


def polish_fits(pb, st, deadline: Deadline) -> bool:
    """Is there time before ``deadline`` for a polish of this problem (four passes over all pairs and
    POLISH_SECONDS_PER_VAR per variable)?"""
    return not deadline.passed(within=4.0 * st.pass_seconds + POLISH_SECONDS_PER_VAR * pb.n_vars)


def _refuse(reason: str, message: str):
    err = ConfigurationError(message)
    err.reason = reason  # "memory", "untimed" or "time": lets the search say whether the time limit refused it
    return err


#: The least a run does, in passes over all pairs: one candidate's margin and the final
#: verification, which costs about two (the rigorous bound of :func:`constellations.core.certify.certified_margin`
#: took 1.6 times a margin pass at N = 20,000, d = 64 on a loaded 2-core machine).
MIN_PASSES = 3


def plan(n, dim, modalities, n_edges, tied, time_limit, limit: Deadline, reserve_passes: float = 3.0):
    """Refuse what cannot fit in memory or keep the time limit; return the end of the search proper.

    ``time_limit`` is the run's seconds (None: no limit) and ``limit`` its deadline
    (``Deadline.after(time_limit)`` taken at its start).  The end leaves room for the final
    verification and the margins of the last candidates (float64 passes over all pairs, estimated by
    :func:`pass_seconds`), so that the whole call, verification included, keeps to ``time_limit``.
    Returns ``(end, one)``: end is the :class:`~constellations.core.deadline.Deadline`
    ``limit.earlier(reserve)`` (:data:`Deadline.NEVER` without a time limit; past already when the
    least run takes the whole limit); one is the estimated seconds of one pass over all pairs of all
    edges.  ``reserve_passes`` passes are kept for the end (3: the verification and the margins of the
    last restart; one more when a construction must also be verified).  A refusal carries
    ``reason``: "memory", "untimed" or "time".
    """
    n_vars = n * dim if tied else modalities * n * dim
    need, phys = _memory_estimate(n_vars, n, dim), physical_memory()
    if phys is not None and need > MEMORY_SHARE * phys:
        raise _refuse("memory", f"N={n}, d={dim}, M={modalities} needs about {_gib(need)} of memory, more than "
                                f"the limit of {_gib(MEMORY_SHARE * phys)} "
                                f"({MEMORY_SHARE:.0%} of the physical memory)")
    one = pass_seconds(n, dim) * (1 if tied else n_edges)
    if time_limit is None:
        if 2 * one > MAX_UNTIMED_EVAL_SECONDS:
            raise _refuse("untimed", f"N={n}, d={dim}: one evaluation of the objective takes about {2 * one:.0f} s "
                                     f"(limit {MAX_UNTIMED_EVAL_SECONDS:.0f} s without a time limit) and a restart "
                                     "thousands of them; give a time limit")
        return Deadline.NEVER, one
    reserve = float(reserve_passes) * one  # the verification (about two passes), the last candidate's margin
    if MIN_PASSES * one > 1.1 * time_limit + 1.0:
        raise _refuse("time", f"verifying the result of N={n}, d={dim} takes about {one:.1f} s and a run needs at "
                              f"least {MIN_PASSES} such passes, more than the time limit of {time_limit:g} s; allow "
                              f"at least {math.ceil(reserve) + 1} s")
    return limit.earlier(reserve), one


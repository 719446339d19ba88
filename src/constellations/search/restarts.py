r"""Restarts: one restart (:func:`restart`), and runs of them serially, batched (torch) or in worker
processes, collected in a :class:`Phase`.

One restart: a random start (rows uniform on the sphere) or a warm start, then the beta
continuation (:func:`search.optimizer.optimize`).  An **antipodal** restart (:func:`antipodal_code`;
codes with N even) searches N/2 rows Y and the code [Y; -Y]: half the variables, and a landscape in
which the root and kissing configurations that random rows almost never reach are common (from random
starts, one restart in 14 reaches the D5 roots (5, 40), one in 3 the E6 roots (6, 72), one in 14 the E7
roots (7, 126) and one in 2 the E8 roots; plain restarts reached none of the first three in 150 s).
The search runs one in :data:`ANTIPODAL_EVERY` restarts of a code that way (``Settings.antipodal``:
by default in d >= 4, :data:`search.driver.ANTIPODAL_MIN_DIM`) and says so in ``found_by``.  A warm start skips the soft stages that
would wash it out and is never made worse.  A free restart from random rows also tries the tied
projection (:func:`tied_projection`) and keeps it when better.  Restarts draw their seeds from
``numpy.random.SeedSequence(seed).spawn``, so a run is reproducible whatever ``n_jobs`` is.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np

from constellations.core import interrupts
from constellations.core.deadline import Deadline
from constellations.core.margins import free_margin

from constellations.objective.backends import tensor_kernel
from constellations.objective.reference import riesz_value_and_grad
from constellations.search.budget import INTERRUPT
from constellations.search.optimizer import START_BETAS, default_schedule, normalize, optimize, rlbfgs_batched

__all__ = ["Phase", "Progress", "restart", "restart_kind", "antipodal_code", "antipodal_kernel", "tied_projection",
           "run_restarts", "batched_restarts", "worker_pool", "gather", "submit", "ANTIPODAL_EVERY", "ANTIPODAL_FROM",
           "SAME_BASIN"]


def tied_projection(X, edges):
    """Every modality replaced by the normalised mean of all of them: ``(Xc, margin)``.

    Xc is a code (all modalities equal), hence a constellation with m = (1 - c)/2; this rescues free
    runs that have not separated yet (large N, short budgets).  Returns ``(None, -inf)`` when a mean
    row (nearly) vanishes.
    """
    S = X.sum(axis=0)
    if np.linalg.norm(S, axis=1).min() <= 1e-8:
        return None, -np.inf
    Xc = np.broadcast_to(normalize(S), X.shape).copy()
    return Xc, free_margin(Xc, edges)


def _maxiter(st, index) -> int:
    # iteration cap per stage, alternating every len(START_BETAS) restarts: fully converged stages
    # (needed e.g. to reach E8) and short ones (annealing-like, more diverse basins; e.g. the
    # N = 18 Tammes optimum in d = 3 came only from those in our runs)
    return st.maxiter or (3000 if (index // len(START_BETAS)) % 2 == 0 else 400)


#: Exponents s of the energy continuation (``starts="energy"``), then the last margin stages.
ENERGY_S = (1.0, 4.0, 16.0, 64.0, 256.0)


def _energy_code(pb, betas, rng, run):
    """A code by energy continuation: Riesz s-energy for s in ENERGY_S (Kottwitz; Hardin, Sloane
    and Smith), then the last three stages of the margin continuation."""
    C, late = optimize(rng.standard_normal((pb.n, pb.dim)), ENERGY_S,
                       **dict(run, kernel=riesz_value_and_grad, compiled=False))
    if late:
        return C, late
    return optimize(C, betas[-3:], **run)


#: One restart in this many (index % ANTIPODAL_EVERY == ANTIPODAL_EVERY - 1) of a code with N even is
#: antipodal when ``Settings.antipodal`` (the default strategy), from restart number ANTIPODAL_FROM on:
#: the rest stay plain, and a search that affords only a few restarts keeps them all plain (N = 100,
#: d = 10 at 60 s runs 3-4; with its fourth antipodal, 4 of 7 seeds ended below 0.334, against 10 of 10
#: above without).
ANTIPODAL_EVERY = 4
ANTIPODAL_FROM = 7


def antipodal_kernel(base):
    """``value_and_grad`` of the code [Y; -Y] (2h, d) as a function of Y (h, d), from ``base``'s.

    With X = [Y; -Y], dF/dY = G_top - G_bottom (chain rule); rows y and -y share a tangent space,
    so the difference of the two Riemannian gradients is the Riemannian gradient in Y.  The pairs
    (y_i, -y_i), at inner product -1, are far below the maximum and add nothing to F."""
    def value_and_grad(Y, beta, edges=None, *, block=None, stop=None):
        F, G = base(np.concatenate([Y, -Y]), beta, None, block=block, stop=stop)
        h = Y.shape[0]
        return F, G[:h] - G[h:]
    return value_and_grad


def antipodal_code(pb, betas, rng, run):
    """An antipodal code [Y; -Y] (N even): the beta continuation in Y, N/2 random rows, through
    :func:`antipodal_kernel` (not the compiled stages, which take whole codes): ``(C, timed_out)``.
    The restart's holder is not given its half-size iterates (a salvage needs whole codes)."""
    Y, late = optimize(rng.standard_normal((pb.n // 2, pb.dim)), betas,
                       **dict(run, kernel=antipodal_kernel(run["kernel"]), compiled=False, holder=None))
    return np.concatenate([Y, -Y]), late


def restart_kind(pb, st, index: int) -> str:
    """"antipodal" for one in ANTIPODAL_EVERY restarts of a code with N even, from number
    ANTIPODAL_FROM on, when ``st.antipodal``; else "random"."""
    if pb.tied and pb.n % 2 == 0 and st.antipodal and st.starts == "random" \
            and index >= ANTIPODAL_FROM and index % ANTIPODAL_EVERY == ANTIPODAL_EVERY - 1:
        return "antipodal"
    return "random"


def restart(pb, st, index: int, seed_seq, start, deadline: Deadline, holder=None, kind: str | None = None):
    """Restart number ``index`` (its beta schedule and iteration cap), from ``start`` or from random
    rows drawn with ``seed_seq`` -- antipodal when ``kind`` (default :func:`restart_kind`) says so --
    until ``deadline`` expires; returns ``(X, margin, timed_out)``."""
    betas = st.betas or default_schedule(index)
    run = dict(kernel=pb.kernel(), compiled=pb.compiled, maxiter=_maxiter(st, index), deadline=deadline, holder=holder)
    rng = np.random.default_rng(seed_seq)
    if start is not None:
        return _warm(pb, start, betas, run)
    if pb.tied:
        if (kind or restart_kind(pb, st, index)) == "antipodal" and pb.n % 2 == 0:
            X, late = antipodal_code(pb, betas, rng, run)
        elif st.starts == "energy":
            X, late = _energy_code(pb, betas, rng, run)
        else:
            X, late = optimize(rng.standard_normal(pb.shape), betas, **run)
        return X, pb.margin(X), late
    if st.free_init == "tied":
        return _free_via_code(pb, st, rng, betas, run)
    X, late = optimize(rng.standard_normal(pb.shape), betas, pb.edges, **run)
    mX = pb.margin(X)
    if late:  # out of time: the tied phase's code already stands in for the projection below
        return X, mX, late
    Xc, mc = tied_projection(X, pb.edges)
    if mc > mX:
        X, mX = Xc, mc
        Xo, late = optimize(normalize(Xc + st.jitter * rng.standard_normal(Xc.shape)), betas[-2:], pb.edges, **run)
        mo = pb.margin(Xo)
        if mo > mX:
            X, mX = Xo, mo
    return X, mX, late


def _warm(pb, X0, betas, run):
    """A warm start: the last two stages only (the soft ones would wash it out); never worse."""
    X, late = optimize(X0, betas[-2:], pb.free_edges, **run)
    m0 = pb.margin(X0)
    if late and np.array_equal(X, X0):  # stopped before the first step: one pass, not two
        return np.array(X0), m0, late
    m1 = pb.margin(X)
    return (X, m1, late) if m1 >= m0 else (np.array(X0), m0, late)


def _free_via_code(pb, st, rng, betas, run):
    """``free_init="tied"``: solve the tied problem, then continue in the free variables."""
    C, late = optimize(rng.standard_normal((pb.n, pb.dim)), betas, **run)
    code = np.broadcast_to(C, pb.shape)
    mt = pb.margin(code)
    if late:
        return code.copy(), mt, late
    X, late = optimize(normalize(code + st.jitter * rng.standard_normal(pb.shape)), betas[-2:], pb.edges, **run)
    mX = pb.margin(X)
    return (X, mX, late) if mX >= mt else (code.copy(), mt, late)


# --------------------------------------------------------------------------- a phase of restarts

#: Restarts whose float64 margins differ by less than this are taken for one basin (the margins of two
#: runs into one local maximum differ by the smoothing residue of the sharp stages): the polish takes
#: one of them (:func:`search.driver.polish_best`), the parallel hopping starts one worker there
#: (:func:`search.moves.hop_starts`).
SAME_BASIN = 1e-7


@dataclass
class Phase:
    """What one phase (tied or free) of a search found; filled in step by step."""

    results: dict = field(default_factory=dict)  # restart index -> (X, float64 margin)
    durations: list = field(default_factory=list)
    best_X: np.ndarray | None = None
    best_m: float = -np.inf
    polish_gain: float = 0.0
    time_limited: bool = False
    moves: dict = field(default_factory=lambda: dict(hops=0, hops_improved=0, hop_gain=0.0, kicks=0, swaps=0))
    seconds: float = 0.0
    found_by: str = "restart"

    def restart_margins(self) -> tuple:
        return tuple(float(self.results[j][1]) for j in sorted(self.results))

    def restart_seconds(self) -> float:
        """The median seconds of this phase's restarts so far (0 before the first)."""
        return float(np.median(self.durations)) if self.durations else 0.0

    def best_restart(self) -> float:
        return max((m for _, m in self.results.values()), default=-np.inf)

    def offer(self, X, m, source: str = "restart") -> bool:
        """Keep (X, m) if it beats the best so far; ``source`` names the step that found it."""
        if m > self.best_m:
            self.best_X, self.best_m, self.found_by = X, m, source
            return True
        return False


class Progress:
    """Counts the steps of all phases and reports them through the caller's ``callback``."""

    def __init__(self, callback, total):
        self.callback, self.total, self.done = callback, total, 0

    def step(self, best, hop: bool = False):
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, None if hop else self.total, best)


def more(st, ph, i, deadline: Deadline) -> bool:
    """Start restart number i?  Not after Ctrl-C, the restart count, or (about) the deadline: not
    when half a typical restart (the median so far) would carry past it."""
    if INTERRUPT.is_set() or (st.restarts is not None and i >= st.restarts):
        return False
    if deadline.at is None or i == 0:
        return True
    est = ph.restart_seconds()
    return not deadline.passed(within=0.5 * est)


def run_restarts(pb, st, ph, starts, seeds, deadline, progress, holder, pool=(None, None)):
    """Fill ``ph.results``: serially, batched (``st.batch`` > 1) or in the processes of ``pool``
    (the search's :func:`worker_pool`, which has workers when ``st.n_jobs`` > 1).

    ``starts`` maps restart indices to warm starts; ``holder["X"]`` keeps the latest iterate."""
    if pool[0] is not None:
        _pool(pb, st, ph, starts, seeds, deadline, progress, pool)
    elif st.batch > 1:
        _batched(pb, st, ph, starts, seeds, deadline, progress, holder)
    else:
        _serial(pb, st, ph, starts, seeds, deadline, progress, holder)


def _serial(pb, st, ph, starts, seeds, deadline, progress, holder):
    i = 0
    while more(st, ph, i, deadline):
        t0 = time.time()
        X, m, late = restart(pb, st, i, seeds.spawn(1)[0], starts.get(i), deadline, holder)
        ph.results[i] = (X, m)
        ph.durations.append(time.time() - t0)
        i += 1
        progress.step(ph.best_restart())
        if late:
            ph.time_limited = True
            break


def _batched(pb, st, ph, starts, seeds, deadline, progress, holder):
    """Restarts B at a time as one torch program (:func:`batched_restarts`); warm starts alone."""
    i = 0
    while more(st, ph, i, deadline):
        t0 = time.time()
        idx = [i]
        if i in starts:
            outs = [restart(pb, st, i, seeds.spawn(1)[0], starts[i], deadline, holder)]
        else:
            while len(idx) < st.batch and (st.restarts is None or idx[-1] + 1 < st.restarts) \
                    and idx[-1] + 1 not in starts:
                idx.append(idx[-1] + 1)
            outs = batched_restarts(pb, st, idx, [seeds.spawn(1)[0] for _ in idx], deadline)
        for j, (X, m, _) in zip(idx, outs):
            ph.results[j] = (X, m)
            holder["X"] = X
        ph.durations.append(time.time() - t0)
        i = idx[-1] + 1
        for _ in idx:
            progress.step(ph.best_restart())
        if outs[-1][2]:
            ph.time_limited = True
            break


#: Seconds past a deadline after which the parent stops waiting for a worker: one still starting up
#: (imports, first compiled call) or inside a long kernel call is abandoned, its result lost, so that
#: the time limit holds.  (Workers check the deadline themselves; the Event is for Ctrl-C alone, since
#: the pool serves both phases of a free search.)
WORKER_GRACE = 1.0


@contextmanager
def worker_pool(n_jobs):
    """``(executor, event)``: ``n_jobs`` spawned worker processes for a search's restarts and hops
    (started once per search: a worker's start, imports and first compiled call cost 2-4 s on a
    2-core machine), and the Event that tells them to stop; ``(None, None)`` when ``n_jobs`` is 1.

    The workers never outlive this process (:func:`constellations.core.interrupts.die_with_parent`: they
    die with it, SIGKILL included) and never wait to be joined: on the way out, normal or not, they
    are told to stop, pending work is cancelled and the processes are killed (every result that
    counts has been gathered by then)."""
    if n_jobs <= 1:
        yield None, None
        return
    ctx = mp.get_context("spawn")
    event = ctx.Event()
    ex = ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx, initializer=_worker_init,
                             initargs=(event, os.getpid()))
    try:
        yield ex, event
    finally:
        event.set()
        _kill_workers(ex)


def _kill_workers(ex) -> None:
    """Cancel what is pending and kill the pool's processes without joining them (a worker still
    importing, or inside a compiled kernel, would otherwise hold the parent for seconds)."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    ex.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        try:
            p.kill()
        except (OSError, ValueError, AttributeError):  # already gone or closed
            pass
    for p in procs:
        try:
            p.join(timeout=1.0)
        except (OSError, ValueError, AssertionError):
            pass


def gather(futures, event, give_up: Deadline = Deadline.NEVER) -> list:
    """Results of the ``futures`` that finish (in order), relaying Ctrl-C (INTERRUPT) to the workers
    through ``event``: they stop at their next check and hand back their best so far.  Those that
    have not answered once the clock passed ``give_up`` (NEVER: wait for all) are left out; Ctrl-C
    does not end the wait (:meth:`~constellations.core.deadline.Deadline.passed`, the clock alone),
    since the workers' best so far is still to come."""
    pending = set(futures)
    while pending and not give_up.passed():
        _, pending = wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
        if INTERRUPT.is_set():  # set here, not in the signal handler: Event.set takes a lock
            event.set()
    return [f.result() for f in futures if f.done() and not f.cancelled()]


def _pool(pb, st, ph, starts, seeds, deadline, progress, pool):
    """Restarts in the ``pool``'s worker processes (:func:`worker_pool`), ``n_jobs`` at a time;
    on Ctrl-C they are told through the pool's Event, stop at their next check and hand back
    their best so far.  Restarts not back :data:`WORKER_GRACE` seconds after the deadline (at most a
    quarter of the time the restarts had) are abandoned (the phase then has fewer results; :func:`salvage` makes sure there is one)."""
    ex, event = pool
    pending = {}
    i = 0
    # give up on late workers WORKER_GRACE after the deadline, or sooner in a short phase
    give_up = deadline.later(min(WORKER_GRACE, 0.25 * (deadline.left() or 0.0)))
    try:
        while True:
            while len(pending) < st.n_jobs and more(st, ph, i, deadline):
                fut = submit(ex, restart, pb, st, i, seeds.spawn(1)[0], starts.get(i), deadline)
                pending[fut] = (i, time.time())
                i += 1
            if not pending or give_up.passed():
                break
            done, _ = wait(list(pending), timeout=0.05, return_when=FIRST_COMPLETED)
            if INTERRUPT.is_set():  # set here, not in the signal handler: Event.set takes a lock
                event.set()
            for fut in done:
                _collect(ph, fut, *pending.pop(fut), progress)
        if pending:
            ph.time_limited = True
    except BaseException:
        event.set()
        raise
    finally:
        for fut in pending:
            fut.cancel()


def _collect(ph, fut, j, t0, progress) -> None:
    X, m, late = fut.result()
    ph.results[j] = (X, m)
    ph.durations.append(time.time() - t0)
    ph.time_limited |= late
    progress.step(ph.best_restart())


def submit(ex, *args):
    """``ex.submit(*args)`` with the stop signals blocked (:func:`constellations.core.interrupts.blocked`):
    a worker spawned here inherits the blocked signals (across exec), so Ctrl-C or SIGTERM sent to
    the whole process group cannot kill it half-started; the parent gets the signal once it is
    unblocked and tells the workers through the Event."""
    with interrupts.blocked():
        return ex.submit(*args)


def _worker_init(event=None, parent_pid=None):
    INTERRUPT.event = event  # set by the parent when it is interrupted (stop signals stay blocked here)
    if parent_pid is not None:
        interrupts.die_with_parent(parent_pid)  # spawned by the searching thread, alive as long as the pool
    try:
        import numba
        numba.set_num_threads(1)
    except Exception:  # pragma: no cover - numba missing or already configured
        pass
    try:
        import torch
        torch.set_num_threads(1)
    except Exception:  # pragma: no cover
        pass


def salvage(pb, ph, starts, seeds, holder):
    """Make sure there is a candidate: the last iterate, a start, or a random point."""
    if ph.results:
        return
    if "X" in holder:
        X = np.array(holder["X"])
    elif starts:
        X = starts[min(starts)]
    else:
        X = pb.random(np.random.default_rng(seeds.spawn(1)[0]))
    ph.results[0] = (X, pb.margin(X))


# --------------------------------------------------------------------------- batched (torch)

def batched_restarts(pb, st, indices, seed_seqs, deadline: Deadline = Deadline.NEVER):
    """Run the restarts ``indices`` (seeded by ``seed_seqs``) as one torch batch; returns [(X, margin, late)].

    On a GPU one restart of a small problem leaves the device idle between tiny kernels; here B
    restarts advance together in :func:`search.optimizer.rlbfgs_batched` with the batched
    kernel of the backend (:func:`objective.backends.tensor_kernel`: torch's, or Triton's fused kernel
    in float32 with the precision chosen per beta stage); the iterates stay on the device in float64
    and every margin is computed in float64.  Starting points are drawn exactly
    as :func:`restart` draws them; the beta continuation is the first index's.  Free restarts also
    try the tied projection and keep it when its margin is larger, as the serial restarts do.
    """
    import torch

    value_and_grad_tensor = tensor_kernel(pb.backend)  # triton: float32 kernel on the float64 rows
    betas = st.betas or default_schedule(indices[0])
    X0 = np.stack([np.random.default_rng(ss).standard_normal(pb.shape) for ss in seed_seqs])
    X = torch.as_tensor(normalize(X0), dtype=torch.float64, device=pb.device)
    late = False
    with torch.no_grad():
        for beta in betas:
            X, _, late = rlbfgs_batched(
                lambda Z, beta=beta: value_and_grad_tensor(Z, beta, pb.free_edges, tied=pb.tied, stop=deadline),
                X, maxiter=_maxiter(st, indices[0]), deadline=deadline)
            if late:
                break
    out = []
    for Xb in normalize(X.cpu().numpy()):
        m = pb.margin(Xb)
        if not pb.tied:
            Xc, mc = tied_projection(Xb, pb.edges)
            if mc > m:
                Xb, m = Xc, mc
        out.append((Xb, m, late))
    return out

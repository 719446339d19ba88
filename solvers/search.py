r"""Multi-start search for maximal-margin constellations and spherical codes.

Problem (docs/math.md section 2): given N, d, M and a graph G, find unit vectors X[k, i] in R^d that
maximise the margin m* = (pos - neg)/2 (half the gap); b_rel = (pos + neg)/2 is free.  With
``tied=True`` every modality is the same code C (N x d), pos = 1 and the problem is the
spherical-code (Tammes) problem: minimise the largest <C_i, C_j>.

Method, per restart
-------------------
1. A random start (rows uniform on the sphere; the first restart uses ``init`` when given).
2. **Beta continuation**: maximise the smoothed margin F_beta (:mod:`solvers.objective_numpy`),
   a lower bound on m* within log(#terms)/beta, for an increasing sequence of beta.  Each stage is
   a Riemannian L-BFGS on the product of spheres (:func:`rlbfgs`: retraction by row normalisation,
   transport by projection, Armijo backtracking).
3. The float64 margin of the result is recorded.

Then the best restarts are polished exactly (:func:`solvers.polish.polish`, a trust-region
sequential LP that never lowers the margin) and the best is verified: ``margin`` and ``b_rel`` from
:func:`constellations.margins.margin_stats`, ``margin_certified`` from
:func:`constellations.certify.certified_margin` (a rigorous lower bound on the margin of the exactly
normalised rows).

Finally, **basin hopping** from the best configuration, alternating two moves, each kept only if
it raises the float64 margin:

- a *kick*: perturb every row by a Gaussian of scale 0.01, 0.03 or 0.1 (cycled), renormalise and
  polish directly.  This escapes the degenerate points where the LP polish stalls next to a better
  vertex (it is what finds the N = 18 and N = 27 Tammes optima in d = 3);
- a *jump*: perturb by ``hop_sigma`` (0.3), renormalise, re-anneal from beta = 160 with short
  stages, then polish when the result is within the smoothing gap of the best (this finds other
  basins, e.g. N = 28 in d = 3);
- a *swap* (tied only, :func:`_swap_move`): put an extra point in the deepest hole, re-optimise the
  N + 1 code, then take out the point whose removal leaves the best polished code (this finds the
  N = 26 Tammes optimum in d = 3, which random starts miss).

In free mode (M >= 2 independent modalities) restarts start from independent random rows;
``free_init="tied"`` instead first solves the tied problem (a code is a constellation) and then
continues in the free variables at the last two betas.

Restarts draw their seeds from ``numpy.random.SeedSequence(seed).spawn``, so a run is reproducible
whatever ``n_jobs`` is.  ``n_jobs > 1`` runs restarts in worker processes (spawned, one thread each).
A time limit stops new restarts (and cuts a running one short); Ctrl-C returns the best result so far
with ``interrupted=True``.  The library never prints: ``callback(done, total, best_margin)`` reports
progress after each restart.
"""
from __future__ import annotations

import math
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np

from constellations.configuration import Configuration, as_array, tied as tied_config
from constellations.errors import ConfigurationError
from constellations.graphs import parse_graph

from .polish import code_margin, free_margin, polish

__all__ = ["SearchResult", "search", "optimize", "default_schedule", "BACKENDS"]

BACKENDS = ("auto", "numpy", "numba", "torch")

#: Starting sharpness of the restarts, cycled: a soft start (10-20) behaves like an energy
#: minimisation and funnels into "energy" basins; sharper starts (40-160) reach other basins
#: (e.g. the N = 13 Tammes optimum is essentially never reached from beta = 10).  Mixing them is
#: a cheap form of diversity.
START_BETAS = (40.0, 80.0, 20.0, 160.0, 10.0)
#: Last stage of every continuation; each stage multiplies beta by 4.
FINAL_BETA = 10240.0


#: Starting beta of a basin-hopping step (sharp enough to stay near the perturbed point).
HOP_START_BETA = 160.0
#: Row perturbations of the "kick" hops (every other hop), polished without re-annealing.  The LP
#: polish can stall at a degenerate point next to a better vertex (Tammes N = 18 in d = 3 stops at
#: m = 0.1756185 and N = 27 at 0.1208053); a kick of 0.01-0.03 and a fresh polish reach 0.1756521
#: and 0.1208054 in every one of 20 tries.
KICK_SIGMAS = (0.01, 0.03, 0.1)
#: Kicks take at most this share of the rest of the run's time (each one is a full LP polish) ...
KICK_SHARE = 0.25
#: ... and stop after this many kicks in a row without a gain.
KICK_PATIENCE = 6
#: Swap moves (tied only; see :func:`_swap_move`): time share, patience, removals polished, and the
#: number of random points searched for the deepest hole.
SWAP_SHARE = 0.25
SWAP_PATIENCE = 3
SWAP_CANDIDATES = 8
SWAP_PROBES = 4000
#: No swaps above this many variables N d: each one costs SWAP_CANDIDATES + 1 LP polishes.
SWAP_MAX_VARS = 1200


def window_hop(n, beta, n_edges, tied):
    """Hop results within this of the best are polished (twice the smoothing gap)."""
    from .objective_numpy import smoothing_gap
    return 2.0 * smoothing_gap(n, beta, n_edges, tied)


def default_schedule(restart: int = 0) -> tuple[float, ...]:
    """The beta continuation of restart number ``restart`` (geometric, factor 4, up to FINAL_BETA)."""
    b = START_BETAS[restart % len(START_BETAS)]
    out = [b]
    while out[-1] * 4 <= FINAL_BETA * 1.0001:
        out.append(out[-1] * 4)
    if out[-1] < FINAL_BETA:
        out.append(FINAL_BETA)
    return tuple(out)


@dataclass(frozen=True)
class SearchResult:
    """Outcome of :func:`search`.

    Attributes
    ----------
    config : Configuration
        The best configuration found (float64, unit rows; tied runs hold M copies of one code).
    margin, b_rel : float
        m* = (pos - neg)/2 (half the gap) and b*_rel in float64 (constellations.margins).
    margin_certified : float
        Rigorous lower bound on the margin (constellations.certify.certified_margin).
    seconds : float
        Wall-clock time of the whole search, verification included.
    restarts : int
        Restarts completed (a restart cut short by the time limit or an interrupt counts if it
        produced a candidate).
    seed : int
    interrupted : bool
        True if a KeyboardInterrupt ended the run early.
    restart_margins : tuple of float
        Float64 margin at the end of each completed restart, before polishing, in seed order.
    polish_gain : float
        Margin gained by the final polish (>= 0).
    backend, device : str
    tied : bool
    time_limited : bool
        True if the time limit stopped the run.
    """

    config: Configuration
    margin: float
    b_rel: float
    margin_certified: float
    seconds: float
    restarts: int
    seed: int
    interrupted: bool
    restart_margins: tuple = ()
    polish_gain: float = 0.0
    backend: str = "numpy"
    device: str = "cpu"
    tied: bool = False
    time_limited: bool = False
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def n(self) -> int:
        return self.config.N

    @property
    def dim(self) -> int:
        return self.config.d

    @property
    def modalities(self) -> int:
        return self.config.M


# --------------------------------------------------------------------------- kernels

def _resolve_backend(backend: str, device: str, n: int, dim: int):
    if backend not in BACKENDS:
        raise ConfigurationError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if device != "cpu" and backend not in ("auto", "torch"):
        raise ConfigurationError(f"device {device!r} needs the torch backend, not {backend!r}")
    if backend == "auto":
        if device != "cpu":
            backend = "torch"
        elif n * n * max(dim, 8) > 2e7:
            backend = "numpy"  # BLAS blocks win at large N
        else:
            backend = "numba"
    return backend


def _kernel(backend: str, device: str):
    if backend == "numpy":
        from .objective_numpy import value_and_grad
        return value_and_grad
    if backend == "numba":
        from .objective_numba import value_and_grad
        return value_and_grad
    from .objective_torch import value_and_grad as vg

    def torch_vg(X, beta, edges=None, *, block=None):
        return vg(X, beta, edges, block=block, device=device)
    return torch_vg


def _normalize(X):
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def _tangent(X, V):
    return V - np.einsum("...i,...i->...", V, X)[..., None] * X


def rlbfgs(fg, X, *, maxiter: int = 400, memory: int = 12, gtol: float = 1e-11, ftol: float = 1e-15,
           deadline: float | None = None, holder: dict | None = None):
    """Riemannian L-BFGS maximising ``F`` on the product of unit spheres.

    ``fg(X) -> (F, G)`` returns the value and the Riemannian gradient at unit rows X.  Steps retract
    by row normalisation, stored pairs are transported by projection onto the new tangent space,
    and the step length is found by Armijo backtracking from 1 (the L-BFGS scaling makes 1 the
    natural trial).  Pure NumPy on purpose: no BLAS threads for tiny vectors (a threaded BLAS
    inside scipy's L-BFGS-B costs milliseconds per iteration on a busy machine).

    Returns ``(X, F, timed_out)``.
    """
    holder = {} if holder is None else holder
    F, G = fg(X)
    holder["X"] = X
    f, g = -F, -G
    S, Yv, R = [], [], []
    for _ in range(maxiter):
        if deadline is not None and time.time() > deadline:
            return X, -f, True
        if np.abs(g).max() <= gtol:
            break
        q = g.copy()
        alphas = []
        for s_, y_, r_ in zip(reversed(S), reversed(Yv), reversed(R)):
            a = r_ * np.vdot(s_, q)
            q -= a * y_
            alphas.append(a)
        if S:
            gamma = np.vdot(S[-1], Yv[-1]) / np.vdot(Yv[-1], Yv[-1])
        else:
            gamma = min(1.0, 0.1 / max(np.abs(g).max(), 1e-300))
        q *= gamma
        for (s_, y_, r_), a in zip(zip(S, Yv, R), reversed(alphas)):
            b = r_ * np.vdot(y_, q)
            q += (a - b) * s_
        p = -_tangent(X, q)
        slope = np.vdot(g, p)
        if not slope < 0:
            S, Yv, R = [], [], []
            p = -g * min(1.0, 0.1 / max(np.abs(g).max(), 1e-300))
            slope = np.vdot(g, p)
        t = 1.0
        ok = False
        for _ls in range(40):
            Xn = _normalize(X + t * p)
            Fn, Gn = fg(Xn)
            fn = -Fn
            if fn <= f + 1e-4 * t * slope:
                ok = True
                break
            t *= 0.5
        if not ok:
            break
        gn = -Gn
        s_new = _tangent(Xn, t * p)
        y_new = gn - _tangent(Xn, g)
        sy = np.vdot(s_new, y_new)
        S = [_tangent(Xn, v) for v in S]
        Yv = [_tangent(Xn, v) for v in Yv]
        if sy > 1e-16 * np.vdot(y_new, y_new) and sy > 0:
            S.append(s_new)
            Yv.append(y_new)
            R.append(1.0 / sy)
            if len(S) > memory:
                S.pop(0), Yv.pop(0), R.pop(0)
        df = f - fn
        X, f, g = Xn, fn, gn
        holder["X"] = X
        if df <= ftol * max(1.0, abs(f)):
            break
    return X, -f, False


def optimize(X, betas, edges=None, *, kernel=None, maxiter: int = 3000, deadline: float | None = None,
             holder: dict | None = None):
    """Maximise F_beta for each beta in turn from rows X (free (M,N,d) or tied (N,d)).

    Riemannian L-BFGS (:func:`rlbfgs`) per stage.  Stops early at ``deadline`` (``time.time()``
    seconds) and returns the current iterate; ``holder["X"]`` always holds the latest accepted point
    (used to salvage a run on interrupt).  Returns ``(X, timed_out)``.
    """
    if kernel is None:
        from .objective_numpy import value_and_grad as kernel
    X = _normalize(np.array(X, dtype=np.float64))
    holder = {} if holder is None else holder
    holder["X"] = X
    for beta in betas:
        X, _, late = rlbfgs(lambda Z, beta=beta: kernel(Z, beta, edges), X, maxiter=maxiter,
                            deadline=deadline, holder=holder)
        if late:
            return X, True
    return X, False


# --------------------------------------------------------------------------- restarts

def _margin_of(X, edges):
    return code_margin(X) if X.ndim == 2 else free_margin(X, edges)


def tied_projection(X, edges):
    """Every modality replaced by the normalised mean of all of them: ``(Xc, margin)``.

    Xc is a code (all modalities equal), hence a constellation with m = (1 - c)/2; this rescues free
    runs that have not separated yet (large N, short budgets).  Returns ``(None, -inf)`` when a mean
    row (nearly) vanishes.
    """
    S = X.sum(axis=0)
    if np.linalg.norm(S, axis=1).min() <= 1e-8:
        return None, -np.inf
    Xc = np.broadcast_to(_normalize(S), X.shape).copy()
    return Xc, free_margin(Xc, edges)


def _restart(spec: dict, index: int, seed_seq, start, deadline, holder=None):
    """One restart; returns (X, margin, timed_out)."""
    kernel = _kernel(spec["backend"], spec["device"])
    betas = spec["betas"] or default_schedule(index)
    # iteration cap per stage, alternating every len(START_BETAS) restarts: fully converged stages
    # (needed e.g. to reach E8) and short ones (annealing-like, more diverse basins; e.g. the
    # N = 18 Tammes optimum in d = 3 came only from those in our runs)
    maxiter = spec.get("maxiter") or (3000 if (index // len(START_BETAS)) % 2 == 0 else 400)
    n, dim, M, edges, tied = spec["n"], spec["dim"], spec["M"], spec["edges"], spec["tied"]
    rng = np.random.default_rng(seed_seq)
    if start is not None:  # warm start: skip the soft stages that would wash it out
        X0 = start
        stages = betas[-2:]
        X, late = optimize(X0, stages, edges if not tied else None, kernel=kernel, maxiter=maxiter, deadline=deadline,
                           holder=holder)
        m0, m1 = _margin_of(X0, edges), _margin_of(X, edges)
        return (X, m1, late) if m1 >= m0 else (np.array(X0), m0, late)
    if tied:
        X, late = optimize(rng.standard_normal((n, dim)), betas, kernel=kernel, maxiter=maxiter, deadline=deadline,
                           holder=holder)
        return X, code_margin(X), late
    if spec["free_init"] == "tied":
        C, late = optimize(rng.standard_normal((n, dim)), betas, kernel=kernel, maxiter=maxiter, deadline=deadline,
                           holder=holder)
        X0 = np.broadcast_to(C, (M, n, dim)).copy()
        if not late:
            X0 = _normalize(X0 + spec["jitter"] * rng.standard_normal(X0.shape))
            X, late = optimize(X0, betas[-2:], edges, kernel=kernel, maxiter=maxiter, deadline=deadline, holder=holder)
            mt = free_margin(np.broadcast_to(C, (M, n, dim)), edges)
            mX = free_margin(X, edges)
            if mX < mt:
                X, mX = np.broadcast_to(C, (M, n, dim)).copy(), mt
            return X, mX, late
        return X0, free_margin(X0, edges), late
    X, late = optimize(rng.standard_normal((M, n, dim)), betas, edges, kernel=kernel, maxiter=maxiter, deadline=deadline,
                       holder=holder)
    mX = free_margin(X, edges)
    Xc, mc = tied_projection(X, edges)
    if mc > mX:
        X, mX = Xc, mc
        if not late:
            Xj = _normalize(Xc + spec["jitter"] * rng.standard_normal(Xc.shape))
            Xo, late = optimize(Xj, betas[-2:], edges, kernel=kernel, maxiter=maxiter, deadline=deadline,
                                holder=holder)
            mo = free_margin(Xo, edges)
            if mo > mX:
                X, mX = Xo, mo
    return X, mX, late


def _swap_move(C, rng, kernel, betas, deadline, polish_budget):
    """Insert a point, re-optimise the N + 1 code, take a point out again: ``(C', m', timed_out)``.

    The new point goes to the deepest hole of C (the best of SWAP_PROBES random points, the one
    whose largest inner product with C is smallest); the N + 1 rows are annealed over ``betas``
    and polished; then the SWAP_CANDIDATES removals with the largest margins are polished and the
    best is returned.  Codes with N points often sit next to an (N + 1)-code with one point
    removed: Tammes N = 26 in d = 3 is found this way (41.0376616 deg) and essentially never from
    random starts, which end at 41.0347567 deg.
    """
    n, dim = C.shape
    P = _normalize(rng.standard_normal((SWAP_PROBES, dim)))
    h = P[np.argmin((P @ C.T).max(axis=1))]
    Y = _normalize(np.vstack([C, h]) + 0.02 * rng.standard_normal((n + 1, dim)))
    Y, late = optimize(Y, betas, None, kernel=kernel, maxiter=400, deadline=deadline)
    if late:
        return C, code_margin(C), True
    Y = polish(Y, None, tied=True, time_limit=polish_budget()).X
    order = sorted(range(n + 1), key=lambda k: -code_margin(np.delete(Y, k, axis=0)))
    best, best_m = C, code_margin(C)
    for k in order[:SWAP_CANDIDATES]:
        pr = polish(np.delete(Y, k, axis=0), None, tied=True, time_limit=polish_budget())
        if pr.margin > best_m:
            best, best_m = pr.X, pr.margin
    return best, best_m, False


def _worker_init():
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


def _worker(spec, index, seed_seq, start, deadline):
    return _restart(spec, index, seed_seq, start, deadline)


# --------------------------------------------------------------------------- driver

def _check(n, dim, modalities, restarts, time_limit, n_jobs):
    for name, v, lo in (("n", n, 2), ("dim", dim, 1), ("modalities", modalities, 2)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise ConfigurationError(f"{name} must be an integer, got {v!r}")
        if v < lo:
            raise ConfigurationError(f"{name} must be >= {lo}, got {v}")
    if restarts is not None and (int(restarts) != restarts or restarts < 1):
        raise ConfigurationError(f"restarts must be a positive integer, got {restarts!r}")
    if time_limit is not None:
        if not (isinstance(time_limit, (int, float, np.number)) and math.isfinite(time_limit)) or time_limit < 0:
            raise ConfigurationError(f"time limit must be a finite number >= 0 seconds, got {time_limit!r}")
    if restarts is None and time_limit is None:
        raise ConfigurationError("give restarts, a time limit or both")
    if int(n_jobs) != n_jobs or n_jobs < 1:
        raise ConfigurationError(f"n_jobs must be a positive integer, got {n_jobs!r}")


def search(n: int, dim: int, modalities: int = 2, graph=None, *, tied: bool = False, restarts: int | None = 8,
           time_limit: float | None = None, seed: int = 0, device: str = "cpu", backend: str = "auto",
           init=None, n_jobs: int = 1, callback=None, betas=None, polish_top: int = 12,
           free_init: str = "random", jitter: float = 1e-3, polish_time: float | None = 20.0,
           polish_max_vars: int = 60_000, hops: int | None = None, hop_sigma: float = 0.3,
           batch: int = 1) -> SearchResult:
    """Search for an (N, d, M) constellation of maximal margin (see the module docstring).

    Parameters
    ----------
    n, dim, modalities : int
        N >= 2 items, dimension d >= 1, M >= 2 modalities.
    graph : Graph or str, optional
        Synchronisation graph (default complete).
    tied : bool
        All modalities equal: the spherical-code problem.
    restarts : int or None
        Number of restarts; None means "until the time limit".
    time_limit : float, optional
        Seconds for the whole run (>= 0).  About 85% goes to restarts, the rest to polishing.
    seed : int
    device : str
        "cpu" or a torch device such as "cuda" (then the torch backend runs the kernel there).
    backend : {"auto", "numpy", "numba", "torch"}
    init : Configuration or array (M, N, d), optional
        Starting point of the first restart.  The result is never worse than ``init``.
    n_jobs : int
        1: in-process, single process.  k > 1: k spawned worker processes.
    callback : callable(done, total, best_margin), optional
    betas : sequence of float, optional
        One beta continuation for every restart (default: :func:`default_schedule`, which cycles
        the starting beta over :data:`START_BETAS`).
    polish_top : int
        At most this many of the best restarts (distinct margins, within twice the smoothing gap
        log(#terms)/(2 beta) of the best) are polished.
    free_init : {"random", "tied"}
        Start of free restarts: independent random rows (default; better at N=100, d=10, M=2:
        0.3340 vs 0.3325 in 60 s), or a tied code first, then freed.
    hops : int, optional
        Basin-hopping steps after the restarts (see the module docstring): kicks (small perturbation,
        direct polish; while they cost at most KICK_SHARE of the other time and until KICK_PATIENCE
        fail in a row) and, when tied, swaps (insert a point, re-optimise, remove one; same rules
        with SWAP_SHARE, SWAP_PATIENCE) take turns with jumps (perturb by ``hop_sigma`` times a Gaussian, re-anneal
        from beta = HOP_START_BETA with 400 L-BFGS iterations a stage, polish), keep if better.  Default: as many as ``restarts`` (or, with only a time limit, until
        92% of it; the restarts then stop at 50%).  Skipped above ``polish_max_vars``.
    polish_max_vars : int
        Skip the LP polish when M N d (free) or N d (tied) exceeds this (the LP would be too big).
    batch : int
        B > 1 runs the restarts B at a time as one batched torch program
        (:mod:`solvers.batched_restarts`; meant for ``device="cuda"``, where one small restart
        leaves the GPU idle).  Starting points are the serial ones; a batch shares the beta
        continuation of its first restart.  Needs the torch backend (chosen by "auto") and n_jobs = 1.
    polish_time : float, optional
        Seconds allowed to each polish (default 20; HiGHS needs tens of seconds on the highly
        degenerate LPs of big symmetric codes such as E8, where L-BFGS is already within 1e-9).

    Returns
    -------
    SearchResult

    Raises
    ------
    ConfigurationError
        n < 2, dim < 1, modalities < 2, negative time limit, bad restarts/n_jobs/backend, or an
        ``init`` of the wrong shape.
    """
    t_start = time.time()
    _check(n, dim, modalities, restarts, time_limit, n_jobs)
    n, dim, modalities = int(n), int(dim), int(modalities)
    G = parse_graph(graph, modalities)
    edges = [tuple(e) for e in G.edges]
    if free_init not in ("tied", "random"):
        raise ConfigurationError(f"free_init must be 'tied' or 'random', got {free_init!r}")
    if isinstance(batch, bool) or int(batch) != batch or batch < 1:
        raise ConfigurationError(f"batch must be a positive integer, got {batch!r}")
    batch = int(batch)
    if batch > 1:
        if n_jobs != 1:
            raise ConfigurationError("batch > 1 runs restarts as one tensor program: use it with n_jobs = 1")
        if backend == "auto":
            backend = "torch"
        elif backend != "torch":
            raise ConfigurationError(f"batch > 1 needs the torch backend, not {backend!r}")
    backend = _resolve_backend(backend, device, n, dim)
    if betas is not None:
        betas = tuple(float(b) for b in betas)
        if not betas or min(betas) <= 0:
            raise ConfigurationError("betas must be a non-empty sequence of positive numbers")
    start = None
    if init is not None:
        A = init.X if isinstance(init, Configuration) else as_array(init, normalize=True)
        if A.shape != (modalities, n, dim):
            raise ConfigurationError(f"init has shape {A.shape}, expected (M, N, d) = {(modalities, n, dim)}")
        start = np.array(A[0]) if tied else np.array(A)
        if tied:  # the best single modality as the code
            start = max((np.array(A[k]) for k in range(modalities)), key=code_margin)
    spec = dict(n=n, dim=dim, M=modalities, edges=edges, tied=tied, backend=backend, device=device,
                betas=betas, free_init=free_init, jitter=float(jitter))
    n_total = restarts
    seeds = np.random.SeedSequence(seed)
    hop_share = 0.0 if (hops == 0 or (tied and n * dim > polish_max_vars) or
                        (not tied and modalities * n * dim > polish_max_vars)) else 0.5
    deadline = None if time_limit is None else t_start + (0.85 - 0.35 * (hop_share > 0)) * float(time_limit)
    results = {}  # index -> (X, margin)
    interrupted = time_limited = False
    holder: dict = {}
    durations = []

    def more(i):
        if restarts is not None and i >= restarts:
            return False
        if deadline is not None:
            est = float(np.median(durations)) if durations else 0.0
            return time.time() + 0.5 * est < deadline or i == 0
        return True

    def best_margin():
        return max((m for _, m in results.values()), default=-np.inf)

    try:
        if n_jobs == 1 and batch > 1:
            from .batched_restarts import batched_restarts
            i = 0
            while more(i):
                t0 = time.time()
                if i == 0 and start is not None:  # the warm start runs alone
                    idx = [0]
                    X, m, late = _restart(spec, 0, seeds.spawn(1)[0], start, deadline, holder)
                    outs = [(X, m, late)]
                else:
                    idx = [i]
                    while len(idx) < batch and (restarts is None or idx[-1] + 1 < restarts):
                        idx.append(idx[-1] + 1)
                    outs = batched_restarts(spec, idx, [seeds.spawn(1)[0] for _ in idx], deadline)
                for j, (X, m, late) in zip(idx, outs):
                    results[j] = (X, m)
                    holder["X"] = X
                durations.append(time.time() - t0)
                i = idx[-1] + 1
                if callback is not None:
                    callback(i, n_total, best_margin())
                if outs[-1][2]:
                    time_limited = True
                    break
        elif n_jobs == 1:
            i = 0
            while more(i):
                t0 = time.time()
                ss = seeds.spawn(1)[0]
                X, m, late = _restart(spec, i, ss, start if i == 0 else None, deadline, holder)
                results[i] = (X, m)
                durations.append(time.time() - t0)
                i += 1
                if callback is not None:
                    callback(i, n_total, best_margin())
                if late:
                    time_limited = True
                    break
        else:
            import multiprocessing as mp
            ctx = mp.get_context("spawn")
            with ProcessPoolExecutor(max_workers=int(n_jobs), mp_context=ctx, initializer=_worker_init) as ex:
                pending = {}
                i = 0
                try:
                    while True:
                        while len(pending) < n_jobs and more(i):
                            fut = ex.submit(_worker, spec, i, seeds.spawn(1)[0], start if i == 0 else None, deadline)
                            pending[fut] = (i, time.time())
                            i += 1
                        if not pending:
                            break
                        done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                        for fut in done:
                            j, t0 = pending.pop(fut)
                            X, m, late = fut.result()
                            results[j] = (X, m)
                            durations.append(time.time() - t0)
                            time_limited |= late
                            if callback is not None:
                                callback(len(results), n_total, best_margin())
                except BaseException:
                    for fut in pending:
                        fut.cancel()
                    ex.shutdown(wait=False, cancel_futures=True)
                    raise
    except KeyboardInterrupt:
        interrupted = True
        if "X" in holder and len(results) == 0:
            X = np.array(holder["X"])
            results[len(results)] = (X, _margin_of(X, edges))
    if deadline is not None and time.time() >= deadline:
        time_limited = True
    if not results:
        # nothing finished (interrupted before any iterate): fall back to the start or a random point
        if start is not None:
            X = start
        else:
            rng = np.random.default_rng(seeds.spawn(1)[0])
            X = _normalize(rng.standard_normal((n, dim) if tied else (modalities, n, dim)))
        results[0] = (X, _margin_of(X, edges))
    restart_margins = tuple(float(results[j][1]) for j in sorted(results))

    # polish the best few (distinct margins), within what is left of the time limit
    order = sorted(results, key=lambda j: -results[j][1])
    best_X, best_m = results[order[0]]
    gain = 0.0
    n_vars = n * dim if tied else modalities * n * dim
    if not interrupted and polish_top > 0 and n_vars <= polish_max_vars:
        # candidates: up to polish_top distinct basins whose float64 margin is within the smoothing
        # gap of the best (polishing can reorder those), best first
        from .objective_numpy import smoothing_gap
        last_beta = (betas or default_schedule(0))[-1]
        window = 2.0 * smoothing_gap(n, last_beta, len(edges), tied)
        seen = []
        for j in order:
            if len(seen) >= polish_top:
                break
            X, m = results[j]
            if seen and m < results[order[0]][1] - window:
                break
            if any(abs(m - s) < 1e-7 for s in seen):  # same basin, up to the smoothing residue
                continue
            seen.append(m)
            budget = polish_time
            if time_limit is not None:
                left = t_start + float(time_limit) - time.time()
                if left <= 0:
                    break
                budget = left if budget is None else min(budget, left)
            try:
                pr = polish(X, None if tied else edges, tied=tied, time_limit=budget)
            except KeyboardInterrupt:
                interrupted = True
                break
            if pr.margin > best_m:
                gain = pr.margin - results[order[0]][1]
                best_X, best_m = pr.X, pr.margin
    # basin hopping from the best: perturb, re-anneal from a sharp start, polish, keep if better
    n_hops = hops_done = hops_improved = 0
    hop_gain = 0.0
    if hops is None:
        n_hops = restarts if restarts is not None else (1 << 30)
    else:
        n_hops = int(hops)
    if interrupted or n_vars > polish_max_vars:
        n_hops = 0
    kernel = _kernel(backend, device)
    hop_rng = np.random.default_rng(seeds.spawn(1)[0])
    hop_deadline = None if time_limit is None else t_start + 0.92 * float(time_limit)
    hop_betas = betas or tuple(b for b in default_schedule(3) if b >= HOP_START_BETA)
    m_before_hops = best_m
    moves = ("kick", "jump", "swap") if tied and n * dim <= SWAP_MAX_VARS else ("kick", "jump")
    used = {"kick": 0, "swap": 0}  # moves done
    fails = {"kick": 0, "swap": 0}  # in a row without a gain
    spent = {"kick": 0.0, "swap": 0.0}  # seconds
    share = {"kick": (KICK_SHARE, KICK_PATIENCE), "swap": (SWAP_SHARE, SWAP_PATIENCE)}

    def polish_budget():
        left = None if hop_deadline is None else max(0.05, hop_deadline - time.time())
        return min(x for x in (polish_time, left) if x is not None) if (polish_time or left) else None

    try:
        while hops_done < n_hops:
            if hop_deadline is not None and time.time() >= hop_deadline:
                time_limited = True
                break
            # kicks and swaps take turns with jumps while they stay cheap: at most their share of
            # the other time, and not after their patience of moves in a row without a gain
            move = moves[hops_done % len(moves)]
            if move != "jump":
                frac, patience = share[move]
                if fails[move] >= patience or spent[move] > frac * (time.time() - t_start - spent[move]):
                    move = "jump"
            t_hop = time.time()
            late = False
            if move == "kick":  # a small kick, polished directly: escapes points where the LP polish stalls
                sigma = KICK_SIGMAS[(used["kick"]) % len(KICK_SIGMAS)]
                Y = _normalize(best_X + sigma * hop_rng.standard_normal(best_X.shape))
                pr = polish(Y, None if tied else edges, tied=tied, time_limit=polish_budget())
                Y, mY = pr.X, pr.margin
            elif move == "swap":
                Y, mY, late = _swap_move(best_X, hop_rng, kernel, hop_betas, hop_deadline, polish_budget)
            else:
                Y0 = _normalize(best_X + hop_sigma * hop_rng.standard_normal(best_X.shape))
                Y, late = optimize(Y0, hop_betas, None if tied else edges, kernel=kernel, maxiter=400,
                                   deadline=hop_deadline)
                mY = _margin_of(Y, edges)
                if not late and mY >= best_m - window_hop(n, hop_betas[-1], len(edges), tied):
                    pr = polish(Y, None if tied else edges, tied=tied, time_limit=polish_budget())
                    Y, mY = pr.X, pr.margin
            hops_done += 1
            if move in used:
                used[move] += 1
                spent[move] += time.time() - t_hop
                fails[move] = 0 if mY > best_m else fails[move] + 1
            if mY > best_m:
                best_X, best_m = Y, mY
                hops_improved += 1
            if late:
                time_limited = True
                break
            if callback is not None:
                callback(len(restart_margins) + hops_done, None if n_total is None else n_total + n_hops, best_m)
    except KeyboardInterrupt:
        interrupted = True
    hop_gain = best_m - m_before_hops
    if tied:
        config = tied_config(best_X, modalities, G)
    else:
        config = Configuration.from_array(best_X, G)
    config = config.with_meta(method="search", n=n, dim=dim, modalities=modalities, tied=tied, seed=seed,
                              backend=backend)
    from constellations.certify import certified_margin
    from constellations.margins import margin_stats
    st = margin_stats(config)
    cert = certified_margin(config)
    return SearchResult(config=config, margin=float(st.margin), b_rel=float(st.b_rel),
                        margin_certified=float(cert.margin_cert), seconds=time.time() - t_start,
                        restarts=len(restart_margins), seed=seed, interrupted=interrupted,
                        restart_margins=restart_margins, polish_gain=float(max(gain, 0.0)), backend=backend,
                        device=device, tied=tied, time_limited=time_limited,
                        extra=dict(hops=hops_done, hops_improved=hops_improved, hop_gain=float(hop_gain),
                                   kicks=used["kick"], swaps=used["swap"]))

r"""The driver of the search: restarts, exact polish, basin hopping, free after tied, verification.

Problem (docs/math.md section 2): given N, d, M and a graph G, find unit vectors X[k, i] in R^d that
maximise the margin m* = (pos - neg)/2 (half the gap); b_rel = (pos + neg)/2 is free.  With
``tied=True`` every modality is the same code C (N x d), pos = 1 and the problem is the
spherical-code (Tammes) problem: minimise the largest <C_i, C_j>.

A phase (:func:`run_phase`) runs restarts (:mod:`search.restarts`: random starts, beta
continuation of the smoothed margin by Riemannian L-BFGS), polishes the best few exactly
(:func:`search.polish.polish`, a trust-region sequential LP that never lowers the margin) and then
hops between basins (:mod:`search.moves`, the moves chosen by the portfolio of
:mod:`search.portfolio`); a code ends with the active-set Newton/KKT polish
(:mod:`search.newton`), which makes its contacts equal to ~1e-15.  Problems whose LPs cost
seconds (compiled stages and more than :data:`~search.problem.LP_DEFER_VARS` variables,
:attr:`~search.problem.Problem.lp_deferred`) rank the restarts and the moves' results by
their sharpened margins and LP-polish only the phase's best, at its end.

A tied search is one phase.  A free search is two: first the tied problem (:data:`TIED_SHARE` of
the time; with a restart count, the very run a tied search would do), then the free problem
started from that code, which stays a candidate: a code is a constellation for every M, so **the
free result is never below the tied one**.

**The best construction is a start and a floor** (:mod:`search.construction`): unless
``constructions=False``, the catalogue's best code for (N, d)
(:func:`constellations.codes.catalogue.best_construction`, built from its algebraic recipe -- not a stored
answer: the search reads a stored configuration only when the caller passes one as ``init``) joins
the tied phase as a candidate at its end, so that the free phase continues from it when it is the
best (by L-BFGS only: the LP polish and hops are skipped there, their LPs around such degenerate
codes overran their limits by minutes); and the returned result is never below it.

The result is verified at the end: ``margin`` and ``b_rel`` in float64 and ``margin_certified``, a
rigorous lower bound, both by :func:`constellations.core.certify.certified_margin` (one pass), or, when
the construction wins and its rows have entries in {0, +a, -a}, by the construction's exact
certificate (:mod:`search.construction`; no pass).  ``certified_by`` says which.

**Budget** (:mod:`search.budget`): a time limit covers everything, verification included.  It
becomes one :class:`~constellations.core.deadline.Deadline`, from which every step's deadline is
derived (the phases' shares, the polish's cap) and which every step asks: the kernels between row
blocks, the L-BFGS every iteration, the polish before every LP step.  Problems that cannot fit
in memory, or whose verification alone would break the limit, are refused before any work -- unless
the construction certified by its structure stands in: then it is returned at once (O(N d) work,
within any time limit), with the reason in ``extra["search_skipped"]``.
Ctrl-C returns the best result so far with ``interrupted=True``.  The library never prints:
``callback(done, total, best_margin)`` reports progress after each restart and hop.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

from constellations.core.certify import certified_margin
from constellations.core.configuration import Configuration, as_array, tied as tied_config
from constellations.core.deadline import Deadline
from constellations.core.errors import ConfigurationError
from constellations.core.graphs import parse_graph
from constellations.core.margins import code_margin
from constellations.core.results import Result, Status, jsonable
from constellations.core.workers import WORKER_PROCESS_BYTES, resolve_count

from constellations.objective.reference import smoothing_gap
from constellations.search.polish import polish
from constellations.search.budget import INTERRUPT, plan, polish_fits, sigint_sets_flag
from constellations.search.construction import Floor, keeps_search, lookup
from constellations.objective.backends import DEVICE_BACKENDS, check_device, resolve_backend
from constellations.search.moves import TIED_ONLY, basin_hop, basin_hop_parallel
from constellations.search.newton import newton_polish
from constellations.search.optimizer import default_schedule, normalize
from constellations.search.problem import Problem, Settings
from constellations.search.recognition import structure
from constellations.search.starts import structured_starts
from constellations.search.restarts import SAME_BASIN, Phase, Progress, restart_kind, run_restarts, salvage, worker_pool

__all__ = ["SearchResult", "search", "TIED_SHARE", "STRATEGIES", "PORTFOLIO"]


#: Largest N (d + 1) whose best code gets the Newton/KKT polish (a step is a dense SVD of ~2 N (d + 1)
#: unknowns: under a second here at this size).
NEWTON_MAX_VARS = 400


#: Share of a free search's budget spent first on the tied problem: a code is a constellation, so
#: the free phase starts from that code and can never end below it.  For M = 2, N = 100, d = 10 the
#: free phase started from a code stays at the code's margin (the code is a local maximum of the
#: free problem in our runs), so the free result follows the code's quality: at 60 s, seeds 0-4,
#: median 0.33351 with 0.85 against 0.33295 with half (data/search/free_n100_d10_tied_share.txt).
TIED_SHARE = 0.85


@dataclass(frozen=True)
class SearchResult(Result):
    """Outcome of :func:`search`.

    Attributes
    ----------
    config : Configuration
        The best configuration found (float64, unit rows; tied runs hold M copies of one code).
    margin, b_rel : float
        m* = (pos - neg)/2 (half the gap) and b*_rel in float64 (constellations.core.margins).
    margin_certified : float
        Rigorous lower bound on the margin (constellations.core.certify.certified_margin).
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
    certified_by : str
        How ``margin_certified`` was obtained: the float64 rounding bound of
        :func:`constellations.core.certify.certified_margin`, or the structure of a construction
        (:mod:`search.construction`).
    extra : dict
        ``found_by`` (the step that found the result: "restart", "polish", a move, "tied code" or
        "construction:<recipe>"), ``construction`` (the catalogue's construction: recipe, margin,
        certified margin, how certified) and ``construction_margin`` when there was one,
        ``search_skipped`` (why no search ran) when the construction was returned alone; moves,
        contacts, rattlers, min_poly, tied phase figures.
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
    certified_by: str = "float64 rounding bound (constellations.core.certify.certified_margin)"
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

    @property
    def status(self) -> Status:
        """Why the search stopped (:class:`constellations.core.results.Status`)."""
        if self.interrupted:
            return Status.INTERRUPTED
        if self.extra.get("search_skipped"):
            return Status.CONSTRUCTION_ONLY
        return Status.TIME_LIMIT if self.time_limited else Status.COMPLETED

    @property
    def message(self) -> str:
        """One line: the margin, how it was certified and why the search stopped."""
        how = {Status.INTERRUPTED: "interrupted, best so far", Status.TIME_LIMIT: "stopped by the time limit",
               Status.CONSTRUCTION_ONLY: "no search ran; the construction is returned",
               Status.COMPLETED: f"{self.restarts} restart{'s' * (self.restarts != 1)} done"}[self.status]
        return f"m = {self.margin:.12g} (certified >= {self.margin_certified:.12g}); {how}"

    def to_dict(self) -> dict:
        """The vocabulary (:data:`constellations.core.results.VOCABULARY`), then the search's own figures
        and those of ``extra`` (found_by, construction, portfolio, contacts, min_poly, ...)."""
        x = self.extra
        out = {**Result.to_dict(self), "graph": self.config.graph.spec}
        out.pop("extra", None)
        if not self.tied:
            out["tied_margin"] = jsonable(x.get("tied_margin"))
        for key in ("construction_margin", "construction", "search_skipped", "strategy", "found_by", "portfolio",
                    "contacts", "rattlers", "antipodal", "min_poly", "hop_workers"):
            out[key] = jsonable(x.get(key))
        out["min_poly_of"] = "cosine" if self.tied else "margin"
        return out


def check(n, dim, modalities, restarts, time_limit, seed=0):
    for name, v, lo in (("n", n, 2), ("dim", dim, 1), ("modalities", modalities, 2), ("seed", seed, 0)):
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


#: With ``n_jobs="auto"`` and a time limit under this many seconds the search runs in this process:
#: a spawned worker's start (imports, first compiled call) costs 2-4 s on an idle 2-core machine and
#: several times that under load, which a short budget cannot pay back.
AUTO_PARALLEL_SECONDS = 10.0


def jobs(n_jobs, time_limit, batch=1, device="cpu") -> int:
    """The number of worker processes: ``n_jobs`` checked against the machine
    (:func:`constellations.core.workers.resolve_count`: at most the cores available, and memory for each
    worker); "auto" is every core, except 1 for time limits under :data:`AUTO_PARALLEL_SECONDS`,
    batched (``batch`` > 1) or GPU runs, which are one tensor program in this process."""
    count = resolve_count(n_jobs, "n_jobs", WORKER_PROCESS_BYTES)
    auto = n_jobs is None or isinstance(n_jobs, str) and n_jobs.strip().lower() == "auto"
    if auto and ((time_limit is not None and time_limit < AUTO_PARALLEL_SECONDS) or batch != 1
                 or str(device) != "cpu"):
        return 1
    return count


# --------------------------------------------------------------------------- search

def search(n: int, dim: int, modalities: int = 2, graph=None, *, tied: bool = False, restarts: int | None = 8,
           time_limit: float | None = None, seed: int = 0, device: str = "cpu", backend: str = "auto",
           init=None, n_jobs: int | str = 1, callback=None, betas=None, polish_top: int = 12,
           free_init: str = "random", jitter: float = 1e-3, polish_time: float | None = 20.0,
           polish_max_vars: int = 60_000, hops: int | None = None, hop_sigma: float = 0.3,
           batch: int = 1, strategy: str = "auto", constructions: bool = True) -> SearchResult:
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
        Number of restarts (per phase: a free search runs them for the tied problem first, then for
        the free one); None means "until the time limit".
    time_limit : float, optional
        Seconds for the whole run (>= 0), verification included: the search proper ends early
        enough for the final float64 passes (:func:`search.budget.plan`).  Within a phase,
        restarts take RESTART_SHARE = 25% (85% without hopping), hops up to 92%, the polish the rest; a free
        search gives TIED_SHARE of it to the tied phase.
    seed : int
        >= 0.
    device : str
        "cpu", "cuda" or "cuda:K" (then the triton or torch backend runs the kernel there); refused
        when torch sees no such CUDA device.
    backend : {"auto", "numpy", "numba", "torch", "triton"}
        :mod:`objective.backends`.  "auto": on CUDA triton when installed, else torch; on the CPU
        numpy or numba.  "triton" runs on CUDA, or on the CPU under TRITON_INTERPRET=1 (tests).
    init : Configuration or array (M, N, d), optional
        Starting point of the first restart.  The result is never worse than ``init``.
    n_jobs : int or "auto"
        1: in-process, single process.  "auto": every core available to the process (1 under a time
        limit below AUTO_PARALLEL_SECONDS = 10 s, or with ``batch`` > 1 or a GPU device), what the
        CLI's ``--jobs`` defaults to.  More than the cores available is refused.  Worker start-up
        counts against the time limit, and workers that have not answered shortly after a deadline
        are abandoned (killed), so the limit holds.  k > 1: k spawned worker processes (started once per search):
        they run the restarts, and then, with a time limit, k independent basin-hopping runs, from
        the best so far and the next best distinct restarts (:func:`~search.moves.hop_starts`), each
        with its own random stream, portfolio and MBH chain, of which the best is kept
        (``extra["hop_workers"]``: the margin each ended at).  Hopping is a chain of accept-if-better
        steps and does not split; independent runs do: a basin one run reaches with probability p,
        k runs reach with probability 1 - (1 - p)^k.
    callback : callable(done, total, best_margin), optional
    betas : sequence of float, optional
        One beta continuation for every restart (default: :func:`default_schedule`, which cycles
        the starting beta over :data:`START_BETAS`).
    polish_top : int
        At most this many of the best restarts (distinct margins, within twice the smoothing gap
        log(#terms)/(2 beta) of the best) are polished.
    free_init : {"random", "tied"}
        Start of the free phase's restarts after its first (which continues from the tied
        phase's code): independent random rows (default), or each its own tied code, then freed.
    hops : int, optional
        Basin-hopping steps after the restarts (:mod:`search.moves`): kicks (small
        perturbation, direct polish), jumps (perturb by ``hop_sigma`` times a Gaussian, re-anneal
        from beta = HOP_START_BETA with 400 L-BFGS iterations a stage, polish), fresh restarts and,
        when tied, swaps and multiswaps (take points out, refill the deepest holes, re-optimise),
        chosen by the portfolio (:mod:`search.portfolio`: successive halving on margin
        gained per second); a move is kept if better.  Default: as many as ``restarts`` (or, with
        only a time limit, until 92% of it; the restarts then stop at RESTART_SHARE).  Skipped above
        ``polish_max_vars``.
    polish_max_vars : int
        Skip the LP polish when M N d (free) or N d (tied) exceeds this (the LP would be too big).
    batch : int
        B > 1 runs the restarts B at a time as one batched torch program
        (:func:`search.restarts.batched_restarts`; meant for ``device="cuda"``, where one small restart
        leaves the GPU idle).  Starting points are the serial ones; a batch shares the beta
        continuation of its first restart.  Needs a tensor backend -- torch, or triton (float32
        kernel, float64 iterates; what "auto" picks on CUDA when triton is installed) -- and n_jobs = 1.
    polish_time : float, optional
        Seconds allowed to each polish (default 20; HiGHS needs tens of seconds on the highly
        degenerate LPs of big symmetric codes such as E8, where L-BFGS is already within 1e-9).
    strategy : {"auto", "restarts", "kick", "jump", "swap", "multiswap", "fresh", "mbh", "reseat", "antipodal", \
            "energy", "structured"}
        Which basin-hopping moves follow the restarts (:mod:`search.moves`): "auto" the
        portfolio :data:`PORTFOLIO` of all of them (swaps for tied codes only, antipodal restarts for
        tied codes with N even in d >= 4) -- on problems whose LP polish is deferred (:attr:`Problem.lp_deferred`)
        :data:`DEFERRED_PORTFOLIO`, re-seats and antipodal restarts --, "restarts" none
        (hops = 0), or one move alone ("swap", "multiswap" and "antipodal" need ``tied``, "antipodal"
        N even).  Under "auto" (d >= :data:`ANTIPODAL_MIN_DIM`: on S^2 the best codes are not
        antipodal) and "antipodal", one restart of a code with N even in
        :data:`~search.restarts.ANTIPODAL_EVERY`, from number :data:`~search.restarts.ANTIPODAL_FROM`
        on, is antipodal (N/2 rows Y, the code [Y; -Y]); the portfolio takes the antipodal move only
        when a restart is cheap against the hops' time (:data:`~search.moves.ANTIPODAL_COST_SHARE`).  "energy" is "auto" with the
        restarts of codes (the tied phase of a free search too) started by the energy
        continuation (Riesz s-energy, s = 1 to 256;
        :func:`objective.reference.riesz_value_and_grad`).  "structured" is "auto" with the
        first restarts of codes warm-started from classical configurations cut to N points
        (:func:`search.starts.structured_starts`: simplex, cross-polytope, cube, polygon,
        icosahedron, 24-cell, 600-cell, D_d and E8 roots).  ``extra["found_by"]`` names the step
        that found the returned configuration ("restart", "antipodal restart", "polish", a move,
        "tied code" or "construction:<recipe>"); ``extra["antipodal"]`` says whether the returned code
        is antipodal (every row's negative is a row, to 1e-8).
    constructions : bool
        Use the catalogue's best construction for (N, d) as a start and a floor (the module
        docstring); False for searches from random starts only (honest random-start benchmarks).

    Returns
    -------
    SearchResult

    Raises
    ------
    ConfigurationError
        n < 2, dim < 1, modalities < 2, seed < 0, negative time limit, bad restarts/n_jobs/backend/
        device/strategy, an ``init`` of the wrong shape; sizes whose memory estimate exceeds the
        limit, whose verification cannot fit in the time limit, or (without a time limit) whose
        single objective evaluation would take minutes -- all before any work, with the
        estimate and the limit in the message.  Those three size refusals become the
        construction alone (``extra["search_skipped"]`` holds the message) when the catalogue has
        one whose rows certify by their structure.
    """
    t_start = time.time()
    check(n, dim, modalities, restarts, time_limit, seed)
    limit = Deadline.after(time_limit)  # the one deadline of the run; every step's is derived from it
    n, dim, modalities, seed = int(n), int(dim), int(modalities), int(seed)
    G = parse_graph(graph, modalities)
    edges = [tuple(e) for e in G.edges]
    moves, starts = _strategy_moves(strategy, tied, int(n))
    if strategy == "restarts":
        hops = 0
    if free_init not in ("tied", "random"):
        raise ConfigurationError(f"free_init must be 'tied' or 'random', got {free_init!r}")
    n_jobs = jobs(n_jobs, time_limit, batch, device)
    backend, batch = _check_backend(backend, device, n, dim, n_jobs, batch, time_limit)
    if betas is not None:
        betas = tuple(float(b) for b in betas)
        if not betas or min(betas) <= 0:
            raise ConfigurationError("betas must be a non-empty sequence of positive numbers")
    init = _check_init(init, n, dim, modalities)
    floor = lookup(n, dim, modalities) if constructions else None
    try:
        end, pass_seconds = plan(n, dim, modalities, len(edges), tied, time_limit, limit,
                                 reserve_passes=3.0 if floor is None or floor.structural else 4.0)
    except ConfigurationError as refusal:
        if floor is None or not floor.structural:
            raise
        result = _construction_alone(floor, G, modalities, tied, seed, t_start, refusal, backend, str(device))
        result.extra["strategy"] = strategy
        return result
    pb = Problem(n, dim, modalities, tuple(edges), bool(tied), backend, str(device))
    if moves == PORTFOLIO and pb.lp_deferred:
        moves = DEFERRED_PORTFOLIO
    antipodal = strategy == "antipodal" or dim >= ANTIPODAL_MIN_DIM and "antipodal" in moves
    if not antipodal:
        moves = tuple(mv for mv in moves if mv != "antipodal")
    st = Settings(restarts=restarts, betas=betas, free_init=free_init, jitter=float(jitter), n_jobs=int(n_jobs),
                  batch=batch, polish_top=int(polish_top), polish_time=polish_time,
                  polish_max_vars=int(polish_max_vars), hops=hops, hop_sigma=float(hop_sigma), moves=moves,
                  starts=starts, antipodal=antipodal,
                  pass_seconds=pass_seconds)
    progress = Progress(callback, None if restarts is None else restarts * (1 if tied else 2))
    with sigint_sets_flag(), worker_pool(st.n_jobs) as pool:  # one start of the workers for both phases
        codes = [] if init is None else [max(init, key=code_margin)]  # the best modality as the code
        if starts == "structured":
            codes += [C for _, C in structured_starts(n, dim)]
        tied_starts = dict(enumerate(codes))
        if tied:
            ph = run_phase(pb, st, tied_starts, np.random.SeedSequence(seed), t_start, end, progress, floor, pool)
            code_ph = None
        else:
            ph, code_ph = _free_from_tied(pb, st, init, tied_starts, seed, t_start, end, progress, floor, pool)
        result = _finish(pb, st, G, ph, code_ph, seed, t_start, end, floor)
    result.extra["strategy"] = strategy
    return result


def _check_backend(backend, device, n, dim, n_jobs, batch, time_limit):
    """Validated (backend, batch); "auto" resolved."""
    if isinstance(batch, bool) or int(batch) != batch or batch < 1:
        raise ConfigurationError(f"batch must be a positive integer, got {batch!r}")
    batch = int(batch)
    if batch > 1:
        if n_jobs != 1:
            raise ConfigurationError("batch > 1 runs restarts as one tensor program: use it with n_jobs = 1")
        if backend == "auto" and device == "cpu":
            backend = "torch"
        elif backend not in ("auto",) + DEVICE_BACKENDS:
            raise ConfigurationError(f"batch > 1 needs the torch or triton backend, not {backend!r}")
    check_device(device)
    backend = resolve_backend(backend, device, n, dim, time_limit)
    return backend, batch


def _check_init(init, n, dim, modalities):
    """``init`` as a float64 (M, N, d) array of unit rows, or None."""
    if init is None:
        return None
    A = init.X if isinstance(init, Configuration) else as_array(init, normalize=True)
    if A.shape != (modalities, n, dim):
        raise ConfigurationError(f"init has shape {A.shape}, expected (M, N, d) = {(modalities, n, dim)}")
    return np.array(A, dtype=np.float64)


def polish_best(pb, st, ph, end: Deadline):
    """Polish up to ``polish_top`` distinct restarts within twice the smoothing gap of the best.

    With compiled stages (:attr:`Problem.compiled`) the candidates are first sharpened
    (:meth:`Problem.sharpen`, milliseconds each) and only the best of them goes to the LP: an LP
    costs 0.5 s at N = 75, d = 3 and 7 s for a free N = 100, d = 10, where it gained nothing over
    the sharpened restart in our runs."""
    order = sorted(ph.results, key=lambda j: -ph.results[j][1])
    top = ph.results[order[0]][1]
    if not _polishes(pb, st):
        return
    window = 2.0 * smoothing_gap(pb.n, (st.betas or default_schedule(0))[-1], len(pb.edges), pb.tied)
    seen, cands = [], []
    for j in order:
        X, m = ph.results[j]
        if len(seen) >= st.polish_top or (seen and m < top - window) or INTERRUPT.is_set():
            break
        if any(abs(m - s) < SAME_BASIN for s in seen):
            continue
        seen.append(m)
        if pb.compiled:
            X, m, late = pb.sharpen(X, end)
            ph.offer(X, m, "polish")
            if late:
                break
        cands.append((X, m))
    if pb.lp_deferred:
        return  # the phase's best is polished at its end (run_phase)
    if pb.compiled:
        cands = sorted(cands, key=lambda c: -c[1])[:1]
    _lp(pb, st, ph, cands, end, top)


def _polishes(pb, st) -> bool:
    """Does this phase LP-polish at all?  Not with ``polish_top`` 0 (e.g. the free phase after a
    construction won) nor above ``polish_max_vars`` variables."""
    return st.polish_top > 0 and pb.n_vars <= st.polish_max_vars


def _lp(pb, st, ph, cands, end: Deadline, top, source="polish"):
    """LP-polish the candidates (X, m) in turn within ``polish_time`` and ``end``; a gain is
    credited to ``source``."""
    for X, m in cands:
        if not polish_fits(pb, st, end):
            ph.time_limited = True
            break
        pr = polish(X, pb.free_edges, tied=pb.tied, time_limit=end.capped(st.polish_time))
        if ph.offer(pr.X, pr.margin, source):
            ph.polish_gain = pr.margin - top


def run_phase(pb, st, starts, seeds, t0, end: Deadline, progress, floor: Floor | None = None,
              pool=(None, None)) -> Phase:
    """Restarts, the exact polish of the best few, then basin hopping (see the module docstring).

    ``floor`` (a tied phase only) is the catalogue's construction: it is offered as a candidate at
    the end, so that a free phase continues from it when it is the best.  Not before the polish and
    the hops: the LPs around a highly degenerate code (Kerdock, 288 points in R^16: 18,432 contacts)
    ran for minutes past HiGHS's own time limit.

    ``pool`` is the search's :func:`~search.restarts.worker_pool`: with workers, the restarts
    and (under a deadline) the hops run in them; without, in this process.

    ``end`` (a :class:`~constellations.core.deadline.Deadline`) bounds the phase, which starts at ``t0``
    (``time.time()`` seconds): restarts stop at RESTART_SHARE of the time left (85% when there is no
    hopping), hops at 92%, the polish at 100% (:meth:`~constellations.core.deadline.Deadline.share`, taken
    now).  Ctrl-C ends every step early.
    """
    ph, holder = Phase(), {}
    hopping = st.hops != 0 and pb.n_vars <= st.polish_max_vars
    restarts_end, hops_end = end.share(RESTART_SHARE if hopping else 0.85), end.share(0.92)
    try:
        run_restarts(pb, st, ph, starts, seeds, restarts_end, progress, holder, pool)
    except KeyboardInterrupt:  # raised by a callback, or outside the main thread
        INTERRUPT.set()
    salvage(pb, ph, starts, seeds, holder)
    best = max(ph.results, key=lambda j: ph.results[j][1])
    ph.offer(*ph.results[best], "antipodal restart" if restart_kind(pb, st, best) == "antipodal" else "restart")
    ph.seconds = time.time() - t0
    try:
        if not INTERRUPT.is_set():
            polish_best(pb, st, ph, end)
        if hopping and not INTERRUPT.is_set():
            _hop(pb, st, ph, seeds, t0, hops_end, progress, pool)
    except KeyboardInterrupt:
        INTERRUPT.set()
    if pb.lp_deferred and not INTERRUPT.is_set() and _polishes(pb, st):
        _lp(pb, st, ph, [(ph.best_X, ph.best_m)], end, ph.best_m, ph.found_by)
    if pb.tied and not INTERRUPT.is_set():
        _newton(pb, ph, end)
    if floor is not None and pb.tied:  # a structural floor's margin is known exactly: no pass
        ph.offer(floor.code, floor.margin if floor.structural else pb.margin(floor.code), "construction")
    if restarts_end.passed():
        ph.time_limited = True
    ph.seconds = time.time() - t0
    return ph


def _hop(pb, st, ph, seeds, t0, deadline: Deadline, progress, pool):
    """Basin hopping until ``deadline``: in every worker of ``pool`` at once
    (:func:`~search.moves.basin_hop_parallel`) when the phase has workers and a time limit,
    else in this process (a count of hops without a time limit stays one sequence, as reproducible
    as the restarts)."""
    if pool[0] is not None and deadline.at is not None:
        basin_hop_parallel(pb, st, ph, seeds, t0, deadline, progress, pool)
    else:
        basin_hop(pb, st, ph, seeds, t0, deadline, progress)


def _newton(pb, ph, end: Deadline):
    """The active-set Newton/KKT polish of the best code (:mod:`search.newton`): contacts
    equal to ~1e-15, kept only if the float64 margin does not drop; its figures go to ``extra``.
    Only up to NEWTON_MAX_VARS variables N (d + 1): each dense step costs O((N d + K)^3)."""
    if pb.n * (pb.dim + 1) > NEWTON_MAX_VARS:
        return
    r = newton_polish(ph.best_X, deadline=end)
    if r.improved and r.margin >= ph.best_m:
        ph.best_X, ph.best_m = r.X, r.margin
    ph.moves["newton"] = dict(improved=bool(r.improved), residual=float(r.residual), iterations=r.iterations,
                              reason=r.reason)


def _free_from_tied(pb, st, init, tied_starts, seed, t_start, end, progress, floor=None, pool=(None, None)):
    """A free search: first the tied problem (TIED_SHARE of the time; with a restart count, exactly
    the run ``tied=True`` would do), then the free problem started from that code (jittered, so that
    the modalities can separate) and from ``init``.  The code itself stays a candidate, so the
    free result is never below the tied one.  Returns (free phase, tied phase)."""
    code_ph = run_phase(pb.as_tied(), st, tied_starts, np.random.SeedSequence(seed), t_start, end.share(TIED_SHARE),
                        progress, floor, pool)
    M, n, dim = pb.M, pb.n, pb.dim
    code = np.broadcast_to(code_ph.best_X, (M, n, dim))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1 << 30,)))
    # the code's continuation comes second (first with a single restart): the free optimum often lies
    # in another basin (N = 100, d = 10: 0.3340 from random rows, 0.3306 from the tied code)
    starts = {} if init is None else {0: init}
    first = 0 if (init is None and st.restarts == 1) else 1
    starts[first] = normalize(code + st.jitter * rng.standard_normal(code.shape))
    code_m = _copies_margin(code_ph.best_X, code_ph.best_m)
    if INTERRUPT.is_set() or end.passed(within=st.pass_seconds):
        ph = Phase()
        ph.results[0] = (code.copy(), code_m)
        ph.offer(*ph.results[0], "tied code")
        return ph, code_ph
    if code_ph.found_by == "construction":  # its neighbourhood's LPs overrun their limits (run_phase)
        st = replace(st, polish_top=0, hops=0)
    ph = run_phase(pb, st, starts, np.random.SeedSequence(seed, spawn_key=(1 << 31,)), time.time(), end, progress,
                   pool=pool)
    ph.offer(code.copy(), code_m, "tied code")
    return ph, code_ph


def _copies_margin(C, code_m) -> float:
    """Free margin of M copies of the code C from its code margin, without a pass over the pairs:
    every edge has neg = max_{i != j} <c_i, c_j> = 1 - 2 m_code, and pos = min_i |c_i|^2."""
    return float(code_m + 0.5 * (np.einsum("nd,nd->n", C, C).min() - 1.0))


#: Share of a phase's time for the restarts when basin hopping follows: the portfolio's "fresh"
#: arm goes on restarting when that pays, while monotonic basin hopping ("mbh") needs the time
#: (Tammes N = 75 in d = 3: 30-40 s of MBH from a 10-restart best reach the record).
RESTART_SHARE = 0.25


#: Strategies of :func:`search`: the moves each one lets the basin hopping use, and how the
#: restarts of codes start (random rows, or the energy continuation).
PORTFOLIO = ("kick", "swap", "jump", "multiswap", "fresh", "mbh", "antipodal")
#: The portfolio of "auto", "energy" and "structured" on problems whose LP polish is deferred
#: (:attr:`~search.problem.Problem.lp_deferred`): re-seats, and antipodal restarts (codes with N
#: even: the E7 and E8 roots, 882 and 1920 variables, are reached that way).  There the codes are
#: glassy: :func:`~search.moves.mbh`'s sharp steps stall, and with the whole portfolio the
#: re-seats got a quarter of the time and the code ended at 0.3335 (N = 100, d = 10, tied, 51 s,
#: seed 0), where re-seats alone reach 0.3345.  The d <= 8, N <= 100 record sweeps (an LP per
#: candidate) keep PORTFOLIO.
DEFERRED_PORTFOLIO = ("reseat", "antipodal")
#: The portfolios' antipodal restarts (and the restarts' one in four) start at this dimension: on S^2
#: the best known codes are not antipodal beyond N = 12 (of Lai et al.'s 2023 codes for N = 6..200,
#: only N = 6 and 12 are: data/reference/tammes_lai2023.csv cites them), so there they would only
#: take time from the Tammes search.  ``strategy="antipodal"`` uses them in any dimension.
ANTIPODAL_MIN_DIM = 4
STRATEGIES = {"auto": (PORTFOLIO, "random"), "restarts": ((), "random"),
              "kick": (("kick",), "random"), "jump": (("jump",), "random"), "swap": (("swap",), "random"),
              "multiswap": (("multiswap",), "random"), "fresh": (("fresh",), "random"),
              "mbh": (("mbh",), "random"), "reseat": (("reseat",), "random"),
              "antipodal": (("antipodal",), "random"),
              "energy": (PORTFOLIO, "energy"), "structured": (PORTFOLIO, "structured")}


def _strategy_moves(strategy, tied, n) -> tuple:
    """(moves, starts) of a strategy name."""
    if strategy not in STRATEGIES:
        raise ConfigurationError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if strategy in TIED_ONLY and not tied:
        raise ConfigurationError(f"strategy {strategy!r} moves points of one code: use it with tied")
    if strategy == "antipodal" and n % 2:
        raise ConfigurationError(f"strategy 'antipodal' pairs every point with its negative: N must be even, got {n}")
    return STRATEGIES[strategy]


def _structure(pb, st, X, end: Deadline):
    """Contacts, rattlers and min poly of the result, when cheap enough: two more passes over all
    pairs, so only for problems the polish handles and never more than 1 s past a time limit's end."""
    if pb.n_vars > st.polish_max_vars or end.passed(within=2 * st.pass_seconds - 1.0):
        return None
    return structure(X, pb.free_edges)


def _finish(pb, st, G, ph, code_ph, seed, t_start, end, floor=None) -> SearchResult:
    """Verify the best configuration in float64 and bound its margin rigorously; the construction
    (``floor``) is returned instead unless the search beats it (:func:`keeps_search`).

    Tied results are M copies of one code: every edge has the same inner products, so the code is
    verified and certified once, as a 2-modality configuration."""
    M, tied = pb.M, pb.tied
    certs = []

    def certify():
        certs.append(certified_margin(tied_config(ph.best_X, 2) if tied else Configuration.from_array(ph.best_X, G)))
        return certs[-1].margin_certified

    extra = dict(ph.moves, found_by=ph.found_by, strategy_moves=list(st.moves))
    meta = dict(method="search", n=pb.n, dim=pb.dim, modalities=M, tied=tied, seed=seed, backend=pb.backend)
    if floor is not None:
        floor = floor.verified()
        extra.update(construction=floor.summary(), construction_margin=floor.margin)
    if floor is not None and not keeps_search(floor, ph.best_m, certify):
        X = floor.code if tied else np.broadcast_to(floor.code, pb.shape)
        margin, b_rel, cert_m, how = floor.margin, floor.b_rel, floor.margin_certified, floor.certified_by
        extra["found_by"] = f"construction:{floor.recipe}"
        config = _tied_rows(floor.code, M, G, meta)
    else:
        X = ph.best_X
        if not certs:
            certify()
        cert = certs[-1]
        margin, b_rel, cert_m, how = cert.margin, cert.b_rel, cert.margin_certified, SearchResult.certified_by
        config = tied_config(X, M, G, meta) if tied else Configuration.from_array(X, G, meta)
    s = _structure(pb, st, X, end)
    if s is not None:
        extra.update(contacts=s.contacts, rattlers=s.rattlers, extreme_value=s.value, min_poly=s.min_poly)
        if s.antipodal is not None:
            extra["antipodal"] = s.antipodal
    if code_ph is not None:
        extra.update(tied_margin=float(code_ph.best_m), tied_restarts=len(code_ph.results),
                     tied_seconds=float(code_ph.seconds))
    interrupted = INTERRUPT.is_set()
    time_limited = (ph.time_limited or end.passed()) and not interrupted
    return SearchResult(config=config, margin=float(margin), b_rel=float(b_rel), margin_certified=float(cert_m),
                        seconds=time.time() - t_start, restarts=len(ph.results), seed=seed, interrupted=interrupted,
                        restart_margins=ph.restart_margins(), polish_gain=float(max(ph.polish_gain, 0.0)),
                        backend=pb.backend, device=pb.device, tied=tied, time_limited=time_limited,
                        certified_by=how, extra=extra)


def _construction_alone(floor, G, modalities, tied, seed, t_start, refusal, backend, device) -> SearchResult:
    """The construction certified by its structure, returned without a search: the search proper was
    refused (``refusal``: memory, or a verification that cannot fit the time limit), the
    construction costs O(N d)."""
    n, dim = floor.code.shape
    config = _tied_rows(floor.code, modalities, G, dict(method="search", n=n, dim=dim, modalities=modalities,
                                                         tied=tied, seed=seed, backend=backend))
    extra = dict(found_by=f"construction:{floor.recipe}", construction=floor.summary(),
                 construction_margin=floor.margin, search_skipped=str(refusal), strategy_moves=[],
                 hops=0, hops_improved=0, hop_gain=0.0, kicks=0, swaps=0)
    return SearchResult(config=config, margin=floor.margin, b_rel=floor.b_rel, margin_certified=floor.margin_certified,
                        seconds=time.time() - t_start, restarts=0, seed=seed, interrupted=False,
                        backend=backend, device=device, tied=tied,
                        time_limited=getattr(refusal, "reason", "") == "time", certified_by=floor.certified_by,
                        extra=extra)


def _tied_rows(code, modalities, G, meta) -> Configuration:
    """M copies of a code as a Configuration, validated once (its constructor checks and copies the
    rows; ``configuration.tied`` would do it twice: seconds at N = 32,768, d = 768)."""
    return Configuration(np.broadcast_to(code, (modalities,) + code.shape), G, meta)

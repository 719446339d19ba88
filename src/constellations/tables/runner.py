"""Running the cells of a margin table: in-process, on a local Dask cluster, or on a remote one.

Execution
---------
- ``workers=1`` (and no scheduler): every cell runs in this process, one after the other,
  with no Dask import at all (for debugging and profiling).
- default: a local ``dask.distributed`` cluster with one single-threaded worker *process*
  per core available (or ``workers``; never more than :func:`plan_workers` allows).
- ``scheduler="tcp://host:port"``: the same tasks on an existing Dask cluster.

In every mode the workers only compute: each returns a :class:`~tables.store.CellResult`
(plain numbers and the configuration as ``.npz`` bytes) to the client, and only the client
writes the store, one transaction per finished cell, as soon as the cell finishes.  Interrupting
a run (Ctrl-C, SIGTERM, SIGKILL) therefore loses at most the cells in flight; re-running fills
in only the missing cells (:meth:`TableStore.pending`).

Ctrl-C and SIGTERM
------------------
Both stop signals (:data:`constellations.core.interrupts.STOP_SIGNALS`) are handled the same way.
The local cluster's worker processes ignore them (:mod:`~tables.worker_setup`), so a
Ctrl-C, which a terminal sends to every process of the group (or a SIGTERM sent to the group by
a batch scheduler), reaches only the client: it stops waiting, cancels the queued and running
cells and closes the cluster (ignoring further stop signals while it does, within bounded
timeouts), and :func:`run_table` returns with ``interrupted=True``.  A stop signal that arrives
while a finished cell is being committed is held until the commit is done.  In-process, a search
stopped by a stop signal returns its best configuration so far; :func:`search_cell` passes the
interrupt on as :class:`CellInterrupted` carrying it, and the store keeps it (if better) without
counting the cell as done.

Workers
-------
A local cluster has at most one worker per core available to this process, and no more than the
memory holds (:func:`plan_workers`, the rule of :mod:`constellations.core.workers`); a larger count is
refused with :class:`RunnerError` before anything starts.  Its workers never outlive
this process: each watches it (:func:`constellations.core.interrupts.die_with_parent`, installed by the
worker preload) and exits when it is gone, SIGKILL included.

Cell functions
--------------
A cell function maps a :class:`~tables.grid.Cell` to a ``CellResult``.  Three are built in:

- :func:`search_cell` (``"search"``): ``search.search`` on the cell, re-verified here in
  float64 with :func:`constellations.core.certify.certified_margin`, plus the certified ceiling
  :func:`bounds.margin_upper_free` (:func:`ceilings` gives both the free and the tied one).
- :func:`search_no_polish_cell` (``"search-no-polish"``): the same without the final LP polish,
  which keeps large cells within their time limit.
- :func:`construction_cell` (``"construction"``): a fast, honest baseline: the best *tied*
  code available from :mod:`constellations.codes.constructions` (simplex, cross-polytope, polygon,
  the classic polytopes and lattices, or the best of ``restarts`` random codes), used for every
  modality.  A tied code with max inner product c is a constellation with m = (1 - c)/2 on any
  graph, so this is a valid lower bound for every cell.

``"module:function"`` names any other importable cell function.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import logging
import math
import os
import time
import uuid
from dataclasses import dataclass
from multiprocessing import resource_tracker
from typing import Callable

import numpy as np

import constellations.search
from constellations import __version__
from constellations.bounds import margin_upper_free, margin_upper_tied, midpoint_code
from constellations.codes import constructions
from constellations.core import interrupts
from constellations.core.certify import certified_margin
from constellations.core.configuration import as_array
from constellations.core.errors import ConfigurationError, ConstellationsError
from constellations.core.graphs import parse_graph
from constellations.core.margins import margin as config_margin
from constellations.core.results import Result, Status
from constellations.core.workers import WORKER_PROCESS_BYTES, available_cores, resolve_count
from constellations.objective.backends import check_device

from constellations.tables.grid import Cell
from constellations.tables.store import CellResult, TableStore, blob_to_arrays, config_to_blob
from constellations.tables.worker_setup import PARENT_ENV

__all__ = ["run_table", "RunSummary", "TableProgress", "RunnerError", "CellInterrupted", "search_cell",
           "search_no_polish_cell",
           "construction_cell", "finish_cell", "resolve_cell_function", "warm_start", "solver_version",
           "CELL_FUNCTIONS", "default_workers", "plan_workers", "midpoint_pass", "handdown_pass", "Ceilings",
           "ceilings"]


class RunnerError(ConstellationsError, ValueError):
    """Bad execution parameters (workers, scheduler address, unknown cell function)."""


class CellInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a cell's search, which still returned its best configuration so far.

    ``result`` is that configuration, re-verified, with the effort asked for set to zero
    (``restarts_requested=0``, ``time_requested=0.0``): the store keeps it if it is the best
    known, and a re-run still computes the cell in full.
    """

    def __init__(self, result: CellResult):
        super().__init__(f"{result.key}: interrupted")
        self.result = result


def solver_version() -> str:
    return f"constellations {__version__}"


def default_workers() -> int:
    """One worker per core available to this process (:func:`constellations.core.workers.available_cores`)."""
    return available_cores()


def _cell_bytes(cells) -> int:
    """The largest cell's configuration and two working copies (as ``make_grid`` checks them)."""
    return max((8 * c.n * c.dim * (c.modalities + 2) for c in cells), default=0)


def plan_workers(workers, cells=()) -> int:
    """The number of local workers for ``cells``: ``workers``, or every core available when it is
    None or ``"auto"``.

    The machine's rule for every command (:func:`constellations.core.workers.resolve_count`): at most the
    cores available to this process (more would only share them, each cell getting a fraction of its
    time budget), and memory for each worker process (:data:`~constellations.core.workers.WORKER_PROCESS_BYTES`
    plus the grid's largest cell).

    Raises
    ------
    RunnerError
        Not a positive integer or "auto", or more workers than the machine runs at once.
    """
    try:
        return resolve_count(workers, "--workers", WORKER_PROCESS_BYTES + _cell_bytes(cells))
    except ConstellationsError as exc:
        raise RunnerError(str(exc)) from None


# ---------------------------------------------------------------------------------------- bounds

@dataclass(frozen=True)
class Ceilings(Result):
    """The two certified ceilings of an (N, d) cell (issue 13).

    In the result vocabulary: ceilings bound the margin from above, so ``margin``,
    ``margin_certified`` and ``config`` are None; ``n`` and ``dim`` are the cell's sizes.

    Attributes
    ----------
    free, free_method, free_certificate
        :func:`bounds.margin_upper_free`: every constellation (any M, graph, b_rel); the smallest
        of Theorem 3.4, the sandwich of docs/math.md 5.2 and the shell bounds.
    tied, tied_method, tied_certificate
        :func:`bounds.margin_upper_tied`: tied constellations (spherical codes), bounded in R^d
        itself; ``tied_exact`` is True where it is the proved optimum (d = 2, Rankin, Levenshtein-sharp).
    sandwich, sandwich_method
        The sandwich alone (the single ceiling used before issue 13), for comparison.
    free_bound, tied_bound
        The two ceilings as :class:`bounds.Bound` objects, whose details say where a theorem
        proves the optimum (read by :func:`bounds.optimality.optimality`: "proved optimal"
        comes from that theorem, never from a tolerance).
    """

    free: float
    free_method: str
    free_certificate: dict | None
    tied: float
    tied_method: str
    tied_certificate: dict | None
    tied_exact: bool
    sandwich: float | None
    sandwich_method: str | None
    free_bound: object = None
    tied_bound: object = None
    n: int | None = None
    dim: int | None = None
    seconds: float | None = None
    config = margin = margin_certified = modalities = None  # upper bounds on any M (see the docstring)

    @property
    def status(self) -> Status:
        return Status.COMPLETED

    @property
    def message(self) -> str:
        return f"m*({self.n}, {self.dim}) <= {self.free!r} (free), <= {self.tied!r} (tied)"


@functools.lru_cache(maxsize=4096)
def ceilings(n: int, dim: int) -> Ceilings:
    """Both certified ceilings of an (N, d) cell, computed now (cached; a cold cell with N <= 128,
    d <= 12 takes a median 0.05 s, the whole shipped 55-cell grid ~7 s on one core)."""
    t0 = time.perf_counter()
    f = margin_upper_free(n, dim)
    try:
        t = margin_upper_tied(n, dim)
    except ConfigurationError:  # above its size limit: a code is a constellation, so the free ceiling holds
        t = f.__class__(f.value, f"free ({f.method})", f.certificate, {"optimal": False})
    return Ceilings(float(f.value), f.method, f.certificate, float(t.value), t.method, t.certificate,
                    bool(t.details.get("optimal")), f.details.get("sandwich"), f.details.get("sandwich_method"),
                    f, t, n, dim, time.perf_counter() - t0)


# -------------------------------------------------------------------------------- cell functions

def finish_cell(cell: Cell, X, *, solver: str, restarts: int, seconds: float, meta: dict | None = None) -> CellResult:
    """Re-verify a found configuration ``X`` (M, N, d) in float64, attach the ceiling, build the result.

    The margin, b_rel and certified margin are computed here from ``X`` on the cell's graph;
    nothing reported by the solver is trusted.  The ceiling is :func:`bounds.margin_upper_free` of
    the cell's (N, d) (Theorem 3.4, the sandwich and the shell bounds; any M, graph and b_rel).
    """
    X = as_array(X, normalize=True)
    if X.shape[1:] != (cell.n, cell.dim) or X.shape[0] != cell.modalities:
        raise ValueError(f"{cell.label}: the solver returned shape {X.shape}, expected "
                         f"{(cell.modalities, cell.n, cell.dim)}")
    graph = parse_graph(cell.graph, cell.modalities)
    cert = certified_margin(X, graph)
    upper = margin_upper_free(cell.n, cell.dim)
    info = {"cell": list(cell.key), "solver": solver, "seed": cell.seed, "margin": cert.margin,
            "b_rel": cert.b_rel, "margin_certified": cert.margin_certified, **(meta or {})}
    return CellResult.for_cell(
        cell, margin=float(cert.margin), b_rel=float(cert.b_rel), margin_certified=float(cert.margin_certified),
        margin_upper=float(upper.value), upper_method=upper.method, restarts=int(restarts), seconds=float(seconds), seed=int(cell.seed),
        solver=solver, solver_version=solver_version(), config=config_to_blob(X, graph.spec, info))


def search_cell(cell: Cell, init=None, init_source: str | None = None, device: str = "cpu",
                **search_options) -> CellResult:
    """Run ``search.search`` on one cell (time limit ``cell.time_limit``, seed ``cell.seed``).

    ``init`` (an (M, N, d) array, from a warm start) is passed to the search as the start of its
    first restart; the search never returns anything worse than it.  ``device`` ("cpu", "cuda",
    "cuda:K") is the search's; the result is re-verified in float64 on the CPU either way.

    The cell's time limit counts from this call: whatever is spent before the search starts is
    taken out of the search's own limit (:func:`_search_budget`).
    """
    t0 = time.perf_counter()
    solver = "search" if not search_options else "search-no-polish"
    res = constellations.search.search(cell.n, cell.dim, cell.modalities, None if cell.tied else cell.graph, tied=cell.tied,
                 restarts=cell.restarts, time_limit=_search_budget(cell.time_limit, time.perf_counter() - t0),
                 seed=cell.seed, init=init, device=device, **search_options)
    seconds = time.perf_counter() - t0
    X = np.asarray(res.config.X)
    if cell.tied and X.shape[0] != cell.modalities:  # a search may return a single code per modality count
        X = np.broadcast_to(X[0], (cell.modalities,) + X.shape[1:])
    interrupted = bool(getattr(res, "interrupted", False))
    result = finish_cell(cell, X, solver=solver, restarts=getattr(res, "restarts", cell.restarts), seconds=seconds,
                         meta={"interrupted": interrupted, "warm_start": init_source, "device": str(device)})
    if interrupted:
        # the search turns Ctrl-C into an early return: pass the interrupt on, with the best so far
        raise CellInterrupted(dataclasses.replace(result, restarts_requested=0, time_requested=0.0))
    return result


#: The least time a search is given when its cell's start-up used up the time limit (seconds).
MIN_SEARCH_SECONDS = 0.05


def _search_budget(time_limit, spent: float):
    """What is left of a cell's ``time_limit`` after ``spent`` seconds of start-up (None: no limit),
    at least :data:`MIN_SEARCH_SECONDS` so that the search still returns a configuration."""
    if time_limit is None:
        return None
    return max(float(time_limit) - spent, min(float(time_limit), MIN_SEARCH_SECONDS))


def search_no_polish_cell(cell: Cell, init=None, init_source: str | None = None, device: str = "cpu") -> CellResult:
    """:func:`search_cell` without the final exact polish (``polish_top=0``).

    The polish (a sequential LP) can overrun the time limit by minutes on large free cells
    (e.g. N=128, d=12, M=4); without it every cell keeps to about its ``time_limit``.
    """
    return search_cell(cell, init, init_source, device=device, polish_top=0)


def _construction_candidates(n: int, dim: int):
    C = constructions
    if n <= dim + 1:
        yield "simplex", C.simplex_code(n, dim)
    if n <= 2 * dim:
        yield "cross-polytope", C.cross_polytope_code(n, dim)
    if dim >= 2:
        yield "polygon", C.polygon_code(n, dim)
    fixed = (("icosahedron", C.icosahedron_code), ("24-cell", C.cell24_code), ("clebsch", C.clebsch_code),
             ("schlafli", C.schlafli_code), ("gosset", C.gosset_code), ("600-cell", C.cell600_code),
             ("e8", C.e8_code))
    for name, build in fixed:
        P = build()
        if P.shape[1] <= dim and P.shape[0] >= n:  # a subset of a code is a code (c can only drop)
            yield name, np.hstack([P[:n], np.zeros((n, dim - P.shape[1]))])


def construction_cell(cell: Cell, init=None, init_source: str | None = None, device: str = "cpu") -> CellResult:
    """The best tied construction for the cell (see the module docstring); fast and deterministic.

    ``device`` is accepted for a uniform signature and unused (the constructions are built on the CPU).

    With a warm start ``init`` whose margin is larger, ``init`` itself is returned (re-verified).
    """
    t0 = time.perf_counter()
    best_name, best, best_c = None, None, math.inf
    for name, P in _construction_candidates(cell.n, cell.dim):
        c = constructions.code_max_inner_product(P)
        if c < best_c:
            best_name, best, best_c = name, P, c
    rng_seed = np.random.SeedSequence(cell.seed)
    for r, child in enumerate(rng_seed.spawn(cell.restarts)):
        P = constructions.random_code(cell.n, cell.dim, seed=int(child.generate_state(1)[0]))
        c = constructions.code_max_inner_product(P)
        if c < best_c:
            best_name, best, best_c = f"random #{r}", P, c
        if cell.time_limit is not None and time.perf_counter() - t0 > cell.time_limit:
            break
    X = np.broadcast_to(best, (cell.modalities,) + best.shape)
    if init is not None:
        if config_margin(init, cell.graph) > config_margin(X, cell.graph):
            X, best_name = np.asarray(init), f"warm start ({init_source})"
    return finish_cell(cell, X, solver="construction", restarts=cell.restarts, seconds=time.perf_counter() - t0,
                       meta={"construction": best_name, "warm_start": init_source})


CELL_FUNCTIONS: dict[str, Callable[[Cell], CellResult]] = {
    "search": search_cell, "search-no-polish": search_no_polish_cell, "construction": construction_cell}


def resolve_cell_function(spec) -> Callable[[Cell], CellResult]:
    """``"search"``, ``"construction"``, ``"package.module:function"`` or a callable."""
    if callable(spec):
        return spec
    if spec in CELL_FUNCTIONS:
        return CELL_FUNCTIONS[spec]
    if isinstance(spec, str) and ":" in spec:
        mod, _, name = spec.partition(":")
        try:
            fn = getattr(importlib.import_module(mod), name)
        except (ImportError, AttributeError) as exc:
            raise RunnerError(f"cannot load cell function {spec!r}: {exc}") from None
        if not callable(fn):
            raise RunnerError(f"{spec!r} is not callable")
        return fn
    raise RunnerError(f"unknown solver {spec!r}; use {', '.join(CELL_FUNCTIONS)} or module:function")


def check_table_device(device) -> str:
    """``device`` for the cells' searches: "cpu", or "cuda"/"cuda:K" that torch can see.

    Raises
    ------
    RunnerError
        An unknown device, or CUDA asked for where torch sees no such GPU (one line, before any work).
    """
    try:
        check_device(device)
    except ConstellationsError as exc:
        raise RunnerError(str(exc)) from None
    return str(device)


# ----------------------------------------------------------------------------- midpoint codes

def midpoint_pass(store: TableStore, cells) -> int:
    """Improve the tied cells of ``cells`` with the midpoint codes of their stored free cells.

    For each tied cell, the best stored untied cell of the same (N, d) (any M, any graph) gives the
    code Y_i = Z_i/|Z_i|, Z_i = (U_i + V_i)/2 of its best edge
    (:func:`bounds.shell.midpoint_code`; by the shell theorem its margin is at least the
    constellation's above m_reg(N)).  It is a construction from a configuration in the store, not a
    stored number: the code is re-verified by :func:`finish_cell` like any search result, recorded
    only if its margin is strictly larger than the stored tied one (solver ``"midpoint"``, the source
    cell in its ``meta``), and with no effort counted, so a later run still searches the cell.
    Returns the number of tied cells improved.
    """
    improved = 0
    for cell in cells:
        if not cell.tied:
            continue
        free = store.cells(n=[cell.n], dims=[cell.dim], tied=False)
        if not free:
            continue
        src = max(free, key=lambda r: r.margin)
        t0 = time.perf_counter()
        cfg = store.configuration(src.key)
        try:
            mc = midpoint_code(cfg.X, cfg.graph)
        except ConstellationsError:  # a zero midpoint (U_i = -V_i): no code from this cell
            continue
        own = store.get(cell.key)
        if own is not None and not mc.margin_certified > own.margin:
            continue
        X = np.broadcast_to(mc.points, (cell.modalities,) + mc.points.shape)
        res = finish_cell(cell, X, solver="midpoint", restarts=0, seconds=time.perf_counter() - t0,
                          meta={"construction": "midpoint code", "midpoint_of": list(src.key), "edge": list(mc.edge),
                                "source_margin": src.margin})
        if own is None or res.margin > own.margin:
            store.record(dataclasses.replace(res, restarts_requested=0, time_requested=0.0))
            improved += 1
    return improved


def handdown_pass(store: TableStore, cells) -> int:
    """Raise each free cell of ``cells`` to the best configuration handed down to it, so that a
    table is ordered: m(M) >= m(M') for M < M' (complete graphs) and m(free) >= m(tied).

    The candidates are those of :func:`warm_start` (the tied code of the same (N, d) copied to every
    modality, the first M modalities of a stored cell with more), each a valid configuration for
    the cell whose margin there is at least its source's.  Cells are visited from the most
    modalities down, so that a tied code can reach M = 2 through M = 3.  Like
    :func:`midpoint_pass` it builds from configurations in the store, never a stored number: the
    candidate is re-verified by :func:`finish_cell`, recorded only if strictly better (solver
    ``"handed down"``, the source in its ``meta``), with no effort counted.  Returns the number of
    cells improved.
    """
    improved = 0
    for cell in sorted((c for c in cells if not c.tied), key=lambda c: -c.modalities):
        t0 = time.perf_counter()
        X, source = warm_start(store, cell)
        if X is None or source.startswith("stored"):
            continue
        own = store.get(cell.key)
        res = finish_cell(cell, X, solver="handed down", restarts=0, seconds=time.perf_counter() - t0,
                          meta={"construction": "handed down", "handed_down_from": source})
        if own is None or res.margin > own.margin:
            store.record(dataclasses.replace(res, restarts_requested=0, time_requested=0.0))
            improved += 1
    return improved


# --------------------------------------------------------------------------------- warm starts

def warm_start(store: TableStore, cell: Cell):
    """The best stored configuration that is a valid start for ``cell``: ``(X, source)`` or ``(None, None)``.

    Candidates, each a configuration of the cell's shape whose margin on the cell's graph is at least
    the stored margin of its source:

    - the cell's own stored configuration;
    - (untied cells) the tied cell of the same (N, d), copied to every modality: a code with max
      inner product c is a constellation with m = (1 - c)/2 on any graph;
    - (untied cells) a stored complete-graph cell of the same (N, d) with M' > M modalities,
      restricted to its first M: every edge of the cell's graph is an edge of the complete graph
      on M' modalities, so pos can only grow and neg only shrink.

    This is how a table stays consistent (more modalities never look easier than fewer); the search
    receives the start as ``init`` and never returns anything worse.
    """
    best = None  # (margin, key, transform)
    own = store.get(cell.key)
    if own is not None:
        best = (own.margin, cell.key, "own")
    if not cell.tied:
        tied = store.get((cell.n, cell.dim, 2, "complete", True))
        if tied is not None and (best is None or tied.margin > best[0]):
            best = (tied.margin, tied.key, "tied")
        for r in store.cells(n=[cell.n], dims=[cell.dim], graph="complete", tied=False):
            if r.modalities > cell.modalities and (best is None or r.margin > best[0]):
                best = (r.margin, r.key, f"M={r.modalities}")
    if best is None:
        return None, None
    X = np.asarray(blob_to_arrays(store.config_blob(best[1]))["X"], dtype=np.float64)
    if best[2] == "tied":
        X = np.broadcast_to(X[0], (cell.modalities,) + X.shape[1:]).copy()
    elif best[2].startswith("M="):
        X = np.ascontiguousarray(X[:cell.modalities])
    source = best[2] if best[2] != "own" else "stored"
    return X, f"{source} (m={best[0]:.6g})"


# ------------------------------------------------------------------------------------- running

@dataclass(frozen=True)
class TableProgress:
    """A progress report, sent after each finished (or failed) cell and once at the start.

    ``done + running + left == total`` (``done`` counts skipped cells); ``status`` is ``"start"``,
    ``"running"`` (in-process: ``cell`` starts), ``"new"``, ``"improved"``, ``"kept"`` or ``"failed"``; ``result`` is the finished cell's result (None at the start or
    on failure).
    """

    total: int
    done: int
    running: int
    left: int
    skipped: int
    status: str
    cell: Cell | None = None
    result: CellResult | None = None
    error: str | None = None


@dataclass(frozen=True)
class RunSummary:
    """What a run did.

    Attributes
    ----------
    cells : int
        Cells asked for.
    skipped : int
        Cells already in the store with enough effort (not recomputed).
    new, improved, kept : int
        Computed cells that were missing / beat the stored margin / did not.
    failed : tuple of (label, message)
        Cells whose cell function raised; the store is untouched for them.
    interrupted : bool
        The run was stopped (KeyboardInterrupt) before every cell finished.
    partial : int
        Cells whose interrupted search still returned a configuration: stored if better than
        the stored one, but recorded with no effort, so a re-run computes them in full.
    seconds : float
        Wall time of the run.
    workers : int
        Worker processes used (1 in-process; the scheduler's count on a remote cluster).
    mode : str
        ``"in-process"``, ``"local-dask"`` or ``"scheduler"``.
    midpoint : int
        Tied cells improved afterwards by the midpoint code of a stored free cell (:func:`midpoint_pass`).
    handed_down : int
        Free cells raised afterwards to a configuration handed down from the tied cell or a cell
        with more modalities (:func:`handdown_pass`).
    """

    cells: int
    skipped: int
    new: int
    improved: int
    kept: int
    failed: tuple = ()
    interrupted: bool = False
    partial: int = 0
    seconds: float = 0.0
    workers: int = 1
    mode: str = "in-process"
    midpoint: int = 0
    handed_down: int = 0

    @property
    def computed(self) -> int:
        return self.new + self.improved + self.kept


def _cost(cell: Cell) -> float:
    """A rough relative cost, to start the slowest cells first (longest-processing-time order)."""
    edges = cell.modalities * (cell.modalities - 1) // 2 if not cell.tied else 1
    return (cell.time_limit or 1.0) * 1e9 + cell.n * cell.n * cell.dim * edges


class _Tally:
    def __init__(self, total, skipped, progress):
        self.total, self.skipped, self.progress = total, skipped, progress
        self.counts = {"new": 0, "improved": 0, "kept": 0}
        self.partial = 0
        self.failed = []
        self.done = 0

    def emit(self, status, running, cell=None, result=None, error=None):
        if self.progress is not None:
            left = self.total - self.done - running
            self.progress(TableProgress(self.total, self.done, running, left, self.skipped, status, cell, result, error))

    def finished(self, store, cell, result, running):
        if getattr(result, "key", None) != cell.key:
            self.failure(cell, ValueError(f"the cell function returned key {getattr(result, 'key', None)} "
                                          f"for cell {cell.key}"), running)
            return
        status = store.record(result)
        self.counts[status] += 1
        self.done += 1
        self.emit(status, running, cell, result)

    def interrupted(self, store, exc):
        """Store the best-so-far configuration of a cell stopped by Ctrl-C (not counted as done)."""
        result = getattr(exc, "result", None)
        if result is not None:
            store.record(result)
            self.partial += 1

    def failure(self, cell, exc, running):
        msg = f"{type(exc).__name__}: {exc}"
        self.failed.append((cell.label, msg))
        self.done += 1
        self.emit("failed", running, cell, None, msg)


def run_table(cells, store: TableStore, *, cell_function="search", workers: int | None = None,
              scheduler: str | None = None, force: bool = False, warm_start: bool = False,
              progress: Callable[[TableProgress], None] | None = None, client=None, midpoint: bool = True,
              device: str | None = None) -> RunSummary:
    """Compute the cells that the store lacks and record each one as soon as it finishes.

    Parameters
    ----------
    cells : list of Cell
        From :func:`~tables.grid.make_grid`.
    store : TableStore
        Written only by this (client) process.
    cell_function : str or callable
        See :func:`resolve_cell_function`. Must be importable by the workers (module-level).
    workers : int, optional
        1: in-process, no Dask. None or "auto": one local worker process per core available.
        k > 1: k local workers, at most what the machine runs at once (:func:`plan_workers`).
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:port``); ``workers`` is then ignored.
    force : bool
        Recompute every cell, even those stored with enough effort (never worsens them).
    warm_start : bool
        Start each cell's search from the best stored configuration valid for it
        (:func:`warm_start`); the cell function is then called as ``fn(cell, init=X, init_source=s)``.
    progress : callable, optional
        Called with a :class:`TableProgress` at the start and after every finished cell.
    client : distributed.Client, optional
        Use this client instead of creating one (the caller closes it).
    midpoint : bool
        Afterwards, improve the grid's tied cells with the midpoint codes of the stored free cells of
        the same (N, d) (:func:`midpoint_pass`; skipped after an interrupt).
    device : str, optional
        Passed to the cell function as ``device=`` ("cpu", "cuda", "cuda:K"; checked first by
        :func:`check_table_device`).  With a CUDA device the cells run one after the other in this
        process (``workers`` None or 1; no scheduler): several worker processes would share the one GPU,
        each with its own memory pool, and could run it out of memory.

    Returns
    -------
    RunSummary
        On KeyboardInterrupt the finished cells are already stored and ``interrupted`` is True
        (a :class:`CellInterrupted` cell's best-so-far is stored too, counted in ``partial``).
    """
    t0 = time.perf_counter()
    fn = resolve_cell_function(cell_function)
    cells = list(cells)
    n_local = None  # local workers (None: the scheduler's or the client's)
    if scheduler is None and client is None:
        n_local = plan_workers(workers, cells)  # refuses more workers than the machine runs at once
    elif workers not in (None, "auto") and (isinstance(workers, bool) or int(workers) != workers or workers < 1):
        raise RunnerError(f"workers must be a positive integer, got {workers}")  # ignored, yet a count
    if device is not None:
        device = check_table_device(device)
        if device.startswith("cuda"):
            if scheduler is not None or client is not None or workers not in (None, "auto", 1):
                raise RunnerError(f"device {device!r}: the cells run in this process on one GPU; several workers "
                                  "or a scheduler would share it between processes (use --workers 1, the default "
                                  "with cuda)")
            workers = 1
        fn = functools.partial(fn, device=device)
    todo = list(cells) if force else store.pending(cells)
    tally = _Tally(len(cells), len(cells) - len(todo), progress)
    tally.done = tally.skipped
    in_process = client is None and scheduler is None and (workers == 1)
    mode = "in-process" if in_process else ("scheduler" if (scheduler or client is not None) else "local-dask")
    n_workers = 1
    interrupted = False
    if not todo:
        tally.emit("start", 0)
    elif in_process:
        tally.emit("start", 0)
        try:
            for cell in todo:
                tally.emit("running", 1, cell)
                try:
                    result = fn(cell, **_init_kwargs(store, cell, warm_start))
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:  # noqa: BLE001 - a failed cell must not stop the table
                    tally.failure(cell, exc, 0)
                    continue
                with _stop_deferred():
                    tally.finished(store, cell, result, 0)
        except KeyboardInterrupt as exc:
            interrupted = True
            with interrupts.ignored():  # already stopping: a second signal must not lose the best-so-far
                tally.interrupted(store, exc)
    else:
        interrupted, n_workers = _run_dask(todo, store, fn, tally, n_local, scheduler, client, warm_start)
    n_mid = n_down = 0
    if not interrupted:
        try:
            with _stop_deferred():
                n_mid = midpoint_pass(store, cells) if midpoint else 0
                n_down = handdown_pass(store, cells)
        except KeyboardInterrupt:
            interrupted = True
    return RunSummary(cells=len(cells), skipped=tally.skipped, new=tally.counts["new"],
                      improved=tally.counts["improved"], kept=tally.counts["kept"], failed=tuple(tally.failed),
                      interrupted=interrupted, partial=tally.partial, seconds=time.perf_counter() - t0,
                      workers=n_workers, mode=mode, midpoint=n_mid, handed_down=n_down)


def _init_kwargs(store, cell, enabled) -> dict:
    if not enabled:
        return {}
    X, source = warm_start(store, cell)
    return {} if X is None else {"init": X, "init_source": source}


@contextlib.contextmanager
def _stop_deferred():
    """Hold a stop signal (SIGINT or SIGTERM) that arrives inside the block; raise KeyboardInterrupt
    once it is left.

    Around the commit of a finished cell, so that a stop signal never rolls back a result already
    computed.  The signal is recorded (:func:`constellations.core.interrupts.received`), so the CLI exits
    with its status.  Main thread only; elsewhere a no-op.
    """
    got = []
    with interrupts.on_stop(got.append):
        yield
    if got:
        raise KeyboardInterrupt


def _start_local_cluster(n: int):
    """A local cluster of ``n`` single-threaded worker processes that ignore the stop signals and
    never outlive this process.

    Ctrl-C in a terminal (or a SIGTERM sent to the process group) reaches every process of the
    group; the workers must leave it to the client (which cancels the tasks and closes the cluster)
    instead of dying with a traceback each.  They are started with both stop signals blocked (the
    threads that start them are created meanwhile, and a worker inherits their signal mask across
    ``exec``), so that no signal reaches a half-started worker;
    :func:`~tables.worker_setup.dask_setup` (the workers' preload, run again in any worker
    that a nanny restarts) then ignores both for good and makes the worker exit when this process is
    gone, however it ends (SIGKILL included): the worker processes are children of this process.
    A stop signal that reaches this process during the start-up (a second or two) is held, then
    closes the cluster and raises KeyboardInterrupt: it is never lost.
    """
    got = []
    cluster = None
    # started now, unblocked: the tracker's start unblocks SIGINT and SIGTERM in the thread that starts it
    # (CPython's resource_tracker), which would otherwise be the cluster's event loop, within the block
    resource_tracker.ensure_running()
    try:
        with interrupts.on_stop(got.append):
            with interrupts.blocked():
                cluster = _new_local_cluster(n)
            # a signal held by the block is delivered here, still to got.append
    except RunnerError:
        if not got:
            raise
    if got:
        with interrupts.ignored():
            _shut_down(None, cluster, {}, None)
        raise KeyboardInterrupt
    return cluster


def _new_local_cluster(n: int):
    from distributed import LocalCluster

    try:
        # no dashboard; the scheduler's HTTP routes on a free port (the fixed default 8787 warns when taken)
        return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}, silence_logs=logging.CRITICAL,
                            preload=[_WORKER_SETUP], env={PARENT_ENV: str(os.getpid())})
    except Exception as exc:  # noqa: BLE001 - e.g. workers that cannot spawn
        raise RunnerError(f"cannot start a local Dask cluster of {n} workers ({exc}); try --workers 1") from None


_WORKER_SETUP = "constellations.tables.worker_setup"


def _run_dask(todo, store, fn, tally, workers, scheduler, client, warm=False):
    """Submit every cell, record each as it finishes; on a stop signal cancel the rest and shut down quietly.

    ``workers``: the local cluster's size (None with a ``scheduler`` or a ``client``)."""
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover
        raise RunnerError(f"dask.distributed is not installed ({exc}); use --workers 1") from None
    own_client = client is None
    cluster = None
    futures = {}
    interrupted = False
    n_workers = 1
    try:
        if client is None:
            if scheduler:
                try:
                    client = Client(scheduler, timeout="20s")
                except (OSError, TimeoutError, ValueError) as exc:
                    raise RunnerError(f"cannot connect to the Dask scheduler at {scheduler}: {exc}") from None
            else:
                cluster = _start_local_cluster(int(workers))
                client = Client(cluster)
        n_workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {}))) if not cluster else \
            len(cluster.workers)
        order = sorted(todo, key=_cost, reverse=True)
        for cell in order:
            fut = client.submit(fn, cell, **_init_kwargs(store, cell, warm), pure=False,
                                key=f"cell-{'-'.join(map(str, cell.key))}-{uuid.uuid4().hex[:8]}")
            futures[fut] = cell
        tally.emit("start", min(n_workers, len(order)))
        pending = len(order)
        for fut in as_completed(list(futures)):
            cell = futures.pop(fut)
            pending -= 1
            running = min(n_workers, pending)
            try:
                result = fut.result()
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # noqa: BLE001 - a failed cell must not stop the table
                tally.failure(cell, exc, running)
                continue
            with _stop_deferred():
                tally.finished(store, cell, result, running)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        # the shutdown is bounded by its timeouts; a second stop signal must not orphan the workers
        with interrupts.ignored():
            _shut_down(client if own_client else None, cluster, futures, client)
    return interrupted, n_workers


def _shut_down(own_client, cluster, futures, client) -> None:
    """Cancel what is still queued or running, close our client and cluster (best effort, quietly)."""
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # "connection closed" chatter while the workers go away
    try:
        if futures and client is not None:
            with contextlib.suppress(Exception):
                client.cancel(list(futures))
        if own_client is not None:
            with contextlib.suppress(Exception):
                own_client.close(timeout=10)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=10)
    finally:
        quiet.setLevel(level)

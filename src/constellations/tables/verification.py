"""Re-verifying a table store from its configurations alone, and when a cell is proved optimal.

For each stored cell, :func:`verify_store` recomputes from the stored configuration (nothing
stored is trusted): the certified margin (:func:`constellations.core.certify.certified_margin`) is >= 0
(it is a constellation), the float64 margin equals the stored one, and the margin is at or below
both certified ceilings recomputed now (:func:`~tables.runner.ceilings`): the free ceiling
(every cell) and, for tied cells, the code ceiling.  Shell certificates of the free ceiling are
re-checked from their (N, d, m) alone (:func:`bounds.verify_shell_certificate`).

Proved optimal
--------------
A cell is *proved optimal* only when a theorem, named by its ceiling, gives the optimum m* of the
cell and the configuration's margin reaches m*, compared exactly
(:func:`bounds.optimality.optimality`; docs/math.md 5.7): never from a tolerance.  A
certified float64 margin is a lower bound a few ulps below the true margin, so it reaches m* only
in the rare case where it equals it; :func:`verify_store` and :class:`Judge` (``table show``)
therefore also compute the exact margin of the stored rows (exact rational mode of
``certified_margin``, within :data:`EXACT_WORK`) when the float margin leaves m* within reach.
A configuration a few ulps below m* (a search result such as tied N = 16, d = 10 at
0.49999999999980393 < 1/2) is reported "within <gap> of it", not optimal.
"""
from __future__ import annotations

from dataclasses import dataclass

from constellations.core.certify import certified_margin
from constellations.core.errors import ConstellationsError
from constellations.bounds import verify_shell_certificate
from constellations.bounds.optimality import Optimality, optimality

from constellations.tables.runner import ceilings
from constellations.tables.store import TableStore

__all__ = ["CellCheck", "StoreVerification", "Judge", "cell_optimality", "verify_cell", "verify_store", "EXACT_WORK"]

#: Integer operations allowed to the exact margin of one stored configuration (a cell of N = 128,
#: d = 12, M = 4 needs about 2e6); above it the cell is judged by its certified float margin.
EXACT_WORK = 10 ** 7

_NO_OPTIMUM = Optimality(False, None, None, None, None)


def cell_optimality(n: int, dim: int, tied: bool, certified_margin_, exact_margin=None) -> Optimality:
    """Whether a configuration of the cell (N, d, tied) with this certified (or exact) margin is proved
    optimal: against the code ceiling for a tied cell, the free ceiling otherwise.

    A margin above the proved optimum (impossible for a sound configuration and ceiling) gives
    ``proved=False``; :func:`verify_cell` reports it as a problem.
    """
    c = ceilings(n, dim)
    try:
        return optimality(certified_margin_, c.tied_bound if tied else c.free_bound, exact_margin)
    except ConstellationsError:
        return _NO_OPTIMUM


def _within_reach(margin: float, opt: Optimality) -> bool:
    """Worth the exact margin: a theorem gives the optimum, not yet reached by the certified margin,
    and the float margin is not clearly below it (this only decides whether to compute, never a label)."""
    return not opt.proved and opt.optimum is not None and margin >= opt.optimum * (1 - 1e-12)


def _exact_margin(X, graph) -> str | None:
    """The exact margin of the rows ``X`` as text, or None when over :data:`EXACT_WORK`."""
    try:
        return certified_margin(X, graph, exact=True, max_work=EXACT_WORK).margin_exact
    except ConstellationsError:
        return None


class Judge:
    """Decides, for the stored cells of one store, whether each is proved optimal (cached).

    ``judge(row)`` judges a cell as what it is (tied: as a code; untied: as a constellation);
    ``judge(row, tied=False)`` judges a tied cell's code as a constellation of its (N, d).  The stored
    certified margin first; with a ``store``, the exact margin of the stored rows when the optimum is
    within reach (:func:`_within_reach`), so that a configuration exactly at the optimum is labelled
    proved.  Without a store, the stored certified margin alone (never a false "proved").
    """

    def __init__(self, store=None):
        self.store = store
        self._cache = {}

    def __call__(self, row, tied: bool | None = None) -> Optimality:
        tied = row.tied if tied is None else bool(tied)
        key = (row.key, tied)
        if key not in self._cache:
            self._cache[key] = self._judge(row, tied)
        return self._cache[key]

    def _judge(self, row, tied: bool) -> Optimality:
        opt = cell_optimality(row.n, row.dim, tied, row.margin_certified)
        if self.store is None or row.margin_certified is None or not _within_reach(row.margin, opt):
            return opt
        exact = _exact_margin(self.store.configuration(row.key).X, row.graph)
        return opt if exact is None else cell_optimality(row.n, row.dim, tied, row.margin_certified, exact)


@dataclass(frozen=True)
class CellCheck:
    """The re-verification of one stored cell.

    Attributes
    ----------
    n, dim, modalities, graph, tied
        The cell's key.
    margin, margin_certified : float
        Recomputed now from the stored configuration (float64 margin, certified lower bound).
    margin_exact : str or None
        The exact margin of the stored rows, when it was computed (a proved optimum within reach).
    margin_upper, upper_method
        The free ceiling (every constellation of the cell), recomputed now.
    margin_upper_tied, upper_tied_method
        The code ceiling (tied cells only; None otherwise).
    optimality : Optimality
        Proved optimal or not, the optimum and the theorem behind it, the gap.
    problems : tuple of str
        Why the cell fails; empty when it passes.
    """

    n: int
    dim: int
    modalities: int
    graph: str
    tied: bool
    margin: float
    margin_certified: float
    margin_exact: str | None
    margin_upper: float
    upper_method: str
    margin_upper_tied: float | None
    upper_tied_method: str | None
    optimality: Optimality
    problems: tuple = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def label(self) -> str:
        """``N=16 d=10 tied`` or ``N=16 d=10 M=3 complete``."""
        return f"N={self.n} d={self.dim} " + ("tied" if self.tied else f"M={self.modalities} {self.graph}")

    def to_dict(self) -> dict:
        """JSON-able form; ``optimal`` is ``optimality.proved``."""
        return {"n": self.n, "dim": self.dim, "modalities": self.modalities, "graph": self.graph, "tied": self.tied,
                "margin": self.margin, "margin_certified": self.margin_certified, "margin_exact": self.margin_exact,
                "margin_upper": self.margin_upper, "upper_method": self.upper_method,
                "margin_upper_tied": self.margin_upper_tied, "upper_tied_method": self.upper_tied_method,
                "optimal": self.optimality.proved, "optimality": self.optimality.to_dict(), "ok": self.ok,
                "problems": list(self.problems)}


@dataclass(frozen=True)
class StoreVerification:
    """The re-verification of the selected cells of a store (:func:`verify_store`)."""

    store: str
    cells: tuple

    @property
    def failed(self) -> tuple:
        return tuple(c for c in self.cells if not c.ok)

    @property
    def proved(self) -> int:
        """Cells proved optimal."""
        return sum(c.optimality.proved for c in self.cells)

    @property
    def within(self) -> int:
        """Cells whose optimum a theorem proves but whose configuration does not reach it exactly."""
        return sum(c.optimality.optimum is not None and not c.optimality.proved for c in self.cells)

    def to_dict(self) -> dict:
        return {"store": self.store, "cells": len(self.cells), "failed": len(self.failed), "optimal": self.proved,
                "within_proved_optimum": self.within, "results": [c.to_dict() for c in self.cells]}


def verify_store(store, rows=None, **select) -> StoreVerification:
    """Re-verify ``rows`` (:class:`~tables.store.StoredCell`; default: every cell, or those that the
    filters ``select`` choose: :meth:`~tables.store.TableStore.select`) of ``store``.

    ``store``: a :class:`~tables.store.TableStore`, or a path (None: the default store), opened
    read-only here.
    """
    if not isinstance(store, TableStore):
        with TableStore(store, readonly=True) as st:
            return verify_store(st, rows, **select)
    rows = store.select(**select) if rows is None else rows
    certs: dict = {}
    return StoreVerification(str(store.path), tuple(verify_cell(store, r, certs) for r in rows))


def verify_cell(store, row, certificates: dict | None = None) -> CellCheck:
    """Re-verify one stored cell (see the module docstring); ``certificates`` caches the re-check of
    each (N, d)'s free-ceiling certificate across calls."""
    cfg = store.configuration(row.key)
    cert = certified_margin(cfg.X, row.graph)
    c = ceilings(row.n, row.dim)
    problems = [] if certificates is None else list(_certificate_problem(c, row, certificates))
    if cfg.X.shape != (row.modalities, row.n, row.dim):
        problems.append(f"stored shape {cfg.X.shape}")
    if not cert.margin_certified >= 0:
        problems.append(f"certified margin {cert.margin_certified!r} < 0")
    if abs(cert.margin - row.margin) > 1e-12:
        problems.append(f"recomputed margin {cert.margin!r} != stored {row.margin!r}")
    # certified lower <= certified upper is the test; the float margin may exceed a ceiling that is
    # met exactly (d = 2 polygons) by its rounding error only
    bounds = [("free", c.free, c.free_method)] + ([("code", c.tied, c.tied_method)] if row.tied else [])
    for what, upper, method in bounds:
        if not (cert.margin_certified <= upper and cert.margin <= upper + cert.error_bound + 1e-15):
            problems.append(f"margin {cert.margin!r} above the certified {what} ceiling {upper!r} ({method})")
    opt, exact, problem = _optimality(cfg, row, cert, c.tied_bound if row.tied else c.free_bound)
    problems += [problem] if problem else []
    return CellCheck(row.n, row.dim, row.modalities, row.graph, row.tied, float(cert.margin), float(cert.margin_certified),
                     exact, c.free, c.free_method, c.tied if row.tied else None, c.tied_method if row.tied else None,
                     opt, tuple(problems))


def _certificate_problem(c, row, cache):
    """The free ceiling's shell certificate does not re-verify: one message (checked once per (N, d))."""
    if (row.n, row.dim) not in cache:
        try:
            ok = verify_shell_certificate(c.free_certificate) if c.free_method.startswith(("shell", "exact-d1")) \
                else True
        except (ArithmeticError, KeyError, ValueError) as exc:
            ok = f"free ceiling certificate does not re-verify: {exc}"
        cache[(row.n, row.dim)] = ok
    if cache[(row.n, row.dim)] is not True:
        yield cache[(row.n, row.dim)]


def _optimality(cfg, row, cert, bound):
    """``(Optimality, exact margin or None, problem or None)`` of a stored configuration.

    The recomputed certified margin first; when a theorem gives the optimum and it is within reach
    (:func:`_within_reach`), the exact margin of the rows decides.
    """
    try:
        opt = optimality(cert.margin_certified, bound)
    except ConstellationsError as exc:  # a margin above a proved optimum: the configuration or the theorem is wrong
        return _NO_OPTIMUM, None, str(exc)
    exact = _exact_margin(cfg.X, row.graph) if _within_reach(cert.margin, opt) else None
    if exact is None:
        return opt, None, None
    try:
        return optimality(cert.margin_certified, bound, exact_margin=exact), exact, None
    except ConstellationsError as exc:
        return _NO_OPTIMUM, exact, str(exc)

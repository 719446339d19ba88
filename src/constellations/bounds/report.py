"""The bounds of one question, gathered and judged: what ``constellations bounds`` prints.

Each function answers one question with every bound that applies, and the verdict on proved
optimality (:func:`.optimality.optimality`: a theorem reached exactly, never a tolerance); each
result has ``to_dict()`` (JSON-able, the keys of ``constellations bounds --json``):

* :func:`free_report` -- margin bounds of N-item constellations in R^d (free, or at a fixed b_rel),
  optionally with the dimension-free SDP; the lower bound is :func:`.constellation.margin_lower`,
  or any other function of (N, d) (``constellations.tables.lower.free_bounds`` adds a table store
  and a short search);
* :func:`tied_report` -- the same for tied constellations (spherical codes) in their own dimension;
* :func:`dimension_report` -- the dimensions needed for N items at margin m;
* :func:`code_report` -- bounds on A(n, s) by every method.

Numbers typed by users (b_rel, m, s) are read exactly (:func:`constellations.core.exact.to_exact`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

from constellations.core.errors import ConfigurationError
from constellations.core.exact import exact_str, to_exact
from constellations.core.results import Result, Status

from constellations.bounds.bound import Bound
from constellations.bounds.constellation import dim_lower, dim_upper, margin_lower
from constellations.bounds.delsarte import delsarte_lp_bound
from constellations.bounds.levenshtein import levenshtein_bound, rankin_bound
from constellations.bounds.optimality import Optimality, ceiling_exact, construction_margin, optimality
from constellations.bounds.sdp import check_sdp_size, sdp_bound
from constellations.bounds.shell import margin_upper_free
from constellations.bounds.three_point import three_point_bound
from constellations.bounds.tied import margin_upper_tied

__all__ = ["FreeReport", "TiedReport", "DimensionReport", "CodeReport", "free_report", "tied_report",
           "dimension_report", "code_report"]


def _inf_to_none(v):
    return None if isinstance(v, float) and math.isinf(v) else v


def _text(x) -> str | None:
    return None if x is None else str(x)


def _ratio(lower: Bound, upper: Bound):
    return (lower.value / upper.value) if upper.value > 0 else None


class _Report(Result):
    """The vocabulary of a report (:data:`constellations.core.results.VOCABULARY`): a report is about a
    problem, not one configuration, so ``config`` is None; ``status`` is COMPLETED (a report is made
    only when every bound in it ended); ``seconds`` is the time the report function took."""

    config = None

    @property
    def status(self) -> Status:
        return Status.COMPLETED


class _MarginReport(_Report):
    """Margin reports (free and tied): ``margin`` and ``margin_certified`` are the certified lower
    bound (the best construction's margin, rounded down); ``message`` is the interval of m*."""

    @property
    def margin(self) -> float:
        return float(self.lower.value)

    @property
    def margin_certified(self) -> float | None:
        return float(self.lower.value) if self.lower.certified else None

    @property
    def message(self) -> str:
        tail = "; optimal: proved" if self.optimality.proved else ""
        return f"{self.lower.value!r} <= m*({self.n}, {self.dim}) <= {self.upper.value!r}{tail}"


# ----------------------------------------------------------------------------- free constellations
@dataclass(frozen=True)
class FreeReport(_MarginReport):
    """Margin bounds of N-item constellations in R^d (:func:`free_report`).

    ``upper`` is :func:`.shell.margin_upper_free` (at ``b_rel`` when given), ``lower`` the certified
    lower bound (for free b_rel), ``optimality`` the verdict on the construction behind ``lower``
    (never one at a fixed b_rel), ``sdp`` the numerical SDP bound with M = ``modalities``, or None.
    """

    n: int
    dim: int
    b_rel: object
    upper: Bound
    lower: Bound
    optimality: Optimality
    sdp: Bound | None = None
    modalities: int | None = None
    seconds: float | None = None

    def to_dict(self) -> dict:
        up, lo, det = self.upper, self.lower, self.upper.details
        low = lo.details or {}
        fixed = self.b_rel is not None
        out = {**self.vocabulary(), "n": self.n, "dim": self.dim, "b_rel": float(self.b_rel) if fixed else None,
               **({"b_rel_exact": exact_str(self.b_rel)} if fixed else {}),
               "margin_upper": up.value, "margin_upper_exact": ceiling_exact(up),
               "margin_upper_method": up.method, "margin_upper_certificate": up.certificate,
               "margin_upper_sandwich": det.get("sandwich"), "margin_upper_shell": det.get("shell"),
               "margin_upper_shells": det.get("shells"),
               **({"margin_upper_skipped": det["skipped"]} if det.get("skipped") else {}),
               "margin_lower": lo.value, "margin_lower_exact": _text(construction_margin(lo)),
               "margin_lower_method": lo.method, "margin_lower_certificate": lo.certificate,
               **({"margin_lower_recipe": low["recipe"]} if "recipe" in low else {}),
               **({"margin_lower_note": low["note"]} if "note" in low else {}),
               **({"margin_lower_note": "margin_lower is for free b_rel (constructions are not constrained to "
                                        "the given b_rel)"} if fixed else {}),
               **({"store": low["store"]} if "store" in low else {}),
               **({"search": low["search"]} if "search" in low else {}),
               "ratio": _ratio(lo, up), "optimal": self.optimality.proved, "optimality": self.optimality.to_dict()}
        if low.get("search") and low["search"].get("seed"):
            out["seed"] = low["search"]["seed"]
        if self.sdp is not None:
            s = self.sdp
            out["modalities"] = self.modalities
            out["sdp"] = {"value": s.value, "b_rel": s.details["b_rel"], "modalities": self.modalities,
                          "edges": s.details["edges"], "certified": False, "status": s.details["status"]}
        return out


def free_report(n, dim, *, b_rel=None, method: str = "levenshtein",
                lower: Callable[[int, int], Bound] = margin_lower, sdp_modalities: int | None = None,
                sdp_graph=None) -> FreeReport:
    """Every bound on the margin m*(N, d) of N-item constellations in R^d, and the optimality verdict.

    Parameters
    ----------
    n, dim
        N items in R^d; above :data:`.constellation.MAX_ITEMS` the quickly certified ceilings only.
    b_rel : number or str, optional
        A fixed relative bias (read exactly); the lower bound stays the free one and no optimality is
        claimed.
    method : {"levenshtein", "delsarte"}
        Code bound of the sandwich (:func:`.shell.margin_upper_free`).
    lower : callable
        ``lower(N, d)`` gives the certified lower bound (default :func:`.constellation.margin_lower`).
    sdp_modalities, sdp_graph
        With ``sdp_modalities`` M, also the dimension-free SDP (numerical) on that graph; its size is
        checked before any other work.
    """
    b_exact = None if b_rel is None else to_exact(b_rel, "b_rel")
    if sdp_modalities is not None:  # refuse an oversized SDP before the (slower) bounds run
        check_sdp_size(n, sdp_modalities)
    t0 = time.perf_counter()
    up = margin_upper_free(n, dim, method=method, b_rel=b_exact)  # above MAX_ITEMS the quick bounds only
    lo = lower(n, dim)
    # margin_lower is for free b_rel: no verdict at a fixed b_rel
    opt = optimality(None, None) if b_exact is not None else optimality(lo.value, up, construction_margin(lo))
    sdp = None
    if sdp_modalities is not None:
        sdp = sdp_bound(n, sdp_modalities, sdp_graph, None if b_exact is None else float(b_exact))
    return FreeReport(n, dim, b_exact, up, lo, opt, sdp, sdp_modalities, time.perf_counter() - t0)


# ----------------------------------------------------------------------------------------- tied
@dataclass(frozen=True)
class TiedReport(_MarginReport):
    """Margin bounds of tied N-item constellations (codes) in R^d (:func:`tied_report`); ``free`` is the
    free ceiling, for comparison."""

    n: int
    dim: int
    upper: Bound
    lower: Bound
    free: Bound
    optimality: Optimality
    seconds: float | None = None
    modalities = None  # a code (U = V): no number of modalities

    def to_dict(self) -> dict:
        up, lo, free = self.upper, self.lower, self.free
        return {**self.vocabulary(), "n": self.n, "dim": self.dim, "tied": True,
                "margin_upper": up.value, "margin_upper_exact": ceiling_exact(up), "margin_upper_method": up.method,
                "margin_upper_certificate": up.certificate,
                "margin_lower": lo.value, "margin_lower_exact": _text(construction_margin(lo)),
                "margin_lower_method": lo.method, "margin_lower_certificate": lo.certificate,
                "ratio": _ratio(lo, up), "optimal": self.optimality.proved,
                "optimality": self.optimality.to_dict(), "known_optimal": up.details.get("known_optimal"),
                "margin_upper_free": free.value, "margin_upper_free_exact": ceiling_exact(free),
                "margin_upper_free_method": free.method}


def tied_report(n, dim, method: str = "levenshtein") -> TiedReport:
    """The code ceiling :func:`.tied.margin_upper_tied`, the construction lower bound (every candidate is a
    tied code), the free ceiling, and whether a theorem's optimum is reached exactly."""
    t0 = time.perf_counter()
    up = margin_upper_tied(n, dim, method=method)
    free = margin_upper_free(n, dim, method=method)
    lo = margin_lower(n, dim)
    return TiedReport(n, dim, up, lo, free, optimality(lo.value, up, construction_margin(lo)),
                      time.perf_counter() - t0)


# ----------------------------------------------------------------------------------- dimensions
@dataclass(frozen=True)
class DimensionReport(_Report):
    """The dimensions needed for N items at margin m (:func:`dimension_report`); in the vocabulary,
    ``margin`` is the given m (as a float; ``margin_exact`` exactly), ``dim`` None (it is the unknown)."""

    n: int
    margin_value: object
    lower: Bound
    upper: Bound
    seconds: float | None = None
    dim = modalities = margin_certified = None

    @property
    def margin(self) -> float:
        return float(self.margin_value)

    @property
    def message(self) -> str:
        hi = "unknown" if math.isinf(self.upper.value) else self.upper.value
        return f"{self.lower.value} <= d <= {hi} for N = {self.n} at m = {exact_str(self.margin_value)}"

    def to_dict(self) -> dict:
        lo, hi = self.lower, self.upper
        return {**self.vocabulary(), "n": self.n, "margin": float(self.margin_value), "margin_exact": exact_str(self.margin_value),
                "dim_lower": _inf_to_none(lo.value), "dim_lower_method": lo.method,
                "dim_lower_certificate": lo.certificate,
                "dim_upper": _inf_to_none(hi.value), "dim_upper_method": hi.method,
                "dim_upper_certificate": hi.certificate}


def dimension_report(n, margin, method: str = "levenshtein") -> DimensionReport:
    """:func:`.constellation.dim_lower` and :func:`.constellation.dim_upper` at the margin m (read exactly)."""
    t0 = time.perf_counter()
    m = to_exact(margin, "margin m")
    lo, hi = dim_lower(n, m, method=method), dim_upper(n, m)
    return DimensionReport(n, m, lo, hi, time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------- codes
@dataclass(frozen=True)
class CodeReport(_Report):
    """Bounds on A(n, s) (:func:`code_report`): ``bounds`` is ((name, Bound), ...), a method over its limit
    as an infinite Bound whose note says why; ``best`` the smallest; ``three_point`` the numerical SDP or
    None."""

    dim: int
    s: object
    bounds: tuple
    best: Bound
    three_point: Bound | None = None
    seconds: float | None = None
    margin = margin_certified = n = modalities = None  # bounds on a code size, not on a margin

    @property
    def message(self) -> str:
        return f"A({self.dim}, {exact_str(self.s)}) <= {self.best.value} ({self.best.method})"

    def to_dict(self) -> dict:
        tp = self.three_point
        return {**self.vocabulary(), "dim": self.dim, "max_ip": float(self.s), "max_ip_exact": exact_str(self.s),
                "best": _inf_to_none(self.best.value), "best_method": self.best.method,
                "bounds": {name: b.to_dict() for name, b in self.bounds},
                **({"three_point": tp.to_dict()} if tp is not None else {})}


def code_report(dim, s, three_point: bool = False) -> CodeReport:
    """Rankin, Levenshtein and the Delsarte LP on A(n, s) (s read exactly), and optionally the
    three-point SDP (numerical).

    Raises
    ------
    ConfigurationError
        Rankin refuses the input, or no method gives a bound within its limits.
    """
    t0 = time.perf_counter()
    s_exact = to_exact(s, "max inner product s")
    res, refused = [], []
    for name, f in (("rankin", rankin_bound), ("levenshtein", levenshtein_bound), ("delsarte-lp", delsarte_lp_bound)):
        try:
            res.append((name, f(dim, s_exact)))
        except ConfigurationError as exc:  # over a stated limit (e.g. the Levenshtein degree)
            if name == "rankin":
                raise
            refused.append((name, str(exc)))
            res.append((name, Bound(math.inf, name, None, {"certified": False, "note": str(exc)})))
    best = min((b for _, b in res), key=lambda b: b.value)
    if math.isinf(best.value):
        why = refused[0][1] if refused else "no method gives a bound here"
        raise ConfigurationError(f"no bound on A({dim}, {s}) within the limits: {why}")
    tp = three_point_bound(dim, float(s_exact)) if three_point else None
    return CodeReport(dim, s_exact, tuple(res), best, tp, time.perf_counter() - t0)

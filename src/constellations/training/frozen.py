r"""The frozen-modality SOCP (docs/math.md section 7), for any M and graph.

All modalities but ``free`` are fixed.  With V = X[free] (N x d) the problem is

.. math::

    \max_{V, m, b} m \quad\text{s.t.}\quad
    \langle W_i, V_i\rangle \ge b + m,\;
    \langle W_j, V_i\rangle \le b - m \;(i \ne j)\ \text{for every fixed } W = X[k],\ (k, free)\in G,

    \mathrm{pos}_{kl} \ge b + m,\; \mathrm{neg}_{kl} \le b - m \ \text{for the edges not touching free},
    \qquad \|V_i\| \le 1,

with b = b_rel fixed if given.  It is a convex SOCP (cvxpy; Clarabel by default, SCS as a
fallback).  The unit ball relaxes the sphere, so the optimum is an upper bound on what any unit V
achieves against the fixed modalities.  **Exactness check**: the optimum is attained by unit rows
(and is then the exact optimum over the sphere) if every optimal V_i has norm 1, or whenever
b + m > 0 >= b - m: rescaling a V_i to unit length then multiplies its inner products by a factor
>= 1, which keeps matched ones >= b + m > 0 and non-matched ones <= b - m <= 0.  In both cases the
returned rows are normalised and ``exact`` is True; otherwise ``exact`` is False, the rows are
still normalised, and ``achieved`` (the float64 margin of the returned configuration) may be lower
than ``margin``.

Cost: the constraint matrix has about N^2 d nonzeros per edge touching ``free`` (N = 100, d = 10:
10^5, well under a second); keep N in the low hundreds.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from constellations.core.configuration import Configuration
from constellations.core.conic import SOLVED, solve_with_fallback
from constellations.core.errors import ConstellationsError
from constellations.core.margins import resolve
from constellations.core.results import Result, Status
from constellations.search.polish import pos_neg

__all__ = ["FrozenResult", "frozen_optimum", "frozen_alternate"]


@dataclass(frozen=True)
class FrozenResult(Result):
    """Result of :func:`frozen_optimum`.

    Attributes
    ----------
    X : ndarray (M, N, d)
        The configuration with modality ``free`` replaced by the (normalised) optimal rows.
    margin : float
        SOCP optimum: an upper bound on the margin reachable by changing X[free] alone, and the
        exact optimum over unit rows when ``exact``.
    b_rel : float
        Optimal (or the fixed) relative bias.
    exact : bool
        The exactness check passed (see the module docstring).
    solver_status : str
        The conic solver's status ("optimal" or "optimal_inaccurate"; ``status`` is the vocabulary's).
    achieved : float
        float64 margin of the returned X (free b_rel, or min(pos - b, b - neg) for a fixed b_rel).
    min_norm : float
        Smallest row norm of the SOCP's V before normalisation.
    free : int
    graph : Graph, optional
        The synchronisation graph of the problem.
    seconds : float
        Wall-clock time of the computation (of all the SOCPs for :func:`frozen_alternate`).

    In the result vocabulary (:mod:`constellations.core.results`): ``config`` is X as a Configuration,
    ``margin`` the SOCP optimum above, ``margin_certified`` None (nothing is certified), ``status``
    CONVERGED (solver status "optimal") or COMPLETED ("optimal_inaccurate"); a failed solve raises.
    """

    X: np.ndarray
    margin: float
    b_rel: float
    exact: bool
    solver_status: str
    achieved: float = float("nan")
    min_norm: float = float("nan")
    free: int = 1
    graph: object = None
    seconds: float = 0.0

    margin_certified = None

    @property
    def config(self) -> Configuration:
        """X with its graph; meta: the free modality, the SOCP margin and b_rel, exactness, achieved."""
        meta = {"kind": "frozen-socp", "free": int(self.free), "margin_socp": float(self.margin),
                "b_rel": float(self.b_rel), "exact": bool(self.exact), "achieved": float(self.achieved)}
        return Configuration.from_array(self.X, self.graph, meta)

    @property
    def n(self) -> int:
        return self.X.shape[1]

    @property
    def dim(self) -> int:
        return self.X.shape[2]

    @property
    def modalities(self) -> int:
        return self.X.shape[0]

    @property
    def status(self) -> Status:
        """CONVERGED when the solver met its tolerances ("optimal"), COMPLETED at reduced accuracy."""
        return Status.CONVERGED if self.solver_status == "optimal" else Status.COMPLETED

    @property
    def message(self) -> str:
        """One line: the free modality, the SOCP margin, whether it is exact, the solver status."""
        how = "exact over unit rows" if self.exact else f"upper bound; achieved m = {self.achieved:.6g}"
        return (f"modality {self.free} optimised: SOCP m = {self.margin:.6g} ({how}), b_rel = {self.b_rel:.6g}; "
                f"solver {self.solver_status}")

    def to_dict(self) -> dict:
        """The vocabulary, then the other fields (the graph by its spec, X left out)."""
        out = Result.to_dict(self)
        out["graph"] = None if self.graph is None else self.graph.spec
        return out


def _achieved(A, edges, b_rel):
    pos, neg = pos_neg(A, edges)
    if b_rel is None:
        return (pos - neg) / 2, pos, neg
    return min(pos - b_rel, b_rel - neg), pos, neg


def frozen_optimum(X, free: int = 1, graph=None, b_rel=None, solver=None) -> FrozenResult:
    """Optimal X[free] (and b_rel) with the other modalities frozen; see the module docstring.

    Parameters
    ----------
    X : Configuration or array_like (M, N, d)
        Unit rows (the current X[free] is ignored except for its shape).
    free : int
        The modality to optimise.
    graph : optional
        Synchronisation graph (default: the configuration's, else complete).
    b_rel : float, optional
        Fix the relative bias.
    solver : str, optional
        cvxpy solver name; default Clarabel then SCS.

    Raises
    ------
    ConstellationsError
        Bad input, ``free`` out of range, no edge touching ``free``, or the solver failing.
    """
    import cvxpy as cp
    t_start = time.perf_counter()
    A, G = resolve(X, graph)
    M, N, d = A.shape
    if isinstance(free, bool) or int(free) != free or not 0 <= int(free) < M:
        raise ConstellationsError(f"free modality must be an integer in [0, {M - 1}], got {free!r}")
    free = int(free)
    if b_rel is not None:
        b_rel = float(b_rel)
        if not (np.isfinite(b_rel) and -1 <= b_rel <= 1):
            raise ConstellationsError(f"b_rel must lie in [-1, 1], got {b_rel}")
    touching = [e for e in G.edges if free in e]
    if not touching:
        raise ConstellationsError(f"modality {free} has no edge in the graph: nothing to optimise")
    V = cp.Variable((N, d))
    m = cp.Variable()
    b = cp.Variable() if b_rel is None else b_rel
    cons = [cp.norm(V, 2, axis=1) <= 1]
    eye4 = 4.0 * np.eye(N)
    for k, l in touching:
        W = A[l if k == free else k]
        S = W @ V.T  # S[i, j] = <W_i, V_j>
        cons.append(cp.diag(S) >= b + m)
        # off-diagonal S <= b - m; on the diagonal S_ii <= 1 <= b - m + 2 holds anyway
        cons.append(S <= (b - m) + eye4)
    for k, l in G.edges:
        if free in (k, l):
            continue
        C = A[k] @ A[l].T
        pos = float(np.diag(C).min())
        np.fill_diagonal(C, -np.inf)
        cons += [pos >= b + m, float(C.max()) <= b - m]
    prob = cp.Problem(cp.Maximize(m), cons)
    _, err = solve_with_fallback(prob, solver)
    if prob.status not in SOLVED or V.value is None:
        raise ConstellationsError(f"frozen SOCP failed (status {prob.status}{'; ' + str(err) if err else ''})")
    Vv = np.asarray(V.value, dtype=np.float64)
    mv = float(m.value)
    bv = float(b.value) if b_rel is None else b_rel
    norms = np.linalg.norm(Vv, axis=1)
    tol = 1e-6
    exact = bool(norms.min() >= 1 - tol) or (bv + mv > tol and bv - mv <= tol)
    Vn = Vv.copy()
    good = norms > 1e-12
    Vn[good] /= norms[good, None]
    Vn[~good] = A[free][~good]
    Xn = A.copy()
    Xn[free] = Vn
    Xn.setflags(write=False)
    ach, _, _ = _achieved(Xn, G.edges, b_rel)
    return FrozenResult(Xn, mv, bv, exact, prob.status, float(ach), float(norms.min()), free, G,
                        time.perf_counter() - t_start)


def frozen_alternate(X, graph=None, b_rel=None, rounds: int = 3, solver=None, tol: float = 1e-9):
    """Block-coordinate ascent: apply :func:`frozen_optimum` to each modality in turn, keeping a
    step only if the float64 margin (``achieved``) does not decrease.  Returns the last accepted
    :class:`FrozenResult` (or None if no step was accepted), its ``seconds`` those of the whole ascent."""
    t_start = time.perf_counter()
    A, G = resolve(X, graph)
    cur, _, _ = _achieved(A, G.edges, b_rel)
    best = None
    M = A.shape[0]
    for _ in range(int(rounds)):
        improved = False
        for k in range(M):
            if not any(k in e for e in G.edges):
                continue
            r = frozen_optimum(A, k, G, b_rel, solver)
            if r.achieved >= cur - tol:
                if r.achieved > cur + tol:
                    improved = True
                A, cur, best = r.X, r.achieved, r
        if not improved:
            break
    return None if best is None else dataclasses.replace(best, seconds=time.perf_counter() - t_start)

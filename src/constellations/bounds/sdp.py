r"""The dimension-free SDP for constellations with M modalities and a graph.

Variables: the Gram matrix G of all M*N vectors (index (k, i) -> k*N + i), the margin m and the
bias b.  Maximise m subject to

* G PSD, G[(k,i),(k,i)] = 1 (unit vectors),
* G[(k,i),(l,i)] >= b + m and G[(k,i),(l,j)] <= b - m for every edge (k, l) and i != j,
* optionally b = b_rel fixed.

A PSD G with unit diagonal is the Gram matrix of unit vectors in R^{MN}, so the optimum is exactly
the largest margin in any dimension d >= MN and an upper bound for every d.  For M = 2 it equals
N/(2(N-1)) (Theorem 3.4, attained by the simplex); the same holds for any graph since the tied simplex
is feasible and every edge obeys Theorem 3.4.

The value is **numerical** (interior-point solver, default Clarabel), not certified: compare it with
the exact Theorem 3.4 value, which is certified.

**Size.**  The Gram matrix has p = MN(MN+1)/2 unknowns and the solver's memory grows like p^2
(measured with Clarabel, one core: MN = 60 in 19 s and 0.33 GB, MN = 100 in 2 minutes and
1.5 GB, MN = 200 killed above 16 GB; MN = 4000 asked for 512 TB).  Problems with MN above
:data:`MAX_SDP_SIZE` are refused before cvxpy is called.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from constellations.core.errors import ConfigurationError, ConstellationsError

from constellations.core.conic import SOLVED, solve_with_fallback
from constellations.core.graphs import parse_graph
from constellations.core.results import Result, Status
from constellations.bounds.bound import Bound

__all__ = ["SDPResult", "sdp_margin", "sdp_bound", "MAX_SDP_SIZE", "check_sdp_size"]

MAX_SDP_SIZE = 64  # largest M*N (see the module docstring for the measurements)


def check_sdp_size(N: int, M: int) -> None:
    """Refuse the SDP for M*N > MAX_SDP_SIZE, with the size estimate, before any allocation."""
    n = M * N
    if n > MAX_SDP_SIZE:
        p = n * (n + 1) // 2
        raise ConfigurationError(
            f"the SDP for N={N}, M={M} has a {n}x{n} Gram matrix (p = {p} unknowns; the solver needs "
            f"memory ~64 p^2 bytes = {64.0 * p * p:.3g} bytes): above the limit M*N <= {MAX_SDP_SIZE} "
            f"(MN = 100 already takes 2 minutes and 1.5 GB)")


@dataclass(frozen=True)
class SDPResult(Result):
    """Solution of the dimension-free SDP.

    Attributes
    ----------
    margin, b_rel : float
        Optimal m and b (b = the fixed b_rel if one was given).
    gram : ndarray, shape (M*N, M*N)
        Optimal Gram matrix.
    solver_status : str
        The solver's own status ("optimal", ...); ``status`` is the vocabulary's (CONVERGED).
    solver : str
    M, N : int
    edges : tuple of (k, l)
    seconds : float
        Wall-clock seconds of the solve.

    It speaks the result vocabulary: ``n`` = N, ``modalities`` = M, ``dim`` None (the SDP is
    dimension-free), ``margin_certified`` None (a numerical solve certifies nothing), ``config`` None
    (:meth:`embedding` realises the Gram matrix).
    """

    margin: float
    b_rel: float
    gram: np.ndarray
    solver_status: str
    solver: str
    M: int
    N: int
    edges: tuple
    seconds: float | None = None
    config = margin_certified = dim = None  # see the docstring

    @property
    def status(self) -> Status:
        """CONVERGED: only solved problems make a result (others raise)."""
        return Status.CONVERGED

    @property
    def message(self) -> str:
        return f"SDP optimum m = {self.margin:.9g} at b_rel = {self.b_rel:.9g} ({self.solver}: {self.solver_status})"

    @property
    def n(self) -> int:
        return self.N

    @property
    def modalities(self) -> int:
        return self.M

    def embedding(self, tol: float = 1e-9) -> np.ndarray:
        """Unit vectors (M, N, r) realising ``gram`` (r = numerical rank), rows renormalised."""
        w, V = np.linalg.eigh((self.gram + self.gram.T) / 2)
        keep = w > tol * max(1.0, w.max())
        Y = V[:, keep] * np.sqrt(w[keep])
        Y /= np.linalg.norm(Y, axis=1, keepdims=True)
        return Y.reshape(self.M, self.N, -1)


def sdp_margin(N: int, M: int = 2, graph=None, b_rel=None, solver: str | None = None) -> SDPResult:
    """Solve the dimension-free SDP (see the module docstring).

    Parameters
    ----------
    N : int >= 2
    M : int >= 2
    graph : None, "complete", "star", "0-1,1-2" or Graph
    b_rel : float, optional
        Fix b = b_rel.
    solver : str, optional
        A cvxpy solver name (default Clarabel, then SCS).
    """
    import cvxpy as cp

    if isinstance(N, bool) or int(N) != N or N < 2:
        raise ConstellationsError(f"need N >= 2 items, got N={N}")
    if isinstance(M, bool) or int(M) != M or M < 2:
        raise ConstellationsError(f"need M >= 2 modalities, got M={M}")
    N, M = int(N), int(M)
    check_sdp_size(N, M)
    G_ = parse_graph(graph, M)
    if not G_.edges:
        raise ConstellationsError("the graph has no edges")
    if b_rel is not None and not (math.isfinite(float(b_rel)) and -1 <= float(b_rel) <= 1):
        raise ConstellationsError(f"b_rel must lie in [-1, 1], got {b_rel}")
    t0 = time.perf_counter()
    n = M * N
    G = cp.Variable((n, n), PSD=True)
    m = cp.Variable()
    b = cp.Variable() if b_rel is None else float(b_rel)
    cons = [cp.diag(G) == 1]
    for k, l in G_.edges:
        B = G[k * N:(k + 1) * N, l * N:(l + 1) * N]
        cons.append(cp.diag(B) >= b + m)
        # off-diagonal entries: B <= b - m + 4 I (the diagonal part is implied: B_ii <= 1 <= b - m + 2)
        cons.append(B <= (b - m) + 4.0 * np.eye(N))
    prob = cp.Problem(cp.Maximize(m), cons)
    sname, last = solve_with_fallback(prob, solver)
    if prob.status not in SOLVED:
        raise ConstellationsError(f"SDP not solved (status {prob.status}; {last})")
    bval = float(b.value) if b_rel is None else float(b_rel)
    return SDPResult(float(m.value), bval, np.asarray(G.value), prob.status, sname, M, N, G_.edges,
                     time.perf_counter() - t0)


def sdp_bound(N: int, M: int = 2, graph=None, b_rel=None, solver: str | None = None) -> Bound:
    """The SDP optimum as a (numerical, uncertified) upper bound on the margin for any dimension."""
    r = sdp_margin(N, M, graph, b_rel, solver)
    return Bound(r.margin, "sdp", None,
                 {"certified": False, "b_rel": r.b_rel, "status": r.solver_status, "solver": r.solver,
                  "M": M, "N": N, "edges": [list(e) for e in r.edges]})

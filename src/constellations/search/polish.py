r"""Exact polish of a configuration: a trust-region sequential LP on the near-active constraints.

Given unit rows X (free mode, shape (M, N, d), with graph edges) or a code C (tied mode, shape
(N, d)), one step solves the linear programme in tangent moves D (one row per vector)

.. math::

    \max\ (s_p - s_n)/2 \quad\text{s.t.}\quad
    c_e(i,j) + \langle D[k,i], X[l,j]\rangle + \langle X[k,i], D[l,j]\rangle \le s_n
    \ \ \text{(near-active non-matched pairs)},

    c_e(i,i) + \langle D[k,i], X[l,i]\rangle + \langle X[k,i], D[l,i]\rangle \ge s_p
    \ \ \text{(near-active matched pairs)}, \qquad
    \langle X[k,i], D[k,i]\rangle = 0, \qquad |D|_\infty \le r,

(in tied mode: minimise s subject to the linearised c(i, j) <= s over near-active pairs i < j),
retracts X' = (X + D)/|X + D| row by row and **accepts the step only if the float64 margin of X'
is strictly larger** than that of X; otherwise the trust radius r shrinks.  The margin of the
returned configuration is therefore never smaller than that of the input: if nothing improves, the
input is returned unchanged.

"Near-active" means within ``4 r sqrt(d)`` (at least ``active_tol``) of the current extreme:
a constraint further away cannot become active inside the trust region.  Steps use HiGHS via
:func:`scipy.optimize.linprog`.  Near a rigid local optimum the LP model is exact to O(r^2), so
the iteration converges to the local optimum to about 1e-12 in a few dozen steps.

The polish works on the margin as computed in float64 (:func:`constellations.core.margins.code_margin`,
:func:`constellations.core.margins.free_margin`, re-exported here);
:func:`constellations.core.certify.certified_margin` turns the result into a rigorous bound.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from constellations.core.deadline import Deadline
from constellations.core.margins import code_margin, free_margin, pos_neg  # re-exported: imported from here

from constellations.core.results import Result, Status
from constellations.objective.reference import default_edges

__all__ = ["PolishResult", "polish", "code_margin", "free_margin", "pos_neg"]


@dataclass(frozen=True)
class PolishResult(Result):
    """Outcome of :func:`polish`.

    Attributes
    ----------
    X : ndarray
        Polished rows (same shape as the input); the input itself if no step improved.
    margin, margin_before : float
        Float64 margin (half gap) after and before; ``margin >= margin_before`` always.
    iterations : int
        LP steps attempted.
    accepted : int
        Steps that improved the margin.
    radius : float
        Final trust radius.
    reason : str
        Why it stopped: "converged", "radius", "max_iter", "time_limit", "stopped" or "lp_failed"
        (``status`` is the same as a :class:`~constellations.core.results.Status`).
    seconds : float
        Wall-clock seconds of the polish.
    """

    X: np.ndarray
    margin: float
    margin_before: float
    iterations: int
    accepted: int
    radius: float
    reason: str
    seconds: float = 0.0

    #: reason -> Status of the shared vocabulary
    STATUS = {"converged": Status.CONVERGED, "radius": Status.CONVERGED, "max_iter": Status.COMPLETED,
              "time_limit": Status.TIME_LIMIT, "stopped": Status.INTERRUPTED, "lp_failed": Status.FAILED}

    config = None  # the polished rows are X (tied: one code, free: M modalities)
    margin_certified = None  # float64 only; the search certifies its final result

    @property
    def status(self) -> Status:
        return self.STATUS[self.reason]

    @property
    def message(self) -> str:
        return f"LP polish: m {self.margin_before:.12g} -> {self.margin:.12g} in {self.accepted}/{self.iterations} steps " \
               f"({self.reason})"

    @property
    def n(self) -> int:
        return self.X.shape[-2]

    @property
    def dim(self) -> int:
        return self.X.shape[-1]

    @property
    def modalities(self) -> int | None:
        return self.X.shape[0] if self.X.ndim == 3 else None


def _normalize(X):
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def _solve(A_ub_D, A_ub_s, slack, A_eq_D, cost_s, nD, r, mu, lp_time):
    """Solve min cost_s . s + mu sum|D|/r over D = P - Q, 0 <= P, Q <= r, A_ub_D D + A_ub_s s <= slack,
    A_eq_D D = 0, where s are the shifts of the extreme values from their current ones.

    Everything is scaled by r (D = r D~, s = r s~) so the LP solver's absolute tolerances (1e-7 by
    default in HiGHS, tightened to 1e-9 here) act relative to the trust region, not to the O(1)
    inner products: the model stays accurate at r = 1e-9.  The L1 term (mu small) picks the
    smallest of the many optimal moves of a degenerate LP instead of an arbitrary vertex of the
    trust region.  Returns (D, s~) with D unscaled, or (None, None)."""
    import scipy.sparse as sp  # heavy (0.4 s to import): only when a polish runs

    ns = A_ub_s.shape[1]
    A_ub = sp.hstack([A_ub_D, -A_ub_D, A_ub_s], format="csr")
    A_eq = sp.hstack([A_eq_D, -A_eq_D, sp.csr_matrix((A_eq_D.shape[0], ns))], format="csr")
    cost = np.concatenate([np.full(2 * nD, mu), cost_s])
    bounds = [(0.0, 1.0)] * (2 * nD) + [(None, None)] * ns
    opts = {"primal_feasibility_tolerance": 1e-9, "dual_feasibility_tolerance": 1e-9}
    if lp_time:
        opts["time_limit"] = float(lp_time)
    # interior point for large LPs: dual simplex stalls on the highly degenerate ones (E8: 20 s vs 4 s)
    method = "highs-ipm" if nD > 1000 else "highs"
    from scipy.optimize import linprog  # heavy (0.5 s): only when a polish runs

    res = linprog(cost, A_ub=A_ub, b_ub=np.asarray(slack) / r, A_eq=A_eq, b_eq=np.zeros(A_eq.shape[0]),
                  bounds=bounds, method=method, options=opts)
    if res.status != 0 or res.x is None:
        return None, None
    return r * (res.x[:nD] - res.x[nD:2 * nD]), res.x[2 * nD:]


def _lp_code(C, r, tol, mu=1e-7, lp_time=None):
    import scipy.sparse as sp  # heavy (0.4 s to import): only when a polish runs

    N, d = C.shape
    G = C @ C.T
    iu, ju = np.triu_indices(N, 1)
    c = G[iu, ju]
    cmax = c.max()
    sel = c >= cmax - tol
    I, J, cv = iu[sel], ju[sel], c[sel]
    K = len(I)
    nD = N * d
    # rows: D_i . x_j + x_i . D_j - s <= -c
    rows = np.repeat(np.arange(K), 2 * d)
    cols = np.concatenate([I[:, None] * d + np.arange(d), J[:, None] * d + np.arange(d)], axis=1).ravel()
    vals = np.concatenate([C[J], C[I]], axis=1).ravel()
    A_D = sp.csr_matrix((vals, (rows, cols)), shape=(K, nD))
    A_s = sp.csr_matrix(-np.ones((K, 1)))
    # tangency: x_i . D_i = 0
    A_eq = sp.csr_matrix((C.ravel(), (np.repeat(np.arange(N), d), np.arange(nD))), shape=(N, nD))
    D, s = _solve(A_D, A_s, cmax - cv, A_eq, np.array([1.0]), nD, r, mu, lp_time)
    if D is None:
        return None, 0.0
    return D.reshape(N, d), -0.5 * r * s[0]  # predicted margin gain


def _lp_free(X, edges, r, tol, mu=1e-7, lp_time=None):
    import scipy.sparse as sp  # heavy (0.4 s to import): only when a polish runs

    M, N, d = X.shape
    nD = M * N * d
    rows, cols, vals, b, srow = [], [], [], [], []
    nrow = 0
    blocks = []
    pos = min(float(np.einsum("nd,nd->n", X[k], X[l]).min()) for k, l in edges)
    negs = []
    for k, l in edges:
        G = X[k] @ X[l].T
        dg = np.diag(G).copy()
        np.fill_diagonal(G, -np.inf)
        blocks.append((k, l, G, dg))
        negs.append(float(G.max()))
    neg = max(negs)
    ar = np.arange(d)
    for k, l, G, dg in blocks:
        # non-matched: D[k,i].X[l,j] + X[k,i].D[l,j] - s_n <= -c
        I, J = np.nonzero(G >= neg - tol)
        K = len(I)
        if K:
            rows.append(np.repeat(np.arange(nrow, nrow + K), 2 * d))
            cols.append(np.concatenate([(k * N + I)[:, None] * d + ar, (l * N + J)[:, None] * d + ar],
                                       axis=1).ravel())
            vals.append(np.concatenate([X[l][J], X[k][I]], axis=1).ravel())
            b.append(neg - G[I, J])
            srow.append(np.tile([0.0, -1.0], (K, 1)))
            nrow += K
        # matched: -(D[k,i].X[l,i] + X[k,i].D[l,i]) + s_p <= c
        I = np.nonzero(dg <= pos + tol)[0]
        K = len(I)
        if K:
            rows.append(np.repeat(np.arange(nrow, nrow + K), 2 * d))
            cols.append(np.concatenate([(k * N + I)[:, None] * d + ar, (l * N + I)[:, None] * d + ar],
                                       axis=1).ravel())
            vals.append(np.concatenate([-X[l][I], -X[k][I]], axis=1).ravel())
            b.append(dg[I] - pos)
            srow.append(np.tile([1.0, 0.0], (K, 1)))
            nrow += K
    A_D = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(nrow, nD))
    A_s = sp.csr_matrix(np.concatenate(srow))
    Xf = X.reshape(M * N, d)
    A_eq = sp.csr_matrix((Xf.ravel(), (np.repeat(np.arange(M * N), d), np.arange(nD))), shape=(M * N, nD))
    D, s = _solve(A_D, A_s, np.concatenate(b), A_eq, np.array([-0.5, 0.5]), nD, r, mu, lp_time)
    if D is None:
        return None, 0.0
    return D.reshape(M, N, d), 0.5 * r * (s[0] - s[1])


def polish(X, edges=None, *, tied: bool | None = None, radius: float = 1e-3, max_iter: int = 200,
           time_limit: float | Deadline | None = None, active_tol: float = 1e-6, min_radius: float = 1e-11,
           gain_tol: float = 1e-13, stop=None) -> PolishResult:
    """Polish ``X`` to a local maximum of the exact margin; never returns a worse margin.

    Parameters
    ----------
    X : ndarray, shape (M, N, d) (free) or (N, d) (tied code), unit rows
    edges : sequence of (k, l), optional
        Free mode only; default complete graph.
    tied : bool, optional
        Defaults to ``X.ndim == 2``.
    radius : float
        Initial trust radius (max-norm of a tangent move per coordinate).
    max_iter : int
        Budget in LP steps.
    time_limit : float or Deadline, optional
        Budget in time: seconds from now, or a :class:`~constellations.core.deadline.Deadline` (what
        the search passes; it also ends the polish on Ctrl-C, status "stopped").  No step starts once
        the slowest step so far would overrun it, and each LP gets half of what is left (HiGHS's own
        limit; building the LP and checking its step take about as long again).
    active_tol : float
        Smallest slack below which a constraint is always in the LP.
    min_radius, gain_tol :
        Stop when the radius or the LP's predicted gain falls below these.
    stop : callable, optional
        Asked before every LP step, as the deadline is; True ends the polish (status "stopped") with the
        best so far.

    Returns
    -------
    PolishResult
    """
    deadline = time_limit if isinstance(time_limit, Deadline) else Deadline.after(time_limit)
    X0 = np.array(X, dtype=np.float64)
    tied = (X0.ndim == 2) if tied is None else tied
    if tied:
        fmargin = code_margin
    else:
        edges = default_edges(X0.shape[0]) if edges is None else [tuple(e) for e in edges]
        fmargin = lambda Y: free_margin(Y, edges)  # noqa: E731
    d = X0.shape[-1]
    t0 = time.perf_counter()
    m0 = fmargin(X0)
    best, mbest = X0, m0
    r = float(radius)
    it = acc = 0
    status = "max_iter"
    step_cost = 0.0  # seconds of the slowest step so far: no step starts that would overrun
    while it < max_iter:
        t_step = time.perf_counter()
        if deadline.passed(within=step_cost):
            status = "time_limit"
            break
        if deadline.expired() or (stop is not None and stop()):
            status = "stopped"
            break
        if r < min_radius:
            status = "radius"
            break
        it += 1
        tol = max(active_tol, 4.0 * r * np.sqrt(d))
        lp_time = deadline.left()
        if lp_time is not None:  # half of what is left: building and checking the LP cost as much again
            lp_time = max(0.05, 0.5 * lp_time)
        try:
            D, pred = (_lp_code(best, r, tol, lp_time=lp_time) if tied
                       else _lp_free(best, edges, r, tol, lp_time=lp_time))
        except (ValueError, MemoryError):
            D = None
        if D is None:
            status = "lp_failed"
            break
        if pred <= gain_tol:
            status = "converged"
            break
        Y = _normalize(best + D)
        mY = fmargin(Y)
        step_cost = max(step_cost, time.perf_counter() - t_step)
        if mY > mbest:
            gain = mY - mbest
            best, mbest = Y, mY
            acc += 1
            if gain > 0.5 * pred and np.abs(D).max() > 0.9 * r:
                r *= 2.0
            elif gain < 0.25 * pred:
                r *= 0.5
        else:
            r *= 0.25
    if best is X0:
        best = np.array(X, dtype=np.float64)
    return PolishResult(best, float(mbest), float(m0), it, acc, r, status, time.perf_counter() - t0)

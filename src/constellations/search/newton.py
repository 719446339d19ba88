r"""Active-set Newton polish of a spherical code: solve the KKT system of its contact graph to 1e-15.

A code C (N unit rows in R^d; tied mode only: one (N, d) array) is a local minimiser of
c(C) = max_{i<j} <x_i, x_j> when, for its **contacts** A (the pairs at the maximum t), there are
multipliers lam_ij >= 0 ((i, j) in A) and mu_i (i = 1..N) with

.. math::

    F_1:\ \langle x_i, x_j\rangle - t = 0 \ \ ((i,j) \in A), \qquad
    F_2:\ |x_i|^2 - 1 = 0 \ \ (\text{all } i),

    F_3:\ \sum_{j:(i,j) \in A} \lambda_{ij} x_j + \mu_i x_i = 0 \ \ (\text{each } i,\ d \text{ equations}),
    \qquad F_4:\ 1 - \sum_{A} \lambda_{ij} = 0,

the KKT conditions of min t s.t. <x_i, x_j> <= t on A, |x_i|^2 = 1 (Lagrangian
t + sum lam_ij (<x_i, x_j> - t) + sum (mu_i / 2)(|x_i|^2 - 1)).  With K = |A| this is a square
system F(z) = 0 of K + N + N d + 1 equations in z = (X (N d), t, lam (K), mu (N)).  Its Jacobian
is singular along the rotations X -> X R (and along lam where the contact graph is over-determined),
so each step is a **minimum-norm, Levenberg-Marquardt-filtered** least-squares solution of
J(z) p = -F(z): with the SVD J = U diag(s) V^T (dense, shape (K + N + N d + 1)^2),
p = -V diag(s / (s^2 + nu)) U^T F, nu = |F|_2 s_max^2, which damps the near-null directions whose
s is O(|F|) off the solution set; the rows are renormalised after each step.  This converges
quadratically to the solution set (Yamashita and Fukushima 2001, under a local error bound), in
practice in 2-3 steps from 1e-7 away, until the contact inner products agree to a few units in the
last place.  Cost O(n^3) per step, n = N d + 1 + K + N <= :data:`MAX_UNKNOWNS`.

**Active set.**  A starts as the pairs within ``tol`` of the largest inner product (default:
the largest absolute jump in the sorted distances below the maximum, looked for within
:data:`TOL_CAP`), lam and mu from a non-negative least-squares fit (:func:`scipy.optimize.nnls`) of
F_3 projected onto the tangent spaces (mu_i = -<sum_j lam_ij x_j, x_i> eliminated), and F_4.
After Newton converges on A, a contact with lam_ij < 0 cannot stay active at a local optimum: if no
non-negative lam fits the new point either, those contacts leave A and Newton runs again.

**Acceptance.**  The result is returned only if its float64 code margin
(:func:`constellations.core.margins.code_margin`) is not smaller than the input's and every non-contact
inner product stays strictly below every contact one; otherwise the input comes back unchanged with
``improved=False`` and the reason.  Points in no contact are **rattlers** (same notion as
:mod:`search.recognition`, which counts pairs within 1e-8 of the maximum): they are left
where they are.  The polish proves nothing: :func:`constellations.core.certify.certified_margin` turns
the result into a rigorous bound.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from constellations.core.deadline import Deadline
from constellations.core.errors import ConfigurationError
from constellations.core.margins import code_margin
from constellations.core.results import Result, Status

__all__ = ["NewtonResult", "newton_polish", "TOL_CAP", "MAX_UNKNOWNS"]

#: Largest distance below the maximum at which a pair can be taken as a contact by default.
TOL_CAP = 1e-5
#: Dense steps only: above this many unknowns (N d + 1 + K + N) the input comes back unchanged.
MAX_UNKNOWNS = 3000
_UNIT_TOL = 1e-9
_RES_TARGET = 1e-15  # stop once the KKT residual is at the float64 floor
_LAM_FIT_TOL = 1e-12  # an NNLS fit this good means "non-negative multipliers exist"


@dataclass(frozen=True)
class NewtonResult(Result):
    """Outcome of :func:`newton_polish`.

    Attributes
    ----------
    X : ndarray, shape (N, d), float64
        The polished code; a copy of the input when ``improved`` is False.
    margin : float
        Float64 code margin (1 - c)/2 of ``X``; never below that of the input.
    improved : bool
        True when the Newton point was accepted (its margin >= the input's).
    contacts : tuple of (int, int)
        The active pairs i < j (final A; the initial A when the input is returned).
    rattlers : tuple of int
        Points in no contact.
    residual : float
        Max-norm of the KKT residual F (module docstring) at the returned ``X`` with its multipliers.
    iterations : int
        Newton steps taken.
    active_dropped : int
        Contacts removed from A because their multiplier went negative.
    seconds : float
        Wall-clock seconds of the polish.
    reason : str
        How Newton stopped ("converged": residual <= 1e-15; "stalled": two steps without halving
        it, the float64 floor; "max_iter"; "deadline"; "every multiplier went negative"), prefixed
        by why the input was kept when ``improved`` is False ("refused: ...", "input kept",
        "deadline passed before the start", "too large ...", "the input is a KKT point ...").
    """

    X: np.ndarray
    margin: float
    improved: bool
    contacts: tuple
    rattlers: tuple
    residual: float
    iterations: int
    active_dropped: int
    reason: str
    seconds: float = 0.0

    config = None  # the polished code is X (N, d)
    margin_certified = None  # float64 only; the search certifies its final result
    modalities = None  # a code: one set of rows, tied across any number of modalities

    @property
    def status(self) -> Status:
        """CONVERGED when the KKT residual reached its floor, TIME_LIMIT at the deadline, else COMPLETED."""
        if self.reason.startswith(("converged", "stalled")):
            return Status.CONVERGED
        return Status.TIME_LIMIT if "deadline" in self.reason else Status.COMPLETED

    @property
    def message(self) -> str:
        return f"Newton/KKT polish: m = {self.margin:.15g}, residual {self.residual:.2g} ({self.reason})"

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def dim(self) -> int:
        return self.X.shape[1]


def _check(C, tol, max_iter, deadline):
    if not isinstance(deadline, Deadline):
        raise ConfigurationError(f"deadline must be a constellations.core.deadline.Deadline "
                                 f"(e.g. Deadline.after(seconds)), got {deadline!r}")
    C = np.array(C, dtype=np.float64)  # a copy: the input is never touched
    if C.ndim != 2:
        raise ConfigurationError(f"newton_polish needs one code of shape (N, d), got ndim {C.ndim}")
    N, d = C.shape
    if N < 2 or d < 1:
        raise ConfigurationError(f"newton_polish needs N >= 2 points in d >= 1 dimensions, got {C.shape}")
    if not np.isfinite(C).all():
        raise ConfigurationError("newton_polish: the code has NaN or Inf entries")
    dev = float(np.abs(np.linalg.norm(C, axis=1) - 1.0).max())
    if dev > _UNIT_TOL:
        raise ConfigurationError(f"newton_polish needs unit rows (largest | |x| - 1 | = {dev:.3g})")
    if tol is not None and not (np.isfinite(tol) and tol >= 0):
        raise ConfigurationError(f"tol must be a finite number >= 0, got {tol}")
    if not (np.isscalar(max_iter) and float(max_iter).is_integer() and max_iter >= 0):
        raise ConfigurationError(f"max_iter must be an integer >= 0, got {max_iter}")
    return C


def _initial_active(G, tol):
    """Pairs (I, J), I < J, within ``tol`` of the largest off-diagonal entry of the Gram matrix G.

    Default tol: sort the distances to the maximum that are below TOL_CAP, add TOL_CAP itself as a
    sentinel, and cut at the largest jump: contacts equalised to 1e-12 (or perturbed by 1e-7) sit
    far closer to each other than to the next pair."""
    iu, ju = np.triu_indices(G.shape[0], 1)
    g = G[iu, ju]
    dist = g.max() - g
    if tol is None:
        near = np.sort(dist[dist < TOL_CAP])
        ends = np.append(near, TOL_CAP)
        k = int(np.argmax(np.diff(ends)))
        tol = ends[k]
    sel = dist <= tol
    return iu[sel], ju[sel]


def _fit_multipliers(X, I, J):
    """(lam, mu, misfit): NNLS of the projected F_3 and F_4 for lam >= 0, then mu_i = -<g_i, x_i>.

    Columns: contact k = (i, j) puts (I - x_i x_i^T) x_j in block i and (I - x_j x_j^T) x_i in
    block j; the last row asks sum lam = 1."""
    N, d = X.shape
    K = len(I)
    dots = np.einsum("kd,kd->k", X[I], X[J])
    M = np.zeros((N * d + 1, K))
    cols = np.arange(K)
    for a in range(d):
        M[I * d + a, cols] += X[J, a] - dots * X[I, a]
        M[J * d + a, cols] += X[I, a] - dots * X[J, a]
    M[-1] = 1.0
    b = np.zeros(N * d + 1)
    b[-1] = 1.0
    try:
        from scipy.optimize import nnls  # heavy (0.5 s): only when a Newton polish runs

        lam, misfit = nnls(M, b, maxiter=50 * max(K, 1))
    except RuntimeError:  # NNLS ran out of iterations: no usable fit
        return np.full(K, 1.0 / K), np.zeros(N), np.inf
    return lam, _mu(X, I, J, lam), float(misfit)


def _neighbour_sum(X, I, J, lam):
    """S, shape (N, d): S_i = sum_{j:(i,j) in A} lam_ij x_j."""
    S = np.zeros_like(X)
    np.add.at(S, I, lam[:, None] * X[J])
    np.add.at(S, J, lam[:, None] * X[I])
    return S


def _mu(X, I, J, lam):
    return -np.einsum("nd,nd->n", _neighbour_sum(X, I, J, lam), X)


def _residual(X, t, lam, mu, I, J):
    """F = (F_1 (K), F_2 (N), F_3 (N d), F_4 (1)) of the module docstring."""
    S = _neighbour_sum(X, I, J, lam)
    F1 = np.einsum("kd,kd->k", X[I], X[J]) - t
    F2 = np.einsum("nd,nd->n", X, X) - 1.0
    F3 = (S + mu[:, None] * X).ravel()
    return np.concatenate([F1, F2, F3, [1.0 - lam.sum()]])


def _jacobian(X, lam, mu, I, J):
    """Dense dF/dz, z = (X (N d), t, lam (K), mu (N)); shape (K + N + N d + 1, N d + 1 + K + N)."""
    import scipy.sparse as sp  # heavy (0.4 s to import): only when a Newton polish runs

    N, d = X.shape
    K = len(I)
    nx = N * d
    cT, cL, cM = nx, nx + 1, nx + 1 + K  # first column of t, lam, mu
    r2, r3, r4 = K, K + N, K + N + nx  # first row of F_2, F_3, F_4
    ar, k = np.arange(d), np.arange(K)
    rows, cols, vals = [], [], []

    def put(r, c, v):
        rows.append(np.ravel(r)), cols.append(np.ravel(c)), vals.append(np.ravel(v))

    put(np.repeat(k, d), I[:, None] * d + ar, X[J])  # F_1: d/dx_i = x_j
    put(np.repeat(k, d), J[:, None] * d + ar, X[I])  #      d/dx_j = x_i
    put(k, np.full(K, cT), -np.ones(K))  # d/dt = -1
    put(r2 + np.repeat(np.arange(N), d), np.arange(nx), 2.0 * X.ravel())  # F_2: 2 x_i
    # F_3 block i: lam_ij I (d/dx_j), mu_i I (d/dx_i), x_j (d/dlam_ij), x_i (d/dmu_i)
    put(r3 + I[:, None] * d + ar, J[:, None] * d + ar, np.repeat(lam, d))
    put(r3 + J[:, None] * d + ar, I[:, None] * d + ar, np.repeat(lam, d))
    put(r3 + np.arange(nx), np.arange(nx), np.repeat(mu, d))
    put(r3 + I[:, None] * d + ar, np.repeat(cL + k, d), X[J])
    put(r3 + J[:, None] * d + ar, np.repeat(cL + k, d), X[I])
    put(r3 + np.arange(nx), cM + np.repeat(np.arange(N), d), X.ravel())
    put(np.full(K, r4), cL + k, -np.ones(K))  # F_4
    shape = (K + N + nx + 1, nx + 1 + K + N)
    return sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=shape).toarray()  # coo sums the duplicates (none here, but safe)


def _lm_step(Jm, F):
    """p = -V diag(s / (s^2 + nu)) U^T F, Jm = U diag(s) V^T, nu = |F|_2 s_max^2 (Levenberg-Marquardt).

    A filtered minimum-norm Newton step: directions with s >> sqrt(nu) get the Newton step,
    those with s << sqrt(nu) (the rotations, the free part of lam, whose s is O(|F|) off the
    solution set) are damped away.  With nu ~ |F| the iteration still converges quadratically
    to a non-isolated solution set (Yamashita and Fukushima 2001, local error bound)."""
    import scipy.linalg  # heavy: only when a Newton step runs

    U, s, Vt = scipy.linalg.svd(Jm, full_matrices=False, lapack_driver="gesdd")
    nu = float(np.linalg.norm(F)) * s[0] ** 2
    return -(Vt.T @ ((s / (s * s + nu)) * (U.T @ F)))


def _no_time(deadline: Deadline, seconds: float) -> bool:
    """Has ``deadline`` expired (its time, or Ctrl-C), or would a step of ``seconds`` carry past it?"""
    return deadline.expired() or deadline.passed(within=seconds)


def _newton(X, t, lam, mu, I, J, steps, deadline, cost):
    """Min-norm Newton steps on F = 0 for the active set (I, J); keeps the iterate of least residual.

    Stops at the float64 floor, after two steps without halving the residual, after ``steps`` steps,
    or when ``deadline`` expired or the slowest step so far (``cost[0]``, updated) would overrun it.
    Returns (X, t, lam, mu, residual, steps taken, stop reason)."""
    N, d = X.shape
    K = len(I)
    best = (X, t, lam, mu)
    rbest = float(np.abs(_residual(X, t, lam, mu, I, J)).max())
    taken, stalls, why = 0, 0, "max_iter"
    while taken < steps:
        if rbest <= _RES_TARGET:
            why = "converged"
            break
        t0 = time.time()
        if _no_time(deadline, cost[0]):
            why = "deadline"
            break
        X, t, lam, mu = best
        F = _residual(X, t, lam, mu, I, J)
        p = _lm_step(_jacobian(X, lam, mu, I, J), F)
        Xn = X + p[:N * d].reshape(N, d)
        Xn /= np.linalg.norm(Xn, axis=1, keepdims=True)  # retraction: rows stay unit
        tn, lamn, mun = t + p[N * d], lam + p[N * d + 1:N * d + 1 + K], mu + p[N * d + 1 + K:]
        r = float(np.abs(_residual(Xn, tn, lamn, mun, I, J)).max())
        taken += 1
        cost[0] = max(cost[0], time.time() - t0)
        stalls = 0 if r < 0.5 * rbest else stalls + 1
        if r < rbest:
            best, rbest = (Xn, tn, lamn, mun), r
        if stalls >= 2:
            why = "stalled"
            break
    return (*best, rbest, taken, why)


def _first_cost(N, d, K):
    """Seconds one dense step is expected to take before any was timed: an SVD of the n x n
    Jacobian, ~2 n^3 ns (measured: 1.4 s for n = 1205 on 2 shared cores), plus 2 ms."""
    n = N * d + 1 + K + N
    return 2e-3 + 2.0 * n ** 3 / 1e9


def _pairs(I, J):
    return tuple((int(i), int(j)) for i, j in zip(I, J))


def _rattlers(N, I, J):
    hit = np.zeros(N, bool)
    hit[I] = hit[J] = True
    return tuple(int(i) for i in np.nonzero(~hit)[0])


def newton_polish(C, *, tol: float | None = None, max_iter: int = 50,
                  deadline: Deadline = Deadline.NEVER) -> NewtonResult:
    """:func:`_newton_polish`, timed (``seconds`` of the result)."""
    t0 = time.perf_counter()
    r = _newton_polish(C, tol=tol, max_iter=max_iter, deadline=deadline)
    return replace(r, seconds=time.perf_counter() - t0)


def _newton_polish(C, *, tol: float | None = None, max_iter: int = 50,
                   deadline: Deadline = Deadline.NEVER) -> NewtonResult:
    """Drive the contact graph of a code to its KKT point (module docstring); never lowers the margin.

    Parameters
    ----------
    C : array_like, shape (N, d)
        A code (tied mode only), N >= 2, rows of unit norm to 1e-9, finite.  Best near a local
        optimum, e.g. after :func:`search.polish.polish` (contacts equal to ~1e-12).
    tol : float, optional
        Pairs within ``tol`` of the largest inner product start as contacts; default adaptive
        (:func:`_initial_active`, at most :data:`TOL_CAP`).
    max_iter : int
        Newton steps in all, over all active sets.
    deadline : Deadline, optional
        :class:`~constellations.core.deadline.Deadline` (default none): no step starts once it has
        expired (its time, or Ctrl-C), nor one that the slowest step so far (or, before the first, an
        estimate from the size) would carry past it.  ``Deadline.after(seconds)`` for a time limit.

    Returns
    -------
    NewtonResult
        ``improved`` False (and ``X`` a copy of ``C``) when the input was kept: budget, size above
        :data:`MAX_UNKNOWNS`, or the Newton point failed the acceptance test.

    Raises
    ------
    ConfigurationError
        NaN/Inf, ndim != 2, N < 2, rows off the unit sphere, tol < 0, max_iter < 0, a deadline that is
        not a :class:`~constellations.core.deadline.Deadline`.
    """
    X0 = _check(C, tol, max_iter, deadline)
    N, d = X0.shape
    m0 = code_margin(X0)
    I, J = I0, J0 = _initial_active(X0 @ X0.T, tol)

    def keep(reason, res=np.nan, its=0, dropped=0):
        return NewtonResult(X0.copy(), m0, False, _pairs(I0, J0), _rattlers(N, I0, J0), float(res), its, dropped,
                            reason)

    if deadline.expired():
        return keep("deadline passed before the start")
    if N * d + 1 + len(I) + N > MAX_UNKNOWNS:
        return keep(f"too large for dense Newton steps ({N * d + 1 + len(I) + N} > {MAX_UNKNOWNS} unknowns)")
    cost = [_first_cost(N, d, len(I))]
    if _no_time(deadline, cost[0]):  # before the multiplier fit, O(K^2 N d)
        return keep(f"deadline: no time for a step (~{cost[0]:.2g} s)")
    lam, mu, _ = _fit_multipliers(X0, I, J)
    t = float(np.einsum("kd,kd->k", X0[I], X0[J]).max())
    res0 = float(np.abs(_residual(X0, t, lam, mu, I, J)).max())
    X, its, dropped, why = X0, 0, 0, "max_iter"
    while True:
        X, t, lam, mu, res, taken, why = _newton(X, t, lam, mu, I, J, max_iter - its, deadline, cost)
        its += taken
        if why in ("deadline", "max_iter") or lam.min() >= 0:
            break
        if _no_time(deadline, cost[0]):  # no time for a re-fit and a step
            why = "deadline"
            break
        lam2, mu2, misfit = _fit_multipliers(X, I, J)
        if misfit <= _LAM_FIT_TOL:  # Newton's lam was one of many; a non-negative one fits too
            lam, mu = lam2, mu2
            res = float(np.abs(_residual(X, t, lam, mu, I, J)).max())
            break
        keep_k = lam >= 0
        if keep_k.sum() == 0:
            why = "every multiplier went negative"
            break
        dropped += int((~keep_k).sum())
        I, J = I[keep_k], J[keep_k]
        # restart from the input: the point reached with the larger A may be far off when that A had
        # no KKT point at all
        X = X0
        t = float(np.einsum("kd,kd->k", X[I], X[J]).max())
        lam, mu, _ = _fit_multipliers(X, I, J)
    if X is X0:
        if why == "converged" and not dropped:
            return keep("the input is a KKT point to the float64 floor already", res0, its)
        return keep(f"input kept ({why})", res0, its, dropped)
    return _accept(X0, m0, X, I, J, res, its, dropped, why, keep)


def _accept(X0, m0, X, I, J, res, its, dropped, why, keep):
    """The Newton point if its margin is >= m0 and all non-contacts lie below all contacts."""
    N = X.shape[0]
    m = code_margin(X)
    G = X @ X.T
    on = np.zeros((N, N), bool)
    on[I, J] = on[J, I] = True
    np.fill_diagonal(on, True)
    low = float(G[I, J].min())
    off = G[~on]
    if off.size and off.max() >= low:
        return keep(f"refused: a non-contact pair reached the contacts ({why})", res, its, dropped)
    if not m >= m0:
        return keep(f"refused: margin {m!r} < input margin {m0!r} ({why})", res, its, dropped)
    return NewtonResult(X, m, True, _pairs(I, J), _rattlers(N, I, J), res, its, dropped, why)

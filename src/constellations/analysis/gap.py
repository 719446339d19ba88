"""The modality gap (Theorem 3.6): a direction h with every U_i on its positive side, and how many V_j on
its negative side.

If N >= d + 2, all matched inner products are > 0 and all non-matched are < 0, some unit h has
<h, U_i> > 0 for all i and <h, V_j> < 0 for at least N - d indices j.  For each edge (U = X[k], V = X[l])
:func:`modality_gap` solves linear programs with SciPy's HiGHS:

1. max gamma s.t. <h, U_i> >= gamma, <h, V_j> <= -gamma, -1 <= h <= 1.  gamma > 0 iff the sets are strictly
   separated by a hyperplane through the origin ("linearly separable"): then all N V_j are negative.
2. Otherwise max gamma s.t. <h, U_i> >= gamma only; gamma <= 0 means no h puts all U_i on the positive side.
3. Otherwise, with <h, U_i> >= gamma_U / 2 imposed, minimise the total hinge sum_j max(0, <h, V_j> + gamma_U/2),
   re-weighted three times (re-weighted l1) to increase the count; the mean-difference direction
   mean(U) - mean(V) is tried as well.  The best count of V_j with <h, V_j> < 0 is reported (a lower bound on
   the maximum count, which is NP-hard in general; it is exact whenever step 1 succeeds).

The LPs have N rows of d dense coefficients (HiGHS needs about 20 s for 300 items in d = 1152).  Above
``gap_sample`` items (default 200) :func:`edge_gap_test` first evaluates the mean-difference direction on
all N items (if it separates them, no LP is needed); otherwise the LPs run on a seeded random subset of
that many items, each with a time limit (``gap_time``, default 10 s), the direction found is evaluated on
all N items (its counts are exact for that h), and :attr:`GapTest.sample` records the subset size: a "not
found" or "not separable" answer is then about the subset only.  The hypotheses are always checked on all
N items.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from constellations.core.errors import ConfigurationError

__all__ = ["GapTest", "modality_gap", "edge_gap_test"]


@dataclass(frozen=True)
class GapTest:
    """Theorem 3.6 test for one edge (U = X[k], V = X[l]).

    Attributes
    ----------
    edge : (k, l)
    found : bool
        A direction h with <h, U_i> > 0 for all i was found (False: none exists among the LP's items, by LP 2).
    h : tuple of float or None
        Unit direction found.
    n_negative : int
        Number of j (of all N) with <h, V_j> < 0 (0 if not found).
    separable : bool
        U and V are strictly separated by a hyperplane through the origin (then n_negative = N).
    gamma : float
        Optimal value of LP 1 (> 0 iff separable), in the box-normalised scale.
    hypotheses : bool
        N >= d + 2, all matched inner products > 0 and all non-matched < 0 (all N items).
    guarantee : int or None
        N - d when ``hypotheses`` hold (the theorem then promises n_negative >= N - d for the best h).
    method : str
    sample : int or None
        Number of items the LPs saw when they ran on a random subset (None: all N).
    """

    edge: tuple
    found: bool
    h: tuple | None
    n_negative: int
    separable: bool
    gamma: float
    hypotheses: bool
    guarantee: int | None
    method: str
    sample: int | None = None


def edge_gap_test(rows, k: int, l: int, hyp: bool, gap_sample: int, rng, time_limit) -> GapTest:
    """The test for the edge (k, l) of the unit rows ``rows`` (:class:`~.rows.Rows`): all N items, or above
    ``gap_sample`` the mean difference on all N, then the LPs on a random subset (``rng``) with their h
    counted on all N.  ``hyp``: the theorem's sign hypotheses hold on all N items."""
    N, d = rows.N, rows.d
    if N <= gap_sample:
        U, V = rows.f64(k, np.arange(N)), rows.f64(l, np.arange(N))
        return modality_gap(U, V, hypotheses=hyp, edge=(k, l), time_limit=time_limit)
    hyp_full = bool(hyp and N >= d + 2)
    guarantee = N - d if hyp_full else None

    def on_all(h):
        n_neg, all_pos = 0, True
        for (s, u), (_, v) in zip(rows.chunks(k), rows.chunks(l)):
            all_pos &= bool((u @ h > 0).all())
            n_neg += int(np.count_nonzero(v @ h < 0))
        return all_pos, n_neg

    # The mean difference often separates real modalities outright: then no LP is needed.
    md = (rows.sums[k] - rows.sums[l]) / N
    md_pos, md_neg = on_all(md) if np.linalg.norm(md) > 0 else (False, 0)
    if md_pos and md_neg == N:
        return GapTest((k, l), True, tuple((md / np.linalg.norm(md)).tolist()), N, True, math.nan, hyp_full,
                       guarantee, f"mean(U) - mean(V) separates all {N} items strictly (no LP needed)")
    sel = np.sort(rng.choice(N, size=gap_sample, replace=False))
    g = modality_gap(rows.f64(k, sel), rows.f64(l, sel), hypotheses=False, edge=(k, l), time_limit=time_limit)
    note = f"; LPs on a random subset of {gap_sample} of {N} items, h evaluated on all {N}"
    best = None
    if g.found:
        h = np.array(g.h)
        all_pos, n_neg = on_all(h)
        if all_pos:
            best = (h, n_neg, g.method + note)
        else:
            note += "; the LP's h fails on some U_i outside the subset"
    if md_pos and (best is None or md_neg > best[1]):
        best = (md / np.linalg.norm(md), md_neg, f"mean(U) - mean(V) puts all U_i positive (beats the LP{note})")
    if best is None:
        return GapTest((k, l), False, None, 0, False, g.gamma, hyp_full, guarantee, g.method + note, gap_sample)
    h, n_neg, method = best
    return GapTest((k, l), True, tuple(h.tolist()), n_neg, n_neg == N, g.gamma, hyp_full, guarantee, method,
                   gap_sample)


class _LPTimeout(Exception):
    """HiGHS stopped at its time limit."""


def _lp(c, A_ub, b_ub, bounds, time_limit=None):
    from scipy.optimize import linprog

    opts = {} if time_limit is None else {"time_limit": float(time_limit)}
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs", options=opts)
    if res.status == 1 and time_limit is not None:
        raise _LPTimeout
    if res.status != 0:  # pragma: no cover - these LPs are always feasible and bounded
        raise ConfigurationError(f"LP failed: {res.message}")
    return res


def modality_gap(U, V, *, hypotheses: bool | None = None, edge=(0, 1), reweight: int = 3,
                 time_limit: float | None = None) -> GapTest:
    """The Theorem 3.6 test for unit rows U, V (N, d): see the module docstring for the LPs.

    ``time_limit`` (seconds, per LP) stops HiGHS; the result then says so in ``method`` and keeps the
    best direction found before (LP 1 or 2 cut short: ``found=False`` with that reason).
    """
    try:
        return _modality_gap(U, V, hypotheses, edge, reweight, time_limit)
    except _LPTimeout:
        U = np.asarray(U, dtype=np.float64)
        N, d = U.shape
        hyp = bool(hypotheses and N >= d + 2)
        return GapTest(tuple(edge), False, None, 0, False, math.nan, hyp, N - d if hyp else None,
                       f"LP stopped at the time limit of {time_limit:g} s before a direction was found")


def _modality_gap(U, V, hypotheses, edge, reweight, time_limit) -> GapTest:
    from scipy import sparse

    U = np.asarray(U, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    N, d = U.shape
    if hypotheses is None:
        G = U @ V.T
        off = G[~np.eye(N, dtype=bool)]
        hypotheses = bool(np.diag(G).min() > 0 and off.max() < 0)
    hyp = bool(hypotheses and N >= d + 2)
    guarantee = N - d if hyp else None
    box = [(-1.0, 1.0)] * d

    # LP 1: strict homogeneous separation; variables (h, gamma), maximise gamma <= 1.
    A1 = np.vstack([np.hstack([-U, np.ones((N, 1))]), np.hstack([V, np.ones((N, 1))])])
    r1 = _lp(np.r_[np.zeros(d), -1.0], A1, np.zeros(2 * N), box + [(None, 1.0)], time_limit)
    gamma = float(r1.x[-1])

    def count(h):
        return int(np.count_nonzero(V @ h < 0)), bool((U @ h > 0).all())

    if gamma > 1e-9:
        h = r1.x[:d]
        n_neg, ok = count(h)
        if ok and n_neg == N:
            return GapTest(tuple(edge), True, tuple((h / np.linalg.norm(h)).tolist()), N, True, gamma, hyp,
                           guarantee, "LP: strictly separable through the origin")
    # LP 2: can all U be put on the positive side?
    r2 = _lp(np.r_[np.zeros(d), -1.0], np.hstack([-U, np.ones((N, 1))]), np.zeros(N), box + [(None, 1.0)],
             time_limit)
    gU = float(r2.x[-1])
    if gU <= 1e-9:
        return GapTest(tuple(edge), False, None, 0, False, gamma, hyp, guarantee,
                       "LP: no h with <h, U_i> > 0 for all i (0 lies in the convex hull of the U_i)")
    eps = gU / 2
    best_h, best_n = r2.x[:d], count(r2.x[:d])[0]
    md = U.mean(axis=0) - V.mean(axis=0)
    n_md, ok = count(md)
    if ok and n_md > best_n:
        best_h, best_n = md, n_md
    # LP 3: hinge, re-weighted.  Variables (h, s): <h,U_i> >= eps, <h,V_j> - s_j <= -eps, s >= 0.
    A3 = sparse.vstack([sparse.hstack([sparse.csr_matrix(-U), sparse.csr_matrix((N, N))]),
                        sparse.hstack([sparse.csr_matrix(V), -sparse.identity(N)])]).tocsr()
    b3 = np.r_[-eps * np.ones(N), -eps * np.ones(N)]
    w = np.ones(N)
    note = ""
    for _ in range(1 + reweight):
        try:
            r3 = _lp(np.r_[np.zeros(d), w], A3, b3, box + [(0, None)] * N, time_limit)
        except _LPTimeout:
            note = f"; hinge LP stopped at the time limit of {time_limit:g} s"
            break
        h = r3.x[:d]
        n_neg, ok = count(h)
        if ok and n_neg > best_n:
            best_h, best_n = h, n_neg
        w = 1.0 / (r3.x[d:] + 1e-3 * eps)
        w /= w.max()
    h = best_h / np.linalg.norm(best_h)
    return GapTest(tuple(edge), True, tuple(h.tolist()), int(best_n), False, gamma, hyp, guarantee,
                   "LP: all U_i positive; V_j negatives maximised by re-weighted hinge LP (lower bound)" + note)

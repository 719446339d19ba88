r"""The smoothed margin and its Riemannian gradient: fused, parallel Numba kernels.

Same function and semantics as :mod:`solvers.objective_numpy` (the reference; see its docstring
for the formulas).  The non-matched log-sum-exp, the O(N^2 d) part, is computed by two fused
kernels that never store an inner-product matrix:

1. ``_offdiag_max_py``: the exact maximum of <A_i, B_j> over i != j (parallel over rows);
2. ``_offdiag_accum_py``: Z = sum_{i != j} exp(beta (<A_i, B_j> - max)) and the weighted sums
   GA_i = sum_j w_ij B_j, GB_j = sum_i w_ij A_i.  Rows are split into one chunk per thread, each
   with a private GB accumulator (reduced afterwards), so there are no write races.

Terms exp(beta (c - max)) below e^-60 are skipped (they cannot change Z >= 1 in float64
beyond 1e-26 relative each).  Memory is O(threads * N * d).  The O(M N d) matched part is plain NumPy.  Kernels compile on
first use (about a second, cached on disk when possible).
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .objective_numpy import _tangent, default_edges, matched_softmin

__all__ = ["value_and_grad"]

#: Exponents below this are dropped: e^-60 < 1e-26 relative to the largest term (which is 1).
_CUTOFF = -60.0


def _offdiag_max_py(A, B):
    N, d = A.shape
    rowmax = np.empty(N)
    for i in prange(N):
        best = -np.inf
        for j in range(N):
            if j == i:
                continue
            s = 0.0
            for t in range(d):
                s += A[i, t] * B[j, t]
            if s > best:
                best = s
        rowmax[i] = best
    return rowmax.max()


def _offdiag_accum_py(A, B, beta, shift, want_gb, nchunks):
    N, d = A.shape
    GA = np.zeros((N, d))
    GBs = np.zeros((nchunks, N if want_gb else 1, d))
    Zs = np.zeros(nchunks)
    chunk = (N + nchunks - 1) // nchunks
    for c in prange(nchunks):
        lo = c * chunk
        hi = min(N, lo + chunk)
        z = 0.0
        for i in range(lo, hi):
            for j in range(N):
                if j == i:
                    continue
                s = 0.0
                for t in range(d):
                    s += A[i, t] * B[j, t]
                arg = beta * (s - shift)
                if arg < _CUTOFF:  # below 1e-26 of the largest term: skip (and avoid slow libm underflow)
                    continue
                w = np.exp(arg)
                z += w
                for t in range(d):
                    GA[i, t] += w * B[j, t]
                if want_gb:
                    for t in range(d):
                        GBs[c, j, t] += w * A[i, t]
        Zs[c] = z
    GB = GBs.sum(axis=0)
    return Zs.sum(), GA, GB


_max_par = njit(parallel=True, cache=True)(_offdiag_max_py)
_max_ser = njit(cache=True)(_offdiag_max_py)
_accum_par = njit(parallel=True, cache=True)(_offdiag_accum_py)
_accum_ser = njit(cache=True)(_offdiag_accum_py)

#: Below this many multiply-adds per pass (N^2 d) the serial kernels run: a parallel region costs
#: more than it saves, and on a busy machine waiting for worker threads costs milliseconds.
PARALLEL_MIN_WORK = 2_000_000


def _kernels(N, d):
    if N * N * d >= PARALLEL_MIN_WORK and numba.get_num_threads() > 1:
        return _max_par, _accum_par, int(max(1, min(N, numba.get_num_threads())))
    return _max_ser, _accum_ser, 1


def value_and_grad(X, beta: float, edges=None, *, block=None):
    """Smoothed margin F_beta and its Riemannian gradient (Numba; see objective_numpy).

    ``block`` is accepted for signature compatibility and ignored (the kernels are fused).
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    beta = float(beta)
    if X.ndim == 2:
        kmax, kacc, nc = _kernels(X.shape[0], X.shape[1])
        q = kmax(X, X)
        Z, GA, _ = kacc(X, X, beta, q, False, nc)
        Q = q + np.log(Z) / beta
        return 0.5 * (1.0 - Q), _tangent(X, -GA / Z)
    M, N, _ = X.shape
    edges = default_edges(M) if edges is None else [tuple(e) for e in edges]
    P, G = matched_softmin(X, edges, beta)
    kmax, kacc, nc = _kernels(N, X.shape[2])
    q = max(kmax(X[k], X[l]) for k, l in edges)
    GQ = np.zeros_like(X)
    Zq = 0.0
    for k, l in edges:
        z, GA, GB = kacc(X[k], X[l], beta, q, True, nc)
        Zq += z
        GQ[k] += GA
        GQ[l] += GB
    Q = q + np.log(Zq) / beta
    return 0.5 * (P - Q), _tangent(X, 0.5 * (G - GQ / Zq))

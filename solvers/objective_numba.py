r"""The smoothed margin and its Riemannian gradient: fused, parallel Numba kernels.

Same function and semantics as :mod:`solvers.objective_numpy` (the reference; see its docstring
for the formulas).  The non-matched log-sum-exp, the O(N^2 d) part, is computed by two fused
kernels that never store an inner-product matrix:

1. ``_offdiag_max``: the exact maximum of <A_i, B_j> over i != j (parallel over rows);
2. ``_offdiag_accum``: Z = sum_{i != j} exp(beta (<A_i, B_j> - max)) and the weighted sums
   GA_i = sum_j w_ij B_j, GB_j = sum_i w_ij A_i.  Rows are split into one chunk per thread, each
   with a private GB accumulator (reduced afterwards), so there are no write races.

Memory is O(threads * N * d).  The O(M N d) matched part is plain NumPy.  Kernels compile on
first use (about a second, cached on disk when possible).
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .objective_numpy import _tangent, default_edges

__all__ = ["value_and_grad"]


@njit(parallel=True, cache=True)
def _offdiag_max(A, B):
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


@njit(parallel=True, cache=True)
def _offdiag_accum(A, B, beta, shift, want_gb, nchunks):
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
                w = np.exp(beta * (s - shift))
                z += w
                for t in range(d):
                    GA[i, t] += w * B[j, t]
                if want_gb:
                    for t in range(d):
                        GBs[c, j, t] += w * A[i, t]
        Zs[c] = z
    GB = GBs.sum(axis=0)
    return Zs.sum(), GA, GB


def _nchunks(N):
    return int(max(1, min(N, numba.get_num_threads())))


def value_and_grad(X, beta: float, edges=None, *, block=None):
    """Smoothed margin F_beta and its Riemannian gradient (Numba; see objective_numpy).

    ``block`` is accepted for signature compatibility and ignored (the kernels are fused).
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    beta = float(beta)
    if X.ndim == 2:
        q = _offdiag_max(X, X)
        Z, GA, _ = _offdiag_accum(X, X, beta, q, False, _nchunks(X.shape[0]))
        Q = q + np.log(Z) / beta
        return 0.5 * (1.0 - Q), _tangent(X, -GA / Z)
    M, N, _ = X.shape
    edges = default_edges(M) if edges is None else [tuple(e) for e in edges]
    diags = [np.einsum("nd,nd->n", X[k], X[l]) for k, l in edges]
    p = min(float(dg.min()) for dg in diags)
    G = np.zeros_like(X)
    Zp = 0.0
    for (k, l), dg in zip(edges, diags):
        w = np.exp(-beta * (dg - p))
        Zp += float(w.sum())
        G[k] += w[:, None] * X[l]
        G[l] += w[:, None] * X[k]
    P = p - np.log(Zp) / beta
    G /= Zp
    q = max(_offdiag_max(X[k], X[l]) for k, l in edges)
    GQ = np.zeros_like(X)
    Zq = 0.0
    nc = _nchunks(N)
    for k, l in edges:
        z, GA, GB = _offdiag_accum(X[k], X[l], beta, q, True, nc)
        Zq += z
        GQ[k] += GA
        GQ[l] += GB
    Q = q + np.log(Zq) / beta
    return 0.5 * (P - Q), _tangent(X, 0.5 * (G - GQ / Zq))

r"""The smoothed margin and its Riemannian gradient: fused, parallel Numba kernels.

Same function and semantics as :mod:`objective.reference` (the reference; see its docstring
for the formulas).  The non-matched log-sum-exp, the O(N^2 d) part, is computed by two fused
kernels that never store an inner-product matrix:

1. ``_offdiag_max_py``: the exact maximum of <A_i, B_j> over i != j (parallel over rows);
2. ``_offdiag_accum_py``: Z = sum_{i != j} exp(beta (<A_i, B_j> - max)) and the weighted sums
   GA_i = sum_j w_ij B_j, GB_j = sum_i w_ij A_i.  Rows are split into one chunk per thread, each
   with a private GB accumulator (reduced afterwards), so there are no write races.

Terms exp(beta (c - max)) below e^-60 are skipped (they cannot change Z >= 1 in float64
beyond 1e-26 relative each).  Memory is O(threads * N * d).  The O(M N d) matched part is plain
NumPy.  Numba is imported and the kernels compiled on first use (:mod:`core.jit`: about a second,
cached on disk when possible), not when this module is imported.
"""
from __future__ import annotations

from functools import cache

import numpy as np

from constellations.core.jit import njit
from constellations.objective.reference import _tangent, check_stop, default_edges, matched_softmin

__all__ = ["value_and_grad"]

#: Exponents below this are dropped: e^-60 < 1e-26 relative to the largest term (which is 1).
_CUTOFF = -60.0

#: Numba's ``prange`` in the compiled kernels (:func:`core.jit.njit`); a plain range here.
prange = range


def _offdiag_max_py(A, B, r0, r1):
    N, d = A.shape
    rowmax = np.full(r1 - r0, -np.inf)
    for i in prange(r0, r1):
        best = -np.inf
        for j in range(N):
            if j == i:
                continue
            s = 0.0
            for t in range(d):
                s += A[i, t] * B[j, t]
            if s > best:
                best = s
        rowmax[i - r0] = best
    return rowmax.max()


def _offdiag_accum_py(A, B, beta, shift, want_gb, nchunks, r0, r1):
    N, d = A.shape
    GA = np.zeros((r1 - r0, d))
    GBs = np.zeros((nchunks, N if want_gb else 1, d))
    Zs = np.zeros(nchunks)
    chunk = (r1 - r0 + nchunks - 1) // nchunks
    for c in prange(nchunks):
        lo = r0 + c * chunk
        hi = min(r1, lo + chunk)
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
                    GA[i - r0, t] += w * B[j, t]
                if want_gb:
                    for t in range(d):
                        GBs[c, j, t] += w * A[i, t]
        Zs[c] = z
    GB = GBs.sum(axis=0)
    return Zs.sum(), GA, GB


_PARALLEL = {"parallel": True, "cache": True}
_SERIAL = {"cache": True}


@cache
def _compiled():
    """The kernels, parallel and serial, compiled on first use (once per process)."""
    return njit(globals(), {"max_par": ("_offdiag_max_py", _PARALLEL), "max_ser": ("_offdiag_max_py", _SERIAL),
                            "accum_par": ("_offdiag_accum_py", _PARALLEL),
                            "accum_ser": ("_offdiag_accum_py", _SERIAL)})


#: Below this many multiply-adds per pass (N^2 d) the serial kernels run: a parallel region costs
#: more than it saves, and on a busy machine waiting for worker threads costs milliseconds.
PARALLEL_MIN_WORK = 2_000_000


#: Multiply-adds per kernel call when a ``stop`` callable is given: it is asked between calls, so
#: a deadline is noticed within about 0.1 s even when one evaluation takes minutes.
STOP_CHECK_WORK = 20_000_000


def _kernels(N, d):
    k = _compiled()
    threads = k.numba.get_num_threads()
    if N * N * d >= PARALLEL_MIN_WORK and threads > 1:
        return k.max_par, k.accum_par, int(max(1, min(N, threads)))
    return k.max_ser, k.accum_ser, 1


def _row_ranges(N, d, stop):
    if stop is None:
        return [(0, N)]
    step = max(1, STOP_CHECK_WORK // max(N * d, 1))
    return [(a, min(N, a + step)) for a in range(0, N, step)]


def _max(A, B, stop):
    kmax, _, _ = _kernels(*A.shape)
    best = -np.inf
    for r0, r1 in _row_ranges(*A.shape, stop):
        check_stop(stop)
        best = max(best, kmax(A, B, r0, r1))
    return best


def _accum(A, B, beta, shift, want_gb, stop):
    N, d = A.shape
    _, kacc, nc = _kernels(N, d)
    Z, GA, GB = 0.0, np.empty((N, d)), np.zeros((N if want_gb else 1, d))
    for r0, r1 in _row_ranges(N, d, stop):
        check_stop(stop)
        z, ga, gb = kacc(A, B, beta, shift, want_gb, min(nc, r1 - r0), r0, r1)
        Z += z
        GA[r0:r1] = ga
        GB += gb
    return Z, GA, GB


def value_and_grad(X, beta: float, edges=None, *, block=None, stop=None):
    """Smoothed margin F_beta and its Riemannian gradient (Numba; see objective_numpy).

    ``block`` is accepted for signature compatibility and ignored (the kernels are fused);
    ``stop`` is asked between row ranges of about STOP_CHECK_WORK multiply-adds (raises Stopped).
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    beta = float(beta)
    if X.ndim == 2:
        q = _max(X, X, stop)
        Z, GA, _ = _accum(X, X, beta, q, False, stop)
        Q = q + np.log(Z) / beta
        return 0.5 * (1.0 - Q), _tangent(X, -GA / Z)
    M, N, _ = X.shape
    edges = default_edges(M) if edges is None else [tuple(e) for e in edges]
    P, G = matched_softmin(X, edges, beta)
    q = max(_max(X[k], X[l], stop) for k, l in edges)
    GQ = np.zeros_like(X)
    Zq = 0.0
    for k, l in edges:
        z, GA, GB = _accum(X[k], X[l], beta, q, True, stop)
        Zq += z
        GQ[k] += GA
        GQ[l] += GB
    Q = q + np.log(Zq) / beta
    return 0.5 * (P - Q), _tangent(X, 0.5 * (G - GQ / Zq))

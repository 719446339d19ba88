r"""The smoothed margin and its Riemannian gradient: the pure-NumPy reference.

Free mode (a configuration X of shape (M, N, d) and the edges of a graph)
--------------------------------------------------------------------------
With :math:`c_e(i, j) = \langle X[k,i], X[l,j]\rangle` for an edge e = (k, l),

.. math::

    P_\beta = -\tfrac1\beta \log \sum_{e,i} e^{-\beta c_e(i,i)}, \qquad
    Q_\beta = \tfrac1\beta \log \sum_{e}\sum_{i\ne j} e^{\beta c_e(i,j)}, \qquad
    F_\beta(X) = \tfrac12 (P_\beta - Q_\beta).

:math:`P_\beta \le \mathrm{pos}` and :math:`Q_\beta \ge \mathrm{neg}`, so :math:`F_\beta` is a lower
bound on the margin :math:`m^* = (\mathrm{pos}-\mathrm{neg})/2` (half the gap) and
:math:`m^* - F_\beta \le (\log(|E|N) + \log(|E|N(N-1)))/(2\beta)`.

Tied mode (a code C of shape (N, d))
------------------------------------
Every modality is C, so pos = 1 and

.. math:: F_\beta(C) = \tfrac12\Bigl(1 - \tfrac1\beta\log\sum_{i\ne j} e^{\beta\langle C_i, C_j\rangle}\Bigr),

a lower bound on :math:`(1 - c)/2` with c the largest inner product of the code.

Gradient
--------
The returned gradient is the Riemannian gradient on the product of unit spheres: the Euclidean
gradient with the radial part of every row removed, :math:`g_i - \langle g_i, x_i\rangle x_i`.
(It is the exact gradient of :math:`F_\beta(x_i/|x_i|)` at unit rows.)

All three backends (``objective_numpy``, ``objective_numba``, ``objective_torch``) expose
``value_and_grad(X, beta, edges=None, *, block=None) -> (float, ndarray)`` with these semantics;
``X.ndim == 2`` selects the tied mode.  The log-sum-exps are shifted by the exact maximum, computed
in a first blocked pass, so nothing overflows at any beta; memory is O(block * N) per edge.
"""
from __future__ import annotations

import numpy as np

__all__ = ["value_and_grad", "smoothing_gap", "default_edges", "BLOCK_ENTRIES"]

#: Target number of entries in one (rows, N) block of inner products.
BLOCK_ENTRIES = 1 << 20


def default_edges(M: int):
    """All pairs (k, l), k < l, of M modalities (the complete graph)."""
    return [(k, l) for k in range(M) for l in range(k + 1, M)]


def _block(N: int, block) -> int:
    return int(block) if block else int(max(1, min(N, BLOCK_ENTRIES // max(N, 1))))


def smoothing_gap(N: int, beta: float, n_edges: int = 1, tied: bool = False) -> float:
    """Upper bound on m* - F_beta (see the module docstring)."""
    if tied:
        return np.log(N * (N - 1)) / (2 * beta)
    return (np.log(n_edges * N) + np.log(n_edges * N * (N - 1))) / (2 * beta)


def matched_softmin(X: np.ndarray, edges, beta: float):
    """Soft-min P = p - log(sum exp(-beta (c_ii - p)))/beta of the matched products and dP/dX.

    Shared by every CPU backend: it is O(M^2 N d), not worth a kernel.
    """
    diags = [np.einsum("nd,nd->n", X[k], X[l]) for k, l in edges]
    p = min(float(dg.min()) for dg in diags)
    G = np.zeros_like(X)
    Zp = 0.0
    for (k, l), dg in zip(edges, diags):
        w = np.exp(-beta * (dg - p))
        Zp += float(w.sum())
        G[k] += w[:, None] * X[l]
        G[l] += w[:, None] * X[k]
    return p - np.log(Zp) / beta, G / Zp


def _tangent(X: np.ndarray, G: np.ndarray) -> np.ndarray:
    return G - np.einsum("...i,...i->...", G, X)[..., None] * X


def _offdiag_max(A, B, block):
    N = A.shape[0]
    best = -np.inf
    for a in range(0, N, block):
        b = min(N, a + block)
        S = A[a:b] @ B.T
        r = np.arange(b - a)
        S[r, a + r] = -np.inf
        best = max(best, float(S.max()))
    return best


def _offdiag_accum(A, B, beta, shift, block, GA, GB):
    """Return sum_{i != j} exp(beta (c_ij - shift)); add w-weighted rows to GA, GB."""
    N = A.shape[0]
    Z = 0.0
    for a in range(0, N, block):
        b = min(N, a + block)
        S = A[a:b] @ B.T
        r = np.arange(b - a)
        S[r, a + r] = -np.inf
        W = np.exp(beta * (S - shift))
        Z += float(W.sum())
        GA[a:b] += W @ B
        if GB is not None:
            GB += W.T @ A[a:b]
    return Z


def value_and_grad(X, beta: float, edges=None, *, block=None):
    """Smoothed margin F_beta and its Riemannian gradient (NumPy reference).

    Parameters
    ----------
    X : ndarray, shape (M, N, d) (free) or (N, d) (tied code), float64, unit rows
    beta : float
        Sharpness (> 0).
    edges : sequence of (k, l), optional
        Graph edges in free mode (default: complete graph).  Ignored in tied mode.
    block : int, optional
        Rows per block of inner products.

    Returns
    -------
    (F, G) : float and ndarray of the shape of X
        F is to be maximised; G is the Riemannian gradient of F.
    """
    X = np.asarray(X, dtype=np.float64)
    beta = float(beta)
    if X.ndim == 2:
        N = X.shape[0]
        bl = _block(N, block)
        q = _offdiag_max(X, X, bl)
        G = np.zeros_like(X)
        Z = _offdiag_accum(X, X, beta, q, bl, G, None)
        Q = q + np.log(Z) / beta
        # d/dx_i of Q = sum_j (w_ij + w_ji) x_j / Z = 2 sum_j w_ij x_j / Z (w symmetric)
        G = -(2.0 / Z) * G / 2.0
        return 0.5 * (1.0 - Q), _tangent(X, G)
    M, N, _ = X.shape
    edges = default_edges(M) if edges is None else [tuple(e) for e in edges]
    bl = _block(N, block)
    P, G = matched_softmin(X, edges, beta)
    # non-matched part
    q = max(_offdiag_max(X[k], X[l], bl) for k, l in edges)
    GQ = np.zeros_like(X)
    Zq = 0.0
    for k, l in edges:
        GA = np.zeros((N, X.shape[2]))
        GB = np.zeros((N, X.shape[2]))
        Zq += _offdiag_accum(X[k], X[l], beta, q, bl, GA, GB)
        GQ[k] += GA
        GQ[l] += GB
    Q = q + np.log(Zq) / beta
    G = 0.5 * (G - GQ / Zq)
    return 0.5 * (P - Q), _tangent(X, G)

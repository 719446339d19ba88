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
``X.ndim == 2`` selects the tied mode.  ``stop`` (a callable, optional) is asked between blocks of
rows; when it returns True the evaluation is abandoned by raising :class:`Stopped`, so a deadline
or an interrupt is honoured even while one evaluation takes minutes (N = 100,000).  The
log-sum-exps are shifted by the exact maximum, computed in a first blocked pass, so nothing
overflows at any beta; memory is O(block * N) per edge.
"""
from __future__ import annotations

import numpy as np

__all__ = ["value_and_grad", "riesz_value_and_grad", "smoothing_gap", "default_edges", "BLOCK_ENTRIES", "Stopped"]

#: Target number of entries in one (rows, N) block of inner products.
BLOCK_ENTRIES = 1 << 20


class Stopped(Exception):
    """An evaluation was abandoned because its ``stop`` callable returned True (deadline, Ctrl-C)."""


def check_stop(stop) -> None:
    """Raise :class:`Stopped` when ``stop`` is given and returns True."""
    if stop is not None and stop():
        raise Stopped


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


def _offdiag_max(A, B, block, stop=None):
    N = A.shape[0]
    best = -np.inf
    for a in range(0, N, block):
        check_stop(stop)
        b = min(N, a + block)
        S = A[a:b] @ B.T
        r = np.arange(b - a)
        S[r, a + r] = -np.inf
        best = max(best, float(S.max()))
    return best


def _offdiag_accum(A, B, beta, shift, block, GA, GB, stop=None):
    """Return sum_{i != j} exp(beta (c_ij - shift)); add w-weighted rows to GA, GB."""
    N = A.shape[0]
    Z = 0.0
    for a in range(0, N, block):
        check_stop(stop)
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


def value_and_grad(X, beta: float, edges=None, *, block=None, stop=None):
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
    stop : callable, optional
        Asked between blocks; True abandons the evaluation.

    Returns
    -------
    (F, G) : float and ndarray of the shape of X
        F is to be maximised; G is the Riemannian gradient of F.

    Raises
    ------
    Stopped
        When ``stop()`` returned True.
    """
    X = np.asarray(X, dtype=np.float64)
    beta = float(beta)
    if X.ndim == 2:
        N = X.shape[0]
        bl = _block(N, block)
        q = _offdiag_max(X, X, bl, stop)
        G = np.zeros_like(X)
        Z = _offdiag_accum(X, X, beta, q, bl, G, None, stop)
        Q = q + np.log(Z) / beta
        # d/dx_i of Q = sum_j (w_ij + w_ji) x_j / Z = 2 sum_j w_ij x_j / Z (w symmetric)
        G = -(2.0 / Z) * G / 2.0
        return 0.5 * (1.0 - Q), _tangent(X, G)
    M, N, _ = X.shape
    edges = default_edges(M) if edges is None else [tuple(e) for e in edges]
    bl = _block(N, block)
    P, G = matched_softmin(X, edges, beta)
    # non-matched part
    q = max(_offdiag_max(X[k], X[l], bl, stop) for k, l in edges)
    GQ = np.zeros_like(X)
    Zq = 0.0
    for k, l in edges:
        GA = np.zeros((N, X.shape[2]))
        GB = np.zeros((N, X.shape[2]))
        Zq += _offdiag_accum(X[k], X[l], beta, q, bl, GA, GB, stop)
        GQ[k] += GA
        GQ[l] += GB
    Q = q + np.log(Zq) / beta
    G = 0.5 * (G - GQ / Zq)
    return 0.5 * (P - Q), _tangent(X, G)


# --------------------------------------------------------------------------- Riesz energy (tied codes)

def riesz_value_and_grad(C, s: float, edges=None, *, block=None, stop=None):
    r"""Smoothed minimum distance of a code from its Riesz s-energy, and its Riemannian gradient.

    With :math:`r_{ij} = |C_i - C_j| = \sqrt{2 - 2\langle C_i, C_j\rangle}`,

    .. math::

        F_s(C) = -\tfrac1s \log \sum_{i \ne j} r_{ij}^{-s} \;\le\; \min_{i\ne j} \log r_{ij},

    i.e. minus the log of the Riesz s-energy, scaled; maximising it for s increasing is the energy
    continuation of Kottwitz and of Hardin, Sloane and Smith (s = 1: electrons; s -> infinity:
    the packing).  Written as a log-sum-exp of :math:`g(c) = -\tfrac12 \log(2 - 2c)` with the same
    blocked two-pass scheme as :func:`value_and_grad` (exact maximum first, so nothing
    overflows); :math:`g'(c) = 1/(2 - 2c)`.  Inner products are clipped at 1 - 1e-12 (coincident
    points).  Tied codes (N, d) only; ``edges`` is accepted for the common signature.
    """
    C = np.asarray(C, dtype=np.float64)
    if C.ndim != 2:
        raise ValueError(f"the Riesz energy is for a code (N, d), got shape {C.shape}")
    s = float(s)
    N = C.shape[0]
    bl = _block(N, block)
    g_max = -0.5 * np.log(2.0 - 2.0 * min(_offdiag_max(C, C, bl, stop), 1.0 - 1e-12))
    Z, GA = 0.0, np.zeros_like(C)
    for a in range(0, N, bl):
        check_stop(stop)
        S = np.minimum(C[a:a + bl] @ C.T, 1.0 - 1e-12)
        r = np.arange(S.shape[0])
        S[r, a + r] = -1.0  # g(-1) = -log 2 / 2 is finite; its weight is removed below
        W = np.exp(s * (-0.5 * np.log(2.0 - 2.0 * S) - g_max))
        W[r, a + r] = 0.0
        Z += float(W.sum())
        GA[a:a + bl] += (W / (2.0 - 2.0 * S)) @ C
    Q = g_max + np.log(Z) / s
    return -Q, _tangent(C, -(2.0 / Z) * GA)

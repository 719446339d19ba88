r"""The smoothed margin and its Riemannian gradient in torch (CPU or CUDA, batched, blocked).

Same function and semantics as :mod:`objective.reference` (the reference; see its docstring
for the formulas).  Two entry points:

- ``value_and_grad(X, beta, edges=None, *, block=None, device="cpu", dtype=None)``:
  the common signature; NumPy in, ``(float, float64 ndarray)`` out (``dtype`` None: torch.float64).
- ``value_and_grad_tensor(X, beta, edges=None, *, tied=False, block=None)``: tensors in and out,
  batched over restarts: X has shape (B, M, N, d) (free) or (B, N, d) (tied); returns F of shape (B,)
  and G of the shape of X, on X's device and in X's dtype.

The gradient is written out by hand (no autograd graph), in row blocks of ``block`` rows so that
memory is O(B * block * N) whatever N is: a first pass takes the exact maximum, a second the
shifted exponentials and the weighted sums.  Nothing here depends on the device: the same code runs
on CUDA when the tensors live there (not exercised in this repository's tests, which skip without
a GPU).  Torch is imported when a kernel runs, not with this module (choosing a backend stays light).
"""
from __future__ import annotations

import numpy as np

from constellations.objective.reference import check_stop, default_edges

__all__ = ["value_and_grad", "value_and_grad_tensor"]

#: Target entries of one (B, rows, N) block.
BLOCK_ENTRIES = 1 << 22


def _block(B, N, block):
    return int(block) if block else int(max(1, min(N, BLOCK_ENTRIES // max(B * N, 1))))


def _offdiag_max(A, Bm, bl, stop=None):
    """A, Bm: (B, N, d). Max over i != j of <A_i, B_j>, per batch entry: (B,)."""
    import torch

    nb, N, _ = A.shape
    best = torch.full((nb,), -torch.inf, dtype=A.dtype, device=A.device)
    for a in range(0, N, bl):
        check_stop(stop)
        b = min(N, a + bl)
        S = torch.matmul(A[:, a:b], Bm.transpose(1, 2))
        r = torch.arange(b - a, device=A.device)
        S[:, r, a + r] = -torch.inf
        best = torch.maximum(best, S.amax(dim=(1, 2)))
    return best


def _offdiag_accum(A, Bm, beta, shift, bl, want_gb, stop=None):
    import torch

    nb, N, _ = A.shape
    Z = torch.zeros(nb, dtype=A.dtype, device=A.device)
    GA = torch.zeros_like(A)
    GB = torch.zeros_like(Bm) if want_gb else None
    sh = shift[:, None, None]
    for a in range(0, N, bl):
        check_stop(stop)
        b = min(N, a + bl)
        S = torch.matmul(A[:, a:b], Bm.transpose(1, 2))
        r = torch.arange(b - a, device=A.device)
        S[:, r, a + r] = -torch.inf
        W = torch.exp(beta * (S - sh))
        Z += W.sum(dim=(1, 2))
        GA[:, a:b] += torch.matmul(W, Bm)
        if want_gb:
            GB += torch.matmul(W.transpose(1, 2), A[:, a:b])
    return Z, GA, GB


def _tangent(X, G):
    return G - (G * X).sum(dim=-1, keepdim=True) * X


def value_and_grad_tensor(X: torch.Tensor, beta: float, edges=None, *, tied: bool = False, block=None, stop=None):
    """Batched smoothed margin and Riemannian gradient on tensors (see the module docstring).

    ``stop`` is asked between row blocks; True raises :class:`objective.reference.Stopped`.
    """
    import torch

    beta = float(beta)
    if tied:
        if X.ndim != 3:
            raise ValueError(f"tied mode expects (B, N, d), got {tuple(X.shape)}")
        nb, N, _ = X.shape
        bl = _block(nb, N, block)
        q = _offdiag_max(X, X, bl, stop)
        Z, GA, _ = _offdiag_accum(X, X, beta, q, bl, False, stop)
        Q = q + torch.log(Z) / beta
        return 0.5 * (1.0 - Q), _tangent(X, -GA / Z[:, None, None])
    if X.ndim != 4:
        raise ValueError(f"free mode expects (B, M, N, d), got {tuple(X.shape)}")
    nb, M, N, _ = X.shape
    edges = default_edges(M) if edges is None else [tuple(e) for e in edges]
    bl = _block(nb, N, block)
    diags = [(X[:, k] * X[:, l]).sum(-1) for k, l in edges]  # (B, N) each
    p = torch.stack([dg.amin(dim=1) for dg in diags]).amin(dim=0)  # (B,)
    G = torch.zeros_like(X)
    Zp = torch.zeros(nb, dtype=X.dtype, device=X.device)
    for (k, l), dg in zip(edges, diags):
        w = torch.exp(-beta * (dg - p[:, None]))
        Zp += w.sum(dim=1)
        G[:, k] += w[..., None] * X[:, l]
        G[:, l] += w[..., None] * X[:, k]
    P = p - torch.log(Zp) / beta
    G /= Zp[:, None, None, None]
    q = torch.stack([_offdiag_max(X[:, k], X[:, l], bl, stop) for k, l in edges]).amax(dim=0)
    GQ = torch.zeros_like(X)
    Zq = torch.zeros(nb, dtype=X.dtype, device=X.device)
    for k, l in edges:
        z, GA, GB = _offdiag_accum(X[:, k], X[:, l], beta, q, bl, True, stop)
        Zq += z
        GQ[:, k] += GA
        GQ[:, l] += GB
    Q = q + torch.log(Zq) / beta
    G = 0.5 * (G - GQ / Zq[:, None, None, None])
    return 0.5 * (P - Q), _tangent(X, G)


def value_and_grad(X, beta: float, edges=None, *, block=None, device="cpu", dtype=None, stop=None):
    """Smoothed margin F_beta and its Riemannian gradient (torch; see objective_numpy).

    NumPy in (shape (M, N, d) free or (N, d) tied), ``(float, float64 ndarray)`` out.  ``device`` and
    ``dtype`` choose where and in what precision the kernel runs (None: torch.float64); ``stop`` as in
    objective_numpy.
    """
    import torch

    Xn = np.asarray(X, dtype=np.float64)
    T = torch.as_tensor(Xn, dtype=torch.float64 if dtype is None else dtype, device=device)[None]
    with torch.no_grad():
        F, G = value_and_grad_tensor(T, beta, edges, tied=(Xn.ndim == 2), block=block, stop=stop)
    return float(F[0]), G[0].to(torch.float64).cpu().numpy()

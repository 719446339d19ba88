r"""Restarts batched into one tensor program (torch; made for CUDA, also runs on CPU).

On a GPU one restart of a small problem leaves the device idle between tiny kernels.  Here B
restarts advance together: the rows are one tensor X of shape (B, N, d) (tied) or (B, M, N, d)
(free), the objective is :func:`solvers.objective_torch.value_and_grad_tensor` (batched, blocked),
and the optimiser is a batched copy of :func:`solvers.search.rlbfgs`:

- per restart b, the two-loop recursion over its own stored pairs (s_k, y_k), with
  rho_k = 1/<s_k, y_k>; a pair that fails the curvature test is stored with rho_k = 0, which makes
  it a no-op in the recursion, so every restart keeps its own effective memory;
- the initial scaling gamma_b = <s, y>/<y, y> of its last valid pair (else min(1, 0.1/|g|_inf));
- Armijo backtracking per restart (f(R(X + t p)) <= f + 1e-4 t <g, p>, t halved), with all B
  trial points evaluated in one batched call; R is row normalisation and stored pairs are
  transported by projection onto the new tangent space;
- a restart stops when its step fails, its gradient vanishes (<= gtol) or its gain is below ftol;
  it then stays fixed while the others go on.

All restarts of a batch share one beta continuation (that of the batch's first restart index).
Values are float64 unless a dtype is given; the search re-verifies every result in float64 anyway.
"""
from __future__ import annotations

import time

import numpy as np

__all__ = ["rlbfgs_batched", "batched_restarts"]


def _dot(a, b):
    """Per-restart inner product over all axes but the first: shape (B,)."""
    return (a * b).flatten(1).sum(dim=1)


def _bcast(v, like):
    return v.reshape((-1,) + (1,) * (like.ndim - 1))


def rlbfgs_batched(fg, X, *, maxiter: int = 400, memory: int = 12, gtol: float = 1e-11,
                   ftol: float = 1e-15, deadline: float | None = None):
    """Batched Riemannian L-BFGS maximising F on products of unit spheres (see the module docstring).

    Parameters
    ----------
    fg : callable
        ``fg(X) -> (F, G)``: values of shape (B,) and Riemannian gradients shaped like X.
    X : torch.Tensor, shape (B, ..., d)
        Unit rows (the last axis).

    Returns
    -------
    (X, F, timed_out)
    """
    import torch

    def normalize(Z):
        return Z / Z.norm(dim=-1, keepdim=True)

    def tangent(Z, V):
        return V - (V * Z).sum(dim=-1, keepdim=True) * Z

    F, G = fg(X)
    f, g = -F, -G
    B = X.shape[0]
    active = torch.ones(B, dtype=torch.bool, device=X.device)
    S, Yv, R = [], [], []
    for _ in range(maxiter):
        if deadline is not None and time.time() > deadline:
            return X, -f, True
        active &= g.flatten(1).abs().amax(dim=1) > gtol
        if not bool(active.any()):
            break
        q = g.clone()
        alphas = []
        for s_, y_, r_ in zip(reversed(S), reversed(Yv), reversed(R)):
            a = r_ * _dot(s_, q)
            q -= _bcast(a, q) * y_
            alphas.append(a)
        gamma = torch.clamp(0.1 / g.flatten(1).abs().amax(dim=1).clamp_min(1e-300), max=1.0)
        for s_, y_, r_ in zip(S, Yv, R):  # the last valid pair wins
            ok = r_ > 0
            yy = _dot(y_, y_)
            gamma = torch.where(ok & (yy > 0), _dot(s_, y_) / yy.clamp_min(1e-300), gamma)
        q *= _bcast(gamma, q)
        for (s_, y_, r_), a in zip(zip(S, Yv, R), reversed(alphas)):
            b = r_ * _dot(y_, q)
            q += _bcast(a - b, q) * s_
        p = -tangent(X, q)
        slope = _dot(g, p)
        bad = ~(slope < 0)
        if bool(bad.any()):  # not a descent direction: steepest descent for those restarts
            sd = -g * _bcast(torch.clamp(0.1 / g.flatten(1).abs().amax(dim=1).clamp_min(1e-300), max=1.0), g)
            p = torch.where(_bcast(bad, p), sd, p)
            slope = _dot(g, p)
            R = [torch.where(bad, torch.zeros_like(r_), r_) for r_ in R]
        p = p * _bcast(active.to(p.dtype), p)
        t = torch.ones(B, dtype=X.dtype, device=X.device)
        accepted = ~active
        Xn, fn, gn = X.clone(), f.clone(), g.clone()
        for _ls in range(40):
            trial = ~accepted
            if not bool(trial.any()):
                break
            Xt = normalize(X + _bcast(t, X) * p)
            Ft, Gt = fg(Xt)
            ok = trial & (-Ft <= f + 1e-4 * t * slope)
            Xn = torch.where(_bcast(ok, X), Xt, Xn)
            fn = torch.where(ok, -Ft, fn)
            gn = torch.where(_bcast(ok, g), -Gt, gn)
            accepted |= ok
            t = torch.where(trial & ~ok, t * 0.5, t)
        moved = accepted & active
        active &= accepted  # a failed line search ends that restart
        s_new = tangent(Xn, _bcast(t, p) * p)
        y_new = gn - tangent(Xn, g)
        sy = _dot(s_new, y_new)
        S = [tangent(Xn, v) for v in S]
        Yv = [tangent(Xn, v) for v in Yv]
        good = moved & (sy > 0) & (sy > 1e-16 * _dot(y_new, y_new))
        S.append(s_new)
        Yv.append(y_new)
        R.append(torch.where(good, 1.0 / torch.where(good, sy, torch.ones_like(sy)), torch.zeros_like(sy)))
        if len(S) > memory:
            S.pop(0), Yv.pop(0), R.pop(0)
        df = f - fn
        X, f, g = Xn, fn, gn
        active &= ~(moved & (df <= ftol * torch.clamp(f.abs(), min=1.0)))
    return X, -f, False


def batched_restarts(spec: dict, indices, seed_seqs, deadline=None, *, maxiter: int | None = None):
    """Run the restarts ``indices`` (seeded by ``seed_seqs``) as one batch; returns [(X, margin, late)].

    ``spec`` is the search's spec dict (n, dim, M, edges, tied, device, betas, ...).  Starting points
    are drawn exactly as :func:`solvers.search._restart` draws them; the beta continuation is the
    first index's.  Free restarts also try the tied projection (normalised mean of the modalities)
    and keep it when its margin is larger, as the serial restarts do.
    """
    import torch

    from .objective_torch import value_and_grad_tensor
    from .polish import code_margin, free_margin
    from .search import START_BETAS, _normalize, default_schedule, tied_projection

    n, dim, M, edges, tied = spec["n"], spec["dim"], spec["M"], spec["edges"], spec["tied"]
    device = spec.get("device", "cpu")
    betas = spec["betas"] or default_schedule(indices[0])
    if maxiter is None:
        maxiter = spec.get("maxiter") or (3000 if (indices[0] // len(START_BETAS)) % 2 == 0 else 400)
    shape = (n, dim) if tied else (M, n, dim)
    X0 = np.stack([np.random.default_rng(ss).standard_normal(shape) for ss in seed_seqs])
    X = torch.as_tensor(_normalize(X0), dtype=torch.float64, device=device)
    late = False
    with torch.no_grad():
        for beta in betas:
            X, _, late = rlbfgs_batched(
                lambda Z, beta=beta: value_and_grad_tensor(Z, beta, None if tied else edges, tied=tied),
                X, maxiter=maxiter, deadline=deadline)
            if late:
                break
    Xs = _normalize(X.cpu().numpy())
    out = []
    for Xb in Xs:
        if tied:
            out.append((Xb, code_margin(Xb), late))
            continue
        m = free_margin(Xb, edges)
        Xc, mc = tied_projection(Xb, edges)
        if mc > m:
            Xb, m = Xc, mc
        out.append((Xb, m, late))
    return out

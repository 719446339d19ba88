r"""Riemannian L-BFGS on products of unit spheres, serial (:func:`rlbfgs`) and batched
(:func:`rlbfgs_batched`), and the beta continuation (:func:`optimize`, :func:`default_schedule`).

Retraction by row normalisation, vector transport by projection onto the new tangent space, Armijo
backtracking from t = 1.

The batched copy advances B restarts together (one tensor of shape (B, N, d) or (B, M, N, d); made
for CUDA, also runs on CPU): per restart b its own two-loop recursion over its stored pairs (a pair
failing the curvature test is stored with rho = 0, a no-op, so every restart keeps its own
effective memory), its own initial scaling <s, y>/<y, y> of its last valid pair, and Armijo
backtracking with all B trial points evaluated in one batched call; a restart whose step fails,
whose gradient vanishes or whose gain falls below ftol stays fixed while the others go on.

Both stop at a deadline or on Ctrl-C (:meth:`constellations.core.deadline.Deadline.expired`), also
inside an evaluation (the kernels, given the deadline as their ``stop``, raise
:class:`~objective.reference.Stopped`), and return the last accepted point.
"""
from __future__ import annotations

import numpy as np

from constellations.core.deadline import Deadline
from constellations.objective.compiled import rlbfgs_stage
from constellations.objective.reference import Stopped, value_and_grad

__all__ = ["START_BETAS", "FINAL_BETA", "SHARP_BETAS", "default_schedule", "normalize", "tangent", "rlbfgs", "optimize",
           "rlbfgs_batched"]


#: Starting sharpness of the restarts, cycled: a soft start (10-20) behaves like an energy
#: minimisation and funnels into "energy" basins; sharper starts (40-160) reach other basins
#: (e.g. the N = 13 Tammes optimum is essentially never reached from beta = 10).  Mixing them is
#: a cheap form of diversity.
START_BETAS = (40.0, 80.0, 20.0, 160.0, 10.0)


#: Last stage of every continuation; each stage multiplies beta by 4.
FINAL_BETA = 10240.0


#: Stages past FINAL_BETA that sharpen a configuration before candidates are ranked or hopped
#: from (:meth:`search.problem.Problem.sharpen`): the smoothing gap log(N(N-1))/(2 beta) of
#: a tied code of N = 75 falls from 4e-4 at FINAL_BETA to 3e-5.
SHARP_BETAS = (40960.0, 163840.0)


def default_schedule(restart: int = 0) -> tuple[float, ...]:
    """The beta continuation of restart number ``restart`` (geometric, factor 4, up to FINAL_BETA)."""
    b = START_BETAS[restart % len(START_BETAS)]
    out = [b]
    while out[-1] * 4 <= FINAL_BETA * 1.0001:
        out.append(out[-1] * 4)
    if out[-1] < FINAL_BETA:
        out.append(FINAL_BETA)
    return tuple(out)


def normalize(X):
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def tangent(X, V):
    return V - np.einsum("...i,...i->...", V, X)[..., None] * X


def rlbfgs(fg, X, *, maxiter: int = 400, memory: int = 12, gtol: float = 1e-11, ftol: float = 1e-15,
           deadline: Deadline = Deadline.NEVER, holder: dict | None = None):
    """Riemannian L-BFGS maximising ``F`` on the product of unit spheres.

    ``fg(X) -> (F, G)`` returns the value and the Riemannian gradient at unit rows X.  Steps retract
    by row normalisation, stored pairs are transported by projection onto the new tangent space,
    and the step length is found by Armijo backtracking from 1 (the L-BFGS scaling makes 1 the
    natural trial).  Pure NumPy on purpose: no BLAS threads for tiny vectors (a threaded BLAS
    inside scipy's L-BFGS-B costs milliseconds per iteration on a busy machine).

    Returns ``(X, F, timed_out)``: ``timed_out`` when ``deadline`` expired (its time passed or Ctrl-C
    was pressed: :meth:`~constellations.core.deadline.Deadline.expired`), checked every iteration and,
    through ``fg`` raising
    :class:`~objective.reference.Stopped`, inside evaluations; X is then the last accepted point.
    """
    holder = {} if holder is None else holder
    holder["X"] = X
    try:
        F, G = fg(X)
    except Stopped:
        return X, -np.inf, True
    f, g = -F, -G
    S, Yv, R = [], [], []
    for _ in range(maxiter):
        if deadline.expired():
            return X, -f, True
        if np.abs(g).max() <= gtol:
            break
        p = -tangent(X, _two_loop(g, S, Yv, R))
        slope = np.vdot(g, p)
        if not slope < 0:
            S, Yv, R = [], [], []
            p = -g * min(1.0, 0.1 / max(np.abs(g).max(), 1e-300))
            slope = np.vdot(g, p)
        t = 1.0
        ok = False
        for _ls in range(40):
            Xn = normalize(X + t * p)
            try:
                Fn, Gn = fg(Xn)
            except Stopped:
                return X, -f, True
            fn = -Fn
            if fn <= f + 1e-4 * t * slope:
                ok = True
                break
            t *= 0.5
        if not ok:
            break
        gn = -Gn
        S, Yv, R = _store_pair(Xn, tangent(Xn, t * p), gn - tangent(Xn, g), S, Yv, R, memory)
        df = f - fn
        X, f, g = Xn, fn, gn
        holder["X"] = X
        if df <= ftol * max(1.0, abs(f)):
            break
    return X, -f, False


def _two_loop(g, S, Yv, R):
    """H g by the L-BFGS two-loop recursion over the stored pairs, scaled by <s, y>/<y, y> of the last
    pair (without pairs: a step of at most 0.1 in the largest coordinate)."""
    q = g.copy()
    alphas = []
    for s_, y_, r_ in zip(reversed(S), reversed(Yv), reversed(R)):
        a = r_ * np.vdot(s_, q)
        q -= a * y_
        alphas.append(a)
    if S:
        gamma = np.vdot(S[-1], Yv[-1]) / np.vdot(Yv[-1], Yv[-1])
    else:
        gamma = min(1.0, 0.1 / max(np.abs(g).max(), 1e-300))
    q *= gamma
    for (s_, y_, r_), a in zip(zip(S, Yv, R), reversed(alphas)):
        b = r_ * np.vdot(y_, q)
        q += (a - b) * s_
    return q


def _store_pair(Xn, s_new, y_new, S, Yv, R, memory):
    """The stored pairs transported to the tangent space at Xn, with (s_new, y_new) appended when it
    passes the curvature test (at most ``memory`` pairs): ``(S, Yv, R)``."""
    sy = np.vdot(s_new, y_new)
    if S:  # transport the stored pairs by projection, all in one pass (was 2 x memory calls)
        k = len(S)
        A = tangent(Xn, np.stack(S + Yv))
        S, Yv = list(A[:k]), list(A[k:])
    if sy > 1e-16 * np.vdot(y_new, y_new) and sy > 0:
        S.append(s_new)
        Yv.append(y_new)
        R.append(1.0 / sy)
        if len(S) > memory:
            S.pop(0), Yv.pop(0), R.pop(0)
    return S, Yv, R


def optimize(X, betas, edges=None, *, kernel=None, maxiter: int = 3000, deadline: Deadline = Deadline.NEVER,
             holder: dict | None = None, compiled: bool = False):
    """Maximise F_beta for each beta in turn from rows X (free (M,N,d) or tied (N,d)).

    Riemannian L-BFGS (:func:`rlbfgs`) per stage.  Stops early when ``deadline`` expires (a
    :class:`~constellations.core.deadline.Deadline`, also the kernel's ``stop``) and returns the current
    iterate; ``holder["X"]`` always holds the latest accepted point (used to salvage a run on
    interrupt).  Returns ``(X, timed_out)``.

    ``compiled=True`` runs each stage as :func:`objective.compiled.rlbfgs_stage` (the same
    algorithm and objective, compiled end to end with Numba; ``kernel`` is then unused); callers
    pass :attr:`search.problem.Problem.compiled`.
    """
    if kernel is None:
        kernel = value_and_grad
    X = normalize(np.array(X, dtype=np.float64))
    holder = {} if holder is None else holder
    holder["X"] = X
    if compiled:
        def stage(X, beta):
            return rlbfgs_stage(X, beta, edges, maxiter=maxiter, deadline=deadline, holder=holder)
    else:
        def stage(X, beta):
            return rlbfgs(lambda Z: kernel(Z, beta, edges, stop=deadline), X, maxiter=maxiter, deadline=deadline,
                          holder=holder)
    for beta in betas:
        X, _, late = stage(X, beta)
        if late:
            return X, True
    return X, False


# --------------------------------------------------------------------------- batched

def _dot(a, b):
    """Per-restart inner product over all axes but the first: shape (B,)."""
    return (a * b).flatten(1).sum(dim=1)


def _bcast(v, like):
    return v.reshape((-1,) + (1,) * (like.ndim - 1))


def _two_loop_batched(g, S, Yv, R):
    """H g by the L-BFGS two-loop recursion, per restart (pairs with rho = 0 are no-ops)."""
    import torch
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
    return q


def _normalize_t(Z):
    return Z / Z.norm(dim=-1, keepdim=True)


def _tangent_t(Z, V):
    return V - (V * Z).sum(dim=-1, keepdim=True) * Z


def _line_search_batched(fg, X, f, g, p, slope, active):
    """Armijo backtracking from t = 1 for every active restart, all B trial points in one call of
    ``fg``: ``(Xn, fn, gn, t, accepted)`` (inactive restarts count as accepted and stay put).
    ``fg`` raising Stopped passes through."""
    import torch
    t = torch.ones(X.shape[0], dtype=X.dtype, device=X.device)
    accepted = ~active
    Xn, fn, gn = X.clone(), f.clone(), g.clone()
    for _ls in range(40):
        trial = ~accepted
        if not bool(trial.any()):
            break
        Xt = _normalize_t(X + _bcast(t, X) * p)
        Ft, Gt = fg(Xt)
        ok = trial & (-Ft <= f + 1e-4 * t * slope)
        Xn = torch.where(_bcast(ok, X), Xt, Xn)
        fn = torch.where(ok, -Ft, fn)
        gn = torch.where(_bcast(ok, g), -Gt, gn)
        accepted |= ok
        t = torch.where(trial & ~ok, t * 0.5, t)
    return Xn, fn, gn, t, accepted


def rlbfgs_batched(fg, X, *, maxiter: int = 400, memory: int = 12, gtol: float = 1e-11,
                   ftol: float = 1e-15, deadline: Deadline = Deadline.NEVER):
    """Batched Riemannian L-BFGS maximising F on products of unit spheres (see the module docstring).

    Parameters
    ----------
    fg : callable
        ``fg(X) -> (F, G)``: values of shape (B,) and Riemannian gradients shaped like X.
    X : torch.Tensor, shape (B, ..., d)
        Unit rows (the last axis).

    deadline : Deadline, optional
        Checked every iteration (:meth:`~constellations.core.deadline.Deadline.expired`: its time, or
        Ctrl-C); default no time limit.

    Returns
    -------
    (X, F, timed_out)
        Stopped inside an evaluation (``fg`` raising Stopped), X is the last accepted point.
    """
    import torch

    try:
        F, G = fg(X)
    except Stopped:
        return X, None, True
    f, g = -F, -G
    B = X.shape[0]
    active = torch.ones(B, dtype=torch.bool, device=X.device)
    S, Yv, R = [], [], []
    for _ in range(maxiter):
        if deadline.expired():
            return X, -f, True
        active &= g.flatten(1).abs().amax(dim=1) > gtol
        if not bool(active.any()):
            break
        p = -_tangent_t(X, _two_loop_batched(g, S, Yv, R))
        slope = _dot(g, p)
        bad = ~(slope < 0)
        if bool(bad.any()):  # not a descent direction: steepest descent for those restarts
            sd = -g * _bcast(torch.clamp(0.1 / g.flatten(1).abs().amax(dim=1).clamp_min(1e-300), max=1.0), g)
            p = torch.where(_bcast(bad, p), sd, p)
            slope = _dot(g, p)
            R = [torch.where(bad, torch.zeros_like(r_), r_) for r_ in R]
        p = p * _bcast(active.to(p.dtype), p)
        try:
            Xn, fn, gn, t, accepted = _line_search_batched(fg, X, f, g, p, slope, active)
        except Stopped:
            return X, -f, True
        moved = accepted & active
        active &= accepted  # a failed line search ends that restart
        s_new = _tangent_t(Xn, _bcast(t, p) * p)
        y_new = gn - _tangent_t(Xn, g)
        sy = _dot(s_new, y_new)
        if S:  # transport the stored pairs by projection, all in one pass (was 2 x memory calls)
            k = len(S)
            A = _tangent_t(Xn, torch.stack(S + Yv))
            S, Yv = list(A[:k]), list(A[k:])
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

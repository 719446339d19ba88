r"""Sigmoid contrastive losses on free embeddings: a float64 NumPy reference and a batched torch kernel.

For one modality pair (U, V) of N rows, inverse temperature t > 0 and logits z_ij,

.. math::

    L = \sum_i \operatorname{softplus}(-z_{ii}) + \sum_{i\ne j} \operatorname{softplus}(z_{ij}),
    \qquad \operatorname{softplus}(z) = \log(1 + e^{z}) = -\log\sigma(-z),

with two parameterisations of the logits (docs/math.md section 3):

- ``"absolute"`` (SigLIP, "Sig"): z_ij = t <U_i, V_j> - b;
- ``"relative"`` (the paper's "RB-Sig"): z_ij = t (<U_i, V_j> - b_rel), so L_RB(t, b_rel) = L_Sig(t, t b_rel).

Normalisation: ``reduction="sum"`` is the formula above (the paper's theorems); ``reduction="mean"`` divides
each edge's sum by N^2 (the paper's reference code).  With M modalities the loss is the sum over the edges
(k, l) of the graph of the pair loss of (X[k], X[l]), with one shared (t, b) or (t, b_rel).

Every softplus is evaluated stably (``numpy.logaddexp(0, z)`` in NumPy, ``-logsigmoid(-z)`` in torch), so the
loss neither saturates (log(sigmoid + 1e-8) stops at about 18.4) nor flushes small values to a floor: it stays
finite and accurate to relative rounding at t = 1000.

Adapters for a locked modality (0 < delta < 1): A_locked(x) = (delta x, sqrt(1 - delta^2)) and
A_trainable(x) = (delta x, -sqrt(1 - delta^2)); then <A_l(u), A_t(v)> = delta^2 <u, v> - (1 - delta^2) and
L_RB(adapted; t, b_rel) = L_RB(original; delta^2 t, (b_rel + 1 - delta^2) / delta^2).  In training
delta = sigmoid(x) with x trainable.
"""
from __future__ import annotations

import math

import numpy as np

from constellations.core.configuration import as_array
from constellations.core.errors import ConfigurationError
from constellations.core.graphs import parse_graph

__all__ = ["PARAMS", "REDUCTIONS", "softplus", "pair_loss", "pair_loss_grad", "sigmoid_loss", "loss_bound", "adapt",
           "adapter_parameters", "delta_from_logit", "pair_loss_torch", "sigmoid_loss_torch", "loss_from_gram",
           "affine_pair_loss"]

PARAMS = ("relative", "absolute")
REDUCTIONS = ("sum", "mean")


def _check(param: str, reduction: str, t) -> None:
    if param not in PARAMS:
        raise ConfigurationError(f"unknown loss parameterisation {param!r}; use one of {PARAMS}")
    if reduction not in REDUCTIONS:
        raise ConfigurationError(f"unknown reduction {reduction!r}; use one of {REDUCTIONS}")
    t = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ConfigurationError(f"the inverse temperature t must be finite and > 0, got {t}")


def softplus(z):
    """log(1 + exp(z)) in float64 without overflow or underflow to a floor (``numpy.logaddexp(0, z)``)."""
    return np.logaddexp(0.0, np.asarray(z, dtype=np.float64))


def pair_loss(U, V, t: float, bias: float, *, param: str = "relative", reduction: str = "sum") -> float:
    """Sigmoid loss of one modality pair, float64 NumPy reference.

    Parameters
    ----------
    U, V : array_like, shape (N, d)
        Embeddings (not required to be unit: the formula is applied as it stands).
    t : float
        Inverse temperature, > 0.
    bias : float
        b_rel for ``param="relative"``, b for ``param="absolute"``.
    param : {"relative", "absolute"}
    reduction : {"sum", "mean"}
        ``"mean"`` divides by N^2.
    """
    U, V, G, Z = _pair_logits(U, V, t, bias, param, reduction)
    N = G.shape[0]
    eye = np.eye(N, dtype=bool)
    total = softplus(-Z[eye]).sum() + softplus(Z[~eye]).sum()
    return float(total / N ** 2 if reduction == "mean" else total)


def _pair_logits(U, V, t, bias, param, reduction):
    """Validate a pair and return (U, V, G = U V^T, logits Z) in float64."""
    _check(param, reduction, t)
    U = np.asarray(U, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    if U.ndim != 2 or U.shape != V.shape:
        raise ConfigurationError(f"U and V must have the same shape (N, d); got {U.shape} and {V.shape}")
    G = U @ V.T
    return U, V, G, (t * (G - bias) if param == "relative" else t * G - bias)


def _sigmoid(z):
    """Logistic function without overflow: exp(-logaddexp(0, -z))."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=np.float64)))


def pair_loss_grad(U, V, t: float, bias: float, *, param: str = "relative", reduction: str = "sum"):
    """Gradient of :func:`pair_loss`, float64 NumPy reference for the torch kernels.

    With P = dL/dz (P_ii = -sigmoid(-z_ii), P_ij = sigmoid(z_ij) for i != j) and G = U V^T:

    - dL/dU = t P V and dL/dV = t P^T U (both parameterisations);
    - relative (z = t (G - b_rel)): dL/dt = sum P (G - b_rel), dL/db_rel = -t sum P;
    - absolute (z = t G - b): dL/dt = sum P G, dL/db = -sum P.

    Returns (dU, dV, dt, dbias), divided by N^2 for ``reduction="mean"``.
    """
    U, V, G, Z = _pair_logits(U, V, t, bias, param, reduction)
    N = G.shape[0]
    P = _sigmoid(Z)
    np.fill_diagonal(P, -_sigmoid(-np.diag(Z)))
    dU, dV = t * P @ V, t * P.T @ U
    if param == "relative":
        dt, db = float(np.sum(P * (G - bias))), float(-t * P.sum())
    else:
        dt, db = float(np.sum(P * G)), float(-P.sum())
    c = 1.0 / N ** 2 if reduction == "mean" else 1.0
    return dU * c, dV * c, dt * c, db * c


def sigmoid_loss(X, t: float, bias: float, graph=None, *, param: str = "relative", reduction: str = "sum",
                 require_unit: bool = False) -> float:
    """Sum over the edges (k, l) of ``graph`` of :func:`pair_loss` (X[k], X[l]) with shared (t, bias).

    ``X`` is a Configuration or an array of shape (M, N, d).  Rows need not be unit unless ``require_unit``.
    """
    if hasattr(X, "X") and hasattr(X, "graph"):
        graph = X.graph if graph is None else graph
        X = X.X
    A = as_array(X, require_unit=require_unit)
    G = parse_graph(graph, A.shape[0])
    return float(sum(pair_loss(A[k], A[l], t, bias, param=param, reduction=reduction) for k, l in G.edges))


def loss_bound(N: int, t: float, m: float, edges: int = 1, reduction: str = "sum") -> float:
    """Theorem 3.2: on an (m, b_rel)-constellation, L_RB(t, b_rel) <= |E| N^2 exp(-t m) (sum reduction).

    Each of the N^2 terms per edge is softplus(-t (<.,.> - b_rel) sign) <= exp(-t m) since log(1+x) <= x.
    With ``reduction="mean"`` the bound is |E| exp(-t m).
    """
    per = math.exp(-t * m)
    return edges * per * (N ** 2 if reduction == "sum" else 1)


def delta_from_logit(x):
    """delta = sigmoid(x), the adapter parameterisation used in training (always in (0, 1))."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def adapt(X, delta: float, locked: bool) -> np.ndarray:
    """A_locked(x) = (delta x, +sqrt(1-delta^2)) or A_trainable(x) = (delta x, -sqrt(1-delta^2)), row-wise.

    ``X`` has shape (..., d); the result has shape (..., d + 1).  Unit rows stay unit.
    """
    if not (0 < delta < 1):
        raise ConfigurationError(f"adapter needs 0 < delta < 1, got {delta}")
    X = np.asarray(X, dtype=np.float64)
    s = math.sqrt(1 - delta ** 2) * (1.0 if locked else -1.0)
    return np.concatenate([delta * X, np.full(X.shape[:-1] + (1,), s)], axis=-1)


def adapter_parameters(t: float, b_rel: float, delta: float) -> tuple[float, float]:
    """(t', b_rel') with L_RB(A_l(U), A_t(V); t, b_rel) = L_RB(U, V; t', b_rel').

    t' = delta^2 t and b_rel' = (b_rel + 1 - delta^2) / delta^2, because
    <A_l(u), A_t(v)> - b_rel = delta^2 (<u, v> - b_rel').
    """
    if not (0 < delta < 1):
        raise ConfigurationError(f"adapter needs 0 < delta < 1, got {delta}")
    d2 = delta ** 2
    return d2 * t, (b_rel + 1 - d2) / d2


# --------------------------------------------------------------------------------------------- torch


def affine_pair_loss(A, B, alpha, beta, reduction: str = "sum", with_value: bool = True):
    r"""Fused batched torch kernel: the sigmoid loss with logits z_ij = alpha <A_i, B_j> + beta.

    A, B have shape (S, N, d); alpha (> 0) and beta shape (S,); returns the (S,) losses
    sum_i softplus(-z_ii) + sum_{i != j} softplus(z_ij) (divided by N^2 if ``reduction="mean"``).
    Both parameterisations are affine in the Gram matrix: relative alpha = t, beta = -t b_rel;
    absolute alpha = t, beta = -b (adapters only change alpha and beta).

    Forward and backward are written out by hand (one batched product forward, two backward): with
    y = s z (s = -1 on the diagonal, +1 off it), softplus(y) = log1p(exp(y)) (= y, to within half an ulp,
    once exp(-y) is below rounding; see the threshold below), and dL/dz = s sigmoid(y) =: P, so dL/dA = alpha P B, dL/dB = alpha P^T A, dL/dbeta = sum P,
    dL/dalpha = sum P * <A_i, B_j>.  Tested against :func:`pair_loss` and against plain autograd.

    ``with_value=False`` skips the softplus pass (about 3/4 of the elementwise work): the returned
    values are NaN but the gradients are exact, for optimiser steps whose loss nobody reads.
    """
    return _affine_fn()(A, B, alpha, beta, reduction == "mean", with_value)


_AFFINE = None


def _affine_fn():
    global _AFFINE
    if _AFFINE is not None:
        return _AFFINE.apply
    import torch

    class _AffineSigmoidLoss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, A, B, alpha, beta, mean, with_value):
            S, N, _ = A.shape
            Y = torch.baddbmm(beta[:, None, None].expand(S, N, N), A * alpha[:, None, None], B.transpose(1, 2))
            Y.diagonal(dim1=1, dim2=2).neg_()  # y = s z
            # softplus(y) = log1p(exp(y)) below the threshold and y above it, where the dropped
            # log1p(exp(-y)) < exp(-y) is below half an ulp of y (float32: e^-20, float64: e^-40).
            if with_value:
                thr = 20.0 if Y.dtype in (torch.float32, torch.float16, torch.bfloat16) else 40.0
                loss = torch.nn.functional.softplus(Y, threshold=thr).sum(dim=(1, 2))
            else:
                loss = torch.full((S,), float("nan"), dtype=Y.dtype, device=Y.device)
            P = Y.sigmoid_()
            P.diagonal(dim1=1, dim2=2).neg_()  # P = dL/dz = s sigmoid(y)
            sum_p = P.sum(dim=(1, 2))
            scale = 1.0 / N ** 2 if mean else 1.0
            ctx.save_for_backward(A, B, P, alpha, sum_p)
            ctx.scale = scale
            return loss * scale

        @staticmethod
        def backward(ctx, g):
            A, B, P, alpha, sum_p = ctx.saved_tensors
            g = g * ctx.scale
            ga = (g * alpha)[:, None, None]
            dA = dB = dalpha = None
            if ctx.needs_input_grad[0] or ctx.needs_input_grad[2]:
                PB = torch.bmm(B.transpose(1, 2), P.transpose(1, 2)).transpose(1, 2)  # P B, shape (S, N, d)
                if ctx.needs_input_grad[0]:
                    dA = PB * ga
                if ctx.needs_input_grad[2]:
                    dalpha = g * (PB * A).sum(dim=(1, 2))  # sum_ij P_ij <A_i, B_j>
            if ctx.needs_input_grad[1]:
                dB = torch.bmm(A.transpose(1, 2), P).transpose(1, 2) * ga  # alpha P^T A
            return dA, dB, dalpha, g * sum_p, None, None

    _AFFINE = _AffineSigmoidLoss
    return _AFFINE.apply


def pair_loss_torch(A, B, t, bias, *, param: str = "relative", reduction: str = "sum"):
    """Batched torch pair loss: A, B of shape (S, N, d); t, bias of shape (S,); returns shape (S,).

    Same formula as :func:`pair_loss` (tested against it), differentiable, any device and dtype;
    evaluated by the fused kernel :func:`affine_pair_loss`.
    """
    if param not in PARAMS or reduction not in REDUCTIONS:
        _check(param, reduction, 1.0)
    beta = -t * bias if param == "relative" else -bias
    return affine_pair_loss(A, B, t, beta, reduction)


def loss_from_gram(G, t, bias, param="relative", reduction="sum"):
    """Plain-autograd torch loss from Gram matrices G (S, N, N), G[s, i, j] = <U_i, V_j>; returns (S,).

    The straightforward ``-logsigmoid`` formulation, kept as the reference for the fused kernel.
    """
    import torch
    import torch.nn.functional as F

    N = G.shape[-1]
    tt = t[:, None, None]
    bb = bias[:, None, None]
    Z = tt * (G - bb) if param == "relative" else tt * G - bb
    sign = 1.0 - 2.0 * torch.eye(N, dtype=G.dtype, device=G.device)
    out = -F.logsigmoid(-(Z * sign)).sum(dim=(-2, -1))
    return out / N ** 2 if reduction == "mean" else out


def sigmoid_loss_torch(X, t, bias, edges, *, param: str = "relative", reduction: str = "sum"):
    """Batched torch loss over a graph: X of shape (S, M, N, d), t and bias of shape (S,); returns (S,).

    ``edges`` is a sequence of (k, l); all edges go through one call of the fused kernel.
    """
    if param not in PARAMS or reduction not in REDUCTIONS:
        _check(param, reduction, 1.0)
    S, _, N, d = X.shape
    ks = [k for k, _ in edges]
    ls = [l for _, l in edges]
    E = len(ks)
    A = X[:, ks].reshape(S * E, N, d)
    B = X[:, ls].reshape(S * E, N, d)
    beta = -t * bias if param == "relative" else -bias
    per = affine_pair_loss(A, B, t.repeat_interleave(E), beta.repeat_interleave(E), reduction)
    return per.reshape(S, E).sum(dim=1)

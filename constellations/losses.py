r"""Sigmoid contrastive losses on free embeddings: a float64 NumPy reference and a batched torch kernel.

For one modality pair (U, V) of N rows, inverse temperature t > 0 and logits z_ij,

.. math::

    L = \sum_i \operatorname{softplus}(-z_{ii}) + \sum_{i\ne j} \operatorname{softplus}(z_{ij}),
    \qquad \operatorname{softplus}(z) = \log(1 + e^{z}) = -\log\sigma(-z),

with two parameterisations of the logits (MATH.md section 3):

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

from .configuration import as_array
from .errors import ConfigurationError
from .graphs import parse_graph

__all__ = ["PARAMS", "REDUCTIONS", "softplus", "pair_loss", "sigmoid_loss", "loss_bound", "absolute_bias",
           "relative_bias", "adapt", "adapter_parameters", "delta_from_logit", "pair_loss_torch",
           "sigmoid_loss_torch", "loss_from_gram"]

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


def absolute_bias(t: float, b_rel: float) -> float:
    """The absolute bias b = t b_rel that gives the same logits as the relative bias b_rel."""
    return t * b_rel


def relative_bias(t: float, b: float) -> float:
    """The relative bias b_rel = b / t equivalent to the absolute bias b."""
    return b / t


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
    _check(param, reduction, t)
    U = np.asarray(U, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    if U.ndim != 2 or U.shape != V.shape:
        raise ConfigurationError(f"U and V must have the same shape (N, d); got {U.shape} and {V.shape}")
    G = U @ V.T
    Z = t * (G - bias) if param == "relative" else t * G - bias
    N = G.shape[0]
    eye = np.eye(N, dtype=bool)
    total = softplus(-Z[eye]).sum() + softplus(Z[~eye]).sum()
    return float(total / N ** 2 if reduction == "mean" else total)


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


def pair_loss_torch(A, B, t, bias, *, param: str = "relative", reduction: str = "sum"):
    """Batched torch pair loss: A, B of shape (S, N, d); t, bias of shape (S,); returns shape (S,).

    Same formula as :func:`pair_loss` (tested against it), differentiable, any device and dtype.
    Uses ``-logsigmoid(-z)`` for softplus(z), which is exact in both tails.
    """
    import torch
    import torch.nn.functional as F

    G = torch.bmm(A, B.transpose(1, 2))
    return loss_from_gram(G, t, bias, param, reduction, torch, F)


def loss_from_gram(G, t, bias, param="relative", reduction="sum", torch=None, F=None):
    """Batched torch loss from Gram matrices G of shape (S, N, N) (G[s, i, j] = <U_i, V_j>); returns (S,)."""
    if torch is None:
        import torch
        import torch.nn.functional as F
    N = G.shape[-1]
    tt = t[:, None, None]
    bb = bias[:, None, None]
    Z = tt * (G - bb) if param == "relative" else tt * G - bb
    # Flip the sign of the diagonal: matched pairs pay softplus(-z), non-matched softplus(z).
    sign = 1.0 - 2.0 * torch.eye(N, dtype=G.dtype, device=G.device)
    out = -F.logsigmoid(-(Z * sign)).sum(dim=(-2, -1))
    return out / N ** 2 if reduction == "mean" else out


def sigmoid_loss_torch(X, t, bias, edges, *, param: str = "relative", reduction: str = "sum"):
    """Batched torch loss over a graph: X of shape (S, M, N, d), t and bias of shape (S,); returns (S,).

    ``edges`` is a sequence of (k, l).  All edges are evaluated in one batched matrix product.
    """
    import torch
    import torch.nn.functional as F

    if param not in PARAMS or reduction not in REDUCTIONS:
        _check(param, reduction, 1.0)
    S = X.shape[0]
    ks = [k for k, _ in edges]
    ls = [l for _, l in edges]
    E = len(ks)
    A = X[:, ks]  # (S, E, N, d)
    B = X[:, ls]
    G = torch.matmul(A, B.transpose(-1, -2)).reshape(S * E, X.shape[2], X.shape[2])
    per = loss_from_gram(G, t.repeat_interleave(E), bias.repeat_interleave(E), param, reduction, torch, F)
    return per.reshape(S, E).sum(dim=1)

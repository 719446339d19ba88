r"""Margin statistics of S configurations at once, in torch on the training's device: the batched twin of
:func:`constellations.core.margins.margin_stats`, for the history rows recorded during training (the
reported final margins are recomputed in float64 by :mod:`constellations.core.margins`).
"""
from __future__ import annotations

import math

__all__ = ["margin_stats_torch"]


def margin_stats_torch(W, edges):
    """Vectorised margin statistics of S configurations: W (S, M, N, d) -> (pos, neg, margin, b_rel_star), each (S,).

    pos = min over edges and i of <W[k,i], W[l,i]>, neg = max over edges and i != j of <W[k,i], W[l,j]>,
    margin = (pos - neg)/2 (half the gap), b_rel_star = (pos + neg)/2; as
    :func:`constellations.core.margins.margin_stats`, against which it is tested.
    """
    import torch

    ks = [k for k, _ in edges]
    ls = [l for _, l in edges]
    G = torch.matmul(W[:, ks], W[:, ls].transpose(-1, -2))  # (S, E, N, N)
    return _stats_from_gram(G)


def _stats_from_gram(G):
    import torch

    N = G.shape[-1]
    pos = torch.diagonal(G, dim1=-2, dim2=-1).amin(dim=(-2, -1))
    eye = torch.eye(N, dtype=torch.bool, device=G.device)
    neg = G.masked_fill(eye, -math.inf).amax(dim=(-3, -2, -1))
    return pos, neg, (pos - neg) / 2, (pos + neg) / 2

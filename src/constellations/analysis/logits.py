r"""A SigLIP model (t, b) against paired embeddings: the logits z_ij = t <U_i, V_j> + b, the sigmoid loss in
its three conventions, the model's threshold on the inner product, and the histograms of the products.

Conventions (SigLIP, open_clip): t > 0 is the temperature (open_clip stores ``logit_scale`` = log t), b the
bias (``logit_bias``).  Positives are the matched pairs (i = j, or the same label), negatives the rest; the
loss of a pair is softplus(-z) = -log sigma(z) for a positive and softplus(z) = -log sigma(-z) for a
negative.  For an edge (k, l) of the modality graph every ordered cross-modal pair (U_i = X[k, i],
V_j = X[l, j]), i, j = 1 .. N, counts once, and the edges are pooled like the margin forms:

- ``loss_sum``: the sum over all pairs of all edges, L(t, b);
- ``loss_mean_pair``: L / (number of pairs) = L / (E N^2), the mean per pair;
- ``loss_per_item``: L / N, big_vision's SigLIP convention (the sum over the N^2 pairs of a batch divided
  by the batch size N), comparable with training logs at batch size N.

The model predicts "positive" where z > 0, i.e. s > theta = -b/t: its threshold on the inner product, the
counterpart of the embeddings' b_rel (:mod:`.forms`).  :class:`ModelCheck` counts the positives with
s < theta and the negatives with s > theta exactly (float64 products; s = theta counts as neither).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from constellations.core.errors import ConfigurationError

from .pairsums import FINE

__all__ = ["HIST_BINS", "EdgeLoss", "SigmoidLoss", "ModelCheck", "Histograms", "check_model", "sigmoid_loss",
           "histograms"]

HIST_BINS = 200  # bins of the reported histograms on [-1, 1]


@dataclass(frozen=True)
class EdgeLoss:
    """The sigmoid loss of one edge: ``loss_sum`` over its N^2 pairs, ``loss_mean_pair`` = sum / N^2,
    ``loss_per_item`` = sum / N (big_vision), and the parts ``positive_sum`` and ``negative_sum``."""

    edge: tuple
    loss_sum: float
    loss_mean_pair: float
    loss_per_item: float
    positive_sum: float
    negative_sum: float


@dataclass(frozen=True)
class SigmoidLoss:
    """The sigmoid loss at (t, b), pooled over the edges (see the module docstring for the conventions).

    Attributes
    ----------
    t, b : float
    loss_sum : float
        Sum over all pairs of all edges.
    loss_mean_pair : float
        loss_sum / pairs.
    loss_per_item : float
        loss_sum / N (big_vision's per-batch convention).
    positive_sum, negative_sum : float
        sum_pos softplus(-z) and sum_neg softplus(z).
    pairs : int
        E N^2.
    edges : tuple of EdgeLoss
    """

    t: float
    b: float
    loss_sum: float
    loss_mean_pair: float
    loss_per_item: float
    positive_sum: float
    negative_sum: float
    pairs: int
    edges: tuple


@dataclass(frozen=True)
class ModelCheck:
    """A given model (t, b) against the embeddings.

    Attributes
    ----------
    t, b, log_t : float
        The model (log_t = log t, open_clip's ``logit_scale``).
    threshold : float
        theta = -b/t, the inner product where z = 0 (p = 1/2); compare with the forms' b_rel.
    positives_below, negatives_above : int
        Positives with s < theta and negatives with s > theta (exact, float64 products), pooled over the edges.
    positives, negatives : int
        The numbers of positive and negative pairs.
    loss : SigmoidLoss
    """

    t: float
    b: float
    log_t: float
    threshold: float
    positives_below: int
    negatives_above: int
    positives: int
    negatives: int
    loss: SigmoidLoss


@dataclass(frozen=True)
class Histograms:
    """Histograms of the positive and of the negative products (``bins`` equal bins on [lo, hi] = [-1, 1];
    bin q holds floor((s + 1) 16000) // 160 = q, clipped, for the products as swept), pooled over the edges
    (``positive``, ``negative``) and per edge (``edges``: (edge, positive, negative) each)."""

    bins: int
    lo: float
    hi: float
    positive: tuple
    negative: tuple
    edges: tuple


def _number(value, name: str) -> float:
    if isinstance(value, bool):
        raise ConfigurationError(f"{name} must be a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ConfigurationError(f"{name} must be finite, got {x}")
    return x


def check_model(t=None, bias=None, log_t=None) -> tuple | None:
    """The model (t, b, log t) from a temperature ``t`` or its log ``log_t`` and a ``bias``, or None when none
    is given.  Never guessed: both ``t`` and ``log_t``, or a temperature without a bias (or the reverse), are
    refused, and so are t <= 0, NaN and Inf (:class:`~constellations.core.errors.ConfigurationError`)."""
    if t is not None and log_t is not None:
        raise ConfigurationError("give the temperature once: t or log_t (open_clip's logit_scale), not both")
    has_t = t is not None or log_t is not None
    if has_t != (bias is not None):
        raise ConfigurationError("a temperature needs a bias and a bias needs a temperature (neither is guessed)"
                                 if has_t else "a bias without a temperature: give t or log_t too (neither is guessed)")
    if not has_t:
        return None
    b = _number(bias, "bias")
    if log_t is not None:
        lt = _number(log_t, "log_t")
        tt = math.exp(lt) if lt < 709.0 else math.inf
        if not 0 < tt < math.inf:
            raise ConfigurationError(f"log_t = {lt} gives t = exp(log_t) = {tt}, not a positive finite temperature")
        return tt, b, lt
    tt = _number(t, "t")
    if tt <= 0:
        raise ConfigurationError(f"the temperature t must be > 0, got {tt}")
    return tt, b, math.log(tt)


def sigmoid_loss(t: float, b: float, sums: np.ndarray, edges, N: int) -> SigmoidLoss:
    """The loss in its conventions from the per-edge sums (E, >= 2) of softplus over positives and negatives."""
    per = []
    for e, edge in enumerate(edges):
        tot = float(sums[e, 0] + sums[e, 1])
        per.append(EdgeLoss(tuple(edge), tot, tot / (N * N), tot / N, float(sums[e, 0]), float(sums[e, 1])))
    pos, neg = float(sums[:, 0].sum()), float(sums[:, 1].sum())
    pairs = len(per) * N * N
    tot = pos + neg
    return SigmoidLoss(float(t), float(b), tot, tot / pairs, tot / N, pos, neg, pairs, tuple(per))


def histograms(hist: np.ndarray, edges) -> Histograms:
    """The :data:`HIST_BINS`-bin histograms from the fine counts ``hist[e, side, 0]`` (E, 2, ., FINE)."""
    per = hist[:, :, 0, :].reshape(len(edges), 2, HIST_BINS, FINE // HIST_BINS).sum(axis=3)
    per = np.rint(per).astype(np.int64)
    pooled = per.sum(axis=0)
    return Histograms(HIST_BINS, -1.0, 1.0, tuple(pooled[0].tolist()), tuple(pooled[1].tolist()),
                      tuple((tuple(edge), tuple(per[e, 0].tolist()), tuple(per[e, 1].tolist()))
                            for e, edge in enumerate(edges)))

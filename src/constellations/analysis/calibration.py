r"""Calibration of a SigLIP model on paired embeddings: the reliability table and the expected calibration
error of the match probabilities p_ij = sigma(t s_ij + b).

Every ordered cross-modal pair (i, j) of every edge is a prediction p_ij that (i, j) is positive (i = j, or
the same label).  With B equal-width bins of p (default 10), bin q = 0 .. B-1 holds the pairs with
q/B <= p < (q + 1)/B (the last bin also p = 1); it is decided on the logit z = t s + b against
e_q = logit(q/B) = log q - log(B - q) (float64), so p is never rounded before binning and tiny p (most
negatives) are binned correctly.  Per bin: the pair count n_q, the positives y_q, the mean predicted
probability P_q / n_q (P_q = sum of p) and the observed match rate y_q / n_q.  The expected calibration error

.. math::  \mathrm{ECE} = \sum_q \frac{n_q}{n}\,\Bigl|\frac{y_q}{n_q} - \frac{P_q}{n_q}\Bigr|
                       = \frac{1}{n} \sum_q |y_q - P_q|

(n = sum n_q, the number of pairs; empty bins count 0).  The bins of all pairs come from one blocked pass
(:mod:`.pairsums`); :func:`reliability_table` is the same table for arrays of scores and labels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from constellations.core.errors import ConfigurationError

__all__ = ["Reliability", "check_bins", "logit_edges", "reliability_from_bins", "reliability_table"]

MAX_BINS = 10_000


@dataclass(frozen=True)
class Reliability:
    """A reliability table at the model (t, b) and its expected calibration error.

    Attributes
    ----------
    t, b : float
        The model: p = sigma(t s + b).
    source : str
        ``"given"`` (the model given by the user) or ``"fit"`` (the fitted (t*, b*)).
    bins : int
    edges : tuple of float
        The B + 1 probability edges 0, 1/B, ..., 1.
    counts, positives : tuple of int
        Pairs and positive pairs per bin (``sum(counts)`` = ``total``).
    mean_predicted, observed : tuple of float
        P_q / n_q and y_q / n_q per bin (NaN, JSON null, for an empty bin).
    ece : float
        Expected calibration error, sum_q |y_q - P_q| / n.
    total : int
        All pairs n.
    """

    t: float
    b: float
    source: str
    bins: int
    edges: tuple
    counts: tuple
    positives: tuple
    mean_predicted: tuple
    observed: tuple
    ece: float
    total: int


def check_bins(bins) -> int:
    """The number of reliability bins, an integer in 1 .. 10000 (ConfigurationError otherwise)."""
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 1 <= bins <= MAX_BINS:
        raise ConfigurationError(f"bins must be an integer in 1 .. {MAX_BINS}, got {bins!r}")
    return int(bins)


def logit_edges(bins: int) -> np.ndarray:
    """The B - 1 inner bin edges on the logit scale: e_q = logit(q/B) = log q - log(B - q), q = 1 .. B-1."""
    return np.array([math.log(q) - math.log(bins - q) for q in range(1, bins)], dtype=np.float64)


def reliability_from_bins(counts, positives, psum, t: float, b: float, source: str) -> Reliability:
    """The table from per-bin pair counts, positive counts and sums of p (arrays of length B)."""
    n = np.asarray(counts, dtype=np.float64)
    y = np.asarray(positives, dtype=np.float64)
    P = np.asarray(psum, dtype=np.float64)
    B = n.size
    total = float(n.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(n > 0, P / n, np.nan)
        obs = np.where(n > 0, y / n, np.nan)
    ece = float(np.abs(y - P).sum() / total) if total > 0 else math.nan
    return Reliability(float(t), float(b), source, B, tuple(q / B for q in range(B + 1)),
                       tuple(int(v) for v in n), tuple(int(v) for v in y), tuple(float(v) for v in mean_p),
                       tuple(float(v) for v in obs), ece, int(total))


def reliability_table(scores, positive, t: float, b: float, bins: int = 10, source: str = "given") -> Reliability:
    """The reliability table of arrays: ``scores`` s (inner products), ``positive`` (bool, same shape), at (t, b).

    p = sigma(t s + b) is computed as exp(-log(1 + e^{-z})) (``numpy.logaddexp``), binned on z as in the module
    docstring.
    """
    bins = check_bins(bins)
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(positive, dtype=bool).ravel()
    if s.shape != y.shape:
        raise ConfigurationError(f"scores and positive must have the same size, got {s.size} and {y.size}")
    z = t * s + b
    p = np.exp(-np.logaddexp(0.0, -z))
    q = np.searchsorted(logit_edges(bins), z, side="right")
    return reliability_from_bins(np.bincount(q, minlength=bins), np.bincount(q[y], minlength=bins),
                                 np.bincount(q, weights=p, minlength=bins), t, b, source)

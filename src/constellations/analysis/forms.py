"""Margin forms of real paired embeddings: min/max, percentile and mean, each with its b_rel.

Positives and negatives.  For an edge (k, l) of the graph, the pair (i, j) is *positive* if i = j or, with
labels, if labels[i] = labels[j]; it is *negative* otherwise.  (With labels = 0..N-1 this is the usual
matched / non-matched split.  With class labels and one text embedding per class repeated for every image,
same-class pairs are true positives, not negatives.)  All edges are pooled.

Margin forms (docs/math.md sections 2 and 7; m is always HALF the gap, b_rel the midpoint):

- ``minmax``: m = (min pos - max neg)/2, the constellation margin m* (usually < 0 for real models);
- ``percentile``: m = (p5(pos) - p95(neg))/2 (the paper's Tables 5/6), percentiles exactly as
  ``numpy.percentile`` (linear interpolation) of the float64 inner products (:mod:`.order`);
- ``mean``: m = (mean(pos) - mean(neg))/2, from the closed forms sum_{i,j} <U_i, V_j> = <sum U, sum V> and
  sum_{same class} = sum_c <sum_{i in c} U_i, sum_{j in c} V_j> (float64, O(N d)): :func:`class_means`;

each with b_rel = (pos + neg)/2 for its own pos and neg.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from constellations.core.errors import ConfigurationError

__all__ = ["MarginForm", "check_percentiles", "class_means", "margin_forms"]


@dataclass(frozen=True)
class MarginForm:
    """One margin form: ``margin`` = (pos - neg)/2 (half the gap), ``b_rel`` = (pos + neg)/2."""

    name: str
    pos: float
    neg: float
    margin: float
    b_rel: float


def check_percentiles(percentiles) -> tuple[float, float]:
    """The pair (q_pos, q_neg) of the percentile margin, checked: 0 <= q_pos <= q_neg <= 100.

    The percentile form m = (p_{q_pos}(pos) - p_{q_neg}(neg))/2 relaxes the min/max margin (0, 100)
    by letting a fraction q_pos/100 of the positives fall below b_rel + m and (100 - q_neg)/100 of the
    negatives rise above b_rel - m.  A reversed pair (95, 5) would compare the upper positives with
    the lower negatives, which is no margin of the data, so it is refused, not reinterpreted.

    Raises
    ------
    ConfigurationError
        Not two finite numbers in [0, 100], or q_pos > q_neg.
    """
    try:
        qp, qn = (float(p) for p in percentiles)
    except (TypeError, ValueError):
        raise ConfigurationError(f"percentiles must be two numbers (positives, negatives) like (5, 95), "
                                 f"got {percentiles!r}") from None
    if not (0 <= qp <= 100 and 0 <= qn <= 100):
        raise ConfigurationError(f"percentiles must lie in [0, 100], got {percentiles}")
    if qp > qn:
        raise ConfigurationError(
            f"percentiles {qp:g},{qn:g} are reversed: the first is the percentile of the positives (a low one, "
            f"e.g. 5) and the second that of the negatives (a high one, e.g. 95); did you mean {qn:g},{qp:g}?")
    return qp, qn


def class_means(rows, edges, lab: np.ndarray, n_classes: int, distinct: bool, diag: np.ndarray,
                n_pos: int, n_neg: int) -> tuple[float, float]:
    """Means of the positives and the negatives pooled over ``edges``, from the closed forms.

    ``rows`` are the unit rows (:class:`~.rows.Rows`), ``diag`` (E, N) the matched products (the positives
    when ``distinct``), ``lab`` the class indices 0..n_classes-1.
    """
    M, d = rows.M, rows.d
    tot_pos = tot_all = 0.0
    if distinct:
        tot_pos = float(diag.sum())
    else:
        from scipy import sparse

        sums = np.zeros((M, n_classes, d))
        for k in range(M):
            for s, u in rows.chunks(k):
                onehot = sparse.csr_matrix((np.ones(len(u)), (lab[s:s + len(u)], np.arange(len(u)))),
                                           shape=(n_classes, len(u)))
                sums[k] += onehot @ u
        for k, l in edges:
            tot_pos += float(np.einsum("cd,cd->", sums[k], sums[l]))
    for k, l in edges:
        tot_all += float(rows.sums[k] @ rows.sums[l])
    return tot_pos / n_pos, (tot_all - tot_pos) / n_neg


def _form(name: str, pos: float, neg: float) -> MarginForm:
    return MarginForm(name, pos, neg, (pos - neg) / 2, (pos + neg) / 2)


def margin_forms(pos_min, neg_max, p_pos: float, p_neg: float, mean_pos: float, mean_neg: float) -> dict:
    """``"minmax"`` (from the per-edge min positive and max negative, pooled), ``"percentile"``, ``"mean"``
    -> :class:`MarginForm`."""
    pmin, nmax = min(pos_min), max(neg_max)
    return {"minmax": _form("minmax", pmin, nmax), "percentile": _form("percentile", p_pos, p_neg),
            "mean": _form("mean", mean_pos, mean_neg)}

r"""Retrieval of real embeddings, both directions of an edge, exact in float64: top-1 and recall@K.

**Top-1.**  For an edge (k, l), i -> argmax_j <X[k,i], X[l,j]> is a hit if j has i's label (j = i without
labels); likewise j -> argmax_i.  The Gram sweep (:mod:`.gram`) keeps the two largest products of every row and
column (:class:`TopTwo`); rows or columns whose top two are within 2 epsilon are recomputed in float64
(numpy's first-index rule on ties), so the hits are those of a float64 brute force.

**Recall@K.**  Query U_i (modality k) against all V_j (modality l): its matches are the j with i's label
(j = i without labels); let s+ be the largest product of a match and c>= (c>) the number of non-matches
whose product is >= (>) s+.  Ties are counted *against* the match (conservative): the query is retrieved at K
iff c>= < K, i.e. fewer than K non-matches score at least as high as its best match (with labels any
same-label item is a hit, as in top-1).  ``*_ties_for`` counts ties for it (c> < K); the two differ only
when a non-match ties the best match exactly.  recall@K = (retrieved queries)/N, both ways (V_j against
all U_i).  The fused pass (:mod:`.pairsums`) gives per row s+ and counts lo <= c> <= c>= <= hi (swept products
compared with margins 2 epsilon), and per column the largest match and the K largest non-matches; a query
whose lo and hi straddle some K is recomputed in float64 (its whole row or column), so the counts are those
of a float64 brute force.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from constellations.core.errors import ConfigurationError

__all__ = ["TopTwo", "Recall", "MAX_RECALL_K", "check_recall_k", "recall_at_k"]

MAX_RECALL_K = 100  # memory: the pass keeps the K largest non-matches of every column


@dataclass(frozen=True)
class Recall:
    """Recall@K of one edge (k, l), both ways (see the module docstring).

    Attributes
    ----------
    k : tuple of int
        The K values.
    kl, lk : tuple of float
        Recall@K of queries of modality k against modality l, and the reverse, ties against the match.
    kl_ties_for, lk_ties_for : tuple of float
        The same with ties counted for the match (>= the former).
    recomputed : int
        Queries (rows and columns) whose counts were recomputed in float64 (near ties).
    """

    k: tuple
    kl: tuple
    lk: tuple
    kl_ties_for: tuple
    lk_ties_for: tuple
    recomputed: int


def check_recall_k(ks) -> tuple:
    """The K of recall@K as a sorted tuple of distinct integers in 1 .. MAX_RECALL_K (ConfigurationError)."""
    try:
        vals = list(ks)
    except TypeError:
        vals = [ks]
    if not vals or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) for k in vals):
        raise ConfigurationError(f"recall_k must be integers like (1, 5, 10), got {ks!r}")
    if any(not 1 <= k <= MAX_RECALL_K for k in vals):
        raise ConfigurationError(f"recall_k values must lie in 1 .. {MAX_RECALL_K}, got {ks!r}")
    return tuple(sorted({int(k) for k in vals}))


def _counts(rows, a: int, b: int, lab: np.ndarray, lo: np.ndarray, hi: np.ndarray, ks: tuple):
    """(c>=, c>) of every query of modality a against modality b: ``lo`` where lo and hi decide every K
    alike, else recomputed in float64 from the query's full row of products."""
    K = np.asarray(ks)
    amb = np.flatnonzero(((lo[:, None] < K) & (hi[:, None] >= K)).any(axis=1))
    ge, gt = lo.copy(), lo.copy()
    for s in range(0, amb.size, 256):
        q = amb[s:s + 256]
        X = rows.full_rows(a, b, q)
        match = lab[q][:, None] == lab[None, :]
        best = np.where(match, X, -np.inf).max(axis=1)[:, None]
        other = np.where(match, -np.inf, X)
        ge[q] = np.count_nonzero(other >= best, axis=1)
        gt[q] = np.count_nonzero(other > best, axis=1)
    return ge, gt, amb.size


def recall_at_k(rows, k: int, l: int, lab: np.ndarray, eps: float, ks: tuple, lo_row, hi_row, ctop, cmax) -> Recall:
    """Recall@K of the edge (k, l) from the fused pass: per row the counts ``lo_row, hi_row`` (N,), per
    column the largest match ``cmax`` (N,) and the largest non-matches ``ctop`` (N, >= max K)."""
    e2 = 2 * eps
    lo_col = np.count_nonzero(ctop > cmax[:, None] + e2, axis=1)
    hi_col = np.count_nonzero(ctop >= cmax[:, None] - e2, axis=1)
    ge_r, gt_r, nr = _counts(rows, k, l, lab, np.asarray(lo_row), np.asarray(hi_row), ks)
    ge_c, gt_c, nc = _counts(rows, l, k, lab, lo_col, hi_col, ks)
    N = len(lab)

    def rate(c):
        return tuple(float(np.count_nonzero(c < K) / N) for K in ks)
    return Recall(tuple(ks), rate(ge_r), rate(ge_c), rate(gt_r), rate(gt_c), nr + nc)


class TopTwo:
    """The two largest products of every row and column of one edge's Gram matrix, swept in row blocks."""

    def __init__(self, torch, N: int, dtype, device):
        self.torch, self.N = torch, N
        self.row_top = torch.empty((N, 2), dtype=dtype, device=device)
        self.row_arg = torch.empty(N, dtype=torch.int64, device=device)
        self.col_top = torch.full((2, N), -math.inf, dtype=dtype, device=device)
        self.col_arg = torch.zeros(N, dtype=torch.int64, device=device)

    def update(self, G, a: int) -> None:
        """Take in the block G of rows a .. a + len(G) (before anything masks it)."""
        torch, N = self.torch, self.N
        b = a + G.shape[0]
        tv, ti = torch.topk(G, 2 if N > 1 else 1, dim=1)
        self.row_top[a:b], self.row_arg[a:b] = tv, ti[:, 0]
        cv, ci = torch.topk(G, min(2, G.shape[0]), dim=0)
        if cv.shape[0] == 1:
            cv = torch.cat([cv, torch.full_like(cv, -math.inf)])
            ci = torch.cat([ci, ci])
        both = torch.cat([self.col_top, cv])
        arg_both = torch.cat([self.col_arg[None].expand(2, N), ci + a])
        top2, where = torch.topk(both, 2, dim=0)  # stable across blocks: earlier rows first on ties
        self.col_arg = torch.gather(arg_both, 0, where[:1])[0]
        self.col_top = top2

    def finish(self) -> None:
        """Move the winners to the host (numpy), freeing the device tensors."""
        self.row_top, self.row_arg = self.row_top.cpu().numpy(), self.row_arg.cpu().numpy()
        self.col_top, self.col_arg = self.col_top.cpu().numpy(), self.col_arg.cpu().numpy()

    def hits(self, rows, k: int, l: int, lab: np.ndarray, eps: float) -> tuple[int, int]:
        """Exact top-1 hits k -> l and l -> k: the swept winners, recomputed in float64 where the top two
        are within 2 eps (``rows``: :class:`~constellations.analysis.rows.Rows`)."""
        amb = np.flatnonzero(self.row_top[:, 0] - self.row_top[:, 1] <= 2 * eps)
        row_arg = self.row_arg.copy()
        for s in range(0, amb.size, 256):
            r = amb[s:s + 256]
            row_arg[r] = np.argmax(rows.full_rows(k, l, r), axis=1)
        amb = np.flatnonzero(self.col_top[0] - self.col_top[1] <= 2 * eps)
        col_arg = self.col_arg.copy()
        for s in range(0, amb.size, 256):
            c = amb[s:s + 256]
            col_arg[c] = np.argmax(rows.full_rows(l, k, c), axis=1)
        return int(np.count_nonzero(lab[row_arg] == lab)), int(np.count_nonzero(lab[col_arg] == lab))

"""Top-1 retrieval of real embeddings, both directions of an edge, exact in float64.

For an edge (k, l), i -> argmax_j <X[k,i], X[l,j]> is a hit if j has i's label (j = i without labels);
likewise j -> argmax_i.  The Gram sweep (:mod:`.gram`) keeps the two largest products of every row and
column (:class:`TopTwo`); rows or columns whose top two are within 2 epsilon are recomputed in float64
(numpy's first-index rule on ties), so the hits are those of a float64 brute force.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["TopTwo"]


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

r"""Margin statistics of a configuration, computed in row blocks.

For a configuration X of shape (M, N, d) and a graph G, with c_{kl}(i, j) = <X[k,i], X[l,j]>:

.. math::

    \mathrm{pos} = \min_{(k,l)\in G}\min_i c_{kl}(i,i), \qquad
    \mathrm{neg} = \max_{(k,l)\in G}\max_{i\ne j} c_{kl}(i,j),

    m^* = (\mathrm{pos} - \mathrm{neg})/2 \quad\text{(half the gap)}, \qquad
    b^*_{\mathrm{rel}} = (\mathrm{pos} + \mathrm{neg})/2 .

X is an (m, b_rel)-constellation for every m <= m* (with b_rel = b*_rel) and is a
constellation iff m* >= 0.  Everything is computed edge by edge in blocks of rows, so
memory is O(block * N) and N = 20,000 never needs an N x N matrix per edge.

Inner products are those of the normalised rows x/|x|, computed as
c = fl(fl(<x, y> / |x|) / |y|) (a no-op when the computed norms are exactly 1): rows are unit
only to a tolerance (1e-6), and :func:`constellations.core.certify.certified_margin` bounds the margin of
the exactly normalised rows from these very values, so one configuration has one margin and
``margin_certified <= margin`` always.

These are plain float64 values.  For a bound that rounding cannot fake, use
:func:`constellations.core.certify.certified_margin`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from constellations.core.configuration import Configuration, as_array
from constellations.core.graphs import Graph, parse_graph

__all__ = ["EdgeMargin", "MarginStats", "margin_stats", "margin", "retrieval_accuracy", "block_rows",
           "resolve", "row_norms", "normalised_diag", "normalised_blocks"]

#: Target number of float64 entries in one block of inner products (8 MiB).
BLOCK_ENTRIES = 1 << 20


@dataclass(frozen=True)
class EdgeMargin:
    """Margin statistics of one edge (k, l).

    ``pos_item`` is the i attaining ``pos``; ``neg_pair`` the (i, j), i != j, attaining ``neg``,
    with i indexing modality k and j modality l.
    """

    edge: tuple[int, int]
    pos: float
    neg: float
    margin: float
    b_rel: float
    pos_item: int
    neg_pair: tuple[int, int]


@dataclass(frozen=True)
class MarginStats:
    """Overall margin statistics (see the module docstring for the formulas).

    Attributes
    ----------
    pos, neg : float
        Minimum matched and maximum non-matched inner product over all edges.
    margin : float
        m* = (pos - neg)/2, half the gap.
    b_rel : float
        b*_rel = (pos + neg)/2.
    per_edge : tuple of EdgeMargin
    worst_pos : (k, l, i)
        Edge and item attaining ``pos``.
    worst_neg : (k, l, i, j)
        Edge and pair attaining ``neg`` (i in modality k, j in modality l).
    """

    pos: float
    neg: float
    margin: float
    b_rel: float
    per_edge: tuple
    worst_pos: tuple
    worst_neg: tuple

    @property
    def is_constellation(self) -> bool:
        return self.margin >= 0


def resolve(X, graph=None, *, normalize: bool = False) -> tuple[np.ndarray, Graph]:
    """Return the validated (M, N, d) array and graph of a Configuration or array."""
    if isinstance(X, Configuration):
        return X.X, parse_graph(graph if graph is not None else X.graph, X.M)
    A = as_array(X, normalize=normalize)
    return A, parse_graph(graph, A.shape[0])


def block_rows(N: int, entries: int = BLOCK_ENTRIES) -> int:
    """Rows per block so that one (rows, N) block holds about ``entries`` numbers."""
    return int(max(1, min(N, entries // max(N, 1))))


def row_norms(A: np.ndarray) -> np.ndarray | None:
    """Computed norms of the rows of an (M, N, d) array, or None when all are exactly 1.0.

    None lets callers skip divisions by 1.0, which would not change a single bit.
    """
    norms = np.sqrt(np.einsum("mnd,mnd->mn", A, A))
    return None if (norms == 1.0).all() else norms


def normalised_diag(A: np.ndarray, B: np.ndarray, nA, nB) -> np.ndarray:
    """Matched inner products fl(fl(<a_i, b_i> / |a_i|) / |b_i|) (no division when nA is None)."""
    diag = np.einsum("nd,nd->n", A, B)
    if nA is not None:
        diag /= nA
        diag /= nB
    return diag


def normalised_blocks(A: np.ndarray, B: np.ndarray, nA, nB, block: int):
    """Yield (a, C) with C = fl(fl(A[a:b] B^T / nA) / nB), the normalised inner products of a row block."""
    for a in range(0, A.shape[0], block):
        b = min(A.shape[0], a + block)
        C = A[a:b] @ B.T
        if nA is not None:
            C /= nA[a:b, None]
            C /= nB[None, :]
        yield a, C


def _edge_stats(A: np.ndarray, B: np.ndarray, block: int, nA=None, nB=None, progress=None):
    """Min of the matched and max/argmax of the non-matched normalised inner products, blockwise.

    ``nA``, ``nB``: row norms to divide by (None: rows taken as they are); ``progress(rows)``
    is called after each block.
    """
    N = A.shape[0]
    diag = normalised_diag(A, B, nA, nB)
    i_pos = int(np.argmin(diag))
    neg, neg_pair = -np.inf, (0, 1)
    for a, G in normalised_blocks(A, B, nA, nB, block):
        r = np.arange(G.shape[0])
        G[r, a + r] = -np.inf
        flat = int(np.argmax(G))
        i, j = divmod(flat, N)
        if G[i, j] > neg:
            neg, neg_pair = float(G[i, j]), (a + i, j)
        if progress is not None:
            progress(G.shape[0])
    return float(diag[i_pos]), i_pos, neg, neg_pair


def margin_stats(X, graph=None, *, block: int | None = None, progress=None) -> MarginStats:
    """Compute pos, neg, m*, b*_rel overall and per edge, and the pairs attaining them.

    Parameters
    ----------
    X : Configuration or array_like, shape (M, N, d)
        Unit rows (validated with :func:`~constellations.core.configuration.as_array`); the
        statistics are of the normalised rows (see the module docstring).
    graph : Graph or str, optional
        Defaults to the configuration's graph, else complete.
    block : int, optional
        Rows per block (default keeps each block near 8 MiB).
    progress : callable, optional
        ``progress(rows)`` after each block of rows of each edge (edges x N rows in all), for
        progress display by the caller.

    Returns
    -------
    MarginStats
    """
    A, G = resolve(X, graph)
    N = A.shape[1]
    block = block or block_rows(N)
    norms = row_norms(A)
    edges = []
    for k, l in G.edges:
        nk, nl = (None, None) if norms is None else (norms[k], norms[l])
        pos, i_pos, neg, pair = _edge_stats(A[k], A[l], block, nk, nl, progress)
        edges.append(EdgeMargin((k, l), pos, neg, (pos - neg) / 2, (pos + neg) / 2, i_pos, pair))
    ep = min(edges, key=lambda e: e.pos)
    en = max(edges, key=lambda e: e.neg)
    pos, neg = ep.pos, en.neg
    return MarginStats(pos, neg, (pos - neg) / 2, (pos + neg) / 2, tuple(edges),
                       (*ep.edge, ep.pos_item), (*en.edge, *en.neg_pair))


def margin(X, graph=None) -> float:
    """The margin m* = (pos - neg)/2 (half the gap) of a configuration."""
    return margin_stats(X, graph).margin


def retrieval_accuracy(X, graph=None, *, block: int | None = None, progress=None) -> dict:
    """Top-1 nearest-neighbour retrieval accuracy per edge and direction.

    For the edge (k, l), ``acc[(k, l)]`` is the fraction of items i whose largest normalised
    inner product <X[k,i], X[l,j]> / (|X[k,i]| |X[l,j]|) over j is attained at j = i (ties count as failures unless i is the
    first maximiser), and ``acc[(l, k)]`` the same with the roles swapped.  If m* > 0,
    every accuracy is 1 (docs/math.md, Corollary on retrieval).  ``progress(rows)`` is called
    after each block, as in :func:`margin_stats`.

    Returns
    -------
    dict mapping (source, target) modality pairs to floats in [0, 1].
    """
    A, G = resolve(X, graph)
    N = A.shape[1]
    block = block or block_rows(N)
    out = {}
    norms = row_norms(A)
    for k, l in G.edges:
        hits_kl = 0
        col_max = np.full(N, -np.inf)
        col_arg = np.zeros(N, dtype=np.int64)
        nk, nl = (None, None) if norms is None else (norms[k], norms[l])
        for a, Gm in normalised_blocks(A[k], A[l], nk, nl, block):
            b = a + Gm.shape[0]
            hits_kl += int(np.count_nonzero(np.argmax(Gm, axis=1) == np.arange(a, b)))
            bm = Gm.max(axis=0)
            better = bm > col_max
            col_arg[better] = a + np.argmax(Gm[:, better], axis=0)
            col_max[better] = bm[better]
            if progress is not None:
                progress(Gm.shape[0])
        out[(k, l)] = hits_kl / N
        out[(l, k)] = int(np.count_nonzero(col_arg == np.arange(N))) / N
    return out


# ------------------------------------------------------------------ margins of raw arrays (search)

def _raw_offdiag_max(A: np.ndarray, B: np.ndarray, block: int) -> float:
    """max over i != j of <A_i, B_j> as computed (rows not renormalised), blockwise."""
    N = A.shape[0]
    best = -np.inf
    for a in range(0, N, block):
        G = A[a:a + block] @ B.T
        r = np.arange(G.shape[0])
        G[r, a + r] = -np.inf
        best = max(best, float(G.max()))
    return best


def code_margin(C, *, block: int | None = None) -> float:
    """(1 - c)/2, c the largest <C_i, C_j> over i != j, in float64, blockwise (O(block N) memory).

    The margin of the tied configuration of the code C, taking pos = 1 and the rows as they are
    (not renormalised): the search and its polish compare iterates by this number, and a
    Configuration (validation, normalisation) per call would cost more than the product.
    """
    C = np.asarray(C, dtype=np.float64)
    return 0.5 * (1.0 - _raw_offdiag_max(C, C, block or block_rows(C.shape[0])))


def pos_neg(X, edges, *, block: int | None = None) -> tuple[float, float]:
    """(pos, neg) of an (M, N, d) array over the given edges, as computed (no validation, no
    renormalisation), blockwise."""
    X = np.asarray(X, dtype=np.float64)
    block = block or block_rows(X.shape[1])
    pos, neg = np.inf, -np.inf
    for k, l in edges:
        pos = min(pos, float(np.einsum("nd,nd->n", X[k], X[l]).min()))
        neg = max(neg, _raw_offdiag_max(X[k], X[l], block))
    return pos, neg


def free_margin(X, edges, *, block: int | None = None) -> float:
    """(pos - neg)/2 of an (M, N, d) array over the given edges (see :func:`pos_neg`)."""
    pos, neg = pos_neg(X, edges, block=block)
    return 0.5 * (pos - neg)

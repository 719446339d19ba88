r"""Structured starts for codes: classical configurations, cut down to N points and padded to R^d.

The pool (each only when it has at least N points and fits in R^d): the regular simplex
(N <= d + 1), the cross-polytope (N <= 2d), the union of the cross-polytope and the normalised
all-ones-sign vectors (+-1, ..., +-1)/sqrt(d) for d <= 6 (the cube's vertices), the regular N-gon,
the icosahedron (d >= 3), the 24-cell and the 600-cell (d >= 4), the roots of D_d, and the E8 roots
(d >= 8).  All are computed here or in :mod:`constellations.constructions` /
:mod:`constellations.lattices` from their definitions; nothing is read from a table.

A pool member with more than N points is cut down greedily: while too many, remove the point with
the largest crowding sum_j exp(50 (<P_i, P_j> - c)) (c the largest cosine), i.e. the one pressed by
the most near-neighbours; a subset of a code is a code, so its largest cosine can only drop.  The
starts are ranked by that cosine (smallest first) and relaxed by the search like any warm start.
"""
from __future__ import annotations

import itertools

import numpy as np

__all__ = ["structured_starts"]


def _pool(n: int, dim: int):
    from constellations import constructions as K
    from constellations.lattices import dn_roots

    if n <= dim + 1:
        yield "simplex", K.simplex_code(n, dim)
    if n <= 2 * dim:
        yield "cross-polytope", K.cross_polytope_code(n, dim)
    if dim <= 6:
        cube = np.array(list(itertools.product((1.0, -1.0), repeat=dim))) / np.sqrt(dim)
        yield "cross-polytope + cube", np.vstack([np.eye(dim), -np.eye(dim), cube])
    if dim >= 2:
        yield "polygon", K.polygon_code(n, dim)
    fixed = [("icosahedron", 3, K.icosahedron_code), ("24-cell", 4, K.cell24_code),
             ("600-cell", 4, K.cell600_code), ("E8 roots", 8, K.e8_code)]
    for name, d0, build in fixed:
        if dim >= d0:
            yield name, build()
    if dim >= 3:
        yield f"D{dim} roots", dn_roots(dim).astype(np.float64) / np.sqrt(2.0)


def _cut(P: np.ndarray, n: int) -> np.ndarray:
    """Remove the most crowded point until n remain (see the module docstring)."""
    P = P / np.linalg.norm(P, axis=1, keepdims=True)
    while len(P) > n:
        G = P @ P.T
        np.fill_diagonal(G, -np.inf)
        crowd = np.exp(50.0 * (G - G.max())).sum(axis=1)
        P = np.delete(P, int(np.argmax(crowd)), axis=0)
    return P


def structured_starts(n: int, dim: int, limit: int = 3) -> list[tuple[str, np.ndarray]]:
    """Up to ``limit`` structured (N, d) codes, best (smallest largest cosine) first: ``[(name, C)]``.

    Pool members with more than 4 N points (or 5000) are skipped: the greedy cut is O(P^3).
    """
    out = []
    for name, P in _pool(n, dim):
        if len(P) < n or len(P) > max(4 * n, 64) or len(P) > 5000:
            continue
        C = _cut(np.asarray(P, dtype=np.float64), n)
        C = np.hstack([C, np.zeros((n, dim - C.shape[1]))])
        G = C @ C.T
        np.fill_diagonal(G, -np.inf)
        out.append((float(G.max()), name, C))
    out.sort(key=lambda t: t[0])
    return [(name, C) for _, name, C in out[:limit]]

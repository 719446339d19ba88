r"""Fused per-pair sums of the Gram blocks (:mod:`.gram`): one Numba pass per block gives everything the
checks of a SigLIP model need (:mod:`.logits`, :mod:`.temperature`, :mod:`.calibration`, recall@K of
:mod:`.retrieval`) without storing a product.

A block G holds the products s_ij = <U_i, V_j> of rows r0 .. r0 + R - 1 of an edge with all N columns (at the
sweep precision, within epsilon of the float64 reference); (i, j) is *positive* (y = 1) when
lab[i] = lab[j] (i = j without labels), *negative* (y = 0) otherwise.  The row kernel accumulates, by flag:

- ``HIST``: per fine bin k = floor((s + 1) F/2) (F = :data:`FINE` equal bins on [-1, 1], clipped) of the
  positives and of the negatives, the count (for histograms) and, with ``MOMENTS``, the power sums
  sum delta, sum delta^2, sum delta^3 of delta = (s - c_k)/h (c_k the bin centre, h = 2/F): enough for a
  two-node quadrature of each bin (:func:`.temperature.quadrature_points`);
- ``MODEL`` at (t, b), z = t s + b, sigma the logistic function, w = sigma(z) sigma(-z):
  the losses sum_pos softplus(-z) and sum_neg softplus(z), the gradient sum (sigma(z) - y) (1, s) and the
  Hessian sum w (1, s, s^2) of the loss in (b, t), and the reliability bins: bin q holds the pairs with
  e_q <= z < e_{q+1} (``zedges`` e_1 < ... ascending, e_0 = -inf), with their count, positives and sum sigma(z);
- ``THRESH`` at theta: positives with s < theta - band, negatives with s > theta + band, and the number of
  products with |s - theta| <= band (decided in float64 afterwards: :meth:`PairSums.take`);
- ``RECALL``: per row i, s+_i = the largest positive product, lo_i = #negatives with s > s+_i + 2 eps and
  hi_i = #negatives with s >= s+_i - 2 eps (the exact float64 counts of both ">" and ">=" lie in [lo, hi]);
- ``EXT``: min and max of the positives and of the negatives.

The column kernel keeps, per column j, the largest positive and the K largest negatives (recall@K the
other way).  softplus and sigma are computed from e = exp(-|z|) (softplus(z) = max(z, 0) + log1p(e), log1p by
its series e - e^2/2 + e^3/3 below e = 1e-6, where it is exact to 1e-18 relative), never log(sigma + eps).
Row sums are accumulated per row, then per thread: float64 throughout.

:func:`block_sums` is the same in NumPy: the reference of both kernels (the tests compare them), and what
runs on small blocks (up to :data:`NUMPY_MAX` products), where importing Numba would cost more than it saves.
"""
from __future__ import annotations

import math
import types
from functools import cache

import numpy as np

from constellations.core.jit import njit

__all__ = ["FINE", "HIST", "MODEL", "THRESH", "RECALL", "EXT", "MOMENTS", "NSUMS", "NUMPY_MAX", "PairSums",
           "block_sums", "fine_index"]

FINE = 32000  # fine bins on [-1, 1]: 160 per bin of the 200-bin histograms, h = 6.25e-5
HIST, MODEL, THRESH, RECALL, EXT, MOMENTS = 1, 2, 4, 8, 16, 32
#: sums per edge: loss_pos, loss_neg, sum r, sum r s, sum w, sum w s, sum w s^2, pos below, neg above, in band
NSUMS = 10
prange = range  # Numba's prange in the compiled copies (:func:`_compiled`)


def fine_index(s, fine: int = FINE):
    """Fine bin of products ``s`` (array): floor((s + 1) F/2), clipped to 0 .. F - 1."""
    return np.clip(np.floor((np.asarray(s, dtype=np.float64) + 1.0) * (fine * 0.5)), 0, fine - 1).astype(np.int64)


def _hist_add(hist, c, side, s, half, fine, moments):
    """Add s to the count (and the power sums) of its fine bin (``side`` 0: positives, 1: negatives)."""
    k = int(math.floor((s + 1.0) * half))
    k = 0 if k < 0 else (fine - 1 if k >= fine else k)
    hist[c, side, k, 0] += 1.0  # the four sums of a bin share a cache line
    if moments:
        d = (s + 1.0) * half - (k + 0.5)
        hist[c, side, k, 1] += d
        hist[c, side, k, 2] += d * d
        hist[c, side, k, 3] += d * d * d


def _model_add(acc, rel, c, s, pos, t, b, zedges):
    """Loss, gradient, Hessian terms and the reliability bin of one product at (t, b)."""
    z = t * s + b
    e = math.exp(-abs(z))
    # log1p(e) by its series below 1e-6 (relative error < e^3/4 < 1e-18): most negatives sit far in the tail
    l1 = e * (1.0 - e * (0.5 - e * (1.0 / 3.0))) if e < 1e-6 else math.log1p(e)
    inv = 1.0 / (1.0 + e)
    sig = inv if z >= 0 else e * inv
    w = e * inv * inv
    if pos:
        acc[0] += max(-z, 0.0) + l1
        r = sig - 1.0
    else:
        acc[1] += max(z, 0.0) + l1
        r = sig
    acc[2] += r
    acc[3] += r * s
    acc[4] += w
    acc[5] += w * s
    acc[6] += w * s * s
    lo, hi = 0, zedges.shape[0]
    while lo < hi:  # q = #edges <= z
        mid = (lo + hi) // 2
        if zedges[mid] <= z:
            lo = mid + 1
        else:
            hi = mid
    rel[c, 0, lo] += 1.0
    rel[c, 2, lo] += sig
    if pos:
        rel[c, 1, lo] += 1.0


def _row_max_positive(G, i, lab, li):
    best = -np.inf
    for j in range(G.shape[1]):
        if lab[j] == li and G[i, j] > best:
            best = G[i, j]
    return best


def _rows_py(G, lab, r0, distinct, flags, t, b, zedges, theta, band, eps2, nchunks, hist, sums, rel, ext, srow,
             lo_row, hi_row):
    R, N = G.shape
    fine = hist.shape[2]
    half = fine * 0.5
    for c in prange(nchunks):
        acc = np.zeros(NSUMS)
        for i in range((c * R) // nchunks, ((c + 1) * R) // nchunks):
            ii = r0 + i
            li = lab[ii]
            smax = 0.0
            if flags & RECALL:  # without labels the one positive is the diagonal
                smax = G[i, ii] * 1.0 if distinct else _row_max_positive(G, i, lab, li)
            acc[:] = 0.0
            lo = 0
            hi = 0
            for j in range(N):
                s = G[i, j] * 1.0
                pos = lab[j] == li
                if flags & HIST:
                    _hist_add(hist, c, 0 if pos else 1, s, half, fine, flags & MOMENTS)
                if flags & MODEL:
                    _model_add(acc, rel, c, s, pos, t, b, zedges)
                if flags & THRESH:
                    if abs(s - theta) <= band:
                        acc[9] += 1.0
                    elif pos and s < theta:
                        acc[7] += 1.0
                    elif not pos and s > theta:
                        acc[8] += 1.0
                if flags & EXT:
                    q = 0 if pos else 2
                    ext[c, q] = min(ext[c, q], s)
                    ext[c, q + 1] = max(ext[c, q + 1], s)
                if flags & RECALL and not pos:
                    lo += s > smax + eps2
                    hi += s >= smax - eps2
            for q in range(NSUMS):
                sums[c, q] += acc[q]
            if flags & RECALL:
                srow[ii] = smax
                lo_row[ii] = lo
                hi_row[ii] = hi


def _cols_py(G, lab, r0, nchunks, ctop, cmax):
    R, N = G.shape
    K = ctop.shape[1]
    for c in prange(nchunks):
        j0, j1 = (c * N) // nchunks, ((c + 1) * N) // nchunks
        kth = ctop[j0:j1, K - 1].copy()  # contiguous: most products fail this test
        for i in range(R):
            li = lab[r0 + i]
            for j in range(j0, j1):
                s = G[i, j] * 1.0
                if s <= kth[j - j0] and s <= cmax[j]:
                    continue
                if lab[j] == li:
                    if s > cmax[j]:
                        cmax[j] = s
                elif s > kth[j - j0]:
                    q = K - 1
                    while q > 0 and ctop[j, q - 1] < s:
                        ctop[j, q] = ctop[j, q - 1]
                        q -= 1
                    ctop[j, q] = s
                    kth[j - j0] = ctop[j, K - 1]


_HELPERS = ("_hist_add", "_model_add", "_row_max_positive")
#: Blocks of at most this many products run in NumPy (:func:`block_sums`), without Numba.
NUMPY_MAX = 1 << 18
#: Below this many products a block runs in the serial kernels: waking a thread pool costs more than it saves.
PARALLEL_MIN = 1 << 20


@cache
def _compiled() -> types.SimpleNamespace:
    """Numba versions of the kernels, parallel and serial, compiled on first use (Numba's disk cache spares it
    across processes).

    They are compiled in a copy of this module's globals where the helpers are their compiled versions and
    ``prange`` is Numba's, so the module's plain-Python functions stay as they are; the serial copies get
    their own names, hence their own cache files."""
    serial = {"cache": True, "parallel": False, "nogil": True}
    specs = {name: (name, serial) for name in _HELPERS}
    specs.update(rows=("_rows_py", dict(serial, parallel=True)), cols=("_cols_py", dict(serial, parallel=True)),
                 rows_serial=("_rows_py", dict(serial, suffix="_serial")),
                 cols_serial=("_cols_py", dict(serial, suffix="_serial")))
    return njit(globals(), specs)


class PairSums:
    """The sums of one pass over every block of every edge (see the module docstring), per edge.

    Parameters
    ----------
    gram : :class:`~.gram.Gram`
        The blocks, the rows and the float64 recomputation of chosen products.
    lab : array (N,) of int
        Class of every item (0 .. N-1 without labels).
    flags : int
        ``HIST | MOMENTS | MODEL | THRESH | RECALL | EXT``, any combination.
    t, b : float
        The model of ``MODEL`` (z = t s + b).
    zedges : array
        Ascending logit edges of the reliability bins (:func:`.calibration.logit_edges`).
    theta : float
        Threshold of ``THRESH`` (-b/t).
    eps : float
        Bound on |swept product - float64 product| (:func:`.gram.float32_gram_error`).
    kmax : int
        Negatives kept per column for ``RECALL``.

    Attributes: ``sums`` (E, NSUMS) (the threshold counts made exact by float64 recomputation of the band),
    ``rel`` (E, 3, bins), ``hist`` (E, 2, 4, FINE), ``ext`` (E, 4) = (min pos, max pos, min neg, max neg),
    and per edge ``srow, lo_row, hi_row`` (N,), ``ctop`` (N, kmax), ``cmax`` (N,).
    """

    def __init__(self, gram, lab, flags: int, *, t=0.0, b=0.0, zedges=None, theta=0.0, eps=0.0, kmax=1):
        E, N = len(gram.edges), gram.N
        self.gram, self.lab, self.flags = gram, np.ascontiguousarray(lab, dtype=np.int64), int(flags)
        self.distinct = bool(np.bincount(self.lab).max() == 1)  # positives are the diagonal
        self.t, self.b, self.theta, self.eps = float(t), float(b), float(theta), float(eps)
        self.zedges = np.zeros(0) if zedges is None else np.ascontiguousarray(zedges, dtype=np.float64)
        self.sums = np.zeros((E, NSUMS))
        self.rel = np.zeros((E, 3, self.zedges.size + 1))
        self.hist = np.zeros((E, 2, 4, FINE if flags & HIST else 1))
        self.ext = np.tile([np.inf, -np.inf, np.inf, -np.inf], (E, 1))
        rec = bool(flags & RECALL)
        self.srow = np.zeros((E, N if rec else 1))
        self.lo_row = np.zeros((E, N if rec else 1), dtype=np.int64)
        self.hi_row = np.zeros_like(self.lo_row)
        self.ctop = np.full((E, N if rec else 1, max(1, int(kmax))), -np.inf)
        self.cmax = np.full((E, N if rec else 1), -np.inf)

    def take(self, e: int, a: int, G) -> None:
        """Add the block G (a torch tensor or a NumPy array, rows a .. a + len(G) of edge e) to the sums."""
        Gn = G if isinstance(G, np.ndarray) else G.detach().cpu().numpy()
        R, N = Gn.shape
        band = 2 * self.eps
        if R * N <= NUMPY_MAX:
            d = block_sums(Gn, self.lab, a, self.flags, t=self.t, b=self.b, zedges=self.zedges, theta=self.theta,
                           band=band, eps2=band, kmax=self.ctop.shape[2])
        else:
            d = self._compiled_sums(e, a, Gn, band)
        if self.flags & RECALL and "srow" in d:
            self.srow[e, a:a + R], self.lo_row[e, a:a + R] = d["srow"], d["lo_row"]
            self.hi_row[e, a:a + R] = d["hi_row"]
            K = self.ctop.shape[2]
            self.ctop[e] = -np.sort(-np.concatenate([self.ctop[e], d["ctop"]], axis=1), axis=1)[:, :K]
            np.maximum(self.cmax[e], d["cmax"], out=self.cmax[e])
        if self.flags & THRESH and d["sums"][9] > 0:
            self._band(e, a, Gn, band)
        self.sums[e] += d["sums"]
        if self.flags & MODEL:
            self.rel[e] += d["rel"]
        if self.flags & HIST:
            self.hist[e] += d["hist"]
        if self.flags & EXT:
            ex, new = self.ext[e], d["ext"]
            ex[0], ex[1], ex[2], ex[3] = min(ex[0], new[0]), max(ex[1], new[1]), min(ex[2], new[2]), max(ex[3], new[3])

    def _compiled_sums(self, e: int, a: int, Gn: np.ndarray, band: float) -> dict:
        """The Numba kernels on one block (recall rows and columns written in place)."""
        k = _compiled()
        R, N = Gn.shape
        threads = k.numba.get_num_threads() if R * N >= PARALLEL_MIN else 1
        rows, cols = (k.rows, k.cols) if threads > 1 else (k.rows_serial, k.cols_serial)
        nc = max(1, min(R, threads))
        hist = np.zeros((nc, 2, self.hist.shape[-1], 4))
        sums = np.zeros((nc, NSUMS))
        rel = np.zeros((nc, 3, self.zedges.size + 1))
        ext = np.tile([np.inf, -np.inf, np.inf, -np.inf], (nc, 1))
        rows(Gn, self.lab, a, self.distinct, self.flags, self.t, self.b, self.zedges, self.theta, band, band, nc,
             hist, sums, rel, ext, self.srow[e], self.lo_row[e], self.hi_row[e])
        if self.flags & RECALL:
            cols(Gn, self.lab, a, max(1, min(N, threads)), self.ctop[e], self.cmax[e])
        return {"sums": sums.sum(axis=0), "rel": rel.sum(axis=0), "hist": hist.sum(axis=0).transpose(0, 2, 1),
                "ext": np.array([ext[:, 0].min(), ext[:, 1].max(), ext[:, 2].min(), ext[:, 3].max()])}

    def _band(self, e: int, a: int, Gn: np.ndarray, band: float) -> None:
        """Products within ``band`` of theta, decided in float64 (:meth:`~.gram.Gram.recompute`)."""
        ii, jj = np.nonzero(np.abs(Gn.astype(np.float64) - self.theta) <= band)
        ii = ii + a
        x = self.gram.recompute(np.full(ii.size, e), ii, jj)
        pos = self.lab[ii] == self.lab[jj]
        self.sums[e, 7] += np.count_nonzero(pos & (x < self.theta))
        self.sums[e, 8] += np.count_nonzero(~pos & (x > self.theta))


def block_sums(G, lab, r0: int, flags: int = HIST | MODEL | THRESH | RECALL | EXT | MOMENTS, *, t=0.0, b=0.0, zedges=(),
               theta=0.0, band=0.0, eps2=0.0, kmax=1) -> dict:
    """Both kernels on one block in NumPy (the flags' parts only): ``sums`` (NSUMS,), and by flag ``hist``
    (2, 4, FINE), ``rel`` (3, bins), ``ext`` (4,), ``srow, lo_row, hi_row`` (R,), ``ctop`` (N, kmax) and
    ``cmax`` (N,) of this block; the threshold counts are those of the swept values (the band is not decided)."""
    s = np.asarray(G, dtype=np.float64)
    R, N = s.shape
    lab = np.asarray(lab)
    pos = lab[r0:r0 + R, None] == lab[None, :]
    out = {"sums": np.zeros(NSUMS)}
    if flags & HIST:
        k = fine_index(s)
        d = (s + 1.0) * (FINE * 0.5) - (k + 0.5)
        out["hist"] = np.stack([np.stack([np.bincount(k[m], weights=d[m] ** p, minlength=FINE)
                                          if p == 0 or flags & MOMENTS else np.zeros(FINE) for p in range(4)])
                                for m in (pos, ~pos)])
    if flags & MODEL:
        _model_numpy(out, s, pos, t, b, zedges)
    if flags & THRESH:
        near = np.abs(s - theta) <= band
        out["sums"][7:10] = (np.count_nonzero(pos & ~near & (s < theta)), np.count_nonzero(~pos & ~near & (s > theta)),
                             np.count_nonzero(near))
    if flags & EXT:
        out["ext"] = np.array([s[pos].min(), s[pos].max(), s[~pos].min() if (~pos).any() else np.inf,
                               s[~pos].max() if (~pos).any() else -np.inf])
    if flags & RECALL:
        out["srow"] = srow = np.where(pos, s, -np.inf).max(axis=1)
        neg = np.where(pos, -np.inf, s)
        out["lo_row"] = np.count_nonzero(neg > srow[:, None] + eps2, axis=1)
        out["hi_row"] = np.count_nonzero(neg >= srow[:, None] - eps2, axis=1)
        top = -np.sort(-neg, axis=0)[:kmax]
        out["ctop"] = np.vstack([top, np.full((kmax - len(top), N), -np.inf)]).T
        out["cmax"] = np.where(pos, s, -np.inf).max(axis=0)
    return out


def _model_numpy(out: dict, s, pos, t: float, b: float, zedges) -> None:
    """The MODEL sums and reliability bins of a block (``numpy.logaddexp``)."""
    z = t * s + b
    lp, ln = np.logaddexp(0.0, -z), np.logaddexp(0.0, z)  # softplus(-z), softplus(z)
    sig = np.exp(-lp)
    w = np.exp(-lp - ln)
    r = sig - pos
    out["sums"][:7] = (lp[pos].sum(), ln[~pos].sum(), r.sum(), (r * s).sum(), w.sum(), (w * s).sum(),
                       (w * s * s).sum())
    q = np.searchsorted(np.asarray(zedges, dtype=np.float64), z, side="right")
    nb = len(zedges) + 1
    out["rel"] = np.stack([np.bincount(q.ravel(), minlength=nb), np.bincount(q[pos], minlength=nb),
                           np.bincount(q.ravel(), weights=sig.ravel(), minlength=nb)]).astype(np.float64)

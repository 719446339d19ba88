r"""The blocked Gram sweep: every edge's N^2 products seen once, in row blocks, never all held at once.

The Gram matrix U V^T of each edge (U = X[k], V = X[l], unit rows from :class:`~.rows.Rows`) is swept in
blocks of rows (torch, CPU or GPU; ``dtype="float64"`` by default, or ``"float32"`` with TF32 disabled),
whose products differ from the float64 reference by at most

.. math::  \varepsilon_{64} = 2.02\,\gamma^{(64)}_d, \qquad
           \varepsilon_{32} = 1.01\,(\gamma^{(32)}_d (1+u)^2 + 2u(1+u) + \gamma^{(64)}_d),
           \quad \gamma_d = d u / (1 - d u),\ u = 2^{-53} \text{ or } 2^{-24}

(any-order summation of d products of numbers of modulus <= 1; in float32 also the rounding of the unit
rows), see :func:`float32_gram_error`.  One sweep feeds the extremes and the percentile tails of the
positives and the negatives (:mod:`.order`) and the top-two of every row and column (:mod:`.retrieval`);
:meth:`Sweep.exact` then gives the float64 extremes and percentiles, equal to a float64 brute force (up to
the summation order of the d-term sums, ~1e-16), with memory O(M N d + B N) for B rows per block.  Sizes
whose rows and blocks would not fit (half the RAM, 90% of a GPU) are refused before anything is allocated
(:func:`check_memory`).
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np

from constellations.core.devices import device_memory_limit
from constellations.core.errors import ConfigurationError

from .order import Extreme, Population, Tail
from .retrieval import TopTwo
from .rows import ROW_CHUNK

__all__ = ["float32_gram_error", "sweep_block", "check_memory", "exact_float32", "Gram", "Sweep", "Exact", "run_pass"]

_BLOCK_BYTES = 1 << 27     # one Gram block (128 MiB)
_SAMPLE_ENTRIES = 1 << 24  # products in the percentile-window sample, per edge


def float32_gram_error(d: int, compute: str = "float32") -> float:
    r"""Rigorous bound on |<u,v>| computed in ``compute`` precision minus the float64 product of the rows.

    u, v are float64 unit rows; the float32 path rounds them to float32 (relative error u = 2^-24 per
    entry, so the exact product moves by <= 2u(1+u)) and sums d products in any order (error
    <= gamma_d sum |u_i v_i| <= gamma_d (1+u)^2, gamma_d = d u/(1 - d u)); the float64 reference itself
    carries gamma_d at u = 2^-53.  A factor 1.01 absorbs the second-order terms.
    """
    def gamma(unit):
        du = d * unit
        if du >= 0.5:
            raise ConfigurationError(f"d={d} is too large for a float error bound at unit roundoff {unit:g}")
        return du / (1 - du)
    u64 = 2.0 ** -53
    if compute == "float64":
        return 1.01 * 2 * gamma(u64)
    u = 2.0 ** -24
    return 1.01 * (gamma(u) * (1 + u) ** 2 + 2 * u * (1 + u) + gamma(u64))


def _itemsize(dtype: str) -> int:
    return 8 if dtype == "float64" else 4


def sweep_block(N: int, dtype: str, block: int | None = None) -> int:
    """Rows per Gram block: ``block``, or about 128 MiB of products."""
    return int(block or max(1, min(N, _BLOCK_BYTES // _itemsize(dtype) // N)))


def check_memory(M: int, N: int, d: int, dtype: str, block: int, dev, host_extra: int = 0) -> None:
    """Refuse (ConfigurationError) sizes whose rows and Gram blocks would not fit on ``dev`` (with
    ``host_extra`` bytes more when ``dev`` is the CPU: the recall lists of :mod:`.pairsums`)."""
    item = _itemsize(dtype)
    # rows at the sweep precision, two blocks of products (one is a masked copy with labels), a chunk of
    # float64 rows while normalising
    need = M * N * d * item + 2 * block * N * item + 2 * ROW_CHUNK * d * 8
    need += host_extra if dev.type == "cpu" else 0
    limit = device_memory_limit(dev)
    if need > limit:
        raise ConfigurationError(
            f"M={M} x N={N} x d={d} at {dtype} needs about {need / 2 ** 30:.3g} GiB for the rows and a Gram block, "
            f"over the limit of {limit / 2 ** 30:.3g} GiB ({'90% of the GPU' if dev.type == 'cuda' else 'half the RAM'})"
            + ("; try dtype float32" if dtype == "float64" else ""))


@contextlib.contextmanager
def exact_float32(torch):
    """No TF32 / reduced-precision float32 matmuls inside (the error bound assumes true float32)."""
    prec = torch.get_float32_matmul_precision()
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(prec)
        torch.backends.cuda.matmul.allow_tf32 = tf32


class Gram:
    """The Gram blocks of every edge at the sweep precision, the masks of the populations, and the float64
    recomputation of chosen products.

    Positives are the pairs (i, j) with lab[i] = lab[j] (the diagonal when ``distinct``), negatives the rest.
    """

    def __init__(self, torch, rows, edges, lab: np.ndarray, distinct: bool, block: int, dev):
        self.torch, self.rows, self.edges, self.block, self.dev = torch, rows, edges, block, dev
        self.N = rows.N
        self.distinct = distinct
        self.lab_t = torch.from_numpy(lab).to(dev)

    def blocks(self, e: int, rows_sel=None):
        """Blocks (row0, G) of edge e (all row blocks, or one block of the rows ``rows_sel``)."""
        k, l = self.edges[e]
        U, V = self.rows.dev[k], self.rows.dev[l]
        if rows_sel is not None:
            yield None, U[rows_sel] @ V.T
            return
        for a in range(0, self.N, self.block):
            yield a, U[a:a + self.block] @ V.T

    def masks(self, a, b, rows_sel=None):
        """Row indices r of the block and the same-class mask (None when ``distinct``)."""
        r = self.torch.arange(a, b, device=self.dev) if rows_sel is None else rows_sel
        if self.distinct:
            return r, None
        return r, self.lab_t[r][:, None] == self.lab_t[None, :]

    def oriented(self, G, pop_sign, excluded_same, r, same):
        """sign * G with the entries outside the population at -inf (a new tensor)."""
        Y = G if pop_sign > 0 else -G
        Y = Y.clone() if pop_sign > 0 else Y
        if same is None:
            if excluded_same:  # negatives: drop the diagonal
                Y[self.torch.arange(len(r), device=self.dev), r] = -math.inf
            return Y
        return Y.masked_fill(same if excluded_same else ~same, -math.inf)

    def recompute(self, e, i, j) -> np.ndarray:
        """Float64 products of the pairs (i, j) of edges e (arrays of equal length)."""
        out = np.empty(len(e))
        for ed in np.unique(e):
            m = e == ed
            k, l = self.edges[int(ed)]
            out[m] = self.rows.dots(k, l, i[m], j[m])
        return out


@dataclass(frozen=True)
class Exact:
    """Float64 results of a sweep: per edge the matched products ``diag`` (E, N), min positive, max negative,
    max same-class off-diagonal product (= max negative without labels); pooled percentiles p_pos, p_neg."""

    diag: np.ndarray
    pos_min: list
    neg_max: list
    off_max: list
    p_pos: float
    p_neg: float


class Sweep:
    """One sweep over the Gram blocks of every edge, and what it keeps (see the module docstring).

    ``consumers`` (e.g. :class:`~.pairsums.PairSums`) see every block of the main sweep, ``take(e, a, G)``.
    After :meth:`run`: ``tops`` (a :class:`~.retrieval.TopTwo` per edge), ``sweeps`` (1, or 3 when a
    percentile window had to be found by histogram), and :meth:`exact`.
    """

    def __init__(self, gram: Gram, eps: float, qp: float, qn: float, n_pos: int, n_neg: int, consumers=()):
        self.gram, self.eps, self.qp = gram, eps, qp
        self.consumers = tuple(consumers)  # each takes (e, a, G) of every block before it is overwritten
        E, distinct = len(gram.edges), gram.distinct
        self.neg = Population("negative", qn, n_neg)
        self.pos = Population("positive", qp, n_pos) if not distinct else None
        self.ext_neg = [Extreme(eps) for _ in range(E)]                            # max of negatives
        self.ext_pos = [Extreme(eps, -1.0) for _ in range(E)] if not distinct else None  # max of -positives
        self.ext_off = [Extreme(eps) for _ in range(E)] if not distinct else None  # max of same-class i != j
        self.tops, self.stats, self.sweeps = [], {}, 1

    def _pops(self):
        return [p for p in (self.neg, self.pos) if p is not None]

    def run(self, rng, progress=None) -> None:
        """Sample the percentile windows, sweep every block once, resolve the percentiles."""
        gram, torch = self.gram, self.gram.torch
        E = len(gram.edges)
        with torch.no_grad(), exact_float32(torch):
            for e in range(E):
                self._sample(e, rng)
            for pop in self._pops():
                pop.window(self.eps)
            total, done = E * math.ceil(gram.N / gram.block), 0
            for e in range(E):
                top = TopTwo(torch, gram.N, gram.rows.dev.dtype, gram.dev)
                for a, G in gram.blocks(e):
                    top.update(G, a)
                    for consumer in self.consumers:
                        consumer.take(e, a, G)
                    self._take(e, a, G)
                    del G
                    done += 1
                    if progress is not None:
                        progress(done, total)
                top.finish()
                self.tops.append(top)
            self._percentiles()

    def _sample(self, e: int, rng) -> None:
        """A random sample of rows of edge e, whose products place the percentile windows."""
        gram, N = self.gram, self.gram.N
        take = max(1, min(N, _SAMPLE_ENTRIES // N))
        sel = np.sort(rng.choice(N, size=take, replace=False)) if take < N else np.arange(N)
        sel_t = gram.torch.from_numpy(sel).to(gram.dev)
        _, G = next(gram.blocks(e, sel_t))
        r, same = gram.masks(None, None, sel_t)
        for pop, excl in ((self.neg, True), (self.pos, False)):
            if pop is None:
                continue
            Y = gram.oriented(G, pop.sign, excl, r, same)
            pop.samples.append(Y[Y > -math.inf].cpu().numpy())

    def _take(self, e: int, a: int, G) -> None:
        """Feed the block G (rows a ..) of edge e to the extremes and the tails (G is overwritten)."""
        gram, torch, pos, neg = self.gram, self.gram.torch, self.pos, self.neg
        b = a + G.shape[0]
        r, same = gram.masks(a, b)
        if pos is not None:
            Yp = gram.oriented(G, -1.0, False, r, same)  # -positives
            self.ext_pos[e].update(torch, Yp, e, a)
            Yp_t = Yp if pos.sign < 0 else gram.oriented(G, 1.0, False, r, same)
            pos.tail.update(torch, Yp_t, e, a)
            del Yp, Yp_t
            off = G.masked_fill(~same, -math.inf)
            off[torch.arange(b - a, device=gram.dev), r] = -math.inf
            self.ext_off[e].update(torch, off, e, a)
            del off
        if same is None:  # G is not needed any more: drop the diagonal in place, no copy
            G[torch.arange(b - a, device=gram.dev), r] = -math.inf
            Yn = G
        else:
            Yn = gram.oriented(G, 1.0, True, r, same)
        self.ext_neg[e].update(torch, Yn, e, a)
        if neg.sign < 0:
            Yn = gram.oriented(G, -1.0, True, r, same)
        neg.tail.update(torch, Yn, e, a)

    def _percentiles(self) -> None:
        """Exact percentiles from the tails, or (window missed) from histogram + collecting sweeps."""
        for pop in self._pops():
            st = pop.resolve(self.eps, self.gram.recompute)
            if st is None:
                self.sweeps = 3
                st = self._fallback(pop)
            self.stats[pop.name] = pop.percentile(st)

    def _fallback(self, pop: Population) -> dict:
        """The sampled window missed: a histogram sweep brackets the order statistics, a second sweep collects them."""
        gram, torch, eps = self.gram, self.gram.torch, self.eps
        neg_pop = pop is self.neg
        bins = 1 << 14
        lo, hi = -1.0 - 4 * eps, 1.0 + 4 * eps
        hist = torch.zeros(bins, dtype=torch.float64)
        for e in range(len(gram.edges)):
            for a, G in gram.blocks(e):
                r, same = gram.masks(a, a + G.shape[0])
                Y = gram.oriented(G, pop.sign, neg_pop, r, same)
                Y = Y[Y > -math.inf]
                hist += torch.histc(Y, bins=bins, min=lo, max=hi).to(torch.float64).cpu()
        cum = np.cumsum(hist.numpy())
        width = (hi - lo) / bins
        ranks = sorted(pop.ranks)
        b0 = int(np.searchsorted(cum, ranks[0] + 1))
        b1 = int(np.searchsorted(cum, ranks[1] + 1))
        # histc's bin edges are float32 computations: widen by a bin and by the error bound
        pop.tail = Tail(lo + (b0 - 1) * width - 3 * eps, lo + (b1 + 2) * width + 3 * eps)
        for e in range(len(gram.edges)):
            for a, G in gram.blocks(e):
                r, same = gram.masks(a, a + G.shape[0])
                pop.tail.update(torch, gram.oriented(G, pop.sign, neg_pop, r, same), e, a)
        st = pop.resolve(eps, gram.recompute)
        if st is None:  # pragma: no cover - the bracket holds the order statistics by construction
            raise ConfigurationError("internal error: percentile bracket missed")
        return st

    def exact(self) -> Exact:
        """The float64 extremes and percentiles (after :meth:`run`)."""
        gram, rows, N = self.gram, self.gram.rows, self.gram.N
        E = len(gram.edges)
        diag = np.empty((E, N))
        for e, (k, l) in enumerate(gram.edges):
            diag[e] = rows.dots(k, l, np.arange(N), np.arange(N))
        neg_max = [ext.exact(gram.recompute)[0] for ext in self.ext_neg]
        if gram.distinct:
            pos_min = [float(diag[e].min()) for e in range(E)]
            p_pos = float(np.percentile(diag.ravel(), self.qp))
            off_max = neg_max
        else:
            pos_min = [-ext.exact(gram.recompute)[0] for ext in self.ext_pos]
            p_pos = self.stats["positive"]
            off_max = [max(neg_max[e], self.ext_off[e].exact(gram.recompute)[0]) for e in range(E)]
        return Exact(diag, pos_min, neg_max, off_max, p_pos, self.stats["negative"])


def run_pass(gram: Gram, consumer, progress=None) -> None:
    """One more sweep over every block of every edge, fed to ``consumer.take(e, a, G)`` (G at the sweep
    precision); ``progress(done, total)`` after every block of this pass.

    On the CPU the blocks are NumPy products of the same rows (OpenBLAS runs small products on one thread,
    where torch wakes its pool for each; the error bound is the same, true float32 or float64 sums), on a
    GPU torch products with TF32 off."""
    torch = gram.torch
    E = len(gram.edges)
    per = math.ceil(gram.N / gram.block)
    on_cpu = gram.dev.type == "cpu"
    with torch.no_grad(), exact_float32(torch):
        for e, (k, l) in enumerate(gram.edges):
            U, V = (gram.rows.dev[k].numpy(), gram.rows.dev[l].numpy()) if on_cpu else (None, None)
            blocks = ((a, U[a:a + gram.block] @ V.T) for a in range(0, gram.N, gram.block)) if on_cpu \
                else gram.blocks(e)
            for a, G in blocks:
                consumer.take(e, a, G)
                del G
                if progress is not None:
                    progress(e * per + a // gram.block + 1, E * per)

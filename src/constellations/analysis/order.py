"""Order statistics of a population of N^2 products streamed in blocks, exact in float64.

The Gram sweep (:mod:`.gram`) sees the products at its own precision, within epsilon of the float64
reference (:func:`~constellations.analysis.gram.float32_gram_error`); what it keeps here provably contains
every wanted float64 value, which is then recomputed in float64 (``recompute(e, i, j)``) and ranked:

- :class:`Extreme` (min pos, max neg): all entries within 2 epsilon of the swept extreme;
- :class:`Population` and its :class:`Tail` (percentiles): a random sample of rows places a window around
  the wanted order statistics; the sweep counts the entries above the window and keeps (value, index) of
  those inside it; the swept order statistics k and k+1 then follow exactly, and the float64 ones lie
  among the entries within 2 epsilon of them (order statistics move by at most epsilon).  If the window
  misses (rare; never wrong, only slower), :meth:`Population.resolve` says so and the sweep finds them by
  a histogram sweep and a collecting sweep.

Percentiles are exactly ``numpy.percentile`` (linear interpolation): :func:`numpy_percentile_index`.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["numpy_percentile_index", "lerp", "Extreme", "Tail", "Population"]


def numpy_percentile_index(n: int, q: float) -> tuple[int, int, float]:
    """Order statistics (k, k+1, clipped) and weight t of ``numpy.percentile(a, q)`` ('linear') for a.size = n."""
    qq = np.true_divide(np.float64(q), 100)
    virtual = (n - 1) * qq  # numpy's 'linear' virtual index
    if virtual >= n - 1:
        return n - 1, n - 1, 0.0
    k = int(np.floor(virtual))
    return k, k + 1, float(virtual - k)


def lerp(a: float, b: float, t: float) -> float:
    """numpy's _lerp: a + (b - a) t, computed from b when t >= 0.5."""
    diff = b - a
    return float(b - diff * (1 - t)) if t >= 0.5 else float(a + diff * t)


class Extreme:
    """Largest value of a population streamed as float32 blocks, with every entry within 2 eps of it kept."""

    def __init__(self, eps: float, sign: float = 1.0):
        self.eps2 = 2 * eps
        self.sign = sign  # the blocks hold sign * <U_i, V_j>
        self.best = -math.inf
        self.e, self.i, self.j, self.v = [], [], [], []

    def update(self, torch, G, e: int, row0: int) -> None:
        m = float(G.amax())
        if m == -math.inf or m < self.best - self.eps2:
            return
        self.best = max(self.best, m)
        idx = torch.nonzero(G >= self.best - self.eps2)
        vals = G[idx[:, 0], idx[:, 1]].cpu().numpy()
        idx = idx.cpu().numpy()
        self.e.append(np.full(len(idx), e)); self.i.append(idx[:, 0] + row0); self.j.append(idx[:, 1])
        self.v.append(vals)
        if len(self.v) > 64:
            self._prune()

    def _prune(self):
        e, i, j, v = (np.concatenate(x) for x in (self.e, self.i, self.j, self.v))
        keep = v >= self.best - self.eps2
        self.e, self.i, self.j, self.v = [e[keep]], [i[keep]], [j[keep]], [v[keep]]

    def exact(self, recompute) -> tuple[float, tuple]:
        """Float64 maximum among the candidates (``recompute(e, i, j)`` gives float64 values), and its pair."""
        if not self.v:
            return -math.inf, None
        self._prune()
        vals = self.sign * recompute(self.e[0], self.i[0], self.j[0])
        a = int(np.argmax(vals))
        return float(vals[a]), (int(self.e[0][a]), int(self.i[0][a]), int(self.j[0][a]))


class Tail:
    """Upper-tail order statistics of a population of float32 values (excluded entries are -inf).

    Counts the entries above ``hi`` and keeps (value, pair) of those in [lo, hi].
    """

    def __init__(self, lo: float, hi: float):
        self.lo, self.hi = lo, hi
        self.above = 0
        self.e, self.i, self.j, self.v = [], [], [], []

    def update(self, torch, G, e: int, row0: int) -> None:
        # one comparison over the block; the upper tail it selects is small (the tail is oriented so)
        idx = torch.nonzero(G >= self.lo if self.lo > -math.inf else G > -math.inf)  # -inf: not in population
        vals = G[idx[:, 0], idx[:, 1]]
        inside = vals <= self.hi
        self.above += int(vals.numel() - int(torch.count_nonzero(inside)))
        if bool(inside.any()):
            self.v.append(vals[inside].cpu().numpy())
            idx = idx[inside].to(torch.int32).cpu().numpy()  # compact: the window may hold ~1e7 entries
            self.e.append(np.full(len(idx), e, dtype=np.int16))
            self.i.append(idx[:, 0] + np.int32(row0)); self.j.append(idx[:, 1])

    def arrays(self):
        if not self.v:
            z = np.zeros(0, dtype=np.int64)
            return z, z, z, np.zeros(0, dtype=np.float32)
        return tuple(np.concatenate(x) for x in (self.e, self.i, self.j, self.v))


class Population:
    """One pooled population (positives or negatives) and its percentile, oriented so the tail is upper.

    ``sign`` = +1 works on the values x, -1 on -x (with q -> 100 - q): both order statistics sought then
    sit in the upper half, where the tail kept is small.
    """

    def __init__(self, name: str, q: float, n: int):
        self.name, self.q, self.n = name, q, n
        self.sign = 1.0 if q >= 50 else -1.0
        k, k1, self.t = numpy_percentile_index(n, q)
        # ascending ranks of x, mapped to ascending ranks of sign * x
        self.ranks = (k, k1) if self.sign > 0 else (n - 1 - k, n - 1 - k1)
        self.tail = None
        self.samples = []

    def window(self, eps: float) -> None:
        """Window [lo, hi] around the wanted ranks, from the sampled values (level +- 0.002 + 5 sigma)."""
        s = np.sort(np.concatenate(self.samples)) if self.samples else np.zeros(0)
        self.samples = []
        if s.size == 0:
            self.tail = Tail(-math.inf, math.inf)
            return
        lev = [r / max(self.n - 1, 1) for r in self.ranks]
        p = max(min(lev), 1e-12)
        delta = 0.002 + 5 * math.sqrt(p * (1 - p) / s.size)
        lo = s[int(np.clip(np.floor((min(lev) - delta) * (s.size - 1)), 0, s.size - 1))]
        hi = s[int(np.clip(np.ceil((max(lev) + delta) * (s.size - 1)), 0, s.size - 1))]
        if min(lev) - delta <= 0:
            lo = -math.inf
        if max(lev) + delta >= 1:
            hi = math.inf
        self.tail = Tail(float(lo) - 3 * eps, float(hi) + 3 * eps)

    def resolve(self, eps: float, recompute):
        """Exact float64 order statistics (sign-oriented) from the tail, or None if the window missed."""
        e, i, j, v = self.tail.arrays()
        below = self.n - self.tail.above - v.size
        order = np.argsort(v, kind="stable")
        ranks = sorted(self.ranks)
        lo_r, hi_r = ranks[0] - below, ranks[1] - below
        if lo_r < 0 or hi_r >= v.size:
            return None
        v32_lo, v32_hi = float(v[order[lo_r]]), float(v[order[hi_r]])
        if v32_lo - 2 * eps < self.tail.lo or v32_hi + 2 * eps > self.tail.hi:
            return None
        cand = (v >= v32_lo - 2 * eps) & (v <= v32_hi + 2 * eps)
        below_c = below + int(np.count_nonzero(v < v32_lo - 2 * eps))
        vals = np.sort(self.sign * recompute(e[cand], i[cand], j[cand]))
        out = {r: float(vals[r - below_c]) for r in ranks}
        return out

    def percentile(self, stats: dict) -> float:
        """numpy.percentile of the original values from the sign-oriented order statistics."""
        a, b = (self.sign * stats[r] for r in self.ranks)
        return lerp(a, b, self.t)

r"""Analysis of real paired embeddings: margin forms, retrieval, the modality gap, xi.

Input: M modalities of N embeddings in R^d (an array (M, N, d), a Configuration, or a pair (U, V)),
float32 or float64, not necessarily unit-norm: every row is divided by its norm first (the raw norms are
reported), and optionally integer ``labels`` of shape (N,) for data with several items per class.

Positives and negatives.  For an edge (k, l) of the graph, the pair (i, j) is *positive* if i = j or, with
labels, if labels[i] = labels[j]; it is *negative* otherwise.  (With labels = 0..N-1 this is the usual
matched / non-matched split.  With class labels and one text embedding per class repeated for every image,
same-class pairs are true positives, not negatives.)  All edges are pooled.

Margin forms (docs/math.md sections 2 and 7; m is always HALF the gap, b_rel the midpoint):

- ``minmax``: m = (min pos - max neg)/2, the constellation margin m* (usually < 0 for real models);
- ``percentile``: m = (p5(pos) - p95(neg))/2 (the paper's Tables 5/6), percentiles exactly as
  ``numpy.percentile`` (linear interpolation) of the float64 inner products;
- ``mean``: m = (mean(pos) - mean(neg))/2, from the closed forms sum_{i,j} <U_i, V_j> = <sum U, sum V> and
  sum_{same class} = sum_c <sum_{i in c} U_i, sum_{j in c} V_j> (float64, O(N d));

each with b_rel = (pos + neg)/2 for its own pos and neg.

How the N^2 products are handled (exact results without N^2 float64 numbers held at once).  Rows are
normalised in float64 (scaled by a power of two first when the input is wider than float32); the
*reference* values are the float64 inner products of those rows.  The Gram matrix is swept once in row
blocks (torch, CPU or GPU; ``dtype="float64"`` by default, or ``"float32"`` with TF32 disabled), whose
products differ from the reference by at most

.. math::  \varepsilon_{64} = 2.02\,\gamma^{(64)}_d, \qquad
           \varepsilon_{32} = 1.01\,(\gamma^{(32)}_d (1+u)^2 + 2u(1+u) + \gamma^{(64)}_d),
           \quad \gamma_d = d u / (1 - d u),\ u = 2^{-53} \text{ or } 2^{-24}

(any-order summation of d products of numbers of modulus <= 1; in float32 also the rounding of the unit
rows), see :func:`float32_gram_error`.  Every reported extreme and order statistic is then recomputed in
float64 from a candidate set that provably contains it:

- extremes (min pos, max neg): all entries within 2 epsilon of the swept extreme;
- percentiles: a random sample of rows places a window around the wanted order statistics; the sweep
  counts the entries above the window and keeps (value, index) of those inside it; the swept order
  statistics k and k+1 then follow exactly, and the float64 ones lie among the entries within 2 epsilon of
  them (order statistics move by at most epsilon); those are recomputed in float64 and ranked.  If the
  window misses (rare; never wrong, only slower), a histogram sweep and a collecting sweep find them;
- top-1 retrieval: the two largest products of every row and column are kept; rows or columns whose top
  two are within 2 epsilon are recomputed in float64 (numpy's first-index rule on ties).

So the results equal a float64 brute force (up to the summation order of the d-term sums, ~1e-16), with
memory O(M N d + B N) for B rows per block, never O(N^2).  Sizes whose rows and blocks would not fit
(half the RAM, 90% of a GPU) are refused before anything is allocated.

Top-1 retrieval, both directions of every edge: i -> argmax_j <X[k,i], X[l,j]> is a hit if it has i's label.

Modality gap (Theorem 3.6).  If N >= d + 2, all matched inner products are > 0 and all non-matched are < 0,
some unit h has <h, U_i> > 0 for all i and <h, V_j> < 0 for at least N - d indices j.  For each edge
(U = X[k], V = X[l]) we solve linear programs with SciPy's HiGHS:

1. max gamma s.t. <h, U_i> >= gamma, <h, V_j> <= -gamma, -1 <= h <= 1.  gamma > 0 iff the sets are strictly
   separated by a hyperplane through the origin ("linearly separable"): then all N V_j are negative.
2. Otherwise max gamma s.t. <h, U_i> >= gamma only; gamma <= 0 means no h puts all U_i on the positive side.
3. Otherwise, with <h, U_i> >= gamma_U / 2 imposed, minimise the total hinge sum_j max(0, <h, V_j> + gamma_U/2),
   re-weighted three times (re-weighted l1) to increase the count; the mean-difference direction
   mean(U) - mean(V) is tried as well.  The best count of V_j with <h, V_j> < 0 is reported (a lower bound on
   the maximum count, which is NP-hard in general; it is exact whenever step 1 succeeds).

The LPs have N rows of d dense coefficients (HiGHS needs about 20 s for 300 items in d = 1152).  Above
``gap_sample`` items (default 200) the mean-difference direction is first evaluated on all N items (if it
separates them, no LP is needed); otherwise the LPs run on a seeded random subset of that many items, each
with a time limit (``gap_time``, default 10 s), the direction found is evaluated on all N items (its
counts are exact for that h), and :attr:`GapTest.sample` records the subset size: a "not found" or "not
separable" answer is then about the subset only.  The hypotheses are always checked on all N items.

xi (docs/math.md section 7): with x_i = U_i - V_i, xi = (1/N) sum_i |x_i - mean(x)|^2; xi = 0 iff all U_i - V_i are
equal.  The norm of the mean difference |mean(U) - mean(V)| is reported with it (xi = mean |x_i|^2 - |mean x|^2).
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass

import numpy as np

from .configuration import Configuration
from .devices import device_memory_limit, resolve_device
from .errors import ConfigurationError
from .graphs import parse_graph

__all__ = ["MarginForm", "GapTest", "EdgeAnalysis", "PairAnalysis", "analyze_pairs", "modality_gap",
           "float32_gram_error", "numpy_percentile_index", "check_percentiles"]

_ROW_CHUNK = 4096          # rows per float64 chunk when normalising or recomputing
_BLOCK_BYTES = 1 << 27     # one Gram block (128 MiB)
_SAMPLE_ENTRIES = 1 << 24  # products in the percentile-window sample, per edge
_PAIR_CHUNK = 1 << 14      # candidate pairs recomputed in float64 at once


@dataclass(frozen=True)
class MarginForm:
    """One margin form: ``margin`` = (pos - neg)/2 (half the gap), ``b_rel`` = (pos + neg)/2."""

    name: str
    pos: float
    neg: float
    margin: float
    b_rel: float


@dataclass(frozen=True)
class GapTest:
    """Theorem 3.6 test for one edge (U = X[k], V = X[l]).

    Attributes
    ----------
    edge : (k, l)
    found : bool
        A direction h with <h, U_i> > 0 for all i was found (False: none exists among the LP's items, by LP 2).
    h : tuple of float or None
        Unit direction found.
    n_negative : int
        Number of j (of all N) with <h, V_j> < 0 (0 if not found).
    separable : bool
        U and V are strictly separated by a hyperplane through the origin (then n_negative = N).
    gamma : float
        Optimal value of LP 1 (> 0 iff separable), in the box-normalised scale.
    hypotheses : bool
        N >= d + 2, all matched inner products > 0 and all non-matched < 0 (all N items).
    guarantee : int or None
        N - d when ``hypotheses`` hold (the theorem then promises n_negative >= N - d for the best h).
    method : str
    sample : int or None
        Number of items the LPs saw when they ran on a random subset (None: all N).
    """

    edge: tuple
    found: bool
    h: tuple | None
    n_negative: int
    separable: bool
    gamma: float
    hypotheses: bool
    guarantee: int | None
    method: str
    sample: int | None = None


@dataclass(frozen=True)
class EdgeAnalysis:
    """Per-edge quantities: xi, |mean(U) - mean(V)|, retrieval both ways, the min/max margin and the gap test."""

    edge: tuple
    xi: float
    mean_diff_norm: float
    retrieval_kl: float
    retrieval_lk: float
    margin_minmax: float
    b_rel_minmax: float
    gap: GapTest | None


@dataclass(frozen=True)
class PairAnalysis:
    """The result of :func:`analyze_pairs`.

    Attributes
    ----------
    modalities, n, dim : int
        M modalities, N items, dimension d.
    graph : str
    n_classes : int
        Number of distinct labels (N without labels).
    norms : dict
        Raw row norms per modality: ``{k: (min, mean, max)}``.
    mean_norms : dict
        |mean of the normalised rows| per modality.
    forms : dict
        ``"minmax"``, ``"percentile"``, ``"mean"`` -> :class:`MarginForm` (pooled over the edges).
    percentiles : (float, float)
        The percentiles used for pos and neg (default 5 and 95).
    counts : dict
        Number of positive and negative pairs pooled.
    edges : tuple of EdgeAnalysis
    device : str
        Where the float32 sweep ran.
    epsilon : float
        The bound on |float32 - float64| products used to select float64 candidates.
    sweeps : int
        Gram sweeps made (1, or 3 when a percentile window had to be found by histogram).
    """

    modalities: int
    n: int
    dim: int
    graph: str
    n_classes: int
    norms: dict
    mean_norms: dict
    forms: dict
    percentiles: tuple
    counts: dict
    edges: tuple
    device: str = "cpu"
    epsilon: float = 0.0
    sweeps: int = 1

    def to_dict(self) -> dict:
        """Plain nested dict for JSON."""
        out = asdict(self)
        out["forms"] = {k: asdict(v) for k, v in self.forms.items()}
        out["norms"] = {str(k): v for k, v in self.norms.items()}
        out["mean_norms"] = {str(k): v for k, v in self.mean_norms.items()}
        return out


# ----------------------------------------------------------------------------------------------- input

def _validate_labels(labels, N: int) -> np.ndarray:
    lab = np.asarray(labels)
    if lab.shape != (N,):
        raise ConfigurationError(f"labels must have shape (N,)=({N},), got {lab.shape}")
    if lab.dtype.kind == "f":
        if not np.isfinite(lab).all() or (lab != np.round(lab)).any():
            raise ConfigurationError("labels must be integers")
    elif lab.dtype.kind not in "iub":
        raise ConfigurationError(f"labels must be integers, got dtype {lab.dtype}")
    _, inv = np.unique(lab, return_inverse=True)
    return inv.astype(np.int64).reshape(N)


def _modalities(X) -> tuple[list, object]:
    """The raw modalities as a list of (N, d) arrays (no copies), and a graph from a Configuration."""
    if isinstance(X, Configuration):
        return [X.X[k] for k in range(X.M)], X.graph
    if isinstance(X, (tuple, list)):
        arrs = [np.asarray(a) for a in X]
    else:
        A = np.asarray(X)
        if A.ndim != 3:
            raise ConfigurationError(f"expected an array of shape (M, N, d), got {A.ndim}-D shape {A.shape}")
        arrs = [A[k] for k in range(A.shape[0])]
    if any(a.ndim != 2 for a in arrs):
        raise ConfigurationError(f"each modality must be a 2-D array (N, d); got shapes {[a.shape for a in arrs]}")
    for a in arrs:
        if a.dtype == object or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            raise ConfigurationError(f"expected a real numeric array, got dtype {a.dtype}")
    if len({a.shape for a in arrs}) > 1:
        ns = sorted({a.shape[0] for a in arrs})
        what = "N (items)" if len(ns) > 1 else "d (dimension)"
        raise ConfigurationError(f"modalities disagree in {what}: shapes {[a.shape for a in arrs]}")
    if len(arrs) < 2:
        raise ConfigurationError(f"need at least 2 modalities, got M={len(arrs)}")
    N, d = arrs[0].shape
    if N < 2:
        raise ConfigurationError(f"need at least N=2 items, got N={N}")
    if d < 1:
        raise ConfigurationError(f"need dimension d >= 1, got d={d}")
    return arrs, None


def _unit_chunk(raw: np.ndarray, k: int, a: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows raw[a:a+c] as float64 unit rows and their norms (power-of-two scaling, as as_array)."""
    x = np.asarray(raw, dtype=np.float64)
    if not np.isfinite(x).all():
        i, j = np.argwhere(~np.isfinite(x))[0]
        raise ConfigurationError(f"array contains NaN or Inf (first at index ({k}, {a + int(i)}, {int(j)}))")
    u, nrm = _unit(x, np.asarray(raw).dtype)
    if (nrm == 0).any():
        i = int(np.argmax(nrm == 0))
        raise ConfigurationError(f"row {a + i} of modality {k} is zero and has no direction")
    return u, nrm


def _unit(x: np.ndarray, src_dtype) -> tuple[np.ndarray, np.ndarray]:
    """Float64 rows x divided by their norms.  Squares of float32 (or narrower) entries can neither overflow
    nor underflow in float64; wider input is first scaled by the power of two nearest above its largest
    entry (exact), so 1e-200 and 1e200 rows normalise correctly too."""
    if np.dtype(src_dtype).itemsize <= 4 and np.dtype(src_dtype).kind == "f":
        n = np.sqrt(np.einsum("nd,nd->n", x, x))
        with np.errstate(invalid="ignore", divide="ignore"):
            return x / n[:, None], n
    peak = np.abs(x).max(axis=1)
    expo = np.frexp(peak)[1]
    s = np.ldexp(x, -expo[:, None])
    sn = np.sqrt(np.einsum("nd,nd->n", s, s))
    with np.errstate(invalid="ignore", divide="ignore"):
        return s / sn[:, None], np.ldexp(sn, expo)


class _Rows:
    """The normalised rows: float64 on demand (from the raw input), float32 on the torch device."""

    def __init__(self, arrs, torch, device, dtype: str):
        self.raw = arrs
        self.M = len(arrs)
        self.N, self.d = arrs[0].shape
        self.norms = np.empty((self.M, self.N))
        self.sums = np.zeros((self.M, self.d))
        self.is64 = dtype == "float64"
        np_dt = np.float64 if self.is64 else np.float32
        self.torch = torch
        self.dev = torch.empty((self.M, self.N, self.d), dtype=getattr(torch, dtype), device=device)
        for k, a in enumerate(arrs):
            for s in range(0, self.N, _ROW_CHUNK):
                u, nrm = _unit_chunk(a[s:s + _ROW_CHUNK], k, s)
                self.norms[k, s:s + len(u)] = nrm
                self.sums[k] += u.sum(axis=0)
                self.dev[k, s:s + len(u)] = torch.from_numpy(u.astype(np_dt, copy=False)).to(device)

    def f64(self, k: int, idx) -> np.ndarray:
        """Float64 unit rows idx of modality k (exactly the rows the float32 ones were rounded from)."""
        idx = np.asarray(idx)
        if self.is64:
            return self.dev[k][self.torch.from_numpy(idx.astype(np.int64)).to(self.dev.device)].cpu().numpy()
        return _unit(np.asarray(self.raw[k][idx], dtype=np.float64), self.raw[k].dtype)[0]

    def chunks(self, k: int):
        for s in range(0, self.N, _ROW_CHUNK):
            yield s, self.f64(k, np.arange(s, min(self.N, s + _ROW_CHUNK)))

    def dots(self, k: int, l: int, i, j) -> np.ndarray:
        """Float64 <U_i, V_j> for index arrays i, j (in chunks)."""
        i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
        out = np.empty(i.size)
        for s in range(0, i.size, _PAIR_CHUNK):
            ii, jj = i[s:s + _PAIR_CHUNK], j[s:s + _PAIR_CHUNK]
            if self.is64:  # gather on the device, no host copies of the rows
                t = self.torch
                A = self.dev[k][t.from_numpy(ii).to(self.dev.device)]
                B = self.dev[l][t.from_numpy(jj).to(self.dev.device)]
                out[s:s + ii.size] = (A * B).sum(dim=1).cpu().numpy()
            else:
                out[s:s + ii.size] = np.einsum("nd,nd->n", self.f64(k, ii), self.f64(l, jj))
        return out

    def full_rows(self, k: int, l: int, rows) -> np.ndarray:
        """Float64 products of rows ``rows`` of modality k with every row of modality l: shape (len, N)."""
        if self.is64:
            t = self.torch
            return (self.dev[k][t.from_numpy(np.asarray(rows, dtype=np.int64)).to(self.dev.device)]
                    @ self.dev[l].T).cpu().numpy()
        A = self.f64(k, rows)
        out = np.empty((len(rows), self.N))
        for s, B in self.chunks(l):
            out[:, s:s + len(B)] = A @ B.T
        return out


# ----------------------------------------------------------------------------------------------- bounds

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


def numpy_percentile_index(n: int, q: float) -> tuple[int, int, float]:
    """Order statistics (k, k+1, clipped) and weight t of ``numpy.percentile(a, q)`` ('linear') for a.size = n."""
    qq = np.true_divide(np.float64(q), 100)
    virtual = (n - 1) * qq  # numpy's 'linear' virtual index
    if virtual >= n - 1:
        return n - 1, n - 1, 0.0
    k = int(np.floor(virtual))
    return k, k + 1, float(virtual - k)


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's _lerp: a + (b - a) t, computed from b when t >= 0.5."""
    diff = b - a
    return float(b - diff * (1 - t)) if t >= 0.5 else float(a + diff * t)


# ----------------------------------------------------------------------------------------------- sweep state

class _Extreme:
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


class _Tail:
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


class _Population:
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
            self.tail = _Tail(-math.inf, math.inf)
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
        self.tail = _Tail(float(lo) - 3 * eps, float(hi) + 3 * eps)

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
        return _lerp(a, b, self.t)


# ----------------------------------------------------------------------------------------------- the sweep

@contextlib.contextmanager
def _exact_float32(torch):
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


def analyze_pairs(X, graph=None, labels=None, *, percentiles=(5.0, 95.0), gap: bool = True,
                  block: int | None = None, device: str = "cpu", dtype: str = "float64", gap_sample: int = 200,
                  gap_time: float | None = 10.0, seed: int = 0, progress=None) -> PairAnalysis:
    """Analyse paired embeddings (see the module docstring for every quantity and how it is computed).

    Parameters
    ----------
    X : array (M, N, d), Configuration, or a pair (U, V) of (N, d) arrays
        Rows need not be unit; they are normalised (zero rows, NaN/Inf, mismatched shapes, N < 2 raise
        :class:`~constellations.errors.ConfigurationError`).  float32 input is not copied to float64.
    graph : optional
        Edges to analyse (default: the configuration's, else complete).
    labels : array (N,) of int, optional
        Class of each item; same-class pairs count as positives.
    percentiles : (float, float)
        Percentile of the positives and of the negatives for the percentile margin, 0 <= first <= second
        <= 100 (:func:`check_percentiles`; a reversed pair is refused).
    gap : bool
        Run the modality-gap LPs (Theorem 3.6).
    block : int, optional
        Rows per Gram block (default: about 128 MiB of products per block).
    device : str
        torch device of the Gram sweep: ``"cpu"``, ``"cuda"``, ``"cuda:K"`` or ``"auto"``.
    dtype : {"float64", "float32"}
        Precision of the sweep.  Both give the same (float64) results; float64 keeps the candidate sets
        tiny (epsilon ~ d 2^-52), float32 halves the memory of the rows and speeds the products on GPUs
        without fast float64, at the price of recomputing every product within 2 epsilon (~ d 2^-23) of
        a wanted order statistic in float64.
    gap_sample : int
        Most items the gap LPs see (a seeded random subset above it; see :class:`GapTest`).  Above it the
        mean-difference direction is tried on all N first, and no LP runs if it separates them.
    gap_time : float or None
        Time limit of each gap LP in seconds (HiGHS ``time_limit``; ``None``: none).  Dense LPs with
        d ~ 1000 columns take minutes for a few hundred items; a cut-short LP is reported as such.
    seed : int
        Seed (>= 0) of the row sample (percentile window) and of the LP subset; results do not depend on it.
    progress : callable(done, total), optional
        Called after every Gram block.
    """
    import torch

    qp, qn = check_percentiles(percentiles)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigurationError(f"seed must be an integer >= 0, got {seed!r}")
    arrs, cfg_graph = _modalities(X)
    M = len(arrs)
    N, d = arrs[0].shape
    G_ = parse_graph(graph if graph is not None else cfg_graph, M)
    edges = G_.edges
    E = len(edges)
    if dtype not in ("float64", "float32"):
        raise ConfigurationError(f"dtype must be float64 or float32, got {dtype!r}")
    dev = resolve_device(device)
    item = 8 if dtype == "float64" else 4
    block = int(block or max(1, min(N, _BLOCK_BYTES // item // N)))
    # rows at the sweep precision, two blocks of products (one is a masked copy with labels), a chunk of
    # float64 rows while normalising
    need = M * N * d * item + 2 * block * N * item + 2 * _ROW_CHUNK * d * 8
    limit = device_memory_limit(dev)
    if need > limit:
        raise ConfigurationError(
            f"M={M} x N={N} x d={d} at {dtype} needs about {need / 2 ** 30:.3g} GiB for the rows and a Gram block, "
            f"over the limit of {limit / 2 ** 30:.3g} GiB ({'90% of the GPU' if dev.type == 'cuda' else 'half the RAM'})"
            + ("; try dtype float32" if dtype == "float64" else ""))
    lab = _validate_labels(labels, N) if labels is not None else np.arange(N)
    counts_c = np.bincount(lab)
    distinct = counts_c.max() == 1  # positives are exactly the diagonal
    n_pos = E * int(np.sum(counts_c.astype(np.int64) ** 2))
    n_neg = E * N * N - n_pos
    if n_neg == 0:
        raise ConfigurationError("need at least one positive and one negative pair (all items share one label)")
    if gap_sample < 2:
        raise ConfigurationError(f"gap_sample must be >= 2, got {gap_sample}")
    rows = _Rows(arrs, torch, dev, dtype)
    eps = float32_gram_error(d, dtype)
    lab_t = torch.from_numpy(lab).to(dev)
    rng = np.random.default_rng(seed)

    def recompute(e, i, j):
        out = np.empty(len(e))
        for ed in np.unique(e):
            m = e == ed
            k, l = edges[int(ed)]
            out[m] = rows.dots(k, l, i[m], j[m])
        return out

    neg = _Population("negative", qn, n_neg)
    pos = _Population("positive", qp, n_pos) if not distinct else None
    ext_neg = [_Extreme(eps) for _ in edges]            # max of negatives, per edge
    ext_pos = [_Extreme(eps, -1.0) for _ in edges] if not distinct else None  # max of -positives
    ext_off = [_Extreme(eps) for _ in edges] if not distinct else None  # max of same-class i != j

    def blocks(e, rows_sel=None):
        """Float32 blocks (row0, G) of edge e (all row blocks, or one block of the rows ``rows_sel``)."""
        k, l = edges[e]
        U, V = rows.dev[k], rows.dev[l]
        if rows_sel is not None:
            yield None, U[rows_sel] @ V.T
            return
        for a in range(0, N, block):
            yield a, U[a:a + block] @ V.T

    def masks(a, b, rows_sel=None):
        r = torch.arange(a, b, device=dev) if rows_sel is None else rows_sel
        if distinct:
            return r, None
        return r, lab_t[r][:, None] == lab_t[None, :]

    def oriented(G, pop_sign, excluded_same, r, same):
        """sign * G with the entries outside the population at -inf (a new tensor)."""
        Y = G if pop_sign > 0 else -G
        Y = Y.clone() if pop_sign > 0 else Y
        if same is None:
            if excluded_same:  # negatives: drop the diagonal
                Y[torch.arange(len(r), device=dev), r] = -math.inf
            return Y
        return Y.masked_fill(same if excluded_same else ~same, -math.inf)

    with torch.no_grad(), _exact_float32(torch):
        # 1. the sample that places the percentile windows
        for e in range(E):
            take = max(1, min(N, _SAMPLE_ENTRIES // N))
            sel = np.sort(rng.choice(N, size=take, replace=False)) if take < N else np.arange(N)
            sel_t = torch.from_numpy(sel).to(dev)
            _, G = next(blocks(e, sel_t))
            r, same = masks(None, None, sel_t)
            for pop, excl in ((neg, True), (pos, False)):
                if pop is None:
                    continue
                Y = oriented(G, pop.sign, excl, r, same)
                pop.samples.append(Y[Y > -math.inf].cpu().numpy())
        for pop in (neg, pos):
            if pop is not None:
                pop.window(eps)

        # 2. the sweep: retrieval, extremes, tails
        total = E * math.ceil(N / block)
        done = 0
        retrieval = []
        for e in range(E):
            row_top = torch.empty((N, 2), dtype=rows.dev.dtype, device=dev)
            row_arg = torch.empty(N, dtype=torch.int64, device=dev)
            col_top = torch.full((2, N), -math.inf, dtype=rows.dev.dtype, device=dev)
            col_arg = torch.zeros(N, dtype=torch.int64, device=dev)
            for a, G in blocks(e):
                b = a + G.shape[0]
                tv, ti = torch.topk(G, 2 if N > 1 else 1, dim=1)
                row_top[a:b], row_arg[a:b] = tv, ti[:, 0]
                cv, ci = torch.topk(G, min(2, G.shape[0]), dim=0)
                if cv.shape[0] == 1:
                    cv = torch.cat([cv, torch.full_like(cv, -math.inf)])
                    ci = torch.cat([ci, ci])
                both = torch.cat([col_top, cv])
                arg_both = torch.cat([col_arg[None].expand(2, N), ci + a])
                top2, where = torch.topk(both, 2, dim=0)  # stable across blocks: earlier rows first on ties
                col_arg = torch.gather(arg_both, 0, where[:1])[0]
                col_top = top2
                r, same = masks(a, b)
                if pos is not None:
                    Yp = oriented(G, -1.0, False, r, same)  # -positives
                    ext_pos[e].update(torch, Yp, e, a)
                    Yp_t = Yp if pos.sign < 0 else oriented(G, 1.0, False, r, same)
                    pos.tail.update(torch, Yp_t, e, a)
                    del Yp, Yp_t
                    off = G.masked_fill(~same, -math.inf)
                    off[torch.arange(b - a, device=dev), r] = -math.inf
                    ext_off[e].update(torch, off, e, a)
                    del off
                if same is None:  # G is not needed any more: drop the diagonal in place, no copy
                    G[torch.arange(b - a, device=dev), r] = -math.inf
                    Yn = G
                else:
                    Yn = oriented(G, 1.0, True, r, same)
                ext_neg[e].update(torch, Yn, e, a)
                if neg.sign < 0:
                    Yn = oriented(G, -1.0, True, r, same)
                neg.tail.update(torch, Yn, e, a)
                del Yn, G
                done += 1
                if progress is not None:
                    progress(done, total)
            retrieval.append((row_top.cpu().numpy(), row_arg.cpu().numpy(), col_top.cpu().numpy(),
                              col_arg.cpu().numpy()))

        # 3. percentiles: exact from the tails, or (window missed) histogram + collecting sweeps
        sweeps = 1
        stats = {}
        for pop in (neg, pos):
            if pop is None:
                continue
            st = pop.resolve(eps, recompute)
            if st is None:
                sweeps = 3
                st = _fallback(pop, eps, recompute, E, blocks, masks, oriented, neg_pop=pop is neg)
            stats[pop.name] = pop.percentile(st)

    # exact float64 quantities
    diag = np.empty((E, N))
    for e, (k, l) in enumerate(edges):
        diag[e] = rows.dots(k, l, np.arange(N), np.arange(N))
    neg_max = [ext.exact(recompute)[0] for ext in ext_neg]
    if distinct:
        pos_min = [float(diag[e].min()) for e in range(E)]
        p_pos = float(np.percentile(diag.ravel(), qp))
        off_max = neg_max
    else:
        pos_min = [-ext.exact(recompute)[0] for ext in ext_pos]
        p_pos = stats["positive"]
        off_max = [max(neg_max[e], ext_off[e].exact(recompute)[0]) for e in range(E)]
    p_neg = stats["negative"]

    # means from the closed forms
    tot_pos = tot_all = 0.0
    if distinct:
        tot_pos = float(diag.sum())
    else:
        from scipy import sparse

        sums = np.zeros((M, counts_c.size, d))
        for k in range(M):
            for s, u in rows.chunks(k):
                onehot = sparse.csr_matrix((np.ones(len(u)), (lab[s:s + len(u)], np.arange(len(u)))),
                                           shape=(counts_c.size, len(u)))
                sums[k] += onehot @ u
        for k, l in edges:
            tot_pos += float(np.einsum("cd,cd->", sums[k], sums[l]))
    for k, l in edges:
        tot_all += float(rows.sums[k] @ rows.sums[l])
    mean_pos = tot_pos / n_pos
    mean_neg = (tot_all - tot_pos) / n_neg

    pmin, nmax = min(pos_min), max(neg_max)
    forms = {
        "minmax": MarginForm("minmax", pmin, nmax, (pmin - nmax) / 2, (pmin + nmax) / 2),
        "percentile": MarginForm("percentile", p_pos, p_neg, (p_pos - p_neg) / 2, (p_pos + p_neg) / 2),
        "mean": MarginForm("mean", mean_pos, mean_neg, (mean_pos - mean_neg) / 2, (mean_pos + mean_neg) / 2),
    }

    out_edges = []
    for e, (k, l) in enumerate(edges):
        hits_kl, hits_lk = _retrieval(rows, k, l, lab, eps, *retrieval[e])
        xbar = (rows.sums[k] - rows.sums[l]) / N
        ssq = 0.0
        for (s, u), (_, v) in zip(rows.chunks(k), rows.chunks(l)):
            ssq += float(np.sum((u - v - xbar) ** 2))
        gt = None
        if gap:
            hyp = bool(diag[e].min() > 0 and off_max[e] < 0)
            gt = _gap_test(rows, k, l, hyp, gap_sample, rng, gap_time)
        out_edges.append(EdgeAnalysis((k, l), ssq / N, float(np.linalg.norm(xbar)), hits_kl / N, hits_lk / N,
                                      (pos_min[e] - neg_max[e]) / 2, (pos_min[e] + neg_max[e]) / 2, gt))
    norms = {k: (float(rows.norms[k].min()), float(rows.norms[k].mean()), float(rows.norms[k].max()))
             for k in range(M)}
    mean_norms = {k: float(np.linalg.norm(rows.sums[k] / N)) for k in range(M)}
    return PairAnalysis(M, N, d, G_.spec, int(counts_c.size), norms, mean_norms, forms, (qp, qn),
                        {"positive": n_pos, "negative": n_neg}, tuple(out_edges), str(dev), eps, sweeps)


def _retrieval(rows, k, l, lab, eps, row_top, row_arg, col_top, col_arg) -> tuple[int, int]:
    """Exact top-1 hits both ways: float32 winners, float64 recomputation where the top two are within 2 eps."""
    amb = np.flatnonzero(row_top[:, 0] - row_top[:, 1] <= 2 * eps)
    row_arg = row_arg.copy()
    for s in range(0, amb.size, 256):
        r = amb[s:s + 256]
        row_arg[r] = np.argmax(rows.full_rows(k, l, r), axis=1)
    amb = np.flatnonzero(col_top[0] - col_top[1] <= 2 * eps)
    col_arg = col_arg.copy()
    for s in range(0, amb.size, 256):
        c = amb[s:s + 256]
        col_arg[c] = np.argmax(rows.full_rows(l, k, c), axis=1)
    return int(np.count_nonzero(lab[row_arg] == lab)), int(np.count_nonzero(lab[col_arg] == lab))


def _fallback(pop, eps, recompute, E, blocks, masks, oriented, neg_pop: bool):
    """The sampled window missed: a histogram sweep brackets the order statistics, a second sweep collects them."""
    import torch

    bins = 1 << 14
    lo, hi = -1.0 - 4 * eps, 1.0 + 4 * eps
    hist = torch.zeros(bins, dtype=torch.float64)
    for e in range(E):
        for a, G in blocks(e):
            r, same = masks(a, a + G.shape[0])
            Y = oriented(G, pop.sign, neg_pop, r, same)
            Y = Y[Y > -math.inf]
            hist += torch.histc(Y, bins=bins, min=lo, max=hi).to(torch.float64).cpu()
    cum = np.cumsum(hist.numpy())
    width = (hi - lo) / bins
    ranks = sorted(pop.ranks)
    b0 = int(np.searchsorted(cum, ranks[0] + 1))
    b1 = int(np.searchsorted(cum, ranks[1] + 1))
    # histc's bin edges are float32 computations: widen by a bin and by the error bound
    pop.tail = _Tail(lo + (b0 - 1) * width - 3 * eps, lo + (b1 + 2) * width + 3 * eps)
    for e in range(E):
        for a, G in blocks(e):
            r, same = masks(a, a + G.shape[0])
            pop.tail.update(torch, oriented(G, pop.sign, neg_pop, r, same), e, a)
    st = pop.resolve(eps, recompute)
    if st is None:  # pragma: no cover - the bracket holds the order statistics by construction
        raise ConfigurationError("internal error: percentile bracket missed")
    return st


def _gap_test(rows, k, l, hyp: bool, gap_sample: int, rng, time_limit) -> GapTest:
    N, d = rows.N, rows.d
    if N <= gap_sample:
        U, V = rows.f64(k, np.arange(N)), rows.f64(l, np.arange(N))
        return modality_gap(U, V, hypotheses=hyp, edge=(k, l), time_limit=time_limit)
    hyp_full = bool(hyp and N >= d + 2)
    guarantee = N - d if hyp_full else None

    def on_all(h):
        n_neg, all_pos = 0, True
        for (s, u), (_, v) in zip(rows.chunks(k), rows.chunks(l)):
            all_pos &= bool((u @ h > 0).all())
            n_neg += int(np.count_nonzero(v @ h < 0))
        return all_pos, n_neg

    # The mean difference often separates real modalities outright: then no LP is needed.
    md = (rows.sums[k] - rows.sums[l]) / N
    md_pos, md_neg = on_all(md) if np.linalg.norm(md) > 0 else (False, 0)
    if md_pos and md_neg == N:
        return GapTest((k, l), True, tuple((md / np.linalg.norm(md)).tolist()), N, True, math.nan, hyp_full,
                       guarantee, f"mean(U) - mean(V) separates all {N} items strictly (no LP needed)")
    sel = np.sort(rng.choice(N, size=gap_sample, replace=False))
    g = modality_gap(rows.f64(k, sel), rows.f64(l, sel), hypotheses=False, edge=(k, l), time_limit=time_limit)
    note = f"; LPs on a random subset of {gap_sample} of {N} items, h evaluated on all {N}"
    best = None
    if g.found:
        h = np.array(g.h)
        all_pos, n_neg = on_all(h)
        if all_pos:
            best = (h, n_neg, g.method + note)
        else:
            note += "; the LP's h fails on some U_i outside the subset"
    if md_pos and (best is None or md_neg > best[1]):
        best = (md / np.linalg.norm(md), md_neg, f"mean(U) - mean(V) puts all U_i positive (beats the LP{note})")
    if best is None:
        return GapTest((k, l), False, None, 0, False, g.gamma, hyp_full, guarantee, g.method + note, gap_sample)
    h, n_neg, method = best
    return GapTest((k, l), True, tuple(h.tolist()), n_neg, n_neg == N, g.gamma, hyp_full, guarantee, method,
                   gap_sample)


class _LPTimeout(Exception):
    """HiGHS stopped at its time limit."""


def _lp(c, A_ub, b_ub, bounds, time_limit=None):
    from scipy.optimize import linprog

    opts = {} if time_limit is None else {"time_limit": float(time_limit)}
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs", options=opts)
    if res.status == 1 and time_limit is not None:
        raise _LPTimeout
    if res.status != 0:  # pragma: no cover - these LPs are always feasible and bounded
        raise ConfigurationError(f"LP failed: {res.message}")
    return res


def modality_gap(U, V, *, hypotheses: bool | None = None, edge=(0, 1), reweight: int = 3,
                 time_limit: float | None = None) -> GapTest:
    """The Theorem 3.6 test for unit rows U, V (N, d): see the module docstring for the LPs.

    ``time_limit`` (seconds, per LP) stops HiGHS; the result then says so in ``method`` and keeps the
    best direction found before (LP 1 or 2 cut short: ``found=False`` with that reason).
    """
    try:
        return _modality_gap(U, V, hypotheses, edge, reweight, time_limit)
    except _LPTimeout:
        U = np.asarray(U, dtype=np.float64)
        N, d = U.shape
        hyp = bool(hypotheses and N >= d + 2)
        return GapTest(tuple(edge), False, None, 0, False, math.nan, hyp, N - d if hyp else None,
                       f"LP stopped at the time limit of {time_limit:g} s before a direction was found")


def _modality_gap(U, V, hypotheses, edge, reweight, time_limit) -> GapTest:
    from scipy import sparse

    U = np.asarray(U, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    N, d = U.shape
    if hypotheses is None:
        G = U @ V.T
        off = G[~np.eye(N, dtype=bool)]
        hypotheses = bool(np.diag(G).min() > 0 and off.max() < 0)
    hyp = bool(hypotheses and N >= d + 2)
    guarantee = N - d if hyp else None
    box = [(-1.0, 1.0)] * d

    # LP 1: strict homogeneous separation; variables (h, gamma), maximise gamma <= 1.
    A1 = np.vstack([np.hstack([-U, np.ones((N, 1))]), np.hstack([V, np.ones((N, 1))])])
    r1 = _lp(np.r_[np.zeros(d), -1.0], A1, np.zeros(2 * N), box + [(None, 1.0)], time_limit)
    gamma = float(r1.x[-1])

    def count(h):
        return int(np.count_nonzero(V @ h < 0)), bool((U @ h > 0).all())

    if gamma > 1e-9:
        h = r1.x[:d]
        n_neg, ok = count(h)
        if ok and n_neg == N:
            return GapTest(tuple(edge), True, tuple((h / np.linalg.norm(h)).tolist()), N, True, gamma, hyp,
                           guarantee, "LP: strictly separable through the origin")
    # LP 2: can all U be put on the positive side?
    r2 = _lp(np.r_[np.zeros(d), -1.0], np.hstack([-U, np.ones((N, 1))]), np.zeros(N), box + [(None, 1.0)],
             time_limit)
    gU = float(r2.x[-1])
    if gU <= 1e-9:
        return GapTest(tuple(edge), False, None, 0, False, gamma, hyp, guarantee,
                       "LP: no h with <h, U_i> > 0 for all i (0 lies in the convex hull of the U_i)")
    eps = gU / 2
    best_h, best_n = r2.x[:d], count(r2.x[:d])[0]
    md = U.mean(axis=0) - V.mean(axis=0)
    n_md, ok = count(md)
    if ok and n_md > best_n:
        best_h, best_n = md, n_md
    # LP 3: hinge, re-weighted.  Variables (h, s): <h,U_i> >= eps, <h,V_j> - s_j <= -eps, s >= 0.
    A3 = sparse.vstack([sparse.hstack([sparse.csr_matrix(-U), sparse.csr_matrix((N, N))]),
                        sparse.hstack([sparse.csr_matrix(V), -sparse.identity(N)])]).tocsr()
    b3 = np.r_[-eps * np.ones(N), -eps * np.ones(N)]
    w = np.ones(N)
    note = ""
    for _ in range(1 + reweight):
        try:
            r3 = _lp(np.r_[np.zeros(d), w], A3, b3, box + [(0, None)] * N, time_limit)
        except _LPTimeout:
            note = f"; hinge LP stopped at the time limit of {time_limit:g} s"
            break
        h = r3.x[:d]
        n_neg, ok = count(h)
        if ok and n_neg > best_n:
            best_h, best_n = h, n_neg
        w = 1.0 / (r3.x[d:] + 1e-3 * eps)
        w /= w.max()
    h = best_h / np.linalg.norm(best_h)
    return GapTest(tuple(edge), True, tuple(h.tolist()), int(best_n), False, gamma, hyp, guarantee,
                   "LP: all U_i positive; V_j negatives maximised by re-weighted hinge LP (lower bound)" + note)

r"""Analysis of real paired embeddings: margin forms, retrieval, the modality gap, xi.

Input: M modalities of N embeddings in R^d (an array (M, N, d), a Configuration, or a pair (U, V)),
not necessarily unit-norm: every row is divided by its norm first (the raw norms are reported), and
optionally integer ``labels`` of shape (N,) for data with several items per class.

Positives and negatives.  For an edge (k, l) of the graph, the pair (i, j) is *positive* if i = j or, with
labels, if labels[i] = labels[j]; it is *negative* otherwise.  (With labels = 0..N-1 this is the usual
matched / non-matched split.  With class labels and one text embedding per class repeated for every image,
same-class pairs are true positives, not negatives.)  All edges are pooled.

Margin forms (docs/math.md sections 2 and 7; m is always HALF the gap, b_rel the midpoint):

- ``minmax``: m = (min pos - max neg)/2, the constellation margin m* (usually < 0 for real models);
- ``percentile``: m = (p5(pos) - p95(neg))/2 (the paper's Tables 5/6), percentiles as ``numpy.percentile``
  (linear interpolation), computed *exactly* in two blocked passes (a histogram, then the two bins that
  hold the order statistics), so no N x N matrix is ever stored;
- ``mean``: m = (mean(pos) - mean(neg))/2;

each with b_rel = (pos + neg)/2 for its own pos and neg.

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

xi (docs/math.md section 7): with x_i = U_i - V_i, xi = (1/N) sum_i |x_i - mean(x)|^2; xi = 0 iff all U_i - V_i are
equal.  The norm of the mean difference |mean(U) - mean(V)| is reported with it (xi = mean |x_i|^2 - |mean x|^2).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .configuration import Configuration, as_array
from .errors import ConfigurationError
from .graphs import parse_graph
from .margins import _edge_stats, block_rows

__all__ = ["MarginForm", "GapTest", "EdgeAnalysis", "PairAnalysis", "analyze_pairs", "modality_gap",
           "exact_percentiles"]

_BINS = 1 << 14
_LO, _HI = -1.0 - 1e-6, 1.0 + 1e-6


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
        A direction h with <h, U_i> > 0 for all i was found (False: none exists, by LP 2).
    h : tuple of float or None
        Unit direction found.
    n_negative : int
        Number of j with <h, V_j> < 0 (0 if not found).
    separable : bool
        U and V are strictly separated by a hyperplane through the origin (then n_negative = N).
    gamma : float
        Optimal value of LP 1 (> 0 iff separable), in the box-normalised scale.
    hypotheses : bool
        N >= d + 2, all matched inner products > 0 and all non-matched < 0.
    guarantee : int or None
        N - d when ``hypotheses`` hold (the theorem then promises n_negative >= N - d for the best h).
    method : str
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
    M, N, d : int
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
    """

    M: int
    N: int
    d: int
    graph: str
    n_classes: int
    norms: dict
    mean_norms: dict
    forms: dict
    percentiles: tuple
    counts: dict
    edges: tuple

    def to_dict(self) -> dict:
        """Plain nested dict for JSON."""
        out = asdict(self)
        out["forms"] = {k: asdict(v) for k, v in self.forms.items()}
        out["norms"] = {str(k): v for k, v in self.norms.items()}
        out["mean_norms"] = {str(k): v for k, v in self.mean_norms.items()}
        return out


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
    if np.bincount(inv).min() < 1:  # pragma: no cover - unique guarantees this
        raise ConfigurationError("empty class")
    return inv.astype(np.int64)


def _as_input(X):
    if isinstance(X, Configuration):
        return X.X, X.graph
    if isinstance(X, (tuple, list)) and len(X) == 2 and np.asarray(X[0]).ndim == 2:
        return [np.asarray(X[0]), np.asarray(X[1])], None
    return X, None


def _raw_norms(X) -> dict:
    if isinstance(X, list):
        X = np.stack([np.asarray(a, dtype=np.float64) for a in X])
    A = np.asarray(X, dtype=np.float64)
    n = np.linalg.norm(A, axis=-1)
    return {k: (float(n[k].min()), float(n[k].mean()), float(n[k].max())) for k in range(A.shape[0])}


class _Pool:
    """Running min/max/sum/count and a fixed-bin histogram of a stream of inner products."""

    def __init__(self):
        self.min, self.max, self.sum, self.count = np.inf, -np.inf, 0.0, 0
        self.hist = np.zeros(_BINS, dtype=np.int64)

    @staticmethod
    def bins(v: np.ndarray) -> np.ndarray:
        idx = np.floor((v - _LO) * (_BINS / (_HI - _LO))).astype(np.int64)
        return np.clip(idx, 0, _BINS - 1)

    def add(self, v: np.ndarray) -> None:
        if v.size == 0:
            return
        self.min = min(self.min, float(v.min()))
        self.max = max(self.max, float(v.max()))
        self.sum += float(v.sum())
        self.count += v.size
        self.hist += np.bincount(self.bins(v), minlength=_BINS)

    def wanted(self, q: float) -> tuple[int, int, set]:
        """Order statistics k, k+1 for percentile q (numpy 'linear'), and the bins holding them."""
        h = (self.count - 1) * q / 100.0
        k = int(np.floor(h))
        k1 = min(k + 1, self.count - 1)
        cum = np.cumsum(self.hist)
        b0 = int(np.searchsorted(cum, k + 1))
        b1 = int(np.searchsorted(cum, k1 + 1))
        return k, k1, {b0, b1}


def exact_percentiles(stream_factory, q_pos: float, q_neg: float):
    """Exact percentiles of two value streams in two passes (histogram, then the bins that matter).

    ``stream_factory()`` yields (pos_values, neg_values) blocks; it is called twice.  Returns
    (pos_pool, neg_pool, p_pos, p_neg) with numpy's 'linear' interpolation.
    """
    pools = (_Pool(), _Pool())
    for blocks in stream_factory():
        for pool, v in zip(pools, blocks):
            pool.add(v)
    if pools[0].count == 0 or pools[1].count == 0:
        raise ConfigurationError("need at least one positive and one negative pair")
    wanted = [pool.wanted(q) for pool, q in zip(pools, (q_pos, q_neg))]
    kept = ([], [])
    for blocks in stream_factory():
        for (k, k1, bins), v, store in zip(wanted, blocks, kept):
            if v.size:
                store.append(v[np.isin(_Pool.bins(v), list(bins))])
    out = []
    for (k, k1, bins), pool, store, q in zip(wanted, pools, kept, (q_pos, q_neg)):
        vals = np.sort(np.concatenate(store))
        below = int(pool.hist[: min(bins)].sum())
        lo, hi = vals[k - below], vals[k1 - below]
        h = (pool.count - 1) * q / 100.0
        out.append(float(lo + (h - np.floor(h)) * (hi - lo)))
    return pools[0], pools[1], out[0], out[1]


def _lp(c, A_ub, b_ub, bounds):
    from scipy.optimize import linprog

    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0:  # pragma: no cover - these LPs are always feasible and bounded
        raise ConfigurationError(f"LP failed: {res.message}")
    return res


def modality_gap(U, V, *, hypotheses: bool | None = None, edge=(0, 1), reweight: int = 3) -> GapTest:
    """The Theorem 3.6 test for unit rows U, V (N, d): see the module docstring for the LPs."""
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
    r1 = _lp(np.r_[np.zeros(d), -1.0], A1, np.zeros(2 * N), box + [(None, 1.0)])
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
    r2 = _lp(np.r_[np.zeros(d), -1.0], np.hstack([-U, np.ones((N, 1))]), np.zeros(N), box + [(None, 1.0)])
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
    for _ in range(1 + reweight):
        r3 = _lp(np.r_[np.zeros(d), w], A3, b3, box + [(0, None)] * N)
        h = r3.x[:d]
        n_neg, ok = count(h)
        if ok and n_neg > best_n:
            best_h, best_n = h, n_neg
        w = 1.0 / (r3.x[d:] + 1e-3 * eps)
        w /= w.max()
    h = best_h / np.linalg.norm(best_h)
    return GapTest(tuple(edge), True, tuple(h.tolist()), int(best_n), False, gamma, hyp, guarantee,
                   "LP: all U_i positive; V_j negatives maximised by re-weighted hinge LP (lower bound)")


def analyze_pairs(X, graph=None, labels=None, *, percentiles=(5.0, 95.0), gap: bool = True,
                  block: int | None = None) -> PairAnalysis:
    """Analyse paired embeddings (see the module docstring for every quantity).

    Parameters
    ----------
    X : array (M, N, d), Configuration, or a pair (U, V) of (N, d) arrays
        Rows need not be unit; they are normalised (zero rows, NaN/Inf, mismatched shapes raise
        :class:`~constellations.errors.ConfigurationError`).
    graph : optional
        Edges to analyse (default: the configuration's, else complete).
    labels : array (N,) of int, optional
        Class of each item; same-class pairs count as positives.
    percentiles : (float, float)
        Percentile of the positives and of the negatives for the percentile margin.
    gap : bool
        Run the modality-gap LPs (Theorem 3.6).
    """
    raw, cfg_graph = _as_input(X)
    A = as_array(raw, normalize=True)
    norms = _raw_norms(raw)
    M, N, d = A.shape
    G = parse_graph(graph if graph is not None else cfg_graph, M)
    lab = _validate_labels(labels, N) if labels is not None else np.arange(N)
    qp, qn = (float(p) for p in percentiles)
    if not (0 <= qp <= 100 and 0 <= qn <= 100):
        raise ConfigurationError(f"percentiles must lie in [0, 100], got {percentiles}")
    block = block or block_rows(N)

    def stream():
        for k, l in G.edges:
            for a in range(0, N, block):
                b = min(N, a + block)
                Gm = A[k][a:b] @ A[l].T
                same = lab[a:b, None] == lab[None, :]
                yield Gm[same], Gm[~same]

    pp, pn, p_pos, p_neg = exact_percentiles(stream, qp, qn)
    forms = {
        "minmax": MarginForm("minmax", pp.min, pn.max, (pp.min - pn.max) / 2, (pp.min + pn.max) / 2),
        "percentile": MarginForm("percentile", p_pos, p_neg, (p_pos - p_neg) / 2, (p_pos + p_neg) / 2),
        "mean": MarginForm("mean", pp.sum / pp.count, pn.sum / pn.count,
                           (pp.sum / pp.count - pn.sum / pn.count) / 2, (pp.sum / pp.count + pn.sum / pn.count) / 2),
    }
    edges = []
    for k, l in G.edges:
        U, V = A[k], A[l]
        x = U - V
        xbar = x.mean(axis=0)
        xi = float(np.mean(np.sum((x - xbar) ** 2, axis=1)))
        hits_kl = hits_lk = 0
        col_max = np.full(N, -np.inf)
        col_arg = np.zeros(N, dtype=np.int64)
        pos_min, neg_max = np.inf, -np.inf
        for a in range(0, N, block):
            b = min(N, a + block)
            Gm = U[a:b] @ V.T
            hits_kl += int(np.count_nonzero(lab[np.argmax(Gm, axis=1)] == lab[a:b]))
            bm = Gm.max(axis=0)
            better = bm > col_max
            col_arg[better] = a + np.argmax(Gm[:, better], axis=0)
            col_max[better] = bm[better]
            same = lab[a:b, None] == lab[None, :]
            pos_min = min(pos_min, float(Gm[same].min()))
            if (~same).any():
                neg_max = max(neg_max, float(Gm[~same].max()))
        hits_lk = int(np.count_nonzero(lab[col_arg] == lab))
        gt = None
        if gap:
            # The theorem's hypotheses are about matched (i = j) vs non-matched pairs.
            pos, _, neg, _ = _edge_stats(U, V, block)
            hyp = pos > 0 and neg < 0
            gt = modality_gap(U, V, hypotheses=hyp, edge=(k, l))
        edges.append(EdgeAnalysis((k, l), xi, float(np.linalg.norm(xbar)), hits_kl / N, hits_lk / N,
                                  (pos_min - neg_max) / 2, (pos_min + neg_max) / 2, gt))
    mean_norms = {k: float(np.linalg.norm(A[k].mean(axis=0))) for k in range(M)}
    return PairAnalysis(M, N, d, G.spec, int(lab.max()) + 1, norms, mean_norms, forms, (qp, qn),
                        {"positive": pp.count, "negative": pn.count}, tuple(edges))

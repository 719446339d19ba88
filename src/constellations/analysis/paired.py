r"""Analysis of real paired embeddings: :func:`analyze_pairs` puts the parts together.

Input: M modalities of N embeddings in R^d (an array (M, N, d), a Configuration, or a pair (U, V)),
float32 or float64, not necessarily unit-norm, and optionally integer ``labels`` of shape (N,) for data with
several items per class (:mod:`.rows`).  For every edge of the graph it reports:

- the margin forms min/max, percentile and mean, each m (HALF the gap) with its b_rel, positives and
  negatives pooled over the edges (:mod:`.forms`);
- top-1 retrieval both ways (:mod:`.retrieval`);
- the modality-gap test of Theorem 3.6 (:mod:`.gap`);
- xi and |mean(U) - mean(V)| (below).

The N^2 products are swept once in row blocks (:mod:`.gram`), never all in memory, and every reported
extreme, percentile and retrieval winner is recomputed in float64 from a candidate set that provably
contains it (:mod:`.order`): the results equal a float64 brute force (up to the summation order of the
d-term sums, ~1e-16).

xi (docs/math.md section 7): with x_i = U_i - V_i, xi = (1/N) sum_i |x_i - mean(x)|^2; xi = 0 iff all U_i - V_i are
equal.  The norm of the mean difference |mean(U) - mean(V)| is reported with it (xi = mean |x_i|^2 - |mean x|^2).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from constellations.core.devices import resolve_device
from constellations.core.errors import ConfigurationError
from constellations.core.graphs import parse_graph
from constellations.core.results import VOCABULARY, Result, Status, jsonable

from .forms import check_percentiles, class_means, margin_forms
from .gap import GapTest, edge_gap_test
from .gram import Gram, Sweep, check_memory, float32_gram_error, sweep_block
from .rows import Rows, modalities, validate_labels

__all__ = ["EdgeAnalysis", "PairAnalysis", "analyze_pairs"]


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
class PairAnalysis(Result):
    """The result of :func:`analyze_pairs`; it speaks the result vocabulary
    (:data:`constellations.core.results.VOCABULARY`).

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
        ``"minmax"``, ``"percentile"``, ``"mean"`` -> :class:`~.forms.MarginForm` (pooled over the edges).
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
    seconds : float
        Wall-clock seconds of the analysis.
    margin, margin_certified, status, message, config
        The vocabulary's other names (properties): see each.
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
    seconds: float = 0.0

    config = None  # the pairs are the caller's; the analysis does not keep them

    @property
    def margin(self) -> float:
        """The min/max margin pooled over all edges, ``forms["minmax"].margin``: (min of the positives over
        every edge - max of the negatives over every edge)/2, the constellation margin m* with one b_rel
        shared by the edges (<= the minimum of the per-edge ``margin_minmax``; equal to it for one edge)."""
        return self.forms["minmax"].margin

    @property
    def margin_certified(self) -> None:
        """None: an analysis of real embeddings reports float64 values, not certified bounds."""
        return None

    @property
    def status(self) -> Status:
        """COMPLETED: an analysis runs to the end (or is refused before it starts)."""
        return Status.COMPLETED

    @property
    def message(self) -> str:
        """One line: the min/max and percentile margins and the sizes."""
        p, q = self.percentiles
        E = len(self.edges)
        return (f"min/max margin m = {self.margin:.12g} (pooled over {E} edge{'s' * (E != 1)}), "
                f"p{p:g}/p{q:g} margin {self.forms['percentile'].margin:.6g}; "
                f"M={self.modalities}, N={self.n}, d={self.dim}")

    def to_dict(self) -> dict:
        """Plain nested dict for JSON: the vocabulary first, then every field (forms and edges as dicts,
        tuples as lists, non-finite floats as None)."""
        return {**{name: jsonable(getattr(self, name)) for name in VOCABULARY}, **jsonable(asdict(self))}


@dataclass(frozen=True)
class _Plan:
    """The checked arguments of :func:`analyze_pairs`."""

    arrs: list
    spec: str
    edges: list
    qp: float
    qn: float
    dev: object
    block: int
    lab: np.ndarray
    n_classes: int
    distinct: bool
    n_pos: int
    n_neg: int


def _plan(X, graph, labels, percentiles, block, device, dtype, gap_sample, seed) -> _Plan:
    qp, qn = check_percentiles(percentiles)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigurationError(f"seed must be an integer >= 0, got {seed!r}")
    arrs, cfg_graph = modalities(X)
    M = len(arrs)
    N, d = arrs[0].shape
    G_ = parse_graph(graph if graph is not None else cfg_graph, M)
    E = len(G_.edges)
    if dtype not in ("float64", "float32"):
        raise ConfigurationError(f"dtype must be float64 or float32, got {dtype!r}")
    dev = resolve_device(device)
    block = sweep_block(N, dtype, block)
    check_memory(M, N, d, dtype, block, dev)
    lab = validate_labels(labels, N) if labels is not None else np.arange(N)
    counts_c = np.bincount(lab)
    distinct = counts_c.max() == 1  # positives are exactly the diagonal
    n_pos = E * int(np.sum(counts_c.astype(np.int64) ** 2))
    n_neg = E * N * N - n_pos
    if n_neg == 0:
        raise ConfigurationError("need at least one positive and one negative pair (all items share one label)")
    if gap_sample < 2:
        raise ConfigurationError(f"gap_sample must be >= 2, got {gap_sample}")
    return _Plan(arrs, G_.spec, G_.edges, qp, qn, dev, block, lab, int(counts_c.size), distinct, n_pos, n_neg)


def analyze_pairs(X, graph=None, labels=None, *, percentiles=(5.0, 95.0), gap: bool = True,
                  block: int | None = None, device: str = "cpu", dtype: str = "float64", gap_sample: int = 200,
                  gap_time: float | None = 10.0, seed: int = 0, progress=None) -> PairAnalysis:
    """Analyse paired embeddings (see the module docstring for every quantity and how it is computed).

    Parameters
    ----------
    X : array (M, N, d), Configuration, or a pair (U, V) of (N, d) arrays
        Rows need not be unit; they are normalised (zero rows, NaN/Inf, mismatched shapes, N < 2 raise
        :class:`~constellations.core.errors.ConfigurationError`).  float32 input is not copied to float64.
    graph : optional
        Edges to analyse (default: the configuration's, else complete).
    labels : array (N,) of int, optional
        Class of each item; same-class pairs count as positives.
    percentiles : (float, float)
        Percentile of the positives and of the negatives for the percentile margin, 0 <= first <= second
        <= 100 (:func:`~.forms.check_percentiles`; a reversed pair is refused).
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
        Most items the gap LPs see (a seeded random subset above it; see :class:`~.gap.GapTest`).  Above it
        the mean-difference direction is tried on all N first, and no LP runs if it separates them.
    gap_time : float or None
        Time limit of each gap LP in seconds (HiGHS ``time_limit``; ``None``: none).  Dense LPs with
        d ~ 1000 columns take minutes for a few hundred items; a cut-short LP is reported as such.
    seed : int
        Seed (>= 0) of the row sample (percentile window) and of the LP subset; results do not depend on it.
    progress : callable(done, total), optional
        Called after every Gram block.
    """
    import torch

    t0 = time.perf_counter()
    p = _plan(X, graph, labels, percentiles, block, device, dtype, gap_sample, seed)
    rows = Rows(p.arrs, torch, p.dev, dtype)
    eps = float32_gram_error(rows.d, dtype)
    rng = np.random.default_rng(seed)
    sweep = Sweep(Gram(torch, rows, p.edges, p.lab, p.distinct, p.block, p.dev), eps, p.qp, p.qn, p.n_pos, p.n_neg)
    sweep.run(rng, progress)
    ex = sweep.exact()
    means = class_means(rows, p.edges, p.lab, p.n_classes, p.distinct, ex.diag, p.n_pos, p.n_neg)
    forms = margin_forms(ex.pos_min, ex.neg_max, ex.p_pos, ex.p_neg, *means)
    edges = []
    for e, (k, l) in enumerate(p.edges):
        hits = sweep.tops[e].hits(rows, k, l, p.lab, eps)
        gt = None
        if gap:
            hyp = bool(ex.diag[e].min() > 0 and ex.off_max[e] < 0)
            gt = edge_gap_test(rows, k, l, hyp, gap_sample, rng, gap_time)
        edges.append(_edge(rows, k, l, hits, ex.pos_min[e], ex.neg_max[e], gt))
    N, M = rows.N, rows.M
    norms = {k: (float(rows.norms[k].min()), float(rows.norms[k].mean()), float(rows.norms[k].max()))
             for k in range(M)}
    mean_norms = {k: float(np.linalg.norm(rows.sums[k] / N)) for k in range(M)}
    return PairAnalysis(M, N, rows.d, p.spec, p.n_classes, norms, mean_norms, forms, (p.qp, p.qn),
                        {"positive": p.n_pos, "negative": p.n_neg}, tuple(edges), str(p.dev), eps, sweep.sweeps,
                        time.perf_counter() - t0)


def _edge(rows, k: int, l: int, hits: tuple, pos_min: float, neg_max: float, gap_test) -> EdgeAnalysis:
    """The edge (k, l): xi and |mean difference| (float64, in chunks), retrieval from ``hits``, the min/max margin."""
    N = rows.N
    xbar = (rows.sums[k] - rows.sums[l]) / N
    ssq = 0.0
    for (s, u), (_, v) in zip(rows.chunks(k), rows.chunks(l)):
        ssq += float(np.sum((u - v - xbar) ** 2))
    return EdgeAnalysis((k, l), ssq / N, float(np.linalg.norm(xbar)), hits[0] / N, hits[1] / N,
                        (pos_min - neg_max) / 2, (pos_min + neg_max) / 2, gap_test)

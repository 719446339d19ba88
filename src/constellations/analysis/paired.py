r"""Analysis of real paired embeddings: :func:`analyze_pairs` puts the parts together.

Input: M modalities of N embeddings in R^d (an array (M, N, d), a Configuration, or a pair (U, V)),
float32 or float64, not necessarily unit-norm, and optionally integer ``labels`` of shape (N,) for data with
several items per class (:mod:`.rows`).  For every edge of the graph it reports:

- the margin forms min/max, percentile and mean, each m (HALF the gap) with its b_rel, positives and
  negatives pooled over the edges (:mod:`.forms`);
- top-1 retrieval both ways (:mod:`.retrieval`);
- the modality-gap test of Theorem 3.6 (:mod:`.gap`);
- xi and |mean(U) - mean(V)| (below);
- recall@K both ways, ties counted against the match (:mod:`.retrieval`);
- histograms of the positive and the negative products (:mod:`.logits`);
- for a given SigLIP model (t, b): its threshold -b/t, the positives below and negatives above it, and the
  sigmoid loss in its conventions (:mod:`.logits`);
- the best (t*, b*) for these embeddings, or why there is none (:mod:`.temperature`);
- the reliability table and ECE of p = sigma(t s + b) at the given model, else at the fit (:mod:`.calibration`).

The N^2 products are swept once in row blocks (:mod:`.gram`), never all in memory, and every reported
extreme, percentile and retrieval winner is recomputed in float64 from a candidate set that provably
contains it (:mod:`.order`): the results equal a float64 brute force (up to the summation order of the
d-term sums, ~1e-16).  The same sweep feeds the fused per-pair sums (:mod:`.pairsums`: histograms, recall,
the given model); the fit adds one blocked pass per evaluation of the loss (usually one or two).  Sums over
pairs (losses, gradients, calibration) use the products at the sweep precision, accumulated in float64:
with ``dtype="float32"`` each product is within epsilon of float64, so each pair's loss within t epsilon.

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

from .calibration import Reliability, check_bins, logit_edges, reliability_from_bins
from .forms import check_percentiles, class_means, margin_forms
from .gap import GapTest, edge_gap_test
from .gram import Gram, Sweep, check_memory, float32_gram_error, sweep_block
from .logits import Histograms, ModelCheck, check_model, histograms, sigmoid_loss
from .pairsums import EXT, HIST, MODEL, MOMENTS, RECALL, THRESH, PairSums
from .retrieval import Recall, check_recall_k, recall_at_k
from .rows import Rows, modalities, validate_labels
from .temperature import TemperatureFit, fit_pairs

__all__ = ["EdgeAnalysis", "PairAnalysis", "analyze_pairs"]


@dataclass(frozen=True)
class EdgeAnalysis:
    """Per-edge quantities: xi, |mean(U) - mean(V)|, top-1 retrieval both ways, the min/max margin, the gap
    test and recall@K both ways (:class:`~.retrieval.Recall`)."""

    edge: tuple
    xi: float
    mean_diff_norm: float
    retrieval_kl: float
    retrieval_lk: float
    margin_minmax: float
    b_rel_minmax: float
    gap: GapTest | None
    recall: Recall | None = None


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
    recall_k : tuple of int
        The K of each edge's ``recall``.
    histograms : :class:`~.logits.Histograms`
        Positive and negative products, 200 bins on [-1, 1], pooled and per edge.
    model : :class:`~.logits.ModelCheck` or None
        The given model (t, b) against the embeddings.
    fit : :class:`~.temperature.TemperatureFit` or None
        The best (t*, b*) (None when not asked).
    calibration : :class:`~.calibration.Reliability` or None
        At the given model, else at the fit (None without either, or when the fit has no minimiser).
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
    recall_k: tuple = ()
    histograms: Histograms | None = None
    model: ModelCheck | None = None
    fit: TemperatureFit | None = None
    calibration: Reliability | None = None

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
    model: tuple | None
    fit: bool
    bins: int
    ks: tuple
    fit_passes: int


def _plan(X, graph, labels, percentiles, block, device, dtype, gap_sample, seed, logit_opts) -> _Plan:
    qp, qn = check_percentiles(percentiles)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigurationError(f"seed must be an integer >= 0, got {seed!r}")
    model, fit, bins, ks, fit_passes = _logit_plan(**logit_opts)
    arrs, cfg_graph = modalities(X)
    M = len(arrs)
    N, d = arrs[0].shape
    G_ = parse_graph(graph if graph is not None else cfg_graph, M)
    E = len(G_.edges)
    if dtype not in ("float64", "float32"):
        raise ConfigurationError(f"dtype must be float64 or float32, got {dtype!r}")
    dev = resolve_device(device)
    block = sweep_block(N, dtype, block)
    check_memory(M, N, d, dtype, block, dev, E * N * (max(ks) + 5) * 8)  # + recall lists, per edge and item
    lab = validate_labels(labels, N) if labels is not None else np.arange(N)
    counts_c = np.bincount(lab)
    distinct = counts_c.max() == 1  # positives are exactly the diagonal
    n_pos = E * int(np.sum(counts_c.astype(np.int64) ** 2))
    n_neg = E * N * N - n_pos
    if n_neg == 0:
        raise ConfigurationError("need at least one positive and one negative pair (all items share one label)")
    if gap_sample < 2:
        raise ConfigurationError(f"gap_sample must be >= 2, got {gap_sample}")
    return _Plan(arrs, G_.spec, G_.edges, qp, qn, dev, block, lab, int(counts_c.size), distinct, n_pos, n_neg,
                 model, fit, bins, ks, fit_passes)


def _logit_plan(t, bias, log_t, fit, bins, recall_k, fit_passes) -> tuple:
    """The checked model, fit switch, reliability bins, recall K and pass cap."""
    model = check_model(t, bias, log_t)
    if isinstance(fit_passes, bool) or not isinstance(fit_passes, (int, np.integer)) or fit_passes < 1:
        raise ConfigurationError(f"fit_passes must be an integer >= 1, got {fit_passes!r}")
    return model, bool(fit), check_bins(bins), check_recall_k(recall_k), int(fit_passes)


def analyze_pairs(X, graph=None, labels=None, *, percentiles=(5.0, 95.0), gap: bool = True,
                  block: int | None = None, device: str = "cpu", dtype: str = "float64", gap_sample: int = 200,
                  gap_time: float | None = 10.0, seed: int = 0, progress=None, t: float | None = None,
                  bias: float | None = None, log_t: float | None = None, fit: bool = True, bins: int = 10,
                  recall_k=(1, 5, 10), fit_passes: int = 30) -> PairAnalysis:
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
        Called after every Gram block (of the sweep, then of the fit's passes, counted on).
    t, bias, log_t : float, optional
        A SigLIP model z = t s + bias to check: the temperature t > 0 or its log (open_clip's
        ``logit_scale``), never both, and the bias, always with a temperature (:func:`~.logits.check_model`).
    fit : bool
        Fit the best (t*, b*) (:mod:`.temperature`; one or two extra passes, more for nearly separable data).
    bins : int
        Equal-width probability bins of the reliability table (1 .. 10000).
    recall_k : sequence of int
        K of recall@K (1 .. 100).
    fit_passes : int
        Most exact passes of the fit's Newton iterations.
    """
    import torch

    t0 = time.perf_counter()
    p = _plan(X, graph, labels, percentiles, block, device, dtype, gap_sample, seed,
              {"t": t, "bias": bias, "log_t": log_t, "fit": fit, "bins": bins, "recall_k": recall_k,
               "fit_passes": fit_passes})
    rows = Rows(p.arrs, torch, p.dev, dtype)
    eps = float32_gram_error(rows.d, dtype)
    rng = np.random.default_rng(seed)
    progress = _Cumulative(progress) if progress is not None else None
    gram = Gram(torch, rows, p.edges, p.lab, p.distinct, p.block, p.dev)
    first = _first_pass(gram, p, eps)
    sweep = Sweep(gram, eps, p.qp, p.qn, p.n_pos, p.n_neg, consumers=(first,))
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
        rec = recall_at_k(rows, k, l, p.lab, eps, p.ks, first.lo_row[e], first.hi_row[e], first.ctop[e],
                          first.cmax[e])
        edges.append(_edge(rows, k, l, hits, ex.pos_min[e], ex.neg_max[e], gt, rec))
    model, fitted, calib = _logit_results(gram, p, first, ex, eps, progress)
    N, M = rows.N, rows.M
    norms = {k: (float(rows.norms[k].min()), float(rows.norms[k].mean()), float(rows.norms[k].max()))
             for k in range(M)}
    mean_norms = {k: float(np.linalg.norm(rows.sums[k] / N)) for k in range(M)}
    return PairAnalysis(M, N, rows.d, p.spec, p.n_classes, norms, mean_norms, forms, (p.qp, p.qn),
                        {"positive": p.n_pos, "negative": p.n_neg}, tuple(edges), str(p.dev), eps, sweep.sweeps,
                        time.perf_counter() - t0, p.ks, histograms(first.hist, p.edges), model, fitted, calib)


class _Cumulative:
    """``progress(done, total)`` counted on across passes (each pass restarts its own count at 1)."""

    def __init__(self, progress):
        self.progress, self.base, self.last = progress, 0, 0

    def __call__(self, done: int, total: int) -> None:
        if done < self.last:
            self.base += self.last
        self.last = done
        self.progress(self.base + done, self.base + total)


def _first_pass(gram, p: _Plan, eps: float) -> PairSums:
    """The fused sums fed by the main sweep: histograms, recall, the given model's sums, and for the fit the
    bins' moments and the extremes."""
    flags = HIST | RECALL | ((MOMENTS | EXT) if p.fit else 0)  # the fit's surrogate and separability test
    T, B = (p.model[0], p.model[1]) if p.model is not None else (0.0, 0.0)
    if p.model is not None:
        flags |= MODEL | THRESH
    return PairSums(gram, p.lab, flags, t=T, b=B, zedges=logit_edges(p.bins), theta=-B / T if T else 0.0,
                    eps=eps, kmax=max(p.ks))


def _logit_results(gram, p: _Plan, first: PairSums, ex, eps: float, progress) -> tuple:
    """The given model's check, the fit, and the reliability table (at the model, else at the fit)."""
    model = calib = fitted = None
    if p.model is not None:
        T, B, logT = p.model
        S = first.sums.sum(axis=0)
        model = ModelCheck(T, B, logT, -B / T, int(S[7]), int(S[8]), p.n_pos, p.n_neg,
                           sigmoid_loss(T, B, first.sums, p.edges, gram.N))
        R = first.rel.sum(axis=0)
        calib = reliability_from_bins(R[0], R[1], R[2], T, B, "given")
    if p.fit:
        ext = first.ext
        extremes = (min(ex.pos_min), float(ext[:, 1].max()), float(ext[:, 2].min()), max(ex.neg_max))
        fitted, R = fit_pairs(gram, p.lab, first.hist.sum(axis=0), ex.diag if p.distinct else None, extremes,
                              p.n_pos, p.n_neg, logit_edges(p.bins), eps, max_passes=p.fit_passes,
                              progress=progress)
        if calib is None and R is not None:
            calib = reliability_from_bins(R[0], R[1], R[2], fitted.t, fitted.b, "fit")
    return model, fitted, calib


def _edge(rows, k: int, l: int, hits: tuple, pos_min: float, neg_max: float, gap_test, rec) -> EdgeAnalysis:
    """The edge (k, l): xi and |mean difference| (float64, in chunks), retrieval from ``hits``, the min/max margin."""
    N = rows.N
    xbar = (rows.sums[k] - rows.sums[l]) / N
    ssq = 0.0
    for (s, u), (_, v) in zip(rows.chunks(k), rows.chunks(l)):
        ssq += float(np.sum((u - v - xbar) ** 2))
    return EdgeAnalysis((k, l), ssq / N, float(np.linalg.norm(xbar)), hits[0] / N, hits[1] / N,
                        (pos_min - neg_max) / 2, (pos_min + neg_max) / 2, gap_test, rec)

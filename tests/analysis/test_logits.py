"""A SigLIP model (t, b) against paired embeddings: the fused pass against its NumPy reference, the loss in its
conventions, the exact threshold counts and histograms against brute force, recall@K with exact ties, the
reliability table, and the fit of (t*, b*) against scipy and closed forms (constellations.analysis)."""
import itertools
import json
import math

import numpy as np
import pytest

from constellations.analysis import analyze_pairs
from constellations.analysis.calibration import logit_edges, reliability_table
from constellations.analysis.logits import check_model
from constellations.analysis.pairsums import EXT, FINE, HIST, MODEL, MOMENTS, RECALL, THRESH, _compiled, block_sums
from constellations.analysis.temperature import coarsen, fit_scores, newton, quadrature_points, weighted_evaluator
from constellations.codes.constructions import cross_polytope_code, modality_simplex
from constellations.core.errors import ConfigurationError

def _exact_rows(rng, n, d=8):
    """n unit rows x/64 of R^d with integer x, |x|^2 = 4096: the norms are exactly 1 and every product is an
    integer / 4096, exact in float32 and float64 in any summation order, so planted ties stay exact ties."""
    out = np.empty((0, d), dtype=np.int64)
    while len(out) < n:
        x = rng.integers(-40, 41, (4 * n, d - 1))
        r = 4096 - (x * x).sum(axis=1)
        last = np.rint(np.sqrt(np.maximum(r, 0))).astype(np.int64)
        ok = (r >= 0) & (last * last == r)
        out = np.vstack([out, np.hstack([x[ok], last[ok, None] * rng.choice([-1, 1], (ok.sum(), 1))])])
    return rng.permuted(out[:n], axis=1) / 64.0


def _exact_pairs(rng, M, N, keep=0.3):
    """M modalities of N exact rows; X[k, i] (k >= 1) copies X[0, i] with probability ``keep``."""
    X = np.stack([_exact_rows(rng, N) for _ in range(M)])
    same = rng.random((M, N)) < keep
    X[same] = np.broadcast_to(X[0], X.shape)[same]
    return X


def _unit(A):
    return A / np.linalg.norm(A, axis=-1, keepdims=True)


def _pairs(X, labels, edges):
    """Brute force: the products and positive masks of every edge, float64."""
    lab = np.arange(X.shape[1]) if labels is None else np.asarray(labels)
    P = lab[:, None] == lab[None, :]
    Xn = _unit(X)
    return [(Xn[k] @ Xn[l].T, P) for k, l in edges]


def _scipy_fit(s, y):
    from scipy.optimize import minimize

    def f(x):
        z = x[0] * s + x[1]
        return np.sum(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z))

    def g(x):
        r = np.exp(-np.logaddexp(0, -(x[0] * s + x[1]))) - y
        return np.array([r @ s, r.sum()])

    def h(x):
        z = x[0] * s + x[1]
        w = np.exp(-np.logaddexp(0, -z) - np.logaddexp(0, z))
        return np.array([[w @ (s * s), w @ s], [w @ s, w.sum()]])
    res = minimize(f, [0.0, 0.0], jac=g, hess=h, method="Newton-CG", options={"xtol": 1e-14})
    return res.x, res.fun


@pytest.mark.parametrize("dtype,variant", [(np.float64, ""), (np.float32, "_serial")])
def test_fused_kernels_match_the_numpy_reference(dtype, variant):
    rng = np.random.default_rng(0)
    R, N, r0 = 37, 61, 11
    G = rng.uniform(-1.05, 1.05, (R, N)).astype(dtype)
    G[3, :5] = 0.25  # products on the threshold
    distinct = variant == "_serial"  # labels 0..N-1: the positives are the diagonal, read directly
    lab = np.arange(N) if distinct else rng.integers(0, 9, N)
    ze = logit_edges(7)
    kw = dict(t=40.0, b=-12.0, zedges=ze, theta=0.25, band=1e-9, eps2=1e-3)  # e^-|z| from 1e-24 to 1
    ref = block_sums(G, lab, r0, kmax=4, **kw)
    k = _compiled()
    nc = 3
    hist, sums, rel = np.zeros((nc, 2, FINE, 4)), np.zeros((nc, 10)), np.zeros((nc, 3, 7))
    ext = np.tile([np.inf, -np.inf, np.inf, -np.inf], (nc, 1))
    srow, lo, hi = np.zeros(N), np.zeros(N, dtype=np.int64), np.zeros(N, dtype=np.int64)
    flags = HIST | MOMENTS | MODEL | THRESH | RECALL | EXT
    getattr(k, "rows" + variant)(G, lab, r0, distinct, flags, kw["t"], kw["b"], ze, kw["theta"], kw["band"],
                                 kw["eps2"], nc, hist, sums, rel, ext, srow, lo, hi)
    ctop, cmax = np.full((N, 4), -np.inf), np.full(N, -np.inf)
    getattr(k, "cols" + variant)(G, lab, r0, 2, ctop, cmax)
    assert np.allclose(hist.sum(0).transpose(0, 2, 1), ref["hist"], rtol=1e-13, atol=1e-12)
    assert np.allclose(sums.sum(0), ref["sums"], rtol=1e-13, atol=1e-12) and ref["sums"][9] >= 4
    assert np.allclose(rel.sum(0), ref["rel"], rtol=1e-13, atol=1e-13) and rel.sum(0)[0].sum() == R * N
    assert np.array_equal([ext[:, 0].min(), ext[:, 1].max(), ext[:, 2].min(), ext[:, 3].max()], ref["ext"])
    assert np.array_equal(srow[r0:r0 + R], ref["srow"]) and np.array_equal(lo[r0:r0 + R], ref["lo_row"])
    assert np.array_equal(hi[r0:r0 + R], ref["hi_row"])
    assert np.array_equal(ctop, ref["ctop"]) and np.array_equal(cmax, ref["cmax"])


def test_model_loss_threshold_counts_and_histograms_match_brute_force():
    # M = 3, labels, exact products (integers / 4096): the threshold -b/t = 1/4 is itself a product of some pairs
    # (those count as neither side)
    rng = np.random.default_rng(1)
    N = 150
    X = _exact_pairs(rng, 3, N)
    labels = rng.integers(0, 60, N)
    T, B = 4.0, -1.0
    res = analyze_pairs(X, labels=labels, gap=False, t=T, bias=B, fit=False, bins=5, block=40)
    edges = [(0, 1), (0, 2), (1, 2)]
    m = res.model
    assert (m.t, m.b, m.log_t, m.threshold) == (4.0, -1.0, math.log(4.0), 0.25)
    tot, below, above, per_item = 0.0, 0, 0, []
    hp, hn = np.zeros(200, dtype=np.int64), np.zeros(200, dtype=np.int64)
    scores, pos_all = [], []
    for e, (S, P) in enumerate(_pairs(X, labels, edges)):
        z = T * S + B
        L = np.logaddexp(0, -z)[P].sum() + np.logaddexp(0, z)[~P].sum()
        tot += L
        assert m.loss.edges[e].loss_sum == pytest.approx(L, rel=1e-13)
        assert m.loss.edges[e].loss_mean_pair == pytest.approx(L / N ** 2, rel=1e-13)
        per_item.append(L / N)
        below += np.count_nonzero(P & (S < 0.25))
        above += np.count_nonzero(~P & (S > 0.25))
        q = np.clip(np.floor((S + 1) * (FINE // 2)), 0, FINE - 1).astype(int) // (FINE // 200)
        hp += np.bincount(q[P], minlength=200)
        hn += np.bincount(q[~P], minlength=200)
        scores.append(S.ravel())
        pos_all.append(P.ravel())
    assert np.count_nonzero(np.concatenate(scores) == 0.25) >= 5  # the threshold is a tie
    assert m.loss.loss_sum == pytest.approx(tot, rel=1e-13)
    assert m.loss.loss_mean_pair == pytest.approx(tot / (3 * N * N), rel=1e-13)
    assert m.loss.loss_per_item == pytest.approx(tot / N, rel=1e-13)
    assert [x.loss_per_item for x in m.loss.edges] == pytest.approx(per_item, rel=1e-13)
    assert (m.positives_below, m.negatives_above) == (below, above)
    assert (m.positives, m.negatives) == (res.counts["positive"], res.counts["negative"])
    h = res.histograms
    assert np.array_equal(h.positive, hp) and np.array_equal(h.negative, hn) and h.bins == 200
    assert sum(h.positive) == res.counts["positive"] and len(h.edges) == 3
    ref = reliability_table(np.concatenate(scores), np.concatenate(pos_all), T, B, bins=5)
    c = res.calibration
    assert c.source == "given" and c.counts == ref.counts and c.positives == ref.positives
    assert sum(c.counts) == c.total == 3 * N * N and c.ece == pytest.approx(ref.ece, rel=1e-12)
    assert c.mean_predicted == pytest.approx(ref.mean_predicted, rel=1e-12, nan_ok=True)
    json.dumps(res.to_dict(), allow_nan=False)


@pytest.mark.parametrize("labels,dtype,N", [(False, "float64", 2000), (True, "float32", 600)])
def test_recall_at_k_with_exact_ties_equals_brute_force(labels, dtype, N):
    # exact rows (products integer / 4096), 30% of the V_i copies of U_i, and planted duplicates: rows of V (ties
    # for the queries U_i) and rows of U (for the queries V_j)
    rng = np.random.default_rng(2)
    U, V = _exact_pairs(rng, 2, N)
    src, dst = rng.choice(N, size=(2, 2, N // 7), replace=False)
    V[dst[0]] = V[src[0]]
    U[dst[1]] = U[src[1]]
    lab = rng.integers(0, N // 3, N) if labels else None
    res = analyze_pairs((U, V), labels=lab, gap=False, fit=False, dtype=dtype, block=600, recall_k=(1, 2, 5, 10))
    (S, P), = _pairs(np.stack([U, V]), lab, [(0, 1)])
    r = res.edges[0].recall
    assert r.k == (1, 2, 5, 10) and r.recomputed > 0
    for G, got, got_for in ((S, r.kl, r.kl_ties_for), (S.T, r.lk, r.lk_ties_for)):
        best = np.where(P, G, -np.inf).max(axis=1, keepdims=True)
        other = np.where(P, -np.inf, G)
        ge, gt = (other >= best).sum(axis=1), (other > best).sum(axis=1)
        assert got == tuple(np.mean(ge < K) for K in r.k)
        assert got_for == tuple(np.mean(gt < K) for K in r.k)
        assert np.any((ge != gt) & (gt < 10))  # ties decide some queries
    assert r.kl[0] < r.kl_ties_for[0] and r.lk[0] < r.lk_ties_for[0]
    # top-1 (numpy's first index on ties) lies between recall@1 with ties against and for the match
    assert r.kl[0] <= res.edges[0].retrieval_kl <= r.kl_ties_for[0]


def test_fit_agrees_with_scipy_and_beats_any_given_model():
    for seed, labels, M in [(3, False, 2), (4, True, 2), (5, False, 3)]:
        rng = np.random.default_rng(seed)
        N, d = int(rng.integers(50, 300 // M)), int(rng.integers(3, 16))
        X = rng.standard_normal((M, N, d))
        X[1:] = X[0] + rng.uniform(0.7, 2.5) * rng.standard_normal((M - 1, N, d))
        lab = rng.integers(0, N // 3, N) if labels else None
        T, B = rng.uniform(1, 30), rng.uniform(-20, 5)
        res = analyze_pairs(X, labels=lab, gap=False, t=T, bias=B, graph="complete")
        edges = [tuple(e) for e in itertools.combinations(range(M), 2)]
        pairs = _pairs(X, lab, edges)
        s = np.concatenate([S.ravel() for S, _ in pairs])
        y = np.concatenate([P.ravel() for _, P in pairs]).astype(float)
        (t_ref, b_ref), L_ref = _scipy_fit(s, y)
        f = res.fit
        assert f.status == "converged" and f.passes <= 3
        assert f.t == pytest.approx(t_ref, rel=1e-8, abs=1e-8) and f.b == pytest.approx(b_ref, rel=1e-8, abs=1e-8)
        assert f.loss.loss_sum == pytest.approx(L_ref, rel=1e-12) and f.loss_infimum == f.loss.loss_sum
        assert f.loss.loss_sum <= res.model.loss.loss_sum
        assert f.threshold == -f.b / f.t and f.log_t == math.log(f.t)
        assert f.positives_below == np.count_nonzero((y == 1) & (s < f.threshold))
        assert f.negatives_above == np.count_nonzero((y == 0) & (s > f.threshold))
        assert f.grad_norm < 1e-6 and f.decrement < 1e-12 * f.loss.loss_sum
        if seed == 3:  # arrays: the same Newton, evaluated on the brute-force products
            fs = fit_scores(s, y.astype(bool))
            assert (fs.t, fs.b) == pytest.approx((t_ref, b_ref), rel=1e-8, abs=1e-8)


def test_planted_model_is_recovered_and_perfectly_calibrated():
    # d = 2: items 0-3 at e1, items 4-7 at e2 (U = V), so products are 1 (same point) or 0.  With these labels
    # the pairs at product 1 are positive with frequency q1 = 12/32 and those at 0 with q0 = 6/32, so the model
    # sigma(b) = q0, sigma(t + b) = q1 matches every pair's observed rate: b* = log(3/13), t* = log(13/5), ECE 0
    X = np.repeat(np.eye(2), 4, axis=0)
    labels = np.array([0, 0, 1, 2, 0, 1, 3, 3])
    (S, P), = _pairs(np.stack([X, X]), labels, [(0, 1)])
    assert (P[S == 1].mean(), P[S == 0].mean()) == (12 / 32, 6 / 32)
    t_star, b_star = math.log(13 / 5), math.log(3 / 13)
    res = analyze_pairs((X, X), labels=labels, gap=False, t=t_star, bias=b_star)
    assert res.fit.status == "converged"
    assert (res.fit.t, res.fit.b) == pytest.approx((t_star, b_star), rel=1e-10)
    assert res.calibration.ece < 1e-15 and sum(res.calibration.counts) == 64
    L = -(12 * math.log(12 / 32) + 20 * math.log(20 / 32) + 6 * math.log(6 / 32) + 26 * math.log(26 / 32))
    assert res.model.loss.loss_sum == pytest.approx(L, rel=1e-14)
    assert res.fit.loss.loss_sum == pytest.approx(L, rel=1e-14)
    fitted = analyze_pairs((X, X), labels=labels, gap=False).calibration  # no model: at the fit
    assert fitted.source == "fit" and fitted.ece < 1e-10 and fitted.counts == res.calibration.counts


def test_separable_anti_separable_and_degenerate_data_are_reported_not_fitted():
    cfg = modality_simplex(cross_polytope_code(16, 8), 2, 0.8)  # a constellation: m = 0.32, b_rel = -0.04
    res = analyze_pairs((cfg.X[0], cfg.X[1]), gap=False)
    f = res.fit
    assert f.status == "separable" and f.t == math.inf and f.loss_infimum == 0.0 and "constellation" in f.message
    assert f.threshold == pytest.approx(res.forms["minmax"].b_rel, abs=1e-15)
    assert f.separating_interval == (res.forms["minmax"].neg, res.forms["minmax"].pos)
    assert res.calibration is None and f.passes == 0
    d = res.to_dict()
    assert d["fit"]["t"] is None and d["fit"]["loss"] is None and d["fit"]["status"] == "separable"
    json.dumps(d, allow_nan=False)
    with_model = analyze_pairs((cfg.X[0], cfg.X[1]), gap=False, t=100.0, bias=4.0)
    rng = np.random.default_rng(6)
    assert with_model.calibration.source == "given" and with_model.model.positives_below == 0
    # every positive >= every negative with equality (a duplicated row): no minimiser, infimum not claimed
    U = _exact_rows(rng, 40)
    U[7] = U[3]
    weak = analyze_pairs((U, U), gap=False).fit
    assert weak.status == "separable" and ">=" in weak.message and weak.loss_infimum is None
    U = rng.standard_normal((20, 5))
    assert analyze_pairs((U, -U), gap=False).fit.status == "anti_separable"
    E = np.tile([1.0, 0.0, 0.0], (6, 1))
    assert analyze_pairs((E, E), labels=[0, 0, 1, 1, 2, 2], gap=False).fit.status == "degenerate"


@pytest.mark.parametrize("factor", [1, 32])
def test_quadrature_of_the_fine_bins_keeps_the_first_four_moments(factor):
    # two nodes per bin match the bin's count and first three moments, so the sums of s^p, p <= 3, are exact
    rng = np.random.default_rng(9)
    s = np.concatenate([rng.uniform(-1, 1, 3000), rng.normal(0.3, 1e-4, 500), np.full(7, -0.25)])
    hist = block_sums(s[None, :], np.arange(s.size), 0, HIST | MOMENTS)["hist"]
    v, w = quadrature_points(coarsen(hist[1], factor))
    assert w.sum() == s.size - 1 and len(v) <= 2 * FINE // factor
    s_neg = s[1:]  # item 0 of one row: the positive is column 0
    for p in (1, 2, 3):
        assert w @ v ** p == pytest.approx(np.sum(s_neg ** p), rel=1e-12, abs=1e-12)


def test_fit_scores_weights_newton_cap_and_bad_input():
    rng = np.random.default_rng(7)
    s = rng.uniform(-1, 1, 400)
    y = rng.random(400) < 0.3 + 0.4 * s
    w = rng.integers(0, 4, 400)
    fs = fit_scores(s, y, weights=w)
    (t_ref, b_ref), _ = _scipy_fit(np.repeat(s, w), np.repeat(y, w).astype(float))
    assert fs.status == "converged" and (fs.t, fs.b) == pytest.approx((t_ref, b_ref), rel=1e-8, abs=1e-8)
    capped = newton(weighted_evaluator(s, np.ones(400), y), 50.0, 40.0, max_evals=2)
    assert capped.status == "max_iterations" and capped.evals == 2
    with pytest.raises(ConfigurationError):
        fit_scores(s, np.zeros(400, dtype=bool))
    with pytest.raises(ConfigurationError):
        fit_scores(s, y, weights=-np.ones(400))


def test_reliability_table_counts_and_planted_ece_zero():
    # arrays: at each of four score levels the positive rate equals sigma(t s + b) exactly (16 pairs per level)
    t, b = 2.0, -1.0
    rates = [1 / 8, 3 / 8, 5 / 16, 7 / 8]  # no p on a bin edge; 3/8 and 5/16 share a bin
    levels = [(math.log(r / (1 - r)) - b) / t for r in rates]
    s = np.repeat(levels, 16)
    y = np.concatenate([np.arange(16) < 16 * r for r in rates])
    rt = reliability_table(s, y, t, b, bins=4)
    assert sum(rt.counts) == rt.total == 64 and rt.ece < 1e-15
    assert rt.counts == (16, 32, 0, 16) and rt.positives == (2, 11, 0, 14) and rt.edges == (0, 0.25, 0.5, 0.75, 1.0)
    assert rt.observed[1] == 11 / 32 and rt.mean_predicted[1] == pytest.approx(11 / 32) and math.isnan(rt.observed[2])
    worse = reliability_table(s, y, t, b + 1.0, bins=4)
    assert worse.ece > 0.1


@pytest.mark.parametrize("kw,match", [({"t": 0.0, "bias": 1.0}, "> 0"), ({"t": math.nan, "bias": 1.0}, "finite"),
                                      ({"t": 1.0, "log_t": 0.0, "bias": 1.0}, "not both"), ({"bias": 1.0}, "bias"),
                                      ({"t": 10.0}, "needs a bias"), ({"log_t": 1e4, "bias": 0.0}, "positive"),
                                      ({"t": 1.0, "bias": math.inf}, "finite"), ({"t": True, "bias": 0}, "number")])
def test_model_options_are_refused_not_guessed(kw, match):
    with pytest.raises(ConfigurationError, match=match):
        check_model(**kw)


def test_analyze_refuses_bad_logit_options():
    X = np.random.default_rng(8).standard_normal((2, 10, 3))
    assert check_model(log_t=math.log(10.0), bias=-10.0) == pytest.approx((10.0, -10.0, math.log(10.0)))
    for kw in ({"t": -1.0, "bias": 0.0}, {"bins": 0}, {"recall_k": (0, 5)}, {"recall_k": (1, 101)},
               {"fit_passes": 0}):
        with pytest.raises(ConfigurationError):
            analyze_pairs(X, gap=False, **kw)

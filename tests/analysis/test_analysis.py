"""Analysis of real embeddings: margin forms, exact percentiles, retrieval, the modality gap LP, xi."""
import numpy as np
import pytest

from constellations.analysis import analyze_pairs, modality_gap
from constellations.codes.constructions import cross_polytope_code, modality_simplex
from constellations.core.errors import ConfigurationError
from constellations.core.margins import margin_stats, retrieval_accuracy


def planted(noise, seed=0):
    # Construction 2 with k = 2: m = delta^2 (1 - 0)/2 = 0.32, b_rel = 0.32 - 0.36 = -0.04, and the two
    # modalities sit on opposite sides of the hyperplane orthogonal to the last axis.
    cfg = modality_simplex(cross_polytope_code(16, 8), 2, 0.8)
    rng = np.random.default_rng(seed)
    X = cfg.X + noise * rng.standard_normal(cfg.X.shape)
    X = X * rng.uniform(0.3, 3.0, size=X.shape[:2])[:, :, None]  # real embeddings are not unit-norm
    return cfg, X


def test_planted_constellation_with_noise():
    cfg, X = planted(1e-3)
    res = analyze_pairs((X[0], X[1]))
    f = res.forms["minmax"]
    # each inner product moves by at most ~ 2 * noise * sqrt(d) * few -> well within 0.01
    assert f.margin == pytest.approx(cfg.meta["margin"], abs=0.01)
    assert f.b_rel == pytest.approx(cfg.meta["b_rel"], abs=0.01)
    assert res.forms["percentile"].margin >= f.margin
    e = res.edges[0]
    assert e.retrieval_kl == 1.0 and e.retrieval_lk == 1.0
    g = e.gap
    assert g.found and g.separable and g.n_negative == 16
    h = np.array(g.h)
    Xn = X / np.linalg.norm(X, axis=-1, keepdims=True)
    assert np.all(Xn[0] @ h > 0) and np.all(Xn[1] @ h < 0)
    assert g.hypotheses and g.guarantee == 16 - 9
    assert res.norms[0][0] < res.norms[0][2]  # raw norms reported


def test_forms_match_numpy_with_labels_and_three_modalities():
    rng = np.random.default_rng(1)
    M, N, d = 3, 60, 6
    X = rng.standard_normal((M, N, d))
    X[1] += 1.5 * X[0]
    X[2] += X[0]
    labels = np.arange(N) // 3
    res = analyze_pairs(X, labels=labels, percentiles=(5, 95), gap=False, block=7)
    Xn = X / np.linalg.norm(X, axis=-1, keepdims=True)
    same = labels[:, None] == labels[None, :]
    pos, neg = [], []
    for k, l in [(0, 1), (0, 2), (1, 2)]:
        G = Xn[k] @ Xn[l].T
        pos.append(G[same]); neg.append(G[~same])
    pos, neg = np.concatenate(pos), np.concatenate(neg)
    assert res.counts == {"positive": pos.size, "negative": neg.size}
    p = res.forms["percentile"]
    assert p.pos == pytest.approx(np.percentile(pos, 5), abs=1e-14)
    assert p.neg == pytest.approx(np.percentile(neg, 95), abs=1e-14)
    assert p.margin == pytest.approx((p.pos - p.neg) / 2) and p.b_rel == pytest.approx((p.pos + p.neg) / 2)
    mf = res.forms["mean"]
    assert (mf.pos, mf.neg) == pytest.approx((pos.mean(), neg.mean()), abs=1e-13)
    mm = res.forms["minmax"]
    assert (mm.pos, mm.neg) == pytest.approx((pos.min(), neg.max()), abs=1e-15)
    assert res.n_classes == 20
    # label-aware retrieval: a hit if the retrieved item has the same class
    G01 = Xn[0] @ Xn[1].T
    assert res.edges[0].retrieval_kl == pytest.approx(np.mean(labels[G01.argmax(1)] == labels))
    assert res.edges[0].retrieval_lk == pytest.approx(np.mean(labels[G01.argmax(0)] == labels))


def test_without_labels_agrees_with_margin_stats_and_retrieval():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((2, 40, 5))
    X[1] = X[0] + 0.4 * X[1]
    Xn = X / np.linalg.norm(X, axis=-1, keepdims=True)
    res = analyze_pairs(X, gap=False)
    s = margin_stats(Xn)
    assert res.forms["minmax"].margin == pytest.approx(s.margin, abs=1e-15)
    assert res.edges[0].margin_minmax == pytest.approx(s.margin, abs=1e-15)
    acc = retrieval_accuracy(Xn)
    assert (res.edges[0].retrieval_kl, res.edges[0].retrieval_lk) == (acc[(0, 1)], acc[(1, 0)])


def test_xi_and_mean_difference():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((10, 4))
    x = 0.8 * x / np.linalg.norm(x, axis=1, keepdims=True)
    a = 0.6
    U = np.hstack([x, np.full((10, 1), a)])
    V = np.hstack([x, np.full((10, 1), -a)])  # U_i - V_i = (0, 2a) for all i: a concept shift
    res = analyze_pairs((U, V), gap=False)
    assert res.edges[0].xi == pytest.approx(0.0, abs=1e-28)
    assert res.edges[0].mean_diff_norm == pytest.approx(2 * a, abs=1e-15)
    W = rng.standard_normal((2, 30, 5))
    r2 = analyze_pairs(W, gap=False)
    Wn = W / np.linalg.norm(W, axis=-1, keepdims=True)
    xs = Wn[0] - Wn[1]
    assert r2.edges[0].xi == pytest.approx(np.mean(np.sum(xs ** 2, 1)) - np.sum(xs.mean(0) ** 2), rel=1e-12)


def test_gap_when_no_direction_exists_and_partial():
    U = np.vstack([np.eye(3), -np.eye(3)])  # 0 is in the convex hull: no h with all <h, U_i> > 0
    V = np.roll(U, 1, axis=0)
    g = modality_gap(U, V)
    assert not g.found and g.n_negative == 0
    rng = np.random.default_rng(4)
    U = rng.standard_normal((30, 4)) + np.array([3.0, 0, 0, 0])
    V = rng.standard_normal((30, 4))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    g = modality_gap(U, V)
    h = np.array(g.h)
    assert g.found and np.all(U @ h > 0) and g.n_negative == int(np.sum(V @ h < 0))
    assert g.n_negative >= int(np.sum(V @ (U.mean(0) - V.mean(0)) < 0)) or not np.all(U @ (U.mean(0) - V.mean(0)) > 0)


def test_bad_input():
    rng = np.random.default_rng(5)
    U, V = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    bad = U.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ConfigurationError, match="NaN"):
        analyze_pairs((bad, V))
    with pytest.raises(ConfigurationError):
        analyze_pairs((U, V[:5]))
    with pytest.raises(ConfigurationError):
        analyze_pairs((U, rng.standard_normal((6, 4))))
    with pytest.raises(ConfigurationError):
        analyze_pairs((U, V), labels=np.arange(5))
    with pytest.raises(ConfigurationError):
        analyze_pairs((U, V), labels=np.zeros(6))  # one class: no negatives
    Z = U.copy()
    Z[0] = 0
    with pytest.raises(ConfigurationError):
        analyze_pairs((Z, V))
    with pytest.raises(ConfigurationError):
        analyze_pairs((U, V), percentiles=(5, 120))


def _brute(X, labels, edges, qp, qn):
    Xn = X / np.linalg.norm(X, axis=-1, keepdims=True)
    same = labels[:, None] == labels[None, :]
    pos, neg, Gs = [], [], []
    for k, l in edges:
        G = Xn[k] @ Xn[l].T
        Gs.append(G)
        pos.append(G[same]); neg.append(G[~same])
    pos, neg = np.concatenate(pos), np.concatenate(neg)
    return pos, neg, Gs


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("q", [(5, 95), (30, 40), (60, 70), (0, 100), (50, 50), (37.5, 62.5)])
def test_percentiles_exact_in_both_precisions_and_orientations(dtype, q):
    # float32 input, labels of uneven class sizes, three modalities: every order statistic must equal
    # numpy's float64 one (the float32 sweep only chooses candidates; they are recomputed in float64).
    rng = np.random.default_rng(7)
    M, N, d = 3, 45, 20
    X = rng.standard_normal((M, N, d)).astype(np.float32)
    X[1] += X[0]
    labels = rng.integers(0, 9, N)
    res = analyze_pairs(X, labels=labels, percentiles=q, gap=False, dtype=dtype, block=8)
    pos, neg, _ = _brute(X.astype(np.float64), np.unique(labels, return_inverse=True)[1], [(0, 1), (0, 2), (1, 2)],
                         *q)
    p = res.forms["percentile"]
    assert p.pos == pytest.approx(np.percentile(pos, q[0]), abs=1e-14)
    assert p.neg == pytest.approx(np.percentile(neg, q[1]), abs=1e-14)
    mm = res.forms["minmax"]
    assert (mm.pos, mm.neg) == pytest.approx((pos.min(), neg.max()), abs=1e-14)
    assert res.sweeps == 1


def test_window_miss_falls_back_to_histogram_sweeps(monkeypatch):
    import constellations.analysis.order as an

    def bad_window(self, eps):  # a window far from the wanted ranks: the sweep must notice and recover
        self.samples = []
        self.tail = an.Tail(0.999, 1.0)

    monkeypatch.setattr(an.Population, "window", bad_window)
    rng = np.random.default_rng(8)
    X = rng.standard_normal((2, 70, 6))
    res = analyze_pairs(X, gap=False, percentiles=(10, 90))
    pos, neg, _ = _brute(X, np.arange(70), [(0, 1)], 10, 90)
    assert res.sweeps == 3
    assert res.forms["percentile"].neg == pytest.approx(np.percentile(neg, 90), abs=1e-14)
    assert res.forms["percentile"].pos == pytest.approx(np.percentile(pos, 10), abs=1e-14)


def test_float32_error_bound_holds_and_retrieval_ties_follow_numpy():
    from constellations.analysis import float32_gram_error
    rng = np.random.default_rng(9)
    d = 300
    A = rng.standard_normal((200, d))
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    G64 = A @ A[::-1].T
    G32 = (A.astype(np.float32) @ A[::-1].astype(np.float32).T).astype(np.float64)
    eps = float32_gram_error(d)
    assert eps == pytest.approx(1.01 * (d * 2.0 ** -24 / (1 - d * 2.0 ** -24) + 2 * 2.0 ** -24), rel=1e-6)
    assert np.abs(G32 - G64).max() <= eps
    # exact ties: duplicated rows of V; numpy's argmax takes the first index, so must analyze_pairs
    U = rng.standard_normal((12, 4))
    V = U.copy()
    V[5] = V[2]  # U_5 -> argmax is 2 (tie 2/5, first wins): a miss; U_2 -> 2: a hit
    for dtype in ("float64", "float32"):
        e = analyze_pairs((U, V), gap=False, dtype=dtype).edges[0]
        G = (U / np.linalg.norm(U, axis=1, keepdims=True)) @ (V / np.linalg.norm(V, axis=1, keepdims=True)).T
        assert e.retrieval_kl == np.mean(G.argmax(1) == np.arange(12)) == 11 / 12
        assert e.retrieval_lk == np.mean(G.argmax(0) == np.arange(12))


def test_gap_lp_on_a_subset_is_evaluated_on_all_items():
    # planted: the mean difference separates the two modalities outright, so no LP is needed
    cfg, X = planted(1e-3)
    sub = analyze_pairs((X[0], X[1]), gap_sample=10).edges[0].gap
    assert sub.separable and sub.n_negative == 16 and sub.sample is None and "no LP needed" in sub.method
    Xn = X / np.linalg.norm(X, axis=-1, keepdims=True)
    h = np.array(sub.h)
    assert np.all(Xn[0] @ h > 0) and np.all(Xn[1] @ h < 0)
    # partial overlap: the LPs run on 10 of 30 items and their h is counted on all 30
    rng = np.random.default_rng(4)
    U = rng.standard_normal((30, 4)) + np.array([3.0, 0, 0, 0])
    V = rng.standard_normal((30, 4))
    g = analyze_pairs((U, V), gap_sample=10).edges[0].gap
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    assert g.sample == 10 and "10 of 30" in g.method and g.found
    h = np.array(g.h)
    assert np.all(U @ h > 0) and g.n_negative == int(np.sum(V @ h < 0)) and not g.separable
    # a time limit too short for HiGHS is reported, not raised
    t = modality_gap(U, V, time_limit=1e-9)
    assert "time limit" in t.method


def test_n_below_two_and_vocabulary():
    rng = np.random.default_rng(10)
    with pytest.raises(ConfigurationError, match="N=2"):
        analyze_pairs((rng.standard_normal((1, 3)), rng.standard_normal((1, 3))))
    with pytest.raises(ConfigurationError, match="dtype"):
        analyze_pairs(rng.standard_normal((2, 5, 3)), dtype="float16")
    d = analyze_pairs(rng.standard_normal((2, 5, 3)), gap=False).to_dict()
    assert (d["modalities"], d["n"], d["dim"]) == (2, 5, 3) and not {"M", "N", "d"} & set(d)


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="CUDA not available")
def test_cuda_matches_cpu():  # pragma: no cover - needs a GPU
    rng = np.random.default_rng(11)
    X = rng.standard_normal((2, 300, 64)).astype(np.float32)
    labels = rng.integers(0, 40, 300)
    for dtype in ("float64", "float32"):
        a = analyze_pairs(X, labels=labels, gap=False, dtype=dtype)
        b = analyze_pairs(X, labels=labels, gap=False, dtype=dtype, device="cuda")
        for name in ("minmax", "percentile", "mean"):
            assert b.forms[name].pos == pytest.approx(a.forms[name].pos, abs=1e-14)
            assert b.forms[name].neg == pytest.approx(a.forms[name].neg, abs=1e-14)
        assert b.edges[0].retrieval_kl == a.edges[0].retrieval_kl and b.device.startswith("cuda")


def test_sizes_that_cannot_fit_are_refused_before_allocating():
    # a broadcast view: 2 x 3e7 x 1152 "floats" that take no memory; the rows alone would need 515 GiB in
    # float64 (2 * 3e7 * 1152 * 8 bytes), more than half the RAM of any machine this runs on
    X = np.broadcast_to(np.float32(1.0), (2, 30_000_000, 1152))
    with pytest.raises(ConfigurationError, match=r"GiB.*over the limit"):
        analyze_pairs(X)


def test_reversed_percentiles_and_negative_seed_are_refused():
    # (95, 5) would compare the upper positives with the lower negatives: no margin of the data
    from constellations.analysis import check_percentiles
    X = np.random.default_rng(3).standard_normal((2, 12, 4))
    with pytest.raises(ConfigurationError, match="reversed"):
        analyze_pairs(X, percentiles=(95, 5), gap=False)
    assert check_percentiles((5, 95)) == (5.0, 95.0) and check_percentiles(("50", 50)) == (50.0, 50.0)
    with pytest.raises(ConfigurationError, match="seed"):
        analyze_pairs(X, gap=False, seed=-1)

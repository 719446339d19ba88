"""Analysis of real embeddings: margin forms, exact percentiles, retrieval, the modality gap LP, xi."""
import numpy as np
import pytest

from constellations.analysis import analyze_pairs, modality_gap
from constellations.constructions import cross_polytope_code, modality_simplex
from constellations.errors import ConfigurationError
from constellations.margins import margin_stats, retrieval_accuracy


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

import numpy as np
import pytest

from constellations import margin_stats, retrieval_accuracy
from constellations.margins import block_rows


def unit(rng, *shape):
    X = rng.standard_normal(shape)
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def brute_force(X, edges):
    """Direct double loop over edges and pairs."""
    pos, neg = np.inf, -np.inf
    for k, l in edges:
        for i in range(X.shape[1]):
            for j in range(X.shape[1]):
                v = float(np.dot(X[k, i], X[l, j]))
                if i == j:
                    pos = min(pos, v)
                else:
                    neg = max(neg, v)
    return pos, neg


@pytest.mark.parametrize("M, N, d, graph", [(2, 7, 3, "complete"), (3, 9, 4, "complete"),
                                            (4, 6, 5, "star"), (3, 5, 2, "0-2")])
def test_random_against_brute_force(M, N, d, graph):
    rng = np.random.default_rng(M * 100 + N)
    X = unit(rng, M, N, d)
    from constellations import parse_graph
    G = parse_graph(graph, M)
    s = margin_stats(X, G, block=2)  # tiny blocks exercise the blocking
    pos, neg = brute_force(X, G.edges)
    assert s.pos == pytest.approx(pos, abs=1e-14)
    assert s.neg == pytest.approx(neg, abs=1e-14)
    assert s.margin == pytest.approx((pos - neg) / 2, abs=1e-14)
    assert s.b_rel == pytest.approx((pos + neg) / 2, abs=1e-14)
    k, l, i = s.worst_pos
    assert np.dot(X[k, i], X[l, i]) == pytest.approx(pos, abs=1e-14)
    k, l, i, j = s.worst_neg
    assert i != j and np.dot(X[k, i], X[l, j]) == pytest.approx(neg, abs=1e-14)


def test_retrieval_against_brute_force():
    rng = np.random.default_rng(5)
    X = unit(rng, 2, 30, 3)
    acc = retrieval_accuracy(X, block=7)
    G = X[0] @ X[1].T
    assert acc[(0, 1)] == pytest.approx(np.mean(np.argmax(G, axis=1) == np.arange(30)))
    assert acc[(1, 0)] == pytest.approx(np.mean(np.argmax(G, axis=0) == np.arange(30)))


def test_positive_margin_implies_perfect_retrieval():
    from constellations.constructions import construct
    acc = retrieval_accuracy(construct("icosahedron", 3))
    assert all(v == 1.0 for v in acc.values())


def test_block_rows_bounded():
    assert block_rows(20000) * 20000 <= 1 << 20
    assert block_rows(3) == 3

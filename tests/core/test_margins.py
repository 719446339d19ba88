import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from constellations import certified_margin, margin_stats, retrieval_accuracy
from constellations.core.margins import block_rows


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
    from constellations.codes.constructions import construct
    acc = retrieval_accuracy(construct("icosahedron", 3))
    assert all(v == 1.0 for v in acc.values())


def test_block_rows_bounded():
    assert block_rows(20000) * 20000 <= 1 << 20
    assert block_rows(3) == 3


def test_margin_is_of_the_normalised_rows():
    # Regular simplex, n = 4: c = -1/3, m = (1 + 1/3)/2 = 2/3, b_rel = (1 - 1/3)/2 = 1/3, whatever the
    # (tolerated) norm error of the rows: the margin is that of x/|x|.
    from constellations.codes.constructions import simplex_code
    P = simplex_code(4, 3)
    X = np.stack([P * (1 + 9e-7), P * (1 - 9e-7)])
    s = margin_stats(X)
    assert s.margin == pytest.approx(2 / 3, abs=1e-15) and s.b_rel == pytest.approx(1 / 3, abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(2, 4), st.integers(3, 12), st.integers(1, 6),
       st.floats(1e-12, 1e-6))
def test_one_configuration_one_margin(seed, M, N, d, wobble):
    # Rows off unit by up to 1e-6 (accepted by validation): the certified margin never exceeds the
    # reported one, both describe the normalised rows, and the certificate brackets the margin
    # computed independently from explicitly normalised rows.
    rng = np.random.default_rng(seed)
    X = unit(rng, M, N, d) * (1 + wobble * rng.uniform(-1, 1, (M, N, 1)))
    s, cert = margin_stats(X), certified_margin(X)
    assert cert.margin == s.margin and cert.b_rel == s.b_rel
    assert cert.margin_certified <= s.margin <= cert.margin_cert_upper
    Y = X / np.linalg.norm(X, axis=-1, keepdims=True)
    pos, neg = brute_force(Y, [(k, l) for k in range(M) for l in range(k + 1, M)])
    assert cert.margin_certified <= (pos - neg) / 2 + 1e-15 and (pos - neg) / 2 - 1e-15 <= cert.margin_cert_upper
    assert s.margin == pytest.approx((pos - neg) / 2, abs=1e-14)

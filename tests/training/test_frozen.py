"""Frozen-modality SOCP: optimal free modality, exactness check, M > 2 and graphs."""
import numpy as np
import pytest

from constellations.core.configuration import tied
from constellations.codes.constructions import cross_polytope_code, random_code, simplex_code
from constellations.core.errors import ConstellationsError
from constellations.core.margins import margin_stats
from constellations.training.frozen import FrozenResult, frozen_alternate, frozen_optimum


def test_simplex_is_optimal_and_exact():
    N = 5
    r = frozen_optimum(tied(simplex_code(N, 6)))
    assert isinstance(r, FrozenResult)
    assert r.margin == pytest.approx(N / (2 * (N - 1)), abs=1e-6)
    assert r.exact and r.achieved == pytest.approx(r.margin, abs=1e-6)
    assert np.allclose(np.linalg.norm(r.X[1], axis=1), 1)


def test_never_worse_than_tied_and_achieved_when_exact():
    for seed in (0, 1):
        X = tied(random_code(12, 4, seed))
        base = margin_stats(X).margin
        r = frozen_optimum(X)
        assert r.margin >= base - 1e-7
        assert r.achieved <= r.margin + 1e-6
        if r.exact:
            assert r.achieved == pytest.approx(r.margin, abs=1e-5)
        # the fixed modality is untouched
        assert np.array_equal(r.X[0], np.asarray(X.X[0]))


def test_exactness_condition_with_b_plus_m_positive():
    # cross-polytope U: optimal V = U gives m = 1/2, b = 1/2: b + m > 0 >= b - m holds
    r = frozen_optimum(tied(cross_polytope_code(6, 3)))
    assert r.margin == pytest.approx(0.5, abs=1e-6) and r.exact


def test_fixed_b_rel():
    X = tied(simplex_code(4, 3))
    r = frozen_optimum(X, b_rel=0.0)
    # Theorem 3.4 with b = 0: m <= N/(3N-4) = 0.5; simplex U admits V with m >= 1/3 (V = U)
    assert 1 / 3 - 1e-6 <= r.margin <= 0.5 + 1e-6
    assert r.b_rel == 0.0


def test_multimodal_star_respects_fixed_edges():
    X = tied(random_code(10, 4, 3), modalities=3, graph="star")
    r = frozen_optimum(X, free=2)
    fixed_edge = margin_stats(np.asarray(X.X)[:2]).margin  # edge (0, 1) is frozen
    assert r.margin <= fixed_edge + 1e-6
    assert r.free == 2


def test_alternating_never_decreases():
    X = tied(random_code(20, 5, 0))
    base = margin_stats(X).margin
    r = frozen_alternate(X, rounds=2)
    assert r is not None and r.achieved >= base - 1e-9
    assert margin_stats(r.X).margin == pytest.approx(r.achieved, abs=1e-12)


def test_bad_input():
    X = tied(simplex_code(3, 2))
    with pytest.raises(ConstellationsError):
        frozen_optimum(X, free=2)
    with pytest.raises(ConstellationsError):
        frozen_optimum(X, b_rel=3.0)
    Y = tied(simplex_code(3, 2), modalities=3, graph="0-1")
    with pytest.raises(ConstellationsError):
        frozen_optimum(Y, free=2)
    with pytest.raises(ConstellationsError):
        frozen_optimum(np.full((2, 3, 2), np.nan))

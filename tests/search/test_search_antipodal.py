"""Antipodal restarts (search.restarts.antipodal_code, the "antipodal" move and strategy): the code
[Y; -Y] searched through N/2 rows Y.  Targets are closed forms: the E6 roots (6, 72) and the 24-cell
(4, 24) have largest inner product 1/2, the octahedron 0 (docs/math.md section 4)."""
import numpy as np
import pytest

from constellations.core.deadline import Deadline
from constellations.core.errors import ConfigurationError
from constellations.core.margins import code_margin
from constellations.objective.reference import value_and_grad
from constellations.search import search
from constellations.search.problem import Problem, Settings
from constellations.search.recognition import structure
from constellations.search.moves import ANTIPODAL_COST_SHARE, applies
from constellations.search.restarts import ANTIPODAL_EVERY, ANTIPODAL_FROM, antipodal_kernel, restart, restart_kind


def test_antipodal_kernel_is_the_chain_rule_through_the_doubled_code():
    """F(Y) = F_code([Y; -Y]); its Riemannian gradient against central differences along a tangent
    direction (the retraction by normalisation is second order, so the difference quotient is exact
    to O(h^2))."""
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((5, 4))
    Y /= np.linalg.norm(Y, axis=1, keepdims=True)
    vg = antipodal_kernel(value_and_grad)
    F, G = vg(Y, 30.0)
    F_full, _ = value_and_grad(np.concatenate([Y, -Y]), 30.0)
    assert F == F_full and G.shape == Y.shape
    assert np.abs(np.einsum("ij,ij->i", G, Y)).max() < 1e-12  # tangent
    V = rng.standard_normal(Y.shape)
    V -= np.einsum("ij,ij->i", V, Y)[:, None] * Y
    h = 1e-5

    def f(t):
        Z = Y + t * V
        return vg(Z / np.linalg.norm(Z, axis=1, keepdims=True), 30.0)[0]
    assert (f(h) - f(-h)) / (2 * h) == pytest.approx(float(np.vdot(G, V)), rel=1e-6, abs=1e-9)


def test_one_restart_in_four_of_an_even_code_is_antipodal_after_the_first_seven():
    st = Settings(antipodal=True)
    even, odd = Problem(8, 3, 2, ((0, 1),), True), Problem(9, 3, 2, ((0, 1),), True)
    kinds = [restart_kind(even, st, i) for i in range(16)]
    assert ANTIPODAL_FROM == 7 and ANTIPODAL_EVERY == 4
    assert [i for i, k in enumerate(kinds) if k == "antipodal"] == [7, 11, 15]
    assert all(restart_kind(odd, st, i) == "random" for i in range(8))
    assert all(restart_kind(even, Settings(antipodal=False), i) == "random" for i in range(8))
    free = Problem(8, 3, 2, ((0, 1),), False)
    assert all(restart_kind(free, st, i) == "random" for i in range(8))


def test_the_portfolio_takes_antipodal_restarts_only_when_they_are_cheap():
    """An arm whose one pull costs more than ANTIPODAL_COST_SHARE of the hops' time is left out
    (every bracket pulls every arm once); without a deadline, and for cheap restarts, it is in."""
    pb = Problem(72, 6, 2, ((0, 1),), True)
    assert applies(pb, "antipodal") and applies(pb, "antipodal", 10.0, None)
    assert applies(pb, "antipodal", ANTIPODAL_COST_SHARE * 100.0, 100.0)
    assert not applies(pb, "antipodal", 2 * ANTIPODAL_COST_SHARE * 100.0, 100.0)
    assert not applies(Problem(71, 6, 2, ((0, 1),), True), "antipodal")


def test_antipodal_restarts_reach_the_e6_roots():
    """From random rows, antipodal restarts reach the 72 E6 roots (c = 1/2, m = 1/4) often (about one
    in three in our measurements): at least one of ten seeds does, and every result is antipodal."""
    pb, st = Problem(72, 6, 2, ((0, 1),), True, "numba"), Settings(antipodal=True)
    margins = []
    for s in range(10):
        X, m, late = restart(pb, st, 0, np.random.SeedSequence(s), None, Deadline.NEVER, kind="antipodal")
        assert not late and X.shape == (72, 6) and np.array_equal(X[36:], -X[:36])
        assert m == code_margin(X)
        margins.append(m)
    assert max(margins) > 0.25 - 1e-6  # the polish then closes the last gap (next test)


def test_strategy_antipodal_finds_the_24_cell_and_says_it_is_antipodal():
    """The antipodal strategy from random starts (a count of restarts and hops, no clock): the
    24-cell's margin 1/4 to 1e-9, found_by naming an antipodal step, and extra["antipodal"]."""
    r = search(24, 4, tied=True, restarts=8, hops=8, seed=0, strategy="antipodal", constructions=False)
    assert abs(r.margin - 0.25) < 1e-9
    assert r.extra["antipodal"] is True and r.to_dict()["antipodal"] is True
    assert r.extra["portfolio"]["arms"]["antipodal"]["pulls"] == 8


def test_structure_tells_antipodal_codes():
    rng = np.random.default_rng(1)
    Y = rng.standard_normal((6, 3))
    Y /= np.linalg.norm(Y, axis=1, keepdims=True)
    assert structure(np.concatenate([Y, -Y])).antipodal is True
    flipped = -Y[5:] @ np.diag([1.0, 1.0, -1.0])  # the last negative, reflected: no longer -Y[5]
    assert structure(np.concatenate([Y, -Y[:5], flipped])).antipodal is False
    assert structure(np.stack([Y, Y]), [(0, 1)]).antipodal is None  # free rows: not asked


def test_antipodal_strategy_needs_an_even_tied_code():
    with pytest.raises(ConfigurationError, match="N must be even"):
        search(7, 3, tied=True, restarts=1, strategy="antipodal")
    with pytest.raises(ConfigurationError, match="tied"):
        search(8, 3, restarts=1, strategy="antipodal")

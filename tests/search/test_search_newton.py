"""The active-set Newton polish returns perturbed exact optima to their closed-form values to 1e-14,
equalises contacts to 1e-14, finds rattlers, never lowers the margin, keeps its deadline, and
refuses bad input.

Known values: regular simplex c = -1/d, cross-polytope c = 0, icosahedron 1/sqrt(5), and the rows of
data/reference/spherical_codes.csv that carry a closed form (evaluated by the csv test's whitelist
evaluator, never typed in here).
"""
import time
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from constellations.codes.constructions import code, cross_polytope_code, icosahedron_code, polygon_code, simplex_code
from constellations.core.deadline import Deadline
from constellations.core.errors import ConfigurationError
from constellations.core.margins import code_margin
from constellations.search.polish import polish
from constellations.search import search
from constellations.search.newton import newton_polish
from test_reference_data import ROWS, closed_form_value  # tests/ is on sys.path (rootdir conftest)


def unit(a):
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def shaken(P, seed, eps=1e-7):
    """P under a random rotation, each entry moved by ~eps, rows renormalised."""
    rng = np.random.default_rng(seed)
    d = P.shape[1]
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return unit(P @ Q + eps * rng.standard_normal(P.shape))


def spread(X, pairs):
    G = X @ X.T
    I, J = np.array(pairs).T
    return float(G[I, J].max() - G[I, J].min())


def csv_c(d, N):
    """The csv's closed form of the optimal max inner product for (d, N)."""
    (row,) = [r for r in ROWS if int(r["dim"]) == d and int(r["n_points"]) == N]
    assert row["closed_form"], f"no closed form for d={d}, N={N}"
    return closed_form_value(row["closed_form"])


@lru_cache(maxsize=None)
def searched(N, d, restarts=2):
    """A tied search result (read-only: callers copy before changing it)."""
    return search(N, d, tied=True, restarts=restarts, seed=0, constructions=False).config.X[0]


def check_returns_to(P_start, c_exact, n_contacts=None):
    m_in = code_margin(P_start)
    r = newton_polish(P_start)
    assert r.improved, r.reason
    assert r.margin >= m_in and r.margin == code_margin(r.X)
    assert abs((1 - 2 * r.margin) - c_exact) <= 1e-14
    assert spread(r.X, r.contacts) <= 1e-14
    assert r.residual <= 1e-14
    assert np.abs(np.linalg.norm(r.X, axis=1) - 1).max() <= 1e-15
    assert all(i < j for i, j in r.contacts)
    if n_contacts is not None:
        assert len(r.contacts) == n_contacts
    return r


@pytest.mark.parametrize("d", [2, 3, 5])
def test_simplex(d):
    r = check_returns_to(shaken(simplex_code(d + 1), seed=d), -1 / d, n_contacts=d * (d + 1) // 2)
    assert r.rattlers == ()


@pytest.mark.parametrize("d", [3, 4])
def test_cross_polytope(d):
    # every pair but the d antipodal ones sits at 0
    r = check_returns_to(shaken(cross_polytope_code(dim=d), seed=d), 0.0, n_contacts=2 * d * (d - 1))
    assert r.rattlers == ()


def test_icosahedron():
    r = check_returns_to(shaken(icosahedron_code(), seed=1), 1 / np.sqrt(5), n_contacts=30)
    assert r.rattlers == () and r.active_dropped == 0


@pytest.mark.parametrize("N", [3, 5, 7, 8, 12])
def test_polygons_of_the_csv(N):
    check_returns_to(shaken(polygon_code(N), seed=N), csv_c(2, N), n_contacts=N)


@pytest.mark.parametrize("kind,d,N", [("24-cell", 4, 24), ("clebsch", 5, 16), ("schlafli", 6, 27)])
def test_polytopes_of_the_csv(kind, d, N):
    P, _ = code(kind, d)
    assert P.shape == (N, d)
    check_returns_to(shaken(P, seed=N), csv_c(d, N))


@pytest.mark.parametrize("d,N", [(3, 7), (3, 8), (3, 9), (4, 10)])
def test_search_results_shaken_return_to_the_csv(d, N):
    """Start from a search result moved by 1e-7: Newton lands on the csv's closed form (7 points:
    a root of 3x^3 - 9x^2 - 3x + 1; 8: the square antiprism (2 sqrt 2 - 1)/7; ...)."""
    check_returns_to(shaken(searched(N, d), seed=N), csv_c(d, N))


def test_polished_search_result():
    C = searched(13, 3, restarts=4)
    r = newton_polish(C)
    assert r.margin >= code_margin(C) and r.margin == code_margin(r.X)
    assert spread(r.X, r.contacts) <= 1e-13 and r.residual <= 1e-14
    # Musin-Tarasov's optimum, to the csv's stated uncertainty
    row = [x for x in ROWS if x["dim"] == "3" and x["n_points"] == "13"][0]
    assert abs((1 - 2 * r.margin) - float(row["max_inner_product"])) <= float(row["c_uncertainty"])


def test_after_the_lp_polish():
    """The LP polish (search.polish) from a search result moved by 1e-6 stops with its contacts
    equal to 2.6e-13 (measured, this seed); Newton takes them to the float64 floor and the margin to
    (1 - 1/6)/2 (csv: d = 4, N = 10)."""
    p = polish(shaken(searched(10, 4), seed=0, eps=1e-6), max_iter=30)
    r = newton_polish(p.X)
    assert r.margin >= p.margin and r.margin == code_margin(r.X)
    assert spread(r.X, r.contacts) <= 1e-14 and r.residual <= 1e-14
    assert abs((1 - 2 * r.margin) - csv_c(4, 10)) <= 1e-14


def test_rattler_at_the_pole():
    """Regular octagon on the equator of S^2 plus the north pole: the pole is at inner product 0 from
    every other point, far below cos(pi/4), so it is a rattler; the contacts are the 8 sides."""
    P = np.vstack([polygon_code(8, 3), [0.0, 0.0, 1.0]])
    r = check_returns_to(shaken(P, seed=3), csv_c(2, 8))
    assert r.rattlers == (8,)
    assert set(r.contacts) == {tuple(sorted((i, (i + 1) % 8))) for i in range(8)}


def test_too_wide_tol_is_refused_unchanged():
    """tol = 0.75 takes in pairs at 0 next to the sides at cos(pi/4): no KKT point forces them equal,
    contacts are dropped, and what is left is refused; the input comes back as it was."""
    Y = shaken(np.vstack([polygon_code(8, 3), [0.0, 0.0, 1.0]]), seed=3)
    r = newton_polish(Y, tol=0.75)
    assert not r.improved and "refused" in r.reason and r.active_dropped > 0
    assert np.array_equal(r.X, Y) and r.margin == code_margin(Y)


def test_exact_optimum_comes_back_unchanged():
    C = cross_polytope_code(dim=3)
    r = newton_polish(C)
    assert not r.improved and r.iterations == 0
    assert np.array_equal(r.X, C) and r.margin == 0.5 and r.residual <= 1e-15


def test_input_not_modified_and_max_iter_zero():
    Y = shaken(icosahedron_code(), seed=5)
    Y0 = Y.copy()
    r = newton_polish(Y, max_iter=0)
    assert not r.improved and r.iterations == 0 and np.array_equal(r.X, Y)
    newton_polish(Y)
    assert np.array_equal(Y, Y0)


@settings(max_examples=12, deadline=None)
@given(st.integers(3, 12), st.integers(2, 4), st.integers(0, 2 ** 31))
def test_margin_never_decreases(N, d, seed):
    C = unit(np.random.default_rng(seed).standard_normal((N, d)))
    m = code_margin(C)
    r = newton_polish(C, max_iter=10)
    assert r.margin == code_margin(r.X)
    if r.improved:
        assert r.margin >= m
    else:
        assert np.array_equal(r.X, C) and r.margin == m


def _no_step_may_run(monkeypatch):
    """'Returns at once' as a fact, not a timing: the multiplier fit and the Newton steps (all the work
    after the Gram matrix) raise if called."""
    from constellations.search import newton

    def forbidden(*a, **k):
        raise AssertionError("work started past the deadline")

    monkeypatch.setattr(newton, "_fit_multipliers", forbidden)
    monkeypatch.setattr(newton, "_newton", forbidden)


def test_deadline_passed_returns_at_once(monkeypatch):
    Y = shaken(icosahedron_code(), seed=2)
    _no_step_may_run(monkeypatch)
    r = newton_polish(Y, deadline=Deadline(10.0, clock=lambda: 11.0))  # a clock that stands past it
    assert r.reason == "deadline passed before the start"
    assert not r.improved and np.array_equal(r.X, Y) and r.iterations == 0


def test_far_deadline_changes_nothing():
    Y = shaken(icosahedron_code(), seed=4)
    a, b = newton_polish(Y), newton_polish(Y, deadline=Deadline.after(3600.0))
    assert a.improved and np.array_equal(a.X, b.X) and a.reason == b.reason == "converged"


def test_deadline_too_short_for_a_step(monkeypatch):
    """Schlafli: 405 unknowns, a step is estimated (from the size, not timed) to take far longer than
    1 ms, so none starts: the Gram matrix of 27 points is all it computes.  The deadline's clock stands
    still 1 ms before it, so the machine's load cannot make it pass before the start."""
    P, _ = code("schlafli", 6)
    Y = shaken(P, seed=1)
    _no_step_may_run(monkeypatch)
    r = newton_polish(Y, deadline=Deadline(1e-3, clock=lambda: 0.0))
    assert r.reason.startswith("deadline: no time for a step"), r.reason
    assert not r.improved and r.iterations == 0


@pytest.mark.parametrize("bad", [
    np.full((4, 3), np.nan),
    np.array([[1.0, 0.0], [np.inf, 0.0]]),
    np.ones(3) / np.sqrt(3),
    np.ones((2, 2, 3)) / np.sqrt(3),
    np.array([[1.0, 0.0, 0.0]]),
    unit(np.ones((3, 3))) * (1 + 1e-6),
])
def test_bad_input(bad):
    with pytest.raises(ConfigurationError):
        newton_polish(bad)


def test_a_deadline_in_seconds_is_refused():
    """A bare number is not a deadline (seconds from now, or a point on which clock?): refused."""
    with pytest.raises(ConfigurationError, match="Deadline"):
        newton_polish(icosahedron_code(), deadline=time.time() + 10.0)


@pytest.mark.parametrize("kw", [{"tol": -1.0}, {"tol": float("nan")}, {"max_iter": -1}, {"max_iter": 1.5}])
def test_bad_parameters(kw):
    with pytest.raises(ConfigurationError):
        newton_polish(simplex_code(4), **kw)

"""The exact polish never lowers the margin and reaches known local optima."""
import numpy as np
import pytest

from constellations.search.polish import code_margin, free_margin, polish


def unit(a):
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def octahedron():
    return np.vstack([np.eye(3), -np.eye(3)])


@pytest.mark.parametrize("seed", range(4))
def test_monotone_on_random_codes(seed):
    C = unit(np.random.default_rng(seed).standard_normal((9, 3)))
    r = polish(C, max_iter=15)
    assert r.margin >= r.margin_before == code_margin(C)
    assert r.margin == code_margin(r.X)
    assert np.allclose(np.linalg.norm(r.X, axis=1), 1, atol=1e-15)


@pytest.mark.parametrize("seed", range(3))
def test_monotone_on_random_free_configurations(seed):
    X = unit(np.random.default_rng(10 + seed).standard_normal((3, 6, 3)))
    edges = [(0, 1), (0, 2)]
    r = polish(X, edges, max_iter=15)
    assert r.margin >= r.margin_before == free_margin(X, edges)
    assert r.margin == free_margin(r.X, edges)


def test_perturbed_octahedron_recovers_half():
    C = unit(octahedron() + 1e-3 * np.random.default_rng(0).standard_normal((6, 3)))
    r = polish(C)
    assert r.margin >= r.margin_before
    assert abs(r.margin - 0.5) < 1e-12


def test_perturbed_tied_simplex_free_polish():
    S = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)  # c = -1/3
    X = unit(np.stack([S, S]) + 2e-3 * np.random.default_rng(1).standard_normal((2, 4, 3)))
    r = polish(X, [(0, 1)])
    assert abs(r.margin - 2 / 3) < 1e-10  # N/(2(N-1)), Theorem 3.4 is sharp


def test_optimum_is_returned_unchanged():
    C = octahedron().astype(float)
    r = polish(C)
    assert r.margin == r.margin_before == 0.5
    assert np.array_equal(r.X, C)


def test_budget_zero_returns_input():
    C = unit(np.random.default_rng(3).standard_normal((8, 3)))
    r = polish(C, max_iter=0)
    assert np.array_equal(r.X, C) and r.margin == r.margin_before


def test_stop_returns_the_input_unchanged():
    C = np.random.default_rng(0).standard_normal((9, 3))
    C /= np.linalg.norm(C, axis=1, keepdims=True)
    r = polish(C, tied=True, stop=lambda: True)
    assert r.reason == "stopped" and r.iterations == 0 and np.array_equal(r.X, C)
    assert r.margin == r.margin_before == code_margin(C)


def test_a_passed_deadline_and_the_stop_flag_return_the_input_unchanged():
    """The search passes its Deadline as the time limit: passed, no LP step starts ("time_limit"); the
    stop flag (Ctrl-C) set, none starts either ("stopped"); seconds are still accepted (a user's time limit)."""
    from constellations.core.deadline import Deadline
    from constellations.core.interrupts import INTERRUPT
    C = unit(np.random.default_rng(5).standard_normal((9, 3)))
    r = polish(C, time_limit=Deadline(10.0, clock=lambda: 11.0))
    assert r.reason == "time_limit" and r.iterations == 0 and np.array_equal(r.X, C)
    INTERRUPT.set()
    try:
        r = polish(C, time_limit=Deadline.NEVER)
    finally:
        INTERRUPT.flag = False
    assert r.reason == "stopped" and r.iterations == 0 and np.array_equal(r.X, C)
    a, b = polish(C, max_iter=15), polish(C, max_iter=15, time_limit=3600.0)
    assert np.array_equal(a.X, b.X) and a.iterations == b.iterations

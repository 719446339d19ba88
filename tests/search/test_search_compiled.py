"""The compiled L-BFGS stages (objective.compiled) against the NumPy reference
(objective_numpy.value_and_grad under optimizer.rlbfgs), and against exact optima."""
import numpy as np
import pytest

from constellations.core.margins import code_margin, free_margin
from constellations.objective.reference import value_and_grad as reference
from constellations.objective import compiled
from constellations.search.budget import INTERRUPT
from constellations.core.deadline import Deadline
from constellations.search.optimizer import normalize, optimize, rlbfgs
from constellations.search.problem import Problem

CASES = [((12, 3), None), ((2, 9, 4), [(0, 1)]), ((3, 8, 5), [(0, 1), (1, 2), (0, 2)]), ((3, 7, 3), [(0, 2)])]


@pytest.mark.parametrize("shape,edges", CASES)
@pytest.mark.parametrize("beta", [3.0, 200.0, 1e4])
def test_value_and_gradient_equal_the_reference(shape, edges, beta):
    X = normalize(np.random.default_rng(len(shape) + int(beta)).standard_normal(shape))
    F0, G0 = reference(X, beta, edges)
    F1, G1 = compiled.value_and_grad(X, beta, edges)
    assert abs(F0 - F1) < 1e-13 and np.abs(G0 - G1).max() < 1e-12


def test_gradient_is_the_derivative_of_the_value():
    """Central differences along a tangent direction at beta = 30 (O(h^2) = 1e-10)."""
    rng = np.random.default_rng(3)
    for shape, edges in CASES:
        X = normalize(rng.standard_normal(shape))
        V = rng.standard_normal(shape)
        V -= np.sum(V * X, axis=-1, keepdims=True) * X
        h = 1e-5
        Fp, _ = compiled.value_and_grad(normalize(X + h * V), 30.0, edges)
        Fm, _ = compiled.value_and_grad(normalize(X - h * V), 30.0, edges)
        _, G = compiled.value_and_grad(X, 30.0, edges)
        assert abs((Fp - Fm) / (2 * h) - np.sum(G * V)) < 1e-7


@pytest.mark.parametrize("shape,edges", CASES)
def test_stage_follows_the_python_lbfgs_step_for_step(shape, edges):
    """Same algorithm: after 15 iterations the iterates agree to summation-order rounding."""
    X = normalize(np.random.default_rng(5).standard_normal(shape))
    Xa, Fa, la = rlbfgs(lambda Z: reference(Z, 40.0, edges), X, maxiter=15)
    Xb, Fb, lb = compiled.rlbfgs_stage(X, 40.0, edges, maxiter=15)
    assert not la and not lb
    assert abs(Fa - Fb) < 1e-12 and np.abs(Xa - Xb).max() < 1e-9


def test_chunking_changes_nothing(monkeypatch):
    """One iteration per compiled call (the deadline checked after each) gives the same iterates."""
    X = normalize(np.random.default_rng(8).standard_normal((10, 3)))
    Xa, Fa, _ = compiled.rlbfgs_stage(X, 100.0, maxiter=200)
    monkeypatch.setattr(compiled, "CHUNK_WORK", 1)
    Xb, Fb, _ = compiled.rlbfgs_stage(X, 100.0, maxiter=200)
    assert Fa == Fb and np.array_equal(Xa, Xb)


def test_deadline_and_interrupt_return_the_start():
    X = normalize(np.random.default_rng(9).standard_normal((2, 6, 3)))
    holder = {}
    Y, F, late = compiled.rlbfgs_stage(X, 100.0, [(0, 1)], deadline=Deadline(0.0), holder=holder)
    assert late and np.array_equal(Y, X) and np.array_equal(holder["X"], X)
    INTERRUPT.set()
    try:
        Y, F, late = compiled.rlbfgs_stage(X, 100.0, [(0, 1)])
    finally:
        INTERRUPT.flag = False
    assert late and np.array_equal(Y, X)


@pytest.mark.parametrize("n,exact", [(6, 0.5), (12, (1 - 1 / np.sqrt(5)) / 2)])
def test_random_starts_reach_the_octahedron_and_icosahedron(n, exact):
    """Rankin's N = 2d optimum (c = 0) and the icosahedron (c = 1/sqrt 5) from random rows, to the
    smoothing residue of the last stage (log(N(N-1))/(2 beta) at beta = 163840: < 2e-5)."""
    rng = np.random.default_rng(n)
    best = max(code_margin(optimize(rng.standard_normal((n, 3)), (20.0, 80.0, 320.0, 1280.0, 10240.0, 163840.0),
                                    compiled=True)[0]) for _ in range(4))
    assert exact - 2e-5 < best <= exact + 1e-15


def test_free_pair_of_simplices():
    """Free M = 2, N = 4, d = 3: Theorem 3.4's bound N/(2(N-1)) = 2/3, attained by the simplex."""
    X, _ = optimize(np.random.default_rng(1).standard_normal((2, 4, 3)), (10.0, 40.0, 160.0, 10240.0, 163840.0),
                    [(0, 1)], compiled=True)
    assert 2 / 3 - 1e-4 < free_margin(X, [(0, 1)]) <= 2 / 3 + 1e-15


def test_problem_runs_compiled_only_with_numba_and_small_evaluations():
    assert Problem(75, 3, 2, ((0, 1),), True, "numba").compiled
    assert not Problem(75, 3, 2, ((0, 1),), True, "numpy").compiled
    assert not Problem(5000, 8, 2, ((0, 1),), True, "numba").compiled  # 1e8 multiply-adds a pass
    assert Problem(100, 10, 2, ((0, 1),), False, "numba").compiled


def test_lp_is_deferred_only_for_large_compiled_problems():
    assert Problem(100, 10, 2, ((0, 1),), True, "numba").lp_deferred  # 1000 variables
    assert Problem(100, 10, 2, ((0, 1),), False, "numba").lp_deferred
    assert not Problem(100, 3, 2, ((0, 1),), True, "numba").lp_deferred  # Tammes codes keep their LPs
    assert not Problem(64, 8, 2, ((0, 1),), True, "numba").lp_deferred
    assert not Problem(100, 10, 2, ((0, 1),), True, "numpy").lp_deferred  # no compiled sharpening


def test_deferred_search_polishes_once_at_the_end(monkeypatch):
    """With the LP deferred, the moves rank by sharpened margins and never call the LP; the
    phase's best is LP-polished at its end and reaches the exact optimum (free M = 2, N = 4, d = 3:
    the pair of simplices, N/(2(N-1)) = 2/3)."""
    from constellations.search import driver
    from constellations.search import moves
    from constellations.search import problem as problem_module
    from constellations.search import search

    monkeypatch.setattr(problem_module, "LP_DEFER_VARS", 0)

    def no_lp(*a, **k):
        raise AssertionError("a move called the LP polish of a problem that defers it")

    calls = []
    real = driver.polish

    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(moves, "polish", no_lp)
    monkeypatch.setattr(driver, "polish", counted)
    # counts, not a time limit: a deadline could skip the polish on a loaded machine
    r = search(4, 3, 2, tied=False, restarts=2, hops=2, seed=0, constructions=False, backend="numba")
    assert r.extra["hops"] == 2 and calls, "the phase's best was never polished"
    assert abs(r.margin - 2 / 3) < 1e-12


def test_deferred_polish_respects_polish_top_zero(monkeypatch):
    """``polish_top=0`` turns the LP off (the free phase after a winning construction relies on it):
    the deferred end-of-phase polish must not run either."""
    from constellations.search import driver
    from constellations.search import problem as problem_module
    from constellations.search import search

    monkeypatch.setattr(problem_module, "LP_DEFER_VARS", 0)

    def no_lp(*a, **k):
        raise AssertionError("LP polish with polish_top=0")

    monkeypatch.setattr(driver, "polish", no_lp)
    # counts, not a time limit: only polish_top = 0 (no deadline) can be what keeps the LP from running
    r = search(4, 3, 2, tied=False, restarts=2, hops=2, seed=0, constructions=False, backend="numba",
               polish_top=0)
    assert r.margin <= 2 / 3 + 1e-15 and np.isfinite(r.margin)


# --------------------------------------------------------------------------- pair lists of codes

def _annealed_code(n, dim, seed):
    X, _ = optimize(np.random.default_rng(seed).standard_normal((n, dim)), (160.0, 2560.0, 40960.0), compiled=True)
    return X


@pytest.mark.parametrize("beta", [2560.0, 163840.0])
def test_pair_list_evaluation_equals_all_pairs(beta):
    """Within the skin the listed pairs give F_beta and its gradient exactly as all pairs do: every
    pair left out has beta (c - q) < -60 and is skipped by the full sum as well."""
    X = _annealed_code(60, 3, 0)
    P, X0, skin = compiled._pair_list(X, beta)
    assert skin > 0 and 0 < len(P) < 0.5 * 60 * 59 / 2
    Y = normalize(X + 0.05 * skin / np.sqrt(3) * np.random.default_rng(1).standard_normal(X.shape))
    assert 4 * np.linalg.norm(Y - X0, axis=1).max() < skin
    G1, G2, stale = np.empty_like(Y), np.empty_like(Y), np.zeros(1, dtype=np.int64)
    F1 = compiled._fg(Y, beta, 60, compiled._NO_PAIRS, True, G1, G1.copy(), P, X0, skin, stale)
    F2 = compiled._fg(Y, beta, 60, compiled._NO_PAIRS, True, G2, G2.copy(), compiled._NO_PAIRS, Y, -1.0, stale)
    assert F1 == F2 and np.array_equal(G1, G2) and stale[0] == 0


def test_stale_pair_list_falls_back_to_all_pairs():
    """A row moved by more than skin / 4 makes the evaluation use all pairs and flag the list."""
    X = _annealed_code(60, 3, 2)
    P, X0, skin = compiled._pair_list(X, 2560.0)
    Y = X.copy()
    Y[7] = normalize(Y[7] + skin * np.array([1.0, -1.0, 0.5]))
    G1, G2, stale = np.empty_like(Y), np.empty_like(Y), np.zeros(1, dtype=np.int64)
    F1 = compiled._fg(Y, 2560.0, 60, compiled._NO_PAIRS, True, G1, G1.copy(), P, X0, skin, stale)
    assert stale[0] == 1
    F2 = compiled._fg(Y, 2560.0, 60, compiled._NO_PAIRS, True, G2, G2.copy(), compiled._NO_PAIRS, Y, -1.0,
                      np.zeros(1, dtype=np.int64))
    assert F1 == F2 and np.array_equal(G1, G2)


def test_stage_with_pair_lists_repeats_the_all_pairs_stage(monkeypatch):
    """From a perturbed code (rows moving far beyond the skin, so the list is rebuilt along the
    way) the stage with pair lists returns the same iterate, bit for bit, as with all pairs."""
    X = _annealed_code(70, 3, 3)
    Z = normalize(X + 0.02 * np.random.default_rng(4).standard_normal(X.shape))
    builds = []
    real = compiled._pair_list
    monkeypatch.setattr(compiled, "_pair_list", lambda *a: builds.append(1) or real(*a))
    Xa, Fa, _ = compiled.rlbfgs_stage(Z, 2560.0, maxiter=300)
    assert len(builds) >= 3  # the first list and at least two rebuilds
    Xb, Fb, _ = compiled.rlbfgs_stage(Z, 2560.0, maxiter=300, skin_fraction=0.0)
    assert Fa == Fb and np.array_equal(Xa, Xb)


def test_no_pair_list_for_small_or_spread_codes():
    """Small codes, and codes whose list would hold most pairs (low beta), evaluate all pairs."""
    X = _annealed_code(12, 3, 5)
    assert compiled._pair_list(X, 163840.0)[2] < 0
    Y = _annealed_code(60, 3, 6)
    assert compiled._pair_list(Y, 10.0)[2] < 0

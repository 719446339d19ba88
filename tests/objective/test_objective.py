"""The smoothed-margin objective: NumPy reference vs Numba vs torch, gradients, bounds."""
import subprocess
import sys

import numpy as np
import pytest

from constellations.core.deadline import Deadline
from constellations.objective import numba_kernels as objective_numba
from constellations.objective import reference as objective_numpy
from constellations.objective import torch_kernels as objective_torch

torch = pytest.importorskip("torch")


def unit(a):
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


CASES = [((7, 3), None), ((2, 9, 4), None), ((3, 6, 5), [(0, 1), (1, 2)]), ((3, 5, 2), None), ((2, 4, 1), None)]


def margin_of(X, edges):
    if X.ndim == 2:
        G = X @ X.T
        np.fill_diagonal(G, -np.inf)
        return 0.5 * (1 - G.max())
    edges = edges or objective_numpy.default_edges(X.shape[0])
    pos = min(np.einsum("nd,nd->n", X[k], X[l]).min() for k, l in edges)
    neg = -np.inf
    for k, l in edges:
        G = X[k] @ X[l].T
        np.fill_diagonal(G, -np.inf)
        neg = max(neg, G.max())
    return 0.5 * (pos - neg)


@pytest.mark.parametrize("shape,edges", CASES)
@pytest.mark.parametrize("beta", [3.0, 50.0, 1e4])
def test_backends_agree(shape, edges, beta):
    X = unit(np.random.default_rng(1).standard_normal(shape))
    f0, g0 = objective_numpy.value_and_grad(X, beta, edges)
    for f, g in [objective_numpy.value_and_grad(X, beta, edges, block=2),
                 objective_numba.value_and_grad(X, beta, edges),
                 objective_torch.value_and_grad(X, beta, edges, block=3)]:
        assert abs(f - f0) <= 1e-10
        assert np.abs(g - g0).max() <= 1e-10


def test_numba_parallel_kernel_agrees(monkeypatch):
    """Force the parallel (chunked) Numba kernels on a small case."""
    monkeypatch.setattr(objective_numba, "PARALLEL_MIN_WORK", 0)
    for shape in [(11, 3), (2, 13, 4)]:
        X = unit(np.random.default_rng(2).standard_normal(shape))
        f0, g0 = objective_numpy.value_and_grad(X, 20.0)
        f1, g1 = objective_numba.value_and_grad(X, 20.0)
        assert abs(f1 - f0) <= 1e-10 and np.abs(g1 - g0).max() <= 1e-10


def test_torch_batched_matches_single():
    rng = np.random.default_rng(3)
    Xs = unit(rng.standard_normal((4, 2, 8, 3)))
    F, G = objective_torch.value_and_grad_tensor(torch.as_tensor(Xs), 30.0, block=3)
    for b in range(4):
        f, g = objective_numpy.value_and_grad(Xs[b], 30.0)
        assert abs(float(F[b]) - f) <= 1e-10 and np.abs(G[b].numpy() - g).max() <= 1e-10
    C = unit(rng.standard_normal((3, 9, 4)))
    F, G = objective_torch.value_and_grad_tensor(torch.as_tensor(C), 30.0, tied=True)
    f, g = objective_numpy.value_and_grad(C[1], 30.0)
    assert abs(float(F[1]) - f) <= 1e-10 and np.abs(G[1].numpy() - g).max() <= 1e-10


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_cuda_matches_numpy():  # pragma: no cover - needs a GPU
    X = unit(np.random.default_rng(4).standard_normal((2, 50, 6)))
    f0, g0 = objective_numpy.value_and_grad(X, 40.0)
    f, g = objective_torch.value_and_grad(X, 40.0, device="cuda")
    assert abs(f - f0) <= 1e-10 and np.abs(g - g0).max() <= 1e-10


@pytest.mark.parametrize("shape,edges", CASES[:4])
def test_gradient_matches_finite_differences(shape, edges):
    rng = np.random.default_rng(5)
    X = unit(rng.standard_normal(shape))
    beta = 7.0
    _, g = objective_numpy.value_and_grad(X, beta, edges)
    for _ in range(3):
        D = rng.standard_normal(shape)
        D -= np.einsum("...i,...i->...", D, X)[..., None] * X  # tangent direction
        h = 1e-6
        fp, _ = objective_numpy.value_and_grad(unit(X + h * D), beta, edges)
        fm, _ = objective_numpy.value_and_grad(unit(X - h * D), beta, edges)
        assert (fp - fm) / (2 * h) == pytest.approx(np.sum(g * D), rel=1e-6, abs=1e-8)
    # the gradient is tangent
    assert np.abs(np.einsum("...i,...i->...", g, X)).max() < 1e-14


@pytest.mark.parametrize("shape,edges", CASES)
def test_smoothed_margin_is_a_lower_bound_within_the_gap(shape, edges):
    X = unit(np.random.default_rng(6).standard_normal(shape))
    m = margin_of(X, edges)
    n_edges = 1 if X.ndim == 2 else len(edges or objective_numpy.default_edges(X.shape[0]))
    for beta in [1.0, 10.0, 1e3, 1e6]:
        f, _ = objective_numpy.value_and_grad(X, beta, edges)
        gap = objective_numpy.smoothing_gap(X.shape[-2], beta, n_edges, tied=X.ndim == 2)
        assert f <= m + 1e-12
        assert m - f <= gap + 1e-12


def test_no_overflow_at_huge_beta():
    X = unit(np.random.default_rng(7).standard_normal((2, 30, 3)))
    for mod in (objective_numpy, objective_numba, objective_torch):
        f, g = mod.value_and_grad(X, 1e9)
        assert np.isfinite(f) and np.isfinite(g).all()


@pytest.mark.parametrize("module", [objective_numpy, objective_numba, objective_torch])
def test_stop_abandons_an_evaluation(module):
    """``stop`` a callable, or the search's Deadline (passed: it stops; NEVER: it changes nothing)."""
    X = unit(np.random.default_rng(4).standard_normal((2, 30, 3)))
    for stop in (lambda: True, Deadline(10.0, clock=lambda: 11.0)):
        with pytest.raises(objective_numpy.Stopped):
            module.value_and_grad(X, 10.0, stop=stop)
    # a stop that never fires changes nothing
    f0, g0 = objective_numpy.value_and_grad(X, 10.0)
    for stop in (lambda: False, Deadline.NEVER):
        f, g = module.value_and_grad(X, 10.0, stop=stop)
        assert abs(f - f0) <= 1e-10 and np.abs(g - g0).max() <= 1e-10


def test_importing_the_search_does_not_load_numba():
    """Numba (half a second to import) loads when a Numba kernel first runs, not with the search
    (core/jit.py; the other tests of this file run the kernels, so it does load then).  A fresh
    interpreter, since this one may have run a Numba kernel already."""
    code = "import sys, constellations.search; assert 'numba' not in sys.modules, 'numba was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_numba_row_ranges_agree(monkeypatch):
    """With a stop callable the Numba kernels run in row ranges (checked in between): same values."""
    monkeypatch.setattr(objective_numba, "STOP_CHECK_WORK", 50)
    calls = []
    for shape in [(13, 3), (2, 11, 4)]:
        X = unit(np.random.default_rng(5).standard_normal(shape))
        f0, g0 = objective_numpy.value_and_grad(X, 20.0)
        f1, g1 = objective_numba.value_and_grad(X, 20.0, stop=lambda: calls.append(1) or False)
        assert abs(f1 - f0) <= 1e-10 and np.abs(g1 - g0).max() <= 1e-10
    assert len(calls) > 8  # several ranges per pass, i.e. the check really runs inside an evaluation


@pytest.mark.parametrize("s", [1.0, 6.0, 40.0, 400.0])
def test_riesz_energy_of_the_octahedron(s):
    """F_s = -(1/s) log sum_{i != j} r_ij^-s: 24 ordered pairs at distance sqrt 2, 6 at distance 2."""
    O = np.vstack([np.eye(3), -np.eye(3)])
    F, G = objective_numpy.riesz_value_and_grad(O, s)
    assert abs(F - (-np.log(24 * 2 ** (-s / 2) + 6 * 2 ** (-s)) / s)) < 1e-12
    assert np.abs(G).max() < 1e-12  # a critical point by symmetry
    assert F <= np.log(np.sqrt(2)) + 1e-15  # below log of the minimum distance


def test_riesz_gradient_is_the_riemannian_derivative():
    rng = np.random.default_rng(0)
    C = unit(rng.standard_normal((7, 3)))
    F, G = objective_numpy.riesz_value_and_grad(C, 8.0, block=3)
    V = rng.standard_normal(C.shape)
    V -= (V * C).sum(1, keepdims=True) * C
    h = 1e-6
    Fp = objective_numpy.riesz_value_and_grad(unit(C + h * V), 8.0)[0]
    Fm = objective_numpy.riesz_value_and_grad(unit(C - h * V), 8.0)[0]
    assert abs((Fp - Fm) / (2 * h) - (G * V).sum()) < 1e-7
    assert np.abs((G * C).sum(1)).max() < 1e-14  # tangent

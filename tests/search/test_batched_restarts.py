"""Restarts batched into one torch program: same iterates as the serial optimiser, known optima."""
import numpy as np
import pytest
import torch

from constellations.core.errors import ConfigurationError
from constellations.objective.torch_kernels import value_and_grad, value_and_grad_tensor
from constellations.search import Problem, Settings, batched_restarts, rlbfgs, rlbfgs_batched, search
from constellations.search.optimizer import normalize as _normalize


@pytest.mark.parametrize("tied", [True, False])
def test_batched_lbfgs_follows_the_serial_one(tied):
    """Each batch entry takes the serial rlbfgs steps (same kernel, same start) to rounding.

    Short runs only: rounding differences grow along a trajectory (1e-16 to 1e-13 in 10 steps).
    """
    rng = np.random.default_rng(3)
    shape = (7, 3) if tied else (2, 6, 3)
    starts = [_normalize(rng.standard_normal(shape)) for _ in range(3)]
    beta = 30.0
    X = torch.tensor(np.stack(starts))
    Xb, Fb, late = rlbfgs_batched(lambda Z: value_and_grad_tensor(Z, beta, None, tied=tied), X, maxiter=10)
    assert not late
    for k, X0 in enumerate(starts):
        Xs, Fs, _ = rlbfgs(lambda Z: value_and_grad(Z, beta), X0, maxiter=10)
        assert abs(float(Fb[k]) - Fs) < 1e-9
        assert np.abs(Xb[k].numpy() - Xs).max() < 1e-7
        F0 = value_and_grad(X0, beta)[0]
        assert float(Fb[k]) >= F0  # ascent


def test_batched_restarts_draw_the_serial_starting_points_and_reach_the_icosahedron():
    pb = Problem(12, 3, 2, ((0, 1),), True, "torch", "cpu")
    ss = np.random.SeedSequence(0).spawn(4)
    out = batched_restarts(pb, Settings(), [0, 1, 2, 3], ss)
    ico = (1 - 1 / np.sqrt(5)) / 2
    assert len(out) == 4 and max(m for _, m, _ in out) > ico - 1e-6


def test_search_with_batches():
    r = search(12, 3, tied=True, restarts=6, seed=0, batch=3, constructions=False, strategy="restarts")
    assert r.backend == "torch" and r.restarts == 6
    assert abs(r.margin - (1 - 1 / np.sqrt(5)) / 2) < 1e-10
    # free, M = 2: the cross-polytope bound 1/2 (restarts and their polish only: the batches are what is tested)
    r = search(6, 3, restarts=4, seed=1, batch=2, constructions=False, strategy="restarts")
    assert abs(r.margin - 0.5) < 1e-9 and r.margin_certified <= r.margin


@pytest.mark.parametrize("kw", [dict(batch=0), dict(batch=2.5), dict(batch=2, n_jobs=2),
                                dict(batch=2, backend="numba")])
def test_bad_batch(kw):
    with pytest.raises(ConfigurationError):
        search(5, 3, tied=True, restarts=2, **kw)

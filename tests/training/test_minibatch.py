"""Minibatch training: the sampler (uniform B-subsets, per-seed streams), the batch loss's gradient against the
NumPy reference, B = N as the full batch bit for bit, reproducibility, the graph path."""
import math
from collections import Counter
from itertools import combinations

import numpy as np
import pytest
import torch

from constellations.core.errors import ConfigurationError
from constellations.core.margins import margin_stats
from constellations.objective.losses import pair_loss_grad, sigmoid_loss
from constellations.training.batches import chunk_steps, sample_batches, splitmix64, stream_keys
from constellations.training.trainer import TrainSpec, train, train_memory_bytes

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_splitmix64_reference_outputs():
    # the first outputs of SplitMix64 seeded with 0 (Steele, Lea, Flood 2014; Vigna's splitmix64.c)
    assert [int(x) for x in splitmix64(0, np.arange(3))] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4,
                                                             0x06C45D188009454F]


def test_batches_are_uniform_subsets_without_replacement():
    """N = 6, B = 2: each of the 15 subsets equally likely (chi-square on 6000 steps), no repeats in a batch."""
    n, b, steps = 6, 2, 6000
    got = sample_batches(stream_keys([11]), n, b, 0, steps)[:, 0]  # (steps, b)
    assert got.shape == (steps, b) and got.dtype == np.int64
    assert (np.diff(got, axis=1) > 0).all() and got.min() >= 0 and got.max() < n  # sorted, distinct, in range
    counts = Counter(map(tuple, got))
    assert set(counts) == set(combinations(range(n), b))
    expected = steps / math.comb(n, b)
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    # 14 degrees of freedom (even, 2k): P(chi2_{2k} > x) = exp(-x/2) sum_{i<k} (x/2)^i / i!
    k = (math.comb(n, b) - 1) // 2
    p_value = math.exp(-chi2 / 2) * sum((chi2 / 2) ** i / math.factorial(i) for i in range(k))
    assert p_value > 1e-3, (chi2, p_value)  # fixed seed: a fixed, reproducible outcome
    # every item in B/N of the batches (binomial standard deviation ~ 37 of 2000)
    per_item = np.bincount(got.ravel(), minlength=n)
    assert np.all(np.abs(per_item - steps * b / n) < 5 * math.sqrt(steps * (b / n) * (1 - b / n)))


def test_batches_depend_only_on_the_seed_and_the_step():
    keys = stream_keys([3, 4, 5])
    allruns = sample_batches(keys, 20, 7, 0, 12)
    assert np.array_equal(sample_batches(stream_keys([4]), 20, 7, 0, 12)[:, 0], allruns[:, 1])  # S-independent
    assert np.array_equal(sample_batches(keys, 20, 7, 5, 7), allruns[5:])  # chunking / resuming independent
    assert not np.array_equal(allruns[:, 0], allruns[:, 2])  # seeds differ
    assert len({tuple(x) for x in allruns[:, 0]}) > 1  # steps differ
    assert np.array_equal(sample_batches(keys, 9, 9, 0, 2), np.broadcast_to(np.arange(9), (2, 3, 9)))
    assert chunk_steps(1, 1024, 5) == 5 and chunk_steps(10 ** 6, 10 ** 4, 100) == 1


@pytest.mark.parametrize("param", ["relative", "absolute"])
def test_batch_size_n_is_the_full_batch_bit_for_bit(param):
    base = dict(n=16, dim=4, steps=30, lr=0.05, record_every=10, param=param)
    full = train(TrainSpec(**base), seeds=[0, 2], t0=5.0, bias0=0.2)
    same = train(TrainSpec(**base, batch_size=16), seeds=[0, 2], t0=5.0, bias0=0.2)
    assert np.array_equal(full.X, same.X) and np.array_equal(full.t, same.t) and np.array_equal(full.bias, same.bias)
    assert np.array_equal(full.loss_curve, same.loss_curve)  # loss_every stays 1 at B = N
    for c in full.history:
        assert np.array_equal(full.history[c], same.history[c], equal_nan=True)


@pytest.mark.parametrize("param", ["relative", "absolute"])
def test_one_sgd_step_is_the_gradient_of_the_batch_loss(param):
    """SGD, one step: W, t and the bias move by -lr times the NumPy gradient of the loss of the B sampled items."""
    n, b, lr, t0, b0 = 10, 4, 0.01, 3.0, 0.2
    X0 = np.random.default_rng(0).standard_normal((2, n, 3))
    X0 /= np.linalg.norm(X0, axis=-1, keepdims=True)
    spec = TrainSpec(n=n, dim=3, steps=1, lr=lr, optimizer="sgd", batch_size=b, dtype="float64", param=param)
    r = train(spec, seeds=[5], t0=t0, bias0=b0, init=X0)
    I = sample_batches(stream_keys([5]), n, b, 0, 1)[0, 0]
    dU, dV, dt, db = pair_loss_grad(X0[0, I], X0[1, I], t0, b0, param=param)
    W1 = X0.copy()
    W1[0, I] -= lr * dU
    W1[1, I] -= lr * dV
    W1 /= np.linalg.norm(W1, axis=-1, keepdims=True)
    assert np.allclose(r.X[0], W1, atol=1e-14, rtol=0)
    assert r.t[0] == pytest.approx(math.exp(math.log(t0) - lr * t0 * dt), rel=1e-14)  # t = exp(t')
    assert r.bias[0] == pytest.approx(b0 - lr * db, rel=1e-14)
    # what is reported is of all N items: the loss before and after, the final margin
    assert r.loss_curve[0, 0] == pytest.approx(sigmoid_loss(X0, t0, b0, param=param), rel=1e-13)
    assert r.loss[0] == pytest.approx(sigmoid_loss(r.X[0], r.t[0], r.bias[0], param=param), rel=1e-10)
    assert r.history["margin"][-1, 0] == pytest.approx(margin_stats(r.X[0]).margin, abs=1e-12)


def test_minibatch_runs_are_reproducible_independent_of_s_and_differ_from_full_batch():
    base = dict(n=20, dim=4, modalities=3, steps=40, lr=0.05, record_every=10, dtype="float64")
    mb = train(TrainSpec(**base, batch_size=6), seeds=[1, 7])
    again = train(TrainSpec(**base, batch_size=6), seeds=[1, 7])
    assert np.array_equal(mb.X, again.X) and np.array_equal(mb.loss_curve, again.loss_curve, equal_nan=True)
    alone = train(TrainSpec(**base, batch_size=6), seeds=[7])  # the same batches when run alone
    assert np.allclose(alone.X[0], mb.X[1], atol=1e-10) and alone.t[0] == pytest.approx(mb.t[1], rel=1e-10)
    full = train(TrainSpec(**base), seeds=[1, 7])
    assert np.abs(full.X - mb.X).max() > 1e-3
    # the full-N loss is evaluated at the recorded steps only (loss_every defaults to record_every)
    assert mb.spec.loss_every == 10
    assert np.isfinite(mb.loss_curve[::10]).all() and np.isnan(mb.loss_curve[1:10]).all()
    assert list(mb.history["step"]) == [0, 10, 20, 30, 40]


def test_minibatch_reaches_a_constellation():
    r = train(TrainSpec(n=24, dim=8, steps=600, lr=0.05, record_every=100, batch_size=8), seeds=[0])
    assert r.margin[0] > 0, r.margin


def test_bad_batch_sizes_and_the_memory_model():
    for b in (1, 0, 21, 2.5, True):
        with pytest.raises(ConfigurationError, match="batch|integer"):
            TrainSpec(n=20, dim=3, batch_size=b)
    full, mb = TrainSpec(n=50, dim=3), TrainSpec(n=50, dim=3, batch_size=10)
    assert train_memory_bytes(mb, 2) > train_memory_bytes(full, 2) == train_memory_bytes(TrainSpec(n=50, dim=3,
                                                                                                  batch_size=50), 2)


def test_graph_path_with_minibatches_equals_eager(request):
    """The step body replayed (with the batch copied into its static index tensor) gives the eager trajectory."""
    spec = dict(n=12, dim=4, steps=30, lr=0.05, record_every=10, dtype="float64", batch_size=5, param="absolute")
    eager = train(TrainSpec(graph_mode="off", **spec), seeds=[0, 3], t0=4.0, bias0=0.1)
    request.getfixturevalue("cpu_graph")  # after the eager run: the graph path from here on
    graph = train(TrainSpec(graph_mode="cuda-graph", **spec), seeds=[0, 3], t0=4.0, bias0=0.1)
    assert np.array_equal(eager.X, graph.X) and np.array_equal(eager.loss_curve, graph.loss_curve, equal_nan=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
def test_cuda_graph_minibatch_equals_eager_on_cuda():  # pragma: no cover - needs a GPU
    spec = dict(n=64, dim=8, steps=100, lr=0.02, record_every=50, batch_size=16, device="cuda")
    e = train(TrainSpec(graph_mode="off", **spec), seeds=range(3))
    g = train(TrainSpec(graph_mode="cuda-graph", **spec), seeds=range(3))
    assert np.array_equal(e.X, g.X) and np.array_equal(e.loss_curve, g.loss_curve, equal_nan=True)

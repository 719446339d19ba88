"""The batched trainer: correctness against the float64 references, batching, determinism, options."""
import numpy as np
import pytest
import torch

from constellations.core.errors import ConfigurationError
from constellations.core.graphs import parse_graph
from constellations.objective.losses import adapt, sigmoid_loss
from constellations.core.margins import margin_stats
from constellations.training.reproduce import TABLES, plan, reproduce
from constellations.training.trainer import (MAX_SEEDS, TrainingDiverged, TrainSpec, margin_stats_torch, train,
                                          train_memory_bytes)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_relative_bias_reaches_positive_margin_n20_d3():
    spec = TrainSpec(n=20, dim=3, steps=1500, lr=0.02, record_every=100, dtype="float64")
    r = train(spec, seeds=[0, 1])
    assert (r.margin > 0).all(), r.margin
    # the float64 margins match margin_stats on the returned configurations
    for s in range(2):
        st = margin_stats(r.configuration(s))
        assert st.margin == pytest.approx(r.margin[s], abs=1e-12) and st.b_rel == pytest.approx(r.b_rel_star[s])
    assert r.loss_curve[-1].max() < r.loss_curve[0].min()
    assert np.all(r.t > 10)  # t grows when the loss can go to zero


def test_batched_equals_sequential_and_deterministic():
    spec = TrainSpec(n=12, dim=4, steps=150, lr=0.02, record_every=50, dtype="float64")
    both = train(spec, seeds=[3, 8], t0=[5.0, 12.0], bias0=[0.1, -0.2])
    for k, (seed, t0, b0) in enumerate([(3, 5.0, 0.1), (8, 12.0, -0.2)]):
        one = train(spec, seeds=[seed], t0=t0, bias0=b0)
        assert np.allclose(one.X[0], both.X[k], atol=1e-10)
        assert np.allclose(one.loss_curve[:, 0], both.loss_curve[:, k], rtol=1e-10)
        assert one.t[0] == pytest.approx(both.t[k], rel=1e-10)
    again = train(spec, seeds=[3, 8], t0=[5.0, 12.0], bias0=[0.1, -0.2])
    assert np.array_equal(again.X, both.X) and np.array_equal(again.loss_curve, both.loss_curve)


def test_initial_loss_matches_numpy_reference_and_history():
    spec = TrainSpec(n=9, dim=3, modalities=3, graph="star", steps=30, record_every=10, dtype="float64")
    X0 = np.random.default_rng(0).standard_normal((3, 9, 3))
    r = train(spec, seeds=[0], t0=4.0, bias0=0.25, init=X0)
    X0n = X0 / np.linalg.norm(X0, axis=-1, keepdims=True)
    assert r.loss_curve[0, 0] == pytest.approx(sigmoid_loss(X0n, 4.0, 0.25, "star"), rel=1e-12)
    h = r.history
    assert list(h["step"]) == [0, 10, 20, 30]
    assert h["loss"][0, 0] == pytest.approx(r.loss_curve[0, 0])
    s0 = margin_stats(X0n, "star")
    assert h["margin"][0, 0] == pytest.approx(s0.margin, abs=1e-12)
    assert h["margin"][-1, 0] == pytest.approx(r.margin[0], abs=1e-10)
    assert h["loss"][-1, 0] == pytest.approx(r.loss[0], rel=1e-10)
    assert r.loss_at(30)[0] == pytest.approx(r.loss[0], rel=1e-10)
    rows = list(r.history_rows())
    assert len(rows) == 4 and set(rows[0]) >= {"step", "seed", "loss", "t", "b_rel", "margin", "frac_separated"}


def test_margin_stats_torch_matches_numpy():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 3, 11, 5))
    X /= np.linalg.norm(X, axis=-1, keepdims=True)
    for graph in ("complete", "star", "0-2"):
        edges = parse_graph(graph, 3).edges
        pos, neg, m, b = margin_stats_torch(torch.tensor(X), edges)
        for s in range(4):
            st = margin_stats(X[s], graph)
            assert (pos[s].item(), neg[s].item()) == pytest.approx((st.pos, st.neg), abs=1e-15)
            assert (m[s].item(), b[s].item()) == pytest.approx((st.margin, st.b_rel), abs=1e-15)


def test_frozen_fixed_and_bias_options():
    X0 = np.random.default_rng(2).standard_normal((2, 10, 3))
    spec = TrainSpec(n=10, dim=3, steps=60, frozen=0, fix_t=True, fix_bias=True, dtype="float64")
    r = train(spec, seeds=[0, 1], t0=7.0, bias0=0.3, init=X0)
    X0n = X0 / np.linalg.norm(X0, axis=-1, keepdims=True)
    assert np.array_equal(r.X[0, 0], X0n[0]) and np.array_equal(r.X[1, 0], X0n[0])
    assert not np.allclose(r.X[0, 1], X0n[1])
    assert np.allclose(r.t, 7.0, rtol=1e-15) and np.all(r.b_rel == 0.3)
    assert np.all(r.history["t"] == r.history["t"][0, 0])
    ab = train(TrainSpec(n=10, dim=3, steps=40, param="absolute", dtype="float64"), seeds=[0], t0=5.0, bias0=1.0)
    assert ab.b_rel[0] == pytest.approx(ab.bias[0] / ab.t[0]) and ab.history["b_rel"][0, 0] == pytest.approx(0.2)
    sgd = train(TrainSpec(n=10, dim=3, steps=40, optimizer="sgd", lr=1e-3, reduction="mean"), seeds=[0])
    assert np.isfinite(sgd.loss).all()


def test_adapter_loss_is_loss_of_adapted_embeddings():
    X0 = np.random.default_rng(3).standard_normal((2, 8, 3))
    spec = TrainSpec(n=8, dim=3, steps=25, frozen=0, adapter=True, delta0=0.6, dtype="float64")
    r = train(spec, seeds=[0], t0=3.0, bias0=0.1, init=X0)
    d = r.delta[0]
    assert 0 < d < 1 and d != pytest.approx(0.6)
    AU, AV = adapt(r.X[0, 0], d, locked=True), adapt(r.X[0, 1], d, locked=False)
    assert r.loss[0] == pytest.approx(sigmoid_loss(np.stack([AU, AV]), r.t[0], r.b_rel[0]), rel=1e-10)
    X0n = X0 / np.linalg.norm(X0, axis=-1, keepdims=True)
    AU0, AV0 = adapt(X0n[0], 0.6, True), adapt(X0n[1], 0.6, False)
    assert r.loss_curve[0, 0] == pytest.approx(sigmoid_loss(np.stack([AU0, AV0]), 3.0, 0.1), rel=1e-12)


def test_steps_to_and_interrupt():
    spec = TrainSpec(n=6, dim=5, steps=400, lr=0.05, record_every=20, dtype="float64")
    r = train(spec, seeds=[0, 1])
    st = r.steps_to(float(r.loss_curve[50].max()) + 1e-12)
    assert np.all(st <= 50)
    assert np.isnan(r.steps_to(0.0)).all()
    calls = []

    def stop(step, loss):
        calls.append(step)
        if step >= 40:
            raise KeyboardInterrupt

    r = train(spec, seeds=[0], progress=stop)
    assert r.interrupted and r.steps_done == 40 and r.loss_curve.shape[0] == 41 and np.isfinite(r.margin).all()


def test_loss_every_skips_values_not_steps():
    """Steps without a loss value take the same gradient step: the trajectory is bit-identical."""
    base = dict(n=8, dim=4, modalities=3, steps=60, lr=0.05, record_every=20, dtype="float64")
    full = train(TrainSpec(**base), seeds=[3, 4])
    sparse = train(TrainSpec(**base, loss_every=7), seeds=[3, 4])
    assert np.array_equal(full.X, sparse.X) and np.array_equal(full.loss, sparse.loss)
    evaluated = sorted(set(range(0, 61, 7)) | {0, 20, 40, 60})
    skipped = [k for k in range(61) if k not in evaluated]
    assert np.array_equal(sparse.loss_curve[evaluated], full.loss_curve[evaluated])
    assert np.isnan(sparse.loss_curve[skipped]).all()
    assert sparse.loss_at(14)[0] == full.loss_at(14)[0]
    with pytest.raises(ConfigurationError, match="not evaluated"):
        sparse.loss_at(13)
    with pytest.raises(ConfigurationError):
        TrainSpec(n=5, dim=3, loss_every=0)


def test_bad_specs():
    with pytest.raises(ConfigurationError):
        TrainSpec(n=5, dim=3, adapter=True)
    with pytest.raises(ConfigurationError):
        TrainSpec(n=1, dim=3)
    with pytest.raises(ConfigurationError):
        TrainSpec(n=5, dim=3, frozen=2)
    with pytest.raises(ConfigurationError):
        TrainSpec(n=5, dim=3, param="other")
    with pytest.raises(ConfigurationError):
        TrainSpec(n=5, dim=3, graph="0-5")
    spec = TrainSpec(n=5, dim=3, steps=2)
    with pytest.raises(ConfigurationError):
        train(spec, seeds=[0, 1], t0=[1.0, 2.0, 3.0])
    with pytest.raises(ConfigurationError):
        train(spec, seeds=[0], t0=-1.0)
    with pytest.raises(ConfigurationError):
        train(spec, seeds=[0], init=np.zeros((2, 4, 3)))
    bad = np.ones((2, 5, 3))
    bad[0, 0, 0] = np.nan
    with pytest.raises(ConfigurationError):
        train(spec, seeds=[0], init=bad)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigurationError):
            train(TrainSpec(n=5, dim=3, steps=2, device="cuda"), seeds=[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
def test_cuda_matches_cpu():  # pragma: no cover - needs a GPU
    spec = dict(n=10, dim=3, steps=50, dtype="float64")
    a = train(TrainSpec(**spec), seeds=[0, 1])
    b = train(TrainSpec(device="cuda", **spec), seeds=[0, 1])
    assert np.allclose(a.X, b.X, atol=1e-8) and b.device.startswith("cuda")


@pytest.mark.parametrize("table", TABLES)
def test_reproduce_tables_small(table):
    res = reproduce(table, n=8, dim=3, seeds=2, steps=20)
    assert len(res.rows) >= 2
    for row in res.rows:
        assert row["gap_mean"] == pytest.approx(2 * row["margin_mean"])
        assert row["runs"] == 2
    md = res.to_markdown()
    assert "m (half gap)" in md and "2m" in md
    with pytest.raises(ConfigurationError):
        reproduce("nope")


def test_divergence_names_the_step_and_suggests_a_smaller_rate():
    # lr = 1e30: the first Adam step moves every coordinate by ~1e30, so |row|^2 overflows float32 and
    # the renormalised rows become 0 (then NaN): the state after step 1 is already broken.
    spec = TrainSpec(n=10, dim=3, steps=50, lr=1e30, dtype="float32")
    with pytest.raises(TrainingDiverged, match=r"diverged.*step 1 .*smaller learning rate") as exc:
        train(spec, seeds=[0, 4])
    assert exc.value.step == 1 and exc.value.seeds == (0, 4)
    assert isinstance(exc.value, ConfigurationError)
    # loss_every > 1: still caught (at the first evaluated step after the damage), with the exact step
    with pytest.raises(TrainingDiverged, match="step 1 "):
        train(TrainSpec(n=10, dim=3, steps=50, lr=1e30, loss_every=7), seeds=[0])
    # a sane rate does not trip the check
    assert np.isfinite(train(TrainSpec(n=10, dim=3, steps=30, lr=0.05), seeds=[0]).loss).all()


def test_memory_estimate_and_refusals_before_allocating():
    spec = TrainSpec(n=100_000, dim=3, dtype="float32")
    # 4 live tensors of S E N^2 float32 logits: 4 * 1e10 * 4 bytes = 160e9 bytes, plus the embeddings,
    # plus the float64 loss curve of 2001 steps and 202 history rows of 9 float64 (+200 bytes of objects)
    curve, history = 8 * 2001, 202 * (8 * 9 + 200)
    assert train_memory_bytes(spec, 1) == (4 * 10 ** 10 * 4 + 4 * 2 * 100_000 * 3 * 4 + 2 * 100_000 * 3 * 8
                                           + curve + history)
    with pytest.raises(ConfigurationError, match=r"GiB.*over the limit"):
        train(spec, seeds=[0])
    small = TrainSpec(n=50, dim=3, steps=1)
    need = train_memory_bytes(small, 2)
    with pytest.raises(ConfigurationError, match="limit"):
        train(small, seeds=[0, 1], memory_limit=need - 1)
    assert train(small, seeds=[0, 1], memory_limit=need).S == 2
    with pytest.raises(ConfigurationError, match=str(MAX_SEEDS)):
        train(small, seeds=range(MAX_SEEDS + 1))


def test_interrupted_state_is_marked():
    spec = TrainSpec(n=6, dim=3, steps=100, record_every=10, dtype="float64")

    def stop(step, loss):
        if step >= 30:
            raise KeyboardInterrupt

    r = train(spec, seeds=[0, 1], progress=stop)
    assert r.interrupted and r.steps_done == 30
    meta = r.configuration(1).meta
    assert meta["interrupted"] is True and meta["steps"] == 30 and meta["steps_planned"] == 100
    full = train(spec, seeds=[0])
    assert full.configuration(0).meta["interrupted"] is False


def test_reproduce_seed_lists_plan_and_interruption(monkeypatch):
    res = reproduce("bias", n=6, dim=3, seeds=[3, 7], steps=10)
    assert res.settings["seeds"] == [3, 7] and all(r["runs"] == 2 for r in res.rows)
    assert "seeds 3,7" in res.to_markdown() and "INTERRUPTED" not in res.to_markdown()
    assert all(r["steps_done"] == 10 and r["interrupted"] is False for r in res.rows)
    # the same seeds give the same runs, whichever way they are written
    a = reproduce("bias", n=6, dim=3, seeds=2, steps=10)
    b = reproduce("bias", n=6, dim=3, seeds=[0, 1], steps=10)
    assert a.rows == b.rows
    with pytest.raises(ConfigurationError, match="limit"):
        plan("init-grid", seeds=MAX_SEEDS // 9 + 1)  # 9 settings x seeds runs in one batch
    with pytest.raises(ConfigurationError):
        reproduce("bias", seeds=[1, 1])

    def stop(label, step, total):
        if step >= 10:
            raise KeyboardInterrupt

    cut = reproduce("bias", n=6, dim=3, seeds=2, steps=40, progress=stop)
    # the absolute-bias batch stops at step 10; the relative one never starts
    assert cut.settings["interrupted"] and cut.settings["incomplete_grid"]
    assert [(r["bias"], r["steps_done"], r["interrupted"]) for r in cut.rows] == [("absolute", 10, True)]
    md = cut.to_markdown()
    assert md.startswith("**INTERRUPTED: partial results.**") and "10 of 40" in md


@pytest.mark.parametrize("extra", [dict(), dict(optimizer="sgd", lr=0.3), dict(modalities=3, frozen=0, adapter=True),
                                   dict(loss_every=7, param="absolute")])
def test_graph_path_trajectory_equals_eager(request, extra):
    """The step body of the graph path (with its warm-up undone) gives the eager trajectory bit for bit."""
    spec = {**dict(n=9, dim=4, steps=40, lr=0.05, record_every=10, dtype="float64"), **extra}
    eager = train(TrainSpec(graph_mode="off", **spec), seeds=[0, 3], t0=4.0, bias0=0.1)
    request.getfixturevalue("cpu_graph")  # after the eager run: the graph path from here on
    graph = train(TrainSpec(graph_mode="cuda-graph", **spec), seeds=[0, 3], t0=4.0, bias0=0.1)
    assert np.array_equal(eager.X, graph.X) and np.array_equal(eager.t, graph.t)
    assert np.array_equal(eager.loss_curve, graph.loss_curve, equal_nan=True)
    for c in ("loss", "margin", "frac_separated"):
        assert np.array_equal(eager.history[c], graph.history[c], equal_nan=True)


def test_graph_path_divergence_and_interrupt(cpu_graph):
    # the step count of the damage comes from the device counter inside the 'graph'
    with pytest.raises(TrainingDiverged, match="step 1 ") as exc:
        train(TrainSpec(n=10, dim=3, steps=50, lr=1e30, loss_every=7, dtype="float32", graph_mode="cuda-graph"),
              seeds=[0, 2])
    assert exc.value.step == 1 and exc.value.seeds == (0, 2)

    def stop(step, loss):
        if step >= 30:
            raise KeyboardInterrupt

    r = train(TrainSpec(n=6, dim=3, steps=100, record_every=10, graph_mode="cuda-graph"), seeds=[0], progress=stop)
    assert r.interrupted and r.steps_done == 30 and np.isfinite(r.margin).all()


def test_graph_mode_choice():
    with pytest.raises(ConfigurationError, match="graph mode"):
        TrainSpec(n=5, dim=3, graph_mode="fast")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigurationError, match="needs a CUDA device"):
            train(TrainSpec(n=5, dim=3, steps=2, graph_mode="cuda-graph"), seeds=[0])
    # auto on the CPU is the eager loop (the same numbers as "off")
    a = train(TrainSpec(n=5, dim=3, steps=5, dtype="float64"), seeds=[1])
    b = train(TrainSpec(n=5, dim=3, steps=5, dtype="float64", graph_mode="off"), seeds=[1])
    assert np.array_equal(a.X, b.X)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_cuda_graph_equals_eager_on_cuda(optimizer):  # pragma: no cover - needs a GPU
    spec = dict(n=20, dim=5, steps=200, lr=0.02, record_every=50, loss_every=25, dtype="float32",
                device="cuda", optimizer=optimizer)
    e = train(TrainSpec(graph_mode="off", **spec), seeds=range(4))
    g = train(TrainSpec(graph_mode="cuda-graph", **spec), seeds=range(4))
    assert np.array_equal(e.X, g.X) and np.array_equal(e.loss_curve, g.loss_curve, equal_nan=True)
    with pytest.raises(TrainingDiverged):
        train(TrainSpec(n=10, dim=3, steps=50, lr=1e30, loss_every=7, dtype="float32", device="cuda",
                        graph_mode="cuda-graph"), seeds=[0])

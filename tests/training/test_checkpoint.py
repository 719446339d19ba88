"""Checkpoints of training: resuming reaches the uninterrupted run's final state bit for bit; the stop flag
writes one; the file is plain arrays (no pickle); a checkpoint of another run, or a corrupt one, is refused."""
import json
import shutil
import zipfile

import numpy as np
import pytest

from constellations.core import interrupts
from constellations.core.errors import ConfigurationError, ConstellationsError, FileFormatError
from constellations.training.checkpoint import FORMAT
from constellations.training.trainer import HISTORY_COLUMNS, TrainSpec, spec_record, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _same(a, b):
    """The two results are the same run: final state, figures, loss curve and history, bit for bit."""
    for name in ("X", "t", "bias", "b_rel", "loss", "margin", "b_rel_star"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.loss_curve, b.loss_curve, equal_nan=True)
    assert set(a.history) == set(b.history)
    for c in a.history:
        assert np.array_equal(a.history[c], b.history[c], equal_nan=True), c
    assert a.steps_done == b.steps_done


CASES = [dict(),
         dict(param="absolute", batch_size=6),
         dict(modalities=3, frozen=0, adapter=True, batch_size=5, optimizer="sgd", lr=0.3, loss_every=4)]


@pytest.mark.parametrize("extra", CASES)
def test_resume_equals_the_uninterrupted_run(tmp_path, extra):
    spec = TrainSpec(**{**dict(n=14, dim=4, steps=40, lr=0.05, record_every=10), **extra})
    kw = dict(seeds=[0, 5], t0=4.0, bias0=0.1)
    whole = train(spec, **kw)
    ck, at20 = tmp_path / "ck.npz", tmp_path / "at20.npz"

    def stop(step, loss):  # keep the periodic checkpoint of step 20, then stop at 30 (a KeyboardInterrupt)
        if step == 20:
            shutil.copy(ck, at20)
        if step == 30:
            raise KeyboardInterrupt

    cut = train(spec, **kw, progress=stop, checkpoint=ck, checkpoint_every=5)
    assert cut.interrupted and cut.steps_done == 30 and cut.checkpoint == str(ck) and cut.checkpoint_step == 30
    for path, step in ((ck, 30), (at20, 20)):
        res = train(spec, **kw, checkpoint=path, resume=True)
        assert res.resumed_from == step and not res.interrupted
        _same(whole, res)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["at20.npz", "ck.npz"]  # no temporary files left


def test_stop_flag_writes_a_checkpoint_on_a_step_boundary(tmp_path):
    """A stop signal only sets the flag; the loop stops at the next step and writes the checkpoint there."""
    spec = TrainSpec(n=12, dim=3, steps=30, lr=0.05, record_every=5, batch_size=4)
    whole = train(spec, seeds=[2])
    ck = tmp_path / "ck.npz"

    def signal_at_10(step, loss):
        if step == 10:
            interrupts.INTERRUPT.set()  # what the SIGINT/SIGTERM handler does inside the loop

    cut = train(spec, seeds=[2], progress=signal_at_10, checkpoint=ck)  # no periodic checkpoints
    assert cut.interrupted and cut.steps_done == 11 and cut.checkpoint_step == 11
    assert not interrupts.INTERRUPT.is_set()  # cleared on the way out
    _same(whole, train(spec, seeds=[2], checkpoint=ck, resume=True))
    # a finished run leaves its final checkpoint; resuming it (or extending it) is the longer run
    longer = train(TrainSpec(n=12, dim=3, steps=45, lr=0.05, record_every=5, batch_size=4), seeds=[2])
    _same(longer, train(TrainSpec(n=12, dim=3, steps=45, lr=0.05, record_every=5, batch_size=4), seeds=[2],
                        checkpoint=ck, resume=True))


def test_checkpoint_is_plain_arrays_with_the_spec(tmp_path):
    spec = TrainSpec(n=8, dim=3, steps=12, record_every=4, batch_size=3, dtype="float64")
    ck = tmp_path / "ck.npz"
    r = train(spec, seeds=[1, 2], checkpoint=ck, checkpoint_every=5)
    with np.load(ck, allow_pickle=False) as z:  # loads without pickle
        arrays = {k: z[k] for k in z.files}
    assert all(not a.dtype.hasobject for a in arrays.values())
    meta = json.loads(str(arrays["meta"]))
    assert meta["format"] == FORMAT and meta["step"] == 12 and meta["spec"] == spec_record(spec)
    assert meta["spec"]["batch_size"] == 3 and meta["history_columns"] == list(HISTORY_COLUMNS)
    assert arrays["W"].shape == (2, 2, 8, 3) and arrays["W"].dtype == np.float64
    assert np.array_equal(arrays["seeds"], [1, 2]) and arrays["sampler_key"].dtype == np.uint64
    assert {"opt.0.exp_avg", "opt.0.exp_avg_sq", "opt.0.step", "first_bad", "step_t"} <= set(arrays)
    assert arrays["loss_curve"].shape == (12, 2) and list(arrays["history_step"]) == [0, 4, 8]
    assert np.allclose(arrays["W"], r.X, atol=1e-15, rtol=0)  # float64: the state is the result (renormalised)


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    base = dict(n=10, dim=3, steps=20, record_every=5)
    ck = tmp_path / "ck.npz"
    X0 = np.random.default_rng(0).standard_normal((2, 10, 3))
    train(TrainSpec(**base), seeds=[0, 1], checkpoint=ck)
    for spec, kw, msg in [
        (TrainSpec(**{**base, "n": 11}), {}, "n 10"),
        (TrainSpec(**{**base, "dim": 4}), {}, "dim"),
        (TrainSpec(**base, modalities=3), {}, "modalities"),
        (TrainSpec(**base, batch_size=5), {}, "batch_size"),
        (TrainSpec(**base, param="absolute"), {}, "param"),
        (TrainSpec(**base, dtype="float64"), {}, "dtype"),
        (TrainSpec(**base), dict(seeds=[0, 2]), "seeds"),
        (TrainSpec(**base), dict(t0=5.0), "t0"),
        (TrainSpec(**base), dict(init=X0), "init"),
        (TrainSpec(**{**base, "steps": 19}), {}, "beyond"),
    ]:
        with pytest.raises(ConfigurationError, match=msg) as exc:
            train(spec, **{"seeds": [0, 1], **kw}, checkpoint=ck, resume=True)
        assert "\n" not in str(exc.value)
    # steps (not below the checkpoint's) and the device may change
    assert train(TrainSpec(**{**base, "steps": 25}), seeds=[0, 1], checkpoint=ck, resume=True).steps_done == 25
    with pytest.raises(ConfigurationError, match="checkpoint"):
        train(TrainSpec(**base), seeds=[0], resume=True)
    with pytest.raises(ConfigurationError, match="checkpoint"):
        train(TrainSpec(**base), seeds=[0], checkpoint_every=5)
    with pytest.raises(ConfigurationError, match="checkpoint_every"):
        train(TrainSpec(**base), seeds=[0], checkpoint=ck, checkpoint_every=0)
    with pytest.raises(FileFormatError, match=r"\.npz"):
        train(TrainSpec(**base), seeds=[0], checkpoint=tmp_path / "ck.pt")


def _corrupt(tmp_path, good):
    """Broken variants of the checkpoint ``good``: name -> path."""
    with np.load(good, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    out = {}

    def write(name, **change):
        p = tmp_path / f"{name}.npz"
        a = {**arrays, **change}
        np.savez(p, **{k: v for k, v in a.items() if v is not None})
        out[name] = p

    (tmp_path / "garbage.npz").write_bytes(b"not a zip at all")
    out["garbage"] = tmp_path / "garbage.npz"
    raw = good.read_bytes()
    (tmp_path / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    out["truncated"] = tmp_path / "truncated.npz"
    np.savez(tmp_path / "config.npz", X=np.eye(3)[None].repeat(2, 0))
    out["config"] = tmp_path / "config.npz"
    write("pickled", W=np.array([object()], dtype=object))
    write("nan", W=np.full_like(arrays["W"], np.nan))
    write("shape", W=arrays["W"][:, :, :5])
    write("no_moments", **{k: None for k in arrays if k.startswith("opt.")})
    write("badmeta", meta=np.array("{not json"))
    meta = json.loads(str(arrays["meta"]))
    write("version", meta=np.array(json.dumps({**meta, "version": 99})))
    return out


def test_a_missing_or_corrupt_checkpoint_is_one_line(tmp_path):
    spec = TrainSpec(n=10, dim=3, steps=20, record_every=5)
    good = tmp_path / "good.npz"
    train(spec, seeds=[0], checkpoint=good, checkpoint_every=10)
    with zipfile.ZipFile(good) as z:
        assert all(name.endswith(".npy") for name in z.namelist())
    cases = {"missing": tmp_path / "none.npz", **_corrupt(tmp_path, good)}
    for name, path in cases.items():
        with pytest.raises(ConstellationsError) as exc:
            train(spec, seeds=[0], checkpoint=path, resume=True)
        msg = str(exc.value)
        assert "\n" not in msg and str(path) in msg, (name, msg)


def test_damaged_adam_state_is_refused_not_loaded(tmp_path):
    """A resumed run must equal the uninterrupted one: Adam's state is taken only as Adam writes it
    (found by fuzzing: a missing moment raised KeyError, a step of 1e30 was silently used)."""
    spec = TrainSpec(n=10, dim=3, steps=20, record_every=5)
    good = tmp_path / "good.npz"
    train(spec, seeds=[0, 1], checkpoint=good, checkpoint_every=10)
    base = dict(np.load(good))
    edits = {"no exp_avg": lambda z: z.pop("opt.0.exp_avg"),
             "step vector": lambda z: z.update({"opt.0.step": np.zeros(2, np.float32)}),
             "step 1e30": lambda z: z.update({"opt.0.step": np.array(1e30, np.float32)}),
             "nan moment": lambda z: z.update({"opt.1.exp_avg": np.full_like(z["opt.1.exp_avg"], np.nan)}),
             "negative second moment": lambda z: z.update({"opt.1.exp_avg_sq": -np.ones_like(z["opt.1.exp_avg_sq"])})}
    for name, edit in edits.items():
        z = dict(base)
        edit(z)
        path = tmp_path / f"{name.replace(' ', '_')}.npz"
        np.savez(path, **z)
        with pytest.raises(ConstellationsError, match="Adam's") as exc:
            train(spec, seeds=[0, 1], checkpoint=path, resume=True)
        assert "\n" not in str(exc.value), name

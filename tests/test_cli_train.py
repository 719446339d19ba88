"""CLI: train, analyze and reproduce through the real entry point in a subprocess."""
import csv
import json

import numpy as np
import pytest

from conftest import run_cli


def test_train_writes_configuration_history_and_plots(tmp_path):
    out = tmp_path / "run.npz"
    r = run_cli("train", "--n", 10, "--dim", 3, "--steps", 60, "--seeds", "0,1", "--lr", 0.05, "--dtype", "float64",
                "--record-every", 20, "-o", out, "--plot", tmp_path / "plots", "--json")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert o["steps"] == 60 and len(o["runs"]) == 2 and {x["seed"] for x in o["runs"]} == {0, 1}
    for run in o["runs"]:
        assert run["gap"] == pytest.approx(2 * run["margin"])
    z = np.load(out)
    assert z["X"].shape == (2, 10, 3) and z["X_runs"].shape == (2, 2, 10, 3)
    best = int(np.argmax(z["margin"]))
    assert np.allclose(z["X"], z["X_runs"][best])
    hist = tmp_path / "run.history.csv"
    rows = list(csv.DictReader(hist.open()))
    assert len(rows) == 4 * 2 and {"step", "seed", "loss", "t", "b_rel", "margin", "b_rel_star",
                                   "frac_separated"} <= set(rows[0])
    pngs = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert pngs == ["constellation3d.png", "inner_products.png", "loss_t.png"]
    # verify reads the trained file (the lead's command): same margin
    v = run_cli("verify", out, "--json")
    assert v.returncode in (0, 1), v.stderr
    assert json.loads(v.stdout)["margin"] == pytest.approx(o["runs"][best]["margin"], abs=1e-9)


@pytest.mark.parametrize("args,msg", [
    (["--n", 8, "--dim", 3, "--adapter"], "frozen"),
    (["--n", 1, "--dim", 3], "n >= 2"),
    (["--n", 8, "--dim", 3, "--seeds", "x"], "seeds"),
    (["--n", 8, "--dim", 3, "--b0", "1.0"], "b0"),
])
def test_train_bad_input(args, msg):
    r = run_cli("train", *args, "--steps", 2)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("constellations: error:") and msg in lines[0]


def _planted(tmp_path, noise=1e-3):
    from constellations.constructions import cross_polytope_code, modality_simplex
    cfg = modality_simplex(cross_polytope_code(16, 8), 2, 0.8)
    rng = np.random.default_rng(0)
    X = cfg.X + noise * rng.standard_normal(cfg.X.shape)
    X *= rng.uniform(0.5, 2.0, size=X.shape[:2])[:, :, None]
    f = tmp_path / "pairs.npz"
    np.savez(f, U=X[0], V=X[1], labels=np.arange(16))
    return cfg, f


def test_analyze_planted(tmp_path):
    cfg, f = _planted(tmp_path)
    r = run_cli("analyze", f, "--json")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert o["forms"]["minmax"]["margin"] == pytest.approx(cfg.meta["margin"], abs=0.01)
    g = o["edges"][0]["gap"]
    assert g["found"] and g["separable"] and g["n_negative"] == 16
    assert o["edges"][0]["retrieval_kl"] == 1.0
    h = run_cli("analyze", f)
    assert h.returncode == 0 and "HALF the gap" in h.stdout and "linearly separable" in h.stdout


def test_analyze_bad_input(tmp_path):
    rng = np.random.default_rng(1)
    U = rng.standard_normal((6, 3))
    nan = U.copy()
    nan[1, 1] = np.nan
    np.savez(tmp_path / "nan.npz", U=nan, V=U)
    np.savez(tmp_path / "shape.npz", U=U, V=U[:5])
    np.savez(tmp_path / "keys.npz", A=U)
    (tmp_path / "junk.npz").write_text("not a zip")
    for name, msg in [("nan.npz", "NaN"), ("shape.npz", "disagree"), ("keys.npz", "expected"),
                      ("junk.npz", "npz"), ("missing.npz", "no such file")]:
        r = run_cli("analyze", tmp_path / name)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and msg in lines[0], (name, r.stderr)


def test_reproduce_small(tmp_path):
    r = run_cli("reproduce", "bias", "--n", 8, "--dim", 3, "--seeds", 2, "--steps", 20, "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "m (half gap)" in r.stdout and "2m (paper's gap)" in r.stdout
    o = json.loads((tmp_path / "bias.json").read_text())
    assert [x["bias"] for x in o["rows"]] == ["absolute", "relative"]
    assert o["settings"]["command"].startswith("constellations reproduce bias")
    for row in o["rows"]:
        assert row["gap_mean"] == pytest.approx(2 * row["margin_mean"])
    assert (tmp_path / "bias.csv").exists() and "2m (paper's gap)" in (tmp_path / "bias.md").read_text()
    bad = run_cli("reproduce", "nosuch")
    assert bad.returncode == 2

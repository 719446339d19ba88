"""``constellations analyze`` with a SigLIP model (src/constellations/cli/analyze.py): one subprocess through the
real entry point, the other cases in process through :func:`constellations.cli.main.main`."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from constellations.analysis import analyze_pairs
from constellations.cli.main import main

from conftest import run_cli

pytestmark = pytest.mark.usefixtures("keeps_signal_handlers")


@pytest.fixture
def pairs(tmp_path):
    rng = np.random.default_rng(0)
    U = rng.standard_normal((40, 6))
    V = U + rng.standard_normal((40, 6))
    f = tmp_path / "pairs.npz"
    np.savez(f, U=U, V=V)
    return f, U, V


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["analyze", *map(str, argv)])
    cap = capsys.readouterr()
    return exc.value.code, cap.out, cap.err


def test_json_run_reports_the_model_the_fit_and_calibration(pairs):
    f, U, V = pairs
    r = run_cli("analyze", f, "--json", "--no-gap", "--t", "12.5", "--bias", "-7", "--bins", "4", "--recall-k", "1,3")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    lib = analyze_pairs((U, V), gap=False, t=12.5, bias=-7.0, bins=4, recall_k=(1, 3))
    m = o["model"]
    assert (m["t"], m["b"], m["threshold"]) == (12.5, -7.0, 7 / 12.5)
    for key in ("loss_sum", "loss_mean_pair", "loss_per_item"):
        assert m["loss"][key] == pytest.approx(getattr(lib.model.loss, key), rel=1e-13)
    assert m["loss"]["loss_per_item"] == pytest.approx(m["loss"]["loss_sum"] / 40, rel=1e-15)
    assert m["loss"]["loss_mean_pair"] == pytest.approx(m["loss"]["loss_sum"] / 1600, rel=1e-15)
    fit = o["fit"]
    assert fit["status"] == "converged" and fit["t"] == pytest.approx(lib.fit.t, rel=1e-12)
    assert fit["loss"]["loss_sum"] <= m["loss"]["loss_sum"] and fit["grad_norm"] < 1e-8
    c = o["calibration"]
    assert c["source"] == "given" and c["bins"] == 4 and sum(c["counts"]) == c["total"] == 1600
    assert len(o["histograms"]["positive"]) == 200 and sum(o["histograms"]["negative"]) == 1560
    rec = o["edges"][0]["recall"]
    assert rec["k"] == [1, 3] and rec["kl"] == list(lib.edges[0].recall.kl) and o["recall_k"] == [1, 3]


@pytest.mark.parametrize("argv", [["--t", "0", "--bias", "1"], ["--t", "nan", "--bias", "1"],
                                  ["--t", "-3", "--bias", "1"], ["--t", "10", "--log-t", "2", "--bias", "1"],
                                  ["--bias", "1"], ["--t", "10"], ["--log-t", "2.3"], ["--log-t", "1e6", "--bias", "0"],
                                  ["--t", "10", "--bias", "inf"], ["--recall-k", "0"], ["--recall-k", "1,x"],
                                  ["--bins", "0"], ["--fit-passes", "0"], ["--tb", "tb.txt"],
                                  ["--tb", "missing.json"], ["--tb", "bad_shape.npz"], ["--tb", "both.json"],
                                  ["--tb", "ok.json", "--t", "3"], ["--tb", "no_bias.json"]])
def test_bad_options_exit_2_with_one_line(argv, pairs, capsys, tmp_path, monkeypatch):
    f, _, _ = pairs
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "bad_shape.npz", t=np.array([10.0, 20.0]), bias=np.array(-5.0))
    (tmp_path / "both.json").write_text('{"t": 10, "logit_scale": 2.3, "bias": -5}')
    (tmp_path / "ok.json").write_text('{"t": 10, "bias": -5}')
    (tmp_path / "no_bias.json").write_text('{"logit_scale": 2.3}')
    code, out, err = _run([f, "--no-gap", "--quiet", *argv], capsys)
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, (argv, err)
    assert err.startswith("constellations: error: ") and "Traceback" not in err


def test_model_file_and_human_report(pairs, capsys, tmp_path):
    f, U, V = pairs
    np.savez(tmp_path / "model.npz", logit_scale=np.array([math.log(12.5)], dtype=np.float32),
             logit_bias=np.array(-7.0))
    code, out, err = _run([f, "--no-gap", "--quiet", "--tb", tmp_path / "model.npz"], capsys)
    assert code == 0, err
    lib = analyze_pairs((U, V), gap=False, log_t=float(np.float32(math.log(12.5))), bias=-7.0)
    for text in ("threshold -b/t", "positives below the threshold", "per item (big_vision, sum/N)",
                 "best (t*, b*) [converged]", "calibration at the given model", "ties against the match",
                 f"{lib.model.positives_below}/{lib.model.positives}", f"ECE {lib.calibration.ece:.6f}"):
        assert text in out, text
    code, out, err = _run([f, "--no-gap", "--quiet", "--no-fit"], capsys)
    assert code == 0 and "best (t*, b*)" not in out and "calibration" not in out
    code, out, _ = _run(["--help"], capsys)
    assert code == 0 and all(o in out for o in ("--t FLOAT", "--log-t", "--bias", "--tb", "--no-fit", "--bins",
                                                "--recall-k", "big_vision"))


def test_separable_pairs_report_no_fake_optimum(tmp_path, capsys):
    from constellations.codes.constructions import cross_polytope_code, modality_simplex

    cfg = modality_simplex(cross_polytope_code(16, 8), 2, 0.8)
    f = tmp_path / "c.npz"
    np.savez(f, U=cfg.X[0], V=cfg.X[1])
    code, out, err = _run([f, "--no-gap", "--quiet", "--json"], capsys)
    assert code == 0, err
    o = json.loads(out)
    assert o["fit"]["status"] == "separable" and o["fit"]["t"] is None and o["calibration"] is None
    code, out, err = _run([f, "--no-gap", "--quiet"], capsys)
    assert code == 0 and "separable" in out and "separating threshold" in out

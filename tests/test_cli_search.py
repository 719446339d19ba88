"""`constellations search` through the real entry point."""
import json

import numpy as np
import pytest

from conftest import run_cli


def test_search_json_and_output(tmp_path):
    f = tmp_path / "oct.npz"
    r = run_cli("search", "--n", 6, "--dim", 3, "--tied", "--restarts", 2, "--json", "-o", f)
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    for key in ["n", "dim", "modalities", "margin", "b_rel", "margin_certified", "seconds", "restarts"]:
        assert key in o
    assert (o["n"], o["dim"], o["modalities"], o["restarts"]) == (6, 3, 2, 2)
    assert abs(o["margin"] - 0.5) < 1e-12 and o["margin_certified"] <= o["margin"]
    with np.load(f) as z:
        assert z["X"].shape == (2, 6, 3)
    # warm start from the file written above: the margin cannot get worse
    r = run_cli("search", "--n", 6, "--dim", 3, "--restarts", 1, "--init", f, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["margin"] >= o["margin"] - 1e-15


def test_search_batched_restarts():
    r = run_cli("search", "--n", 4, "--dim", 3, "--tied", "--restarts", 4, "--batch", 2, "--json")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert abs(o["margin"] - 2 / 3) < 1e-12 and o["restarts"] == 4


def test_search_human_output():
    r = run_cli("search", "--n", 4, "--dim", 3, "--tied", "--restarts", 1)
    assert r.returncode == 0, r.stderr
    assert "margin m (half gap)" in r.stdout and "certified" in r.stdout


@pytest.mark.parametrize("args", [["--n", 1, "--dim", 3], ["--n", 5, "--dim", 0], ["--n", 5, "--dim", 3, "-M", 1],
                                  ["--n", 5, "--dim", 3, "--time-limit", -1], ["--n", 5],
                                  ["--n", 5, "--dim", 3, "--init", "/nonexistent/x.npz"],
                                  ["--n", 5, "--dim", 3, "--batch", 0],
                                  ["--n", 5, "--dim", 3, "--batch", 2, "--jobs", 2]])
def test_bad_input_exit_2(args):
    r = run_cli("search", *args)
    assert r.returncode == 2
    assert r.stderr.startswith("constellations: error:") and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1

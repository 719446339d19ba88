import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, run_cli


def assert_one_line_error(r, code=2):
    """Exit ``code``, exactly one line on stderr in the CLI's format, no traceback."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("constellations: error: "), r.stderr
    return lines[0]


def test_e8_verify_json(tmp_path):
    f = tmp_path / "e8.npz"
    r = run_cli("construct", "e8", "--dim", "8", "-o", f)
    assert r.returncode == 0, r.stderr
    r = run_cli("verify", f, "--json")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    for key in ["modalities", "n", "dim", "margin", "b_rel", "margin_certified", "pos_min", "neg_max",
                "is_constellation", "seconds"]:
        assert key in o and not isinstance(o[key], str), key
    assert (o["modalities"], o["n"], o["dim"]) == (2, 240, 8)
    assert o["margin"] == pytest.approx(0.25, abs=1e-14) and o["b_rel"] == pytest.approx(0.75, abs=1e-14)
    assert o["margin_certified"] <= o["margin"] and abs(o["margin_certified"] - 0.25) < 1e-12
    assert o["is_constellation"] is True and o["exit_status"] == 0
    human = run_cli("verify", f)
    assert "margin m (half gap)   0.25" in human.stdout and "b_rel                 0.75" in human.stdout


def test_verify_claim_and_not_constellation(tmp_path):
    f = tmp_path / "ico.npz"
    assert run_cli("construct", "icosahedron", "--dim", "3", "-o", f).returncode == 0
    assert run_cli("verify", f, "--margin", "0.27", "--b-rel", "0.7236").returncode == 0
    r = run_cli("verify", f, "--margin", "0.3", "--b-rel", "0.7236", "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["claim"]["violation"]["certainly_false"]
    X = np.random.default_rng(0).standard_normal((2, 50, 3))
    X /= np.linalg.norm(X, axis=-1, keepdims=True)
    np.savez(tmp_path / "rand.npz", X=X)
    r = run_cli("verify", tmp_path / "rand.npz", "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["is_constellation"] is False


def bad_files(tmp_path):
    nan = np.ones((2, 3, 2)) / np.sqrt(2)
    nan[0, 1, 0] = np.nan
    np.savez(tmp_path / "nan.npz", X=nan)
    np.savez(tmp_path / "rank.npz", X=np.ones((3, 2)))
    np.savez(tmp_path / "mism.npz", U=np.eye(3), V=np.eye(4)[:, :3])
    np.savez(tmp_path / "n1.npz", X=np.ones((2, 1, 2)) / np.sqrt(2))
    np.savez(tmp_path / "m1.npz", X=np.eye(3)[None])
    np.savez(tmp_path / "zero.npz", X=np.zeros((2, 3, 2)))
    np.savez(tmp_path / "far.npz", X=2 * np.eye(3)[None].repeat(2, 0))
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04garbage")
    (tmp_path / "text.npz").write_text("hello")
    return ["nan.npz", "rank.npz", "mism.npz", "n1.npz", "m1.npz", "zero.npz", "far.npz", "corrupt.npz",
            "text.npz", "missing.npz"]


def test_bad_input_exit_2(tmp_path):
    for name in bad_files(tmp_path):
        r = run_cli("verify", tmp_path / name)
        assert r.returncode == 2, (name, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("constellations: error:"), name
    assert run_cli("verify", tmp_path / "far.npz", "--normalize").returncode == 0


@pytest.mark.parametrize("args", [("simplex", "--dim", "3", "--n", "6"), ("foo", "--dim", "3"),
                                  ("e8", "--dim", "4"), ("lift", "--dim", "5", "--n", "3", "--delta", "0.9",
                                                         "--phi", "0.9"), ("simplex", "--dim", "x")])
def test_construct_bad_parameters(tmp_path, args):
    out = tmp_path / "o.npz"
    r = run_cli("construct", *args, "-o", out)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_construct_all_kinds(tmp_path):
    cases = [("simplex", 4, 5, 2), ("polygon", 2, 6, 3), ("600-cell", 4, None, 2),
             ("lift", 5, 4, 2), ("modality-simplex", 6, 4, 3), ("adapters", 4, 4, 2), ("random", 5, 20, 2)]
    for kind, d, n, M in cases:
        f = tmp_path / f"{kind}.npz"
        args = ["construct", kind, "--dim", d, "-M", M, "-o", f, "--json"] + (["--n", n] if n else [])
        r = run_cli(*args)
        assert r.returncode == 0, (kind, r.stderr)
        o = json.loads(r.stdout)
        if o["margin_exact"] is not None:
            assert o["margin"] == pytest.approx(o["margin_closed_form"], abs=1e-12)


@pytest.mark.parametrize("target", ["out.bin", "nodir/x.npz", "/proc/x.npz", "."])
def test_construct_output_checked_before_work(tmp_path, target):
    if target.startswith("/proc") and not Path("/proc/self").is_dir():
        pytest.skip("needs Linux /proc")
    r = run_cli("construct", "e8", "--dim", "8", "-o", target, cwd=tmp_path)
    msg = assert_one_line_error(r)
    assert "cannot write" in msg and r.stdout == ""
    assert list(tmp_path.iterdir()) == []  # neither out.bin nor out.bin.npz nor a temp file


def test_construct_refuses_huge_sizes_before_allocating(tmp_path):
    t = time.time()
    r = run_cli("construct", "random", "--n", "1e9", "--dim", "64", "-o", tmp_path / "r.npz", timeout=120)
    msg = assert_one_line_error(r)
    # 2 modalities x 1e9 x (64 + 2) float64 x 3 copies = 2.88 TiB
    assert "needs about 2.88 TiB" in msg and "limit of" in msg and "N=1000000000" in msg
    assert time.time() - t < 60 and not (tmp_path / "r.npz").exists()
    r = run_cli("construct", "cross-polytope", "--dim", "1e9", "-o", tmp_path / "c.npz")
    assert "needs about" in assert_one_line_error(r)


@pytest.mark.parametrize("args", [("--n", "1.5"), ("--n", "nan"), ("--n", "1e"), ("--seed", "-1"), ("--n", "-3"),
                                  ("--n", "1"), ("-M", "1"), ("--dim", "0")])
def test_construct_bad_numbers(tmp_path, args):
    base = {"--n": "5", "--dim": "3", "-M": "2", "--seed": "0"}
    base[args[0]] = args[1]
    r = run_cli("construct", "random", *[x for kv in base.items() for x in kv], "-o", tmp_path / "o.npz")
    assert_one_line_error(r)
    assert list(tmp_path.iterdir()) == []


def test_construct_json_vocabulary(tmp_path):
    r = run_cli("construct", "random", "--n", "1e2", "--dim", "4", "--seed", "3", "-o", tmp_path / "r.npz", "--json")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert (o["n"], o["dim"], o["modalities"], o["seed"]) == (100, 4, 2, 3)
    for key in ("margin", "b_rel", "margin_certified", "seconds"):
        assert isinstance(o[key], float), key
    assert o["margin_certified"] <= o["margin"]
    r = run_cli("construct", "icosahedron", "--dim", "3", "-o", tmp_path / "i.npz", "--json")
    o = json.loads(r.stdout)
    # icosahedron: c = 1/sqrt(5), m = (1 - 1/sqrt 5)/2, b_rel = (1 + 1/sqrt 5)/2
    assert o["margin"] == pytest.approx((1 - 5 ** -0.5) / 2, abs=1e-14)
    assert o["margin_exact"] == "1/2 - sqrt(5)/10"
    assert o["margin_closed_form"] == pytest.approx((1 - 5 ** -0.5) / 2, abs=1e-16)
    assert o["b_rel"] == pytest.approx((1 + 5 ** -0.5) / 2, abs=1e-14) and o["seed"] is None


def test_verify_exit_codes_keep_undecided_apart(tmp_path):
    f = tmp_path / "e8.npz"
    assert run_cli("construct", "e8", "--dim", "8", "-o", f).returncode == 0
    # E8 has m = 1/4 and b_rel = 3/4 exactly: float64 cannot prove the claim at these values (exit 3), but
    # the certified margin 0.2499... > 0 still proves that E8 is a constellation.
    r = run_cli("verify", f, "--margin", "0.25", "--b-rel", "0.75")
    assert r.returncode == 3, r.stderr
    assert "NOT PROVABLE in float64" in r.stdout and "use --exact" in r.stdout
    assert "=> a constellation" in r.stdout and "NOT a constellation" not in r.stdout
    o = json.loads(run_cli("verify", f, "--margin", "0.25", "--b-rel", "0.75", "--json").stdout)
    assert o["claim"]["decided"] is False and o["is_constellation"] is True and o["exit_status"] == 3
    # exact arithmetic decides it, and prints the exact margin
    r = run_cli("verify", f, "--margin", "0.25", "--b-rel", "0.75", "--exact")
    assert r.returncode == 0 and "HOLDS" in r.stdout
    assert "exact margin m        1/4" in r.stdout and "exact b_rel           3/4" in r.stdout
    assert "0.24999999999999997" not in r.stdout
    o = json.loads(run_cli("verify", f, "--exact", "--json").stdout)
    assert o["margin_expression"] == "1/4" and o["margin_certified"] == 0.25 == o["margin_certified_upper"]
    # a false claim is refuted: exit 1
    r = run_cli("verify", f, "--margin", "0.26", "--b-rel", "0.75")
    assert r.returncode == 1 and "FAILS (certainly)" in r.stdout
    h = run_cli("verify", "--help").stdout
    assert "0  FILE is a constellation" in h and "3  not decidable in float64" in h


def test_verify_undecided_without_claim(tmp_path):
    # Two copies of {e1, e1, e2}: a non-matched pair ties a matched one, the true margin is exactly 0.
    P = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    np.savez(tmp_path / "tie.npz", X=np.stack([P, P]))
    r = run_cli("verify", tmp_path / "tie.npz")
    assert r.returncode == 3 and "undecided in float64" in r.stdout
    r = run_cli("verify", tmp_path / "tie.npz", "--exact", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["margin_expression"] == "0"


def test_verify_report_file(tmp_path):
    f = tmp_path / "ico.npz"
    assert run_cli("construct", "icosahedron", "--dim", "3", "-o", f).returncode == 0
    r = run_cli("verify", f, "-o", tmp_path / "rep.json", "--no-retrieval")
    assert r.returncode == 0 and json.loads((tmp_path / "rep.json").read_text())["n"] == 12
    r = run_cli("verify", f, "-o", tmp_path / "rep.txt")
    assert "must be a .json file" in assert_one_line_error(r) and not (tmp_path / "rep.txt").exists()
    r = run_cli("verify", f, "--margin", "nan", "--b-rel", "0.5")
    assert "finite" in assert_one_line_error(r)


def test_verify_exact_refuses_large_input(tmp_path):
    f = tmp_path / "r.npz"
    assert run_cli("construct", "random", "--n", "3000", "--dim", "50", "-o", f).returncode == 0
    assert "exact mode" in assert_one_line_error(run_cli("verify", f, "--exact", "--no-retrieval"))


@pytest.mark.parametrize("args, text", [(("nosuch",), "No such command 'nosuch'"),
                                        (("verify", "--nosuch"), "No such option"),
                                        (("construct",), "Missing argument")])
def test_unknown_command_one_line(args, text):
    assert text in assert_one_line_error(run_cli(*args))


def test_bare_command_prints_help():
    r = run_cli()
    assert r.returncode == 0 and "Commands:" in r.stdout and r.stderr == ""


def test_python_dash_m_constellations(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    r = subprocess.run([sys.executable, "-m", "constellations", "construct", "simplex", "--dim", "3", "--n", "4",
                        "-o", tmp_path / "s.npz", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["margin"] == pytest.approx(2 / 3, abs=1e-15)  # simplex n=4: (1 + 1/3)/2

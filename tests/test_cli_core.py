import json

import numpy as np
import pytest

from conftest import run_cli


def test_e8_verify_json(tmp_path):
    f = tmp_path / "e8.npz"
    r = run_cli("construct", "e8", "--dim", "8", "-o", f)
    assert r.returncode == 0, r.stderr
    r = run_cli("verify", f, "--json")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    for key in ["modalities", "n", "dim", "margin", "b_rel", "margin_certified", "pos_min", "neg_max",
                "is_constellation"]:
        assert key in o
    assert (o["modalities"], o["n"], o["dim"]) == (2, 240, 8)
    assert o["margin"] == pytest.approx(0.25, abs=1e-14) and o["b_rel"] == pytest.approx(0.75, abs=1e-14)
    assert o["margin_certified"] <= 0.25 and abs(o["margin_certified"] - 0.25) < 1e-12
    assert o["is_constellation"] is True
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
            assert o["margin"] == pytest.approx(o["margin_exact"], abs=1e-12)

"""The ``constellations bounds`` command, run as a real subprocess."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "constellations.cli.main", "bounds", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_e8_cell_json():
    p = run("--n", 240, "--dim", 8, "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["margin_upper"] >= 0.25
    assert d["margin_lower"] == 0.25 and "e8" in d["margin_lower_method"]
    assert d["margin_upper_certificate"]["code_bound"]["value"] < 240


def test_text_and_dimension_mode():
    p = run("--n", 240, "--dim", 8)
    assert p.returncode == 0 and "margin_upper" in p.stdout and "margin_lower" in p.stdout
    p = run("--n", 100, "--margin", 0.25, "--json")
    d = json.loads(p.stdout)
    assert d["dim_lower"] <= d["dim_upper"] == 8


def test_codes_mode():
    p = run("--codes", "--dim", 8, "--max-ip", "1/2", "--json")
    d = json.loads(p.stdout)
    assert d["best"] == 240
    p = run("--codes", "--dim", 3, "--max-ip", "1/sqrt(5)")
    assert p.returncode == 0 and "12" in p.stdout


@pytest.mark.parametrize("args", [
    ("--codes", "--dim", 3, "--max-ip", 1.0), ("--codes", "--dim", 3, "--max-ip", -1.5),
    ("--n", 1, "--dim", 3), ("--n", 5, "--dim", 0), ("--n", 5, "--margin", 0), ("--n", 5, "--margin", 1.5),
    ("--n", 5, "--dim", 3, "--b-rel", "x"), ("--n", 5), ("--n", "abc", "--dim", 3)])
def test_bad_input_exits_2_with_one_line(args):
    p = run(*args)
    assert p.returncode == 2, (args, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("constellations: error:"), p.stderr

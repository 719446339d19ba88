"""The ``constellations bounds`` command, run as a real subprocess."""
import json
import math
import os
import subprocess
import sys

import pytest

from conftest import REPO



def run(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "constellations.cli.main", "bounds", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_e8_cell_json():
    p = run("--n", 240, "--dim", 8, "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["margin_upper"] >= 0.25
    assert d["margin_lower"] == 0.25 and "e8" in d["margin_lower_method"]
    assert d["margin_upper"] == 0.25 and d["optimal"] is True
    assert d["margin_upper_certificate"]["tied_optimum"]["certificate"]["levenshtein_at_c"] == "240"


def test_text_and_dimension_mode():
    p = run("--n", 240, "--dim", 8)
    assert p.returncode == 0 and "margin_upper" in p.stdout and "margin_lower" in p.stdout
    p = run("--n", 100, "--margin", 0.25, "--json")
    d = json.loads(p.stdout)
    assert d["dim_lower"] <= d["dim_upper"] == 7  # 100 of the 126 E7 roots, c = 1/2


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


# ------------------------------------------------------------------ issue 10: hardening
def run_in(cwd, *args, timeout=300):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "constellations.cli.main", "bounds", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)


def one_error_line(p):
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert len(lines) == 1 and lines[0].startswith("constellations: error:"), p.stderr
    assert "Traceback" not in p.stderr + p.stdout
    return lines[0]


@pytest.mark.parametrize("args", [
    ("--codes", "--dim", 4, "--max-ip", "__import__('os').system('touch PWNED') or 0.5"),
    ("--n", 10, "--margin", "__import__('sys').exit(7)"),
    ("--n", 10, "--dim", 3, "--b-rel", "__import__('os').system('touch PWNED')"),
])
def test_exploit_strings_are_not_evaluated(args, tmp_path):
    p = run_in(tmp_path, *args)
    msg = one_error_line(p)  # exit 2, not 7
    assert "accepted forms" in msg
    assert not (tmp_path / "PWNED").exists() and not (REPO / "PWNED").exists()
    assert list(tmp_path.iterdir()) == []  # no file of any kind


@pytest.mark.parametrize("args,words", [
    (("--n", "1e9", "--margin", 0.3), ["limit of 5000"]),
    (("--n", "1e9", "--dim", 10, "--store", "data/tables/margins.sqlite"), ["limit of 5000"]),
    (("--n", "1e9", "--dim", 10, "--search", 1), ["limit of 5000"]),
    (("--n", 2000, "--dim", 3, "--sdp"), ["4000x4000", "M*N <= 64"]),
    (("--n", 10, "--margin", "1e-9"), ["degree", "limit of 400"]),
    (("--codes", "--dim", "1e6", "--max-ip", 0.5), ["degree", "limit of 400"]),
    (("--n", "2.5", "--dim", 3), ["whole number"]),
    (("--n", "1e400", "--dim", 3), ["1e18"]),
    (("--codes", "--dim", "1e400", "--max-ip", 0), ["1e18"]),
])
def test_sizes_refused_up_front(args, words):
    p = run(*args)
    msg = one_error_line(p)
    assert "polygon" not in msg
    for w in words:
        assert w in msg, msg


def test_huge_dimension_is_the_simplex_optimum():
    # m*(N, d) = N/(2(N-1)) for d >= N-1 (the regular simplex attains Theorem 3.4)
    p = run("--n", 10, "--dim", "1e9", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["n"] == 10 and d["dim"] == 10 ** 9 and d["optimal"] is True
    assert d["margin_lower"] <= 5 / 9 <= d["margin_upper"] and d["margin_upper"] - d["margin_lower"] < 1e-15
    assert d["margin_lower_certificate"]["closed_form_margin"] == d["margin_upper_certificate"]["value"] == "5/9"


def test_theorem34_text_has_no_none():
    p = run("--n", 100, "--margin", 1)
    assert p.returncode == 0, p.stderr
    assert "None" not in p.stdout and "N/(2(N-1)) = 50/99" in p.stdout


def test_json_numbers_are_numbers():
    d = json.loads(run("--n", 10, "--margin", "0.3", "--json").stdout)
    assert d["margin"] == 0.3 and d["margin_exact"] == "3/10" and isinstance(d["seconds"], float)
    d = json.loads(run("--n", 10, "--dim", 4, "--b-rel", "1/3", "--json").stdout)
    assert d["b_rel"] == 1 / 3 and d["b_rel_exact"] == "1/3" and d["n"] == 10 and d["dim"] == 4
    d = json.loads(run("--codes", "--dim", 3, "--max-ip", "(1+sqrt(5))/4", "--json").stdout)
    assert abs(d["max_ip"] - 0.8090169943749475) < 1e-16 and d["max_ip_exact"] == "1/4 + 1/4*sqrt(5)"


@pytest.mark.parametrize("args", [
    ("--b-rel", 0.5), ("--n", 10, "--margin", 0.3, "--b-rel", 0.5), ("--codes", "--dim", 3, "--max-ip", 0.5, "--b-rel", 0),
    ("--n", 10, "--dim", 3, "--modalities", 3), ("--n", 10, "--dim", 3, "--graph", "star"),
    ("--n", 10, "--margin", 0.3, "--sdp"), ("--codes", "--dim", 3, "--max-ip", 0.5, "--method", "delsarte"),
    ("--n", 10, "--dim", 3, "--max-ip", 0.5)])
def test_unused_options_are_errors(args):
    one_error_line(run(*args))


def test_codes_in_huge_dimension():
    # A(n, 0) = 2n (cross-polytope; Rankin), also for n = 10^6 given as 1e6
    d = json.loads(run("--codes", "--dim", "1e6", "--max-ip", 0, "--json").stdout)
    assert d["best"] == 2 * 10 ** 6 and d["bounds"]["levenshtein"]["value"] == 2 * 10 ** 6


# ------------------------------------------------------------------ issues 13 and 14: ceilings and lower bounds
SHIPPED = REPO / "data" / "tables" / "margins.sqlite"


def test_issue14_done_when_large_n_from_the_catalogue():
    # Gold code, m = 9: 2^18 words of length 511, minimum weight 2^8 - 2^4 = 240, so c = 1 - 2*240/511
    # and the tied margin is (1 - c)/2 = 240/511 >= 0.46875; N = 32768 > MAX_ITEMS used to be refused
    p = run("--n", 32768, "--dim", 768, "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["margin_lower"] >= 0.46875 and d["margin_lower"] <= 240 / 511
    assert d["margin_lower_certificate"]["closed_form_margin"] == "240/511"
    assert "gold" in d["margin_lower_recipe"] and d["margin_certified"] == d["margin_lower"] == d["margin"]
    # the ceiling is certified (Theorem 3.4 at most) and above the code
    assert 240 / 511 <= d["margin_upper"] <= 32768 / (2 * 32767) + 1e-15
    assert "several_shells" in d["margin_upper_skipped"]  # what was not tried is said


def test_free_ceiling_is_the_shell_bound_below_the_sandwich():
    d = json.loads(run("--n", 32, "--dim", 3, "--json").stdout)
    # the Tammes record for 32 points (37.4752 degrees, Sloane's tables) is a constellation too
    tammes = (1 - math.cos(math.radians(37.4752))) / 2
    assert tammes <= d["margin_upper"] < d["margin_upper_sandwich"]
    assert d["margin_upper_method"].startswith("shell")
    assert d["margin_upper_certificate"]["conclusion"].endswith("so m*(N, d) < m")


def test_cross_polytope_cells_are_proved_optimal():
    # d + 2 <= N <= 2d: the cross-polytope reaches 1/2 and at most d + 1 vectors are pairwise obtuse
    for n, dim in [(8, 5), (16, 10)]:
        d = json.loads(run("--n", n, "--dim", dim, "--json").stdout)
        assert d["margin_lower"] == 0.5 and 0.5 <= d["margin_upper"] < 0.5 + 1e-12
        assert d["optimal"] is True and d["margin_upper_sandwich"] > 0.5 + 1e-3


def test_store_lower_bound_issue13_done_when():
    # the shipped table holds 0.1032 for N = 32, d = 3; the constructions alone give the polygon, 0.0096
    p = run("--n", 32, "--dim", 3, "--store", SHIPPED, "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["margin_lower"] >= 0.1 and "store:" in d["margin_lower_method"]
    assert d["margin_lower"] <= d["margin_upper"]
    assert d["store"]["configurations"] >= 1
    # re-certified here, not read from the store: equal to certified_margin of the stored configuration
    from constellations.core.certify import certified_margin
    from constellations.tables.store import TableStore
    with TableStore(SHIPPED, readonly=True) as st:
        best = max(certified_margin(st.configuration(r.key).X, r.graph).margin_certified
                   for r in st.cells() if r.n >= 32 and r.dim <= 3)
    assert d["margin_lower"] == best


def test_search_lower_bound():
    p = run("--n", 32, "--dim", 3, "--search", 4, "--seed", 1, "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["search"] == {"seconds": 4.0, "seed": 1} and d["seed"] == 1
    assert "search" in d["margin_lower_method"]  # beats the polygon's sin^2(pi/32) = 0.0096
    assert math.sin(math.pi / 32) ** 2 < d["margin_lower"] <= d["margin_upper"]


@pytest.mark.parametrize("args", [
    ("--n", 32, "--dim", 3, "--tied", "--store", SHIPPED), ("--n", 32, "--dim", 3, "--search", 0),
    ("--n", 32, "--dim", 3, "--seed", 3), ("--n", 32, "--dim", 3, "--store", "no/such.sqlite"),
    ("--n", 32, "--margin", 0.1, "--search", 1), ("--n", 32, "--dim", 3, "--store", REPO / "README.md")])
def test_store_and_search_misuse(args):
    one_error_line(run(*args))


def test_large_n_says_what_it_skipped():
    p = run("--n", "1e9", "--dim", 10)
    assert p.returncode == 0, p.stderr
    assert "skipped shell" in p.stdout and "margin_lower" in p.stdout
    d = json.loads(run("--n", "1e9", "--dim", 10, "--json").stdout)
    assert d["margin_upper_method"] == "sandwich-levenshtein" and d["margin_upper"] < 0.5
    assert d["margin_lower"] <= d["margin_upper"]

"""Edge cases of the certified ceilings: huge dimensions, d = 1, huge exact numbers, the CLI's ceiling."""
import json
import math
import os
import subprocess
import sys
from fractions import Fraction

import pytest

from conftest import REPO

from constellations.bounds import (levenshtein_bound, margin_lower, margin_upper, margin_upper_free,
                                           theorem34_upper)



def run(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "constellations.cli.main", "bounds", *map(str, args)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


# ------------------------------------------------------------------ A: float steering in huge dimensions
@pytest.mark.parametrize("N,d", [(1024, 512), (2048, 1024)])
def test_huge_dimension_ceiling_is_valid(N, d):
    # N = 2d: the cross-polytope reaches 1/2 and Rankin + Corollary 5.4 make it the optimum
    b = margin_upper_free(N, d)
    assert 0.5 <= b.value <= Fraction(N, 2 * (N - 1))  # above an achievable margin, below Theorem 3.4
    assert b.value == 0.5 and b.details["optimal"] is True and b.details["optimum_exact"] == "1/2"
    assert margin_lower(N, d).value <= b.value


def test_huge_dimension_cli():
    p = run("--n", 1024, "--dim", 512, "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["margin_upper"] == 0.5 and d["margin_upper_exact"] == "1/2" and d["optimal"] is True


# ------------------------------------------------------------------ B: d = 1
@pytest.mark.parametrize("N", [3, 12, 300, 1000, 2000])
def test_d1_is_exactly_zero(N):
    # two of U_1..U_N in {+1, -1} coincide, so a matched and a non-matched inner product are equal
    for b in (margin_upper_free(N, 1), margin_upper(N, 1)):
        assert b.value == 0.0 and b.method == "exact-d1"
        assert b.details["optimal"] is True and b.details["theorem"] == "d = 1"


def test_d1_two_items_is_the_antipodal_pair():
    b = margin_upper_free(2, 1)
    assert b.value == 1.0 == theorem34_upper(2) and b.details["optimum_exact"] == "1"


def test_d1_fixed_b_rel_claims_no_optimum():
    b = margin_upper(12, 1, b_rel=0)
    assert b.value == 0.0 and not b.details.get("optimal")


def test_d1_cli():
    p = run("--dim", 1, "--n", 300)
    assert p.returncode == 0, p.stderr
    assert "margin_upper  0  [exact-d1]" in p.stdout and "optimum proved: 0 (d = 1)" in p.stdout


def test_huge_coefficients_are_not_printed():
    # s = 1 - 2m at a dyadic m: the exact coefficients have ~800 digits, above a 640-digit limit
    old = sys.get_int_max_str_digits()
    m = Fraction(math.ceil(math.sin(math.pi / 56) ** 2 * 2 ** 52), 2 ** 52)
    try:
        sys.set_int_max_str_digits(640)
        b = levenshtein_bound(2, 1 - 2 * m)
    finally:
        sys.set_int_max_str_digits(old)
    assert b.value == 55  # A(2, cos t) = floor(2 pi/t): the 56-gon just misses
    assert b.certificate["gegenbauer_coefficients"] is None
    assert "rebuild" in b.certificate["gegenbauer_coefficients_omitted"]
    json.dumps(b.to_dict())


# ------------------------------------------------------------------ D: the library gives the CLI's ceiling
def test_library_ceiling_is_the_cli_ceiling():
    b = margin_upper_free(240, 8)
    assert b.value == 0.25 and b.details["optimum_exact"] == "1/4"  # not the sandwich's 0.2778
    assert margin_upper(240, 8).value > 0.27  # the sandwich alone
    d = json.loads(run("--n", 240, "--dim", 8, "--json").stdout)
    assert d["margin_upper"] == b.value and d["margin_upper_method"] == b.method
    assert d["optimal"] is True and "Corollary 5.4" in d["optimality"]["theorem"]


def test_library_ceiling_at_fixed_b_rel():
    # Theorem 3.4 at b_rel = 0: m <= N/(3N - 4) = 100/296, below the free ceiling
    b = margin_upper_free(100, 10, b_rel="0")
    assert b.value == pytest.approx(100 / 296) and b.value >= Fraction(100, 296)
    assert b.value < margin_upper_free(100, 10).value


# ------------------------------------------------------------------ E: exact numbers in the CLI
def test_cli_prints_exact_values():
    p = run("--n", 240, "--dim", 8)
    assert p.returncode == 0, p.stderr
    assert "margin_upper  1/4 (= 0.25)" in p.stdout and "margin_lower  1/4 (= 0.25)" in p.stdout
    d = json.loads(run("--n", 10, "--dim", 9, "--json").stdout)
    assert d["margin_upper_exact"] == "5/9" == d["margin_lower_exact"] and d["optimal"] is True


def test_bad_input_one_line():
    p = run("--n", 300, "--dim", 1, "--b-rel", 2)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


# ------------------------------------------------------------------ the search floor's rows are read-only
def test_floor_code_is_read_only():
    import numpy as np
    from constellations.search.construction import Floor, lookup
    f = lookup(80, 16, 2)  # Kerdock subset: certified by structure, so its rows must stay as built
    assert f.code.flags.writeable is False
    with pytest.raises(ValueError):
        f.code[0, 0] = 0.0
    g = Floor(code=np.eye(3), recipe="r", name="n", margin_exact="1/2", structural=True, margin=0.5,
              margin_certified=0.5, b_rel=0.5, certified_by="", certification="")
    assert g.code.flags.writeable is False

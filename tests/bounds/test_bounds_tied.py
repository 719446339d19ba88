"""Ceilings for tied constellations (codes) in their own dimension (issue 13, item 1)."""
import csv
import json
import math
from fractions import Fraction

import pytest

from conftest import REPO

from constellations.core.errors import ConfigurationError
from constellations.bounds import margin_lower, margin_upper
from constellations.core.exact import float_up
from constellations.bounds.tied import KNOWN_OPTIMAL, SHARP_CODES, margin_upper_tied

REF = REPO / "data" / "reference" / "spherical_codes.csv"


@pytest.mark.parametrize("N", [3, 5, 7, 8, 12, 16, 32, 64, 128, 1000])
def test_plane_is_the_polygon(N):
    # c*(N, 2) = cos(2 pi/N): m = sin^2(pi/N), attained by the regular N-gon
    b = margin_upper_tied(N, 2)
    exact = math.sin(math.pi / N) ** 2
    assert b.details["optimal"] is True
    assert exact <= b.value <= exact * (1 + 1e-14) + 1e-300
    if N > 4:
        assert b.method == "polygon-exact"
        hi = Fraction(b.certificate["upper_end"])  # the interval's upper end; the float rounds it up
        assert Fraction(b.value) >= hi and b.value == math.nextafter(float(hi), 1.0) or b.value == float(hi)
    lo = margin_lower(N, 2)
    assert lo.value <= b.value and b.value - lo.value < 1e-14  # float64 certification error only


@pytest.mark.parametrize("N,d,m", [(2, 1, 1), (3, 1, 0), (4, 3, Fraction(2, 3)), (11, 10, Fraction(11, 20)),
                                   (5, 3, Fraction(1, 2)), (6, 3, Fraction(1, 2)), (20, 10, Fraction(1, 2))])
def test_rankin_cases_exact(N, d, m):
    b = margin_upper_tied(N, d)
    assert Fraction(b.value) >= m and b.value == float_up(m) and b.details["optimal"] is True
    assert b.details["exact"] == str(m)


@pytest.mark.parametrize("d,N", sorted(SHARP_CODES))
def test_levenshtein_sharp_codes_are_optimal(d, N):
    # icosahedron 1/sqrt 5, Clebsch 1/5, Schlafli 1/4, Gosset 1/3, E8 1/2: known optimal codes
    c = {(3, 12): 1 / math.sqrt(5), (5, 16): 0.2, (6, 27): 0.25, (7, 56): 1 / 3, (8, 240): 0.5}[(d, N)]
    b = margin_upper_tied(N, d)
    assert b.method == "levenshtein-sharp" and b.details["optimal"] is True
    assert (1 - c) / 2 <= b.value <= (1 - c) / 2 + 1e-15
    assert margin_lower(N, d).value / b.value > 1 - 1e-12


def test_600_cell_is_not_claimed_sharp():
    # L(4, cos(pi/5)) = 259/2 - 7 sqrt(5)/2 = 121.67: Levenshtein is not sharp there
    b = margin_upper_tied(120, 4)
    assert b.details["optimal"] is False and b.value > (1 - math.cos(math.pi / 5)) / 2


def test_ceiling_above_every_reference_code():
    with open(REF) as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    for r in rows:
        d, N, c = int(r["dim"]), int(r["n_points"]), float(r["max_inner_product"])
        unc = float(r["c_uncertainty"] or 0)
        b = margin_upper_tied(N, d)
        assert b.value >= (1 - c) / 2 - unc, (r["dim"], r["n_points"], b.value)
        if b.details["optimal"]:  # a claimed optimum must be the reference value
            assert r["status"] == "proven-optimal" and abs(b.value - (1 - c) / 2) <= 1e-12 + unc, r
        assert b.value <= margin_upper(N, d).value + 1e-15 or d >= N - 1  # never looser than the sandwich
        if r["status"] == "proven-optimal":  # every proved optimum is either exact here or flagged
            assert b.details["optimal"] or b.details["known_optimal"] == KNOWN_OPTIMAL[(d, N)], (d, N)


def test_tammes_flags():
    assert margin_upper_tied(13, 3).details["known_optimal"] == "Musin and Tarasov 2012"
    assert margin_upper_tied(24, 3).details["known_optimal"] == "Robinson 1961"
    assert margin_upper_tied(15, 3).details["known_optimal"] is None
    assert margin_upper_tied(24, 4).details["known_optimal"] is None  # 24-cell: optimality open
    # the proved optima (Musin-Tarasov 57.1367 deg; Robinson 43.6908 deg) are below the ceilings
    assert margin_upper_tied(13, 3).value >= (1 - math.cos(math.radians(57.1367))) / 2
    assert margin_upper_tied(24, 3).value >= (1 - math.cos(math.radians(43.6908))) / 2


def test_delsarte_not_looser():
    lev, lp = margin_upper_tied(24, 4), margin_upper_tied(24, 4, method="delsarte")
    assert 0.25 <= lp.value <= lev.value  # the 24-cell has margin 1/4


def test_bad_input():
    for args in [(1, 3), (5, 0), (10 ** 9, 3), (10, 3, "x")]:
        with pytest.raises(ConfigurationError):
            margin_upper_tied(*args)


def test_cli_tied(cli):
    p = cli("bounds", "--n", 7, "--dim", 2, "--tied", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["tied"] is True and d["optimal"] is True and d["n"] == 7 and d["dim"] == 2
    assert abs(d["ratio"] - 1) < 1e-12 and d["margin_upper"] >= math.sin(math.pi / 7) ** 2
    assert d["margin_upper_free"] >= d["margin_upper"]
    p = cli("bounds", "--n", 13, "--dim", 3, "--tied")
    assert p.returncode == 0 and "Musin and Tarasov 2012" in p.stdout
    for bad in [("--n", 7, "--margin", 0.1, "--tied"), ("--n", 7, "--dim", 2, "--tied", "--b-rel", 0.5),
                ("--codes", "--dim", 3, "--max-ip", 0.5, "--tied")]:
        p = cli("bounds", *bad)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr

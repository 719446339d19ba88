"""Delsarte LP: LP values, exact certificates, never below a known code."""
import csv
import math
from fractions import Fraction

import pytest

from conftest import REPO

from constellations.core.errors import ConstellationsError
from constellations.bounds import delsarte_lp_bound, levenshtein_bound, verify_certificate
from constellations.bounds.delsarte import certify_nonpositive

REF = REPO / "data" / "reference" / "spherical_codes.csv"


def _records():
    with open(REF) as fh:
        return list(csv.DictReader(fh))


def test_kissing_lp_values():
    # docs/math.md 5.3: the LP gives 13, 25, 46, 82, 140 for n = 3..7 (issue: at least 25 and 46 for n=4, 5)
    for n, v in zip(range(3, 8), (13, 25, 46, 82, 140)):
        b = delsarte_lp_bound(n, Fraction(1, 2))
        assert b.value == v, (n, b.details)
        assert b.details["certified"]
        assert Fraction(b.certificate["bound"]) == verify_certificate(b.certificate)


def test_e8_and_leech_lp_are_sharp():
    assert delsarte_lp_bound(8, "1/2").value == 240
    assert delsarte_lp_bound(24, "1/2").value == 196560


def test_lp_not_worse_than_levenshtein_and_degree2_formula():
    for n, s in [(4, 0.3), (6, 0.45), (10, 0.2)]:
        lp, lev = delsarte_lp_bound(n, s), levenshtein_bound(n, s)
        assert lp.details["real"] <= lev.details["real"] * (1 + 1e-6)
    n, s = 5, Fraction(1, 10)  # 0 <= s < 1/n: degree 2 gives 2n(1-s)/(1-ns)
    b = delsarte_lp_bound(n, s, degree=2)
    assert b.details["real"] == pytest.approx(float(2 * n * (1 - s) / (1 - n * s)), rel=1e-7)


def test_no_bound_is_below_a_known_code():
    rows = _records()
    assert len(rows) >= 20
    for r in rows:
        n, N, c = int(r["dim"]), int(r["n_points"]), float(r["max_inner_product"])
        # the table rounds c (its c_uncertainty column): the true c is at most c + tol, and
        # A(n, c + tol) >= N must hold for every certified bound
        tol = max(float(r["c_uncertainty"]), 1e-12)
        s = Fraction(c) + Fraction(tol)
        lp = delsarte_lp_bound(n, s)
        lev = levenshtein_bound(n, s)
        assert lp.value >= N, (r, lp.value)
        assert lev.value >= N, (r, lev.value)


def test_certificate_rejects_tampering():
    b = delsarte_lp_bound(4, "1/2")
    cert = dict(b.certificate)
    co = list(cert["gegenbauer_coefficients"])
    co[0] = str(Fraction(co[0]) * 3)  # raising f_0 makes f positive near s
    cert["gegenbauer_coefficients"] = co
    with pytest.raises(ArithmeticError):
        verify_certificate(cert)
    cert["gegenbauer_coefficients"] = ["1"] + ["-1"] + co[2:]
    with pytest.raises(ArithmeticError):
        verify_certificate(cert)


def test_certify_nonpositive_exact():
    s = Fraction(1, 2)
    assert certify_nonpositive([Fraction(-1), Fraction(1)], s)          # t - 1 < 0 on [-1, 1/2]
    assert not certify_nonpositive([Fraction(-1, 2), Fraction(1)], s)    # t - 1/2 = 0 at s
    assert not certify_nonpositive([Fraction(-1, 100), 0, Fraction(1)], s)  # t^2 - 0.01 > 0 at -1


def test_infeasible_low_degree_reports_no_bound():
    b = delsarte_lp_bound(3, 0.5, degree=1)
    assert math.isinf(b.value) and not b.details["certified"]


@pytest.mark.parametrize("args", [(3, 1.0), (3, -2), (1, 0.5), (3, 0.5, 0)])
def test_bad_input(args):
    with pytest.raises(ConstellationsError):
        delsarte_lp_bound(*args)

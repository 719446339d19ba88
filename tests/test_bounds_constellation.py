"""Constellation bounds: margin_upper / margin_lower / dim_lower / dim_upper."""
import csv
import math
from fractions import Fraction
from pathlib import Path

import pytest

from constellations.certify import certified_margin
from constellations.configuration import tied
from constellations.constructions import code
from constellations.errors import ConstellationsError
from constellations.solvers.bounds import (dim_lower, dim_upper, exponent_lower, exponent_upper, kl_exponent, levenshtein_bound,
                            margin_lower, margin_upper, theorem34_upper)

REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "spherical_codes.csv"


@pytest.mark.skipif(not REF.exists(), reason="reference table not available")
def test_margin_upper_above_every_reference_record():
    with open(REF) as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        d, N, c = int(r["dim"]), int(r["n_points"]), float(r["max_inner_product"])
        u = margin_upper(N, d)
        assert u.value >= (1 - c) / 2 - 1e-9, (r, u)
        lo = margin_lower(N, d)
        assert lo.value <= u.value


def test_theorem34_cells_are_tight():
    # N <= d+1: the simplex reaches N/(2(N-1)) and Theorem 3.4 says it is optimal
    for N, d in [(2, 1), (3, 2), (4, 3), (7, 6), (11, 10)]:
        u, lo = margin_upper(N, d), margin_lower(N, d)
        assert u.method == "theorem-3.4"
        assert u.value == pytest.approx(N / (2 * (N - 1)), abs=1e-15) and u.value >= Fraction(N, 2 * (N - 1))
        assert lo.value <= Fraction(N, 2 * (N - 1)) and lo.value == pytest.approx(N / (2 * (N - 1)), abs=1e-15)


def test_e8_cell():
    u, lo = margin_upper(240, 8), margin_lower(240, 8)
    assert u.value >= 0.25 and u.method.startswith("sandwich")
    assert lo.value == 0.25 and lo.method == "construction:e8"
    assert lo.certificate["margin_cert"] <= 0.25 and lo.certificate["closed_form_margin"] == "1/4"


def test_sandwich_certificate_is_consistent():
    u = margin_upper(100, 10)
    c = u.certificate
    m = Fraction(c["m"])
    assert float(m) <= u.value and c["s"] == str(1 - 2 * m)
    # re-derive the code bound independently
    assert levenshtein_bound(11, 1 - 2 * m).value < 100
    # a slightly smaller m must not be excluded by the same bound (threshold is tight)
    assert levenshtein_bound(11, 1 - 2 * (m - Fraction(1, 10 ** 9))).details["real"] >= 99.99


def test_fixed_b_rel_uses_theorem34_inequalities():
    for N, d, b in [(100, 10, 0.0), (12, 3, 0.9), (50, 4, -0.5)]:
        u = margin_upper(N, d, b_rel=b)
        free = margin_upper(N, d)
        bb = Fraction(b)
        assert u.value <= free.value
        assert u.value >= min(free.value, float(min(1 - bb, (1 + bb) * Fraction(N, 3 * N - 4)))) - 1e-15
    assert margin_upper(100, 10, b_rel=0).value == pytest.approx(100 / 296)
    assert theorem34_upper(10, "0.9") == Fraction(1, 10)


def test_lower_below_upper_grid():
    for N in (3, 5, 9, 20, 50):
        for d in (1, 2, 3, 4, 6):
            lo, up = margin_lower(N, d), margin_upper(N, d)
            assert 0 <= lo.value <= up.value, (N, d, lo, up)


def test_margin_lower_certificate_matches_certify():
    lo = margin_lower(12, 3)
    assert lo.method == "construction:icosahedron"
    P, _ = code("icosahedron", 3)
    assert lo.value == certified_margin(tied(P)).margin_cert
    assert lo.value == pytest.approx((1 - 1 / math.sqrt(5)) / 2, abs=1e-14)


def test_delsarte_method_is_at_least_as_tight():
    a, b = margin_upper(24, 4), margin_upper(24, 4, method="delsarte")
    assert b.value <= a.value + 1e-12 and b.value >= 0.25


def test_dimension_bounds():
    lo, hi = dim_lower(100, 0.25), dim_upper(100, 0.25)
    assert lo.value <= hi.value == 8
    # the excluded dimension lo-1 has margin_upper <= m
    assert margin_upper(100, lo.value - 1).value <= 0.25 + 1e-12
    assert dim_upper(5, 0.6).value == 4 and dim_upper(5, 0.6).method == "construction:simplex"
    assert dim_upper(6, 0.5).value == 3  # cross-polytope
    assert math.isinf(dim_lower(5, 0.63).value) and math.isinf(dim_upper(5, 0.63).value)
    assert dim_lower(12, 0.27).value <= 3 <= dim_upper(12, 0.27).value
    r = dim_upper(200, 0.1)
    assert r.certificate["margin_cert"] >= 0.1


def test_exponents():
    for m in (0.05, 0.1, 0.2, 0.3):
        lo, hi = exponent_lower(m), exponent_upper(m)
        assert 0 <= lo <= hi
        assert kl_exponent(1 - 2 * m) <= hi + 1e-12
    assert exponent_lower(0.25, b_rel=0.9) == 0.0  # m + b_rel >= 1: no exponential family


@pytest.mark.parametrize("call", [lambda: margin_upper(1, 3), lambda: margin_upper(5, 0), lambda: margin_upper(5, 2.5),
                                  lambda: margin_upper(5, 3, b_rel=2), lambda: dim_lower(5, 0),
                                  lambda: dim_lower(5, 1.5), lambda: dim_upper(5, -0.1), lambda: margin_lower(1, 2),
                                  lambda: margin_upper(5, 3, method="x")])
def test_bad_input(call):
    with pytest.raises(ConstellationsError):
        call()


def test_extra_configurations_hook():
    import numpy as np
    from constellations.configuration import tied as _tied
    # 100 Fibonacci-sphere points in R^3 (a "search result") beat the built-in polygon for N = 100, d = 3
    k = np.arange(100) + 0.5
    z = 1 - 2 * k / 100
    r, phi = np.sqrt(1 - z * z), np.pi * (1 + 5 ** 0.5) * k
    F = np.column_stack([r * np.cos(phi), r * np.sin(phi), z])
    X = _tied(F / np.linalg.norm(F, axis=1, keepdims=True))
    base = margin_lower(100, 3)
    lo = margin_lower(100, 3, extra=[X])
    assert lo.method == "construction:extra[0]" and lo.value > base.value
    assert lo.value == certified_margin(X).margin_cert
    assert margin_lower(100, 4, extra=[X]).value >= lo.value  # padded into R^4
    hi = dim_upper(100, lo.value / 2, extra=[np.asarray(X.X)])
    assert hi.value <= 3
    with pytest.raises(ConstellationsError):
        margin_lower(10, 3, extra=[np.full((2, 10, 3), np.nan)])

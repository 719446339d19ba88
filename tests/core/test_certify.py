import math
from fractions import Fraction

import numpy as np
import pytest

from constellations import ConfigurationError, certified_margin, check_claim, margin_stats
from constellations.core.certify import EXACT_MAX_WORK
from constellations.codes.constructions import construct


@pytest.mark.parametrize("kind, dim, n", [("simplex", 4, 5), ("icosahedron", 3, None), ("24-cell", 4, None),
                                          ("cross-polytope", 3, None), ("polygon", 2, 9)])
def test_certified_below_and_close(kind, dim, n):
    c = construct(kind, dim, n)
    cert = certified_margin(c)
    exact = certified_margin(c, exact=True)
    true = c.meta["margin"]
    assert cert.margin_certified <= exact.margin_certified + 1e-30
    assert exact.margin_certified == pytest.approx(true, abs=1e-14)
    assert cert.margin_certified == pytest.approx(exact.margin_certified, abs=1e-12)
    assert cert.margin_certified <= margin_stats(c).margin


def test_e8_certified():
    c = construct("e8", 8)
    cert = certified_margin(c)
    assert cert.margin_certified <= 0.25 and abs(cert.margin_certified - 0.25) < 1e-12


def test_float_and_exact_agree_on_random():
    rng = np.random.default_rng(3)
    for seed in range(3):
        X = rng.standard_normal((3, 12, 5))
        X /= np.linalg.norm(X, axis=-1, keepdims=True)
        f, e = certified_margin(X), certified_margin(X, exact=True)
        assert f.margin_certified <= e.margin_certified
        assert abs(f.margin_certified - e.margin_certified) < 1e-12
        assert abs(e.margin - margin_stats(X).margin) < 1e-14


def test_rounding_cannot_fake_a_tie():
    # Two identical codes with a non-matched pair EXACTLY equal to a matched one: true margin 0.
    P = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    X = np.stack([P, P])
    cert = certified_margin(X)
    assert cert.margin_certified <= 0.0
    assert certified_margin(X, exact=True).margin_certified == 0.0


def test_non_unit_rows_are_accounted_for():
    # Rows scaled by (1 + 1e-9): the certificate is about the exactly normalised rows.
    c = construct("simplex", 3, 4)
    X = c.X * (1 + 1e-9)
    cert = certified_margin(X)
    assert cert.margin_certified <= 4 / 6 and cert.margin_certified > 4 / 6 - 1e-12


def test_claims():
    c = construct("icosahedron", 3)
    m, b = c.meta["margin"], c.meta["b_rel"]
    assert check_claim(c, m - 1e-9, b).holds
    bad = check_claim(c, m + 1e-6, b)
    assert not bad.holds and bad.violation.certain
    assert bad.violation.kind in ("matched", "non-matched")
    # wrong bias: the matched inequality fails first
    v = check_claim(c, 0.1, 0.95).violation
    assert v.kind == "matched" and v.edge == (0, 1) and v.items == (0, 0) and v.certain
    assert check_claim(c, 0.1, 0.95, exact=True).violation.items == (0, 0)
    assert check_claim(c, m - 1e-9, b, exact=True).holds
    with pytest.raises(ConfigurationError):
        check_claim(c, float("nan"), 0.5)


@pytest.mark.parametrize("kind, dim, m, b", [("e8", 8, "1/4", "3/4"), ("24-cell", 4, "1/4", "3/4"),
                                             ("cross-polytope", 3, "1/2", "1/2")])
def test_exact_values_are_exact(kind, dim, m, b):
    # The float rows of these polytopes normalise exactly to rational inner products: c = 1/2 (E8,
    # 24-cell; m = 1/4, b_rel = 3/4) and c = 0 (cross-polytope; m = b_rel = 1/2).
    cert = certified_margin(construct(kind, dim), exact=True)
    assert (cert.margin_exact, cert.b_rel_exact) == (m, b)
    q = float(Fraction(m))
    assert cert.margin_certified == cert.margin == cert.margin_cert_upper == q


def test_exact_surd_expression():
    # Rows (1, 0) and (s, s): normalised exactly, the non-matched inner product is 1/sqrt(2), so
    # m = (1 - sqrt(2)/2)/2 = 1/2 - sqrt(2)/4 and b_rel = 1/2 + sqrt(2)/4.
    s = math.sqrt(0.5)
    P = np.array([[1.0, 0.0], [s, s]])
    cert = certified_margin(np.stack([P, P]), exact=True)
    assert cert.margin_exact == "1/2 - sqrt(2)/4" and cert.b_rel_exact == "1/2 + sqrt(2)/4"
    m = 0.5 - math.sqrt(2) / 4
    assert cert.margin_certified <= m <= cert.margin_cert_upper and cert.margin_cert_upper - cert.margin_certified <= 1e-16


def test_upper_bound_and_undecided():
    # A random configuration with a clearly negative margin is certainly not a constellation.
    rng = np.random.default_rng(7)
    X = rng.standard_normal((2, 40, 3))
    X /= np.linalg.norm(X, axis=-1, keepdims=True)
    cert = certified_margin(X)
    assert cert.margin_cert_upper < 0 and cert.is_not_constellation and cert.decided
    assert cert.margin_certified <= cert.margin <= cert.margin_cert_upper
    # An exact tie (true margin 0): float64 cannot decide, the exact mode can.
    P = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    f, e = certified_margin(np.stack([P, P])), certified_margin(np.stack([P, P]), exact=True)
    assert f.margin_certified < 0 <= f.margin_cert_upper and not f.decided
    assert e.decided and e.is_constellation and e.margin_exact == "0" and e.margin_cert_upper == 0.0


def test_claim_at_the_exact_margin():
    # E8: m = 1/4, b_rel = 3/4 exactly.  In float64 the claim at the exact values is within rounding
    # (neither proved nor refuted); exact arithmetic proves it.
    c = construct("e8", 8)
    f = check_claim(c, 0.25, 0.75)
    assert not f.holds and not f.refuted and not f.decided and not f.violation.certain
    e = check_claim(c, 0.25, 0.75, exact=True)
    assert e.holds and e.decided
    # Matched requirement exactly 1 (unprovable in float64) but a certainly false non-matched one later
    # (0.5 > 0.625 - 0.375): the claim is refuted, not merely unproved.
    r = check_claim(c, 0.375, 0.625)
    assert r.refuted and r.violation.kind == "non-matched" and r.violation.value == pytest.approx(0.5)


def test_exact_mode_refuses_large_inputs():
    c = construct("e8", 8)
    with pytest.raises(ConfigurationError, match="exact mode"):
        certified_margin(c, exact=True, max_work=10 ** 5)
    with pytest.raises(ConfigurationError, match="exact mode"):
        check_claim(c, 0.2, 0.75, exact=True, max_work=10 ** 5)
    big = construct("random", 50, 3000)
    with pytest.raises(ConfigurationError, match="limit"):
        certified_margin(big, exact=True)
    assert 240 ** 2 * 12 < EXACT_MAX_WORK


def test_claims_as_exact_numbers():
    # E8 (m = 1/4, b_rel = 3/4) against claims a + b sqrt(D), as the exact-number grammar reads them
    from constellations.core.exact import parse_exact
    c = construct("e8", 8)
    ok = check_claim(c, parse_exact("1/8 + sqrt(2)/100"), Fraction(3, 4), exact=True)
    assert ok.holds
    # m = (1 + sqrt 2)/8 = 0.3017... > 1/4: b_rel + m = 7/8 + sqrt(2)/8 > 1 fails at a matched pair
    bad = check_claim(c, parse_exact("(1 + sqrt(2))/8"), Fraction(3, 4), exact=True)
    v = bad.violation
    assert bad.refuted and v.kind == "matched" and v.value_exact == "1" and v.required_exact == "7/8 + sqrt(2)/8"
    f = check_claim(c, parse_exact("(1 + sqrt(2))/8"), Fraction(3, 4))
    assert f.refuted and f.violation.required_exact == "7/8 + sqrt(2)/8"
    # a decimal is its exact value: 0.26 is 13/50, so b_rel + m = 101/100
    v = check_claim(c, Fraction("0.26"), Fraction(3, 4), exact=True).violation
    assert (v.value_exact, v.required_exact) == ("1", "101/100")
    with pytest.raises(ConfigurationError, match="different square roots"):
        check_claim(c, parse_exact("sqrt(2)/8"), parse_exact("sqrt(3)/2"))

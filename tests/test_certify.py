import numpy as np
import pytest

from constellations import ConfigurationError, certified_margin, check_claim, margin_stats
from constellations.constructions import construct


@pytest.mark.parametrize("kind, dim, n", [("simplex", 4, 5), ("icosahedron", 3, None), ("24-cell", 4, None),
                                          ("cross-polytope", 3, None), ("polygon", 2, 9)])
def test_certified_below_and_close(kind, dim, n):
    c = construct(kind, dim, n)
    cert = certified_margin(c)
    exact = certified_margin(c, exact=True)
    true = c.meta["margin"]
    assert cert.margin_cert <= exact.margin_cert + 1e-30
    assert exact.margin_cert == pytest.approx(true, abs=1e-14)
    assert cert.margin_cert == pytest.approx(exact.margin_cert, abs=1e-12)
    assert cert.margin_cert <= margin_stats(c).margin


def test_e8_certified():
    c = construct("e8", 8)
    cert = certified_margin(c)
    assert cert.margin_cert <= 0.25 and abs(cert.margin_cert - 0.25) < 1e-12


def test_float_and_exact_agree_on_random():
    rng = np.random.default_rng(3)
    for seed in range(3):
        X = rng.standard_normal((3, 12, 5))
        X /= np.linalg.norm(X, axis=-1, keepdims=True)
        f, e = certified_margin(X), certified_margin(X, exact=True)
        assert f.margin_cert <= e.margin_cert
        assert abs(f.margin_cert - e.margin_cert) < 1e-12
        assert abs(e.margin - margin_stats(X).margin) < 1e-14


def test_rounding_cannot_fake_a_tie():
    # Two identical codes with a non-matched pair EXACTLY equal to a matched one: true margin 0.
    P = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    X = np.stack([P, P])
    cert = certified_margin(X)
    assert cert.margin_cert <= 0.0
    assert certified_margin(X, exact=True).margin_cert == 0.0


def test_non_unit_rows_are_accounted_for():
    # Rows scaled by (1 + 1e-9): the certificate is about the exactly normalised rows.
    c = construct("simplex", 3, 4)
    X = c.X * (1 + 1e-9)
    cert = certified_margin(X)
    assert cert.margin_cert <= 4 / 6 and cert.margin_cert > 4 / 6 - 1e-12


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

"""Constellation bounds: margin_upper / margin_lower / dim_lower / dim_upper."""
import csv
import math
from fractions import Fraction

import numpy as np
import pytest

from conftest import REPO

from constellations.core.certify import certified_margin
from constellations.core.configuration import tied
from constellations.codes.constructions import code
from constellations.core.errors import ConstellationsError
from constellations.bounds import (dim_lower, dim_upper, exponent_lower, exponent_upper, kl_exponent, levenshtein_bound,
                            margin_lower, margin_upper, theorem34_upper)

REF = REPO / "data" / "reference" / "spherical_codes.csv"


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
    assert lo.value == certified_margin(tied(P)).margin_certified
    assert lo.value == pytest.approx((1 - 1 / math.sqrt(5)) / 2, abs=1e-14)


def test_delsarte_method_is_at_least_as_tight():
    a, b = margin_upper(24, 4), margin_upper(24, 4, method="delsarte")
    assert b.value <= a.value + 1e-12 and b.value >= 0.25


def test_dimension_bounds():
    lo, hi = dim_lower(100, 0.25), dim_upper(100, 0.25)
    assert lo.value <= hi.value == 7  # 100 of the 126 E7 roots (c = 1/2) in R^7
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
    from constellations.io import load
    # Sloane's 19-point packing in R^3 (data/reference, min angle 47.69 deg) beats the catalogue's spiral
    X = load(REPO / "data" / "reference" / "coordinates" / "sloane" / "pack.3.19.txt")
    base = margin_lower(19, 3)
    lo = margin_lower(19, 3, extra=[X])
    assert lo.method == "construction:extra[0]" and lo.value > base.value
    assert lo.value == certified_margin(X).margin_certified
    assert margin_lower(19, 4, extra=[X]).value >= lo.value  # padded into R^4
    hi = dim_upper(19, Fraction(lo.value), extra=[np.asarray(X.X)])  # above the spiral: only the extra reaches it in R^3
    assert hi.value <= 3
    with pytest.raises(ConstellationsError):
        margin_lower(10, 3, extra=[np.full((2, 10, 3), np.nan)])


# ------------------------------------------------------------------ issue 10: sizes and limits
def test_large_dimension_is_the_simplex_optimum(monkeypatch):
    """m*(N, d) = N/(2(N-1)) for d >= N-1: both bounds give it, however large d is; the N = 5000 simplex is
    a closed form, never built as a 5000 x 4999 array (the builder is watched: a fact, not a timing)."""
    from constellations.codes import constructions
    from constellations.bounds import constellation
    from constellations.bounds.constellation import MAX_ITEMS
    built = []
    code = constructions.code
    monkeypatch.setattr(constructions, "code", lambda kind, dim, *a, **k: built.append((kind, dim)) or
                        code(kind, dim, *a, **k))
    constellation._margin_lower_cached.cache_clear()  # computed here, not remembered from another test
    for N, d in [(10, 9), (10, 10 ** 9), (50, 10 ** 18), (MAX_ITEMS, 10 ** 6)]:
        u, lo = margin_upper(N, d), margin_lower(N, d)
        assert u.method == "theorem-3.4" and u.certificate["value"] == str(Fraction(N, 2 * (N - 1)))
        assert lo.certificate["closed_form_margin"] == u.certificate["value"]
        assert lo.value <= N / (2 * (N - 1)) <= u.value
    assert ("simplex", 9) in built and ("simplex", 49) in built  # small simplices are built and certified
    assert ("simplex", MAX_ITEMS - 1) not in built


def test_too_many_items_refused_before_work():
    from constellations.core.errors import ConfigurationError
    from constellations.bounds.constellation import MAX_ITEMS
    for f, arg in [(margin_upper, 3), (dim_lower, 0.3), (dim_upper, 0.3)]:
        with pytest.raises(ConfigurationError, match=f"limit of {MAX_ITEMS}"):
            f(MAX_ITEMS + 1, arg)
        with pytest.raises(ConfigurationError, match=f"limit of {MAX_ITEMS}"):
            f(10 ** 18, arg)
    # margin_lower asks only the catalogue above MAX_ITEMS; certifying given configurations is refused
    # (the store and the search: tests/test_tables_lower.py)
    with pytest.raises(ConfigurationError, match=f"limit of {MAX_ITEMS}"):
        margin_lower(MAX_ITEMS + 1, 3, extra=[np.zeros((2, MAX_ITEMS + 1, 3))])


def test_large_n_lower_bound_is_the_catalogue():
    # issue 14: Gold code m = 9 (minimum weight 2^8 - 2^4 = 240 in length 511): m = 240/511, from the code's
    # weights: no row is built and nothing is certified in float64 (both are made to raise: no N^2 work)
    from constellations.core import certify
    from constellations.codes import constructions
    from constellations.bounds import constellation

    def forbidden(*a, **k):
        raise AssertionError("N^2 work for N = 32768")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(constructions, "code", forbidden)
        mp.setattr(certify, "certified_margin", forbidden)
        constellation._margin_lower_cached.cache_clear()
        b = margin_lower(32768, 768)
    assert b.certificate["closed_form_margin"] == "240/511" and b.method == "construction:gold(m=9)"
    assert b.value <= 240 / 511 and Fraction(b.value) > Fraction(240, 511) - Fraction(1, 10 ** 15)
    assert "no random candidates" in b.details["note"]
    # nothing in the catalogue for 10^5 points in the plane above its polygon limit: the trivial 0, said so
    b = margin_lower(100000, 2)
    assert b.value == 0.0 and "none applies" in b.details["note"]
    # d >= N - 1: the regular simplex, exactly N/(2(N-1)) rounded down
    b = margin_lower(10 ** 6, 10 ** 6)
    assert Fraction(b.value) <= Fraction(10 ** 6, 2 * (10 ** 6 - 1)) and b.value == pytest.approx(0.5, abs=1e-6)


def test_dim_lower_refuses_a_margin_too_close_to_zero():
    from constellations.core.errors import ConfigurationError
    with pytest.raises(ConfigurationError, match="degree"):
        dim_lower(10, 1e-9)


def test_theorem34_certificate_of_dim_lower_is_complete():
    b = dim_lower(100, 1)
    assert math.isinf(b.value)
    assert b.certificate["formula"] == "N/(2(N-1))" and b.certificate["value"] == "50/99"


def test_random_candidates_capped_in_dimension():
    # N^2 d' <= RANDOM_WORK: a random code built in R^{d'} and padded keeps its margin
    from constellations.bounds.constellation import RANDOM_WORK, construction_candidates
    N = 3000
    cands = construction_candidates(N, 1000, random_seeds=(0,))
    rnd = [c for _, c in cands if c["construction"] == "random"]
    assert rnd and rnd[0]["construction_dim"] == RANDOM_WORK // N ** 2 and rnd[0]["d"] == 1000

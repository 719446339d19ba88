import math
from fractions import Fraction

import numpy as np
import pytest

from constellations import ConfigurationError, margin_stats
from constellations.codes.constructions import (adapters, code_max_inner_product, construct, lift, modality_simplex,
                                          random_code, simplex_code)

CLOSED = [
    ("simplex", 7, 6, 6 / (2 * 5)),
    ("simplex", 3, 2, 1.0),
    ("simplex", 4, 5, 5 / 8),
    ("cross-polytope", 5, None, 0.5),
    ("cross-polytope", 4, 7, 0.5),
    ("polygon", 2, 7, math.sin(math.pi / 7) ** 2),
    ("polygon", 3, 5, math.sin(math.pi / 5) ** 2),
    ("icosahedron", 3, None, (1 - 1 / math.sqrt(5)) / 2),
    ("24-cell", 4, None, 0.25),
    ("600-cell", 4, None, (1 - math.cos(math.radians(36))) / 2),
    ("e8", 8, None, 0.25),
    ("clebsch", 5, None, 0.4),
    ("schlafli", 6, None, 0.375),
    ("gosset", 7, None, 1 / 3),
]


@pytest.mark.parametrize("kind, dim, n, m", CLOSED)
def test_closed_form_margins(kind, dim, n, m):
    c = construct(kind, dim, n)
    s = margin_stats(c)
    assert s.margin == pytest.approx(m, abs=1e-12)
    assert c.meta["margin"] == pytest.approx(m, abs=1e-15)
    assert s.b_rel == pytest.approx(c.meta["b_rel"], abs=1e-12)
    assert np.allclose(np.linalg.norm(c.X, axis=-1), 1, atol=1e-15)


def test_point_counts():
    assert construct("600-cell", 4).N == 120
    assert construct("e8", 8).N == 240
    assert construct("schlafli", 6).N == 27 and construct("gosset", 7).N == 56


@pytest.mark.parametrize("delta, phi", [(0.9, 0.0), (0.8, 0.3), (0.5, 0.5), (1.0, 0.0)])
def test_construction1_lift(delta, phi):
    base = construct("icosahedron", 3)
    c = lift(base, delta, phi)
    m, b = base.meta["margin"], base.meta["b_rel"]
    s = margin_stats(c)
    assert c.d == 5
    assert s.margin == pytest.approx(delta ** 2 * m, abs=1e-12)
    assert s.b_rel == pytest.approx(delta ** 2 * b + phi ** 2 - (1 - delta ** 2 - phi ** 2), abs=1e-12)


@pytest.mark.parametrize("k, delta, base, dim", [(2, 0.8, "cross-polytope", 4), (3, 0.9, "simplex", 5),
                                                 (4, 0.7, "icosahedron", 6), (5, 0.6, "24-cell", 8)])
def test_construction2_modality_simplex(k, delta, base, dim):
    n = 4 if base == "simplex" else None
    c = construct("modality-simplex", dim, n, k, base=base, delta=delta)
    alpha = c.meta["alpha"]
    s = margin_stats(c)
    assert c.M == k and c.d == dim
    assert s.margin == pytest.approx(delta ** 2 * (1 - alpha) / 2, abs=1e-12)
    assert s.b_rel == pytest.approx(delta ** 2 * (1 + alpha) / 2 - (1 - delta ** 2) / (k - 1), abs=1e-12)
    for e in s.per_edge:  # every edge has the same margin
        assert e.margin == pytest.approx(s.margin, abs=1e-12)


def test_adapters_identity():
    base = construct("polygon", 2, 5)
    for delta in (0.3, 0.7, 0.95):
        c = adapters(base, delta)
        G = c.U @ c.V.T
        assert np.allclose(G, delta ** 2 * (base.U @ base.V.T) - (1 - delta ** 2), atol=1e-14)
        assert margin_stats(c).margin == pytest.approx(delta ** 2 * base.meta["margin"], abs=1e-13)


def test_random_code_is_seeded_and_unit():
    a, b = random_code(10, 4, seed=3), random_code(10, 4, seed=3)
    assert np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a, axis=1), 1)
    assert code_max_inner_product(simplex_code(5, 4)) == pytest.approx(-0.25, abs=1e-15)


@pytest.mark.parametrize("args", [("simplex", 3, 5), ("cross-polytope", 2, 5), ("e8", 7, None), ("nope", 3, 3),
                                  ("simplex", 3, 1), ("polygon", 1, 5), ("icosahedron", 3, 13)])
def test_impossible_parameters(args):
    with pytest.raises(ConfigurationError):
        construct(*args)


def test_bad_lift_parameters():
    base = construct("icosahedron", 3)
    with pytest.raises(ConfigurationError):
        lift(base, 0.9, 0.9)
    with pytest.raises(ConfigurationError):
        adapters(base, 1.5)
    with pytest.raises(ConfigurationError):
        modality_simplex(simplex_code(3, 2), 1, 0.5)


# ---------------------------------------------------------------- algebraic codes (issue 14)
ALGEBRAIC = [  # kind, dim, n, exact c (published), size
    ("hadamard", 16, None, Fraction(0), 32),
    ("kerdock", 16, None, Fraction(1, 4), 288),
    ("kerdock", 20, 100, Fraction(1, 4), 100),
    ("gold", 31, None, Fraction(7, 31), 1024),
    ("kasami", 63, None, Fraction(1, 9), 512),
    ("golay", 24, None, Fraction(1, 3), 4096),
    ("bw16", 16, None, Fraction(1, 2), 4320),
    ("leech", 24, 3000, Fraction(1, 2), 3000),
]


@pytest.mark.parametrize("kind, dim, n, c, size", ALGEBRAIC)
def test_algebraic_codes_store_exact_margin(kind, dim, n, c, size):
    from constellations import certified_margin
    cfg = construct(kind, dim, n)
    assert cfg.N == size and cfg.d == dim
    assert cfg.meta["max_inner_product_exact"] == str(c)
    assert cfg.meta["margin"] == float((1 - c) / 2) and cfg.meta["b_rel"] == float((1 + c) / 2)
    cm = certified_margin(cfg)
    assert cm.margin_certified <= cfg.meta["margin"] <= cm.margin_certified + 1e-12


def test_best_kind_uses_the_catalogue():
    cfg = construct("best", 64, 1024)
    assert cfg.meta["margin_exact"] == "7/16" and "recipe" in cfg.meta


def test_lift_error_speaks_of_the_users_dimension():
    with pytest.raises(ConfigurationError) as e:
        construct("lift", 3, 4)
    msg = str(e.value)
    assert "R^1" not in msg and "dim >= 5" in msg and "got dim=3" in msg
    with pytest.raises(ConfigurationError, match="dim >= 5"):
        construct("adapters", 3, 5)


def test_sizes_that_cannot_fit_are_refused_before_allocating():
    with pytest.raises(ConfigurationError, match="limit"):
        construct("random", 64, 10 ** 9)
    with pytest.raises(ConfigurationError, match="limit"):
        random_code(10 ** 9, 64)
    with pytest.raises(ConfigurationError, match="limit"):
        construct("kerdock", 1024)  # 1,050,624 x 1,024 float64 per modality
    with pytest.raises(ConfigurationError, match="largest member"):
        construct("gold", 200, 20000)


# ---------------------------------------------------------------- exact values and zero padding (item 4)
@pytest.mark.parametrize("kind, dim, n, m, b", [
    ("icosahedron", 3, None, "1/2 - sqrt(5)/10", "1/2 + sqrt(5)/10"),   # c = 1/sqrt(5)
    ("600-cell", 4, None, "3/8 - sqrt(5)/8", "5/8 + sqrt(5)/8"),        # c = (1 + sqrt 5)/4
    ("polygon", 2, 8, "1/2 - sqrt(2)/4", "1/2 + sqrt(2)/4"),            # c = cos 45 deg
    ("polygon", 2, 5, "5/8 - sqrt(5)/8", "3/8 + sqrt(5)/8"),            # c = cos 72 deg = (sqrt 5 - 1)/4
    ("simplex", 4, 5, "5/8", "3/8"),                                    # c = -1/4
    ("schlafli", 6, None, "3/8", "5/8"),
])
def test_exact_margins_in_meta(kind, dim, n, m, b):
    c = construct(kind, dim, n)
    assert (c.meta["margin_exact"], c.meta["b_rel_exact"]) == (m, b)


def test_constructions_carry_exact_margins():
    # Construction 1, simplex c = -1/3 (m = 2/3, b = 1/3), delta = 4/5, phi = 3/10: 32/75 and 1/30;
    # Construction 2, cross-polytope c = 0, delta = 9/10, k = 3: m = 81/200, b = 81/200 - (19/100)/2 = 31/100;
    # adapters, delta = 4/5: m = 32/75, b = (16/25)(1/3) - 9/25 = -11/75
    lf = construct("lift", 5, 4, base="simplex", delta=0.8, phi=0.3)
    ms = construct("modality-simplex", 6, 8, 3, base="cross-polytope")
    ad = construct("adapters", 4, 4, base="simplex", delta=0.8)
    got = [(x.meta["margin_exact"], x.meta["b_rel_exact"]) for x in (lf, ms, ad)]
    assert got == [("32/75", "1/30"), ("81/200", "31/100"), ("32/75", "-11/75")]
    assert margin_stats(lf).margin == pytest.approx(32 / 75, abs=1e-14)
    assert "margin_exact" not in construct("lift", 4, 7, base="polygon").meta  # cos(2 pi/7): no closed surd


def test_padded_codes_say_so():
    k = construct("kerdock", 15)
    assert (k.N, k.d, k.meta["native_dim"], k.meta["code"]) == (24, 15, 4, "kerdock(d=4)")
    assert k.meta["note"].startswith("no kerdock code lives in R^15 (kerdock codes: R^4, R^16, R^64")
    assert "24 points in R^4, zero-padded to R^15" in k.meta["note"]
    assert "note" not in construct("kerdock", 16).meta and "note" not in construct("e8", 8).meta
    assert construct("e8", 9).meta["note"] == "e8: 240 points in R^8, zero-padded to R^9"


# ---------------------------------------------------------------- codes for any N: spiral and torus kinds
def test_spiral_kind_reports_the_brute_force_c_and_certifies_below_it():
    from constellations import certified_margin
    cfg = construct("spiral", 3, 50)
    P = cfg.U
    assert (cfg.N, cfg.d, cfg.meta["kind"]) == (50, 3, "spiral") and "margin" not in cfg.meta
    # brute force over all 1225 pairs: the exact inner products of the float64 rows, and their float Gram
    exact = max(sum((Fraction(a) * Fraction(b) for a, b in zip(P[i], P[j])), Fraction(0))
                for i in range(50) for j in range(i + 1, 50))
    G = P @ P.T
    np.fill_diagonal(G, -np.inf)
    c = cfg.meta["max_inner_product"]
    assert c == float(exact) and abs(c - G.max()) <= 4e-16
    cm = certified_margin(cfg)
    m = (1 - c) / 2
    assert cm.margin_certified <= m + 1e-15 and m - cm.margin_certified < 1e-13
    assert margin_stats(cfg).margin == pytest.approx(m, abs=1e-15)


def test_torus_kind_reports_the_closed_form():
    cfg = construct("torus", 4, 30)
    j, k = cfg.meta["j"], cfg.meta["k"]
    assert (j, k) == (2, 6) and k ** j >= 30 > (k - 1) ** j  # the smallest k >= 3 with k^j >= N in R^(2j)
    c = (j - 1 + math.cos(2 * math.pi / k)) / j  # = 3/4
    G = cfg.U @ cfg.U.T
    np.fill_diagonal(G, -np.inf)
    assert cfg.meta["max_inner_product"] == pytest.approx(c, abs=1e-15) and G.max() == pytest.approx(c, abs=1e-15)
    assert (cfg.meta["max_inner_product_exact"], cfg.meta["margin_exact"]) == ("3/4", "1/8")
    assert cfg.meta["margin"] == pytest.approx((1 - c) / 2, abs=1e-15)
    assert margin_stats(cfg).margin == pytest.approx(1 / 8, abs=1e-15)


@pytest.mark.parametrize("args", [("spiral", 2, 10), ("spiral", 3, None), ("torus", 3, 10), ("torus", 4, None),
                                  ("spiral", 3, 1)])
def test_spiral_and_torus_refuse_what_cannot_be(args):
    with pytest.raises(ConfigurationError):
        construct(*args)

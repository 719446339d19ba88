"""Best-construction lookup: known optimal codes, done-when figures, build() agreeing with certify."""
import math
from fractions import Fraction

import pytest

from constellations import ConfigurationError, certified_margin
from constellations.codes.catalogue import best_construction, code_by_name, known_codes

# (N, d, exact margin): optimal or record codes whose c is known in closed form
KNOWN = [
    (4, 3, Fraction(2, 3)),          # regular simplex
    (6, 3, Fraction(1, 2)),          # octahedron
    (24, 4, Fraction(1, 4)),         # 24-cell (D4 roots)
    (240, 8, Fraction(1, 4)),        # E8 roots
    (4320, 16, Fraction(1, 4)),      # BW16 minimal vectors
    (196560, 24, Fraction(1, 4)),    # Leech minimal vectors
    (4096, 24, Fraction(1, 3)),      # Golay code: c = 1 - 2*8/24
    (288, 16, Fraction(3, 8)),       # Kerdock / 9 real MUBs in R^16, c = 1/4
    (4224, 64, Fraction(7, 16)),     # Kerdock d = 64, c = 1/8
    (66048, 256, Fraction(15, 32)),  # Kerdock d = 256, c = 1/16
    (4096, 255, Fraction(8, 17)),    # small Kasami m = 8, c = 1/17
    (2160, 8, Fraction(1, 8)),       # E8 vectors of norm 4: c = 3/4
]


@pytest.mark.parametrize("n, d, m", KNOWN)
def test_known_codes_are_found(n, d, m):
    e = best_construction(n, d)
    assert Fraction(e.margin_exact) >= m
    assert e.margin_certified and e.margin <= float(Fraction(e.margin_exact))
    assert str(n) in e.recipe


def test_icosahedron_margin():
    e = best_construction(12, 3)
    m = (1 - 1 / math.sqrt(5)) / 2
    assert e.code == "icosahedron" and m - 1e-12 <= e.margin <= m


def test_done_when_32768_in_768():
    e = best_construction(32768, 768)
    assert e.margin >= 0.46875 and e.margin_certified
    assert "zero-padded to R^768" in e.recipe
    # gold(m=9): c = (2^5 - 1)/(2^9 - 1), m = 240/511 (better than Kerdock d = 256's 15/32)
    assert Fraction(e.margin_exact) == Fraction(240, 511)


@pytest.mark.parametrize("n, d", [(1000, 64), (500, 32), (8000, 32), (300, 24), (5, 2), (1000, 8)])
def test_build_agrees_with_certified_margin(n, d):
    e = best_construction(n, d)
    cfg = e.build()
    assert (cfg.M, cfg.N, cfg.d) == (2, n, d)
    cm = certified_margin(cfg)
    assert cm.margin_certified <= e.margin + 1e-15  # the certified float64 bound can never exceed the exact value
    assert e.margin <= cm.margin_certified + 1e-12  # and the exact value is what the array has
    assert cfg.meta["margin_exact"] == e.margin_exact


def test_orthogonal_copies():
    # two small Kasami codes (m = 6: 512 points in R^63, c = 1/9) in orthogonal blocks of R^128
    e = best_construction(1024, 128)
    assert e.copies == 2 and e.code == "kasami(m=6)" and Fraction(e.margin_exact) == Fraction(4, 9)
    cfg = e.build()
    assert abs(cfg.U[:512] @ cfg.U[512:].T).max() == 0
    assert certified_margin(cfg).margin_certified <= e.margin <= certified_margin(cfg).margin_certified + 1e-12


def test_lookup_builds_nothing_large():
    e = best_construction(65536, 1024)
    assert Fraction(e.margin_exact) == Fraction(31, 64)  # c = 1/32 (Kerdock d = 1024 ties)
    assert e._rows is not None  # rows are produced only by build()/points()


def test_bad_and_impossible_requests():
    assert best_construction(3, 1) is None  # nothing with 3 distinct directions on a line
    with pytest.raises(ConfigurationError):
        best_construction(1, 3)
    with pytest.raises(ConfigurationError):
        best_construction(10, 3.5)
    with pytest.raises(ConfigurationError):
        code_by_name("nope")
    assert all(K.dim <= 10 for K in known_codes(50, 10))


def test_margin_lower_uses_the_catalogue():
    from constellations.bounds import margin_lower
    b = margin_lower(1000, 64)
    assert b.value == 0.4375 and b.certified  # Kasami m = 6 with all-ones word and parity bit: c = 1/8
    assert b.method.startswith("construction:kasami")
    assert b.certificate["closed_form_margin"] == "7/16" and "recipe" in b.certificate
    assert margin_lower(24, 4).value == 0.25  # where the catalogue is no better, the old answer stays


def test_polygon_bound_is_certified_and_cheap(monkeypatch):
    """The regular N-gon's c = cos(2 pi/N) is bounded above in exact arithmetic (O(1), not an O(N^2)
    float pass): N = 6 gives c >= 1/2 = cos(pi/3), N = 5 gives c >= (sqrt 5 - 1)/4 = cos(2 pi/5)
    (checked as (4c + 1)^2 >= 5), both within 1e-15; N = 20,000 in R^2 answers without building the
    polygon's rows or certifying them in float64 (both are made to raise: a fact, not a timing)."""
    from constellations.codes import catalogue, polytopes
    from constellations.core import certify
    from constellations.codes.catalogue import _polygon, certified_c
    c6, how = certified_c(_polygon(6))
    assert Fraction(1, 2) <= c6 < Fraction(1, 2) + Fraction(1, 10 ** 15) and "exact rational" in how
    c5, _ = certified_c(_polygon(5))
    assert (4 * c5 + 1) ** 2 >= 5 and float(c5) - (math.sqrt(5) - 1) / 4 < 1e-15

    def forbidden(*a, **k):
        raise AssertionError("a float pass over the rows of the 20,000-gon")

    monkeypatch.setattr(polytopes, "polygon_code", forbidden)
    monkeypatch.setattr(certify, "certified_margin", forbidden)
    monkeypatch.delitem(catalogue._CERTIFIED, "polygon@2/20000", raising=False)  # certified here, not cached
    e = best_construction(20000, 2)
    assert e.code == "polygon" and "exact rational" in e.certification
    assert 0 < e.margin <= (1 - math.cos(2 * math.pi / 20000)) / 2

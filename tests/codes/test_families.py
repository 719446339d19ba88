"""Codes for any N (spiral, torus grids), the BW16 norm-6 shell, the E6/E7 roots, and the catalogue's
smallest dimension: values checked against brute force and closed forms."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from constellations.bounds.constellation import dim_upper, margin_lower
from constellations.codes import families as fam
from constellations.codes import lattices as lat
from constellations.codes.binary import reed_muller1_code
from constellations.codes.catalogue import best_construction, smallest_dimension
from constellations.codes.polytopes import e6_code, e7_code


def _max_ip(P):
    G = P @ P.T
    np.fill_diagonal(G, -2.0)
    return float(G.max())


@pytest.mark.parametrize("j, k", [(2, 3), (2, 5), (3, 4), (2, 7), (4, 3)])
def test_torus_grid_c_is_the_closed_form(j, k):
    P = fam.torus_points(j, k)
    assert P.shape == (k ** j, 2 * j)
    assert np.allclose(np.linalg.norm(P, axis=1), 1.0)
    assert _max_ip(P) == pytest.approx((j - 1 + math.cos(2 * math.pi / k)) / j, abs=1e-14)
    assert len(np.unique(np.round(P, 12), axis=0)) == k ** j  # distinct points


def test_torus_shape_is_the_best_grid():
    # N = 1000 in R^4: only j = 2, k = 32 (31^2 = 961 < 1000); in R^8, j = 4, k = 6 beats j = 2, 3
    assert fam.torus_shape(1000, 4) == (2, 32) and fam.torus_shape(1000, 8) == (4, 6)
    assert fam.torus_shape(1000, 3) is None
    n, d = 700, 8
    j, k = fam.torus_shape(n, d)
    for jj in range(2, d // 2 + 1):
        kk = next(kk for kk in range(3, 10 ** 4) if kk ** jj >= n)
        assert fam.torus_c(j, k) <= fam.torus_c(jj, kk) + 1e-15
    e = best_construction(1000, 4)  # the torus grid beats the spiral (m N ~ 2.7) and the polygon
    assert e.code == "torus(j=2, k=32)"
    m = (1 - math.cos(2 * math.pi / 32)) / 4
    assert m - 1e-15 <= e.margin <= m  # certified, rounded down from the exact cosine bound


def test_spiral_min_distance_and_certified_margin():
    P = fam.spiral_code(1000)
    D = math.sqrt(2 - 2 * _max_ip(P))
    assert fam.min_distance(P) == pytest.approx(D, rel=1e-12)
    e = best_construction(1000, 3)
    assert e.code.startswith("spiral") and e.code_dim == 3
    assert 0.002 <= e.margin <= D * D / 4 <= e.margin + 1e-12  # (1 - c)/2 = D^2/4, certified below it
    assert margin_lower(1000, 3).value >= 0.002  # issue: bounds --n 1000 --dim 3 >= 0.002


def test_bw16_norm6_shell_is_the_lattice_shell():
    P = lat.bw16_norm6_vectors().astype(np.int64)
    assert P.shape == (61440, 16)  # the theta series of BW16: 1 + 4320 q^4 + 61440 q^6 + ...
    assert set((P ** 2).sum(axis=1)) == {12} and len(np.unique(P, axis=0)) == 61440
    words = {tuple(w) for w in reed_muller1_code(4).codewords()}
    assert all(tuple(r) in words for r in np.unique(P % 2, axis=0))  # x mod 2 in RM(1, 4)
    assert (P.sum(axis=1) % 4 == 0).all()
    assert lat.shell_max_inner_product("bw16-norm6") == Fraction(2, 3)
    # a random sample of pairs by brute force: never above 8 = (2/3) * 12, and 8 is attained
    rng = np.random.default_rng(0)
    A = P[rng.choice(len(P), 300, replace=False)]
    G = A @ P.T
    G[G == 12] = -99  # the row itself
    assert G.max() == 8


def test_large_n_codes_reach_the_issue_targets():
    assert margin_lower(10000, 16).value >= 1 / 6  # 10,000 points of the BW16 norm-6 shell, c = 2/3
    b = dim_upper(100, Fraction(3, 10))
    assert b.value <= 16 and b.certificate["margin_cert"] >= 0.3


@pytest.mark.parametrize("code, n, d", [(e6_code, 72, 6), (e7_code, 126, 7)])
def test_e6_e7_roots(code, n, d):
    P = code()
    assert P.shape == (n, d) and _max_ip(P) == pytest.approx(0.5, abs=1e-12)
    e = best_construction(n, d)
    assert e.margin == 0.25 and e.code == ("e6" if d == 6 else "e7")


def test_smallest_dimension_is_minimal():
    for n, m in ((100, Fraction(3, 10)), (240, Fraction(1, 4)), (30, Fraction(2, 5)), (12, Fraction(1, 2))):
        e = smallest_dimension(n, m)
        assert Fraction(e.margin_exact) >= m
        below = best_construction(n, e.dim - 1) if e.dim > 1 else None
        assert below is None or Fraction(below.margin_exact) < m
    assert smallest_dimension(10, Fraction(6, 10)) is None  # above N/(2(N-1)) = 5/9: Theorem 3.4
    assert smallest_dimension(240, Fraction(1, 4)).dim == 8  # E8 roots

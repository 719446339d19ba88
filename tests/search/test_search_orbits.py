"""Structured starts of issue 11: cyclic orbit codes searched in their exponents, and the E6 / E7
root systems (src/constellations/search/starts.py, src/constellations/codes/constructions.py)."""
import math

import numpy as np
import pytest

from constellations.codes.constructions import code_max_inner_product as _cmax, e6_code, e7_code
from constellations.core.margins import code_margin
from constellations.search import search
from constellations.search.starts import cyclic_orbit_code, structured_starts


@pytest.mark.parametrize("build,n,dim", [(e6_code, 72, 6), (e7_code, 126, 7)])
def test_root_systems(build, n, dim):
    """E6 and E7 roots: 72 and 126 unit vectors, kissing configurations of their lattices (roots of
    norm sqrt 2 with integer inner products: cosines in {0, +-1/2, +-1}), c = 1/2."""
    C = build()
    assert C.shape == (n, dim) and np.allclose(np.linalg.norm(C, axis=1), 1.0)
    G = C @ C.T
    np.fill_diagonal(G, 0.0)
    assert np.allclose(2 * G, np.round(2 * G), atol=1e-12)
    assert abs(_cmax(C) - 0.5) < 1e-12
    assert len(np.unique(np.round(C, 9), axis=0)) == n


@pytest.mark.parametrize("n,dim,c", [
    (5, 4, -1 / 4),               # the regular simplex in R^4 (a = (1, 2)), optimal
    (8, 4, 0.0),                  # the cross-polytope (a = (1, 3)), optimal (Rankin)
    (7, 2, math.cos(2 * math.pi / 7)),  # the regular heptagon (k = 1)
    (6, 3, 0.5),                  # d odd: the hexagon in a plane of R^3
])
def test_cyclic_orbit_reaches_the_known_codes(n, dim, c):
    a, C, cmax = cyclic_orbit_code(n, dim)
    assert C.shape == (n, dim) and np.allclose(np.linalg.norm(C, axis=1), 1.0)
    assert abs(cmax - c) < 1e-12 and abs(_cmax(C) - c) < 1e-12


def test_orbit_formula_matches_the_points():
    """c(a) = max_j (1/k) sum_i cos(2 pi a_i j / N) is the largest cosine of the orbit: the group
    acts transitively, so row 0 sees every distance; checked on exponents drawn at random."""
    rng = np.random.default_rng(0)
    for _ in range(5):
        n, dim = int(rng.integers(20, 60)), int(rng.integers(4, 9))
        a, C, cmax = cyclic_orbit_code(n, dim, rng=rng, tries=50)
        assert abs(_cmax(C) - cmax) < 1e-12
        assert all(1 <= x <= n // 2 for x in a) and len(set(a)) == len(a)
    assert cyclic_orbit_code(5, 1) is None and cyclic_orbit_code(2, 4) is None


def test_pool_has_the_new_members():
    names = [nm for nm, _ in structured_starts(16, 5, limit=20)]
    assert "Clebsch" in names and any(nm.startswith("cyclic orbit") for nm in names)
    names = [nm for nm, _ in structured_starts(56, 7, limit=20)]
    assert "Gosset" in names and "E7 roots" in names


def test_structured_search_from_the_orbit_start():
    """N = 8, d = 4 by strategy "structured": the cross-polytope (c = 0, m = 1/2, optimal by
    Rankin), with one restart and no moves."""
    r = search(8, 4, tied=True, restarts=1, hops=0, seed=0, strategy="structured", constructions=False)
    assert abs(r.margin - 0.5) < 1e-12 and abs(code_margin(r.config.X[0]) - 0.5) < 1e-12

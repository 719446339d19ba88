"""Lattice shells: counts from theta series / kissing numbers, exact c, symmetry certificates."""
from fractions import Fraction

import numpy as np
import pytest

from constellations import ConfigurationError, certified_margin, tied
from constellations.codes import lattices as lat


def _unit(P):
    P = P.astype(np.float64)
    return P / np.linalg.norm(P, axis=1, keepdims=True)


@pytest.mark.parametrize("k, size", [(1, 240), (2, 2160), (3, 6720), (4, 17520)])
def test_e8_shell_sizes_are_240_sigma3(k, size):
    P = lat.e8_shell(k)
    assert P.shape == (size, 8)
    assert set(((P.astype(int) ** 2).sum(axis=1)).tolist()) == {8 * k}
    assert len(np.unique(P, axis=0)) == size
    assert (P.sum(axis=1) % 4 == 0).all()


def test_e8_shell_max_inner_products():
    # shell k: distinct x, y of E8 norm 2k differ by a nonzero lattice vector (norm >= 2), so <x,y> <= 2k - 1
    for k in (1, 2, 3):
        assert lat.shell_max_inner_product(f"e8-shell{k}") == Fraction(2 * k - 1, 2 * k)


def test_symmetry_reduction_agrees_with_all_pairs():
    P = lat.e8_shell(2)
    full, rows_full = lat.integer_max_inner_product(P)
    red, rows_red = lat.integer_max_inner_product(P, lat._d8_symmetries())
    assert full == red == 12 and rows_full == 2160 and rows_red < 10


def test_dn_roots():
    for n in (3, 5, 8):
        P = lat.dn_roots(n)
        assert P.shape == (2 * n * (n - 1), n)
        assert lat.shell_max_inner_product(f"dn-roots{n}") == Fraction(1, 2)


def test_bw16_kissing_configuration():
    P = lat.bw16_min_vectors()
    assert P.shape == (4320, 16)  # kissing number of BW16
    assert len(np.unique(P, axis=0)) == 4320
    assert set(((P.astype(int) ** 2).sum(axis=1)).tolist()) == {8}
    assert lat.shell_max_inner_product("bw16") == Fraction(1, 2)
    cm = certified_margin(tied(_unit(P)))
    assert cm.margin_certified <= 0.25 <= cm.margin_certified + 1e-12


def test_leech_min_vectors_and_exact_c():
    P = lat.leech_min_vectors()
    assert P.shape == (196560, 24)  # kissing number of the Leech lattice
    assert set(((P.astype(int) ** 2).sum(axis=1)).tolist()) == {32}
    shapes = np.sort(np.abs(P), axis=1)[:, ::-1]
    counts = {}
    for key in map(tuple, shapes[:, :3]):
        counts[key] = counts.get(key, 0) + 1
    assert counts == {(2, 2, 2): 97152, (3, 1, 1): 98304, (4, 4, 0): 1104}
    top, reps = lat.integer_max_inner_product(P, lat.leech_symmetries())
    assert top == 16 and reps < 100
    # the same bound by brute force on a sample, and certified_margin agreeing on it
    rng = np.random.default_rng(0)
    S = P[rng.choice(len(P), 1500, replace=False)]
    assert lat.integer_max_inner_product(S)[0] <= 16
    cm = certified_margin(tied(_unit(S)))
    assert cm.margin_certified <= 0.25 + 1e-15


def test_a_non_symmetry_is_refused():
    P = lat.leech_min_vectors()[:0:-1].copy()  # drop one row: sign changes no longer preserve it
    with pytest.raises(ConfigurationError, match="onto itself"):
        lat.integer_max_inner_product(P, lat.leech_symmetries())
    Q = lat.leech_min_vectors()
    flip = np.ones(24, dtype=np.int8)
    flip[0] = -1  # one sign change flips an odd number of signs on octads through 0
    with pytest.raises(ConfigurationError, match="onto itself"):
        lat.integer_max_inner_product(Q, [(np.arange(24), flip)])
    with pytest.raises(ConfigurationError):
        lat.e8_shell(9)

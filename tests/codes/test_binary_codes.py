"""Binary and Z4 codes: parameters against published tables, exact c against certified_margin."""
from fractions import Fraction

import numpy as np
import pytest

from constellations import ConfigurationError, certified_margin, tied
from constellations.codes import binary as bc
from constellations.codes.constructions import cell24_code

# Narrow-sense primitive BCH codes [n, k, d] (MacWilliams & Sloane, Fig. 9.1; d = Bose distance here)
BCH = [(4, 5, 7, 5), (4, 7, 5, 7), (5, 5, 21, 5), (5, 7, 16, 7), (5, 11, 11, 11), (5, 15, 6, 15),
       (6, 21, 18, 21), (6, 23, 16, 23), (6, 27, 10, 27), (6, 31, 7, 31), (7, 55, 15, 55)]


@pytest.mark.parametrize("m, delta, k, d", BCH)
def test_bch_parameters_match_published_table(m, delta, k, d):
    C = bc.bch_code(m, delta)
    assert (C.n, C.k) == ((1 << m) - 1, k)
    assert C.weights()[0] == d
    assert C.weights()[1] == C.n  # narrow-sense BCH codes contain the all-ones word
    assert (delta, k) in bc.bch_parameters(m)


def test_golay_weight_distribution():
    C = bc.golay_code()
    w, cnt = np.unique(C.codewords().sum(axis=1), return_counts=True)
    assert w.tolist() == [0, 8, 12, 16, 24] and cnt.tolist() == [1, 759, 2576, 759, 1]


@pytest.mark.parametrize("m", [3, 5, 7])
def test_gold_weight_distribution(m):
    # MacWilliams & Sloane (dual of the double-error-correcting BCH code, m odd):
    # A(2^{m-1} -+ 2^{(m-1)/2}) = (2^m-1)(2^{m-2} +- 2^{(m-3)/2}),  A(2^{m-1}) = (2^m-1)(2^{m-1}+1)
    C = bc.gold_code(m)
    n, h, r, q = (1 << m) - 1, 1 << (m - 1), 1 << ((m - 1) // 2), 1 << ((m - 3) // 2)
    w, cnt = np.unique(C.codewords().sum(axis=1), return_counts=True)
    expect = {0: 1, h - r: n * ((h >> 1) + q), h: n * (h + 1), h + r: n * ((h >> 1) - q)}
    assert dict(zip(w.tolist(), cnt.tolist())) == expect
    assert C.max_inner_product() == Fraction((1 << ((m + 1) // 2)) - 1, n)


@pytest.mark.parametrize("m", [4, 6, 8, 10])
def test_small_kasami_weights(m):
    C = bc.kasami_code(m)
    h, r = 1 << (m - 1), 1 << (m // 2 - 1)
    assert C.k == 3 * m // 2
    assert C.weights() == (h - r, h + r)
    assert C.max_inner_product() == Fraction(1, (1 << (m // 2)) + 1)


def test_reed_muller_is_hadamard():
    C = bc.reed_muller1_code(5)
    assert (C.n, C.size) == (32, 64) and C.weights() == (16, 32)
    P = C.points()
    G = P @ P.T
    assert set(np.round(np.unique(G), 12).tolist()) == {-1.0, 0.0, 1.0}


@pytest.mark.parametrize("d", [4, 16, 64])
def test_kerdock_is_a_set_of_mutually_unbiased_bases(d):
    P = bc.kerdock_points(d)
    assert P.shape == (d * (d + 2), d)
    assert bc.kerdock_max_inner_product(d) == Fraction(1, int(np.sqrt(d)))
    G = np.rint(P @ P.T * np.sqrt(d) * np.sqrt(d)).astype(int)  # d <x, y>: integers
    s = int(np.sqrt(d))
    for i in (0, 1, d * d - 1, d * d, len(P) - 1):  # a Gray image, and a +-e_i
        row = np.delete(G[i], i)
        vals, cnt = np.unique(row, return_counts=True)
        # d/2 + 1 antipodal orthonormal bases: 1 antipode, 2d - 2 orthogonal, d/2 * 2d = d^2 at +-1/sqrt(d)
        assert dict(zip(vals.tolist(), cnt.tolist())) == {-d: 1, -s: d * d // 2, 0: 2 * d - 2, s: d * d // 2}
    cm = certified_margin(tied(P))
    m = (1 - 1 / np.sqrt(d)) / 2
    assert cm.margin_certified <= m <= cm.margin_certified + 1e-12


def test_kerdock_d4_is_the_24_cell():
    P = bc.kerdock_points(4)
    A, B = np.sort((P @ P.T).ravel()), np.sort((cell24_code() @ cell24_code().T).ravel())
    assert np.allclose(A, B, atol=1e-14)


@pytest.mark.parametrize("d, size", [(256, 66048), (1024, 1050624)])
def test_kerdock_large_exact(d, size):
    assert bc.kerdock_size(d) == size
    assert bc.kerdock_max_inner_product(d) == Fraction(1, int(np.sqrt(d)))
    P = bc.kerdock_points(d, 1000, 2000)  # only the requested rows are built
    assert P.shape == (1000, d) and np.allclose((P ** 2).sum(axis=1), 1)


def test_binary_code_c_agrees_with_certified_margin():
    for C in (bc.gold_code(5), bc.kasami_code(6).with_all_ones().extended(), bc.bch_code(5, 11)):
        c = C.max_inner_product()
        cm = certified_margin(tied(C.points()))
        m = (1 - c) / 2
        assert cm.margin_certified <= m <= Fraction(cm.margin_certified) + Fraction(1, 10 ** 12)


def test_variants_and_refusals():
    C = bc.gold_code(5)
    assert C.with_all_ones().k == 11 and C.extended().n == 32
    assert C.with_all_ones().weights() == (11, 31)
    with pytest.raises(ConfigurationError):
        bc.gold_code(4)
    with pytest.raises(ConfigurationError):
        bc.kasami_code(5)
    with pytest.raises(ConfigurationError):
        bc.kerdock_points(32)
    big = bc.BinaryCode("big", np.eye(bc.MAX_MESSAGE_BITS + 1, dtype=np.uint8))
    with pytest.raises(ConfigurationError, match="too many"):
        big.weights()
    dep = bc.BinaryCode("dep", np.array([[1, 0, 1], [1, 0, 1]], dtype=np.uint8))
    with pytest.raises(ConfigurationError, match="dependent"):
        dep.weights()

"""Levenshtein bound: sharp cases exactly, kissing values, Rankin, exact arithmetic."""
from fractions import Fraction

import pytest

from constellations.core.errors import ConstellationsError
from constellations.bounds import Quadratic, kissing_bound, levenshtein_bound, levenshtein_float, rankin_bound, to_exact

# docs/math.md 5.3: cases where the Levenshtein bound equals the true A(n, s)
SHARP = [(3, "1/sqrt(5)", 12), (5, "1/5", 16), (6, "1/4", 27), (7, "1/3", 56), (8, "1/2", 240),
         (21, "1/9", 112), (22, "1/6", 275), (23, "1/3", 4600), (24, "1/2", 196560)]


@pytest.mark.parametrize("n,s,A", SHARP)
def test_sharp_cases_are_exact(n, s, A):
    b = levenshtein_bound(n, s)
    assert b.value == A
    assert b.details["exact"] == str(A)  # the exact rational (or surd) value is the integer itself
    assert b.certificate["bound"] == str(A)


def test_kissing_values_from_math_md():
    expected = {3: 13.2857, 4: 26.0, 5: 48.0, 6: 84.0, 7: 142.15, 16: 8364.0}
    for n, v in expected.items():
        b = kissing_bound(n)
        assert b.details["real"] == pytest.approx(v, abs=6e-3), n
        assert b.value == int(v)
    assert levenshtein_bound(3, Fraction(1, 2)).details["exact"] == "93/7"


def test_rankin_and_simplex_range():
    for n in (2, 3, 5, 10):
        # simplex: A(n, -1/n) = n + 1; cross-polytope: A(n, 0) = 2n; antipodal: A(n, -1) = 2
        assert levenshtein_bound(n, Fraction(-1, n)).value == n + 1
        assert levenshtein_bound(n, 0).value == 2 * n
        assert levenshtein_bound(n, -1).value == 2
        assert rankin_bound(n, Fraction(-1, 3)).value == 4
        assert rankin_bound(n, 0).value == 2 * n
    # degree-2 closed form 2n(1-s)/(1-ns) for -1/n <= s < 0
    b = levenshtein_bound(4, Fraction(-1, 10))
    assert Fraction(b.details["exact"]) == Fraction(2 * 4 * 11, 10) / Fraction(14, 10)


def test_certificate_coefficients_sum_to_the_bound():
    # f(1)/f_0 = sum_k f_k/f_0 since G_k(1) = 1; all coefficients nonnegative
    for n, s in [(4, "1/2"), (8, "1/2"), (10, "0.3"), (3, "0.9")]:
        b = levenshtein_bound(n, s)
        co = [Fraction(c) for c in b.certificate["gegenbauer_coefficients"]]
        assert co[0] == 1 and all(c >= 0 for c in co)
        assert sum(co) == Fraction(b.details["exact"])


def test_float_evaluation_agrees_with_exact():
    for n in (2, 3, 5, 9, 17):
        for s in (-0.7, -0.05, 0.1, 0.37, 0.62, 0.85):
            b = levenshtein_bound(n, s)
            assert levenshtein_float(n, s) == pytest.approx(b.details["real"], rel=1e-9)


def test_monotone_in_s_and_n():
    vals = [levenshtein_bound(6, s).details["real"] for s in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)]
    assert vals == sorted(vals)
    vals = [levenshtein_bound(n, 0.4).details["real"] for n in range(2, 12)]
    assert vals == sorted(vals)


def test_float_input_is_taken_exactly():
    # a float is read as the decimal it prints as; just below 1/sqrt(5) the true A(3, s) is 11
    # (Tammes, 12 points need max inner product >= 1/sqrt(5)), and the bound must not claim 12 by rounding
    import math
    s = 1 / math.sqrt(5)
    exact = Quadratic(0, Fraction(1, 5), 5)
    assert to_exact(s) == Fraction(repr(s)) and to_exact(0.4) == Fraction(2, 5)
    b = levenshtein_bound(3, s)
    assert (Fraction(repr(s)) < exact) == (b.value == 11)
    assert levenshtein_bound(3, Fraction(repr(s)) - Fraction(1, 10 ** 12)).value == 11


def test_quadratic_arithmetic():
    r = to_exact("1/sqrt(5)")
    assert isinstance(r, Quadratic) and r * r == Fraction(1, 5)
    assert to_exact("sqrt(8)") == Quadratic(0, 2, 2)
    phi = to_exact("(1+sqrt(5))/4")
    assert phi > Fraction(8, 10) and phi < Fraction(81, 100)
    assert (phi - phi) == 0 and (1 / r) * r == 1


@pytest.mark.parametrize("n,s", [(3, 1), (3, 1.5), (3, -1.01), (1, 0.5), (3, "nan"), (3, "abc"),
                                 (2.5, 0.5), (3, float("inf")), (3, "cbrt(2)")])
def test_bad_input(n, s):
    with pytest.raises(ConstellationsError):
        levenshtein_bound(n, s)

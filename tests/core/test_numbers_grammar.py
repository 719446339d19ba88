"""The strict grammar for numbers typed by users (src/constellations/core/exact.py, parse_exact)."""
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from constellations.core.errors import ConfigurationError
from constellations.core.exact import ACCEPTED_FORMS, Quadratic, parse_exact, to_exact
from constellations.bounds.levenshtein import (MAX_DEGREE, _largest_zero, levenshtein_bound,
                                                       levenshtein_degree)


@pytest.mark.parametrize("text,value", [
    ("0.4", Fraction(2, 5)),                      # the decimal it prints, not the binary double
    ("-.5", Fraction(-1, 2)),
    ("1e-3", Fraction(1, 1000)),
    ("2.5E2", Fraction(250)),
    (" 7 ", Fraction(7)),
    ("1/2", Fraction(1, 2)),
    ("-3/4", Fraction(-3, 4)),
    ("sqrt(4)", Fraction(2)),
    ("sqrt(9/4)", Fraction(3, 2)),
    ("sqrt(5)", Quadratic(0, 1, 5)),
    ("1/sqrt(5)", Quadratic(0, Fraction(1, 5), 5)),
    ("sqrt(5)/5", Quadratic(0, Fraction(1, 5), 5)),
    ("sqrt(8)", Quadratic(0, 2, 2)),              # 8 = 2^2 * 2
    ("sqrt(1/2)", Quadratic(0, Fraction(1, 2), 2)),
    ("2/3*sqrt(3)", Quadratic(0, Fraction(2, 3), 3)),
    ("1 + 2*sqrt(3)", Quadratic(1, 2, 3)),
    ("1 - 2*sqrt(3)", Quadratic(1, -2, 3)),
    ("(1+sqrt(5))/4", Quadratic(Fraction(1, 4), Fraction(1, 4), 5)),   # cos(pi/5)
    ("-(1-sqrt(2))", Quadratic(-1, 1, 2)),
    ("sqrt(2)*sqrt(2) + sqrt(3)", Quadratic(2, 1, 3)),                  # sqrt(2)^2 = 2 is rational
    ("(2+sqrt(3))*(2-sqrt(3))", Fraction(1)),
])
def test_accepted_forms(text, value):
    assert parse_exact(text) == value


def test_known_algebraic_values():
    # cos(pi/5) = (1 + sqrt 5)/4 is a root of 4x^2 - 2x - 1; 1/sqrt(5)^2 = 1/5 (icosahedron)
    c = parse_exact("(1+sqrt(5))/4")
    assert 4 * c * c - 2 * c - 1 == 0
    assert abs(float(c) - math.cos(math.pi / 5)) < 1e-15
    r = parse_exact("1/sqrt(5)")
    assert r * r == Fraction(1, 5)


EXPLOITS = ["__import__('os').system('touch PWNED') or 0.5", "__import__('sys').exit(7)",
            "exec('1')", "lambda: 0", "0.5; 1", "open('x')", "x", "E", "pi", "oo", "I", "zoo"]
BAD = ["", " ", "nan", "inf", "-inf", "2**3", "2^3", "sqrt(2)+sqrt(3)", "1/0", "sqrt(-1)",
       "sqrt(sqrt(2))", "sqrt(2", "(1", "1)", "1 2", "0x10", "1_000", "1e", "cbrt(2)", "1e100000",
       "(" * 20 + "1" + ")" * 20, "1" * 201, "sqrt(10000000000007)", "1/(1-1)", "--", "+"]


@pytest.mark.parametrize("text", EXPLOITS + BAD)
def test_rejected_with_the_accepted_forms(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError) as e:
        parse_exact(text, "margin m")
    msg = str(e.value)
    assert "accepted forms" in msg and ACCEPTED_FORMS in msg and "\n" not in msg
    assert not (tmp_path / "PWNED").exists()


def test_no_sympy_evaluation(monkeypatch):
    sympy = pytest.importorskip("sympy")

    def boom(*a, **k):  # any call to sympy's evaluators fails the test
        raise AssertionError("sympify called on user text")
    monkeypatch.setattr(sympy, "sympify", boom)
    monkeypatch.setattr(sympy, "parse_expr", boom, raising=False)
    assert to_exact("(1+sqrt(5))/4") == Quadratic(Fraction(1, 4), Fraction(1, 4), 5)
    # a sympy number is read through its printed form
    assert to_exact(sympy.sqrt(5) / 5) == Quadratic(0, Fraction(1, 5), 5)
    assert to_exact(sympy.Rational(3, 7)) == Fraction(3, 7)


def test_float_is_the_decimal_it_prints():
    assert to_exact(0.4) == Fraction(2, 5) != Fraction(0.4)
    assert to_exact(0.1) == parse_exact("0.1") == Fraction(1, 10)


def test_parse_work_is_bounded_on_hostile_sizes(monkeypatch):
    """At the size limits (docs/math.md 6.4) the values are exact and small, and the only loop, the
    squarefree split by trial division, meets one radicand <= 10^12 (at most 10^6 steps; 999999999989 is
    the largest prime below 10^12, so the split goes all the way): bounded work, a fact, not a timing.
    Past the limits the text is refused before any arithmetic."""
    from constellations.core import exact

    radicands = []
    split = exact._squarefree_split
    monkeypatch.setattr(exact, "_squarefree_split", lambda D: radicands.append(D) or split(D))
    assert parse_exact("9" * 199) == 10 ** 199 - 1
    assert parse_exact("1e400") == 10 ** 400 and parse_exact("1e-400") == Fraction(1, 10 ** 400)
    assert parse_exact("sqrt(999999999989)") == Quadratic(0, 1, 999999999989)
    assert parse_exact("-" * 15 + "1") == -1
    assert radicands == [999999999989]
    for text in ["1e401", "-" * 30 + "1", "9" * 300, "sqrt(1000000000001)"]:
        with pytest.raises(ConfigurationError):
            parse_exact(text)
    assert radicands == [999999999989]  # the refused radicand 10^12 + 1 was never split


SQUAREFREE = [2, 3, 5, 6, 7, 10, 11, 13, 14, 15, 17, 19, 21, 22, 23]
fracs = st.fractions(min_value=-1000, max_value=1000, max_denominator=1000)


@settings(max_examples=200, deadline=None)
@given(fracs, fracs.filter(lambda b: b != 0), st.sampled_from(SQUAREFREE), st.integers(1, 50))
def test_roundtrip_a_plus_b_sqrt_k(a, b, k, q):
    # (a + b*sqrt(k))/q written in the accepted forms reads back exactly
    sign = "+" if b >= 0 else "-"
    text = f"(({a.numerator}/{a.denominator}) {sign} {abs(b.numerator)}/{b.denominator}*sqrt({k}))/{q}"
    assert parse_exact(text) == Quadratic(a / q, b / q, k)
    assert parse_exact(str(Quadratic(a, b, k))) == Quadratic(a, b, k)   # exact_str round-trips


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.+-*/() esqrtabcxyz_'\"[]{}:;,=<>!@#$%^&|~`\\", max_size=40))
def test_fuzz_only_configuration_errors(text):
    # anything either parses to an exact number or is a ConfigurationError, never another error
    try:
        v = parse_exact(text)
    except ConfigurationError:
        return
    assert isinstance(v, (Fraction, Quadratic))


# ------------------------------------------------------------------ Levenshtein degree (costs)
def _degree_linear(n, s):
    """The former linear scan (reference): tau = 2k-1 if s < t_k^{1,0}, 2k if s < t_k^{1,1}."""
    a = (n - 3) / 2
    k = 1
    while True:
        if s < _largest_zero(k, a + 1, a):
            return 2 * k - 1
        if s < _largest_zero(k, a + 1, a + 1):
            return 2 * k
        k += 1


@pytest.mark.parametrize("n", [2, 3, 4, 8, 24])
def test_degree_bisection_matches_the_scan(n):
    for s in [-1.0, -0.5, 0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95]:
        assert levenshtein_degree(n, s) == _degree_linear(n, s)


def test_largest_zero_matches_scipy_and_survives_huge_n():
    from scipy.special import roots_jacobi
    for n in (2, 3, 10, 100):
        a = (n - 3) / 2
        for k in (1, 2, 5, 40):
            for ab in ((a + 1, a), (a + 1, a + 1)):
                assert abs(_largest_zero(k, *ab) - roots_jacobi(k, *ab)[0].max()) < 1e-12
    # P_1^{(a+1, a)}(t) has its zero at -1/(2a+3) = -1/n: closed form
    for n in (10 ** 6, 10 ** 12):
        a = (n - 3) / 2
        assert abs(_largest_zero(1, a + 1, a) + 1 / n) < 1e-15
        assert math.isfinite(_largest_zero(201, a + 1, a))


def test_degree_limit_refused_up_front(monkeypatch):
    """Refused before any exact arithmetic (the polynomial is never built), after a handful of float zeros
    (the degree is found by doubling and bisection, at most 2 log2(MAX_DEGREE) + 3 of them): it was a silent
    scan of 5000 SciPy root computations.  Counted, not timed."""
    from constellations.bounds import levenshtein

    def forbidden(*a, **k):
        raise AssertionError("exact arithmetic started above the degree limit")

    zeros = []
    largest_zero = levenshtein._largest_zero
    monkeypatch.setattr(levenshtein, "_largest_zero", lambda *a: zeros.append(a) or largest_zero(*a))
    monkeypatch.setattr(levenshtein, "levenshtein_polynomial", forbidden)
    monkeypatch.setattr(levenshtein, "jacobi_monomials", forbidden)
    for n, s in [(3, 1 - 2e-9), (10 ** 6, 0.5), (10 ** 18, 0.9)]:
        zeros.clear()
        with pytest.raises(ConfigurationError, match=f"limit of {MAX_DEGREE}"):
            levenshtein_bound(n, s)
        assert 1 <= len(zeros) <= 2 * math.log2(MAX_DEGREE) + 3, (n, s, len(zeros))


def test_huge_dimension_at_s_zero_is_2n():
    # A(n, 0) = 2n (the cross-polytope; Rankin) and Levenshtein is sharp there
    for n in (10 ** 6, 10 ** 18):
        assert levenshtein_bound(n, 0).value == 2 * n


def test_code_dimension_limit():
    from constellations.bounds import delsarte_lp_bound, rankin_bound
    for f in (levenshtein_bound, rankin_bound, delsarte_lp_bound):
        with pytest.raises(ConfigurationError, match="10\\^18"):
            f(10 ** 400, 0)

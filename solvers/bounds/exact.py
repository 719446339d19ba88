r"""Exact numbers for certified bounds: rationals and real quadratic surds.

Every certified inequality in :mod:`solvers.bounds` is checked in exact arithmetic.  The
parameters (an inner-product bound s, a margin m, a relative bias) are therefore converted to
exact numbers first:

* ``int``, :class:`fractions.Fraction`, decimal strings ``"0.5"`` and fractions ``"1/2"`` become
  Fractions;
* a Python ``float`` becomes the decimal it prints as (the shortest repr that round-trips:
  0.4 -> 2/5, 0.1 -> 1/10), i.e. the number a user typed; ``Fraction(x)`` gives the binary value
  if that is what is meant;
* expressions with one square root, ``"1/sqrt(5)"``, ``"sqrt(5)/5"``, ``"(1+sqrt(5))/4"``, become
  a :class:`Quadratic` a + b sqrt(D) (a, b rational, D a squarefree integer > 1), which supports
  +, -, *, / and exact comparisons, so polynomials with such coefficients can be evaluated and
  their signs decided exactly.

Directed rounding to floats: :func:`float_up` and :func:`float_down` return the nearest float
on the stated side of an exact number, so a float reported as an upper (lower) bound is one.
"""
from __future__ import annotations

import math
from fractions import Fraction
from numbers import Rational

import numpy as np

from constellations.errors import ConstellationsError

__all__ = ["Quadratic", "to_exact", "to_int", "float_up", "float_down", "floor_exact", "exact_str",
           "rational_upper", "rational_lower", "as_float"]


def _isqrt_exact(n: int):
    r = math.isqrt(n)
    return r if r * r == n else None


def _squarefree_split(D: int):
    """Return (c, D0) with D = c^2 D0 and D0 squarefree (trial division; D is small here)."""
    c, D0, p = 1, D, 2
    while p * p <= D0:
        while D0 % (p * p) == 0:
            D0 //= p * p
            c *= p
        p += 1
    return c, D0


class Quadratic:
    """The real number a + b*sqrt(D), with a, b Fractions and D > 1 squarefree.

    Arithmetic with ints, Fractions and Quadratics of the same D is exact; comparisons are
    decided exactly (sign of a + b sqrt(D) from the signs of a, b and of a^2 - b^2 D).
    """

    __slots__ = ("a", "b", "D")

    def __init__(self, a, b, D: int):
        self.a = Fraction(a)
        self.b = Fraction(b)
        self.D = int(D)

    # -- helpers ---------------------------------------------------------------------------
    def _coerce(self, other):
        if isinstance(other, Quadratic):
            if other.D != self.D:
                raise ConstellationsError(
                    f"cannot combine sqrt({self.D}) and sqrt({other.D}) exactly")
            return other
        if isinstance(other, (int, Fraction)):
            return Quadratic(other, 0, self.D)
        return NotImplemented

    def sign(self) -> int:
        sa = (self.a > 0) - (self.a < 0)
        sb = (self.b > 0) - (self.b < 0)
        if sb == 0:
            return sa
        if sa == 0 or sa == sb:
            return sb
        # opposite signs: compare a^2 with b^2 D
        diff = self.a * self.a - self.b * self.b * self.D
        return sa if diff > 0 else (0 if diff == 0 else sb)

    def simplify(self):
        return self.a if self.b == 0 else self

    # -- arithmetic ------------------------------------------------------------------------
    def __add__(self, o):
        o = self._coerce(o)
        if o is NotImplemented:
            return o
        return Quadratic(self.a + o.a, self.b + o.b, self.D)

    __radd__ = __add__

    def __neg__(self):
        return Quadratic(-self.a, -self.b, self.D)

    def __sub__(self, o):
        o = self._coerce(o)
        if o is NotImplemented:
            return o
        return Quadratic(self.a - o.a, self.b - o.b, self.D)

    def __rsub__(self, o):
        o = self._coerce(o)
        if o is NotImplemented:
            return o
        return o - self

    def __mul__(self, o):
        o = self._coerce(o)
        if o is NotImplemented:
            return o
        return Quadratic(self.a * o.a + self.b * o.b * self.D, self.a * o.b + self.b * o.a, self.D)

    __rmul__ = __mul__

    def inverse(self):
        n = self.a * self.a - self.b * self.b * self.D
        if n == 0:
            raise ZeroDivisionError("division by zero")
        return Quadratic(self.a / n, -self.b / n, self.D)

    def __truediv__(self, o):
        o = self._coerce(o)
        if o is NotImplemented:
            return o
        return self * o.inverse()

    def __rtruediv__(self, o):
        o = self._coerce(o)
        if o is NotImplemented:
            return o
        return o * self.inverse()

    def __pow__(self, k: int):
        if not isinstance(k, int) or k < 0:
            raise ValueError("only nonnegative integer powers")
        r = Quadratic(1, 0, self.D)
        base = self
        while k:
            if k & 1:
                r = r * base
            base = base * base
            k >>= 1
        return r

    # -- comparisons -----------------------------------------------------------------------
    def _cmp(self, o):
        d = self - o
        return d.sign() if isinstance(d, Quadratic) else NotImplemented

    def __lt__(self, o):
        c = self._cmp(o)
        return c if c is NotImplemented else c < 0

    def __le__(self, o):
        c = self._cmp(o)
        return c if c is NotImplemented else c <= 0

    def __gt__(self, o):
        c = self._cmp(o)
        return c if c is NotImplemented else c > 0

    def __ge__(self, o):
        c = self._cmp(o)
        return c if c is NotImplemented else c >= 0

    def __eq__(self, o):
        if isinstance(o, (int, Fraction, Quadratic)):
            return self._cmp(o) == 0
        return NotImplemented

    def __hash__(self):
        return hash((self.a, self.b, self.D))

    def __float__(self):
        return float(self.a) + float(self.b) * math.sqrt(self.D)

    def __repr__(self):
        return f"Quadratic({self.a}, {self.b}, {self.D})"

    def __str__(self):
        if self.b == 0:
            return str(self.a)
        return f"{self.a} + {self.b}*sqrt({self.D})" if self.a else f"{self.b}*sqrt({self.D})"


def to_int(x, name: str, lo: int, too_small: str) -> int:
    """``x`` as an int >= ``lo`` (integral floats accepted; numpy integers too, bools not).

    Raises ConstellationsError "``name`` must be an integer, got ..." or ``too_small.format(x)``.
    """
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        if isinstance(x, float) and x.is_integer():
            x = int(x)
        else:
            raise ConstellationsError(f"{name} must be an integer, got {x!r}")
    x = int(x)
    if x < lo:
        raise ConstellationsError(too_small.format(x))
    return x


def to_exact(x, name: str = "value"):
    """Convert ``x`` to an exact Fraction or :class:`Quadratic` (see the module docstring).

    Raises
    ------
    ConstellationsError
        NaN, infinity, or a string that is neither a rational nor a + b*sqrt(D).
    """
    if isinstance(x, Quadratic):
        return x.simplify()
    if isinstance(x, bool):
        raise ConstellationsError(f"{name} must be a number, got {x!r}")
    if isinstance(x, (int, Fraction)):
        return Fraction(x)
    if isinstance(x, Rational):
        return Fraction(int(x.numerator), int(x.denominator))
    if isinstance(x, float) or type(x).__name__ in ("float64", "float32", "float16"):
        xf = float(x)
        if not math.isfinite(xf):
            raise ConstellationsError(f"{name} must be finite, got {x!r}")
        return Fraction(repr(xf))
    if type(x).__module__.startswith("numpy") and hasattr(x, "item"):
        return to_exact(x.item(), name)
    if isinstance(x, str):
        s = x.strip()
        try:
            return Fraction(s)
        except (ValueError, ZeroDivisionError):
            pass
        if s.lower() in ("nan", "inf", "+inf", "-inf", "infinity"):
            raise ConstellationsError(f"{name} must be finite, got {x!r}")
        try:
            import sympy
            expr = sympy.sympify(s, rational=True)
        except Exception:
            raise ConstellationsError(
                f"cannot read {name} {x!r}: expected a number such as 0.5, 1/2 or 1/sqrt(5)") from None
        return _from_sympy(expr, name, x)
    if type(x).__module__.startswith("sympy"):
        return _from_sympy(x, name, x)
    raise ConstellationsError(f"{name} must be a number, got {type(x).__name__}")


def _from_sympy(expr, name, orig):
    import sympy
    expr = sympy.radsimp(sympy.nsimplify(expr) if not expr.is_number else expr)
    if not expr.is_number or expr.is_real is False:
        raise ConstellationsError(f"{name} must be a real number, got {orig!r}")
    if expr.is_Rational:
        return Fraction(int(expr.p), int(expr.q))
    roots = sorted({p.base for p in expr.atoms(sympy.Pow)
                    if p.exp == sympy.Rational(1, 2) and p.base.is_Integer})
    if len(roots) == 1:
        D = int(roots[0])
        c, D0 = _squarefree_split(D)
        r = sympy.Symbol("_r")
        e2 = sympy.expand(expr.subs(sympy.sqrt(D), r))
        try:
            poly = sympy.Poly(e2, r)
        except sympy.PolynomialError:
            poly = None
        if poly is not None and poly.degree() <= 1 and all(co.is_Rational for co in poly.all_coeffs()):
            coeffs = poly.all_coeffs()
            b = coeffs[0] if poly.degree() == 1 else 0
            a = coeffs[-1] if poly.degree() == 1 else coeffs[0]
            a = Fraction(int(sympy.Rational(a).p), int(sympy.Rational(a).q))
            b = Fraction(int(sympy.Rational(b).p), int(sympy.Rational(b).q)) * c
            return Quadratic(a, b, D0).simplify() if D0 > 1 else a + b
    raise ConstellationsError(
        f"cannot use {name} {orig!r} exactly: only rationals and a + b*sqrt(D) are supported; "
        f"pass a decimal value instead")


def as_float(x) -> float:
    return float(x)


def floor_exact(x) -> int:
    """Exact floor of a Fraction or Quadratic."""
    if isinstance(x, Fraction):
        return math.floor(x)
    if isinstance(x, int):
        return x
    f = math.floor(float(x))
    # correct the float guess exactly
    while x < f:
        f -= 1
    while x >= f + 1:
        f += 1
    return f


def rational_upper(x, bits: int = 60) -> Fraction:
    """A dyadic rational >= x with about ``bits`` bits after the binary point (exact if rational
    and representable)."""
    if isinstance(x, Fraction):
        return x
    scale = 1 << bits
    q = Fraction(math.ceil(float(x) * scale) + 2, scale)
    while q < x:
        q += Fraction(1, scale)
    return q


def rational_lower(x, bits: int = 60) -> Fraction:
    if isinstance(x, Fraction):
        return x
    scale = 1 << bits
    q = Fraction(math.floor(float(x) * scale) - 2, scale)
    while q > x:
        q -= Fraction(1, scale)
    return q


def float_up(x) -> float:
    """The smallest float >= the exact number x."""
    if isinstance(x, float):
        return x
    q = x if isinstance(x, Fraction) else rational_upper(x, 80)
    f = float(q)
    if Fraction(f) < q:
        f = math.nextafter(f, math.inf)
    return f


def float_down(x) -> float:
    """The largest float <= the exact number x."""
    if isinstance(x, float):
        return x
    q = x if isinstance(x, Fraction) else rational_lower(x, 80)
    f = float(q)
    if Fraction(f) > q:
        f = math.nextafter(f, -math.inf)
    return f


def exact_str(x) -> str:
    """A JSON-friendly exact representation ("p/q" or "a + b*sqrt(D)")."""
    return str(x)

r"""Exact numbers for certified bounds: rationals and real quadratic surds.

Every certified inequality in :mod:`bounds` is checked in exact arithmetic.  The
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

Text is read by :func:`parse_exact`, a strict hand-written recursive-descent parser of the
grammar in :class:`_Parser` (numbers, + - * /, parentheses, sqrt).  It never hands text to
``eval``, sympy or any other evaluator; everything else is a ConfigurationError that names the
accepted forms.  Its size limits (200 characters, exponents within +-400, sqrt(k) with
k <= 10^12, nesting 16 deep) keep every parse fast.

Directed rounding to floats: :func:`float_up` and :func:`float_down` return the nearest float
on the stated side of an exact number, so a float reported as an upper (lower) bound is one.
"""
from __future__ import annotations

import math
import re
import sys
from fractions import Fraction
from numbers import Rational

import numpy as np

from constellations.core.errors import ConfigurationError, ConstellationsError

__all__ = ["Quadratic", "to_exact", "parse_exact", "ACCEPTED_FORMS", "to_int", "float_up", "float_down",
           "floor_exact", "exact_str", "compact_str", "is_printable", "exact_bits", "PRINT_BITS",
           "rational_upper", "rational_lower"]


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
        if not self.a:
            return f"{self.b}*sqrt({self.D})"
        sign, b = ("-", -self.b) if self.b < 0 else ("+", self.b)
        return f"{self.a} {sign} {b}*sqrt({self.D})"


def to_int(x, name: str, lo: int, too_small: str) -> int:
    """``x`` as an int >= ``lo`` (integral floats accepted; numpy integers too, bools not).

    Raises ConfigurationError "``name`` must be an integer, got ..." or ``too_small.format(x)``.
    """
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        if isinstance(x, float) and x.is_integer():
            x = int(x)
        else:
            raise ConfigurationError(f"{name} must be an integer, got {x!r}")
    x = int(x)
    if x < lo:
        raise ConfigurationError(too_small.format(x))
    return x


def to_exact(x, name: str = "value"):
    """Convert ``x`` to an exact Fraction or :class:`Quadratic` (see the module docstring).

    Strings go through :func:`parse_exact`; a sympy number through its printed form (never
    sympify).

    Raises
    ------
    ConfigurationError
        NaN, infinity, or a string that is neither a rational nor a + b*sqrt(D).
    """
    if isinstance(x, Quadratic):
        return x.simplify()
    if isinstance(x, bool):
        raise ConfigurationError(f"{name} must be a number, got {x!r}")
    if isinstance(x, (int, Fraction)):
        return Fraction(x)
    if isinstance(x, Rational):
        return Fraction(int(x.numerator), int(x.denominator))
    if isinstance(x, float) or type(x).__name__ in ("float64", "float32", "float16"):
        xf = float(x)
        if not math.isfinite(xf):
            raise ConfigurationError(f"{name} must be finite, got {x!r}")
        return Fraction(repr(xf))
    if type(x).__module__.startswith("numpy") and hasattr(x, "item"):
        return to_exact(x.item(), name)
    if isinstance(x, str):
        return parse_exact(x, name)
    if type(x).__module__.startswith("sympy"):
        # a sympy number is read through its printed form: sympy never evaluates anything here
        return parse_exact(str(x), name)
    raise ConfigurationError(f"{name} must be a number, got {type(x).__name__}")


# ------------------------------------------------------------------------------ the grammar
ACCEPTED_FORMS = ("integers and decimals (0.4 is exactly 2/5; 1e-3 too), p/q, sqrt(k), p/q*sqrt(k), "
                  "a + b*sqrt(k), a - b*sqrt(k), (a + b*sqrt(k))/q, with unary minus and parentheses, "
                  "one square root at most")
_MAX_TEXT = 200          # characters; a number is never longer
_MAX_DEPTH = 16          # nested parentheses / sqrt
_MAX_EXPONENT = 400      # |e| in 1e-400: larger ones are no sensible parameter and cost 10^|e|
_MAX_RADICAND = 10 ** 12  # p*q in sqrt(p/q): squarefree splitting is trial division up to 10^6
_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_]\w*)"
                    r"|(?P<op>[-+*/()]))")


class _Parser:
    """Recursive descent over the grammar (whitespace between tokens is ignored)::

        expr    := term (("+" | "-") term)*
        term    := unary (("*" | "/") unary)*
        unary   := ("+" | "-") unary | primary
        primary := NUMBER | "sqrt" "(" expr ")" | "(" expr ")"

    Values are Fractions and :class:`Quadratic` numbers; nothing is ever evaluated by Python.
    """

    def __init__(self, text: str, name: str):
        self.text, self.name = text, name
        self.tokens = self._tokenize(text)
        self.i = 0
        self.depth = 0

    def fail(self, why: str):
        raise ConfigurationError(f"cannot read {self.name} {self.text!r}: {why}; accepted forms: {ACCEPTED_FORMS}")

    def _tokenize(self, text):
        out, pos = [], 0
        stripped = text.rstrip()
        while pos < len(stripped):
            m = _TOKEN.match(stripped, pos)
            if m is None or m.end() == pos:
                self.fail(f"unexpected character {stripped[pos:].lstrip()[:1]!r}")
            kind = m.lastgroup
            out.append((kind, m.group(kind)))
            pos = m.end()
        return out

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        if tok[0] is None:
            self.fail("the expression ends too early")
        if value is not None and tok[1] != value:
            self.fail(f"expected {value!r}, found {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self):
        if not self.tokens:
            self.fail("empty")
        v = self.expr()
        if self.i != len(self.tokens):
            self.fail(f"unexpected {self.peek()[1]!r}")
        return v

    def combine(self, op, a, b):
        try:
            r = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[op]()
        except ZeroDivisionError:
            self.fail("division by zero")
        except ConstellationsError:  # two different square roots
            self.fail("it combines two different square roots")
        return r.simplify() if isinstance(r, Quadratic) else r

    def left_assoc(self, ops, operand):
        """operand (op operand)* with op in ``ops``, combined left to right (one precedence level)."""
        v = operand()
        while self.peek()[1] in ops:
            op = self.take()[1]
            v = self.combine(op, v, operand())
        return v

    def expr(self):
        return self.left_assoc(("+", "-"), self.term)

    def term(self):
        return self.left_assoc(("*", "/"), self.unary)

    def unary(self):
        if self.peek()[1] in ("+", "-"):
            sign = self.take()[1]
            self.enter()
            v = self.unary()
            self.depth -= 1
            return -v if sign == "-" else v
        return self.primary()

    def enter(self):
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            self.fail(f"nested more than {_MAX_DEPTH} deep")

    def primary(self):
        kind, val = self.take()
        if kind == "num":
            exp = val.lower().partition("e")[2]
            if exp and abs(int(exp)) > _MAX_EXPONENT:
                self.fail(f"the exponent {exp} is beyond +-{_MAX_EXPONENT}")
            return Fraction(val)
        if kind == "name":
            if val != "sqrt":
                self.fail(f"unknown name {val!r} (only sqrt)")
            self.take("(")
            self.enter()
            arg = self.expr()
            self.depth -= 1
            self.take(")")
            return self.sqrt(arg)
        if val == "(":
            self.enter()
            v = self.expr()
            self.depth -= 1
            self.take(")")
            return v
        self.fail(f"unexpected {val!r}")

    def sqrt(self, r):
        if not isinstance(r, Fraction):
            self.fail("the argument of sqrt must be rational")
        if r < 0:
            self.fail("the argument of sqrt is negative")
        # sqrt(p/q) = sqrt(p q) / q
        D = r.numerator * r.denominator
        if D > _MAX_RADICAND:
            self.fail("sqrt(k) needs k = p*q <= 10^12 for k = p/q")
        c, D0 = _squarefree_split(D)
        coef = Fraction(c, r.denominator)
        return coef if D0 == 1 else Quadratic(0, coef, D0)


def parse_exact(text: str, name: str = "value"):
    """Read a number typed by a user, exactly: a Fraction or a :class:`Quadratic`.

    The grammar is strict and hand-written (see :class:`_Parser`): decimals read as the decimal
    they print ("0.4" is 2/5), integers, +, -, *, /, parentheses and sqrt of a rational; at most
    one distinct square root (the values a + b sqrt(D) form a field, so every such expression
    is one).  No text is ever evaluated by Python or sympy.

    Raises
    ------
    ConfigurationError
        Anything else, with the accepted forms in the message.
    """
    if len(text) > _MAX_TEXT:
        raise ConfigurationError(f"cannot read {name}: longer than {_MAX_TEXT} characters; "
                                 f"accepted forms: {ACCEPTED_FORMS}")
    return _Parser(text.strip(), name).parse()


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


def _sqrt_bracket(x: "Quadratic", bits: int):
    """Rationals lo <= x <= hi with hi - lo <= |b| 2^-bits, from r = isqrt(D 4^bits)."""
    r = math.isqrt(x.D << (2 * bits))  # r <= sqrt(D) 2^bits < r + 1
    lo_s, hi_s = Fraction(r, 1 << bits), Fraction(r + 1, 1 << bits)
    if x.b >= 0:
        return x.a + x.b * lo_s, x.a + x.b * hi_s
    return x.a + x.b * hi_s, x.a + x.b * lo_s


def rational_upper(x, bits: int = 60) -> Fraction:
    """A dyadic rational >= x with ``bits`` bits after the binary point (x itself if rational).

    Exact: for a + b sqrt(D) the square root is bracketed with integer square roots
    (:func:`math.isqrt`), never through a float.
    """
    if isinstance(x, (int, Fraction)):
        return Fraction(x)
    _, hi = _sqrt_bracket(x, bits + 8 + max(0, abs(x.b).numerator.bit_length() - abs(x.b).denominator.bit_length()))
    scale = 1 << bits
    return Fraction(math.ceil(hi * scale), scale)


def rational_lower(x, bits: int = 60) -> Fraction:
    """A dyadic rational <= x with ``bits`` bits after the binary point (x itself if rational)."""
    if isinstance(x, (int, Fraction)):
        return Fraction(x)
    lo, _ = _sqrt_bracket(x, bits + 8 + max(0, abs(x.b).numerator.bit_length() - abs(x.b).denominator.bit_length()))
    scale = 1 << bits
    return Fraction(math.floor(lo * scale), scale)


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


PRINT_BITS = 4096
"""Largest numerator or denominator (in bits, about 1233 decimal digits) that :func:`compact_str` prints;
Python refuses int-to-decimal conversions above 4300 digits, and such numbers make unreadable JSON."""


def exact_bits(x) -> int:
    """The bit length of the largest integer in the exact number ``x`` (int, Fraction or Quadratic)."""
    if isinstance(x, Quadratic):
        return max(exact_bits(x.a), exact_bits(x.b), int(x.D).bit_length())
    if isinstance(x, Fraction):
        return max(x.numerator.bit_length(), x.denominator.bit_length())
    return int(x).bit_length() if isinstance(x, int) else 0


def is_printable(x) -> bool:
    """True unless an integer inside the exact number ``x`` exceeds :data:`PRINT_BITS` bits, or has more
    decimal digits than this interpreter converts to text (``sys.get_int_max_str_digits``)."""
    bits = exact_bits(x)
    limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    return bits <= PRINT_BITS and (limit == 0 or bits * 0.30103 + 1 < limit)


def compact_str(x) -> str:
    """:func:`exact_str`, or for a huge exact number a short non-exact description (never a huge int-to-str)."""
    if is_printable(x):
        return exact_str(x)
    return f"~{float(x):.17g} (exact value with {exact_bits(x)}-bit integers, not printed)"

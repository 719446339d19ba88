r"""One rule for "proved optimal" (docs/math.md 5.7 and 5.6): a theorem, never a tolerance.

A configuration is *proved optimal* when

1. a theorem gives the optimum m* of its cell exactly (the ceiling :class:`.Bound` says so:
   ``details["optimal"]`` is True, ``details["optimum_exact"]`` holds the exact value and
   ``details["theorem"]`` names the theorem), and
2. the configuration's margin is >= m*, decided exactly: a certified float margin m_cert is
   compared as the rational number it is (``Fraction(m_cert)``) with the exact m* (a Fraction, a
   quadratic surd a + b sqrt(D) compared by integer square roots, or, for an m* that is neither,
   such as sin^2(pi/N), the upper end of a rigorous enclosure stored with the ceiling); an exact
   margin of the configuration (a construction whose margin is a theorem) is compared the same way,
   or recognised as the same closed form as m*.

Since m_cert <= m <= m*, the comparison can only succeed when m = m* exactly.  A certified
float64 margin of an irrational optimum (the icosahedron's (1 - 1/sqrt 5)/2) or of a rounded
configuration a few ulps below a rational one (0.49999999999980393 < 1/2) never reaches it: such a
configuration is reported "within <gap> of it", not optimal.

A second, tolerance-free route: if the certified margin reaches the certified ceiling's own
value (m_cert >= ceiling, both exact rationals), the two bounds meet and m* = m_cert is proved by
the theorem behind the ceiling.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from constellations.core.errors import ConfigurationError, ConstellationsError

from constellations.core.exact import Quadratic, exact_str, float_up, parse_exact
from constellations.core.results import Result, Status

from constellations.bounds.tied import _POLYGON_COS

__all__ = ["Optimality", "optimality", "format_gap", "construction_margin", "ceiling_exact"]


@dataclass(frozen=True)
class Optimality(Result):
    """Whether a configuration is proved optimal, and by which theorem.

    It speaks the result vocabulary: a verdict, not a configuration, so ``config``, ``margin``,
    ``margin_certified``, ``seconds`` and the sizes are None; ``message`` is :meth:`label`.

    Attributes
    ----------
    proved : bool
        The configuration's certified (or exact) margin reaches the proved optimum, compared
        exactly (no tolerance).
    optimum : float or None
        The proved optimal margin m*, rounded up to a float; None when no theorem gives it.
    optimum_exact : str or None
        m* exactly ("1/2", "1/2 + -1/10*sqrt(5)", "sin^2(pi/7)"), when known.
    theorem : str or None
        The theorem that proves the optimum ("Rankin (cross-polytope)", "Levenshtein (sharp)", ...).
    gap : float or None
        m* minus the configuration's margin (>= 0, rounded up); 0 when proved; None when m* is
        unknown or there is no configuration.
    """

    proved: bool
    optimum: float | None
    optimum_exact: str | None
    theorem: str | None
    gap: float | None

    def label(self) -> str:
        """One line: "optimum proved: 1/2 (Rankin); this configuration reaches it" and the like."""
        if self.optimum is None:
            return "no proved optimum"
        head = f"optimum proved: {self.optimum_exact or repr(self.optimum)} ({self.theorem})"
        if self.proved:
            return head + "; this configuration reaches it"
        if self.gap is None:
            return head
        return head + f"; this configuration is within {format_gap(self.gap)} of it"

    config = margin = margin_certified = seconds = n = dim = modalities = None  # a verdict (class docstring)

    @property
    def status(self) -> Status:
        """COMPLETED: the verdict is decided when the object is made."""
        return Status.COMPLETED

    @property
    def message(self) -> str:
        return self.label()

    def to_dict(self) -> dict:
        """JSON-able form (the vocabulary, then the verdict with its label)."""
        return {**self.vocabulary(), "proved": self.proved, "optimum": self.optimum, "optimum_exact": self.optimum_exact,
                "theorem": self.theorem, "gap": self.gap, "label": self.label()}


def format_gap(gap: float) -> str:
    """``gap`` rounded UP to one significant digit ("2e-13" for 1.96e-13), so it is never understated."""
    if gap <= 0:
        return "0"
    e = math.floor(math.log10(gap))
    digit = math.ceil(gap / 10.0 ** e - 1e-12)
    if digit >= 10:
        digit, e = 1, e + 1
    return f"{digit}e{e}" if e < -3 else f"{digit * 10.0 ** e:.{max(0, -e)}f}"


def _as_exact(x):
    """Fraction / Quadratic of a number or of a string in the strict grammar; None if not parseable."""
    if x is None:
        return None
    if isinstance(x, (Fraction, Quadratic)):
        return x
    if isinstance(x, bool):
        raise ConfigurationError(f"exact margin must be a number, got {x!r}")
    if isinstance(x, int):
        return Fraction(x)
    if isinstance(x, str):
        try:
            return parse_exact(x, "exact margin")
        except ConstellationsError:
            return None
    raise ConfigurationError(f"exact margin must be a Fraction or a string, got {type(x).__name__}")


def _check_margin(x) -> float | None:
    """The certified margin as a float (numpy scalars accepted); NaN (not known) becomes None."""
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ConfigurationError(f"certified margin must be a number, got {x!r}") from None
    if math.isnan(v):
        return None
    if math.isinf(v):
        raise ConfigurationError(f"certified margin must be finite, got {v}")
    return v


def _same_form(a: str, b: str) -> bool:
    return "".join(a.split()) == "".join(b.split())


def _optimum_of(ceiling):
    """(float, exact str, exact value or None, enclosure or None, theorem) of a proved optimum, or None."""
    if ceiling is None or not ceiling.certified:
        return None
    det = ceiling.details or {}
    if not det.get("optimal"):
        return None
    text = det.get("optimum_exact") or det.get("exact")
    theorem = det.get("theorem") or ceiling.method
    value = _as_exact(text) if text is not None else None
    enc = det.get("optimum_enclosure")
    enc = None if enc is None else (Fraction(enc[0]), Fraction(enc[1]))
    if value is None and enc is None:  # only the float is known: it is >= m* (rounded up)
        return float(ceiling.value), text, None, (None, Fraction(ceiling.value)), theorem
    opt = float_up(value) if value is not None else float(ceiling.value)
    return opt, text if text is not None else exact_str(value), value, enc, theorem


def _reaches(margin, value, enc) -> bool:
    """margin >= m*, decided exactly (``value`` exact, else the upper end of the enclosure ``enc``)."""
    if value is not None:
        return margin >= value
    return enc[1] is not None and margin >= enc[1]


def _gap(margin, opt_float, value) -> float:
    """m* - margin rounded up, >= 0 (from the exact m* when known, else from its float rounded up)."""
    g = (value if value is not None else Fraction(opt_float)) - margin
    if isinstance(g, Quadratic):
        g = g.simplify()
    return max(0.0, float_up(g))


def _met_ceiling(certified_margin, ceiling):
    """The certified margin meets the certified ceiling's own value: then both equal m*."""
    if certified_margin is None or ceiling is None or not ceiling.certified:
        return None
    v = ceiling.value
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
        return None
    if Fraction(certified_margin) >= Fraction(v):
        return Optimality(True, float(v), exact_str(Fraction(v)),
                          f"certified ceiling met ({ceiling.method})", 0.0)
    return None


def optimality(certified_margin: float | None, ceiling, exact_margin=None) -> Optimality:
    """Decide, without tolerance, whether a configuration is a proved optimum of its cell.

    Parameters
    ----------
    certified_margin : float or None
        A certified lower bound on the configuration's margin (NaN counts as unknown; e.g.
        :func:`constellations.core.certify.certified_margin`'s ``margin_certified``, or a ``margin_lower``
        value).  Compared as the exact rational it is.
    ceiling : Bound or None
        The cell's ceiling (:func:`.margin_upper_tied`, :func:`.margin_upper_free`,
        :func:`.margin_upper`).  It proves the optimum when ``details["optimal"]`` is True; then
        ``details["optimum_exact"]`` (exact string), ``details["theorem"]`` and, for an optimum
        that is not a rational or quadratic surd, ``details["optimum_enclosure"]`` (exact [lo, hi])
        are read.
    exact_margin : Fraction, int, str or None
        The configuration's exact margin when known (a construction whose margin is a theorem):
        a Fraction, a string in the strict grammar (:func:`.exact.parse_exact`: "1/2",
        "(1+sqrt(5))/4"), or the same closed form as the optimum ("sin^2(pi/7)").  Never evaluated
        as code.

    Returns
    -------
    Optimality

    Raises
    ------
    ConfigurationError
        The margin exceeds the proved optimum (impossible for a configuration of this cell: the
        inputs do not belong together), or ``exact_margin`` has an unsupported type.
    """
    certified_margin = _check_margin(certified_margin)
    opt = _optimum_of(ceiling)
    if opt is None:
        met = _met_ceiling(certified_margin, ceiling)
        return met if met is not None else Optimality(False, None, None, None, None)
    opt_float, text, value, enc, theorem = opt
    margin = _as_exact(exact_margin)
    if exact_margin is not None and margin is None:  # a closed form outside the grammar
        if isinstance(exact_margin, str) and text is not None and _same_form(exact_margin, text):
            return Optimality(True, opt_float, text, theorem, 0.0)
        margin = None if certified_margin is None else Fraction(certified_margin)
    elif margin is None and certified_margin is not None:
        margin = Fraction(certified_margin)
    if margin is None:
        return Optimality(False, opt_float, text, theorem, None)
    proved = _reaches(margin, value, enc)
    if value is not None and margin > value:
        raise ConfigurationError(f"margin {float(margin)!r} exceeds the proved optimum {text} ({theorem}): "
                                 "the configuration and the ceiling do not belong to the same cell")
    return Optimality(proved, opt_float, text, theorem, 0.0 if proved else _gap(margin, opt_float, value))


# exact max inner product c of the fixed codes (docs/math.md section 4); a tied code has m = (1 - c)/2,
# and a subset of a code (its first N points) has m >= that
_CODE_C = {"icosahedron": "1/sqrt(5)", "600-cell": "(1 + sqrt(5))/4", "24-cell": "1/2", "e8": "1/2",
           "clebsch": "1/5", "schlafli": "1/4", "gosset": "1/3"}


def construction_margin(lower):
    """An exact lower bound on the margin of the construction behind a ``margin_lower`` Bound, or None.

    The construction is the exact mathematical object that the certified float64 value
    approximates, so its exact margin is itself a lower bound on m*(N, d):

    * ``polygon``: the regular N-gon (all N of its points), m = sin^2(pi/N) exactly: a Quadratic for
      N in {2, 3, 4, 5, 6, 8, 10, 12}, else the closed form "sin^2(pi/N)" (compared by form);
    * the fixed codes (icosahedron, 600-cell, 24-cell, E8, Clebsch, Schlafli, Gosset): (1 - c)/2 with
      their exact c (a subset of the code has margin >= that);
    * otherwise the certificate's ``closed_form_margin`` (exact for the simplex, the cross-polytope and
      the catalogue codes, a certified rational lower bound where c is irrational).

    Configurations from a table store, a search or ``extra`` carry only their certified float: None.
    """
    cert = getattr(lower, "certificate", None) or {}
    if cert.get("type") != "construction":
        return None
    name, N = cert.get("construction"), int(cert.get("N", 0))
    if name == "polygon":
        known = {2: "-1", 3: "-1/2", 4: "0", **_POLYGON_COS}
        return (1 - parse_exact(known[N])) / 2 if N in known else f"sin^2(pi/{N})"
    if name in _CODE_C:
        return (1 - parse_exact(_CODE_C[name])) / 2
    text = cert.get("closed_form_margin")
    return Fraction(text) if text is not None else None


def ceiling_exact(ceiling) -> str | None:
    """The exact number a ceiling's float rounds up, when the ceiling is exact (a proved optimum or
    Theorem 3.4), else None (the sandwich and shell ceilings are dyadics just above a threshold)."""
    det = getattr(ceiling, "details", None) or {}
    if det.get("optimal") and det.get("optimum_exact") is not None:
        return det["optimum_exact"]
    if ceiling is not None and ceiling.method == "theorem-3.4":
        return (ceiling.certificate or {}).get("value") or det.get("theorem34_exact")
    return None


"""The kissing number of R^n: a certified bound on A(n, 1/2), by either code bound.

Its own module because it chooses between :mod:`.levenshtein` and :mod:`.delsarte` (which itself
builds on :mod:`.levenshtein`): neither of the two imports the other back.
"""
from __future__ import annotations

from fractions import Fraction

from constellations.core.errors import ConstellationsError

from constellations.bounds.bound import Bound
from constellations.bounds.delsarte import delsarte_lp_bound
from constellations.bounds.levenshtein import levenshtein_bound

__all__ = ["kissing_bound"]


def kissing_bound(n, method: str = "levenshtein") -> Bound:
    """Certified upper bound on the kissing number of R^n, i.e. on A(n, 1/2).

    ``method``: "levenshtein" (default) or "delsarte" (also "lp", "delsarte-lp": the certified LP).
    """
    if method == "levenshtein":
        return levenshtein_bound(n, Fraction(1, 2))
    if method in ("delsarte", "lp", "delsarte-lp"):
        return delsarte_lp_bound(n, Fraction(1, 2))
    raise ConstellationsError(f"unknown kissing-bound method {method!r} (levenshtein, delsarte)")

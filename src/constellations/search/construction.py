r"""The best known construction as a start and a floor of the search.

:func:`constellations.codes.catalogue.best_construction` names, for (N, d), the catalogue code with the
largest proved margin (docs/math.md section 4): Kerdock, Gold, Kasami, BCH and Golay codes, lattice
shells, polytopes, their subsets, zero paddings and orthogonal copies.  Its rows are **built from
the algebraic recipe** (generator polynomials, lattice definitions, closed-form coordinates); no
stored configuration or stored margin is read.  The search uses the code twice:

- as a **start**: a warm start of the tied phase (so a free search continues from it too);
- as a **floor**: the returned configuration is never below it (:func:`keeps_search`).

Certification by structure
--------------------------
The catalogue proves the exact largest inner product c of its code points in integer arithmetic
(weight enumeration, integer Gram matrices), so the tied configuration has the exact margin
m = (1 - c)/2 on every graph.  The float64 rows hold those points rounded; what
:func:`constellations.core.certify.certified_margin` certifies is the margin of the *exactly normalised*
rows x/|x| (docs/math.md section 6).  If every nonzero entry of a float row x has the same
magnitude a > 0 (entries in {0, +a, -a}; true of binary, Kerdock and Hadamard points, zero-padded
or in orthogonal copies), then x = a s with s in {0, +1, -1}^d, and x/|x| = s/|s| **exactly**: the
exactly normalised float row is the exact code point, whatever rounding produced a.  The exact
certificate therefore holds for the float configuration as it stands.  The condition is checked
exactly on the float array in O(N d) (:func:`same_magnitude_rows`), against the O(N^2 d) of a float
certification (minutes at N = 32,768, d = 768 on a small CPU).  Codes failing it (the icosahedron,
lattice shells with mixed magnitudes, polygons) are certified the usual way by
:func:`~constellations.core.certify.certified_margin`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from constellations.codes.catalogue import best_construction
from constellations.core.certify import certified_margin
from constellations.core.configuration import tied
from constellations.core.errors import ConfigurationError
from constellations.core.exact import float_down

__all__ = ["Floor", "lookup", "same_magnitude_rows", "keeps_search", "FLOOR_TOLERANCE"]


#: A search result replaces the construction only if its float64 margin is larger by more than this
#: (the rounding of a float64 margin is about d 2^-53, under 1e-12 for d up to 10^4) and its
#: certified margin is not smaller than the construction's.
FLOOR_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Floor:
    """The catalogue's construction for one search.

    Attributes
    ----------
    code : ndarray (N, d)
        The construction's rows, float64, as built from the recipe; **read-only**
        (``code.flags.writeable`` is False): the structural certificate holds for these exact
        rows, so nobody may edit them in place (copy them to change them).
    recipe, name : str
        The catalogue's recipe and code name (``"gold(m=9)"``).
    margin_exact : str
        (1 - c)/2 as an exact rational (the catalogue's proof).
    structural : bool
        Every row has entries in {0, +a, -a} (checked exactly): the exact margin is certified for
        these float rows (module docstring), with no pass over the pairs.
    margin, margin_certified : float
        Nearest float and rounded-down float of the exact margin when ``structural``; otherwise NaN
        until :meth:`verified` computes them by :func:`constellations.core.certify.certified_margin`.
    b_rel : float
    certified_by : str
        How ``margin_certified`` was obtained (structure, or the float64 rounding bound).
    certification : str
        How the catalogue proved c (weight enumeration, integer Gram, ...).
    """

    code: np.ndarray
    recipe: str
    name: str
    margin_exact: str
    structural: bool
    margin: float
    margin_certified: float
    b_rel: float
    certified_by: str
    certification: str = ""

    def __post_init__(self):
        code = np.asarray(self.code, dtype=np.float64)
        if code.flags.writeable:  # a read-only view: the rows cannot be edited through the floor
            code = code.view()
            code.flags.writeable = False
        object.__setattr__(self, "code", code)

    def verified(self) -> "Floor":
        """This floor with ``margin``, ``b_rel`` and ``margin_certified`` known (one float64 pass
        over all pairs when the rows are not structural; nothing to do when they are)."""
        if self.structural or not math.isnan(self.margin):
            return self
        cert = certified_margin(tied(self.code, 2))  # margin of the exactly normalised float rows
        return replace(self, margin=float(cert.margin), margin_certified=float(cert.margin_certified),
                       b_rel=float(cert.b_rel),
                       certified_by="float64 rounding bound (constellations.core.certify.certified_margin)")

    def summary(self) -> dict:
        """JSON-able description (shared vocabulary: margin, margin_certified, b_rel)."""
        return {"code": self.name, "recipe": self.recipe, "margin": self.margin, "margin_exact": self.margin_exact,
                "margin_certified": self.margin_certified, "b_rel": self.b_rel, "certified_by": self.certified_by,
                "certification": self.certification}


def same_magnitude_rows(P: np.ndarray) -> bool:
    """True if every row of P is nonzero and all its nonzero entries have the same absolute value.

    Exact: compares float64 values with ``==``, no tolerance.  O(N d) time, one row block at a time.
    """
    P = np.asarray(P)
    if P.ndim != 2 or P.shape[0] == 0 or not np.isfinite(P).all():
        return False
    step = max(1, (1 << 22) // max(1, P.shape[1]))
    for a in range(0, P.shape[0], step):
        A = np.abs(P[a:a + step])
        top = A.max(axis=1)
        if not (top > 0).all() or not ((A == 0) | (A == top[:, None])).all():
            return False
    return True


def lookup(n: int, dim: int, modalities: int) -> Floor | None:
    """The catalogue's best construction for (n, dim) as a :class:`Floor`, or None when the catalogue
    has none or its rows would not fit in memory (``constructions.MAX_BYTES``).

    Cost: the catalogue's certification of the few codes it tries (cached per process; 0.05 s for
    N = 32,768, d = 768) and building the rows (0.6 s there), plus the O(N d) structure check.
    """
    entry = best_construction(n, dim, modalities)
    if entry is None:
        return None
    try:
        P = entry.points()
    except ConfigurationError:  # too big to build: no floor (the search refuses such sizes too)
        return None
    P = np.ascontiguousarray(P, dtype=np.float64)
    P.flags.writeable = False  # the floor's rows are final (a view could not be made writeable again)
    m = Fraction(entry.margin_exact)
    structural = same_magnitude_rows(P)
    how = "structure: rows in {0, +a, -a} are the exact code points, whose c the catalogue proved exactly"
    nan = float("nan")
    return Floor(code=P, recipe=entry.recipe, name=entry.code, margin_exact=entry.margin_exact,
                 structural=structural, margin=float(m) if structural else nan,
                 margin_certified=float_down(m) if structural else nan,
                 b_rel=float(entry.b_rel) if structural else nan,
                 certified_by=how if structural else "", certification=entry.certification)


def keeps_search(floor: Floor, search_margin: float, search_certified) -> bool:
    """Does the search's result (float64 margin, and a callable giving its certified margin) beat
    the construction?  Only if its margin exceeds the construction's by more than FLOOR_TOLERANCE
    and its certified margin is at least the construction's (so neither number goes down); the
    certification, a pass over all pairs, is asked for only then."""
    if not search_margin > floor.margin + FLOOR_TOLERANCE:
        return False
    return search_certified() >= floor.margin_certified

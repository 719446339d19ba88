r"""Best known construction for (N, d): a certified lower bound on m*(N, d) with its recipe.

Candidates (docs/math.md section 4), each a spherical code of native dimension d0 with an exact
maximal inner product c:

* simplex (N <= d + 1, c = -1/(N-1)), cross-polytope (N <= 2d, c = 0), the registry polytopes
  (icosahedron, 24-cell, 600-cell, E8, Clebsch, Schlafli, Gosset, the E7 and E6 roots);
* codes for any N (:mod:`constellations.codes.families`): the regular polygon, the Fibonacci spiral on
  S^2 (N <= 10,000; c certified by the float64 rounding bound, ~N^2 work: 2.5 s at N = 10,000) and the torus grids on S^{2j-1}
  (c = (j - 1 + cos(2 pi/k))/j, bounded above exactly like the polygon's cosine);
* lattice shells: D_n roots, E8 shells of norm 2, 4, 6 (240, 2,160, 6,720 points, c = 1/2, 3/4, 5/6),
  BW16 (4,320 points, c = 1/2) and its norm-6 shell (61,440 points, c = 2/3), Leech (196,560, c = 1/2);
* binary codes: Gold (m odd), small Kasami (m even), narrow-sense BCH, the Golay code, each also
  with an overall parity bit and/or with the all-ones word added (:mod:`constellations.codes.binary`);
* Kerdock / real mutually unbiased bases in d0 = 4^k: d0(d0 + 2) points, c = 1/sqrt(d0).

Embeddings and subsets keep c: a code in R^{d0} sits in R^d (d >= d0) by zero padding, any N of its
points have max inner product <= c, and when c >= 0, floor(d/d0) copies in orthogonal coordinate
blocks have max inner product c too (points of different blocks are orthogonal).  The tied
configuration U = V = code then has margin m = (1 - c)/2 and b_rel = (1 + c)/2 for every number of
modalities and every graph.

Certification: every reported c is exact.  Binary and Z4 codes are linear by construction and c is
proved by exhaustive weight enumeration in integers; lattice codes by an exact integer Gram (over
orbit representatives of verified symmetries); the registry polytopes whose coordinates are not
integers by :func:`constellations.core.certify.certified_margin` (float64 rounding bound), with the
rational closed form accepted only when it lies within that bound.  The recipe string says which.
Nothing is built unless asked: :meth:`CatalogueEntry.build` makes the (M, N, d) configuration, and
refuses sizes that cannot fit (:func:`constellations.codes.polytopes.check_size`) before allocating.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Callable

import numpy as np

from constellations.codes import binary as bc
from constellations.codes import families as fam
from constellations.codes import lattices as lat
from constellations.codes import polytopes
from constellations.codes.polytopes import check_size
from constellations.core import certify as _certify
from constellations.core.configuration import tied
from constellations.core.errors import ConfigurationError
from constellations.core.exact import float_down, float_up

__all__ = ["CatalogueEntry", "KnownCode", "best_construction", "known_codes", "code_by_name", "certified_c",
           "improve_lower_bound", "smallest_dimension", "SPIRAL_MAX"]


@dataclass(frozen=True)
class KnownCode:
    """A spherical code of the catalogue (nothing built until ``rows`` is called).

    ``claimed_c`` is the published value (used only to order the candidates); ``certify()`` returns the
    exact c actually proved and how.
    """

    name: str
    dim: int
    size: int
    claimed_c: Fraction
    certify: Callable[[], tuple[Fraction, str]] = field(repr=False, compare=False)
    rows: Callable[[int, int], np.ndarray] = field(repr=False, compare=False)


@dataclass(frozen=True)
class CatalogueEntry:
    """The best certified construction found for (n, dim, modalities).

    Attributes
    ----------
    n, dim, modalities : int
    margin : float
        (1 - c)/2 rounded down to a float: a certified lower bound on m*(n, dim).
    margin_exact, max_inner_product : str
        Exact rationals (``"240/511"``).
    b_rel : float
        (1 + c)/2 of the tied configuration (nearest float).
    margin_certified : bool
        Always True for catalogue entries (see ``certification``).
    certification : str
        How c was proved.
    recipe : str
        How to rebuild it, e.g. ``"gold(m=9): first 32768 of 262144 points in R^511, zero-padded to R^768"``.
    code, code_dim, code_size, copies : the underlying code, its native dimension and size, and the
        number of orthogonal copies used.
    """

    n: int
    dim: int
    modalities: int
    margin: float
    margin_exact: str
    max_inner_product: str
    b_rel: float
    margin_certified: bool
    certification: str
    recipe: str
    code: str
    code_dim: int
    code_size: int
    copies: int
    _rows: Callable[[int, int], np.ndarray] = field(repr=False, compare=False, default=None)

    def points(self) -> np.ndarray:
        """The n unit vectors (n, dim) float64: the first n points over ``copies`` orthogonal blocks, padded."""
        check_size(self.n, self.dim, 1, self.code)
        P = np.zeros((self.n, self.dim))
        per = self.code_size
        for b in range(self.copies):
            a, z = b * per, min(self.n, (b + 1) * per)
            if a >= z:
                break
            P[a:z, b * self.code_dim:(b + 1) * self.code_dim] = self._rows(0, z - a)
        return P

    def build(self):
        """The tied configuration (modalities, n, dim) with exact margin and b_rel in ``meta``.

        Raises ConfigurationError before allocating when the estimate exceeds the memory limit
        (:func:`constellations.codes.polytopes.check_size`).
        """
        check_size(self.n, self.dim, self.modalities, self.code)
        c = Fraction(self.max_inner_product)
        meta = {"kind": "best", "recipe": self.recipe, "code": self.code, "max_inner_product": float(c),
                "max_inner_product_exact": self.max_inner_product, "margin": float((1 - c) / 2),
                "b_rel": float((1 + c) / 2), "margin_exact": self.margin_exact,
                "certification": self.certification}
        return tied(self.points(), self.modalities, None, meta)

    def to_dict(self) -> dict:
        """JSON-able summary (shared vocabulary: n, dim, modalities, margin, b_rel, margin_certified)."""
        return {"n": self.n, "dim": self.dim, "modalities": self.modalities, "margin": self.margin,
                "margin_exact": self.margin_exact, "b_rel": self.b_rel, "max_inner_product": self.max_inner_product,
                "margin_certified": self.margin_certified, "certification": self.certification,
                "recipe": self.recipe, "code": self.code, "code_dim": self.code_dim, "code_size": self.code_size,
                "copies": self.copies}

    def certificate(self) -> dict:
        """A construction certificate in the format of ``bounds`` (type "construction")."""
        m = Fraction(self.margin_exact)
        copies = f" over {self.copies} orthogonal copies" if self.copies > 1 else ""
        return {"type": "construction", "construction": self.code, "N": self.n, "d": self.dim,
                "points_used": f"first {self.n}{copies}",
                "placement": "zero padding (Construction 1 with delta=1, phi=0)",
                "margin_cert": float_down(m), "certify_method": self.certification,
                "closed_form_margin": f"{m.numerator}/{m.denominator}", "b_rel": self.b_rel,
                "recipe": self.recipe}


# ------------------------------------------------------------------------------ candidates
def _binary(make: Callable[[], bc.BinaryCode], name: str, n: int, k: int, weights) -> KnownCode:
    """A binary code with its published nonzero weights (for ordering) and an exhaustive certificate."""
    claimed = 1 - Fraction(2 * min(w for w in weights if w < n), n)

    @lru_cache(maxsize=1)
    def code():
        return make()

    def certify():
        C = code()
        w_min, _ = C.weights()
        return 1 - Fraction(2 * w_min, C.n), (f"exhaustive enumeration of all 2^{C.k} codewords of a GF(2)-linear "
                                              f"code (exact integers): w_min = {w_min}, c = 1 - 2 w_min/{C.n}")

    return KnownCode(name, n, 1 << k, claimed, certify, lambda a, b: code().points(a, b))


def _variants(make, base: str, n: int, k: int, weights, has_ones: bool) -> list[KnownCode]:
    """The code, its antipodal closure (+ones), and both with an overall parity bit (+parity)."""
    out = []
    W = set(weights)
    for ones in ((False,) if has_ones else (False, True)):
        Wv = W | {n - w for w in W} | {n} if ones else W
        for parity in (False, True):
            We = {w + (w % 2) for w in Wv} if parity else Wv
            name = base + ("+ones" if ones else "") + ("+parity" if parity else "")

            def mk(make=make, ones=ones, parity=parity):
                C = make()
                if ones:
                    C = C.with_all_ones()
                return C.extended() if parity else C
            out.append(_binary(mk, name, n + parity, k + ones, We))
    return out


def _lattice(name: str, dim: int, size: int, rows_int: Callable[[], np.ndarray],
             claimed: Fraction = Fraction(1, 2)) -> KnownCode:
    def certify():
        c = lat.shell_max_inner_product(name)
        how = ("exact integer Gram over orbit representatives of verified signed-permutation symmetries"
               if name in ("leech", "bw16-norm6") or name.startswith("e8-shell") else "exact integer Gram of all pairs")
        return c, how

    def rows(a, b):
        P = rows_int()[a:b].astype(np.float64)
        return P / np.sqrt((P ** 2).sum(axis=1, keepdims=True))
    return KnownCode(name, dim, size, claimed, certify, rows)


def _registry(kind: str, dim: int, size: int, claimed: Fraction, rational: bool) -> KnownCode:
    def certify():
        P = polytopes.classic_code(kind, dim)[0]
        cm = _certify.certified_margin(tied(P))
        c_up = 1 - 2 * Fraction(cm.margin_certified)
        if rational and c_up >= claimed >= Fraction(1 - 2 * cm.margin) - 2 * Fraction(cm.error_bound):
            return claimed, ("closed form, agreeing with the certified float64 rounding bound "
                             f"(certified_margin: c <= {float(c_up)!r})")
        return c_up, "certified_margin float64 rounding bound"

    def rows(a, b):
        return polytopes.classic_code(kind, dim)[0][a:b]
    return KnownCode(kind, dim, size, claimed, certify, rows)


@lru_cache(maxsize=1)
def _fixed_candidates() -> tuple[KnownCode, ...]:
    out = [
        _registry("icosahedron", 3, 12, Fraction(4472135955, 10 ** 10), False),
        _registry("600-cell", 4, 120, Fraction(8090169944, 10 ** 10), False),
        _registry("clebsch", 5, 16, Fraction(1, 5), True),
        _registry("schlafli", 6, 27, Fraction(1, 4), True),
        _registry("gosset", 7, 56, Fraction(1, 3), True),
        _registry("e6", 6, 72, Fraction(1, 2), True),
        _registry("e7", 7, 126, Fraction(1, 2), True),
        _lattice("e8-shell1", 8, 240, lambda: lat.e8_shell(1)),
        _lattice("e8-shell2", 8, 2160, lambda: lat.e8_shell(2), Fraction(3, 4)),
        _lattice("e8-shell3", 8, 6720, lambda: lat.e8_shell(3), Fraction(5, 6)),
        _lattice("bw16", 16, 4320, lat.bw16_min_vectors),
        _lattice("bw16-norm6", 16, 61440, lat.bw16_norm6_vectors, Fraction(2, 3)),
        _lattice("leech", 24, 196560, lat.leech_min_vectors),
    ]
    out += [_lattice(f"dn-roots{n}", n, 2 * n * (n - 1), lambda n=n: lat.dn_roots(n)) for n in range(4, 65)]
    out += _variants(bc.golay_code, "golay", 24, 12, (8, 12, 16, 24), True)
    for m in (3, 5, 7, 9, 11):
        h = 1 << (m - 1)
        r = 1 << ((m - 1) // 2)
        out += _variants(lambda m=m: bc.gold_code(m), f"gold(m={m})", (1 << m) - 1, 2 * m, (h - r, h, h + r), False)
    for m in (4, 6, 8, 10, 12):
        h = 1 << (m - 1)
        r = 1 << (m // 2 - 1)
        out += _variants(lambda m=m: bc.kasami_code(m), f"kasami(m={m})", (1 << m) - 1, 3 * m // 2,
                         (h - r, h, h + r), False)
    for m in range(3, 11):
        n = (1 << m) - 1
        for delta, k in bc.bch_parameters(m, 22):
            if k > m + 1:  # smaller ones are simplex-like codes the polytopes already cover
                out += _variants(lambda m=m, delta=delta: bc.bch_code(m, delta), f"bch(m={m}, delta={delta})", n, k,
                                 (delta, n), True)
    for k in range(1, 11):
        out += _variants(lambda k=k: bc.reed_muller1_code(k), f"rm1(m={k})", 1 << k, k + 1,
                         (1 << (k - 1), 1 << k), True)[:1]
    for k in range(1, 6):
        d0 = 4 ** k

        def kcert(d0=d0):
            c = bc.kerdock_max_inner_product(d0)
            return c, (f"Z4-linear Kerdock code: exhaustive Lee weights of all {d0 * d0} codewords (exact integers), "
                       f"c = max(1 - w_L,min/{d0 // 2}, 1/sqrt({d0}) against +-e_i)")
        out.append(KnownCode(f"kerdock(d={d0})", d0, bc.kerdock_size(d0), Fraction(1, 2 ** k), kcert,
                             lambda a, b, d0=d0: bc.kerdock_points(d0, a, b)))
    return tuple(out)


def code_by_name(name: str) -> KnownCode:
    """The catalogue code called ``name`` (e.g. ``"kerdock(d=256)"``, ``"gold(m=9)+parity"``, ``"leech"``)."""
    for K in _fixed_candidates():
        if K.name == name:
            return K
    raise ConfigurationError(f"no catalogue code named {name!r}")


#: A rational lower bound on pi (its first 21 digits, truncated).
_PI_LOW = Fraction(314159265358979323846, 10 ** 20)


def cos_upper(x: Fraction, terms: int = 12) -> Fraction:
    """A rational upper bound on cos(x) for 0 <= x <= 3 (exact arithmetic).

    The Taylor series of cos is alternating with terms decreasing in magnitude once
    x^2 < (2k+1)(2k+2), true for every k >= 1 when x <= 3; so every partial sum that ends with a
    positive term bounds cos(x) from above.  With 12 terms the excess is below x^24/24! < 1e-12
    for x <= 3, and below 1e-22 for x <= 2 pi/5.
    """
    if not 0 <= x <= 3:
        raise ConfigurationError(f"cos_upper needs 0 <= x <= 3, got {float(x)}")
    total, term, x2 = Fraction(0), Fraction(1), x * x
    for k in range(2 * terms + 1):
        if k:
            term = -term * x2 / ((2 * k - 1) * (2 * k))
        total += term
        if k % 2 == 0 and k >= 2 * terms:
            break
    return total


def _polygon(N: int) -> KnownCode:
    claimed = Fraction(math.cos(2 * math.pi / N))

    def rows(a, b):
        return polytopes.polygon_code(N, 2)[a:b]

    def certify():
        # cos decreases on [0, pi] and 2 pi_low/N <= 2 pi/N: c = cos(2 pi/N) <= cos(2 pi_low/N) <= cos_upper
        c = cos_upper(2 * _PI_LOW / N)
        return Fraction(float_up(c)), ("closed form c = cos(2 pi/N) (irrational), bounded above in exact rational arithmetic "
                             "(alternating Taylor series at a rational lower bound of 2 pi/N), rounded up to a float")
    return KnownCode("polygon", 2, N, claimed, certify, rows)


#: The spiral is offered up to this many points (its certificate costs ~N^2 inner products).
SPIRAL_MAX = 10000


@lru_cache(maxsize=64)
def _spiral(N: int) -> KnownCode:
    offset = fam.spiral_offset(N)
    P = fam.spiral_points(N, offset)
    D = fam.min_distance(P)
    claimed = Fraction(1 - D * D / 2) - Fraction(1, 10 ** 9)  # ordering only (a little optimistic)

    def certify():
        cm = _certify.certified_margin(tied(P))
        return 1 - 2 * Fraction(cm.margin_certified), ("certified_margin float64 rounding bound "
                                                       f"(Fibonacci spiral, end-cap offset {offset})")
    return KnownCode(f"spiral(offset={offset})", 3, N, claimed, certify, lambda a, b: P[a:b])


def _torus(N: int, dim: int) -> KnownCode | None:
    shape = fam.torus_shape(N, dim)
    if shape is None:
        return None
    j, k = shape

    def certify():
        # c = (j - 1 + cos(2 pi/k))/j; cos decreases on [0, pi] and 2 pi_low/k <= 2 pi/k <= 2 pi/3
        c = (j - 1 + cos_upper(2 * _PI_LOW / k)) / j
        return Fraction(float_up(c)), ("closed form c = (j - 1 + cos(2 pi/k))/j, cos bounded above in exact "
                                       "rational arithmetic (as the polygon's), rounded up to a float")
    return KnownCode(f"torus(j={j}, k={k})", 2 * j, k ** j, Fraction(fam.torus_c(j, k)), certify,
                     lambda a, b: fam.torus_points(j, k, a, b))


def _simplex(N: int) -> KnownCode:
    c = Fraction(-1, N - 1)

    def rows(a, b):
        return polytopes.simplex_code(N, N - 1)[a:b]
    return KnownCode("simplex", N - 1, N, c, lambda: (c, "closed form -1/(N-1) (regular simplex, exact)"), rows)


def _cross(N: int) -> KnownCode:
    d0 = (N + 1) // 2

    def rows(a, b):
        return polytopes.cross_polytope_code(N, d0)[a:b]
    return KnownCode("cross-polytope", d0, N, Fraction(0),
                     lambda: (Fraction(0), "closed form 0 (+-e_i, exact)"), rows)


def known_codes(n: int, dim: int) -> list[KnownCode]:
    """Every catalogue code usable for n points in R^dim (directly, or as orthogonal copies when c >= 0)."""
    out = []
    if n <= dim + 1:
        out.append(_simplex(n))
    if 3 <= n <= 2 * dim:
        out.append(_cross(n))
    if dim >= 2 and 5 <= n <= 20000:  # the regular n-gon; certified in O(n^2)
        out.append(_polygon(n))
    if dim >= 3 and 13 <= n <= SPIRAL_MAX:
        out.append(_spiral(n))
    if dim >= 4 and n >= 5 and (torus := _torus(n, dim)) is not None:
        out.append(torus)
    for K in _fixed_candidates():
        if K.dim > dim:
            continue
        copies = 1 if K.size >= n else -(-n // K.size)
        if copies == 1 or (K.claimed_c >= 0 and copies * K.dim <= dim):
            out.append(K)
    return out


def _check(n, dim, modalities):
    for v, what in ((n, "n"), (dim, "dim"), (modalities, "modalities")):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ConfigurationError(f"best_construction: {what} must be an integer, got {v!r}")
    if n < 2 or dim < 1 or modalities < 2:
        raise ConfigurationError(f"best_construction needs n >= 2, dim >= 1, modalities >= 2; got n={n}, dim={dim}, "
                                 f"modalities={modalities}")


def best_construction(n: int, dim: int, modalities: int = 2) -> CatalogueEntry | None:
    """The catalogue construction with the largest certified margin for n items in R^dim.

    Candidates are tried in order of their published c; each one's c is proved exactly (see the module
    docstring) before it is accepted, and the search stops once no remaining candidate's published c
    could win.  Returns None when no code has n points in R^dim (e.g. dim = 1 and n >= 3).  Cost: the
    certification of the codes tried (cached per process; at most a few seconds for d <= 1024).
    """
    _check(n, dim, modalities)
    # ties: one copy before orthogonal copies, then the smaller code
    cands = sorted(known_codes(n, dim), key=lambda K: (K.claimed_c, K.size < n, K.dim, K.size))
    best = None
    for K in cands:
        if best is not None and K.claimed_c >= best[0]:
            break
        c, how = _certified_c(K)
        if best is None or c < best[0]:
            best = (c, how, K)
    if best is None:
        return None
    c, how, K = best
    copies = 1 if K.size >= n else -(-n // K.size)
    m = (1 - c) / 2
    place = f"R^{K.dim}" if copies == 1 else f"{copies} orthogonal copies of R^{K.dim}"
    pad = "" if copies * K.dim == dim else f", zero-padded to R^{dim}"
    value = (f"c = {c}, m = (1 - c)/2 = {m}" if c.denominator < 10 ** 6 else
             f"c <= {float(c)!r}, m >= {float_down(m)!r} (c is irrational; the bound is certified)")
    recipe = (f"{K.name}: first {n} of {K.size * copies} points in {place}{pad}; tied across {modalities} "
              f"modalities; {value}")
    return CatalogueEntry(n=n, dim=dim, modalities=modalities, margin=float_down(m), margin_exact=str(m),
                          max_inner_product=str(c), b_rel=float((1 + c) / 2), margin_certified=True,
                          certification=how, recipe=recipe, code=K.name, code_dim=K.dim, code_size=K.size,
                          copies=copies, _rows=K.rows)


def smallest_dimension(n: int, margin, modalities: int = 2) -> CatalogueEntry | None:
    """The catalogue's construction in the smallest dimension d whose certified margin is at least
    ``margin`` (an exact number: Fraction, int, or a Quadratic), or None when none reaches it.

    The best certified margin of the catalogue does not decrease with d (every code usable in R^d is
    usable in R^{d+1}: zero padding, and copies fit at least as well), so d is found by bisection on
    [1, n - 1] (the simplex in R^{n-1} has the largest margin any n items can have, Theorem 3.4).
    The comparison with ``margin`` is exact.
    """
    _check(n, 1, modalities)

    def reaches(d):
        e = best_construction(n, d, modalities)
        return e is not None and Fraction(e.margin_exact) >= margin

    hi = max(1, n - 1)
    if not reaches(hi):
        return None
    lo = 0  # reaches(lo) is False (no dimension 0), reaches(hi) is True
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if reaches(mid) else (mid, hi)
    return best_construction(n, hi, modalities)


_CERTIFIED: dict[str, tuple[Fraction, str]] = {}


def certified_c(K: KnownCode) -> tuple[Fraction, str]:
    """(exact c, how it was proved) of a catalogue code, computed once per process."""
    return _certified_c(K)


def _certified_c(K: KnownCode) -> tuple[Fraction, str]:
    key = f"{K.name}@{K.dim}/{K.size}"
    if key not in _CERTIFIED:
        _CERTIFIED[key] = K.certify()
    return _CERTIFIED[key]


def improve_lower_bound(bound, n: int, dim: int):
    """``bound`` (a ``bounds.Bound`` lower bound on m*(n, dim)), or a copy carrying the catalogue's
    construction when that certifies a strictly larger margin.  Lets ``margin_lower`` use the catalogue
    without this library importing the solvers."""
    e = best_construction(int(n), int(dim))
    if e is None or e.margin <= bound.value:
        return bound
    return dataclasses.replace(bound, value=e.margin, method=f"construction:{e.code}", certificate=e.certificate(),
                               details={"certified": True, "recipe": e.recipe, "catalogue": e.to_dict(),
                                        "replaces": bound.method})

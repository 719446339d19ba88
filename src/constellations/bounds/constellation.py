r"""Bounds on constellation margins and dimensions (docs/math.md section 5).

Notation: m*(N, d) is the largest margin (half the gap) of an N-item constellation in R^d, for any
number of modalities M >= 2 and any graph containing at least one edge; A(n, s) is the largest
spherical code on S^{n-1} with max inner product <= s.

Upper bounds (:func:`margin_upper`, :func:`dim_lower`) combine

* **Theorem 3.4**: m + b_rel <= 1 and (3 - 4/N) m <= 1 + b_rel, hence m <= N/(2(N-1)) for free
  b_rel.  Evaluated exactly in rationals.
* **The sandwich (docs/math.md 5.2)**: N_max(d, m) <= A(d+1, 1-2m).  If a certified bound B on
  A(d+1, 1-2m) satisfies B < N, no N-item constellation in R^d has margin >= m, so m*(N, d) < m.
  B is the Levenshtein bound (exact arithmetic, :mod:`.levenshtein`) or, with
  ``method="delsarte"``, the certified Delsarte LP bound (:mod:`.delsarte`).  A float bisection
  locates the threshold; the returned m is then certified exactly (m is a dyadic rational, s = 1-2m
  exact, B computed exactly).  The reported float is rounded up.

Lower bounds (:func:`margin_lower`, :func:`dim_upper`) come from explicit constructions (tied codes
U = V = code: simplex, cross-polytope, polygon, the polytopes and root-system codes, random codes,
each placed in R^d by zero padding -- Construction 1 with delta = 1, phi = 0 -- and cut to its first
N points).  Each candidate's margin is certified by
:func:`constellations.core.certify.certified_margin` (float64 with rigorous rounding bounds).  When the
construction has a rational closed-form max inner product c (simplex, cross-polytope, 24-cell, E8,
Clebsch, Schlafli, Gosset), the reported value is the exact (1-c)/2 rounded down, accepted only if the
float64 evaluation of the array agrees with it within the certified error allowance; the certified
float64 value is kept in the certificate (``margin_certified``).  The margin of a subset is at least that
of the whole code.

Reference curves (:func:`exponent_lower`, :func:`exponent_upper`, :func:`kl_exponent`): the
asymptotic rates lim (log N_max)/d of Theorems 3.3 / 3.5 and Kabatiansky-Levenshtein.
"""
from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

from constellations.codes.catalogue import improve_lower_bound, smallest_dimension
from constellations.codes import constructions
from constellations.core import certify
from constellations.core.configuration import Configuration, as_array, tied
from constellations.core.errors import ConfigurationError, ConstellationsError
from constellations.core.exact import exact_str, float_down, float_up, to_exact, to_int

from constellations.bounds.bound import Bound
from constellations.bounds.delsarte import delsarte_lp_bound, delsarte_lp_float
from constellations.bounds.levenshtein import levenshtein_bound, levenshtein_degree, levenshtein_float

__all__ = ["margin_upper", "d1_bound", "simplex_optimum_details", "margin_lower", "dim_lower", "dim_upper", "theorem34_upper",
           "code_bound", "exponent_lower", "exponent_upper", "kl_exponent", "construction_candidates"]

_M_BITS = 52  # margins tried by the certified step are multiples of 2^-52

MAX_ITEMS = 5000
"""Largest N for the constellation bounds: the lower bounds certify ~N^2 d inner products per
candidate and the sandwich's Levenshtein degree grows with N (d = 2: 0.5 s at N = 1000, 4.5 s at
N = 5000; one certified candidate at N = 10^4 took ~5 s)."""

RANDOM_WORK = 4 * 10 ** 9
"""Random-code candidates are built in dimension d' <= RANDOM_WORK / N^2 (N^2 d' multiply-adds to
certify; N = 4000, d' = 50 measured 0.4 s on one core); a code in R^{d'} padded with zeros is a
valid candidate in every R^d, d >= d'."""


# ------------------------------------------------------------------------------ validation
def _check_n(N) -> int:
    return to_int(N, "N (number of items)", 2, "need N >= 2 items, got N={}")


def _check_size(N: int) -> None:
    """Refuse N above :data:`MAX_ITEMS` before any work (the estimate is in the message)."""
    if N > MAX_ITEMS:
        raise ConfigurationError(
            f"N={N} items is above the limit of {MAX_ITEMS} for this bound (certifying a candidate takes "
            f"~N^2 d = {_approx(N * N)} x d multiply-adds, and the sandwich's polynomial degree grows with N); "
            f"the free margin bounds (bounds --n N --dim D, no --b-rel) handle any N with the catalogue and "
            f"the quickly certified ceilings")


def _approx(x: int) -> str:
    """A short form of a possibly huge integer (float formatting overflows above ~1e308)."""
    return f"{x:.3g}" if x < 10 ** 300 else f"10^{len(str(x)) - 1}"


def _check_d(d) -> int:
    return to_int(d, "dimension d", 1, "need dimension d >= 1, got d={}")


def _check_m(m) -> Fraction:
    q = to_exact(m, "margin m")
    if not isinstance(q, Fraction):
        q = Fraction(float_down(q))
    if q <= 0 or q > 1:
        raise ConstellationsError(f"margin m must satisfy 0 < m <= 1, got {float(q):.6g}")
    return q


def _check_b(b) -> Fraction:
    q = to_exact(b, "b_rel")
    if not isinstance(q, Fraction):
        raise ConstellationsError("b_rel must be rational (give a decimal value)")
    if q < -1 or q > 1:
        raise ConstellationsError(f"b_rel must lie in [-1, 1], got {float(q):.6g}")
    return q


# ------------------------------------------------------------------------------ code bounds
def code_bound(n: int, s, method: str = "levenshtein") -> Bound:
    """Certified bound on A(n, s): "levenshtein", "delsarte", or "best" (the smaller)."""
    if method == "levenshtein":
        return levenshtein_bound(n, s)
    if method in ("delsarte", "lp"):
        return delsarte_lp_bound(n, s)
    if method == "best":
        a, b = levenshtein_bound(n, s), delsarte_lp_bound(n, s)
        return b if b.value < a.value else a
    raise ConstellationsError(f"unknown bound method {method!r} (levenshtein, delsarte, best)")


def theorem34_upper(N: int, b_rel=None) -> Fraction:
    """Theorem 3.4 as an exact rational: N/(2(N-1)), or min(1 - b, (1 + b) N/(3N - 4)) for fixed b."""
    N = _check_n(N)
    if b_rel is None:
        return Fraction(N, 2 * (N - 1))
    b = _check_b(b_rel)
    return min(1 - b, (1 + b) * Fraction(N, 3 * N - 4))


def _dyadic_up(x: float, bits: int = _M_BITS) -> Fraction:
    scale = 1 << bits
    return Fraction(math.ceil(x * scale), scale)


def _lp_threshold(N: int, d: int, m_lev: Fraction):
    """Certified Delsarte-LP threshold below the Levenshtein one (None if not better)."""
    n = d + 1
    m_f = _delsarte_threshold(N, n, float(m_lev))
    step = 1e-12
    tries = []
    while len(tries) < 12:
        m_c = _dyadic_up(m_f + step)
        if m_c >= m_lev:
            return None
        b = code_bound(n, 1 - 2 * m_c, "delsarte")
        tries.append(float(m_c))
        if b.value < N:
            return m_c, b, tries
        step *= 10
    return None


def _sandwich_threshold(N: int, d: int, m_cap: Fraction, method: str = "levenshtein"):
    """Smallest (approximately) m <= m_cap with certified Levenshtein B(d+1, 1-2m) < N; None if none."""
    from scipy.optimize import brentq
    n = d + 1

    def gap(m):
        return levenshtein_float(n, 1 - 2 * m) - N * (1 - 1e-10)

    hi = float(m_cap)
    if gap(hi) >= 0:
        return None  # even at the cap the bound does not exclude N points
    lo = hi / 2
    while gap(lo) < 0:  # L(d+1, 1-2m) grows without bound as m -> 0
        hi, lo = lo, lo / 2
        if lo < 1e-12:
            raise ConstellationsError(f"N={N} is too large for a sandwich bound in d={d}")
    m_f = brentq(gap, lo, hi, xtol=1e-15, rtol=1e-15, maxiter=200)
    step = 1e-13
    tries = []
    while True:
        m_c = min(_dyadic_up(m_f + step), m_cap)
        b = code_bound(n, 1 - 2 * m_c, "levenshtein")
        tries.append(float(m_c))
        if b.value < N:
            return m_c, b, tries
        if m_c >= m_cap or len(tries) > 40:
            return None
        step *= 8


def _delsarte_lp_value(n: int, s: float, tau: int) -> float:
    """Float Delsarte-LP optimum for (n, s) with degree 2*tau + 6 clamped to [16, 60]."""
    _, v = delsarte_lp_float(n, s, min(max(2 * tau + 6, 16), 60), grid=800, rounds=2)
    return v


def _lp_threshold_bisect(lp, N: int, m_hi: float) -> float:
    """Float bisection for the margin where ``lp(m)`` drops below N (1 - 1e-6), searching below ``m_hi``.

    ``lp`` is decreasing in m on the searched range.  The bracket starts at [m_hi/2, m_hi] and is halved
    downwards while lp(lo) < target (stopping at lo <= 1e-9), then bisected for at most 30 steps or until
    hi - lo < 1e-9 hi.  Returns the upper end ``hi``; callers certify it in exact arithmetic afterwards.
    """
    target = N * (1 - 1e-6)
    lo, hi = 0.5 * m_hi, m_hi
    while lo > 1e-9 and lp(lo) < target:
        hi, lo = lo, lo / 2
    for _ in range(30):
        mid = (lo + hi) / 2
        if lp(mid) < target:
            hi = mid
        else:
            lo = mid
        if hi - lo < 1e-9 * hi:
            break
    return hi


def _delsarte_threshold(N: int, n: int, m_lev: float) -> float:
    """Float bisection on the LP optimum below the Levenshtein threshold (LP <= Levenshtein)."""
    def lp(m):
        s = 1 - 2 * m
        return _delsarte_lp_value(n, s, levenshtein_degree(n, s))

    return _lp_threshold_bisect(lp, N, m_lev)


D1_PROOF = ("d = 1, N >= 3: on one edge (U, V) every U_i is +1 or -1, so two coincide, U_i = U_j (i != j); "
            "then the matched <U_i, V_i> >= b + m equals the non-matched <U_j, V_i> <= b - m, so m <= 0; "
            "all vectors equal attain m = 0")


def d1_bound(N: int, optimal: bool = True) -> Bound:
    """m*(N, 1) = 0 exactly for N >= 3 (any M >= 2, any graph with an edge).

    *Proof.*  Take one edge (k, l) and write U = X[k], V = X[l]; in R^1 the unit vectors are +1 and
    -1.  Among N >= 3 values U_1..U_N in {+1, -1} two coincide (pigeonhole), U_i = U_j with i != j.
    Then <U_i, V_i> = <U_j, V_i>: the first is matched (>= b + m), the second is not (<= b - m), so
    b + m <= b - m and m <= 0.  Every vector equal to +1 gives pos = neg = 1, i.e. m = 0 (b_rel = 1),
    so m*(N, 1) = 0.  (N = 2 is different: U = V = (+1, -1) has pos = 1, neg = -1, m = 1, which is
    Theorem 3.4's N/(2(N-1)), so m*(2, 1) = 1.)  ``optimal`` is False when the value is only a
    ceiling (at a fixed b_rel, m = 0 need not be attained).
    """
    det = {"certified": True, "exact": "0"}
    if optimal:
        det.update({"optimal": True, "optimum_exact": "0", "theorem": "d = 1"})
    return Bound(0.0, "exact-d1", {"type": "shell-d1", "N": N, "d": 1, "m": "0", "proof": D1_PROOF}, det)


def simplex_optimum_details(N: int) -> dict:
    """Details marking N/(2(N-1)) as the proved optimum for d >= N - 1 (Theorem 3.4, simplex)."""
    m = Fraction(N, 2 * (N - 1))
    return {"optimal": True, "optimum_exact": exact_str(m), "theorem": "Theorem 3.4 (simplex)",
            "note": "d >= N-1: the regular simplex attains Theorem 3.4 (optimal for free b_rel)"}


@lru_cache(maxsize=8192)
def _margin_upper_cached(N: int, d: int, b_rel, method: str) -> Bound:
    if d == 1 and N >= 3:  # exact, and no sandwich on S^1 (its polynomial degree grows with N)
        return d1_bound(N, optimal=b_rel is None)
    thm = theorem34_upper(N, b_rel)
    m_cap = theorem34_upper(N)
    det = {"theorem34": float_up(thm), "theorem34_exact": exact_str(thm), "certified": True,
           "sandwich_dimension": d + 1}
    if d >= N - 1:
        # the regular simplex in R^{N-1} attains N/(2(N-1)): no code bound can do better
        det["note"] = "d >= N-1: the regular simplex attains Theorem 3.4 (optimal for free b_rel)"
        if b_rel is None:
            det.update(simplex_optimum_details(N))
        found = None
    else:
        try:
            found = _sandwich_threshold(N, d, m_cap, "levenshtein") if m_cap > 0 else None
        except ConfigurationError as exc:  # Levenshtein degree above its limit: Theorem 3.4 stands
            det["sandwich_skipped"] = str(exc)
            found = None
    if method == "delsarte" and found is not None:
        # the certified LP threshold is used only where it beats the Levenshtein one
        lp = _lp_threshold(N, d, found[0])
        if lp is not None and lp[0] < found[0]:
            found = lp
    if found is not None and found[0] < thm:
        m_c, b, tries = found
        det.update({"sandwich": float_up(m_c), "sandwich_exact": exact_str(m_c),
                    "code_bound_at_threshold": b.value, "code_bound_real": b.details.get("real"),
                    "certification_tries": len(tries)})
        cert = {"type": "sandwich", "theorem": "docs/math.md 5.2: N_max(d, m) <= A(d+1, 1-2m)",
                "N": N, "d": d, "m": exact_str(m_c), "s": exact_str(1 - 2 * m_c),
                "code_bound": {"method": b.method, "value": b.value, "certificate": b.certificate},
                "conclusion": f"A({d + 1}, 1-2m) <= {b.value} < {N}, so m*(N, d) < m"}
        if b_rel is not None:
            cert["b_rel"] = exact_str(b_rel)
        return Bound(float_up(m_c), f"sandwich-{b.method}", cert, det)
    if found is not None:
        det["sandwich"] = float_up(found[0])
    cert = {"type": "theorem-3.4", "N": N, "value": exact_str(thm),
            "formula": "N/(2(N-1))" if b_rel is None else "min(1 - b_rel, (1 + b_rel) N/(3N - 4))"}
    if b_rel is not None:
        cert["b_rel"] = exact_str(b_rel)
    return Bound(float_up(thm), "theorem-3.4", cert, det)


def margin_upper(n, dim, b_rel=None, method: str = "levenshtein") -> Bound:
    """Certified upper bound on the margin m*(N, d) of N-item constellations in R^d.

    Parameters
    ----------
    n : int >= 2
        Number of items N.
    dim : int >= 1
        Dimension d.
    b_rel : number in [-1, 1], optional
        Fixed relative bias; Theorem 3.4's two inequalities then apply.
    method : {"levenshtein", "delsarte"}
        Code bound used in the sandwich.  "levenshtein" (exact rational arithmetic) measured a
        median of 12-15 ms per cold (N, d) cell for d = 2..24 at N = 100 and 1000; it grows with
        the polynomial degree, i.e. for small d and large N (d = 2: 0.3 s at N = 1000, 4.5 s at
        N = 5000).  "delsarte" adds the certified LP (median 1.5-2.8 s per cell; used only where
        it beats Levenshtein).  Results are cached per argument tuple (a cached call is ~10 us).

    Returns
    -------
    Bound
        ``value`` >= m*(N, d) (strictly greater when it comes from the sandwich), rounded up;
        ``method`` "theorem-3.4" or "sandwich-levenshtein"/"sandwich-delsarte-lp";
        ``certificate`` the exact data (threshold m, s = 1-2m, the code-bound certificate).
        For d >= N-1 no sandwich is computed: the regular simplex attains Theorem 3.4.

    Raises
    ------
    ConfigurationError
        N > :data:`MAX_ITEMS` (before any work), bad N, d, b_rel or method.
    """
    N, d = _check_n(n), _check_d(dim)
    _check_size(N)
    b = None if b_rel is None else _check_b(b_rel)
    if method not in ("levenshtein", "delsarte"):
        raise ConstellationsError(f"unknown method {method!r} (levenshtein, delsarte)")
    return _margin_upper_cached(N, d, b, method)


def dim_lower(n, margin, method: str = "levenshtein") -> Bound:
    """Smallest dimension d not excluded for N items at margin m (a certified lower bound on the
    dimension needed).

    d is excluded when Theorem 3.4 forbids m (then every d is, and ``value`` is ``math.inf``) or
    when a certified bound gives A(d+1, 1-2m) < N.  The bound on A(n, s) grows with n, so the
    excluded dimensions are 1..value-1; the certificate holds the exclusion of value-1.
    """
    N, m = _check_n(n), _check_m(margin)
    _check_size(N)
    if method not in ("levenshtein", "delsarte"):
        raise ConstellationsError(f"unknown method {method!r} (levenshtein, delsarte)")
    thm = theorem34_upper(N)
    if m > thm:
        return Bound(math.inf, "theorem-3.4",
                     {"type": "theorem-3.4", "N": N, "m": exact_str(m), "formula": "N/(2(N-1))",
                      "value": exact_str(thm), "max_margin": exact_str(thm)},
                     {"certified": True, "note": "m > N/(2(N-1)): no dimension works"})
    s = 1 - 2 * m

    def excluded(d):
        try:
            b = code_bound(d + 1, s, "levenshtein")
        except ConfigurationError as exc:
            shown = f"{float(m):.6g}" if float(m) > 0 else "below 1e-300"
            raise ConfigurationError(f"dimension bounds for N={N}, m={shown}: {exc}") from None
        if b.value >= N and method == "delsarte":
            b2 = code_bound(d + 1, s, "delsarte")
            if b2.value < b.value:
                b = b2
        return b.value < N, b

    ex, b = excluded(1)
    if not ex:
        return Bound(1, "trivial", None, {"certified": True, "note": "d = 1 is not excluded"})
    lo, lo_b = 1, b  # lo excluded
    hi = 2
    while True:
        ex, b = excluded(hi)
        if not ex:
            break
        lo, lo_b = hi, b
        hi *= 2
        if hi > 1 << 20:
            raise ConstellationsError("dimension search did not terminate (m too close to 0?)")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        ex, b = excluded(mid)
        if ex:
            lo, lo_b = mid, b
        else:
            hi = mid
    cert = {"type": "sandwich", "N": N, "m": exact_str(m), "excluded_dim": lo,
            "code_bound": {"n": lo + 1, "s": exact_str(s), "method": lo_b.method, "value": lo_b.value,
                           "certificate": lo_b.certificate},
            "conclusion": f"A({lo + 1}, 1-2m) <= {lo_b.value} < {N}: no N-item constellation with "
                          f"margin m in R^{lo} (nor below, as the bound grows with the dimension)"}
    return Bound(hi, f"sandwich-{lo_b.method}", cert, {"certified": True, "excluded_up_to": lo})


# ------------------------------------------------------------------------------ constructions
_FIXED = ("icosahedron", "24-cell", "600-cell", "e8", "clebsch", "schlafli", "gosset")


# constructions whose max inner product is a rational closed form (a theorem about the exact
# construction); for the polygon only N in (2, 3, 4, 6) has a rational cos(2 pi/N) (Niven)
_RATIONAL_KINDS = ("simplex", "cross-polytope", "24-cell", "e8", "clebsch", "schlafli", "gosset")


def _rational_c(kind, N, c):
    """The closed-form c of the construction as an exact rational, or None if it is irrational."""
    if c is None or not (kind in _RATIONAL_KINDS or (kind == "polygon" and N in (2, 3, 4, 6))):
        return None
    q = Fraction(c).limit_denominator(10 ** 6)
    if abs(float(q) - c) > 1e-15:
        return None
    return q


def _closed_form_candidate(kind, N, d):
    """Simplex and cross-polytope too large to build: their exact margin is a theorem.

    The regular simplex on N points has all inner products -1/(N-1), so m = N/(2(N-1)); the first
    N >= 3 points of the cross-polytope +-e_i have inner products 0 or -1, so m = 1/2 (N = 2:
    the antipodal pair, m = 1).  Exact rationals, rounded down.
    """
    if kind == "simplex":
        m, why = Fraction(N, 2 * (N - 1)), "regular simplex: every inner product is -1/(N-1)"
    else:
        m, why = (Fraction(1) if N == 2 else Fraction(1, 2)), "first N of +-e_i: inner products 0 or -1"
    value = float_down(m)
    cert = {"type": "construction", "construction": kind, "N": N, "d": d, "points_used": f"first {N}",
            "placement": "zero padding (Construction 1 with delta=1, phi=0)",
            "margin_cert": value, "certify_method": f"exact closed form ({why})", "error_bound": 0.0,
            "closed_form_margin": exact_str(m), "b_rel": float(1 - m), "_exact": m}
    return value, cert


def _candidate(kind, N, d, seed=0):
    # built and certified in its own dimension: zero padding to R^d changes no inner product
    d_own = {"random": d, "simplex": N - 1, "cross-polytope": (N + 1) // 2, "polygon": 2}.get(kind)
    d_own = min(d, _native_dim(kind) if d_own is None else d_own)
    if kind in ("simplex", "cross-polytope") and N * N * d_own > RANDOM_WORK:
        return _closed_form_candidate(kind, N, d)
    if kind == "random":
        P, c = constructions.code("random", d_own, N, seed)
    elif kind in ("simplex", "polygon", "cross-polytope"):
        P, c = constructions.code(kind, d_own, N)
    else:
        P, c = constructions.code(kind, d_own)
    P = P[:N]
    if kind in ("24-cell", "e8", "600-cell", "icosahedron", "clebsch", "schlafli", "gosset") and len(P) < N:
        return None
    if kind == "cross-polytope" and N > 2:
        c = 0.0  # first N of +-e_i: max inner product 0 once two different axes appear
    cm = certify.certified_margin(tied(P))
    value = cm.margin_certified
    exact = None
    q = _rational_c(kind, N, c)
    if q is not None:
        m_exact = (1 - q) / 2
        # accept the closed form only if the float64 evaluation agrees within the error bound
        if Fraction(cm.margin) + 2 * Fraction(cm.error_bound) >= m_exact:
            exact = m_exact
            value = max(value, float_down(m_exact))
    cert = {"type": "construction", "construction": kind, "N": N, "d": d, "points_used": f"first {N}",
            "placement": "zero padding (Construction 1 with delta=1, phi=0)" if P.shape[1] > 0 else "",
            "margin_cert": cm.margin_certified, "certify_method": cm.method, "error_bound": cm.error_bound,
            "float_margin": cm.margin, "b_rel": cm.b_rel}
    if kind == "random":
        cert["seed"] = seed
    if d_own < d:
        cert["construction_dim"] = d_own
    if exact is not None:
        cert["closed_form_margin"] = exact_str(exact)
    cert["_exact"] = exact if exact is not None and exact >= Fraction(value) else Fraction(value)
    return value, cert


def _public(cert):
    return {k: v for k, v in cert.items() if not k.startswith("_")}


def construction_candidates(N: int, d: int, random_seeds=(0, 1, 2)):
    """Every applicable construction for (N, d) with its certified margin: list of (value, cert).

    Random codes are drawn in dimension min(d, RANDOM_WORK / N^2) (zero padding keeps their
    margin), so the certification cost stays below ~RANDOM_WORK multiply-adds each.
    """
    N, d = _check_n(N), _check_d(d)
    kinds = []
    if N <= d + 1:
        kinds.append("simplex")
    if N <= 2 * d:
        kinds.append("cross-polytope")
    if d >= 2:
        kinds.append("polygon")
    for k in _FIXED:
        try:
            P, _ = constructions.code(k, d)
        except ConstellationsError:
            continue
        if len(P) >= N:
            kinds.append(k)
    out = []
    for k in kinds:
        r = _candidate(k, N, d)
        if r is not None:
            out.append(r)
    d_rand = min(d, RANDOM_WORK // (N * N))
    if N > 2 * d and d_rand >= 2:
        for seed in random_seeds:
            r = _candidate("random", N, d_rand, seed)
            if d_rand < d:
                r[1]["d"] = d
                r[1]["construction_dim"] = d_rand
            out.append(r)
    return out


@lru_cache(maxsize=None)
def _native_dim(kind):
    for d in range(1, 25):
        try:
            constructions.code(kind, d)
            return d
        except ConstellationsError:
            continue
    return None


@lru_cache(maxsize=None)
def _fixed_size(kind):
    return len(constructions.code(kind, _native_dim(kind))[0])


@lru_cache(maxsize=4096)
def _margin_lower_cached(N: int, d: int) -> Bound:
    # m*(N, d) is constant for d >= N-1 (the simplex is optimal), so larger d cost nothing
    d_eff = min(d, max(N - 1, 1))
    cands = construction_candidates(N, d_eff)
    if d_eff < d:
        for _, c in cands:
            c.setdefault("construction_dim", c["d"])
            c["d"] = d
    if not cands:
        # d = 1, N >= 3: only the trivial constellation (all vectors equal) with m = 0
        return Bound(0.0, "trivial", {"type": "trivial", "note": "all vectors equal: pos = neg, m = 0"},
                     {"certified": True})
    value, cert = max(cands, key=lambda vc: vc[0])
    if value < 0:
        return Bound(0.0, "trivial", {"type": "trivial", "note": "all vectors equal: pos = neg, m = 0"},
                     {"certified": True, "best_construction": _public(cert)})
    return Bound(value, f"construction:{cert['construction']}", _public(cert),
                 {"certified": True, "candidates": {c["construction"] + (f"#{c['seed']}" if "seed" in c else ""): v
                                                    for v, c in cands}})


def _extra_candidates(N: int, d: int, extra, labels=None):
    """Certify given configurations (search results, table-store cells): list of (value, cert).

    Each item is an array (M, N', d') or a Configuration with N' >= N and d' <= d (others are
    skipped); it is cut to its first N items and certified on its own graph with
    :func:`constellations.core.certify.certified_margin`; nothing it reports about itself is used.
    """
    out = []
    for idx, item in enumerate(extra or ()):
        graph = item.graph if isinstance(item, Configuration) else None
        X = as_array(item.X if isinstance(item, Configuration) else item)
        M, N0, d0 = X.shape
        if N0 < N or d0 > d:
            continue
        X = X[:, :N, :]  # zero padding to R^d would not change any inner product
        cm = certify.certified_margin(X, graph)
        label = labels[idx] if labels is not None else f"extra[{idx}]"
        out.append((cm.margin_certified, {"type": "construction", "construction": label, "N": N, "d": d,
                                     "points_used": f"first {N} of {N0}", "modalities": M,
                                     **({"construction_dim": d0} if d0 < d else {}),
                                     "margin_cert": cm.margin_certified, "certify_method": cm.method,
                                     "error_bound": cm.error_bound, "float_margin": cm.margin, "b_rel": cm.b_rel,
                                     "_exact": Fraction(cm.margin_certified)}))
    return out


def _large_lower(N: int, d: int) -> Bound:
    """Above MAX_ITEMS: the catalogue only (exact c, no N^2 work), else the trivial 0."""
    note = (f"N > {MAX_ITEMS}: only catalogue constructions (exact or certified c; only the spiral, "
            "N <= 10,000, costs ~N^2); no random candidates are built")
    trivial = Bound(0.0, "trivial", {"type": "trivial", "note": "all vectors equal: pos = neg, m = 0"},
                    {"certified": True, "note": note + "; none applies here"})
    b = improve_lower_bound(trivial, N, d)
    if b is not trivial:
        b = Bound(b.value, b.method, b.certificate, {**b.details, "note": note})
    return b


def margin_lower(n, dim, extra=None, *, labels=None) -> Bound:
    """Best certified lower bound on m*(N, d) from constructions and given configurations.

    Candidates (the largest certified value wins; value rounded down):

    * the constructions of the module docstring and the catalogue
      (:func:`constellations.codes.catalogue.best_construction`: algebraic codes, lattices, polytopes with
      exact c).  Above :data:`MAX_ITEMS` items only the catalogue is asked (its cost does not grow
      with N^2; no random candidate is built);
    * ``extra``: configurations (arrays (M, N', d') or Configurations, N' >= N, d' <= d), named by
      ``labels`` (default ``extra[i]``) in the method and the details.  The cells of a table store and a
      short search are offered this way by :func:`constellations.tables.lower.best_margin_lower`.

    Each configuration of ``extra`` is cut to its first N items (a subset keeps every matched inner
    product and drops non-matched ones, so the margin cannot fall), zero-padded to R^d, and
    re-certified on its own graph with :func:`constellations.core.certify.certified_margin` (float64 with a
    rigorous rounding bound); nothing it reports about itself is trusted.  Cached per (N, d) without
    ``extra``.

    Raises
    ------
    ConfigurationError
        ``extra`` with N > :data:`MAX_ITEMS` (certifying costs ~N^2 d per configuration).
    """
    N, d = _check_n(n), _check_d(dim)
    items = list(extra or ())
    if N > MAX_ITEMS:
        if items:
            raise ConfigurationError(
                f"N={N} items is above the limit of {MAX_ITEMS} for certifying given configurations "
                f"(~N^2 d = {_approx(N * N)} x d multiply-adds each); the catalogue alone is used without them")
        return _large_lower(N, d)
    base = improve_lower_bound(_margin_lower_cached(N, d), N, d)  # algebraic codes, lattices (issue 14)
    if not items:
        return base
    labels = [f"extra[{i}]" for i in range(len(items))] if labels is None else list(labels)
    if len(labels) != len(items):
        raise ConstellationsError(f"{len(labels)} labels for {len(items)} extra configurations")
    cands = _extra_candidates(N, d, items, labels)
    det = {"certified": True, "construction": base.value, "construction_method": base.method,
           "candidates": {c["construction"]: v for v, c in cands}}
    if not cands:
        return Bound(base.value, base.method, base.certificate, {**base.details, **det})
    value, cert = max(cands, key=lambda vc: vc[0])
    if value <= base.value:
        return Bound(base.value, base.method, base.certificate, {**base.details, **det})
    return Bound(value, f"construction:{cert['construction']}", _public(cert), det)


def dim_upper(n, margin, max_random_dim: int = 2048, extra=None) -> Bound:
    """Smallest dimension in which a known construction certifiably reaches margin m.

    Candidates: the catalogue's smallest dimension
    (:func:`constellations.codes.catalogue.smallest_dimension`: simplex, cross-polytope, polygon,
    spiral, torus grids, polytopes, lattice shells and binary codes, with orthogonal copies), and random codes (seed 0, smallest d found
    by doubling and bisection, up to ``max_random_dim`` and below the best other candidate), and the
    optional ``extra`` configurations (see :func:`margin_lower`), each in its own dimension.
    ``value`` is ``math.inf`` if nothing is known.
    """
    N, m = _check_n(n), _check_m(margin)
    _check_size(N)
    best = None

    def consider(d, kind):
        nonlocal best
        if best is not None and d >= best[0]:
            return
        r = _candidate(kind, N, d)
        if r is not None and r[1]["_exact"] >= m:
            best = (d, r[1], r[0])

    if N == 2:
        consider(1, "cross-polytope")
    e = smallest_dimension(N, m)  # the catalogue: polytopes, lattices, binary codes, spiral, torus grids
    if e is not None and (best is None or e.dim < best[0]):
        best = (e.dim, {**e.certificate(), "_exact": Fraction(e.margin_exact)}, e.margin)
    for item in extra or ():
        X = as_array(item.X if isinstance(item, Configuration) else item)
        d_x = X.shape[2]
        if X.shape[1] >= N and (best is None or d_x < best[0]):
            r = _extra_candidates(N, d_x, [item])
            if r and r[0][1]["_exact"] >= m:
                best = (d_x, r[0][1], r[0][0])
    # random codes are certified at every bisection step: ~10x less work each than in margin_lower
    cap = min(max_random_dim, best[0] - 1 if best else max_random_dim, RANDOM_WORK // (10 * N * N))
    if N > 2 and cap >= 2 and m < Fraction(1, 2):
        found = _random_dim(N, m, cap)
        if found is not None and (best is None or found[0] < best[0]):
            best = found
    if best is None:
        return Bound(math.inf, "none", None, {"certified": False, "note": "no known construction reaches m"})
    d, cert, value = best
    return Bound(d, f"construction:{cert['construction']}", _public(cert), {"certified": True, "margin_cert": value})


def _random_dim(N: int, m: Fraction, cap: int):
    """Smallest d <= ``cap`` where the random code (seed 0) certifiably reaches m, by doubling and
    bisection: ``(d, cert, value)``, or None."""
    def ok(d):
        r = _candidate("random", N, d, 0)
        return r[1]["_exact"] >= m, r

    d, found = 2, None
    while d <= cap:
        good, r = ok(d)
        if good:
            found = (d, r)
            break
        d *= 2
    if found is None and d // 2 < cap:
        good, r = ok(cap)
        if good:
            found = (cap, r)
            d = cap
    if found is None:
        return None
    lo, hi, hr = d // 2, found[0], found[1]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        good, r = ok(mid)
        if good:
            hi, hr = mid, r
        else:
            lo = mid
    return hi, hr[1], hr[0]


# ------------------------------------------------------------------------------ exponents
def _alpha(m: float, b_rel):
    if b_rel is None:
        return 1 - 2 * m
    return (1 + b_rel - 3 * m) / (1 + b_rel + m)


def exponent_lower(margin: float, b_rel: float | None = None) -> float:
    """Theorem 3.3: lim inf (log N_max)/d >= log(1/sqrt(1 - alpha^2)) (natural log), with
    alpha = (1 + b_rel - 3m)/(1 + b_rel + m), or alpha = 1 - 2m for free b_rel.  Needs
    m + b_rel < 1 and 3m < 1 + b_rel; returns 0 otherwise."""
    m = float(margin)
    if not (0 < m <= 1):
        raise ConstellationsError(f"margin m must satisfy 0 < m <= 1, got {m}")
    if b_rel is not None and not (m + b_rel < 1 and 3 * m < 1 + b_rel):
        return 0.0
    a = _alpha(m, b_rel)
    if a <= 0:
        return 0.0
    return -0.5 * math.log1p(-a * a)


def exponent_upper(margin: float, b_rel: float | None = None) -> float:
    """Theorem 3.5: lim sup (log N_max)/d <= -(1/2) log(1 - alpha) (alpha as in exponent_lower)."""
    m = float(margin)
    if not (0 < m <= 1):
        raise ConstellationsError(f"margin m must satisfy 0 < m <= 1, got {m}")
    a = _alpha(m, b_rel)
    if a <= 0:
        return 0.0
    return -0.5 * math.log1p(-a)


def kl_exponent(s: float) -> float:
    """Kabatiansky-Levenshtein upper bound on lim sup (log A(n, s))/n (natural log), cos(theta) = s,
    valid as stated for 0 < theta < pi/2 (for free b_rel: E_MRB(m) <= kl_exponent(1 - 2m))."""
    s = float(s)
    if not (0 < s < 1):
        return 0.0
    x = math.sin(math.acos(s))
    a, b = (1 + x) / (2 * x), (1 - x) / (2 * x)
    return a * math.log(a) - (b * math.log(b) if b > 0 else 0.0)

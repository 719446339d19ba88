r"""Certified ceilings for tied constellations (codes) in their own dimension (issue 13, item 1).

A tied constellation has U = V = a spherical code P of N points on S^{d-1}; its margin is
m = (1 - c)/2 with c the largest inner product of P (matched pairs have inner product 1).  So the
best tied margin is

.. math:: m_{tied}^*(N, d) = (1 - c^*(N, d))/2, \qquad c^*(N, d) = \min_P \max_{i \ne j} \langle p_i, p_j \rangle,

and a bound A(d, s) < N (no N-point code on S^{d-1} with max inner product <= s) gives
c*(N, d) > s, i.e. m*_tied(N, d) < (1 - s)/2.  Unlike the sandwich of docs/math.md 5.2, which
must bound constellations and therefore works on S^d (A(d+1, 1-2m)), codes are bounded in their
own dimension.  Exact cases come first:

* **d = 1**: S^0 = {+1, -1}; N = 2 gives m = 1, N >= 3 forces two equal points, m = 0.
* **d >= N - 1** (Rankin): |sum p_i|^2 >= 0 gives c >= -1/(N-1), attained by the regular simplex:
  m = N/(2(N-1)) exactly.
* **d + 2 <= N <= 2d** (Rankin): among d + 2 unit vectors in R^d two have a non-negative inner
  product, so c >= 0, attained by the cross-polytope: m = 1/2 exactly.
* **d = 2**: A(2, cos t) = floor(2 pi / t) (some two of N points on a circle are within angle
  2 pi / N), so c*(N, 2) = cos(2 pi/N) and m = sin^2(pi/N), attained by the regular N-gon.  For
  N in {5, 6, 8, 10, 12} cos(2 pi/N) is rational or a quadratic surd and m is exact; otherwise the
  value is enclosed with mpmath interval arithmetic (``mpmath.iv``, 100 bits), its upper end
  rounded up to a float, and the optimum is named "sin^2(pi/N)" with the enclosure in
  ``details["optimum_enclosure"]``.

Every exact case carries ``details["optimal"] = True``, ``details["optimum_exact"]`` and
``details["theorem"]`` (read by :func:`.optimality.optimality`); :func:`tied_optimum` returns them
without the bisection of the general case.
* **Levenshtein-sharp codes** (icosahedron, Clebsch 16, Schlafli 27, Gosset 56, E8 240):
  the exact Levenshtein value L(d, c) equals N at the code's exact c.  L(d, s) is continuous and
  strictly increasing in s (Levenshtein 1992), so A(d, s) <= L(d, s) < N for every s < c: c* = c and
  the code is optimal; the ceiling is the exact (1 - c)/2 rounded up.  L(d, c) = N is recomputed
  in exact arithmetic at every call.  (The 600-cell is optimal too, Andreev 1999, but with a
  different polynomial: L(4, cos(pi/5)) = 259/2 - 7 sqrt(5)/2 = 121.67 > 120, so it is not
  flagged here.)

Otherwise the ceiling is found like the sandwich's: a float bisection locates the s where the
Levenshtein bound (or, with ``method="delsarte"``, the Delsarte LP) crosses N; then a dyadic
m is certified exactly (s = 1 - 2m exact, the code bound computed in exact arithmetic, value < N).

The proved Tammes cases (d = 3, N <= 14 and N = 24), the (4, 10, 1/6) code and the 600-cell are
flagged with their reference in ``details["known_optimal"]`` (:data:`KNOWN_OPTIMAL`); there the
optimum is known but not as a closed form used here, so the ceiling stays the certified code bound.
The 24-cell is not flagged: the kissing number 24 (Musin 2008) says A(4, 1/2) = 24, not that no 24
points do better than inner product 1/2.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

from constellations.core.errors import ConfigurationError

from constellations.bounds.bound import Bound
from constellations.bounds.constellation import _check_d, _check_n, _check_size, _lp_threshold, _sandwich_threshold
from constellations.core.exact import exact_str, float_up, parse_exact, rational_upper
from constellations.bounds.levenshtein import levenshtein_bound

__all__ = ["margin_upper_tied", "tied_optimum", "SHARP_CODES", "TAMMES_PROVED", "KNOWN_OPTIMAL"]

# (d, N) -> (construction, exact c): the Levenshtein-sharp codes the toolkit can build
SHARP_CODES = {
    (3, 12): ("icosahedron", "1/sqrt(5)"),
    (5, 16): ("clebsch", "1/5"),
    (6, 27): ("schlafli", "1/4"),
    (7, 56): ("gosset", "1/3"),
    (8, 240): ("e8", "1/2"),
}

# proved optimal spherical codes in S^2 (the Tammes problem)
TAMMES_PROVED = {
    **{N: "Fejes Toth 1943" for N in (3, 4, 5, 6, 12)},
    **{N: "Schutte and van der Waerden 1951" for N in (7, 8, 9)},
    **{N: "Danzer 1963 (Boroczky 1983 for N = 11)" for N in (10, 11)},
    13: "Musin and Tarasov 2012", 14: "Musin and Tarasov 2015", 24: "Robinson 1961",
}

# (d, N) -> reference: every proved optimal code whose optimum is not one of the exact cases above
KNOWN_OPTIMAL = {
    **{(3, N): ref for N, ref in TAMMES_PROVED.items()},
    (4, 10): "Bachoc and Vallentin 2009 (c = 1/6, three-point SDP)",
    (4, 120): "Andreev 1999 (the 600-cell)",
}


# cos(2 pi/N) in closed form for the N > 4 whose value is rational or a quadratic surd
_POLYGON_COS = {5: "(sqrt(5) - 1)/4", 6: "1/2", 8: "sqrt(2)/2", 10: "(1 + sqrt(5))/4", 12: "sqrt(3)/2"}


def _polygon_enclosure(N: int):
    """sin^2(pi/N) enclosed by mpmath interval arithmetic (100 bits): exact rationals (lo, hi)."""
    from mpmath import iv
    from mpmath.libmp import to_rational
    old = iv.prec
    try:
        iv.prec = 100
        x = iv.sin(iv.pi / N) ** 2
        lo, hi = (Fraction(*to_rational(e)) for e in x._mpi_)
    finally:
        iv.prec = old
    return lo, hi


def _exact_bound(N, d, m, method, cert, note, theorem):
    det = {"certified": True, "optimal": True, "exact": exact_str(m), "optimum_exact": exact_str(m),
           "theorem": theorem, "note": note}
    return Bound(float_up(m), method, {"type": "tied-exact", "N": N, "d": d, "m": exact_str(m), **cert}, det)


def tied_optimum(N: int, d: int) -> Bound | None:
    """The proved optimum m*_tied(N, d) where a theorem of the module docstring gives it, else None.

    Cheap (no bisection): d = 1, d >= N - 1 (Rankin, simplex), d + 2 <= N <= 2d (Rankin,
    cross-polytope), d = 2 (the regular N-gon) and the Levenshtein-sharp codes.  The Bound carries
    ``details["optimal"] = True``, ``details["optimum_exact"]`` (exact string, or "sin^2(pi/N)" with
    ``details["optimum_enclosure"]`` = exact [lo, hi]) and ``details["theorem"]``.
    """
    if d == 1:
        m = Fraction(1) if N == 2 else Fraction(0)
        return _exact_bound(N, d, m, "exact-d1", {"proof": "S^0 = {+1, -1}: three points repeat one"},
                            "two antipodal points" if N == 2 else "N >= 3 points on S^0 repeat one: m = 0", "d = 1")
    if d >= N - 1:
        m = Fraction(N, 2 * (N - 1))
        return _exact_bound(N, d, m, "rankin-simplex", {"proof": "|sum p_i|^2 >= 0 gives c >= -1/(N-1)"},
                            "regular simplex (Rankin)", "Rankin (simplex)")
    if N <= 2 * d:
        return _exact_bound(N, d, Fraction(1, 2), "rankin-cross-polytope",
                            {"proof": "d+2 unit vectors in R^d have two with inner product >= 0 (Rankin 1955)"},
                            "cross-polytope (Rankin)", "Rankin (cross-polytope)")
    if d == 2 and N in _POLYGON_COS:  # cos(2 pi/N) is rational or a quadratic surd: m exactly
        m = (1 - parse_exact(_POLYGON_COS[N])) / 2
        return _exact_bound(N, d, m, "polygon-exact",
                            {"formula": "sin^2(pi/N) = (1 - cos(2 pi/N))/2", "cos_2pi_over_N": _POLYGON_COS[N],
                             "upper_end": exact_str(rational_upper(m, 100)),
                             "proof": "A(2, cos t) = floor(2 pi/t): some two of N points on a circle are within 2 pi/N"},
                            "regular N-gon", "d = 2 polygon")
    if d == 2:
        lo, hi = _polygon_enclosure(N)
        return Bound(float_up(hi), "polygon-exact",
                     {"type": "tied-exact", "N": N, "d": 2, "formula": "sin^2(pi/N)", "upper_end": exact_str(hi),
                      "proof": "A(2, cos t) = floor(2 pi/t): some two of N points on a circle are within 2 pi/N",
                      "arithmetic": "mpmath.iv interval, 100 bits, upper end rounded up"},
                     {"certified": True, "optimal": True, "note": "regular N-gon",
                      "optimum_exact": f"sin^2(pi/{N})", "optimum_enclosure": [exact_str(lo), exact_str(hi)],
                      "theorem": "d = 2 polygon"})
    return _sharp_optimum(N, d)


def _sharp_optimum(N: int, d: int) -> Bound | None:
    """The Levenshtein-sharp codes: L(d, c) = N recomputed exactly (module docstring)."""
    sharp = SHARP_CODES.get((d, N))
    if sharp is None:
        return None
    c = parse_exact(sharp[1])
    L = levenshtein_bound(d, c)
    if L.details["exact"] != str(N):  # pragma: no cover - L(d, c) = N is a theorem for these codes
        return None
    m = (1 - c) / 2
    return Bound(float_up(m), "levenshtein-sharp",
                 {"type": "tied-exact", "N": N, "d": d, "construction": sharp[0], "c": exact_str(c),
                  "m": exact_str(m), "levenshtein_at_c": L.details["exact"],
                  "proof": "L(d, s) strictly increasing with L(d, c) = N: A(d, s) < N for s < c"},
                 {"certified": True, "optimal": True, "exact": exact_str(m), "optimum_exact": exact_str(m),
                  "theorem": "Levenshtein (sharp)", "note": f"{sharp[0]} attains the Levenshtein bound"})


@lru_cache(maxsize=4096)
def _tied_cached(N: int, d: int, method: str) -> Bound:
    known = KNOWN_OPTIMAL.get((d, N))
    exact = tied_optimum(N, d)
    if exact is not None:
        return exact
    cap = Fraction(N, 2 * (N - 1))
    found = _sandwich_threshold(N, d - 1, cap, "levenshtein")  # its code bound lives in dimension d
    if found is None:
        return Bound(float_up(cap), "rankin", {"type": "tied-exact", "N": N, "d": d, "m": exact_str(cap)},
                     {"certified": True, "optimal": False, "known_optimal": known})
    if method == "delsarte":
        lp = _lp_threshold(N, d - 1, found[0])
        if lp is not None:
            found = lp
    m_c, b, tries = found
    cert = {"type": "tied-code-bound", "N": N, "d": d, "m": exact_str(m_c), "s": exact_str(1 - 2 * m_c),
            "code_bound": {"method": b.method, "value": b.value, "certificate": b.certificate},
            "conclusion": f"A({d}, 1-2m) <= {b.value} < {N}, so no N-point code on S^{d - 1} has margin m"}
    return Bound(float_up(m_c), f"tied-{b.method}", cert,
                 {"certified": True, "optimal": False, "known_optimal": known, "certification_tries": len(tries)})


def margin_upper_tied(n, dim, method: str = "levenshtein") -> Bound:
    """Certified upper bound on the margin of tied constellations (spherical codes) in R^d.

    Parameters
    ----------
    n : int, 2 <= N <= MAX_ITEMS
    dim : int >= 1
    method : {"levenshtein", "delsarte"}
        Code bound used away from the exact cases (see the module docstring).

    Returns
    -------
    Bound
        ``value`` >= m*_tied(N, d) = (1 - c*(N, d))/2, rounded up; ``details["optimal"]`` is True
        where the value is the proved optimum (then a known construction attains it);
        ``details["known_optimal"]`` names the reference of a proved Tammes case.
    """
    N, d = _check_n(n), _check_d(dim)
    _check_size(N)
    if method not in ("levenshtein", "delsarte"):
        raise ConfigurationError(f"unknown method {method!r} (levenshtein, delsarte)")
    return _tied_cached(N, d, method)

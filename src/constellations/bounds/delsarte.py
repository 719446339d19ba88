r"""The Delsarte linear-programming bound on A(n, s), with an exact certificate.

Delsarte: if f(t) = sum_{k=0}^D f_k G_k^{(n)}(t) with f_0 > 0, f_k >= 0 (k >= 1) and
f(t) <= 0 for all t in [-1, s], then A(n, s) <= f(1)/f_0.

**Candidate.**  With f_0 = 1 the LP "minimise f(1) = 1 + sum f_k subject to f_k >= 0 and
f(t_j) <= 0 on a grid t_j of [-1, s]" is solved by SciPy's HiGHS (float).  The grid is refined at
the local maxima of the float solution.  This is only a candidate.

**Certificate.**  The float coefficients f_k are taken as exact dyadic rationals (negative ones set
to 0).  Let mu be an upper bound on max_{[-1,s]} f computed rigorously (exact values at -1 and s, and
ball-arithmetic values of f on FLINT's certified enclosures of the real roots of f').  The
certified polynomial is g = f - mu' with a rational mu' > max(mu, 0), so g_0 = 1 - mu', and:

* g_k = f_k >= 0 (k >= 1) and g_0 > 0: exact rational comparisons;
* g <= 0 on [-1, s]: g(-1) < 0 exactly, and g has no real root in [-1, s], proved with FLINT's
  certified complex root isolation (``fmpq_poly.complex_roots``): every enclosure that could
  contain a real root lies outside [-1, s];
* the bound g(1)/g_0 is an exact rational; its floor is the certified integer bound.

An irrational s (a + b sqrt(D)) is replaced by a rational s' >= s (A(n, s) <= A(n, s')).
:func:`verify_certificate` re-checks a certificate from its JSON form alone.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from constellations.core.errors import ConfigurationError, ConstellationsError

from constellations.bounds.bound import Bound
from constellations.core.exact import exact_str, float_up, floor_exact, rational_upper, to_exact
from constellations.bounds.levenshtein import check_code_args, levenshtein_degree
from constellations.bounds.polynomials import from_gegenbauer, poly_eval

__all__ = ["delsarte_lp_bound", "delsarte_lp_float", "verify_certificate", "gegenbauer_matrix",
           "certify_nonpositive"]


def gegenbauer_matrix(n: int, D: int, t) -> np.ndarray:
    """G_k^{(n)}(t_j) for k = 0..D (float64, three-term recurrence), shape (len(t), D+1)."""
    t = np.asarray(t, dtype=np.float64)
    G = np.empty((t.size, D + 1))
    G[:, 0] = 1.0
    if D >= 1:
        G[:, 1] = t
    for k in range(1, D):
        G[:, k + 1] = ((2 * k + n - 2) * t * G[:, k] - k * G[:, k - 1]) / (k + n - 2)
    return G


def _grid(s: float, m: int) -> np.ndarray:
    th = np.linspace(0.0, np.pi, m)
    return (s - 1) / 2 + (s + 1) / 2 * np.cos(th)[::-1]


def delsarte_lp_float(n: int, s: float, degree: int, grid: int = 1500, rounds: int = 3):
    """Solve the LP in floating point. Returns (coefficients f_0..f_D with f_0 = 1, value) or
    (None, inf) if infeasible."""
    from scipy.optimize import linprog
    D = int(degree)
    pts = _grid(s, grid)
    fine = _grid(s, 20 * grid)
    Gfine = gegenbauer_matrix(n, D, fine)
    res = None
    for _ in range(rounds):
        G = gegenbauer_matrix(n, D, pts)
        res = linprog(np.ones(D), A_ub=G[:, 1:], b_ub=-np.ones(len(pts)), bounds=[(0, None)] * D,
                      method="highs")
        if res.status != 0:
            return None, math.inf
        f = np.concatenate([[1.0], res.x])
        vals = Gfine @ f
        # local maxima of f on the fine grid that are close to 0 join the grid
        inner = (vals[1:-1] >= vals[:-2]) & (vals[1:-1] >= vals[2:])
        idx = np.nonzero(inner)[0] + 1
        idx = idx[vals[idx] > -1e-3 * max(1.0, abs(f).sum())]
        if idx.size == 0 or vals.max() <= 0:
            break
        pts = np.unique(np.concatenate([pts, fine[idx], fine[np.maximum(idx - 1, 0)],
                                        fine[np.minimum(idx + 1, fine.size - 1)]]))
    f = np.concatenate([[1.0], np.maximum(res.x, 0.0)])
    return f, float(f.sum())


def _arb_to_fraction(x) -> Fraction:
    m, e = x.man_exp()
    m, e = int(m), int(e)
    return Fraction(m * 2 ** e) if e >= 0 else Fraction(m, 2 ** (-e))


def _fmpq_poly(coeffs):
    import flint
    return flint.fmpq_poly([flint.fmpq(c.numerator, c.denominator) for c in coeffs])


def _max_upper(mono, s: Fraction) -> Fraction:
    """A rigorous upper bound on max_{t in [-1, s]} p(t) (p exact rational, monomial basis)."""
    import flint
    p = _fmpq_poly(mono)
    cands = [poly_eval(mono, Fraction(-1)), poly_eval(mono, s)]
    dp = p.derivative()
    if dp.degree() >= 1:
        old = flint.ctx.prec
        try:
            flint.ctx.prec = 256
            ap = flint.arb_poly(p)
            for z, _mult in dp.complex_roots():
                if not z.imag.contains(0):
                    continue
                lo = _arb_to_fraction(z.real.lower())
                hi = _arb_to_fraction(z.real.upper())
                if hi < -1 or lo > s:
                    continue
                v = ap(z.real)
                cands.append(_arb_to_fraction(v.upper()))
        finally:
            flint.ctx.prec = old
    return max(cands)


def certify_nonpositive(mono, s: Fraction) -> bool:
    """Prove p(t) < 0 for all t in [-1, s] (exact rational p): p(-1) < 0 and no real root of p
    in [-1, s] (FLINT certified root isolation; enclosures that might be real count as real)."""
    if poly_eval(mono, Fraction(-1)) >= 0:
        return False
    p = _fmpq_poly(mono)
    if p.degree() < 1:
        return True
    for z, _mult in p.complex_roots():
        if not z.imag.contains(0):
            continue
        lo = _arb_to_fraction(z.real.lower())
        hi = _arb_to_fraction(z.real.upper())
        if not (hi < -1 or lo > s):
            return False
    return True


def _certify(n: int, s: Fraction, f_float: np.ndarray):
    fk = [Fraction(float(x)) for x in f_float]
    fk = [max(x, Fraction(0)) for x in fk]
    fk[0] = Fraction(1)
    mono = from_gegenbauer(fk, n)
    mu = _max_upper(mono, s)
    scale = sum(abs(c) for c in fk)
    delta = Fraction(1, 2 ** 70) * scale
    for _ in range(40):
        shift = max(mu, Fraction(0)) + delta
        shift = rational_upper(shift, 90) if not isinstance(shift, Fraction) else shift
        g0 = 1 - shift
        if g0 <= 0:
            return None
        gmono = list(mono)
        gmono[0] = gmono[0] - shift
        if certify_nonpositive(gmono, s):
            gk = [g0] + fk[1:]
            return gk, poly_eval(gmono, Fraction(1)) / g0
        delta *= 16
    return None


def delsarte_lp_bound(n, s, degree: int | None = None, grid: int = 1500) -> Bound:
    """Certified Delsarte LP bound on A(n, s).

    Parameters
    ----------
    n : int >= 2
    s : number in [-1, 1)  (see :func:`core.exact.to_exact`)
    degree : int, optional
        Largest polynomial degree D.  Default: max(2 tau + 6, 16), capped at 60, where tau is
        the Levenshtein degree at s (the LP of degree >= tau is always feasible).
    grid : int
        Initial number of LP constraint points on [-1, s].

    Returns
    -------
    Bound
        ``value`` the certified integer bound floor(g(1)/g_0); ``details["real"]`` the float of the
        certified rational g(1)/g_0, ``details["lp_value"]`` the float LP optimum;
        ``certificate`` the exact Gegenbauer coefficients (``verify_certificate`` re-checks it).
        If the LP is infeasible at this degree, ``value`` is ``math.inf``.
    """
    n, s_ex = check_code_args(n, s)
    s_rat = s_ex if isinstance(s_ex, Fraction) else rational_upper(s_ex, 62)
    if degree is None:
        try:
            tau = levenshtein_degree(n, float(s_rat))
        except ConfigurationError:  # tau above the Levenshtein limit: the degree cap applies anyway
            tau = 60
        degree = min(max(2 * tau + 6, 16), 60)
    degree = int(degree)
    if degree < 1:
        raise ConstellationsError(f"degree must be >= 1, got {degree}")
    f, lp_value = delsarte_lp_float(n, float(s_rat), degree, grid)
    if f is None:
        return Bound(math.inf, "delsarte-lp", None,
                     {"certified": False, "degree": degree, "note": "LP infeasible at this degree"})
    out = _certify(n, s_rat, f)
    if out is None:
        return Bound(math.inf, "delsarte-lp", None,
                     {"certified": False, "degree": degree, "lp_value": lp_value,
                      "note": "the LP solution could not be certified"})
    gk, value = out
    cert = {"type": "delsarte-polynomial", "n": n, "s": exact_str(s_rat), "degree": degree,
            "gegenbauer_coefficients": [exact_str(c) for c in gk], "bound": exact_str(value),
            "proof": "g_k >= 0 exactly; g(-1) < 0 and no real root in [-1, s] (FLINT root isolation)"}
    details = {"real": float(value), "real_upper": float_up(value), "lp_value": lp_value,
               "degree": degree, "certified": True}
    if s_rat != s_ex:
        details["s_rounded_up_from"] = exact_str(s_ex)
    return Bound(floor_exact(value), "delsarte-lp", cert, details)


def verify_certificate(cert: dict) -> Fraction:
    """Re-check a Delsarte certificate (as produced above, from its JSON form) and return the
    exact bound f(1)/f_0.  Raises ``ArithmeticError`` if any condition fails."""
    n = int(cert["n"])
    s = Fraction(cert["s"]) if "sqrt" not in cert["s"] else None
    if s is None:
        s = rational_upper(to_exact(cert["s"]), 62)
    fk = [Fraction(c) for c in cert["gegenbauer_coefficients"]]
    if fk[0] <= 0 or any(c < 0 for c in fk[1:]):
        raise ArithmeticError("coefficient signs fail")
    mono = from_gegenbauer(fk, n)
    if not certify_nonpositive(mono, s):
        # p may touch 0 (Levenshtein polynomials do): check p - eps < 0 is not enough; use exact
        # non-positivity via the maximum instead
        if _max_upper(mono, s) > 0:
            raise ArithmeticError("polynomial is not <= 0 on [-1, s]")
    return poly_eval(mono, Fraction(1)) / fk[0]

r"""Free-constellation ceilings from codes in the constellation's own dimension (issue 13, items 3 and 6).

The sandwich of docs/math.md 5.2 bounds an N-item constellation in R^d by a code on S^d, one
dimension up: m*(N, d) <= (1 - c*(N, d+1))/2.  Here the midpoints Z_i are projected radially onto
S^{d-1} instead of being lifted to S^d, which keeps the dimension at d at the price of a larger
inner-product bound s(m) >= 1 - 2m.

**Theorem (shell bound).**  Let N >= 2, d >= 1, m > 0 and put
kappa = N/(2(N-1)), r_*^2 = m/kappa = 2(1 - 1/N) m and

.. math::
    s(m) = \max\Bigl(1 - 2m,\; \frac{1 + r^2 - 4m}{2r}\Bigr), \qquad 0 < r \le r_*,\ r \le 1.

If an N-item constellation with margin >= m exists in R^d (any M >= 2, any graph with an edge,
any b_rel), then N <= A(d, s(m)).  Equivalently, a certified bound A(d, s) < N with s >= s(m)
proves m*(N, d) < m.

*Proof.*  Fix an edge (k, l) and write U = X[k], V = X[l]; the constellation has some b with
<U_i, V_i> >= b + m and <U_i, V_j> <= b - m (i != j).  Let Z_i = (U_i + V_i)/2.

(i) |Z_i|^2 = (1 + <U_i, V_i>)/2 >= r_0^2 := (1 + b + m)/2, and |Z_i| <= 1 (triangle inequality).

(ii) |Z_i - Z_j|^2 >= 4m for i != j (docs/math.md 5.2: with dU = U_i - U_j, dV = V_i - V_j,
<dU, dV> >= 4m and |Z_i - Z_j|^2 = (|dU|^2 + |dV|^2 + 2<dU, dV>)/4 >= <dU, dV>).

(iii) Theorem 3.4 (docs/math.md 5.1): (3N - 4) m <= N (1 + b), so
1 + b + m >= (4 - 4/N) m and r_0^2 >= 2 (1 - 1/N) m = r_*^2 >= r^2.  So every |Z_i| lies in [r, 1].

(iv) If |Z_i| = r_1, |Z_j| = r_2 and theta is their angle, (ii) reads
r_1^2 + r_2^2 - 2 r_1 r_2 cos(theta) >= 4m, i.e. cos(theta) <= g(r_1, r_2) = (r_1^2 + r_2^2 - 4m)/(2 r_1 r_2).
On the box [r, 1]^2 the partial derivatives of g have the signs of r_1^2 - r_2^2 + 4m and
r_2^2 - r_1^2 + 4m, which cannot both vanish (their sum is 8m > 0): the maximum is on the boundary.
On r_1 = r, g increases in r_2 (r_2^2 - r^2 + 4m > 0), so its maximum there is g(r, 1).  On r_1 = 1,
g(1, t) = (1 - 4m)/(2t) + t/2 is convex (or increasing if 1 - 4m <= 0) in t, so its maximum is at
t = r or t = 1.  The other two edges are the same by symmetry.  Hence
max g = max(g(1, 1), g(r, 1)) = s(m).  (g(r, 1) - g(1, 1) = (1 - r)(1 - r - 4m)/(2r), so the
second term matters only when r < 1 - 4m.)

(v) The unit vectors Y_i = Z_i/|Z_i| in S^{d-1} therefore have pairwise inner products <= s(m).
If s(m) < 1 they are N distinct points, so N <= A(d, s(m)).  A constellation with margin m' >= m
satisfies the inequalities with m as well, so the conclusion holds for it too. ∎

**Corollary (free = tied above m_reg).**  Let m_reg(N) be the root of r_*(m) = 1 - 4m, i.e.
m_reg = ((sqrt(q + 16) - sqrt(q))/8)^2 with q = 2(1 - 1/N) (:func:`code_regime_floor`; it decreases
from 0.1414 at N = 3 to 1/8 as N grows).  Then

.. math:: m^*_{free}(N, d) \le \max(m^*_{tied}(N, d), m_{reg}(N)),

so m*_free(N, d) = m*_tied(N, d) whenever m*_tied(N, d) >= m_reg(N), whether or not the optimal code
is known.  *Proof.* For m > max(m*_tied, m_reg), r_* > 1 - 4m (r_* - (1 - 4m) increases in m), so
s(m) = 1 - 2m < 1 - 2 m*_tied = c*(N, d) and A(d, s(m)) < N. ∎  It is constructive:
:func:`midpoint_code` turns a free constellation with margin m >= m_reg into a code on S^{d-1} with
margin >= m (its max inner product is <= s(m) = 1 - 2m by (v)).

*Consequences.*  s(m) decreases in m (1 - 2m does, and with r = r_* the second term is
1/(2r) + r(1 - 4 kappa)/2 with kappa >= 1/2), so the excluded m form an interval up to
Theorem 3.4's cap and one bisection finds the threshold.  For m >= m_reg(N) (between 1/8 and
0.1414) s(m) = 1 - 2m and the free ceiling *is* the code ceiling in dimension d: free
constellations cannot beat the best code bound of their own dimension there, and where that code
bound is attained (the N-gon in the plane for N <= 8, the cross-polytope for d + 2 <= N <= 2d, the
Levenshtein-sharp codes: icosahedron, Clebsch 16, Schlafli 27, Gosset 56, E8 240) the certified
ceiling meets the code and free = tied is proved numerically too.  Below :func:`shell_floor`
(between 0.0858 and 0.1005) s(m) >= 1 and the bound says nothing; the sandwich is the better bound
there.

**Several shells.**  Steps (i)-(iv) apply to any annulus a <= |Z| <= b (0 < a < b <= 1): the
maximum of g over [a, b]^2 is max(g(b, b), g(a, b)) = max(1 - 2m/b^2, (a^2 + b^2 - 4m)/(2ab))
=: s(m; a, b) (on r_1 = a, g increases in r_2; on r_1 = b, g(b, t) is convex or increasing in t;
:func:`annulus_inner_product`).  Cutting [r, 1] at r = a_0 < a_1 < ... < a_K = 1 and counting the
points of each annulus separately,

.. math:: N \le \sum_k A(d, s(m; a_{k-1}, a_k)),

with A(d, s) = 1 for s < -1.  One annulus is the theorem above.  Thin annuli have s < 1 for every
m > 0 ((b - a)^2 < 4m), so this bound works below :func:`shell_floor` too; above m_reg(N) it cannot
beat one shell (the outer annulus alone has s >= 1 - 2m).  The annuli are chosen by a float
dynamic programme over an even grid of [r_*, 1] (:data:`SHELLS_GRID`), m by bisection; the chosen
radii are rounded to multiples of 2^-52 (a_0 = the exact lower bound r of r_*, a_K = 1), every
s(m; a, b) is evaluated exactly in Fractions and rounded up to a multiple of 2^-60, every A(d, s) is
bounded as below (Levenshtein for d >= 3 whatever ``method``: K LP solves would cost K x 4 s), and
the sum is compared with N on integers.

**How it is certified** (:func:`margin_upper_shell`).  A float bisection on m locates the threshold
where the code bound on A(d, s(m)) crosses N.  The candidate m_c is rounded up to a multiple of
2^-52 (or is Theorem 3.4's cap itself), then, in exact rational arithmetic:
r = isqrt(floor(r_*^2 4^64))/2^64 <= r_* (an exact lower bound of the square root), s_up = s(m_c)
evaluated in Fractions at that r (any 0 < r <= r_* is valid by (iii)), and s = s_up rounded up to
a multiple of 2^-60 (A(d, .) is non-decreasing, so a bound at s is one at s_up).  The code bound on
A(d, s) is then

* d = 2: A(2, s) = floor(2 pi / arccos(s)) exactly, decided with mpmath interval arithmetic
  (``mpmath.iv``, 100 bits and more if undecided): A(2, s) = k is proved by
  cos(2 pi/k) <= s < cos(2 pi/(k+1)), with the rational values cos(2 pi/k), k in {1, 2, 3, 4, 6},
  compared exactly (Niven);
* d >= 3: the certified Levenshtein bound (:mod:`.levenshtein`, exact arithmetic) or, with
  ``method="delsarte"``, the certified Delsarte LP (:mod:`.delsarte`) where it proves a smaller
  threshold; for s < 0 also A(d, s) <= d + 1 (pairwise obtuse sets, docs/math.md 5.3), tried at
  the multiple of 2^-52 just above 1/2 + 10^-13 when N >= d + 2 (this gives the cross-polytope's
  1/2 for d + 2 <= N <= 2d);

and "bound < N" is checked on integers; if it fails m_c is raised and the check repeated.  The
reported float is m_c rounded up.  :func:`verify_shell_certificate` redoes the exact part from the
certificate's (N, d, m) alone.  Cost: a cold cell with d <= 12, N <= 128 takes a median 13 ms with
Levenshtein (sandwich included; benchmarks/bench_ceilings.py), about 4-6 s with the Delsarte LP.

For d = 1 and N >= 3 the ceiling is exactly 0 (two of the U_i coincide, U_i = U_j, so
<U_i, V_i> = <U_j, V_i> and pos <= neg; :func:`.constellation.d1_bound` has the proof); for
d >= N - 1 Theorem 3.4 is attained by the simplex.

:func:`margin_upper_free` returns the smallest of this ceiling, the several-shell one (searched
below min(best so far, m_reg(N))) and the sandwich (:func:`.constellation.margin_upper`); each is a
certified upper bound on m*(N, d), so the smallest one is.

**Proved optima** (:func:`free_optimum`).  Where a theorem gives m*(N, d) exactly, that value
(rounded up) replaces the dyadic ceiling and ``details["optimal"]`` is True: d = 1 (0 for N >= 3),
d >= N - 1 (Theorem 3.4, the simplex), and by the corollary above every proved tied optimum
m*_tied >= m_reg(N): the cross-polytope's 1/2 for d + 2 <= N <= 2d (Rankin), the N-gon's
sin^2(pi/N) for 5 <= N <= 8 in the plane, the Levenshtein-sharp codes.  The condition
m*_tied >= m_reg(N) is decided exactly: it is equivalent to 4m >= 1 or q m >= (1 - 4m)^2 with
q = 2(1 - 1/N), evaluated in Fractions or quadratic surds at m (or at the lower end of the interval
enclosure of sin^2(pi/N); on m < 1/4 the difference increases with m).
"""
from __future__ import annotations

import bisect
import math
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

import numpy as np

from constellations.core.certify import certified_margin
from constellations.core.configuration import tied
from constellations.core.errors import ConfigurationError, ConstellationsError
from constellations.core.margins import margin_stats, resolve

from constellations.bounds.bound import Bound
from constellations.bounds.constellation import (MAX_ITEMS, _check_b, _check_d, _check_n, _check_size, _delsarte_lp_value, _dyadic_up,
                           _lp_threshold_bisect, _margin_upper_cached, code_bound, d1_bound, margin_upper,
                           simplex_optimum_details, theorem34_upper)
from constellations.core.exact import exact_str, float_up, parse_exact, to_int
from constellations.bounds.delsarte import verify_certificate
from constellations.bounds.levenshtein import levenshtein_degree, levenshtein_float
from constellations.bounds.tied import tied_optimum

__all__ = ["margin_upper_free", "free_optimum", "margin_upper_shell", "shell_inner_product", "shell_inner_product_float", "shell_floor",
           "code_regime_floor", "midpoint_code", "MidpointCode", "annulus_inner_product",
           "polygon_code_bound", "verify_shell_certificate", "margin_upper_large", "LARGE_N_DEGREE"]

_R_BITS = 64  # the lower bound on r_* is a multiple of 2^-64
_S_BITS = 60  # s is rounded up to a multiple of 2^-60 before the code bound


# ------------------------------------------------------------------------------ s(m)
def shell_inner_product_float(N: int, m: float) -> float:
    """s(m) of the module docstring in floating point (steers the bisection only)."""
    r = math.sqrt(2 * (1 - 1 / N) * m)
    if r <= 0:
        return math.inf
    return max(1 - 2 * m, (1 + r * r - 4 * m) / (2 * r))


def shell_floor(N: int) -> float:
    """The smallest m at which s(m) < 1 (float): below it the shell bound says nothing.

    s(m) < 1 iff (1 - r_*)^2 < 4m with r_* = sqrt(m/kappa), i.e. sqrt(m) (2 + 1/sqrt(kappa)) > 1:
    m > 1/(2 + sqrt(2(N-1)/N))^2, which decreases to 1/(2 + sqrt 2)^2 = 0.0858 as N grows.
    """
    return 1.0 / (2.0 + math.sqrt(2.0 * (N - 1) / N)) ** 2


def code_regime_floor(N: int) -> float:
    """m_reg(N): the margin from which s(m) = 1 - 2m (the root of sqrt(2(1-1/N) m) = 1 - 4m)."""
    q = 2.0 * (N - 1) / N
    return ((math.sqrt(q + 16.0) - math.sqrt(q)) / 8.0) ** 2


def _sqrt_lower(q: Fraction, bits: int = _R_BITS) -> Fraction:
    """An exact rational r <= sqrt(q) (q >= 0), within 2^-bits of it."""
    return Fraction(math.isqrt(q.numerator * 4 ** bits // q.denominator), 2 ** bits)


def shell_inner_product(N: int, m: Fraction) -> dict:
    """Exact rational data of the certified step at margin m (a Fraction, 0 < m <= N/(2(N-1))).

    Returns a dict with ``r`` (an exact r <= sqrt(2(1-1/N) m)), ``s_upper`` = s(m) at that r
    (exact), ``s`` (s_upper rounded up to a multiple of 2^-60) and ``code_regime`` (True when
    s_upper = 1 - 2m, i.e. the bound is the code bound A(d, 1 - 2m)).
    """
    m = Fraction(m)
    if not 0 < m <= Fraction(N, 2 * (N - 1)):
        raise ConstellationsError(f"shell bound needs 0 < m <= N/(2(N-1)), got m={float(m):.6g}")
    r = _sqrt_lower(2 * (1 - Fraction(1, N)) * m)
    if r <= 0:
        return {"r": r, "s_upper": None, "s": None, "code_regime": False}
    r = min(r, Fraction(1))
    second = (1 + r * r - 4 * m) / (2 * r)
    s_up = max(1 - 2 * m, second)
    scale = 1 << _S_BITS
    s = Fraction(math.ceil(s_up * scale), scale)
    return {"r": r, "s_upper": s_up, "s": s, "code_regime": second <= 1 - 2 * m}


# ------------------------------------------------------------------------------ A(2, s)
_RATIONAL_COS = {1: Fraction(1), 2: Fraction(-1), 3: Fraction(-1, 2), 4: Fraction(0), 6: Fraction(1, 2)}


def _cos_2pi_over(k: int, prec: int):
    """(lo, hi) exact rationals with lo <= cos(2 pi/k) <= hi (equal when the value is rational)."""
    if k in _RATIONAL_COS:
        return _RATIONAL_COS[k], _RATIONAL_COS[k]
    from mpmath import iv
    from mpmath.libmp import to_rational
    old = iv.prec
    try:
        iv.prec = prec
        x = iv.cos(2 * iv.pi / k)
        lo, hi = (Fraction(*to_rational(e)) for e in x._mpi_)
    finally:
        iv.prec = old
    return lo, hi


def polygon_code_bound(s) -> Bound:
    """A(2, s) = floor(2 pi / arccos(s)) for a rational s in [-1, 1), decided exactly.

    A(2, s) >= k iff s >= cos(2 pi/k) (N points on a circle with pairwise angles >= t need
    N t <= 2 pi; the regular k-gon attains it).  The float guess k is confirmed by
    cos(2 pi/k) <= s < cos(2 pi/(k+1)) with mpmath interval enclosures (100 bits, doubled up to
    1600 if undecided; cos(2 pi/k) is irrational for k not in {1, 2, 3, 4, 6}, so only a rational
    equal to a rational cosine can tie, and those five are compared exactly).
    """
    s = Fraction(s)
    if not -1 <= s < 1:
        raise ConstellationsError(f"max inner product s must lie in [-1, 1), got {float(s):.6g}")
    k = max(2, int(2 * math.pi / math.acos(max(-1.0, min(1.0, float(s))))))
    prec = 100
    while True:
        lo_k, hi_k = _cos_2pi_over(k, prec)          # need hi_k <= s       (A >= k)
        lo_k1, hi_k1 = _cos_2pi_over(k + 1, prec)    # need s < lo_k1       (A <= k)
        if hi_k <= s and s < lo_k1:
            break
        if s < lo_k and k > 2:      # proved s < cos(2 pi/k): A < k
            k -= 1
            continue
        if s >= hi_k1:              # proved s >= cos(2 pi/(k+1)): A >= k + 1
            k += 1
            continue
        if prec >= 1600:  # pragma: no cover - would need s within 2^-1600 of an irrational cosine
            raise ArithmeticError(f"could not decide A(2, {s})")
        prec *= 2
    cert = {"type": "polygon", "n": 2, "s": exact_str(s), "value": k,
            "proof": f"cos(2 pi/{k}) <= s < cos(2 pi/{k + 1}); A(2, cos t) = floor(2 pi/t)",
            "cos_2pi_over_k_upper": exact_str(hi_k), "cos_2pi_over_k1_lower": exact_str(lo_k1),
            "arithmetic": f"mpmath.iv interval enclosures, {prec} bits"}
    return Bound(k, "polygon-exact", cert, {"certified": True, "exact": True})


def _code_bound_dim(d: int, s: Fraction, method: str) -> Bound:
    """Certified bound on A(d, s) for the shell step (see the module docstring)."""
    if d == 2:
        return polygon_code_bound(s)
    b = code_bound(d, s, method)
    if s < 0 and d + 1 < b.value:
        return _obtuse_bound(d, s)
    return b


def _obtuse_bound(d: int, s: Fraction) -> Bound:
    """A(d, s) <= d + 1 for s < 0 (pairwise obtuse sets, docs/math.md 5.3)."""
    if not s < 0:
        raise ConstellationsError("the obtuse-set bound needs s < 0")
    return Bound(d + 1, "obtuse", {"type": "obtuse", "n": d, "s": exact_str(s), "value": d + 1,
                                   "proof": "pairwise obtuse sets in R^n have at most n + 1 points "
                                            "(docs/math.md 5.3)"}, {"certified": True})


# ------------------------------------------------------------------------------ the threshold
def _float_excluded_gap(N: int, d: int, m: float, method: str) -> float:
    """> 0 where the float code bound at s(m) is >= N (not excluded), < 0 where it is below N."""
    s = shell_inner_product_float(N, m)
    if not s < 1:
        return float(N)
    if d == 2:  # exact: A(2, s) < N iff s < cos(2 pi/N)
        return s - math.cos(2 * math.pi / N)
    try:
        return levenshtein_float(d, s) - N * (1 - 1e-10)
    except ConfigurationError:  # Levenshtein degree above its limit: not excluded at this m
        return float(N)


def _certify(N: int, d: int, m_f: float, m_cap: Fraction, method: str):
    """Raise m from the float threshold until A(d, s(m)) < N is proved; (m_c, data, bound, tries)."""
    step = 1e-13
    tries = []
    while True:
        m_c = min(_dyadic_up(m_f + step), m_cap)
        data = shell_inner_product(N, m_c)
        tries.append(float(m_c))
        if data["s"] is not None and data["s"] < 1:
            try:
                b = _code_bound_dim(d, data["s"], method)
            except ConfigurationError:
                b = None
            if b is not None and b.value < N:
                return m_c, data, b, tries
        if m_c >= m_cap or len(tries) > 40:
            return None
        step *= 8


def _shell_threshold(N: int, d: int, m_cap: Fraction):
    """Certified Levenshtein (d >= 3) / exact (d <= 2) shell threshold, or None."""
    from scipy.optimize import brentq
    hi = float(m_cap)
    if _float_excluded_gap(N, d, hi, "levenshtein") >= 0:
        return None
    lo = min(shell_floor(N) * (1 - 1e-9), hi / 2)  # s(lo) >= 1: not excluded
    while _float_excluded_gap(N, d, lo, "levenshtein") < 0:
        hi, lo = lo, lo / 2
        if lo < 1e-12:  # pragma: no cover - s(m) >= 1 for m < 0.08
            return None
    m_f = brentq(lambda m: _float_excluded_gap(N, d, m, "levenshtein"), lo, hi, xtol=1e-15, rtol=1e-15,
                 maxiter=200)
    return _certify(N, d, m_f, m_cap, "levenshtein")


def _shell_lp_threshold(N: int, d: int, m_lev: Fraction, m_cap: Fraction):
    """Certified Delsarte-LP shell threshold below the Levenshtein one (None if not better)."""
    def lp(m):
        s = shell_inner_product_float(N, m)
        if not s < 1:
            return math.inf
        try:
            tau = levenshtein_degree(d, s)
        except ConfigurationError:
            tau = 60
        return _delsarte_lp_value(d, s, tau)

    if lp(float(m_lev)) >= N * (1 - 1e-6):
        return None
    hi = _lp_threshold_bisect(lp, N, float(m_lev))
    step = 1e-12
    tries = []
    while len(tries) < 12:
        m_c = min(_dyadic_up(hi + step), m_cap)
        if m_c >= m_lev:
            return None
        data = shell_inner_product(N, m_c)
        tries.append(float(m_c))
        if data["s"] is not None and data["s"] < 1:
            b = code_bound(d, data["s"], "delsarte")
            if b.value < N:
                return m_c, data, b, tries
        step *= 10
    return None


@lru_cache(maxsize=4096)
def _shell_cached(N: int, d: int, method: str) -> Bound | None:
    m_cap = theorem34_upper(N)
    if d == 1 and N >= 3:
        return d1_bound(N)
    if d >= N - 1:
        return None  # Theorem 3.4 is attained by the simplex: nothing to improve
    found = _shell_threshold(N, d, m_cap)
    if found is not None and method == "delsarte" and d >= 3:
        lp = _shell_lp_threshold(N, d, found[0], m_cap)
        if lp is not None and lp[0] < found[0]:
            found = lp
    m_c = _dyadic_up(0.5 + 1e-13)
    if N >= d + 2 and (found is None or found[0] > m_c):
        # just above m = 1/2, s(m) = 1 - 2m < 0 and at most d + 1 obtuse points fit (Rankin)
        data = shell_inner_product(N, m_c)
        if data["s"] < 0:
            found = (m_c, data, _obtuse_bound(d, data["s"]), [float(m_c)])
    if found is None:
        return None
    m_c, data, b, tries = found
    cert = {"type": "shell", "theorem": "src/constellations/bounds/shell.py (shell bound): N <= A(d, s(m))",
            "N": N, "d": d, "m": exact_str(m_c), "r": exact_str(data["r"]),
            "s_upper": exact_str(data["s_upper"]), "s": exact_str(data["s"]),
            "code_bound": {"n": d, "method": b.method, "value": b.value, "certificate": b.certificate},
            "conclusion": f"A({d}, s) <= {b.value} < {N} with s >= s(m), so m*(N, d) < m"}
    det = {"certified": True, "shell": float_up(m_c), "shell_exact": exact_str(m_c),
           "code_regime": data["code_regime"], "certification_tries": len(tries)}
    return Bound(float_up(m_c), f"shell-{b.method}", cert, det)


def _check_method(method):
    if method not in ("levenshtein", "delsarte"):
        raise ConfigurationError(f"unknown method {method!r} (levenshtein, delsarte)")


def margin_upper_shell(n, dim, method: str = "levenshtein") -> Bound | None:
    """The shell ceiling alone (module docstring), or None where it proves nothing.

    Parameters
    ----------
    n : int, 2 <= N <= MAX_ITEMS
    dim : int >= 1
    method : {"levenshtein", "delsarte"}
        Code bound on A(d, s) for d >= 3 (d <= 2 is exact).

    Returns
    -------
    Bound or None
        ``value`` > m*(N, d) rounded up (= 0 exactly for d = 1, N >= 3), ``method``
        "shell-levenshtein", "shell-delsarte-lp", "shell-polygon-exact", "shell-obtuse" (A(d, s) <= d + 1
        for s < 0) or "exact-d1"; ``details["code_regime"]`` is True
        when s(m_c) = 1 - 2 m_c, i.e. the value is also a code ceiling in dimension d.
        None when d >= N - 1 (Theorem 3.4 is sharp) or no m <= N/(2(N-1)) is excluded.
    """
    N, d = _check_n(n), _check_d(dim)
    _check_size(N)
    _check_method(method)
    return _shell_cached(N, d, method)


# ------------------------------------------------------------------------------ several shells
SHELLS_GRID = {2: 93}
"""Radii tried as annulus boundaries by the multi-shell plan (a dynamic programme over an even grid
of [r_*, 1]): 93 for d = 2 (closed-form counts; 92 = 4 x 23, so it refines the default grid),
:data:`SHELLS_GRID_DEFAULT` otherwise."""
SHELLS_GRID_DEFAULT = 24



def annulus_inner_product(m: Fraction, a: Fraction, b: Fraction) -> Fraction:
    """max of g(r_1, r_2) = (r_1^2 + r_2^2 - 4m)/(2 r_1 r_2) over [a, b]^2 (0 < a < b), exactly.

    As in step (iv) of the theorem: = max(g(b, b), g(a, b)) = max(1 - 2m/b^2, (a^2 + b^2 - 4m)/(2ab)).
    """
    return max(1 - 2 * m / (b * b), (a * a + b * b - 4 * m) / (2 * a * b))


def _single_point(s: Fraction) -> Bound:
    return Bound(1, "single-point", {"type": "single-point", "s": exact_str(s), "value": 1,
                                     "proof": "two unit vectors have inner product >= -1 > s"}, {"certified": True})


def _annulus_bound(d: int, s: Fraction, method: str) -> Bound:
    return _single_point(s) if s < -1 else _code_bound_dim(d, s, method)


_STEER: dict = {}  # d -> (sorted s, floor of the float bound at s): steering values already computed
_STEER_LOCK = threading.Lock()
_STEER_MAX = 50_000


def _float_count(d: int, s: float) -> float:
    """Float estimate of the code bound on A(d, s) (steering only; certification is exact).

    The bound is non-decreasing in s, so an s between two computed points with the same value
    gets that value without a new evaluation (the multi-shell programme asks ~10^4 of them)."""
    if not s < 1:
        return math.inf
    if s < -1:
        return 1.0
    if d == 2:
        return math.floor(2 * math.pi / math.acos(s) + 1e-9)
    with _STEER_LOCK:
        xs, vs = _STEER.setdefault(d, ([], []))
        i = bisect.bisect_left(xs, s)
        if i < len(xs) and xs[i] == s:
            return vs[i]
        if 0 < i < len(xs) and vs[i - 1] == vs[i]:
            return vs[i]
    try:
        x = levenshtein_float(d, s)
    except ConfigurationError:
        x = math.inf
    v = math.floor(x + 1e-9) if math.isfinite(x) else math.inf  # inf: beyond floats, excludes nothing
    if s < 0:
        v = min(v, d + 1)
    with _STEER_LOCK:
        if len(xs) >= _STEER_MAX:
            xs.clear()
            vs.clear()
        i = bisect.bisect_left(xs, s)
        xs.insert(i, s)
        vs.insert(i, v)
    return v


def _plan(N: int, d: int, m: float):
    """Float dynamic programme: annuli from r_* to 1 minimising the summed code bounds.

    Returns (estimated total, interior boundaries as floats)."""
    G = SHELLS_GRID.get(d, SHELLS_GRID_DEFAULT)
    r = math.sqrt(2 * (1 - 1 / N) * m)
    if r >= 1:
        return 0.0, []
    grid = [r + (1 - r) * k / (G - 1) for k in range(G)]
    best, prev = [math.inf] * G, [-1] * G
    best[0] = 0.0
    for j in range(1, G):
        b = grid[j]
        for i in range(j - 1, -1, -1):
            a = grid[i]
            if (b - a) ** 2 >= 4 * m:  # g(a, b) >= 1: this annulus and wider ones say nothing
                break
            if best[i] >= N:
                continue
            c = best[i] + _float_count(d, max(1 - 2 * m / (b * b), (a * a + b * b - 4 * m) / (2 * a * b)))
            if c < best[j]:
                best[j], prev[j] = c, i
    path, j = [], G - 1
    while j > 0 and prev[j] >= 0:
        j = prev[j]
        if j > 0:
            path.append(grid[j])
    return best[-1], path[::-1]


def _certify_shells(N: int, d: int, m_c: Fraction, inner: list, method: str):
    """Exact check of one plan at m_c: (annuli, total) with total < N, or None."""
    r = _sqrt_lower(2 * (1 - Fraction(1, N)) * m_c)
    if r <= 0:
        return None
    cuts = [r] + [q for q in (_dyadic_up(x) for x in inner) if r < q < 1] + [Fraction(1)]
    cuts = sorted(set(cuts))
    annuli, total = [], 0
    scale = 1 << _S_BITS
    for a, b in zip(cuts[:-1], cuts[1:]):
        s_up = annulus_inner_product(m_c, a, b)
        s = Fraction(math.ceil(s_up * scale), scale)
        if not s < 1:
            return None
        try:
            bd = _annulus_bound(d, s, method)
        except ConfigurationError:
            return None
        total += bd.value
        if total >= N:
            return None
        annuli.append({"a": exact_str(a), "b": exact_str(b), "s_upper": exact_str(s_up), "s": exact_str(s),
                       "code_bound": {"n": d, "method": bd.method, "value": bd.value,
                                      "certificate": bd.certificate}})
    return annuli, total


@lru_cache(maxsize=4096)
def _shells_cached(N: int, d: int, hi: float, method: str) -> Bound | None:
    """Multi-shell ceiling below ``hi`` (a float where it is worth searching), or None."""
    def ok(m):
        return _plan(N, d, m)[0] < N

    if not ok(hi):
        return None
    lo = hi / 2
    while ok(lo):
        hi, lo = lo, lo / 2
        if lo < 1e-9:  # pragma: no cover - the annuli get too thin long before
            return None
    for _ in range(40):
        if hi - lo <= 1e-6 * hi:  # the grid makes finer steering pointless
            break
        mid = (lo + hi) / 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    m_cap = theorem34_upper(N)
    step = 1e-12
    for tries in range(1, 13):
        m_c = min(_dyadic_up(hi * (1 + step)), m_cap)
        est, inner = _plan(N, d, float(m_c))
        got = _certify_shells(N, d, m_c, inner, method) if est < N else None
        if got is not None:
            annuli, total = got
            cert = {"type": "shells", "theorem": "src/constellations/bounds/shell.py (several shells): N <= sum_k A(d, s_k)",
                    "N": N, "d": d, "m": exact_str(m_c), "annuli": annuli, "total": total,
                    "conclusion": f"at most {total} < {N} points fit the annuli, so m*(N, d) < m"}
            return Bound(float_up(m_c), f"shells-{annuli[-1]['code_bound']['method']}", cert,
                         {"certified": True, "shells": len(annuli), "certification_tries": tries})
        step *= 10
    return None


def margin_upper_free(n, dim, method: str = "levenshtein", b_rel=None) -> Bound:
    """Certified upper bound on the margin m*(N, d) of N-item constellations in R^d (any M, graph, b_rel).

    The best certified ceiling of the toolkit (the one ``constellations bounds --n N --dim D``
    reports): the smallest of the sandwich :func:`.constellation.margin_upper` (docs/math.md 5.2,
    codes on S^d, and Theorem 3.4), the shell bound :func:`margin_upper_shell` (codes on S^{d-1})
    and the several-shell bound (annuli, module docstring); all are certified, hence so is the
    minimum.  Where a theorem gives m*(N, d) exactly (:func:`free_optimum`: d = 1, d >= N - 1, and
    Corollary 5.4 at the proved tied optima) that exact value, rounded up, is the ceiling and
    ``details["optimal"]`` is True (with ``optimum_exact`` and ``theorem``;
    :func:`.optimality.optimality` reads them).

    Parameters
    ----------
    n : int >= 2
        Above :data:`.constellation.MAX_ITEMS`, :func:`margin_upper_large` (the quickly certified bounds only).
    dim : int >= 1
    method : {"levenshtein", "delsarte"}
        Code bound of the sandwich and of the one-shell bound (the certified Delsarte LP only
        where it beats Levenshtein); the several-shell bound always uses Levenshtein.  Measured
        on one core (benchmarks/bench_ceilings.py, d = 2..12, N = 16..128): median 18 ms per cold
        cell with Levenshtein, 0.2-0.6 s where the several-shell search runs (d = 2, 3 and
        (4, 128)), about 4-6 s per cell with the LP; d = 2, N = 5000 takes 7 s.  Results are
        cached per argument tuple.
    b_rel : number in [-1, 1], optional
        A fixed relative bias: Theorem 3.4's two inequalities at b_rel
        (:func:`.constellation.margin_upper` with ``b_rel``) are used too where smaller; needs
        N <= MAX_ITEMS.  No optimum is claimed at a fixed b_rel.

    Returns
    -------
    Bound
        ``value`` >= m*(N, d), rounded up; ``method`` names the winning bound ("theorem-3.4",
        "sandwich-...", "shell-...", "shells-...", "exact-d1", "corollary-5.4+..."); ``certificate``
        its exact data (:func:`verify_shell_certificate` re-checks the shell ones);
        ``details["sandwich"]``, ``details["shell"]`` and ``details["shells"]`` the separate values
        (None where that bound proves nothing or was not searched).
    """
    N, d = _check_n(n), _check_d(dim)
    _check_method(method)
    if b_rel is not None:
        b = _check_b(b_rel)
        _check_size(N)
        free = margin_upper_free(N, d, method)
        fixed = margin_upper(N, d, b_rel=b, method=method)
        best = fixed if fixed.value < free.value else free
        det = {k: v for k, v in best.details.items() if k not in ("optimal", "optimum_exact", "theorem",
                                                                  "optimum_enclosure")}
        for key in ("sandwich", "sandwich_method", "shell", "shells", "skipped"):
            if key in free.details:
                det[key] = free.details[key]
        return Bound(best.value, best.method, best.certificate, det)
    if N > MAX_ITEMS:
        return _with_optimum(N, d, margin_upper_large(N, d))
    return _with_optimum(N, d, _free_cached(N, d, method))


# ------------------------------------------------------------------------------ proved optima
def _code_regime_exact(N: int, m) -> dict | None:
    """Exact proof that m >= m_reg(N) (Corollary 5.4's condition), or None if it fails.

    m >= m_reg(N) iff r_* = sqrt(q m) >= 1 - 4m (q = 2(1 - 1/N)), i.e. 4m >= 1 or q m >= (1 - 4m)^2;
    on m < 1/4 the difference q m - (1 - 4m)^2 increases with m, so checking a lower bound of m
    suffices.  ``m`` is a Fraction or a Quadratic (compared exactly).
    """
    q = 2 * (1 - Fraction(1, N))
    if 4 * m >= 1:
        return {"m_lower": exact_str(m), "check": "4m >= 1, so r_* >= 0 >= 1 - 4m"}
    lhs, rhs = q * m, (1 - 4 * m) ** 2
    if lhs >= rhs:
        return {"m_lower": exact_str(m), "q": exact_str(q),
                "check": "q m >= (1 - 4m)^2 with q = 2(1 - 1/N), so r_* = sqrt(q m) >= 1 - 4m"}
    return None


def free_optimum(n, dim) -> Bound | None:
    """m*(N, d) exactly where a theorem gives it, else None (no bisection; cheap).

    * d = 1, N >= 3: 0 (:func:`.constellation.d1_bound` has the proof); d >= N - 1: N/(2(N-1))
      (Theorem 3.4, attained by the tied simplex);
    * Corollary 5.4 (module docstring): m*_free(N, d) <= max(m*_tied(N, d), m_reg(N)), and a tied
      code is a constellation, so m*_free = m*_tied whenever m*_tied >= m_reg(N).  m*_tied comes
      from :func:`.tied.tied_optimum` (Rankin's cross-polytope 1/2 for d + 2 <= N <= 2d, the
      regular N-gon sin^2(pi/N) in the plane, the Levenshtein-sharp codes); the condition is
      checked exactly (:func:`_code_regime_exact`, at the exact value or at the lower end of
      its interval enclosure).

    Returns
    -------
    Bound or None
        ``details["optimal"]`` True, ``details["optimum_exact"]``, ``details["theorem"]`` (and
        ``optimum_enclosure`` for sin^2(pi/N)); the certificate holds the tied optimum's
        certificate and the exact code-regime check.
    """
    N, d = _check_n(n), _check_d(dim)
    if d == 1 and N >= 3:
        return d1_bound(N)
    if d >= N - 1:
        m = theorem34_upper(N)
        return Bound(float_up(m), "theorem-3.4", {"type": "theorem-3.4", "N": N, "value": exact_str(m),
                                                  "formula": "N/(2(N-1))"},
                     {"certified": True, "exact": exact_str(m), **simplex_optimum_details(N)})
    t = tied_optimum(N, d)
    if t is None:
        return None
    enc = t.details.get("optimum_enclosure")
    low = Fraction(enc[0]) if enc else parse_exact(t.details["optimum_exact"])
    check = _code_regime_exact(N, low)
    if check is None:
        return None
    theorem = f"Corollary 5.4 + {t.details['theorem']}"
    cert = {"type": "free-optimum", "N": N, "d": d, "m": t.details["optimum_exact"],
            "theorem": "docs/math.md 5.6, Corollary 5.4: m*_free(N, d) <= max(m*_tied(N, d), m_reg(N))",
            "tied_optimum": {"method": t.method, "certificate": t.certificate}, "code_regime": check,
            "conclusion": "m*_tied >= m_reg(N), so m*_free(N, d) = m*_tied(N, d)"}
    det = {k: v for k, v in t.details.items() if k != "note"}
    det.update({"theorem": theorem, "note": f"free = tied: {t.details.get('note', t.method)}"})
    return Bound(t.value, f"corollary-5.4+{t.method}", cert, det)


def _with_optimum(N: int, d: int, best: Bound) -> Bound:
    """``best``, replaced by the exact optimum where :func:`free_optimum` proves one (values kept in details)."""
    opt = free_optimum(N, d)
    if opt is None:
        return best
    keep = {k: best.details[k] for k in ("sandwich", "sandwich_method", "shell", "shells", "skipped", "large_n",
                                         "theorem34", "theorem34_exact") if k in best.details}
    if best.value < opt.value:  # a dyadic ceiling below the enclosure's upper end: keep it, mark the optimum
        return Bound(best.value, best.method, best.certificate, {**best.details, **opt.details})
    return Bound(opt.value, opt.method, opt.certificate, {**keep, **opt.details})


# ------------------------------------------------------------------------------ N > MAX_ITEMS
LARGE_N_DEGREE = 100
"""Above :data:`.constellation.MAX_ITEMS` items, :func:`margin_upper_large` certifies the sandwich and
the one-shell bound only when their exact Levenshtein polynomial has at most this degree.  Measured
on one core: the whole certified sandwich took 0.4 s at degree 75 (N = 20000, d = 3) and 5 s at degree
152 (N = 6000, d = 2); the shell 0.3 s at degree 51 (N = 50000, d = 5)."""


def _float_threshold(excluded, cap: float):
    """Smallest float m in (0, cap] with ``excluded(m)`` (a monotone predicate), or None."""
    if not excluded(cap):
        return None
    hi, lo = cap, cap / 2
    while excluded(lo):
        hi, lo = lo, lo / 2
        if lo < 1e-12:
            return None
    for _ in range(60):
        mid = (lo + hi) / 2
        if excluded(mid):
            hi = mid
        else:
            lo = mid
        if hi - lo <= 1e-12 * hi:
            break
    return hi


def _degree_within(n: int, m: float, s: float, max_degree: int) -> str | None:
    """None if the Levenshtein bound on A(n, s) needs degree <= max_degree, else why not (one line)."""
    try:
        levenshtein_degree(n, s, limit=max_degree)
        return None
    except ConfigurationError:
        return (f"needs Levenshtein degree > {max_degree} on A({n}, {s:.6g}) at m = {m:.6g} "
                f"(exact arithmetic too slow above N = {MAX_ITEMS})")


@lru_cache(maxsize=256)
def _large_cached(N: int, d: int, max_degree: int) -> Bound:
    skipped = {"several_shells": "not searched above N = %d (a dynamic programme of many code bounds)" % MAX_ITEMS,
               "delsarte": "the LP is not used above N = %d" % MAX_ITEMS}
    if d == 1 and N >= 3:
        return _shell_cached(N, 1, "levenshtein")
    cap = theorem34_upper(N)
    thm = Bound(float_up(cap), "theorem-3.4", {"type": "theorem-3.4", "N": N, "value": exact_str(cap),
                                               "formula": "N/(2(N-1))"},
                {"certified": True, "theorem34": float_up(cap), "theorem34_exact": exact_str(cap)})
    if d >= N - 1:
        return Bound(thm.value, thm.method, thm.certificate,
                     {**thm.details, "note": "d >= N-1: the regular simplex attains Theorem 3.4"})
    best, values = thm, {"sandwich": None, "shell": None}

    def sandwich_excluded(m):
        try:
            v = levenshtein_float(d + 1, 1 - 2 * m)
        except ConfigurationError:
            return False
        return math.isfinite(v) and v < N * (1 - 1e-10)

    def shell_excluded(m):
        v = _float_excluded_gap(N, d, m, "levenshtein")
        return math.isfinite(v) and v < 0

    with np.errstate(all="ignore"):  # float steering in huge dimensions may overflow: then skipped
        m_f = _float_threshold(sandwich_excluded, float(cap))
        why = ("no m <= N/(2(N-1)) is excluded by the Levenshtein bound within its degree limit" if m_f is None
               else _degree_within(d + 1, m_f, 1 - 2 * m_f, max_degree))
        if why is None:
            try:
                b = _margin_upper_cached(N, d, None, "levenshtein")
            except (ArithmeticError, ValueError, ConstellationsError) as exc:
                why = f"failed: {exc}"
            else:
                values["sandwich"] = b.value
                if b.value < best.value:
                    best = b
        if why is not None:
            skipped["sandwich"] = why
        if best.value <= shell_floor(N):
            why = f"the sandwich is below {shell_floor(N):.6g}, where s(m) >= 1"
        elif d == 2:
            why = None  # A(2, s) is decided exactly (polygon), whatever N
        else:
            m_f = _float_threshold(shell_excluded, float(cap))
            why = ("no m <= N/(2(N-1)) is excluded within the degree limit" if m_f is None
                   else _degree_within(d, m_f, shell_inner_product_float(N, m_f * (1 + 1e-9)), max_degree))
        if why is None:
            try:
                b = _shell_cached(N, d, "levenshtein")
            except (ArithmeticError, ValueError, ConstellationsError) as exc:
                why = f"failed: {exc}"
            else:
                values["shell"] = None if b is None else b.value
                if b is not None and b.value < best.value:
                    best = b
        if why is not None:
            skipped["shell"] = why
    return Bound(best.value, best.method, best.certificate,
                 {**best.details, **values, "large_n": True, "max_degree": max_degree, "skipped": skipped})


def margin_upper_large(n, dim, max_degree: int = LARGE_N_DEGREE) -> Bound:
    """Certified ceiling on m*(N, d) for any N, with only the bounds that certify quickly.

    Used by :func:`margin_upper_free` above :data:`.constellation.MAX_ITEMS` items.  The smallest of
    Theorem 3.4 (exact), the sandwich (docs/math.md 5.2) and the one-shell bound (module docstring),
    the last two with the certified Levenshtein bound only, and only when a float bisection shows
    that the exact polynomial at the threshold has degree <= ``max_degree`` (:data:`LARGE_N_DEGREE`);
    for d = 2 the shell's A(2, s) is exact at any N.  Every bound left out is named with the reason in
    ``details["skipped"]`` (the several-shell search and the Delsarte LP are always left out), so
    nothing runs long silently.  The certificates are those of :func:`.constellation.margin_upper`
    and :func:`margin_upper_shell`.

    Returns
    -------
    Bound
        ``value`` >= m*(N, d), rounded up; ``details["sandwich"]``, ``details["shell"]`` the separate
        values (None where skipped or proving nothing).
    """
    N, d = _check_n(n), _check_d(dim)
    max_degree = to_int(max_degree, "max_degree", 1, "max_degree must be >= 1, got {}")
    return _large_cached(N, d, max_degree)


@lru_cache(maxsize=4096)
def _free_cached(N: int, d: int, method: str) -> Bound:
    sand = margin_upper(N, d, method=method)
    # every shell ceiling is above shell_floor(N): below it, the search would cost time for nothing
    skip = sand.value <= shell_floor(N)
    shell = None if skip else _shell_cached(N, d, method)
    both = {"sandwich": sand.value, "sandwich_method": sand.method,
            "shell": None if shell is None else shell.value}
    if skip:
        both["shell_skipped"] = f"the sandwich is below {shell_floor(N):.6g}, where s(m) >= 1"
    best = shell if shell is not None and shell.value < sand.value else sand
    # several shells can only help below m_reg (above it one shell is already the code bound)
    if best.value > 0 and 2 <= d < N - 1:
        hi = min(best.value, code_regime_floor(N))
        shells = _shells_cached(N, d, hi, "levenshtein")  # K annuli: the LP would cost K x 4 s
        both["shells"] = None if shells is None else shells.value
        if shells is not None and shells.value < best.value:
            best = shells
    return Bound(best.value, best.method, best.certificate, {**best.details, **both})


# ------------------------------------------------------------------------------ re-check
def verify_shell_certificate(cert: dict) -> bool:
    """Re-check a shell certificate from its (N, d, m) alone, in exact arithmetic.

    Recomputes r, s_upper and s from m (they must match the certificate), recomputes the code
    bound on A(d, s) (Levenshtein exactly, the LP through its own certificate, d <= 2 exactly) and
    checks that it is below N.  Returns True; raises ``ArithmeticError`` if anything fails.
    """
    N, d = int(cert["N"]), int(cert["d"])
    if cert.get("type") == "shells":
        return _verify_shells(cert, N, d)
    if cert.get("type") == "shell-d1":
        if not (d == 1 and N >= 3):
            raise ArithmeticError("the d = 1 argument needs d = 1 and N >= 3")
        return True
    if cert.get("type") != "shell":
        raise ArithmeticError(f"not a shell certificate: {cert.get('type')!r}")
    m = Fraction(cert["m"])
    data = shell_inner_product(N, m)
    r, s = data["r"], data["s"]
    if r <= 0 or r * r > 2 * (1 - Fraction(1, N)) * m or r > 1:
        raise ArithmeticError("r is not in (0, min(1, r_*)]")
    if s < data["s_upper"] or not s < 1:
        raise ArithmeticError("s is not an upper bound on s(m) below 1")
    for key, val in (("r", r), ("s_upper", data["s_upper"]), ("s", s)):
        if Fraction(cert[key]) != val:
            raise ArithmeticError(f"{key} does not match the recomputed value")
    cb = cert["code_bound"]
    if cb["method"] == "delsarte-lp":
        if Fraction(cb["certificate"]["s"]) != s or int(cb["certificate"]["n"]) != d:
            raise ArithmeticError("the LP certificate is for another (n, s)")
        value = math.floor(verify_certificate(cb["certificate"]))
    else:
        value = _code_bound_dim(d, s, "levenshtein").value
    if not value < N:
        raise ArithmeticError(f"the code bound {value} is not below N = {N}")
    if value != cb["value"]:
        raise ArithmeticError("the code bound does not match the certificate")
    return True


# ------------------------------------------------------------------------------ the projection
@dataclass(frozen=True)
class MidpointCode:
    """The code Y_i = Z_i/|Z_i|, Z_i = (U_i + V_i)/2, of one edge of a constellation.

    Attributes
    ----------
    points : ndarray, shape (N, d)
        The unit vectors Y_i (float64, normalised).
    edge : (int, int)
        The modalities (k, l) whose midpoints were used.
    margin_certified : float
        Certified margin (1 - c)/2 of the code used tied
        (:func:`constellations.core.certify.certified_margin`, float64 with a rigorous rounding bound).
    constellation_margin : float
        m* of the input (float64, :func:`constellations.core.margins.margin_stats`).
    guaranteed : float
        (1 - s(m*))/2 from step (v) of the theorem (float, not certified): the code's margin is at
        least this; it equals m* when m* >= m_reg(N).
    """

    points: np.ndarray = field(repr=False, compare=False)
    edge: tuple
    margin_certified: float
    constellation_margin: float
    guaranteed: float


def midpoint_code(X, graph=None) -> MidpointCode:
    """Project a constellation's midpoints onto the sphere: a tied code at least as good above m_reg.

    Every edge (k, l) of the graph gives Y_i = Z_i/|Z_i| with Z_i = (X[k, i] + X[l, i])/2; the edge
    whose code has the largest certified margin is returned.  By the shell theorem (module
    docstring), max <Y_i, Y_j> <= s(m*), so the code's margin is >= (1 - s(m*))/2, which is m* when
    m* >= :func:`code_regime_floor`.

    Raises
    ------
    ConstellationsError
        A midpoint is 0 (U_i = -V_i), so no direction exists.
    """
    A, G = resolve(X, graph)
    N = A.shape[1]
    m = margin_stats(A, G).margin
    best = None
    for k, l in G.edges:
        Z = (A[k] + A[l]) / 2
        norms = np.linalg.norm(Z, axis=1)
        if not np.all(norms > 0):
            raise ConstellationsError(f"edge ({k}, {l}) has a zero midpoint (U_i = -V_i): no projection")
        Y = Z / norms[:, None]
        cm = certified_margin(tied(Y))
        if best is None or cm.margin_certified > best[2]:
            best = (Y, (int(k), int(l)), cm.margin_certified)
    s = shell_inner_product_float(N, m) if m > 0 else math.inf
    guaranteed = (1 - s) / 2 if s < 1 else -math.inf
    return MidpointCode(best[0], best[1], best[2], m, guaranteed)


def _verify_shells(cert: dict, N: int, d: int) -> bool:
    m = Fraction(cert["m"])
    if not 0 < m <= Fraction(N, 2 * (N - 1)):
        raise ArithmeticError("m is outside (0, N/(2(N-1))]")
    annuli = cert["annuli"]
    cuts = [Fraction(a["a"]) for a in annuli] + [Fraction(annuli[-1]["b"])]
    if any(Fraction(a["b"]) != c for a, c in zip(annuli, cuts[1:])):
        raise ArithmeticError("the annuli are not contiguous")
    if not (0 < cuts[0] and cuts[0] ** 2 <= 2 * (1 - Fraction(1, N)) * m and cuts[-1] == 1):
        raise ArithmeticError("the annuli do not cover [r_*, 1]")
    if any(b <= a for a, b in zip(cuts, cuts[1:])):
        raise ArithmeticError("the annulus radii are not increasing")
    total = 0
    for ann, a, b in zip(annuli, cuts, cuts[1:]):
        s_up = annulus_inner_product(m, a, b)
        s = Fraction(ann["s"])
        if s < s_up or not s < 1:
            raise ArithmeticError("an annulus s is not an upper bound on its inner products below 1")
        value = _annulus_bound(d, s, "levenshtein").value
        if value != ann["code_bound"]["value"]:
            raise ArithmeticError("an annulus code bound does not match the certificate")
        total += value
    if not total < N or total != cert["total"]:
        raise ArithmeticError(f"the annuli hold up to {total} points, not fewer than N = {N}")
    return True

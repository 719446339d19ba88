r"""The Levenshtein bound on A(n, s), certified in exact arithmetic.

A(n, s) is the largest number of points on S^{n-1} with pairwise inner products <= s.
With alpha = (n-3)/2, let P_k^{1,0} = P_k^{(alpha+1, alpha)} and P_k^{1,1} = P_k^{(alpha+1, alpha+1)}
(Jacobi), and t_k^{1,0}, t_k^{1,1} their largest zeros (t_0^{1,1} = -1); they interlace,
t_{k-1}^{1,1} < t_k^{1,0} < t_k^{1,1}.  Levenshtein's polynomial of degree tau is

* tau = 2k-1, for s in [t_{k-1}^{1,1}, t_k^{1,0}):  f(t) = (t - s) K_{k-1}^{1,0}(t, s)^2,
* tau = 2k,   for s in [t_k^{1,0}, t_k^{1,1}):      f(t) = (t + 1)(t - s) K_{k-1}^{1,1}(t, s)^2,

with the Christoffel-Darboux kernel
K_{k-1}(t, s) proportional to (P_k(t) P_{k-1}(s) - P_k(s) P_{k-1}(t)) / (t - s).
f <= 0 on [-1, s] holds by its form.  If moreover its Gegenbauer coefficients satisfy f_0 > 0 and
f_i >= 0, Delsarte's theorem gives A(n, s) <= L_tau(n, s) = f(1)/f_0.

**How it is certified.**  s is converted to an exact number (a Fraction, or a + b sqrt(D)), the
polynomial is built with exact coefficients (the division by t - s is exact synthetic
division, with zero remainder checked), its Gegenbauer coefficients are computed exactly and
their signs decided exactly, and f(1)/f_0 and its floor are exact.  The largest Jacobi zeros
are only used (in floating point, via SciPy) to choose tau; the degrees next to it are tried
too when s is near a boundary, and the smallest valid value is returned.  A float input s is
taken as the decimal it prints (0.4 is 2/5, not the binary double nearest to 0.4; pass
``Fraction(0.4)`` for the binary value), a string through the strict grammar of
:func:`.exact.parse_exact`.

**Cost and limit.**  The exact arithmetic grows quickly with tau (measured on one core: tau = 52
in 0.02 s, 106 in 0.16 s, 169 in 1.5 s, 356 in 7.4 s).  tau grows as s -> 1 and with n, so degrees
above :data:`MAX_DEGREE` are refused up front (ConfigurationError stating the degree and the
limit); :func:`levenshtein_degree` finds tau by bisection on k (O(log tau) SciPy zero
computations) and stops at the limit.
"""
from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np

from constellations.core.errors import ConfigurationError, ConstellationsError

from constellations.bounds.bound import Bound
from constellations.core.exact import compact_str, exact_bits, exact_str, float_up, floor_exact, is_printable, to_exact, to_int
from constellations.bounds.polynomials import (divide_linear, jacobi_monomials, poly_eval, poly_mul, poly_scale,
                          poly_sub, to_gegenbauer)

__all__ = ["levenshtein_bound", "levenshtein_polynomial", "levenshtein_degree",
           "levenshtein_float", "rankin_bound", "check_code_args", "MAX_DEGREE"]


def check_code_args(n, s, name_n="n"):
    """Validate (n, s) for A(n, s) and return (int n, exact s)."""
    n = to_int(n, f"dimension {name_n}", 2, f"dimension {name_n} must be >= 2 for A(n, s), got {{}}")
    if n > MAX_CODE_DIM:  # the float steering of the degree (SciPy) needs n to fit a float comfortably
        raise ConfigurationError(f"dimension {name_n}={n} is above the limit of 10^18 for code bounds")
    s = to_exact(s, "max inner product s")
    if s < -1 or s >= 1:
        raise ConstellationsError(f"max inner product s must lie in [-1, 1), got {float(s):.6g}")
    return n, s


@lru_cache(maxsize=4096)
def _largest_zero(k: int, a: float, b: float) -> float:
    """Largest zero of P_k^{(a, b)}: the top eigenvalue of the Jacobi matrix (Golub-Welsch).

    The symmetric tridiagonal matrix of the monic three-term recurrence has O(1) entries for
    every a, b, so this stays accurate for huge a, b (n up to 10^18), where SciPy's
    ``roots_jacobi`` returns NaN (its Newton polishing overflows for a ~ 10^4, k ~ 200).
    """
    from scipy.linalg import eigvalsh_tridiagonal
    if k == 0:
        return -1.0
    j = np.arange(k, dtype=float)
    ab = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        diag = (b * b - a * a) / ((2 * j + ab) * (2 * j + ab + 2))
    diag[0] = (b - a) / (ab + 2)
    i = np.arange(1, k, dtype=float)
    off2 = (4 * i * (i + a) * (i + b) * (i + ab)
            / ((2 * i + ab) ** 2 * (2 * i + ab + 1) * (2 * i + ab - 1)))
    if k == 1:
        return float(diag[0])
    return float(eigvalsh_tridiagonal(diag, np.sqrt(off2), select="i", select_range=(k - 1, k - 1))[0])


MAX_DEGREE = 400  # exact Levenshtein polynomials of higher degree take minutes
MAX_CODE_DIM = 10 ** 18


def levenshtein_degree(n: int, s: float, limit: int | None = None) -> int:
    """The degree tau whose interval contains s (float zeros, SciPy).

    The largest zeros t_k^{1,0} increase with k, so the smallest k with s < t_k^{1,0} is found by
    doubling and bisection; then tau = 2k - 1, or 2(k - 1) when s < t_{k-1}^{1,1} (interlacing).

    Raises
    ------
    ConfigurationError
        tau > ``limit`` (default :data:`MAX_DEGREE`): s too close to 1 for dimension n.
    """
    limit = MAX_DEGREE if limit is None else int(limit)
    alpha = (n - 3) / 2
    k_max = limit // 2 + 1

    def below(k):  # s < t_k^{1,0}
        return s < _largest_zero(k, alpha + 1, alpha)

    if not below(k_max):
        raise ConfigurationError(
            f"the Levenshtein bound for n={n}, s={s:.12g} needs degree > {2 * k_max - 1}, above the "
            f"limit of {limit} (the exact arithmetic takes ~7 s at degree 356 and grows steeply); "
            f"use a smaller inner product s, i.e. a larger margin, or a smaller dimension")
    lo, hi = 0, 1  # below(lo) is False (t_0 = -1 <= s), below(hi) to be found
    while not below(hi):
        lo, hi = hi, min(2 * hi, k_max)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if below(mid):
            hi = mid
        else:
            lo = mid
    k = hi
    if k > 1 and s < _largest_zero(k - 1, alpha + 1, alpha + 1):
        tau = 2 * (k - 1)
    else:
        tau = 2 * k - 1
    if tau > limit:
        raise ConfigurationError(
            f"the Levenshtein bound for n={n}, s={s:.12g} needs degree {tau}, above the limit of {limit}")
    return tau


def levenshtein_polynomial(n: int, s, tau: int):
    """Exact monomial coefficients of Levenshtein's polynomial of degree tau at s."""
    k = (tau + 1) // 2
    alpha = Fraction(n - 3, 2)
    if tau % 2:
        P = jacobi_monomials(alpha + 1, alpha, k)
    else:
        P = jacobi_monomials(alpha + 1, alpha + 1, k)
    pk, pk1 = P[k], P[k - 1]
    g = poly_sub(poly_scale(list(pk), poly_eval(pk1, s)), poly_scale(list(pk1), poly_eval(pk, s)))
    h, rem = divide_linear(g, s)
    if rem != 0:  # pragma: no cover - exact arithmetic guarantees it
        raise ArithmeticError("Christoffel-Darboux division left a remainder")
    # normalise h to avoid huge or tiny numbers (any positive scale is allowed)
    lead = h[-1] if h else 1
    if lead != 0 and isinstance(lead, Fraction):
        h = poly_scale(h, 1 / abs(lead))
    f = poly_mul(poly_mul(h, h), [-s, 1])
    if tau % 2 == 0:
        f = poly_mul(f, [1, 1])
    return f


def _evaluate_exact(n: int, s, tau: int):
    f = levenshtein_polynomial(n, s, tau)
    coeffs = to_gegenbauer(f, n)
    valid = coeffs[0] > 0 and all(c >= 0 for c in coeffs[1:])
    value = poly_eval(f, 1) / coeffs[0] if coeffs[0] != 0 else None
    return valid, value, coeffs


def rankin_bound(n, s) -> Bound:
    """Rankin: A(n, s) <= 1 - 1/s for s < 0, A(n, 0) = 2n (exact)."""
    n, s = check_code_args(n, s)
    if s < 0:
        v = 1 - 1 / s
        return Bound(floor_exact(v), "rankin", {"formula": "1 - 1/s", "s": exact_str(s), "value": exact_str(v)},
                     {"real": float(v), "certified": True})
    if s == 0:
        return Bound(2 * n, "rankin", {"formula": "2n", "s": "0"}, {"real": float(2 * n), "certified": True})
    return Bound(math.inf, "rankin (not applicable for s > 0)", None, {"certified": False})


def levenshtein_bound(n, s) -> Bound:
    """Certified Levenshtein bound on A(n, s).

    Parameters
    ----------
    n : int >= 2
        Dimension of the ambient space (points on S^{n-1}).
    s : number in [-1, 1)
        Max inner product: int, Fraction, float (taken exactly), or a string such as "1/2" or
        "1/sqrt(5)".

    Returns
    -------
    Bound
        ``value`` = floor(L_tau(n, s)) (A is an integer), ``details["real"]`` the value of L as a
        float, ``details["exact"]`` as an exact string, ``details["degree"]`` = tau;
        ``certificate`` holds the Gegenbauer coefficients of the polynomial (exact strings).

    Raises
    ------
    ConstellationsError
        n < 2, non-integer n, s outside [-1, 1).
    """
    n, s = check_code_args(n, s)
    sf = float(s)
    tau0 = levenshtein_degree(n, sf)
    alpha = (n - 3) / 2
    # near a boundary of tau0's interval the float choice may be off by one: try neighbours
    k = (tau0 + 1) // 2
    if tau0 % 2:
        lo, hi = _largest_zero(k - 1, alpha + 1, alpha + 1), _largest_zero(k, alpha + 1, alpha)
    else:
        lo, hi = _largest_zero(k, alpha + 1, alpha), _largest_zero(k, alpha + 1, alpha + 1)
    cands = [tau0]
    if sf - lo < 1e-9 and tau0 > 1:
        cands.append(tau0 - 1)
    if hi - sf < 1e-9:
        cands.append(tau0 + 1)
    best = None
    for tau in cands:
        valid, value, coeffs = _evaluate_exact(n, s, tau)
        if valid and (best is None or value < best[1]):
            best = (tau, value, coeffs)
    for delta in (1, -1, 2, -2, 3, -3, 4, -4):  # pragma: no cover - only if the float choice is off
        if best is not None:
            break
        t = tau0 + delta
        if t < 1 or t in cands:
            continue
        valid, value, coeffs = _evaluate_exact(n, s, t)
        if valid:
            best = (t, value, coeffs)
    if best is None:  # pragma: no cover
        raise ArithmeticError(f"no valid Levenshtein polynomial found near degree {tau0}")
    tau, value, coeffs = best
    f0 = coeffs[0]
    cert = {"type": "delsarte-polynomial", "n": n, "s": exact_str(s), "degree": tau,
            **_coefficients_field([c / f0 for c in coeffs]), "bound": compact_str(value),
            "proof": "f = (t-s)K^2 or (t+1)(t-s)K^2 is <= 0 on [-1,s]; coefficients checked exactly >= 0"}
    return Bound(floor_exact(value), "levenshtein", cert,
                 {"real": float(value), "real_upper": float_up(value), "exact": compact_str(value),
                  "degree": tau, "certified": True})


def _coefficients_field(coeffs) -> dict:
    """The certificate's Gegenbauer coefficients: exact strings, or a note when they are too long to print.

    At high degree with a dyadic s the exact coefficients reach thousands of digits (beyond Python's
    4300-digit int-to-str limit); they are then left out of the certificate, which keeps (n, s, degree),
    from which :func:`levenshtein_polynomial` and ``to_gegenbauer`` rebuild them exactly.
    """
    if all(is_printable(c) for c in coeffs):
        return {"gegenbauer_coefficients": [exact_str(c) for c in coeffs]}
    bits = max(exact_bits(c) for c in coeffs)
    return {"gegenbauer_coefficients": None,
            "gegenbauer_coefficients_omitted": (f"{len(coeffs)} exact coefficients of up to {bits} bits, all checked "
                                                ">= 0 (f_0 > 0); rebuild them from (n, s, degree) with "
                                                "levenshtein_polynomial and to_gegenbauer")}


def levenshtein_float(n: int, s: float) -> float:
    """Floating-point value of L(n, s) (not certified; used to steer bisections).

    Returns ``math.inf`` ("excludes nothing") where the float evaluation overflows or breaks down
    (large n), so that a steering caller never sees NaN or a spurious small value.

    Uses the kernel sum K(t, s) = sum_{i<k} P_i(t) P_i(s) / h_i with the Jacobi norms h_i, and
    f_0 by Gauss-Gegenbauer quadrature, which is exact for the degree of f.
    """
    from scipy.special import eval_jacobi, gammaln, roots_jacobi

    n = int(n)
    s = float(s)
    if s < -1 or s >= 1:
        raise ConstellationsError(f"max inner product s must lie in [-1, 1), got {s:.6g}")
    tau = levenshtein_degree(n, s)
    k = (tau + 1) // 2
    alpha = (n - 3) / 2
    a = alpha + 1
    b = alpha if tau % 2 else alpha + 1
    i = np.arange(k)
    # log of the Jacobi norm h_i (DLMF 18.3), up to the common factor 2^(a+b+1)
    logh = (np.log(1.0 / (2 * i + a + b + 1)) + gammaln(i + a + 1) + gammaln(i + b + 1)
            - gammaln(i + a + b + 1) - gammaln(i + 1))
    with np.errstate(all="ignore"):
        ps = np.array([eval_jacobi(j, a, b, s) for j in range(k)])
        w = ps * np.exp(-(logh - logh.max()))

    def K(t):
        t = np.atleast_1d(t)
        return sum(w[j] * eval_jacobi(j, a, b, t) for j in range(k))

    def f(t):
        t = np.atleast_1d(np.asarray(t, dtype=float))
        v = (t - s) * K(t) ** 2
        return v * (t + 1) if tau % 2 == 0 else v

    q = tau // 2 + 2
    with np.errstate(all="ignore"):  # large n: the float terms may overflow; then the value is inf
        x, wq = roots_jacobi(q, alpha, alpha)
        f0 = float(np.dot(wq, f(x)) / wq.sum())
        v = float(f(1.0)[0] / f0)
    return v if math.isfinite(v) and v > 0 else math.inf


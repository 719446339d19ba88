r"""Exact Gegenbauer and Jacobi polynomials, and polynomials over exact fields.

Polynomials are lists of coefficients, lowest degree first, whose entries are Fractions,
:class:`~core.exact.Quadratic` numbers, or anything with +, -, *, / (floats too).

Gegenbauer polynomials for the sphere S^{n-1} (normalised ``G_k(1) = 1``) satisfy

.. math::

    G_0 = 1,\quad G_1 = t,\quad
    G_{k+1}(t) = \frac{(2k+n-2)\,t\,G_k(t) - k\,G_{k-1}(t)}{k+n-2},

and are orthogonal for the weight (1 - t^2)^{(n-3)/2}.  Jacobi polynomials P_k^{(a,b)} follow
DLMF 18.9.2 and are orthogonal for (1-t)^a (1+t)^b.  With alpha = (n-3)/2, Levenshtein's
"adjacent" families are P^{1,0} = P^{(alpha+1, alpha)} and P^{1,1} = P^{(alpha+1, alpha+1)}.
All coefficients are exact rationals (alpha is a half-integer).
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

__all__ = ["gegenbauer_monomials", "jacobi_monomials", "poly_eval", "poly_mul", "poly_add",
           "poly_scale", "poly_sub", "divide_linear", "to_gegenbauer", "from_gegenbauer"]


def poly_eval(p, t):
    """Horner evaluation of sum p[i] t^i."""
    acc = 0
    for c in reversed(p):
        acc = acc * t + c
    return acc


def poly_add(p, q):
    n = max(len(p), len(q))
    return [(p[i] if i < len(p) else 0) + (q[i] if i < len(q) else 0) for i in range(n)]


def poly_sub(p, q):
    n = max(len(p), len(q))
    return [(p[i] if i < len(p) else 0) - (q[i] if i < len(q) else 0) for i in range(n)]


def poly_scale(p, c):
    return [c * x for x in p]


def poly_mul(p, q):
    if not p or not q:
        return []
    out = [0] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        if a == 0:
            continue
        for j, b in enumerate(q):
            out[i + j] = out[i + j] + a * b
    return out


def divide_linear(p, s):
    """Divide p(t) by (t - s): return (quotient, remainder) by synthetic division."""
    n = len(p) - 1
    if n < 1:
        return [], (p[0] if p else 0)
    q = [0] * n
    acc = p[n]
    for i in range(n - 1, -1, -1):
        q[i] = acc
        acc = p[i] + acc * s
    return q, acc


@lru_cache(maxsize=256)
def _gegenbauer_cached(n: int, kmax: int):
    G = [[Fraction(1)], [Fraction(0), Fraction(1)]]
    for k in range(1, kmax):
        tGk = [Fraction(0)] + G[k]
        num = poly_sub(poly_scale(tGk, Fraction(2 * k + n - 2)), poly_scale(G[k - 1], Fraction(k)))
        G.append(poly_scale(num, Fraction(1, k + n - 2)))
    return tuple(tuple(g) for g in G[:kmax + 1])


def gegenbauer_monomials(n: int, kmax: int):
    """Exact monomial coefficients of G_0..G_kmax for dimension n >= 2 (tuple of tuples)."""
    if n < 2:
        raise ValueError("dimension n must be >= 2")
    # compute a cached superset so repeated calls with growing kmax stay cheap
    size = max(8, 1 << max(kmax, 1).bit_length())
    return _gegenbauer_cached(int(n), size)[:kmax + 1]


@lru_cache(maxsize=256)
def _jacobi_cached(a: Fraction, b: Fraction, kmax: int):
    P = [[Fraction(1)], [(a + 1) - (a + b + 2) / 2, (a + b + 2) / 2]]
    for k in range(1, kmax):
        c = 2 * k + a + b
        lhs = 2 * (k + 1) * (k + a + b + 1) * c
        lin = [(c + 1) * (a * a - b * b), (c + 1) * (c + 2) * c]  # (c+1)[(c+2)c t + a^2 - b^2]
        term1 = poly_mul(lin, P[k])
        term2 = poly_scale(P[k - 1], 2 * (k + a) * (k + b) * (c + 2))
        P.append(poly_scale(poly_sub(term1, term2), 1 / lhs))
    return tuple(tuple(p) for p in P[:kmax + 1])


def jacobi_monomials(a, b, kmax: int):
    """Exact monomial coefficients of the Jacobi polynomials P_0^{(a,b)}..P_kmax^{(a,b)}."""
    a, b = Fraction(a), Fraction(b)
    size = max(8, 1 << max(kmax, 1).bit_length())
    return _jacobi_cached(a, b, size)[:kmax + 1]


def to_gegenbauer(p, n: int):
    """Coefficients f_k with p = sum_k f_k G_k^{(n)} (exact triangular solve, top degree down)."""
    p = list(p)
    while len(p) > 1 and p[-1] == 0:
        p.pop()
    deg = len(p) - 1
    G = gegenbauer_monomials(n, max(deg, 1))
    rem = list(p)
    out = [0] * (deg + 1)
    for k in range(deg, -1, -1):
        c = rem[k] / G[k][k] if k > 0 else rem[0]
        out[k] = c
        if c != 0:
            for i in range(k + 1):
                rem[i] = rem[i] - c * G[k][i]
    return out


def from_gegenbauer(f, n: int):
    """Monomial coefficients of sum_k f[k] G_k^{(n)}."""
    G = gegenbauer_monomials(n, max(len(f) - 1, 1))
    out = [0] * len(f)
    for k, c in enumerate(f):
        if c == 0:
            continue
        for i, g in enumerate(G[k]):
            out[i] = out[i] + c * g
    return out

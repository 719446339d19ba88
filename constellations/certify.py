r"""Certified margins: lower bounds that floating-point error cannot fake.

The quantity certified is the margin of the **exactly normalised** rows
x / |x| of the given float64 array (docs/math.md section 6).

Float64 mode (default)
----------------------
Let u = 2^-53 and gamma_d = d u / (1 - d u).  For every pair of rows (x, y):

* the computed dot product g satisfies |g - <x,y>| <= gamma_d |x| |y|
  (standard bound for any summation order, FMA or not, by Cauchy-Schwarz);
* the computed squared norm s satisfies s = |x|^2 (1 + t), |t| <= gamma_d, so the computed
  norm fl(sqrt(s)) = |x| (1 + theta) with |theta| <= tau = (1 + gamma_d)(1 + u) - 1
  (using |sqrt(1+t) - 1| <= |t|);
* the normalised value C = fl(fl(g / n_x) / n_y) then obeys

  .. math:: |c - C| \le \kappa |C| + \gamma_d, \qquad
            \kappa = \frac{(1+\tau)^2}{(1-u)^2} - 1,

  where c = <x,y>/(|x||y|) is the exact normalised inner product.

Because C - kappa|C| - gamma_d is increasing in C (kappa < 1), the bound on pos is applied
at the computed minimum and the bound on neg at the computed maximum:
pos >= pos_fl - kappa |pos_fl| - gamma_d and neg <= neg_fl + kappa |neg_fl| + gamma_d.
These last steps are evaluated exactly in rational arithmetic (``fractions.Fraction``) and
rounded down to a float, so ``margin_cert`` <= the true margin of the normalised rows.

Exact mode (``exact=True``)
---------------------------
Every float64 row is an integer vector a times a power of two, so the exact normalised
inner product is c = <a,b> / sqrt(|a|^2 |b|^2) with integers only.  Minima and maxima are
taken exactly (comparing sign(<a,b>) <a,b>^2 / (|a|^2 |b|^2) as rationals) and the square
roots are enclosed by integer square roots to 2^-200.  Cost O(M^2 N^2 d) Python integer
operations: meant for small inputs (N up to a few hundred).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import ConfigurationError
from .margins import block_rows, resolve

__all__ = ["CertifiedMargin", "ClaimCheck", "Violation", "certified_margin", "check_claim",
           "float_error_constants"]

U = Fraction(1, 2 ** 53)
_SQRT_BITS = 200


@dataclass(frozen=True)
class CertifiedMargin:
    """A certified lower bound on the margin of the exactly normalised rows.

    Attributes
    ----------
    margin_cert : float
        Rigorous lower bound on m* = (pos - neg)/2 of the normalised rows.
    pos_lower, neg_upper : float
        Rigorous bounds pos >= pos_lower, neg <= neg_upper (rounded outward).
    margin, b_rel : float
        The plain float64 values of m* and b*_rel.
    error_bound : float
        The per-inner-product error allowance used (0 in exact mode, up to 2^-200).
    method : str
        ``"float64-rounding-bound"`` or ``"exact-rational"``.
    """

    margin_cert: float
    pos_lower: float
    neg_upper: float
    margin: float
    b_rel: float
    error_bound: float
    method: str

    @property
    def is_constellation(self) -> bool:
        """True when the normalised rows are provably a constellation (m_cert >= 0)."""
        return self.margin_cert >= 0


@dataclass(frozen=True)
class Violation:
    """One inequality of a claimed (m, b_rel)-constellation that could not be certified.

    ``kind`` is ``"matched"`` (needs c >= b_rel + m) or ``"non-matched"`` (needs
    c <= b_rel - m); ``items`` is (i, j) with i in modality k and j in modality l;
    ``value`` the float64 normalised inner product; ``certain`` is True when the
    inequality is proved false (not merely unproved).
    """

    kind: str
    edge: tuple[int, int]
    items: tuple[int, int]
    value: float
    required: float
    certain: bool


@dataclass(frozen=True)
class ClaimCheck:
    """Result of checking a claimed (m, b_rel): ``holds`` is certified; else the first violation."""

    holds: bool
    margin: float
    b_rel: float
    violation: Violation | None
    method: str


def float_error_constants(d: int) -> tuple[Fraction, Fraction]:
    """Return (gamma_d, kappa) as exact rationals for dimension d (see the module docstring)."""
    if d * U >= 1:
        raise ConfigurationError(f"dimension {d} too large for the float64 error bound")
    gamma = d * U / (1 - d * U)
    tau = (1 + gamma) * (1 + U) - 1
    kappa = (1 + tau) ** 2 / (1 - U) ** 2 - 1
    return gamma, kappa


def _down(q: Fraction) -> float:
    """Largest float <= q."""
    f = float(q)
    if Fraction(f) > q:
        f = math.nextafter(f, -math.inf)
    return f


def _up(q: Fraction) -> float:
    """Smallest float >= q."""
    f = float(q)
    if Fraction(f) < q:
        f = math.nextafter(f, math.inf)
    return f


def _normalised_blocks(A: np.ndarray, B: np.ndarray, nA: np.ndarray, nB: np.ndarray, block: int):
    """Yield (a, C) with C = fl(fl(A[a:b] B^T / nA) / nB), the computed normalised inner products."""
    for a in range(0, A.shape[0], block):
        b = min(A.shape[0], a + block)
        C = A[a:b] @ B.T
        C /= nA[a:b, None]
        C /= nB[None, :]
        yield a, C


def _float_pass(A: np.ndarray, edges, block: int):
    """Computed min matched / max non-matched normalised inner products over all edges."""
    norms = np.sqrt(np.einsum("mnd,mnd->mn", A, A))
    pos, neg = np.inf, -np.inf
    for k, l in edges:
        diag = np.einsum("nd,nd->n", A[k], A[l]) / norms[k] / norms[l]
        pos = min(pos, float(diag.min()))
        for a, C in _normalised_blocks(A[k], A[l], norms[k], norms[l], block):
            r = np.arange(C.shape[0])
            C[r, a + r] = -np.inf
            neg = max(neg, float(C.max()))
    return pos, neg, norms


def certified_margin(X, graph=None, *, exact: bool = False) -> CertifiedMargin:
    """Certified lower bound on the margin m* of the exactly normalised rows of X.

    Parameters
    ----------
    X : Configuration or array_like, shape (M, N, d)
        Rows must be unit up to the configuration tolerance (they are normalised exactly
        in the analysis, so any residual norm error is accounted for).
    graph : Graph or str, optional
    exact : bool
        Use exact rational arithmetic (small inputs only) instead of the float64 bound.

    Returns
    -------
    CertifiedMargin
        ``margin_cert <= m*`` holds rigorously; the method is described in the module docstring.
    """
    A, G = resolve(X, graph)
    if exact:
        return _certified_exact(A, G.edges)
    d = A.shape[2]
    gamma, kappa = float_error_constants(d)
    pos_fl, neg_fl, _ = _float_pass(A, G.edges, block_rows(A.shape[1]))
    P, Q = Fraction(pos_fl), Fraction(neg_fl)
    pos_lo = P - kappa * abs(P) - gamma
    neg_hi = Q + kappa * abs(Q) + gamma
    return CertifiedMargin(
        margin_cert=_down((pos_lo - neg_hi) / 2), pos_lower=_down(pos_lo), neg_upper=_up(neg_hi),
        margin=(pos_fl - neg_fl) / 2, b_rel=(pos_fl + neg_fl) / 2,
        error_bound=_up(kappa + gamma), method="float64-rounding-bound")


# ---------------------------------------------------------------- exact rational mode

def _integer_rows(A: np.ndarray) -> list[list[int]]:
    """Each float64 row as integers a with row = a * 2^e (a common e per row)."""
    mant, expo = np.frexp(A)
    imant = (mant * 2.0 ** 53).astype(np.int64)  # exact: 53-bit mantissas
    e = expo.astype(np.int64) - 53
    rows = []
    for im, ee in zip(imant.reshape(-1, A.shape[-1]), e.reshape(-1, A.shape[-1])):
        nz = im != 0
        base = int(ee[nz].min()) if nz.any() else 0
        rows.append([int(v) << int(s - base) if v else 0 for v, s in zip(im, ee)])
    return rows


class _ExactIP:
    """An exact normalised inner product c = p / sqrt(q) stored as (p, q) integers, q > 0."""

    __slots__ = ("p", "q", "key")

    def __init__(self, p: int, q: int):
        self.p, self.q = p, q
        self.key = Fraction(p * abs(p), q)  # sign(c) c^2: increasing in c

    def bounds(self) -> tuple[Fraction, Fraction]:
        """Rational lo <= c <= hi with hi - lo <= 2^-_SQRT_BITS."""
        s = 1 << _SQRT_BITS
        num, den = self.p * self.p * s * s, self.q
        r = math.isqrt(num // den)
        lo, hi = Fraction(r, s), Fraction(r + 1, s)
        return (lo, hi) if self.p >= 0 else (-hi, -lo)


def _certified_exact(A: np.ndarray, edges) -> CertifiedMargin:
    M, N, d = A.shape
    rows = _integer_rows(A)
    R = [rows[k * N:(k + 1) * N] for k in range(M)]
    sq = [[sum(v * v for v in r) for r in Rk] for Rk in R]
    pos = neg = None
    for k, l in edges:
        for i in range(N):
            ai, qi = R[k][i], sq[k][i]
            for j in range(N):
                ip = _ExactIP(sum(x * y for x, y in zip(ai, R[l][j])), qi * sq[l][j])
                if i == j:
                    if pos is None or ip.key < pos.key:
                        pos = ip
                elif neg is None or ip.key > neg.key:
                    neg = ip
    plo, phi = pos.bounds()
    nlo, nhi = neg.bounds()
    m_lo = (plo - nhi) / 2
    if pos.key >= neg.key and m_lo < 0:
        m_lo = Fraction(0)  # exact comparison proves m* >= 0
    return CertifiedMargin(
        margin_cert=_down(m_lo), pos_lower=_down(plo), neg_upper=_up(nhi),
        margin=float((plo + phi - nlo - nhi) / 4), b_rel=float((plo + phi + nlo + nhi) / 4),
        error_bound=float(Fraction(1, 1 << _SQRT_BITS)), method="exact-rational")


# ---------------------------------------------------------------- claims

def check_claim(X, m: float, b_rel: float, graph=None, *, exact: bool = False) -> ClaimCheck:
    """Check that X is an (m, b_rel)-constellation, with float64 rounding accounted for.

    ``holds`` is True only if every inequality

        c_kl(i, i) >= b_rel + m   and   c_kl(i, j) <= b_rel - m  (i != j)

    is proved for the exactly normalised rows (same error analysis as
    :func:`certified_margin`, with m and b_rel taken as the exact values of the given
    floats).  Otherwise ``violation`` names the first inequality, in the order
    edges, then matched items, then non-matched pairs row by row, that is not proved, and
    says whether it is certainly false.

    With ``exact=True`` every inequality is decided exactly in integer arithmetic
    (c = p/sqrt(q) >= r iff a sign test and p^2 versus r^2 q), so the answer is never
    "unproved"; cost O(M^2 N^2 d) Python integer operations.
    """
    if not (np.isfinite(m) and np.isfinite(b_rel)):
        raise ConfigurationError("claimed margin and b_rel must be finite numbers")
    A, G = resolve(X, graph)
    if exact:
        return _check_claim_exact(A, G.edges, m, b_rel)
    gamma, kappa = float_error_constants(A.shape[2])
    g, kp = float(_up(gamma)), float(_up(kappa))
    hi_req, lo_req = Fraction(b_rel) + Fraction(m), Fraction(b_rel) - Fraction(m)
    norms = np.sqrt(np.einsum("mnd,mnd->mn", A, A))
    block = block_rows(A.shape[1])

    def lower(c: float) -> Fraction:
        C = Fraction(c)
        return C - kappa * abs(C) - gamma

    def upper(c: float) -> Fraction:
        C = Fraction(c)
        return C + kappa * abs(C) + gamma

    # A float pre-screen with a slightly inflated allowance; exact rational test only on candidates.
    slack = 2 * (kp + g) + 1e-300
    for k, l in G.edges:
        diag = np.einsum("nd,nd->n", A[k], A[l]) / norms[k] / norms[l]
        cand = np.nonzero(diag - kp * np.abs(diag) - g - slack < float(hi_req))[0]
        for i in cand:
            if lower(float(diag[i])) < hi_req:
                certain = upper(float(diag[i])) < hi_req
                return ClaimCheck(False, m, b_rel, Violation(
                    "matched", (k, l), (int(i), int(i)), float(diag[i]), float(hi_req), certain),
                    "float64-rounding-bound")
        for a, C in _normalised_blocks(A[k], A[l], norms[k], norms[l], block):
            r = np.arange(C.shape[0])
            B = C + kp * np.abs(C) + g + slack
            B[r, a + r] = -np.inf
            bad = np.argwhere(B > float(lo_req))
            for i, j in bad:
                if upper(float(C[i, j])) > lo_req:
                    certain = lower(float(C[i, j])) > lo_req
                    return ClaimCheck(False, m, b_rel, Violation(
                        "non-matched", (k, l), (int(a + i), int(j)), float(C[i, j]), float(lo_req), certain),
                        "float64-rounding-bound")
    return ClaimCheck(True, m, b_rel, None, "float64-rounding-bound")


def _exact_ge(p: int, q: int, r: Fraction) -> bool:
    """Decide p / sqrt(q) >= r exactly (q > 0)."""
    if p >= 0 and r <= 0:
        return True
    if p < 0 and r >= 0:
        return False
    if p >= 0:  # both positive
        return p * p * r.denominator ** 2 >= r.numerator ** 2 * q
    return p * p * r.denominator ** 2 <= r.numerator ** 2 * q  # both negative: |c| <= |r|


def _check_claim_exact(A: np.ndarray, edges, m: float, b_rel: float) -> ClaimCheck:
    M, N, d = A.shape
    rows = _integer_rows(A)
    R = [rows[k * N:(k + 1) * N] for k in range(M)]
    sq = [[sum(v * v for v in r) for r in Rk] for Rk in R]
    hi_req, lo_req = Fraction(b_rel) + Fraction(m), Fraction(b_rel) - Fraction(m)

    def value(p, q):
        return float(_ExactIP(p, q).bounds()[0])

    for k, l in edges:
        for i in range(N):
            p = sum(x * y for x, y in zip(R[k][i], R[l][i]))
            q = sq[k][i] * sq[l][i]
            if not _exact_ge(p, q, hi_req):
                return ClaimCheck(False, m, b_rel, Violation("matched", (k, l), (i, i), value(p, q), float(hi_req), True),
                                  "exact-rational")
        for i in range(N):
            for j in range(N):
                if i == j:
                    continue
                p = sum(x * y for x, y in zip(R[k][i], R[l][j]))
                q = sq[k][i] * sq[l][j]
                if not _exact_ge(-p, q, -lo_req):  # c <= lo  <=>  -c >= -lo
                    return ClaimCheck(False, m, b_rel, Violation(
                        "non-matched", (k, l), (i, j), value(p, q), float(lo_req), True), "exact-rational")
    return ClaimCheck(True, m, b_rel, None, "exact-rational")

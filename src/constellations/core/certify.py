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

Subnormal results add at most 2^-1075 absolute per rounded product or quotient (additions of
subnormals are exact); rows are unit to 1e-6, so |x||y| > 1/2 and the term gamma_d used below
includes (2d + 4) 2^-1074 for them: the bound holds whatever the size of the entries.

Because C - kappa|C| - gamma_d is increasing in C (kappa < 1), the bound on pos is applied
at the computed minimum and the bound on neg at the computed maximum:
pos >= pos_fl - kappa |pos_fl| - gamma_d and neg <= neg_fl + kappa |neg_fl| + gamma_d.
These last steps are evaluated exactly in rational arithmetic (``fractions.Fraction``) and
rounded down to a float, so ``margin_certified`` <= the true margin of the normalised rows.
The same allowance at the computed argmin / argmax gives pos <= pos_fl + kappa|pos_fl| + gamma_d
and neg >= neg_fl - kappa|neg_fl| - gamma_d, hence ``margin_cert_upper`` >= the true margin
(rounded up): when it is < 0 the rows are certainly not a constellation, and when
``margin_cert < 0 <= margin_cert_upper`` float64 cannot decide (use the exact mode).

pos_fl and neg_fl are the values of :func:`constellations.core.margins.margin_stats` (the same
normalised inner products), so ``margin_certified <= margin`` always: one configuration, one margin.

Exact mode (``exact=True``)
---------------------------
Every float64 row is an integer vector a times a power of two, so the exact normalised
inner product is c = <a,b> / sqrt(|a|^2 |b|^2) with integers only.  Minima and maxima are
taken exactly (comparing sign(<a,b>) <a,b>^2 / (|a|^2 |b|^2) as rationals).  The exact
margin (c_pos - c_neg)/2 is reported as an expression (``margin_exact``): a rational when both
extreme inner products are rational (E8: ``1/4``), else in square roots.  Its float bounds come
from integer square roots to 2^-200, refined until the sign of the margin is decided.  Cost
O(M^2 N^2 d) Python integer operations: meant for small inputs (N up to a few hundred); larger
inputs are refused (``max_work``).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np

from constellations.core.errors import ConfigurationError, ConstellationsError
from constellations.core.exact import float_down, float_up
from constellations.core.results import Result, Status, jsonable
from constellations.core.margins import MarginStats, block_rows, margin_stats, normalised_blocks, normalised_diag, resolve, row_norms

__all__ = ["CertifiedMargin", "ClaimCheck", "Violation", "certified_margin", "check_claim",
           "float_error_constants", "EXACT_MAX_WORK", "SurdSum", "exact_text"]

U = Fraction(1, 2 ** 53)
#: Smallest positive subnormal float64, 2^-1074.
UNDERFLOW = Fraction(1, 2 ** 1074)
_SQRT_BITS = 200

#: Default ceiling on edges * N^2 * (d + 4) for the exact mode (about a minute of Python integer work).
EXACT_MAX_WORK = 10 ** 8


@dataclass(frozen=True)
class CertifiedMargin(Result):
    """A certified lower bound on the margin of the exactly normalised rows.

    Attributes
    ----------
    margin_certified : float
        Rigorous lower bound on m* = (pos - neg)/2 of the normalised rows.
    pos_lower, neg_upper : float
        Rigorous bounds pos >= pos_lower, neg <= neg_upper (rounded outward).
    margin, b_rel : float
        The plain float64 values of m* and b*_rel (in exact mode, the floats nearest the
        exact values, up to 2^-200).
    error_bound : float
        The per-inner-product error allowance used (0 in exact mode, up to 2^-200).
    method : str
        ``"float64-rounding-bound"`` or ``"exact-rational"``.
    margin_cert_upper : float
        Rigorous upper bound on m* (rounded up); < 0 proves the rows are not a constellation.
    margin_exact, b_rel_exact : str or None
        Exact mode only: m* and b*_rel of the float rows as exact expressions (``"1/4"``,
        ``"1/2 + sqrt(5)/10"``-style sums of rationals and square roots).
    n, dim, modalities : int
        The sizes N, d, M of the certified rows.
    seconds : float
        Wall-clock seconds of the certification.
    stats : MarginStats or None
        Float64 mode: the :func:`~constellations.core.margins.margin_stats` the bound was derived from
        (worst pairs, per-edge values), so callers need not compute them twice.
    """

    margin_certified: float
    pos_lower: float
    neg_upper: float
    margin: float
    b_rel: float
    error_bound: float
    method: str
    margin_cert_upper: float = math.inf
    margin_exact: str | None = None
    b_rel_exact: str | None = None
    stats: MarginStats | None = field(default=None, repr=False, compare=False)
    n: int = 0
    dim: int = 0
    modalities: int = 0
    seconds: float = 0.0

    config = None  # the rows are the caller's; a certificate does not keep them

    @property
    def margin_cert(self) -> float:
        """Deprecated alias of :attr:`margin_certified` (one release)."""
        return self.margin_certified

    @property
    def status(self) -> Status:
        """COMPLETED: a certificate is always computed to the end (or refused before it starts)."""
        return Status.COMPLETED

    @property
    def message(self) -> str:
        verdict = ("a constellation" if self.is_constellation else "not a constellation" if self.is_not_constellation
                   else "undecided in float64 (use exact=True)")
        return f"certified margin >= {self.margin_certified:.12g} ({self.method}): {verdict}"

    @property
    def is_constellation(self) -> bool:
        """True when the normalised rows are provably a constellation (m_cert >= 0)."""
        return self.margin_certified >= 0

    @property
    def is_not_constellation(self) -> bool:
        """True when the normalised rows are provably not a constellation (m* < 0)."""
        return self.margin_cert_upper < 0

    @property
    def decided(self) -> bool:
        """False when float64 rounding leaves the sign of m* open (always True in exact mode)."""
        return self.is_constellation or self.is_not_constellation


@dataclass(frozen=True)
class Violation:
    """One inequality of a claimed (m, b_rel)-constellation that could not be certified.

    ``kind`` is ``"matched"`` (needs c >= b_rel + m) or ``"non-matched"`` (needs
    c <= b_rel - m); ``items`` is (i, j) with i in modality k and j in modality l;
    ``value`` the float64 normalised inner product; ``certain`` is True when the
    inequality is proved false (not merely unproved).  ``required_exact`` is b_rel + m (or
    b_rel - m) exactly, as text (``"101/100"``); ``value_exact`` (exact mode) the exact normalised
    inner product of the float rows (``"sqrt(5)/5"``-style; it can be long).
    """

    kind: str
    edge: tuple[int, int]
    items: tuple[int, int]
    value: float
    required: float
    certain: bool
    value_exact: str | None = None
    required_exact: str | None = None


@dataclass(frozen=True)
class ClaimCheck(Result):
    """Result of checking a claimed (m, b_rel): ``holds`` is certified; else the first violation.

    ``refuted`` is True when the claim is proved false (the violation is ``certain``);
    ``holds`` and ``refuted`` both False means float64 rounding cannot decide (use exact mode).
    ``margin`` and ``b_rel`` are the claimed values as checked: exact numbers (Fraction, or
    a + b sqrt(D) as given).

    In the result vocabulary: ``margin`` is the claimed m (a float in ``to_dict()``, exactly in
    ``margin_exact``), ``margin_certified`` the claimed m rounded down when the claim holds (the
    configuration is then proved to have at least that margin), else None; ``status`` COMPLETED.
    """

    holds: bool
    margin: object
    b_rel: object
    violation: Violation | None
    method: str
    n: int | None = None
    dim: int | None = None
    modalities: int | None = None
    seconds: float | None = None
    config = None

    @property
    def margin_certified(self) -> float | None:
        return float_down(self.margin) if self.holds else None

    @property
    def status(self) -> Status:
        return Status.COMPLETED

    @property
    def message(self) -> str:
        claim = f"(m, b_rel) = ({exact_text(self.margin)}, {exact_text(self.b_rel)})"
        if self.holds:
            return f"{claim} holds (proved, {self.method})"
        return f"{claim} {'is refuted' if self.refuted else 'cannot be decided in float64: use exact mode'}"

    def to_dict(self) -> dict:
        out = self.vocabulary()
        out.update(margin=float(self.margin), margin_exact=exact_text(self.margin), b_rel=float(self.b_rel),
                   b_rel_exact=exact_text(self.b_rel), holds=self.holds, refuted=self.refuted,
                   decided=self.decided, method=self.method,
                   violation=None if self.violation is None else jsonable(self.violation))
        return out

    @property
    def refuted(self) -> bool:
        return self.violation is not None and self.violation.certain

    @property
    def decided(self) -> bool:
        return self.holds or self.refuted


def float_error_constants(d: int) -> tuple[Fraction, Fraction]:
    """Return (gamma_d, kappa) as exact rationals for dimension d (see the module docstring)."""
    if d * U >= 1:
        raise ConfigurationError(f"dimension {d} too large for the float64 error bound")
    gamma = d * U / (1 - d * U)
    tau = (1 + gamma) * (1 + U) - 1
    kappa = (1 + tau) ** 2 / (1 - U) ** 2 - 1
    # gradual underflow adds at most 2^-1075 absolute per rounded product or quotient; with rows
    # unit to 1e-6 (|x||y| > 1/2) that is below (2d + 4) 2^-1074 in C, so the bound needs no
    # assumption on the size of the entries
    return gamma + (2 * d + 4) * UNDERFLOW, kappa


def _check_exact_work(A: np.ndarray, n_edges: int, max_work) -> None:
    M, N, d = A.shape
    work = n_edges * N * N * (d + 4)
    if max_work is not None and work > max_work:
        raise ConfigurationError(
            f"exact mode for N={N}, d={d} over {n_edges} edge(s) needs about {work:.2g} integer operations, "
            f"over the limit of {max_work:.2g} (about a minute); use the float64 certificate for inputs this size")


def certified_margin(X, graph=None, *, exact: bool = False, max_work: int | None = EXACT_MAX_WORK,
                     progress=None) -> CertifiedMargin:
    """Certified bounds on the margin m* of the exactly normalised rows of X.

    Parameters
    ----------
    X : Configuration or array_like, shape (M, N, d)
        Rows must be unit up to the configuration tolerance (they are normalised exactly
        in the analysis, so any residual norm error is accounted for).
    graph : Graph or str, optional
    exact : bool
        Use exact rational arithmetic (small inputs only) instead of the float64 bound.
    max_work : int or None
        Exact mode refuses inputs with edges * N^2 * (d + 4) above this (None: no limit).
    progress : callable, optional
        Float64 mode: passed to :func:`~constellations.core.margins.margin_stats`.

    Returns
    -------
    CertifiedMargin
        ``margin_cert <= m* <= margin_cert_upper`` holds rigorously; the method is described in
        the module docstring.  In float64 mode ``margin`` equals ``margin_stats(X).margin``.
    """
    t0 = time.perf_counter()
    A, G = resolve(X, graph)
    if exact:
        _check_exact_work(A, len(G.edges), max_work)
        cm = _certified_exact(A, G.edges)
    else:
        cm = _certified_float(A, G, progress)
    M, N, d = A.shape
    return replace(cm, n=N, dim=d, modalities=M, seconds=time.perf_counter() - t0)


def _certified_float(A, G, progress) -> "CertifiedMargin":
    """The float64 rounding bound of docs/math.md 6.1 (see :func:`certified_margin`)."""
    d = A.shape[2]
    gamma, kappa = float_error_constants(d)
    s = margin_stats(A, G, progress=progress)
    P, Q = Fraction(s.pos), Fraction(s.neg)
    pos_lo, pos_hi = P - kappa * abs(P) - gamma, P + kappa * abs(P) + gamma
    neg_lo, neg_hi = Q - kappa * abs(Q) - gamma, Q + kappa * abs(Q) + gamma
    return CertifiedMargin(
        margin_certified=float_down((pos_lo - neg_hi) / 2), pos_lower=float_down(pos_lo), neg_upper=float_up(neg_hi),
        margin=s.margin, b_rel=s.b_rel, error_bound=float_up(kappa + gamma), method="float64-rounding-bound",
        margin_cert_upper=float_up((pos_hi - neg_lo) / 2), stats=s)


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


_SMALL_PRIMES = [q for q in range(2, 1000) if all(q % r for r in range(2, math.isqrt(q) + 1))]


class _ExactIP:
    """An exact normalised inner product c = p / sqrt(q) stored as (p, q) integers, q > 0."""

    __slots__ = ("p", "q", "key")

    def __init__(self, p: int, q: int):
        self.p, self.q = p, q
        self.key = Fraction(p * abs(p), q)  # sign(c) c^2: increasing in c

    def bounds(self, bits: int = _SQRT_BITS) -> tuple[Fraction, Fraction]:
        """Rational lo <= c <= hi with hi - lo <= 2^-bits."""
        s = 1 << bits
        num, den = self.p * self.p * s * s, self.q
        r = math.isqrt(num // den)
        lo, hi = Fraction(r, s), Fraction(r + 1, s)
        return (lo, hi) if self.p >= 0 else (-hi, -lo)

    def surd(self) -> tuple[Fraction, int]:
        """(a, r) with c = a sqrt(r) exactly, r >= 1 free of squares of primes < 1000 and r = 1 iff c is rational."""
        c2 = Fraction(self.p * self.p, self.q)
        r = c2.numerator * c2.denominator  # c^2 = r / den^2
        a = Fraction(1, c2.denominator)
        root = math.isqrt(r)
        if root * root == r:
            a, r = a * root, 1
        else:
            for f in _SMALL_PRIMES:
                while r % (f * f) == 0:
                    r //= f * f
                    a *= f
        return (a if self.p >= 0 else -a), r


def _surd_sum(terms) -> dict:
    """Collect (coefficient, radicand) terms into {radicand: coefficient}, dropping zeros."""
    out: dict = {}
    for a, r in terms:
        out[r] = out.get(r, Fraction(0)) + a
    return {r: a for r, a in out.items() if a != 0}


def _surd_str(terms: dict) -> str:
    """Format {radicand: coefficient} as e.g. ``1/2 + sqrt(5)/10`` (``0`` when empty)."""
    parts = []
    for r in sorted(terms):
        a = terms[r]
        n, dnm = abs(a.numerator), a.denominator
        if r == 1:
            body = str(Fraction(n, dnm))
        else:
            body = ("" if n == 1 else f"{n}*") + f"sqrt({r})" + ("" if dnm == 1 else f"/{dnm}")
        parts.append(("-" if a < 0 else "+", body))
    if not parts:
        return "0"
    text = ("-" if parts[0][0] == "-" else "") + parts[0][1]
    return text + "".join(f" {sign} {body}" for sign, body in parts[1:])


class SurdSum:
    """An exact real number sum_r a_r sqrt(r): rational a_r, squarefree radicands r >= 1 (r = 1: the rational part).

    The exact values of margins in closed form (constructions, the exact mode above) are such sums.
    Supports +, - with SurdSums, ints and Fractions, * and / by ints and Fractions, ``float()`` and
    ``str()`` (``1/2 - sqrt(5)/10``: text the exact-number grammar of docs/math.md 6.4 reads back).
    """

    __slots__ = ("terms",)

    def __init__(self, terms=None):
        """``terms``: {radicand: coefficient}, or a rational number."""
        if terms is None or isinstance(terms, (int, Fraction)):
            terms = {1: Fraction(terms or 0)}
        self.terms = {int(r): Fraction(a) for r, a in terms.items() if a != 0}

    @staticmethod
    def _of(x) -> "SurdSum":
        return x if isinstance(x, SurdSum) else SurdSum(Fraction(x))

    def __add__(self, o):
        if not isinstance(o, (SurdSum, int, Fraction)):
            return NotImplemented
        return SurdSum(_surd_sum([(a, r) for t in (self, SurdSum._of(o)) for r, a in t.terms.items()]))

    __radd__ = __add__

    def __neg__(self):
        return SurdSum({r: -a for r, a in self.terms.items()})

    def __sub__(self, o):
        if not isinstance(o, (SurdSum, int, Fraction)):
            return NotImplemented
        return self + (-SurdSum._of(o))

    def __rsub__(self, o):
        return (-self) + o

    def __mul__(self, q):
        if not isinstance(q, (int, Fraction)):
            return NotImplemented
        return SurdSum({r: a * q for r, a in self.terms.items()})

    __rmul__ = __mul__

    def __truediv__(self, q):
        if not isinstance(q, (int, Fraction)):
            return NotImplemented
        return self * (1 / Fraction(q))

    def __eq__(self, o):
        if isinstance(o, (int, Fraction)):
            o = SurdSum(Fraction(o))
        return isinstance(o, SurdSum) and self.terms == o.terms

    def __hash__(self):
        return hash(tuple(sorted(self.terms.items())))

    def __float__(self):
        return math.fsum(float(a) * math.sqrt(r) for r, a in self.terms.items())

    def __str__(self):
        return _surd_str(self.terms)

    def __repr__(self):
        return f"SurdSum({self})"


def exact_text(x) -> str:
    """An exact number as text: a Fraction as ``p/q``, a SurdSum or a + b sqrt(D) (any object with
    ``a``, ``b``, ``D``, e.g. the parsed claims of ``verify``) as ``1/2 - sqrt(5)/10``."""
    if isinstance(x, (int, Fraction)):
        return str(Fraction(x))
    if isinstance(x, SurdSum):
        return str(x)
    if all(hasattr(x, k) for k in ("a", "b", "D")):
        return _surd_str(_surd_sum([(Fraction(x.a), 1), (Fraction(x.b), int(x.D))]))
    return repr(float(x))


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
    (pa, pr), (na, nr) = pos.surd(), neg.surd()
    half = Fraction(1, 2)
    m_terms = _surd_sum([(pa * half, pr), (-na * half, nr)])
    b_terms = _surd_sum([(pa * half, pr), (na * half, nr)])
    # Refine the square-root enclosures until the sign of m* is decided (m* = 0 iff the keys tie).
    bits = _SQRT_BITS
    while True:
        plo, phi = pos.bounds(bits)
        nlo, nhi = neg.bounds(bits)
        m_lo, m_hi = (plo - nhi) / 2, (phi - nlo) / 2
        if pos.key == neg.key or set(m_terms) <= {1} or m_lo > 0 or m_hi < 0:
            break
        bits *= 2
    if set(m_terms) <= {1}:  # m* is rational: exact bounds
        m_lo = m_hi = m_terms.get(1, Fraction(0))
    elif pos.key == neg.key:
        m_lo = m_hi = Fraction(0)
    b_val = b_terms.get(1, Fraction(0)) if set(b_terms) <= {1} else (plo + phi + nlo + nhi) / 4
    return CertifiedMargin(
        margin_certified=float_down(m_lo), pos_lower=float_down(plo), neg_upper=float_up(nhi),
        margin=float((m_lo + m_hi) / 2), b_rel=float(b_val),
        error_bound=float(Fraction(1, 1 << bits)), method="exact-rational",
        margin_cert_upper=float_up(m_hi), margin_exact=_surd_str(m_terms), b_rel_exact=_surd_str(b_terms))


# ---------------------------------------------------------------- claims

def check_claim(X, m, b_rel, graph=None, *, exact: bool = False,
                max_work: int | None = EXACT_MAX_WORK) -> ClaimCheck:
    """Check that X is an (m, b_rel)-constellation, with float64 rounding accounted for.

    ``holds`` is True only if every inequality

        c_kl(i, i) >= b_rel + m   and   c_kl(i, j) <= b_rel - m  (i != j)

    is proved for the exactly normalised rows (same error analysis as
    :func:`certified_margin`).  ``m`` and ``b_rel`` are exact numbers: ints, Fractions, floats
    (taken at their exact binary values), or numbers a + b sqrt(D) with exact comparisons (the
    :class:`~constellations.core.exact.Quadratic` values that ``parse_exact`` reads from
    text such as ``"1/4"`` or ``"(1+sqrt(5))/4"``, docs/math.md 6.4).  Otherwise ``violation`` is
    the first inequality (in the order edges, then matched items, then non-matched pairs row by
    row) that is certainly false, if any (``refuted``), else the first one that float64 cannot
    prove (``decided`` is False).

    With ``exact=True`` every inequality is decided exactly in integer arithmetic
    (c = p/sqrt(q) >= r iff a sign test and p^2 versus r^2 q), so the answer is never
    "unproved"; cost O(M^2 N^2 d) Python integer operations (refused above ``max_work``,
    see :func:`certified_margin`).
    """
    t0 = time.perf_counter()
    m, b_rel = _claim_number(m, "claimed margin"), _claim_number(b_rel, "claimed b_rel")
    A, G = resolve(X, graph)
    if exact:
        _check_exact_work(A, len(G.edges), max_work)
        res = _check_claim_exact(A, G.edges, m, b_rel)
    else:
        res = _check_claim_float(A, G.edges, m, b_rel)
    M, N, d = A.shape
    return replace(res, n=N, dim=d, modalities=M, seconds=time.perf_counter() - t0)


def _check_claim_float(A: np.ndarray, edges, m, b_rel) -> ClaimCheck:
    """:func:`check_claim` in float64 with the rounding bound (the docstring there)."""
    gamma, kappa = float_error_constants(A.shape[2])
    hi_req, lo_req = _requirements(m, b_rel)
    screen = (float_up(gamma), float_up(kappa), _float_beyond(hi_req, 1), _float_beyond(lo_req, -1))
    unproved = None  # first inequality that is neither proved nor refuted
    for k, l in edges:
        for v in _claim_violations(A, k, l, hi_req, lo_req, gamma, kappa, screen, lambda: unproved is None):
            if v.certain:
                return ClaimCheck(False, m, b_rel, v, "float64-rounding-bound")
            unproved = unproved or v
    return ClaimCheck(unproved is None, m, b_rel, unproved, "float64-rounding-bound")


def _claim_number(x, name: str):
    """A claimed value as an exact number (see :func:`check_claim`); NaN, infinity and non-numbers refused."""
    if isinstance(x, bool):
        raise ConfigurationError(f"{name} must be a number, got {x!r}")
    if isinstance(x, (int, Fraction)):
        return Fraction(x)
    if isinstance(x, (float, np.floating)):
        if not math.isfinite(x):
            raise ConfigurationError("claimed margin and b_rel must be finite numbers")
        return Fraction(float(x))
    if all(hasattr(x, k) for k in ("a", "b", "D")):  # a + b sqrt(D), compared exactly
        return x
    raise ConfigurationError(f"{name} must be a number, got {type(x).__name__}")


def _requirements(m, b_rel):
    """(b_rel + m, b_rel - m) exactly; two different square roots are refused with one line."""
    try:
        return b_rel + m, b_rel - m
    except ConstellationsError as exc:
        raise ConfigurationError(f"the claimed margin {exact_text(m)} and b_rel {exact_text(b_rel)} use different "
                                 f"square roots, which exact arithmetic here cannot combine ({exc})") from None


def _float_beyond(x, direction: int) -> float:
    """A float >= x (direction +1) or <= x (-1) for an exact number x, found by exact comparisons."""
    if isinstance(x, Fraction):
        return float_up(x) if direction > 0 else float_down(x)
    f = float(x)
    step = max(abs(f), 1.0) * 2.0 ** -50
    while (Fraction(f) < x) if direction > 0 else (Fraction(f) > x):
        f += direction * step
        step *= 2
    return f


def _claim_violations(A, k, l, hi_req, lo_req, gamma, kappa, screen, first_pending):
    """Yield, in order, the inequalities of edge (k, l) that are not proved (float64 mode).

    A float pre-screen with a slightly inflated allowance (``screen`` = (gamma, kappa) rounded up and
    floats beyond the two requirements) picks candidates; each is decided by the exact rational test.
    Once an unproved inequality is known (``first_pending()`` False), only possibly-false ones are yielded.
    """
    g, kp, hi_f, lo_f = screen
    lower = lambda c: Fraction(c) - kappa * abs(Fraction(c)) - gamma  # noqa: E731
    upper = lambda c: Fraction(c) + kappa * abs(Fraction(c)) + gamma  # noqa: E731
    hi_text, lo_text = exact_text(hi_req), exact_text(lo_req)
    slack = 2 * (kp + g) + 1e-300
    norms = row_norms(A)
    nk, nl = (None, None) if norms is None else (norms[k], norms[l])
    diag = normalised_diag(A[k], A[l], nk, nl)
    lo_d = diag - kp * np.abs(diag) - g
    maybe = lo_d + 2 * (kp * np.abs(diag) + g) - slack < hi_f  # could be certainly false
    for i in np.nonzero((lo_d - slack < hi_f) & (maybe | first_pending()))[0]:
        c = float(diag[i])
        if (first_pending() or maybe[i]) and lower(c) < hi_req:
            yield Violation("matched", (k, l), (int(i), int(i)), c, float(hi_req), upper(c) < hi_req,
                            required_exact=hi_text)
    for a, C in normalised_blocks(A[k], A[l], nk, nl, block_rows(A.shape[1])):
        r = np.arange(C.shape[0])
        B = C + kp * np.abs(C) + g + slack
        B[r, a + r] = -np.inf
        mask = B > lo_f
        maybe = B - 2 * (kp * np.abs(C) + g) > lo_f  # could be certainly false
        for i, j in np.argwhere(mask if first_pending() else mask & maybe):
            c = float(C[i, j])
            if (first_pending() or maybe[i, j]) and upper(c) > lo_req:
                yield Violation("non-matched", (k, l), (int(a + i), int(j)), c, float(lo_req), lower(c) > lo_req,
                                required_exact=lo_text)


def _exact_ge(p: int, q: int, r) -> bool:
    """Decide p / sqrt(q) >= r exactly (q > 0; r a Fraction or an exact number with comparisons)."""
    if p >= 0 and r <= 0:
        return True
    if p < 0 and r >= 0:
        return False
    if isinstance(r, Fraction):
        if p >= 0:  # both positive
            return p * p * r.denominator ** 2 >= r.numerator ** 2 * q
        return p * p * r.denominator ** 2 <= r.numerator ** 2 * q  # both negative: |c| <= |r|
    c2, r2 = Fraction(p * p, q), r * r
    return r2 <= c2 if p >= 0 else c2 <= r2


def _check_claim_exact(A: np.ndarray, edges, m, b_rel) -> ClaimCheck:
    M, N, d = A.shape
    rows = _integer_rows(A)
    R = [rows[k * N:(k + 1) * N] for k in range(M)]
    sq = [[sum(v * v for v in r) for r in Rk] for Rk in R]
    hi_req, lo_req = _requirements(m, b_rel)

    def violation(kind, edge, items, p, q, req):
        ip = _ExactIP(p, q)
        a, rad = ip.surd()
        return ClaimCheck(False, m, b_rel, Violation(kind, edge, items, float(ip.bounds()[0]), float(req), True,
                                                     value_exact=_surd_str({rad: a}), required_exact=exact_text(req)),
                          "exact-rational")

    for k, l in edges:
        for i in range(N):
            p = sum(x * y for x, y in zip(R[k][i], R[l][i]))
            q = sq[k][i] * sq[l][i]
            if not _exact_ge(p, q, hi_req):
                return violation("matched", (k, l), (i, i), p, q, hi_req)
        for i in range(N):
            for j in range(N):
                if i == j:
                    continue
                p = sum(x * y for x, y in zip(R[k][i], R[l][j]))
                q = sq[k][i] * sq[l][j]
                if not _exact_ge(-p, q, -lo_req):  # c <= lo  <=>  -c >= -lo
                    return violation("non-matched", (k, l), (i, j), p, q, lo_req)
    return ClaimCheck(True, m, b_rel, None, "exact-rational")

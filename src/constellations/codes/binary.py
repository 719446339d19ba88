r"""Spherical codes from binary and quaternary error-correcting codes.

A binary code C of length n maps to the spherical code {(-1)^c / sqrt(n) : c in C}.  Two points
have inner product (n - 2 d_H(c, c'))/n, so for a *linear* code (c + c' is again a codeword)

.. math:: c_{\max} = \max_{c \ne c'} \langle x_c, x_{c'} \rangle = 1 - 2 w_{\min}/n,

with w_min the least weight of a nonzero codeword (docs/math.md section 4).  A code containing the
all-ones word is antipodal (pairs at -1, harmless: c_max is a maximum).

A Z4-linear code of length n maps through the Gray map 0 -> 00, 1 -> 01, 2 -> 11, 3 -> 10 to a
binary code of length 2n, and Lee distance becomes Hamming distance, so
<x_a, x_b> = (2n - 2 w_L(a - b))/(2n) and c_max = 1 - w_L,min / n.

Certificates.  Every code here is built as the image of a generator matrix (over GF(2) or Z4), so
it is linear by construction; :meth:`BinaryCode.weights` / :meth:`Z4Code.lee_weights` enumerate
*every* nonzero message exhaustively in integer arithmetic, which proves w_min (and that the map
message -> codeword is injective, so the point count is exact).  c_max is then the exact rational
above; no floating point is involved.

Families (n = 2^m - 1, alpha a primitive element of GF(2^m), Tr the trace to GF(2)):

* ``trace_code(m, S)``: the cyclic code {(Tr(sum_s a_s alpha^{s t}))_{t<n}}; its zeros are the
  alpha^j with -j not in the cyclotomic cosets of S.
* Gold (m odd): S = {1, 3}, weights 2^{m-1}, 2^{m-1} +- 2^{(m-1)/2}: 2^{2m} points in R^n with
  c = (2^{(m+1)/2} - 1)/(2^m - 1).
* small Kasami (m even): S = {1, 2^{m/2}+1}, weights 2^{m-1}, 2^{m-1} +- 2^{m/2-1}: 2^{3m/2} points
  with c = 1/(2^{m/2} + 1).
* narrow-sense primitive BCH with designed distance delta (zeros alpha^1..alpha^{delta-1}).
* RM(1, m) (Hadamard): 2^{m+1} points in R^{2^m}, c = 0.
* extended binary Golay code [24, 12, 8].
* Kerdock (Z4, m odd): the extended cyclic Z4 code with check polynomial the Hensel lift of a
  primitive binary polynomial, plus the all-ones word: 4^{m+1} codewords, Gray image in
  R^d, d = 2^{m+1} = 4^k, with c = 1/sqrt(d); with the 2d vectors +-e_i these are d/2 + 1
  mutually unbiased real bases, d(d+2) points (:func:`kerdock_points`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

import numpy as np

from constellations.core.errors import ConfigurationError

__all__ = ["PRIMITIVE_POLYNOMIALS", "BinaryCode", "Z4Code", "trace_code", "cyclotomic_coset", "gold_code",
           "kasami_code", "bch_code", "reed_muller1_code", "golay_code", "kerdock_z4_code", "kerdock_points",
           "kerdock_size", "kerdock_max_inner_product", "bch_parameters", "MAX_MESSAGE_BITS"]

#: Binary primitive polynomials x^m + ... (bit i = coefficient of x^i); checked when used.
PRIMITIVE_POLYNOMIALS = {1: 0b11, 2: 0b111, 3: 0b1011, 4: 0x13, 5: 0x25, 6: 0x43, 7: 0x83, 8: 0x11D,
                         9: 0x211, 10: 0x409, 11: 0x805, 12: 0x1053, 13: 0x201B}

#: Exhaustive weight enumeration is refused above 2^MAX_MESSAGE_BITS codewords.
MAX_MESSAGE_BITS = 24

_BLOCK = 1 << 14  # messages per enumeration block


# ------------------------------------------------------------------------------ GF(2^m)
@lru_cache(maxsize=None)
def _gf_tables(m: int) -> tuple[np.ndarray, np.ndarray]:
    """(exp, trace_of_power): exp[i] = alpha^i as an int, trace_of_power[i] = Tr(alpha^i)."""
    if m not in PRIMITIVE_POLYNOMIALS:
        raise ConfigurationError(f"GF(2^m) needs 1 <= m <= {max(PRIMITIVE_POLYNOMIALS)}, got m={m}")
    poly, n = PRIMITIVE_POLYNOMIALS[m], (1 << m) - 1
    exp = np.zeros(n, dtype=np.int64)
    x = 1
    for i in range(n):
        exp[i] = x
        x <<= 1
        if x >> m:
            x ^= poly
    if len(set(exp.tolist())) != n:  # the polynomial must be primitive
        raise AssertionError(f"polynomial {poly:#x} is not primitive")
    idx = np.arange(n)
    tr = np.zeros(n, dtype=np.int64)
    for k in range(m):  # Tr(y) = sum_k y^(2^k), computed on exponents
        tr ^= exp[(idx * (1 << k)) % n]
    if not np.isin(tr, (0, 1)).all():
        raise AssertionError("trace outside GF(2)")
    return exp, tr.astype(np.uint8)


def cyclotomic_coset(s: int, m: int) -> tuple[int, ...]:
    """The 2-cyclotomic coset {s 2^k mod (2^m - 1)} of s, sorted."""
    n = (1 << m) - 1
    return tuple(sorted({(s * (1 << k)) % n for k in range(m)}))


def _row_basis(G: np.ndarray) -> np.ndarray:
    """A basis (rows) of the GF(2) row space of a 0/1 matrix, by Gaussian elimination."""
    A = (np.asarray(G, dtype=np.uint8) & 1).copy()
    rows, r = [], 0
    for col in range(A.shape[1]):
        piv = np.nonzero(A[r:, col])[0]
        if len(piv) == 0:
            continue
        p = r + piv[0]
        A[[r, p]] = A[[p, r]]
        hit = np.nonzero(A[:, col])[0]
        hit = hit[hit != r]
        A[hit] ^= A[r]
        rows.append(r)
        r += 1
        if r == A.shape[0]:
            break
    return A[:r].copy()


# ------------------------------------------------------------------------------ binary codes
class _LinearCode:
    """Length n and dimension k read off a (k, n) ``generator`` matrix, shared by binary and Z4 codes."""

    generator: np.ndarray

    @property
    def n(self) -> int:
        return self.generator.shape[1]

    @property
    def k(self) -> int:
        return self.generator.shape[0]


@dataclass(frozen=True)
class BinaryCode(_LinearCode):
    """A binary linear code given by a generator matrix (rows linearly independent over GF(2)).

    Attributes
    ----------
    name : str
        A recipe such as ``"gold(m=7)"``.
    generator : ndarray, shape (k, n), uint8
    """

    name: str
    generator: np.ndarray = field(repr=False, compare=False)

    @property
    def size(self) -> int:
        return 1 << self.k

    def extended(self) -> "BinaryCode":
        """Append an overall parity bit (length n + 1; odd weights grow by one)."""
        G = self.generator
        return BinaryCode(self.name + "+parity", np.hstack([G, (G.sum(axis=1) % 2)[:, None].astype(np.uint8)]))

    def with_all_ones(self) -> "BinaryCode":
        """The code spanned by this one and the all-ones word (its antipodal closure)."""
        G = _row_basis(np.vstack([self.generator, np.ones((1, self.n), np.uint8)]))
        return BinaryCode(self.name + "+ones", G)

    def codewords(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Codewords of messages start..stop-1 (message bit j selects generator row j), shape (., n) uint8."""
        stop = self.size if stop is None else min(stop, self.size)
        msg = np.arange(start, stop, dtype=np.int64)
        out = np.zeros((len(msg), self.n), dtype=np.uint8)
        for j in range(self.k):
            sel = ((msg >> j) & 1).astype(bool)
            out[sel] ^= self.generator[j]
        return out

    def points(self, start: int = 0, stop: int | None = None, dtype=np.float64) -> np.ndarray:
        """The unit vectors (-1)^c / sqrt(n) of codewords start..stop-1 (only these rows are built)."""
        C = self.codewords(start, stop)
        P = (1 - 2 * C.astype(np.int8)).astype(dtype)
        P /= math.sqrt(self.n)
        return P

    def weights(self) -> tuple[int, int]:
        """(w_min, w_max) over all nonzero codewords, by exhaustive enumeration (exact).

        Raises ConfigurationError when 2^k exceeds 2^MAX_MESSAGE_BITS, or when a nonzero message gives
        the zero word (the rows are dependent).
        """
        return _weights(self.name, self.generator.tobytes(), self.k, self.n)

    def max_inner_product(self) -> Fraction:
        """Exact c_max = 1 - 2 w_min / n of the spherical code (distinct codewords)."""
        w_min, _ = self.weights()
        return 1 - Fraction(2 * w_min, self.n)


@lru_cache(maxsize=256)
def _weights(name: str, gbytes: bytes, k: int, n: int) -> tuple[int, int]:
    if k > MAX_MESSAGE_BITS:
        raise ConfigurationError(f"{name}: 2^{k} codewords is too many to enumerate "
                                 f"(limit 2^{MAX_MESSAGE_BITS}, binary_codes.MAX_MESSAGE_BITS)")
    G = np.frombuffer(gbytes, dtype=np.uint8).reshape(k, n)
    packed = np.packbits(G, axis=1)  # (k, ceil(n/8)) bytes
    lo_bits = min(k, 14)
    lo = np.zeros((1 << lo_bits, packed.shape[1]), dtype=np.uint8)
    for j in range(lo_bits):  # lo[i] = XOR of rows j with bit j of i set
        lo[1 << j:2 << j] = lo[:1 << j] ^ packed[j]
    w_min, w_max = n + 1, -1
    for hi in range(1 << (k - lo_bits)):
        h = np.zeros(packed.shape[1], dtype=np.uint8)
        for j in range(k - lo_bits):
            if (hi >> j) & 1:
                h ^= packed[lo_bits + j]
        w = np.bitwise_count(lo ^ h).sum(axis=1, dtype=np.int64)
        if hi == 0:
            w = w[1:]
        if len(w) and w.min() == 0:
            raise ConfigurationError(f"{name}: generator rows are linearly dependent")
        if len(w):
            w_min, w_max = min(w_min, int(w.min())), max(w_max, int(w.max()))
    return w_min, w_max


def trace_code(m: int, exponents, *, name: str | None = None) -> BinaryCode:
    """The cyclic code {(Tr(sum_{s in S} a_s alpha^{s t}))_{t=0..n-1}}, n = 2^m - 1.

    S is closed up to cyclotomic cosets; its dimension is the total size of the cosets.
    """
    exp, tr = _gf_tables(m)
    n = (1 << m) - 1
    t = np.arange(n)
    leaders = sorted({min(cyclotomic_coset(int(s) % n, m)) for s in exponents})  # one row set per coset
    rows = [tr[(j + s * t) % n] for s in leaders for j in range(m)]
    G = _row_basis(np.array(rows, dtype=np.uint8))
    expect = len(set().union(*(cyclotomic_coset(int(s), m) for s in exponents)))
    if G.shape[0] != expect:  # a theorem; a mismatch means a bug in the tables
        raise AssertionError(f"trace code dimension {G.shape[0]} != {expect}")
    return BinaryCode(name or f"trace(m={m}, S={sorted(set(exponents))})", G)


def gold_code(m: int) -> BinaryCode:
    """Gold code (m odd >= 3): trace code with S = {1, 3}, length 2^m - 1, 2^{2m} codewords."""
    if m % 2 == 0 or m < 3:
        raise ConfigurationError(f"Gold codes need odd m >= 3, got m={m}")
    return trace_code(m, (1, 3), name=f"gold(m={m})")


def kasami_code(m: int) -> BinaryCode:
    """Small Kasami code (m even >= 4): S = {1, 2^{m/2} + 1}, length 2^m - 1, 2^{3m/2} codewords."""
    if m % 2 or m < 4:
        raise ConfigurationError(f"small Kasami codes need even m >= 4, got m={m}")
    return trace_code(m, (1, (1 << (m // 2)) + 1), name=f"kasami(m={m})")


def bch_code(m: int, delta: int) -> BinaryCode:
    """Narrow-sense primitive BCH code of length 2^m - 1 and designed distance delta.

    Zeros Z = cosets of alpha^1..alpha^{delta-1}; as a trace code, S = {s : -s not in Z}.
    It contains the all-ones word (s = 0 is in S).
    """
    n = (1 << m) - 1
    if not 2 <= delta <= n:
        raise ConfigurationError(f"BCH: need 2 <= delta <= {n}, got delta={delta}")
    Z = set().union(*(cyclotomic_coset(j, m) for j in range(1, delta)))
    S = [s for s in range(n) if (-s) % n not in Z]
    return trace_code(m, S, name=f"bch(m={m}, delta={delta})")


def reed_muller1_code(m: int) -> BinaryCode:
    """First-order Reed-Muller code RM(1, m): length 2^m, 2^{m+1} codewords, weights 0, 2^{m-1}, 2^m."""
    if not 1 <= m <= 16:
        raise ConfigurationError(f"RM(1, m) needs 1 <= m <= 16, got m={m}")
    x = np.arange(1 << m)
    G = np.vstack([np.ones(1 << m, np.uint8)] + [((x >> j) & 1).astype(np.uint8) for j in range(m)])
    return BinaryCode(f"rm1(m={m})", G)


def golay_code() -> BinaryCode:
    """Extended binary Golay code [24, 12, 8]: shifts of g(x) = 1+x^2+x^4+x^5+x^6+x^10+x^11, plus parity."""
    g = np.zeros(23, np.uint8)
    g[[0, 2, 4, 5, 6, 10, 11]] = 1
    G = np.array([np.roll(g, i) for i in range(12)], dtype=np.uint8)
    return BinaryCode("golay", G).extended()


# ------------------------------------------------------------------------------ Z4 Kerdock
def _hensel_lift(m: int) -> np.ndarray:
    """Coefficients h_0..h_m (mod 4) of the Hensel lift of the primitive polynomial of degree m.

    Graeffe: h2(x) = e(x) + o(x) (even and odd parts) lifts to h with h(x^2) = +-(e(x)^2 - o(x)^2) mod 4.
    """
    p = PRIMITIVE_POLYNOMIALS[m]
    e = np.array([(p >> i) & 1 if i % 2 == 0 else 0 for i in range(m + 1)], dtype=np.int64)
    o = np.array([(p >> i) & 1 if i % 2 == 1 else 0 for i in range(m + 1)], dtype=np.int64)
    sq = np.convolve(e, e) - np.convolve(o, o)
    h = sq[::2] % 4
    if h[m] != 1:
        h = (-sq[::2]) % 4
    if np.any(sq[1::2] % 4) or h[m] != 1:
        raise AssertionError("Graeffe lift failed")
    return h


@dataclass(frozen=True)
class Z4Code(_LinearCode):
    """A Z4-linear code given by a generator matrix over Z4 (codewords u G mod 4, u in Z4^k)."""

    name: str
    generator: np.ndarray = field(repr=False, compare=False)

    @property
    def size(self) -> int:
        return 4 ** self.k

    def codewords(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Codewords of messages start..stop-1 (base-4 digit j multiplies row j), shape (., n) int8."""
        stop = self.size if stop is None else min(stop, self.size)
        msg = np.arange(start, stop, dtype=np.int64)
        out = np.zeros((len(msg), self.n), dtype=np.int64)
        for j in range(self.k):
            out += ((msg >> (2 * j)) & 3)[:, None] * self.generator[j][None, :]
        return (out % 4).astype(np.int8)

    def gray_points(self, start: int = 0, stop: int | None = None, dtype=np.float64) -> np.ndarray:
        """Gray images as unit vectors of R^{2n}: z -> ((-1)^a, (-1)^b)/sqrt(2n), 0->00, 1->01, 2->11, 3->10."""
        Z = self.codewords(start, stop)
        first = np.where(Z >= 2, -1, 1)
        second = np.where((Z == 1) | (Z == 2), -1, 1)
        P = np.empty((Z.shape[0], 2 * self.n), dtype=dtype)
        P[:, 0::2], P[:, 1::2] = first, second
        P /= math.sqrt(2 * self.n)
        return P

    def lee_weights(self) -> tuple[int, int]:
        """(min, max) Lee weight over all nonzero codewords, by exhaustive enumeration (exact)."""
        return _lee_weights(self.name, self.generator.tobytes(), self.k, self.n)

    def max_inner_product(self) -> Fraction:
        """Exact c_max = 1 - w_L,min / n of the Gray image (distinct codewords)."""
        return 1 - Fraction(self.lee_weights()[0], self.n)


_LEE = np.array([0, 1, 2, 1], dtype=np.int64)


@lru_cache(maxsize=64)
def _lee_weights(name: str, gbytes: bytes, k: int, n: int) -> tuple[int, int]:
    if 2 * k > MAX_MESSAGE_BITS:
        raise ConfigurationError(f"{name}: 4^{k} codewords is too many to enumerate "
                                 f"(limit 2^{MAX_MESSAGE_BITS}, binary_codes.MAX_MESSAGE_BITS)")
    G = np.frombuffer(gbytes, dtype=np.int64).reshape(k, n)
    lo_digits = min(k, 6)
    lo = np.zeros((4 ** lo_digits, n), dtype=np.int8)
    for j in range(lo_digits):  # lo[i] = sum_j digit_j(i) G_j mod 4
        base = 4 ** j
        for a in (1, 2, 3):
            lo[a * base:(a + 1) * base] = (lo[:base] + a * G[j]) % 4
    lee_lo = _LEE.astype(np.int8)
    w_min, w_max = None, None
    for hi in range(4 ** (k - lo_digits)):
        h = np.zeros(n, dtype=np.int64)
        for j in range(k - lo_digits):
            h += ((hi >> (2 * j)) & 3) * G[lo_digits + j]
        block = (lo + (h % 4).astype(np.int8)) & 3
        w = lee_lo[block].sum(axis=1, dtype=np.int64)
        if hi == 0:
            w = w[1:]
        if len(w) and w.min() == 0:
            raise ConfigurationError(f"{name}: generator rows are dependent over Z4")
        if len(w):
            lo_w, hi_w = int(w.min()), int(w.max())
            w_min = lo_w if w_min is None else min(w_min, lo_w)
            w_max = hi_w if w_max is None else max(w_max, hi_w)
    return w_min, w_max


def kerdock_z4_code(m: int) -> Z4Code:
    """Quaternary Kerdock code of length 2^m (m odd): 4^{m+1} codewords, min Lee weight 2^m - 2^{(m-1)/2}.

    Rows: the m shift-register sequences of the Hensel lift h (s_{t+m} = -sum_{i<m} h_i s_{t+i}),
    each of period 2^m - 1, extended by a coordinate making the sum 0 mod 4, and the all-ones word.
    """
    if m % 2 == 0 or m < 1 or m not in PRIMITIVE_POLYNOMIALS:
        raise ConfigurationError(f"Kerdock codes need odd m in 1..{max(PRIMITIVE_POLYNOMIALS)}, got m={m}")
    if m == 1:  # degenerate (xi = 1): the whole of Z4^2, whose Gray image is the 16 points (+-1/2)^4
        return Z4Code("kerdock-z4(m=1)", np.eye(2, dtype=np.int64))
    h = _hensel_lift(m)
    n = (1 << m) - 1
    rows = []
    for j in range(m):
        s = np.zeros(n + m, dtype=np.int64)
        s[j] = 1
        for t in range(n):
            s[t + m] = (-(h[:m] * s[t:t + m]).sum()) % 4
        if not np.array_equal(s[n:n + m], s[:m]):  # period n: a property of the Hensel lift
            raise AssertionError("shift register of the Hensel lift does not have period 2^m - 1")
        seq = s[:n]
        rows.append(np.append(seq, (-seq.sum()) % 4))
    rows.append(np.ones(n + 1, dtype=np.int64))
    return Z4Code(f"kerdock-z4(m={m})", np.array(rows, dtype=np.int64))


def kerdock_size(d: int) -> int:
    """Number of points d(d+2) of the real-MUB (Kerdock) code in R^d, d = 4^k."""
    return d * (d + 2)


def _kerdock_m(d: int) -> int:
    k = round(math.log(d, 4)) if d >= 4 else 0
    if d < 4 or 4 ** k != d:
        raise ConfigurationError(f"Kerdock codes live in dimension d = 4^k (4, 16, 64, 256, 1024), got d={d}")
    return 2 * k - 1


def kerdock_points(d: int, start: int = 0, stop: int | None = None, dtype=np.float64) -> np.ndarray:
    """Points start..stop-1 of the d(d+2)-point real-MUB code in R^d (d = 4^k), c = 1/sqrt(d).

    Order: the d^2 Gray images of the Z4 Kerdock code (message order), then +e_1, -e_1, +e_2, ...
    Only the requested rows are built.
    """
    m = _kerdock_m(d)
    code = kerdock_z4_code(m)
    total = kerdock_size(d)
    stop = total if stop is None else min(stop, total)
    if not 0 <= start <= stop:
        raise ConfigurationError(f"kerdock: bad row range {start}..{stop}")
    parts = []
    a, b = start, min(stop, code.size)
    if a < b:
        parts.append(code.gray_points(a, b, dtype))
    a, b = max(start, code.size) - code.size, stop - code.size
    if a < b:
        idx = np.arange(a, b)
        E = np.zeros((len(idx), d), dtype=dtype)
        E[np.arange(len(idx)), idx // 2] = np.where(idx % 2 == 0, 1.0, -1.0)
        parts.append(E)
    return np.vstack(parts) if parts else np.zeros((0, d), dtype=dtype)


def kerdock_max_inner_product(d: int) -> Fraction:
    """Exact c_max of the d(d+2)-point code: max(1 - w_L,min/n over the Z4 code, 1/sqrt(d) against +-e_i).

    +-e_i against a Gray image is +-1/sqrt(d) (every coordinate is +-1/sqrt(d)); two distinct +-e_i give
    0 or -1.  The Z4 part is certified by exhaustive Lee-weight enumeration (exact integers).
    """
    m = _kerdock_m(d)
    return max(kerdock_z4_code(m).max_inner_product(), Fraction(1, math.isqrt(d)))


def bch_parameters(m: int, max_k: int = MAX_MESSAGE_BITS) -> list[tuple[int, int]]:
    """(Bose distance delta, dimension k) of the distinct narrow-sense primitive BCH codes of length 2^m - 1
    with 2 <= k <= max_k, from cyclotomic cosets only (no code is built).  delta is the largest designed
    distance giving that code; the true minimum distance is >= delta (BCH bound)."""
    n = (1 << m) - 1
    zeros, out = set(), {}
    for delta in range(2, n + 1):
        zeros |= set(cyclotomic_coset(delta - 1, m))
        k = n - len(zeros)
        nxt = n - len(zeros | set(cyclotomic_coset(delta, m))) if delta < n else -1
        if 2 <= k <= max_k and nxt != k:
            out[k] = delta
    return sorted(((d, k) for k, d in out.items()), key=lambda t: t[1])

r"""Spherical codes from lattice shells: D_n roots, E8 shells, Barnes-Wall BW16, Leech.

Every code is an integer array P (N, d) whose rows all have the same squared norm q; the spherical
code is P / sqrt(q) and its maximal inner product is c = max_{x != y} <x, y> / q, a rational
(docs/math.md section 4).

=================  =========  ====  =====  ==========================================
code               N          d     q      c
=================  =========  ====  =====  ==========================================
D_n roots          2n(n-1)    n     2      1/2 (n >= 3)
E8 shell k         240 s3(k)  8     8k     computed (k = 1: the 240 roots, c = 1/2)
BW16 min vectors   4,320      16    8      1/2
BW16 norm-6 shell  61,440     16    12     2/3
Leech min vectors  196,560    24    32     1/2
=================  =========  ====  =====  ==========================================

E8 is taken scaled by 2 (coordinates all even or all odd, sum = 0 mod 4), so shell k (E8 norm 2k)
has q = 8k and 240 sigma_3(k) vectors.  BW16: 480 vectors (+-2^2, 0^14) and 3,840 vectors
(+-1^8, 0^8) supported on the 30 weight-8 words of RM(1, 4) with an even number of minus signs.  Its next shell (norm 6 when the minimum is 4; q = 12 here): 61,440 vectors (+-1^8) on a
weight-8 word with an ODD number of minus signs, plus one +-2 on one of the word's 8 zero coordinates.
BW16 is {x in Z^16 : x mod 2 in RM(1, 4), sum x = 0 mod 4}; the two shells above are all its vectors of
norm 8 and 12 (an even x has norm 4k with sum of +-2's = 2 mod 4 for three of them; an odd x needs 16).
Leech, from the extended Golay code G24: (+-2^8, 0^16) on the 759 octads with an even number of
minus signs (97,152), (-3, 1^23) with signs changed on a codeword (98,304) and (+-4^2, 0^22) (1,104).

Certificate (:func:`integer_max_inner_product`): the exact integer max of <x, y> over distinct rows.
With no symmetry given, every pair is computed (float64 matmul of small integers: every product and
partial sum is an integer of size <= q < 2^53, so the result is exact).  With symmetries
(signed permutations g, x -> s * x[p]), each g is first checked to map the row set onto itself (exact
integer comparison of sorted rows); then max_y <g x, y> = max_y <x, y>, so only one row per orbit of
the generated group is needed: for Leech the 12 Golay sign changes and two coordinate permutations of
the cyclic Golay code leave 47 orbits, and the proof costs 47 x 196,560 inner products.
"""
from __future__ import annotations

import itertools
from fractions import Fraction
from functools import lru_cache

import numpy as np

from constellations.codes.binary import golay_code, reed_muller1_code
from constellations.core.errors import ConfigurationError

__all__ = ["dn_roots", "e8_shell", "bw16_min_vectors", "bw16_norm6_vectors", "bw16_symmetries", "leech_min_vectors", "integer_max_inner_product",
           "leech_symmetries", "shell_max_inner_product", "E8_SHELL_SIZES"]

#: 240 sigma_3(k): number of E8 vectors of norm 2k.
E8_SHELL_SIZES = {k: 240 * sum(j ** 3 for j in range(1, k + 1) if k % j == 0) for k in range(1, 7)}


def dn_roots(n: int) -> np.ndarray:
    """The 2n(n-1) roots +-e_i +-e_j of D_n (n >= 2), int8, q = 2."""
    if n < 2:
        raise ConfigurationError(f"D_n roots need n >= 2, got n={n}")
    i, j = np.triu_indices(n, 1)
    out = np.zeros((4 * len(i), n), dtype=np.int8)
    r = np.arange(len(i))
    for a, (s, t) in enumerate(itertools.product((1, -1), repeat=2)):
        out[4 * r + a, i] = s
        out[4 * r + a, j] = t
    return out


def _vectors_of_norm(d: int, norm: int, odd: bool) -> np.ndarray:
    """All integer vectors in Z^d with squared norm ``norm``, every coordinate odd (or every one even)."""
    r = int(np.sqrt(norm))
    vals = np.array([v for v in range(-r, r + 1) if (v % 2 == 1) == odd], dtype=np.int64)
    part = np.zeros((1, 0), dtype=np.int64)
    for pos in range(d):
        rest = d - pos - 1
        least = rest * (1 if odd else 0)  # smallest norm the remaining coordinates can add
        cand = np.repeat(part, len(vals), axis=0)
        cand = np.hstack([cand, np.tile(vals, len(part))[:, None]])
        s = (cand ** 2).sum(axis=1)
        part = cand[s + least <= norm]
    return part[(part ** 2).sum(axis=1) == norm]


@lru_cache(maxsize=8)
def _e8_shell(k: int) -> np.ndarray:
    q = 8 * k
    P = np.vstack([_vectors_of_norm(8, q, True), _vectors_of_norm(8, q, False)])
    P = P[P.sum(axis=1) % 4 == 0]
    P = P[np.lexsort(P.T[::-1])][::-1]
    out = P.astype(np.int8)
    out.setflags(write=False)
    return out


def e8_shell(k: int) -> np.ndarray:
    """E8 vectors of norm 2k, scaled by 2 (int8, q = 8k); 240 sigma_3(k) rows.  k = 1..6."""
    if k not in E8_SHELL_SIZES:
        raise ConfigurationError(f"E8 shells: need 1 <= k <= {max(E8_SHELL_SIZES)}, got k={k}")
    P = _e8_shell(k)
    if len(P) != E8_SHELL_SIZES[k]:  # theta series of E8: a theorem
        raise AssertionError(f"E8 shell {k}: {len(P)} vectors, expected {E8_SHELL_SIZES[k]}")
    return P.copy()


def _octad_vectors(words: np.ndarray, a: int) -> list[np.ndarray]:
    """Per weight-8 word of ``words`` (0/1 rows), all vectors with entries +-a on its support and an even
    number of -a (128 each), int8, in codeword order."""
    octads = words[words.sum(axis=1) == 8]
    even = np.array([s for s in itertools.product((a, -a), repeat=8) if s.count(-a) % 2 == 0], dtype=np.int8)
    parts = []
    for o in octads:
        V = np.zeros((len(even), words.shape[1]), dtype=np.int8)
        V[:, np.nonzero(o)[0]] = even
        parts.append(V)
    return parts


def bw16_norm6_vectors() -> np.ndarray:
    """The 61,440 vectors of the Barnes-Wall lattice BW16 of norm 6 (minimum norm 4), int8, scaled
    so that q = 12 (module docstring); c = 2/3, since x - y is a nonzero lattice vector:
    |x - y|^2 >= 8 gives <x, y> <= (12 + 12 - 8)/2 = 8 (proved again exactly by
    :func:`shell_max_inner_product`)."""
    words = reed_muller1_code(4).codewords()
    odd = np.array([s for s in itertools.product((1, -1), repeat=8) if s.count(-1) % 2 == 1], dtype=np.int8)
    parts = []
    for w in words[words.sum(axis=1) == 8]:
        ones, zeros = np.nonzero(w)[0], np.nonzero(1 - w)[0]
        for p in zeros:
            for two in (2, -2):
                V = np.zeros((len(odd), 16), dtype=np.int8)
                V[:, ones] = odd
                V[:, p] = two
                parts.append(V)
    return np.vstack(parts)


def bw16_symmetries() -> list[tuple[np.ndarray, np.ndarray]]:
    """Signed permutations preserving BW16 (so each of its shells), coordinates indexed by F_2^4 as in
    :func:`constellations.codes.binary.reed_muller1_code`: sign changes on the 5 generators of RM(1, 4)
    (each meets every codeword evenly, so sum x mod 4 is kept), the 4 translations i -> i XOR 2^k and
    the affine maps swapping two bits or adding bit 1 to bit 0 (all preserve RM(1, 4)).  Each is
    checked again by :func:`integer_max_inner_product` before it is used."""
    i = np.arange(16)
    ones = np.ones(16, dtype=np.int8)
    gens = [(i, (1 - 2 * row.astype(np.int8))) for row in reed_muller1_code(4).generator]
    gens += [(i ^ (1 << k), ones) for k in range(4)]
    for k in range(3):  # swap bits k and k + 1
        a, b = (i >> k) & 1, (i >> (k + 1)) & 1
        gens.append((i ^ ((a ^ b) << k) ^ ((a ^ b) << (k + 1)), ones))
    gens.append((i ^ ((i >> 1) & 1), ones))  # bit 0 += bit 1
    return gens


def bw16_min_vectors() -> np.ndarray:
    """The 4,320 minimal vectors of the Barnes-Wall lattice BW16 (int8, q = 8)."""
    B = dn_roots(16) * 2
    return np.vstack(_octad_vectors(reed_muller1_code(4).codewords(), 1) + [B]).astype(np.int8)


@lru_cache(maxsize=1)
def _leech() -> np.ndarray:
    G = golay_code().codewords()  # 4096 x 24
    parts = _octad_vectors(G, 2)
    signs = (1 - 2 * G.astype(np.int8))  # (4096, 24)
    for i in range(24):
        x = np.ones(24, dtype=np.int8)
        x[i] = -3
        parts.append(signs * x)
    parts.append(dn_roots(24) * 4)
    out = np.vstack(parts).astype(np.int8)
    out.setflags(write=False)
    return out


def leech_min_vectors() -> np.ndarray:
    """The 196,560 minimal vectors of the Leech lattice from the Golay code (int8, q = 32)."""
    return _leech().copy()


def leech_symmetries() -> list[tuple[np.ndarray, np.ndarray]]:
    """Signed permutations (perm, signs) preserving the Leech minimal vectors.

    Sign changes on the 12 generator words of the Golay code (they flip an even number of signs on
    every octad and map (-3, 1^23)-type vectors to the same type), the cyclic shift t -> t + 1 and the
    multiplier t -> 2t (mod 23) of the cyclic Golay code, both fixing coordinate 23.
    """
    gens = []
    ident = np.arange(24)
    for row in golay_code().generator:
        gens.append((ident, (1 - 2 * row.astype(np.int8))))
    ones = np.ones(24, dtype=np.int8)
    shift = np.append((np.arange(23) + 1) % 23, 23)
    mult = np.append((2 * np.arange(23)) % 23, 23)
    gens += [(shift, ones), (mult, ones)]
    return gens


def _keys(P: np.ndarray) -> np.ndarray:
    P = np.ascontiguousarray(P, dtype=np.int8)
    return P.view(np.dtype((np.void, P.shape[1]))).ravel()


def _orbit_representatives(P: np.ndarray, symmetries) -> np.ndarray:
    """One row index per orbit of the group generated by ``symmetries``; each is verified to preserve P."""
    N = len(P)
    keys = _keys(P)
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    if N > 1 and not (sk[1:] != sk[:-1]).all():
        raise ConfigurationError("the code has repeated rows")
    src, dst = [np.arange(N)], [np.arange(N)]
    for perm, signs in symmetries:
        img = (P[:, perm] * signs[None, :]).astype(np.int8)
        ik = _keys(img)
        pos = np.minimum(np.searchsorted(sk, ik), N - 1)
        if not (sk[pos] == ik).all():
            raise ConfigurationError("a given symmetry does not map the code onto itself")
        src.append(np.arange(N))
        dst.append(order[pos])
    src, dst = np.concatenate(src), np.concatenate(dst)
    from scipy.sparse import coo_matrix  # heavy (0.4 s to import): only for the orbit count
    from scipy.sparse.csgraph import connected_components

    A = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(N, N))
    _, labels = connected_components(A, directed=True, connection="weak")
    _, first = np.unique(labels, return_index=True)
    return np.sort(first)


def integer_max_inner_product(P, symmetries=None, block: int = 2048) -> tuple[int, int]:
    """Exact (max_{x != y} <x, y>, number of rows checked) for an integer code P.

    Rows must be distinct.  Inner products are formed in float64 from integers with
    |<x, y>| <= max |x|^2 < 2^53, hence exactly.  ``symmetries`` (signed permutations that are
    verified to preserve the set) reduce the rows to one per orbit (module docstring).
    """
    P = np.asarray(P)
    if not np.issubdtype(P.dtype, np.integer) or P.ndim != 2:
        raise ConfigurationError("integer_max_inner_product needs a 2-D integer array")
    q = int((P.astype(np.int64) ** 2).sum(axis=1).max())
    if q >= 2 ** 52:
        raise ConfigurationError("entries too large for an exact float64 Gram")
    reps = _orbit_representatives(P, symmetries) if symmetries else np.arange(len(P))
    F = P.astype(np.float64)
    best = None
    for a in range(0, len(reps), block):
        idx = reps[a:a + block]
        G = F[idx] @ F.T
        G[np.arange(len(idx)), idx] = -np.inf
        v = int(G.max())
        best = v if best is None else max(best, v)
    return best, len(reps)


def _d8_symmetries() -> list[tuple[np.ndarray, np.ndarray]]:
    """Generators of W(D8): adjacent transpositions and the sign change of coordinates 0 and 1."""
    gens = []
    for i in range(7):
        p = np.arange(8)
        p[i], p[i + 1] = i + 1, i
        gens.append((p, np.ones(8, dtype=np.int8)))
    s = np.ones(8, dtype=np.int8)
    s[:2] = -1
    return gens + [(np.arange(8), s)]


@lru_cache(maxsize=16)
def _shell_c(name: str) -> Fraction:
    if name == "leech":
        P, sym = _leech(), leech_symmetries()
    elif name == "bw16":
        P, sym = bw16_min_vectors(), None
    elif name == "bw16-norm6":
        P, sym = bw16_norm6_vectors(), bw16_symmetries()
    elif name.startswith("e8-shell"):
        P, sym = e8_shell(int(name[len("e8-shell"):])), _d8_symmetries()
    elif name.startswith("dn-roots"):
        P, sym = dn_roots(int(name[len("dn-roots"):])), None
    else:
        raise ConfigurationError(f"unknown lattice code {name!r}")
    top, _ = integer_max_inner_product(P, sym)
    q = int((P[0].astype(np.int64) ** 2).sum())
    return Fraction(top, q)


def shell_max_inner_product(name: str) -> Fraction:
    """Exact c of ``"leech"``, ``"bw16"``, ``"bw16-norm6"``, ``"e8-shell<k>"`` or ``"dn-roots<n>"`` (cached per process)."""
    return _shell_c(name)

r"""The classic spherical codes: regular polytopes, root systems and their sections, random codes.

Every ``*_code`` function returns an (N, d) float64 array of unit rows.  Its maximal
inner product c (exact values below) makes the tied configuration U = V = code an
(m, b_rel)-constellation with m = (1 - c)/2 and b_rel = (1 + c)/2 (docs/math.md section 2).

=================  ==========  =====  ==========================
code               N           d      c (max inner product)
=================  ==========  =====  ==========================
simplex            n <= d+1    d      -1/(n-1)
cross-polytope     n <= 2d     d      0 (n >= 3), -1 (n = 2)
polygon            n           2      cos(2 pi / n)
icosahedron        12          3      1/sqrt(5)
24-cell            24          4      1/2
600-cell           120         4      cos(36 deg) = (1+sqrt5)/4
E8 roots           240         8      1/2
E7 roots           126         7      1/2
E6 roots           72          6      1/2
Clebsch            16          5      1/5
Schlafli           27          6      1/4
Gosset             56          7      1/3
=================  ==========  =====  ==========================

A code of native dimension d0 can be placed in any dim >= d0 (zero padding, :func:`pad`).
:func:`classic_code` builds one by name (the kinds of :data:`CODES`) with its c as a float and, when
known in closed form, as an exact :class:`~constellations.core.certify.SurdSum`.  The algebraic families
(Hadamard .. Leech), the catalogue's best code and the constructions on top of all of them are in
:mod:`constellations.codes.constructions`.

Sizes are checked before anything is allocated (:func:`check_size`): N x d x (M + 2) float64 numbers
against :func:`constellations.core.configuration.memory_limit`.
"""
from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
from scipy.linalg import helmert, null_space

from constellations.core.certify import SurdSum
from constellations.core.configuration import check_memory
from constellations.core.errors import ConfigurationError

__all__ = [
    "simplex_code", "cross_polytope_code", "polygon_code", "icosahedron_code", "cell24_code",
    "cell600_code", "e8_code", "e7_code", "e6_code", "clebsch_code", "schlafli_code", "gosset_code", "random_code",
    "code_max_inner_product", "CODES", "FIXED_N", "NATIVE_DIM", "classic_code", "check_code_arguments", "exact_c",
    "check_size", "pad", "PHI",
]

PHI = (1 + math.sqrt(5)) / 2


#: float64 working copies alive at the peak of a construction besides the M modalities.
_WORK_COPIES = 2


def check_size(n: int, dim: int, modalities: int, what: str) -> None:
    """Refuse, before allocating, n points in R^dim for M modalities when the float64 estimate
    8 n dim (M + 2) bytes exceeds :func:`constellations.core.configuration.memory_limit` (ConfigurationError
    with the estimate and the limit)."""
    check_memory(8 * int(n) * int(dim) * (int(modalities) + _WORK_COPIES),
                 f"{what} with N={n}, d={dim}, M={modalities}")


def _normalise(P) -> np.ndarray:
    P = np.asarray(P, dtype=np.float64)
    return P / np.linalg.norm(P, axis=1, keepdims=True)


def pad(P: np.ndarray, dim: int, name: str) -> np.ndarray:
    d0 = P.shape[1]
    if dim is None:
        return P
    if dim < d0:
        raise ConfigurationError(f"{name} needs dimension >= {d0}, got {dim}")
    return np.hstack([P, np.zeros((P.shape[0], dim - d0))])


def _check_n(n, lo, hi, name, why):
    if n is None or int(n) != n or not (lo <= n <= hi):
        raise ConfigurationError(f"{name}: need {lo} <= n <= {hi} ({why}), got n={n}")


def simplex_code(n: int, dim: int | None = None) -> np.ndarray:
    """Regular simplex: n unit vectors with <x_i, x_j> = -1/(n-1), in R^dim (dim >= n-1).

    Coordinates are the columns of the Helmert basis of the sum-zero hyperplane of R^n,
    scaled by sqrt(n/(n-1)).
    """
    dim = n - 1 if dim is None else dim
    _check_n(n, 2, dim + 1, "simplex", f"a simplex in R^{dim} has at most {dim + 1} vertices")
    P = helmert(n).T * math.sqrt(n / (n - 1))
    return pad(_normalise(P), dim, "simplex")


def cross_polytope_code(n: int | None = None, dim: int = 2) -> np.ndarray:
    """The first n of +e_1, -e_1, +e_2, -e_2, ... in R^dim (n <= 2 dim; default n = 2 dim)."""
    n = 2 * dim if n is None else n
    _check_n(n, 2, 2 * dim, "cross-polytope", f"R^{dim} has {2 * dim} vectors +-e_i")
    P = np.zeros((n, dim))
    for i in range(n):
        P[i, i // 2] = 1.0 if i % 2 == 0 else -1.0
    return P


def polygon_code(n: int, dim: int = 2) -> np.ndarray:
    """Regular n-gon (cos 2 pi k/n, sin 2 pi k/n) in the first two coordinates of R^dim."""
    _check_n(n, 2, 10 ** 7, "polygon", "n >= 2")
    a = 2 * np.pi * np.arange(n) / n
    return pad(np.column_stack([np.cos(a), np.sin(a)]), dim, "polygon")


def icosahedron_code() -> np.ndarray:
    """12 vertices: cyclic permutations of (0, +-1, +-phi), normalised; c = 1/sqrt(5)."""
    P = []
    for s1, s2 in itertools.product((1, -1), repeat=2):
        v = (0.0, s1, s2 * PHI)
        P += [v, (v[1], v[2], v[0]), (v[2], v[0], v[1])]
    return _normalise(P)


def cell24_code() -> np.ndarray:
    """24-cell: all permutations of (+-1, +-1, 0, 0)/sqrt 2; c = 1/2."""
    P = set()
    for i, j in itertools.combinations(range(4), 2):
        for s, t in itertools.product((1, -1), repeat=2):
            v = [0.0] * 4
            v[i], v[j] = s, t
            P.add(tuple(v))
    return _normalise(sorted(P))


def _even_permutations(n):
    for p in itertools.permutations(range(n)):
        inv = sum(1 for a, b in itertools.combinations(range(n), 2) if p[a] > p[b])
        if inv % 2 == 0:
            yield p


def cell600_code() -> np.ndarray:
    """600-cell: 120 unit quaternions (binary icosahedral group); c = cos 36 deg = phi/2.

    8 of (+-1, 0, 0, 0), 16 of (+-1/2)^4, and 96 even permutations of
    (+-phi, +-1, +-1/phi, 0)/2.
    """
    P = set()
    for i in range(4):
        for s in (1, -1):
            v = [0.0] * 4
            v[i] = s
            P.add(tuple(v))
    for s in itertools.product((0.5, -0.5), repeat=4):
        P.add(s)
    base = (PHI / 2, 0.5, 1 / (2 * PHI), 0.0)
    for signs in itertools.product((1, -1), repeat=3):
        v = [base[0] * signs[0], base[1] * signs[1], base[2] * signs[2], 0.0]
        for p in _even_permutations(4):
            P.add(tuple(v[p[q]] for q in range(4)))
    return _normalise(sorted(P))


def _e8_roots() -> np.ndarray:
    """The 240 roots of E8 (norm sqrt 2) in the even coordinate system."""
    R = []
    for i, j in itertools.combinations(range(8), 2):
        for s, t in itertools.product((1, -1), repeat=2):
            v = [0.0] * 8
            v[i], v[j] = s, t
            R.append(v)
    for s in itertools.product((0.5, -0.5), repeat=8):
        if sum(x < 0 for x in s) % 2 == 0:
            R.append(list(s))
    return np.array(R)


def e8_code() -> np.ndarray:
    """The 240 E8 roots scaled to unit length (kissing configuration in R^8); c = 1/2."""
    return _normalise(_e8_roots())


def clebsch_code() -> np.ndarray:
    """16 points (+-1, ..., +-1)/sqrt 5 in R^5 with an even number of minus signs; c = 1/5."""
    P = [s for s in itertools.product((1.0, -1.0), repeat=5) if sum(x < 0 for x in s) % 2 == 0]
    return _normalise(P)


def _section(roots: np.ndarray, fixed: list[np.ndarray], values: list[float]) -> np.ndarray:
    """Roots v with <v, f> = value for each fixed f, projected onto span(fixed)^perp, normalised."""
    mask = np.ones(len(roots), bool)
    for f, val in zip(fixed, values):
        mask &= np.isclose(roots @ f, val)
    B = null_space(np.array(fixed))  # orthonormal basis of the complement
    return _normalise(roots[mask] @ B)


def gosset_code() -> np.ndarray:
    """56 points in R^7: E8 roots v with <v, r> = 1 for a fixed root r, projected to r^perp; c = 1/3."""
    R = _e8_roots()
    return _section(R, [R[0]], [1.0])


def schlafli_code() -> np.ndarray:
    """27 points in R^6: E8 roots v with <v, r1> = 1 and <v, r2> = 0 for roots r1, r2 with
    <r1, r2> = -1 (an A2 pair), projected to span(r1, r2)^perp; c = 1/4."""
    R = _e8_roots()
    r1 = R[0]
    r2 = R[np.nonzero(np.isclose(R @ r1, -1.0))[0][0]]
    return _section(R, [r1, r2], [1.0, 0.0])


def e7_code() -> np.ndarray:
    """The 126 roots of E7 in R^7: E8 roots orthogonal to a fixed root r, in an orthonormal basis of
    r^perp, unit length (the kissing configuration of the E7 lattice); c = 1/2."""
    R = _e8_roots()
    return _section(R, [R[0]], [0.0])


def e6_code() -> np.ndarray:
    """The 72 roots of E6 in R^6: E8 roots orthogonal to an A2 pair r1, r2 (<r1, r2> = -1), in an
    orthonormal basis of span(r1, r2)^perp, unit length (the E6 kissing configuration); c = 1/2."""
    R = _e8_roots()
    r1 = R[0]
    r2 = R[np.nonzero(np.isclose(R @ r1, -1.0))[0][0]]
    return _section(R, [r1, r2], [0.0, 0.0])


def random_code(n: int, dim: int, seed: int | None = 0) -> np.ndarray:
    """n independent uniform points on S^{dim-1} (normalised Gaussians), reproducible by seed."""
    _check_n(n, 2, 10 ** 9, "random", "n >= 2")
    if dim < 1:
        raise ConfigurationError(f"random: need dimension >= 1, got {dim}")
    check_size(n, dim, 1, "random code")
    G = np.random.default_rng(seed).standard_normal((n, dim))
    return _normalise(G)


def code_max_inner_product(code) -> float:
    """max_{i != j} <x_i, x_j> of a code (float64)."""
    C = np.asarray(code, dtype=np.float64)
    G = C @ C.T
    np.fill_diagonal(G, -np.inf)
    return float(G.max())


#: The classic kinds: name -> (builder(n, dim) -> code, c(n, dim) as a float); random has neither.
CODES = {
    "simplex": (lambda n, dim: simplex_code(n, dim), lambda n, dim: -1.0 / (n - 1)),
    "cross-polytope": (lambda n, dim: cross_polytope_code(n, dim),
                       lambda n, dim: -1.0 if (n or 2 * dim) == 2 else 0.0),
    "polygon": (lambda n, dim: polygon_code(n, dim), lambda n, dim: math.cos(2 * math.pi / n)),
    "icosahedron": (lambda n, dim: pad(icosahedron_code(), dim, "icosahedron"), lambda n, dim: 1 / math.sqrt(5)),
    "24-cell": (lambda n, dim: pad(cell24_code(), dim, "24-cell"), lambda n, dim: 0.5),
    "600-cell": (lambda n, dim: pad(cell600_code(), dim, "600-cell"), lambda n, dim: PHI / 2),
    "e8": (lambda n, dim: pad(e8_code(), dim, "E8"), lambda n, dim: 0.5),
    "clebsch": (lambda n, dim: pad(clebsch_code(), dim, "Clebsch code"), lambda n, dim: 0.2),
    "schlafli": (lambda n, dim: pad(schlafli_code(), dim, "Schlafli code"), lambda n, dim: 0.25),
    "gosset": (lambda n, dim: pad(gosset_code(), dim, "Gosset code"), lambda n, dim: 1 / 3),
    "e7": (lambda n, dim: pad(e7_code(), dim, "E7 roots"), lambda n, dim: 0.5),
    "e6": (lambda n, dim: pad(e6_code(), dim, "E6 roots"), lambda n, dim: 0.5),
    "random": (None, None),
}
FIXED_N = {"icosahedron": 12, "24-cell": 24, "600-cell": 120, "e8": 240, "clebsch": 16, "schlafli": 27,
            "gosset": 56, "e7": 126, "e6": 72}
NATIVE_DIM = {"icosahedron": 3, "24-cell": 4, "600-cell": 4, "e8": 8, "clebsch": 5, "schlafli": 6, "gosset": 7,
              "e7": 7, "e6": 6}

#: Exact c of the fixed codes as sums of square roots (docs/math.md section 4).
_EXACT_C = {"icosahedron": SurdSum({5: Fraction(1, 5)}), "24-cell": SurdSum(Fraction(1, 2)),
            "600-cell": SurdSum({1: Fraction(1, 4), 5: Fraction(1, 4)}), "e8": SurdSum(Fraction(1, 2)),
            "clebsch": SurdSum(Fraction(1, 5)), "schlafli": SurdSum(Fraction(1, 4)),
            "gosset": SurdSum(Fraction(1, 3)), "e7": SurdSum(Fraction(1, 2)), "e6": SurdSum(Fraction(1, 2))}
#: cos(2 pi / n) for the regular polygons where it is rational or one square root.
_POLYGON_C = {2: SurdSum(-1), 3: SurdSum(Fraction(-1, 2)), 4: SurdSum(0),
              5: SurdSum({1: Fraction(-1, 4), 5: Fraction(1, 4)}), 6: SurdSum(Fraction(1, 2)),
              8: SurdSum({2: Fraction(1, 2)}), 10: SurdSum({1: Fraction(1, 4), 5: Fraction(1, 4)}),
              12: SurdSum({3: Fraction(1, 2)})}


def exact_c(kind: str, n: int) -> SurdSum | None:
    """The exact c of a code that is not algebraic (``n`` its number of points), or None (random, most polygons)."""
    if kind in _EXACT_C:
        return _EXACT_C[kind]
    if kind == "simplex":
        return SurdSum(Fraction(-1, n - 1))
    if kind == "cross-polytope":
        return SurdSum(-1 if n == 2 else 0)
    if kind == "polygon":
        return _POLYGON_C.get(n)
    return None


def check_code_arguments(kind: str, dim, n, kinds) -> None:
    """Refuse an unknown ``kind`` (naming the accepted ``kinds``), a dimension that is not an integer >= 1, and
    an n that is not an integer >= 2 or not the fixed size of ``kind``."""
    if kind not in kinds:
        raise ConfigurationError(f"unknown code {kind!r}; choose from {', '.join(kinds)}")
    if dim is None or int(dim) != dim or dim < 1:
        raise ConfigurationError(f"need an integer dimension >= 1, got {dim}")
    if kind in FIXED_N and n is not None and n != FIXED_N[kind]:
        raise ConfigurationError(f"{kind} has exactly {FIXED_N[kind]} points, got n={n}")
    if n is not None and (int(n) != n or n < 2):
        raise ConfigurationError(f"need an integer n >= 2, got n={n}")


def classic_code(kind: str, dim: int, n: int | None = None, seed: int | None = 0):
    """(points (N, dim), c as a float or None, c as an exact SurdSum or None) of a classic code of
    :data:`CODES` in R^dim; c is None for random codes, the exact c also for most polygons."""
    check_code_arguments(kind, dim, n, CODES)
    if kind == "random":
        if n is None:
            raise ConfigurationError("random codes need n")
        return random_code(n, dim, seed), None, None
    if kind in ("simplex", "polygon") and n is None:
        raise ConfigurationError(f"{kind} needs n")
    if kind == "polygon" and dim < 2:
        raise ConfigurationError("polygon needs dimension >= 2")
    build, c = CODES[kind]
    P = build(n, dim)
    return P, c(P.shape[0], dim), exact_c(kind, P.shape[0])

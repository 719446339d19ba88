r"""Named codes and the paper's constellation constructions: :func:`construct` builds any of them.

A code with maximal inner product c makes the tied configuration U = V = code an
(m, b_rel)-constellation with m = (1 - c)/2 and b_rel = (1 + c)/2 (docs/math.md section 2).

The classic codes (simplex, cross-polytope, polygon, icosahedron, 24-cell, 600-cell, E6/E7/E8 roots,
Clebsch, Schlafli, Gosset; their c in :mod:`constellations.codes.polytopes`) and the algebraic families:

=================  ==========  =====  ==========================
code               N           d      c (max inner product)
=================  ==========  =====  ==========================
hadamard           2^(k+1)     2^k    0 (RM(1, k))
kerdock            d0(d0+2)    4^k    1/sqrt(d0) (real MUBs)
gold               2^(2m)      2^m-1  (2^((m+1)/2)-1)/(2^m-1), m odd
kasami             2^(3m/2)    2^m-1  1/(2^(m/2)+1), m even
golay              4096        24     1/3
bw16               4,320       16     1/2
leech              196,560     24     1/2
spiral             n           3      measured (irrational); Fibonacci spiral on S^2
torus              n <= k^j    2j     (j - 1 + cos(2 pi/k))/j; torus grid Z_k^j on S^(2j-1)
best               n           dim    the catalogue's best (constellations.codes.catalogue)
=================  ==========  =====  ==========================

The classic codes (simplex .. Gosset, random) are built in :mod:`constellations.codes.polytopes` and
re-exported here.  A code of native dimension d0 can be placed in any dim >= d0 (zero padding).  The
algebraic codes (hadamard .. leech) take the largest member that fits in dim, and their first n points when n is
given; their c is proved exactly when built (see :mod:`constellations.codes.catalogue`) and stored as a
rational string in ``meta["max_inner_product_exact"]``.

The codes for any N (:mod:`constellations.codes.families`, both need n): ``spiral`` is the n-point
Fibonacci spiral with its best end-cap offset (``meta["offset"]``) in the first three coordinates; its c
is irrational and is reported as measured (:func:`spiral_max_inner_product`: the largest inner product of
two of its float64 rows, exact, rounded to nearest), to be certified from the points
(:func:`constellations.core.certify.certified_margin`).  ``torus`` is the first n points of the torus grid
Z_k^j of :func:`constellations.codes.families.torus_shape` (``meta["j"]``, ``meta["k"]``); its c is the
closed form (j - 1 + cos(2 pi/k))/j (attained by points 0 and 1 for any n >= 2), exact when cos(2 pi/k) is
rational or one surd (k = 3, 4, 5, 6, 8, 10, 12).

Sizes are checked before anything is allocated (:func:`check_size`): N x d x (M + 2) float64 numbers
against :func:`constellations.core.configuration.memory_limit`.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from constellations.codes.catalogue import best_construction, certified_c, code_by_name
from constellations.codes.families import spiral_offset, spiral_points, torus_c, torus_points, torus_shape
from constellations.codes.polytopes import (CODES as CLASSIC_CODES, FIXED_N, NATIVE_DIM, PHI, cell24_code,
                                            cell600_code, check_code_arguments, check_size, classic_code,
                                            clebsch_code, code_max_inner_product, cross_polytope_code, e6_code,
                                            e7_code, e8_code, exact_c, gosset_code, icosahedron_code, pad, polygon_code,
                                            random_code, schlafli_code, simplex_code)
from constellations.core.certify import SurdSum
from constellations.core.configuration import Configuration, tied
from constellations.core.errors import ConfigurationError
from constellations.core.margins import margin_stats

__all__ = [
    "simplex_code", "cross_polytope_code", "polygon_code", "icosahedron_code", "cell24_code",
    "cell600_code", "e8_code", "e7_code", "e6_code", "clebsch_code", "schlafli_code", "gosset_code", "random_code",
    "code_max_inner_product", "CODES", "code", "construct", "lift", "modality_simplex", "adapters",
    "KINDS", "check_size", "min_dim", "code_size", "ALGEBRAIC", "FAMILIES", "PHI", "spiral_max_inner_product",
]


def _exact(x) -> Fraction:
    """A parameter as an exact rational: a float as the decimal it prints as (0.8 -> 4/5, docs/math.md 6.4)."""
    if isinstance(x, (int, Fraction)):
        return Fraction(x)
    return Fraction(repr(float(x)))


#: Algebraic families (largest member fitting in dim; exact c proved when built).
ALGEBRAIC = ("hadamard", "kerdock", "gold", "kasami", "golay", "bw16", "leech")
#: Codes for any n (constellations.codes.families) -> their smallest dimension.
FAMILIES = {"spiral": 3, "torus": 4}
#: Every code kind: the classic ones (name -> (builder, float c)), the families for any n, the algebraic
#: families and "best".
CODES = {**CLASSIC_CODES, **{k: (None, None) for k in (*FAMILIES, *ALGEBRAIC, "best")}}


def _members(kind: str) -> list[tuple[str, int, int]]:
    """(catalogue name, native dim, size) of every member of an algebraic family, smallest first."""
    if kind == "hadamard":
        return [(f"rm1(m={k})", 2 ** k, 2 ** (k + 1)) for k in range(1, 11)]
    if kind == "kerdock":
        return [(f"kerdock(d={4 ** k})", 4 ** k, 4 ** k * (4 ** k + 2)) for k in range(1, 6)]
    if kind == "gold":
        return [(f"gold(m={m})", 2 ** m - 1, 4 ** m) for m in (3, 5, 7, 9, 11)]
    if kind == "kasami":
        return [(f"kasami(m={m})", 2 ** m - 1, 2 ** (3 * m // 2)) for m in (4, 6, 8, 10, 12)]
    return {"golay": [("golay", 24, 4096)], "bw16": [("bw16", 16, 4320)], "leech": [("leech", 24, 196560)]}[kind]


def _member(kind: str, dim: int, n: int | None) -> tuple[str, int, int]:
    """The largest member of ``kind`` that fits in R^dim (it must have at least n points)."""
    fit = [mb for mb in _members(kind) if mb[1] <= dim]
    if not fit:
        d0 = _members(kind)[0][1]
        raise ConfigurationError(f"{kind} needs dimension >= {d0}, got {dim}")
    name, d0, size = fit[-1]
    if n is not None and n > size:
        raise ConfigurationError(f"{kind}: the largest member fitting in R^{dim} is {name} in R^{d0} with {size} "
                                 f"points; got n={n}")
    return fit[-1]


def code_size(kind: str, dim: int, n: int | None = None) -> int:
    """Number of points ``code(kind, dim, n)`` will have, without building it (for memory estimates)."""
    if n is not None:
        return int(n)
    if kind in FIXED_N:
        return FIXED_N[kind]
    if kind == "cross-polytope":
        return 2 * int(dim)
    if kind in ALGEBRAIC:
        return _member(kind, dim, None)[2]
    raise ConfigurationError(f"{kind} needs n")


def min_dim(kind: str, n: int | None = None) -> int:
    """Smallest dimension in which ``code(kind, dim, n)`` exists (n = None: the default size)."""
    if kind == "simplex":
        return max(1, (n or 2) - 1)
    if kind == "cross-polytope":
        return max(1, -(-(n or 2) // 2))
    if kind == "polygon":
        return 2
    if kind in NATIVE_DIM:
        return NATIVE_DIM[kind]
    if kind == "random":
        return 1
    if kind in FAMILIES:
        return FAMILIES[kind]
    if kind == "best":
        return 1 if (n or 2) <= 2 else 2
    if kind in ALGEBRAIC:
        for _, d0, size in _members(kind):
            if n is None or size >= n:
                return d0
        raise ConfigurationError(f"{kind}: no member has {n} points")
    raise ConfigurationError(f"unknown code {kind!r}; choose from {', '.join(CODES)}")


def _algebraic(kind: str, dim: int, n: int | None):
    """(points (N, dim), exact c as a Fraction, extra meta) of an algebraic family or the catalogue's best."""
    if kind == "best":
        if n is None:
            raise ConfigurationError("best needs n")
        e = best_construction(int(n), int(dim))
        if e is None:
            raise ConfigurationError(f"best: no catalogue construction has {n} points in R^{dim}")
        return e.points(), Fraction(e.max_inner_product), {"recipe": e.recipe, "code": e.code,
                                                          "certification": e.certification}
    name, d0, size = _member(kind, dim, n)
    rows = size if n is None else int(n)
    check_size(rows, dim, 1, kind)
    K = code_by_name(name)
    c, how = certified_c(K)
    P = pad(K.rows(0, rows), dim, kind)
    points = f"{size} points" if rows == size else f"the first {rows} of {size} points"
    return P, c, {"code": name, "certification": how, **_placement(kind, name, points, d0, dim)}


def _placement(kind: str, name: str, points: str, d0: int, dim: int) -> dict:
    """Meta of a code of native dimension d0 placed in R^dim: ``native_dim``, and when it is
    zero-padded a ``note`` saying so (for the algebraic families, with the dimensions they exist in)."""
    if dim <= d0:
        return {"native_dim": d0}
    lead = ""
    if kind in ALGEBRAIC:
        dims = ", ".join(f"R^{mb[1]}" for mb in _members(kind))
        lead = f"no {kind} code lives in R^{dim} ({kind} codes: {dims}); built "
    return {"native_dim": d0, "note": f"{lead}{name}: {points} in R^{d0}, zero-padded to R^{dim}"}

#: Every kind accepted by :func:`construct`.
KINDS = tuple(CODES) + ("lift", "modality-simplex", "adapters")


def code(kind: str, dim: int, n: int | None = None, seed: int | None = 0) -> tuple[np.ndarray, float | None]:
    """Build a named code in R^dim; returns (points (N, dim), exact c or None for random codes)."""
    P, c, _ = _code(kind, dim, n, seed)
    return P, c


def _code(kind: str, dim: int, n: int | None, seed: int | None):
    """(points, c as a float or None, c as an exact SurdSum or None) of a named code in R^dim."""
    check_code_arguments(kind, dim, n, CODES)
    if kind in ALGEBRAIC or kind == "best":
        P, c, _ = _algebraic(kind, dim, n)
        return P, float(c), SurdSum(c)
    if kind in FAMILIES:
        return _family(kind, dim, n)[:3]
    return classic_code(kind, dim, n, seed)


def _family(kind: str, dim: int, n: int | None):
    """(points (n, dim), c as a float, c as an exact SurdSum or None, meta) of the spiral or a torus grid.

    spiral: c is measured (:func:`spiral_max_inner_product`), never exact.  torus: the closed form
    c = (j - 1 + cos(2 pi/k))/j (:func:`constellations.codes.families.torus_c`), exact when cos(2 pi/k) is
    (:func:`constellations.codes.polytopes.exact_c` of the k-gon).
    """
    if n is None:
        raise ConfigurationError(f"{kind} needs n")
    n, dim = int(n), int(dim)  # checked whole by check_code_arguments
    if dim < FAMILIES[kind]:
        raise ConfigurationError(f"{kind} needs dimension >= {FAMILIES[kind]}, got {dim}")
    check_size(n, dim, 1, kind)
    if kind == "spiral":
        offset = spiral_offset(n)
        P = spiral_points(n, offset)
        meta = {"offset": offset, "max_inner_product_how": _SPIRAL_C_HOW,
                **_placement(kind, f"spiral(offset={offset})", f"{n} points", 3, dim)}
        return pad(P, dim, kind), spiral_max_inner_product(P), None, meta
    j, k = torus_shape(n, dim)
    cos_k = exact_c("polygon", k)  # cos(2 pi/k) exactly, or None
    c_exact = None if cos_k is None else (cos_k + (j - 1)) / j
    name, points = f"torus(j={j}, k={k})", f"the first {n} of {k ** j} points"
    meta = {"j": j, "k": k, **_placement(kind, name, points, 2 * j, dim)}
    c = torus_c(j, k) if c_exact is None else float(c_exact)  # k = 3, j = 2: 0.25, not 0.2500000000000001
    return pad(torus_points(j, k, 0, n), dim, kind), c, c_exact, meta


_SPIRAL_C_HOW = ("measured: the largest inner product of two of the float64 rows, in exact arithmetic, rounded "
                 "to nearest (c is irrational; the margin is certified from the points)")


def spiral_max_inner_product(P: np.ndarray) -> float:
    r"""c = max_{i != j} <x_i, x_j> of unit rows P (N, d): the exact inner product of the float64 rows, rounded
    to the nearest float; O(N log N) for a code of small d such as the spiral (d = 3).

    For unit vectors |x_i - x_j|^2 = 2 - 2 <x_i, x_j>, so the largest inner product belongs to a pair at
    the smallest distance D.  A k-d tree gives D and every pair within D (1 + 1e-6) + 1e-12: a pair
    farther away has an inner product smaller by at least about D^2 10^-6, far more than the rows'
    deviation from unit norm and the float64 rounding of the tree's distances (~1e-16) can make up
    while D^2 >> 1e-10 (N up to ~10^9 on S^2).  The candidates' float64 products pick those within
    1e-12 of their maximum, whose inner products are then summed exactly (Fractions).
    """
    from scipy.spatial import cKDTree  # heavy: only when a spiral is built

    P = np.asarray(P, dtype=np.float64)
    tree = cKDTree(P)
    dist, _ = tree.query(P, k=2)
    D = float(dist[:, 1].min())
    pairs = tree.query_pairs(D * (1 + 1e-6) + 1e-12, output_type="ndarray")
    dots = np.einsum("ij,ij->i", P[pairs[:, 0]], P[pairs[:, 1]])
    near = pairs[dots >= dots.max() - 1e-12]
    return float(max(sum((Fraction(a) * Fraction(b) for a, b in zip(P[i], P[j])), Fraction(0)) for i, j in near))


def _known(c: float, kind: str, c_exact: SurdSum | None = None, **extra) -> dict:
    """Meta of a code with max inner product c: m = (1 - c)/2, b_rel = (1 + c)/2, exact strings when known."""
    meta = {"kind": kind, "max_inner_product": c, "margin": (1 - c) / 2, "b_rel": (1 + c) / 2}
    if c_exact is not None:
        meta.update(max_inner_product_exact=str(c_exact), margin_exact=str((1 - c_exact) / 2),
                    b_rel_exact=str((1 + c_exact) / 2))
    return {**meta, **extra}


def construct(kind: str, dim: int, n: int | None = None, modalities: int = 2, *, graph=None, seed: int | None = 0,
              base: str = "simplex", delta: float | None = None, phi: float = 0.0) -> Configuration:
    """Build a configuration by name, with its exact margin and b_rel in ``meta``.

    Parameters
    ----------
    kind : str
        A code name from :data:`CODES` (used tied across ``modalities``), or
        ``"lift"`` (Construction 1 of the tied ``base`` code in R^(dim-2), by ``delta``, ``phi``),
        ``"modality-simplex"`` (Construction 2: ``modalities`` = k copies of the ``base`` code in
        R^(dim-k+1) with a simplex suffix, scale ``delta``), or ``"adapters"`` (the locked/trainable
        adapters applied to the tied ``base`` code in R^(dim-1)).
    dim : int
        Ambient dimension d.
    n : int, optional
        Number of points (required for simplex, polygon, random, spiral, torus; fixed for the polytopes).
    modalities : int
        M >= 2.  ``lift`` and ``adapters`` produce M = 2.
    seed : int, optional
        For random codes.

    Returns
    -------
    Configuration
        ``meta`` has ``margin`` and ``b_rel`` (exact closed forms; absent for random codes).
    """
    if modalities is None or modalities < 2:
        raise ConfigurationError(f"need at least 2 modalities, got {modalities}")
    if kind in ALGEBRAIC or kind == "best":
        if dim is None or int(dim) != dim or dim < 1:
            raise ConfigurationError(f"need an integer dimension >= 1, got {dim}")
        rows = n if n is not None or kind == "best" else code_size(kind, dim)
        if rows is not None:
            check_size(rows, dim, modalities, kind)
        P, c, extra = _algebraic(kind, dim, n)
        check_size(len(P), dim, modalities, kind)
        meta = {"kind": kind, "max_inner_product": float(c), "margin": float((1 - c) / 2),
                "b_rel": float((1 + c) / 2), "max_inner_product_exact": str(c), "margin_exact": str((1 - c) / 2),
                "b_rel_exact": str((1 + c) / 2), **extra}
        return tied(P, modalities, graph, meta)
    if kind in FAMILIES:
        return _family_config(kind, dim, n, modalities, graph)
    if kind in CODES:
        if n is not None and dim is not None:
            check_size(n, dim, modalities, kind)
        P, c, c_exact = _code(kind, dim, n, seed)
        if c is None:
            return tied(P, modalities, graph, {"kind": kind, "seed": seed})
        place = _placement(kind, kind, f"{len(P)} points", NATIVE_DIM[kind], dim) if kind in NATIVE_DIM else {}
        return tied(P, modalities, graph, _known(c, kind, c_exact, **place))
    if kind in ("lift", "modality-simplex", "adapters") and base not in CODES:
        raise ConfigurationError(f"unknown base code {base!r}; choose from {', '.join(CODES)}")
    return _construction(kind, dim, n, modalities, seed=seed, base=base, delta=0.9 if delta is None else delta,
                         phi=phi)


def _family_config(kind: str, dim: int, n, modalities: int, graph) -> Configuration:
    """The spiral or a torus grid, tied across ``modalities``: the torus with its closed-form c, m and b_rel
    (exact strings when known), the spiral with its measured c only (``margin`` is left to the certificate)."""
    check_code_arguments(kind, dim, n, CODES)
    if n is not None:
        check_size(n, dim, modalities, kind)
    P, c, c_exact, extra = _family(kind, dim, n)
    if kind == "spiral":
        return tied(P, modalities, graph, {"kind": kind, "max_inner_product": c, **extra})
    return tied(P, modalities, graph, _known(c, kind, c_exact, **extra))


def _construction(kind: str, dim: int, n, modalities: int, *, seed, base: str, delta: float,
                  phi: float) -> Configuration:
    """Constructions 1 and 2 and the adapters, on the ``base`` code (see :func:`construct`)."""
    if kind == "lift":
        if modalities != 2:
            raise ConfigurationError("Construction 1 (lift) produces two modalities")
        if dim < 3:
            raise ConfigurationError("lift needs dim >= 3 (it adds two coordinates)")
        _check_base_dim("lift", base, n, dim, 2, "it adds two coordinates")
        src, exact = _base_pair(base, dim - 2, n, seed)
        return lift(src, delta, phi, exact=exact)
    if kind == "modality-simplex":
        k = modalities
        if dim - k + 1 < 1:
            raise ConfigurationError(f"modality-simplex with k={k} modalities needs dim >= {k}")
        _check_base_dim("modality-simplex", base, n, dim, k - 1,
                        f"it adds k - 1 = {k - 1} coordinates for k={k} modalities")
        P, c, c_exact = _code(base, dim - k + 1, n, seed)
        return modality_simplex(P, k, delta, alpha=c, alpha_exact=c_exact)
    if kind == "adapters":
        if modalities != 2:
            raise ConfigurationError("adapters produce two modalities")
        if dim < 2:
            raise ConfigurationError("adapters need dim >= 2 (they add one coordinate)")
        _check_base_dim("adapters", base, n, dim, 1, "they add one coordinate")
        src, exact = _base_pair(base, dim - 1, n, seed)
        return adapters(src, delta, exact=exact)
    raise ConfigurationError(f"unknown construction {kind!r}; choose from {', '.join(KINDS)}")


def _base_pair(base: str, dim: int, n, seed):
    """The tied two-modality ``base`` code in R^dim and its exact (m, b_rel), or None when c is not exact."""
    P, c, c_exact = _code(base, dim, n, seed)
    # the spiral's c is measured, not a closed form: its margin is computed from the points (not "exact")
    src = tied(P, 2, None, _known(c, base) if c is not None and base != "spiral" else {"kind": base})
    return src, (None if c_exact is None else ((1 - c_exact) / 2, (1 + c_exact) / 2))


def _check_base_dim(kind: str, base: str, n, dim: int, extra: int, why: str) -> None:
    """Say in the user's terms (their dim and n) when the base code cannot fit in dim - extra."""
    need = min_dim(base, n)
    if dim - extra < need:
        with_n = f" with n={n}" if n is not None else ""
        raise ConfigurationError(f"{kind} needs dim >= {need + extra} ({why}, and the base code {base}{with_n} "
                                 f"needs dimension >= {need}); got dim={dim}")


def _source_values(config: Configuration) -> tuple[float, float, bool]:
    """(m, b_rel, exact?) of a configuration: from meta when known exactly, else computed."""
    if "margin" in config.meta and "b_rel" in config.meta:
        return float(config.meta["margin"]), float(config.meta["b_rel"]), True
    s = margin_stats(config)
    return s.margin, s.b_rel, False


def lift(config: Configuration, delta: float, phi: float = 0.0, *, exact=None) -> Configuration:
    r"""Construction 1: lift a two-modality constellation from R^(d-2) to R^d.

    .. math::
        U'_i = (\delta U_i, \varphi, \sqrt{1-\delta^2-\varphi^2}), \quad
        V'_i = (\delta V_i, \varphi, -\sqrt{1-\delta^2-\varphi^2}),

    giving m' = delta^2 m and b'_rel = delta^2 b_rel + phi^2 - (1 - delta^2 - phi^2).
    Requires 0 < delta, 0 <= phi and delta^2 + phi^2 <= 1.

    ``exact`` = (m, b_rel) of ``config`` as exact numbers (:class:`~constellations.core.certify.SurdSum`
    or Fraction), optional: ``meta`` then also holds ``margin_exact`` and ``b_rel_exact``, with
    delta and phi read as the decimals they print as (0.8 is 4/5).
    """
    if config.M != 2:
        raise ConfigurationError("lift (Construction 1) needs a two-modality configuration")
    if not (0 < delta and phi >= 0 and delta ** 2 + phi ** 2 <= 1):
        raise ConfigurationError(f"lift needs delta > 0, phi >= 0, delta^2 + phi^2 <= 1; got delta={delta}, phi={phi}")
    r = math.sqrt(max(0.0, 1 - delta ** 2 - phi ** 2))
    N = config.N
    tail_u = np.column_stack([np.full(N, phi), np.full(N, r)])
    tail_v = np.column_stack([np.full(N, phi), np.full(N, -r)])
    U = np.hstack([delta * config.U, tail_u])
    V = np.hstack([delta * config.V, tail_v])
    m, b, known = _source_values(config)
    meta = {"kind": "lift", "base": config.meta.get("kind"), "delta": delta, "phi": phi,
            "margin": delta ** 2 * m, "b_rel": delta ** 2 * b + phi ** 2 - r ** 2, "exact": known}
    if exact is not None:
        d2, p2 = _exact(delta) ** 2, _exact(phi) ** 2
        meta.update(margin_exact=str(d2 * exact[0]), b_rel_exact=str(d2 * exact[1] + p2 - (1 - d2 - p2)))
    return Configuration.from_array([U, V], None, meta, normalize=True)


def modality_simplex(code_points, k: int, delta: float, alpha: float | None = None, graph=None, *,
                     alpha_exact=None) -> Configuration:
    r"""Construction 2: k modalities from one code and the vertices of a regular simplex.

    With a code {X_i} in R^(d-k+1) of max inner product alpha and unit w_1..w_k,
    <w_j, w_l> = -1/(k-1):  X[j, i] = (delta X_i, sqrt(1 - delta^2) w_j)  in R^d.

    Pairwise margin delta^2 (1 - alpha)/2 and b_rel = delta^2 (1 + alpha)/2 - (1 - delta^2)/(k - 1).
    ``alpha`` defaults to the code's computed max inner product.  With ``alpha_exact`` (alpha as an
    exact :class:`~constellations.core.certify.SurdSum` or Fraction) ``meta`` also holds ``margin_exact`` and
    ``b_rel_exact``, delta read as the decimal it prints as.
    """
    P = np.asarray(code_points, dtype=np.float64)
    if k < 2:
        raise ConfigurationError(f"modality-simplex needs k >= 2 modalities, got {k}")
    if not (0 < delta <= 1):
        raise ConfigurationError(f"modality-simplex needs 0 < delta <= 1, got {delta}")
    W = simplex_code(k, k - 1)
    s = math.sqrt(max(0.0, 1 - delta ** 2))
    X = np.stack([np.hstack([delta * P, np.tile(s * W[j], (P.shape[0], 1))]) for j in range(k)])
    a = code_max_inner_product(P) if alpha is None else alpha
    meta = {"kind": "modality-simplex", "k": k, "delta": delta, "alpha": a,
            "margin": delta ** 2 * (1 - a) / 2, "b_rel": delta ** 2 * (1 + a) / 2 - (1 - delta ** 2) / (k - 1)}
    if alpha_exact is not None:
        d2 = _exact(delta) ** 2
        meta.update(margin_exact=str(d2 * (1 - alpha_exact) / 2),
                    b_rel_exact=str(d2 * (1 + alpha_exact) / 2 - (1 - d2) / (k - 1)))
    return Configuration.from_array(X, graph, meta, normalize=True)


def adapters(config: Configuration, delta: float, *, exact=None) -> Configuration:
    r"""Locked/trainable adapters: A_l(u) = (delta u, sqrt(1-delta^2)), A_t(v) = (delta v, -sqrt(1-delta^2)).

    <A_l(u), A_t(v)> = delta^2 <u, v> - (1 - delta^2), so an (m, b_rel)-constellation becomes a
    (delta^2 m, delta^2 b_rel - (1 - delta^2))-constellation in one more dimension.  ``exact`` as in
    :func:`lift`.
    """
    if config.M != 2:
        raise ConfigurationError("adapters need a two-modality configuration")
    if not (0 < delta < 1):
        raise ConfigurationError(f"adapters need 0 < delta < 1, got {delta}")
    s = math.sqrt(1 - delta ** 2)
    N = config.N
    U = np.hstack([delta * config.U, np.full((N, 1), s)])
    V = np.hstack([delta * config.V, np.full((N, 1), -s)])
    m, b, known = _source_values(config)
    meta = {"kind": "adapters", "delta": delta, "margin": delta ** 2 * m, "b_rel": delta ** 2 * b - (1 - delta ** 2),
            "exact": known}
    if exact is not None:
        d2 = _exact(delta) ** 2
        meta.update(margin_exact=str(d2 * exact[0]), b_rel_exact=str(d2 * exact[1] - (1 - d2)))
    return Configuration.from_array([U, V], None, meta, normalize=True)

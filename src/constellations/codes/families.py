r"""Codes for any N: the Fibonacci spiral on S^2 and torus grids on S^{2j-1}.

The fixed codes (polytopes, lattice shells, binary codes) exist only for special sizes; these two
families give a code for every N, so that a large N in a low dimension gets a margin of order 1/N
(S^2) or N^{-1/j} (R^{2j}) instead of a polygon's 1/N^2 (docs/math.md section 4).

**Fibonacci spiral** (N points on S^2).  With the golden angle g = pi (3 - sqrt 5) and an end-cap
offset e >= 0,

    z_i = 1 - 2 (i + e) / (N - 1 + 2 e),   phi_i = i g,   x_i = (sqrt(1 - z_i^2) cos phi_i, sqrt(1 - z_i^2) sin phi_i, z_i),

i = 0 .. N - 1.  The interior points form a near-hexagonal lattice of spacing ~ sqrt(8 pi / (sqrt(3) N));
the offset only moves the crowded caps.  :func:`spiral_code` tries each offset of
:data:`SPIRAL_OFFSETS` and keeps the one with the largest minimal distance (measured with a k-d tree;
the catalogue then certifies c with the float64 rounding bound of
:func:`constellations.core.certify.certified_margin`).  Measured: m N = 2.39 (e = 0.5) to 2.79
(e = 11) for N = 100 .. 20,000; m = (1 - c)/2 = D_min^2 / 4.

**Torus grid** (k^j points on S^{2j-1}).  For a in Z_k^j,

    x_a = (cos t_1, sin t_1, ..., cos t_j, sin t_j) / sqrt(j),   t_r = 2 pi a_r / k,

so <x_a, x_b> = (1/j) sum_r cos(2 pi (a_r - b_r)/k).  Distinct a, b differ in at least one r, where
the cosine is at most cos(2 pi / k); every other term is at most 1.  Hence exactly

    c = (j - 1 + cos(2 pi / k)) / j,    m = (1 - cos(2 pi / k)) / (2 j)

(attained by neighbours).  Any N <= k^j of the points keep c.  :func:`torus_shape` picks, for N points
in R^d, the j <= d/2 (j >= 2; j = 1 is the polygon) and the smallest k >= 3 with k^j >= N that give
the smallest c.
"""
from __future__ import annotations

import math

import numpy as np

from constellations.codes.polytopes import pad
from constellations.core.errors import ConfigurationError

__all__ = ["SPIRAL_OFFSETS", "spiral_points", "spiral_code", "spiral_offset", "torus_shape", "torus_c",
           "torus_points", "torus_code", "MAX_TORUS_POINTS", "min_distance"]

#: End-cap offsets e the spiral tries (the best one is kept).
SPIRAL_OFFSETS = (0.5, 1.5, 3.5, 7.0, 11.0)

#: The largest torus grid k^j that is offered (its points are generated on demand, never all at once
#: unless asked).
MAX_TORUS_POINTS = 10 ** 9

_GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))


def _check_n(n: int, lo: int, what: str) -> int:
    if isinstance(n, bool) or int(n) != n or n < lo:
        raise ConfigurationError(f"{what}: need an integer n >= {lo}, got {n!r}")
    return int(n)


def spiral_points(n: int, offset: float) -> np.ndarray:
    """The n-point Fibonacci spiral with end-cap offset ``offset`` (module docstring), (n, 3) float64, unit rows."""
    n = _check_n(n, 2, "spiral")
    i = np.arange(n, dtype=np.float64)
    z = 1.0 - 2.0 * (i + offset) / (n - 1 + 2.0 * offset)
    r = np.sqrt(np.maximum(0.0, 1.0 - z * z))
    phi = i * _GOLDEN_ANGLE
    P = np.column_stack([r * np.cos(phi), r * np.sin(phi), z])
    return P / np.linalg.norm(P, axis=1, keepdims=True)


def min_distance(P: np.ndarray) -> float:
    """The smallest distance between two rows of P (float64 k-d tree; an estimate, not a certificate)."""
    from scipy.spatial import cKDTree  # heavy: only when a spiral is built

    d, _ = cKDTree(P).query(P, k=2)
    return float(d[:, 1].min())


def spiral_offset(n: int) -> float:
    """The offset of :data:`SPIRAL_OFFSETS` whose n-point spiral has the largest minimal distance
    (float64 k-d tree; the first one on ties)."""
    n = _check_n(n, 2, "spiral")
    if n < 4:
        return SPIRAL_OFFSETS[0]
    return max(SPIRAL_OFFSETS, key=lambda e: (min_distance(spiral_points(n, e)), -e))


def spiral_code(n: int, dim: int = 3) -> np.ndarray:
    """The best n-point Fibonacci spiral (:func:`spiral_offset`) in the first three coordinates of R^dim."""
    if dim < 3:
        raise ConfigurationError(f"spiral: needs dimension >= 3, got {dim}")
    return pad(spiral_points(n, spiral_offset(n)), dim, "spiral")


def _grid_side(n: int, j: int) -> int:
    """The smallest k >= 3 with k^j >= n (integer arithmetic)."""
    k = max(3, int(round(n ** (1.0 / j))) - 1)
    while k ** j < n:
        k += 1
    return k


def torus_c(j: int, k: int) -> float:
    """c = (j - 1 + cos(2 pi/k))/j of the torus grid (module docstring), float64."""
    return (j - 1 + math.cos(2 * math.pi / k)) / j


def torus_shape(n: int, dim: int) -> tuple[int, int] | None:
    """(j, k) of the torus grid with the smallest c holding n points in R^dim (2 <= j <= dim/2,
    k >= 3, k^j >= n); None when dim < 4.  Ties go to the smaller j."""
    n = _check_n(n, 2, "torus")
    best = None
    for j in range(2, dim // 2 + 1):
        k = _grid_side(n, j)
        if k ** j > MAX_TORUS_POINTS and j > 2:
            continue
        if best is None or torus_c(j, k) < torus_c(*best) - 1e-15:
            best = (j, k)
        if k == 3:  # k cannot fall further, and at a fixed k, c = 1 - (1 - cos(2 pi/k))/j grows with j
            break
    return best


def torus_points(j: int, k: int, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Points ``start`` .. ``stop - 1`` of the torus grid Z_k^j (lexicographic order), (stop - start, 2j) float64."""
    total = k ** j
    stop = total if stop is None else min(int(stop), total)
    if not 0 <= start <= stop:
        raise ConfigurationError(f"torus: need 0 <= start <= stop <= {total}, got {start}, {stop}")
    idx = np.unravel_index(np.arange(start, stop, dtype=np.int64), (k,) * j)
    t = 2 * np.pi * np.column_stack(idx).astype(np.float64) / k
    P = np.empty((stop - start, 2 * j))
    P[:, 0::2], P[:, 1::2] = np.cos(t), np.sin(t)
    return P / np.sqrt(j)


def torus_code(n: int, dim: int) -> np.ndarray:
    """The first n points of the best torus grid for n points in R^dim (:func:`torus_shape`), padded."""
    shape = torus_shape(n, dim)
    if shape is None:
        raise ConfigurationError(f"torus: needs dimension >= 4, got {dim}")
    return pad(torus_points(*shape, 0, n), dim, "torus")

r"""The three-point SDP bound of Bachoc and Vallentin on A(n, s) -- NUMERICAL (issue 13, item 4).

Bachoc, Vallentin, "New upper bounds for kissing numbers from semidefinite programming",
J. AMS 21 (2008).  With G_k^{(m)} the Gegenbauer polynomial of S^{m-1} normalised by G(1) = 1,
a degree D and, for k = 0..D, the (D-k+1) x (D-k+1) matrices

.. math:: Y_k(u, v, t)_{ij} = u^i v^j ((1-u^2)(1-v^2))^{k/2}
          G_k^{(n-1)}\Big(\frac{t - uv}{\sqrt{(1-u^2)(1-v^2)}}\Big),
          \qquad S_k = \frac16 \sum_{\sigma \in S_3} Y_k \circ \sigma,

every code C on S^{n-1} with inner products in [-1, s] satisfies |C| <= the value of

    minimise   1 + sum_{k=1}^{2D} a_k + b_11 + <F_0, S_0(1, 1, 1)>
    subject to a_k >= 0,  F_k PSD,  b = [[b_11, b_12], [b_12, b_22]] PSD,
               sum_k a_k G_k^{(n)}(u) + 2 b_12 + b_22 + 3 sum_k <F_k, S_k(u, u, 1)> <= -1   (u in [-1, s]),
               b_22 + sum_k <F_k, S_k(u, v, t)> <= 0   ((u, v, t) in Delta),

Delta = {u, v, t in [-1, s] : 1 + 2uvt - u^2 - v^2 - t^2 >= 0} (the Gram condition of three
points).  With F = 0 and b = 0 this is the Delsarte LP; the F_k add the positivity of the
three-point kernels of the stabiliser of a point.  Y_k is evaluated as the polynomial
sum_j c_j (t - uv)^j ((1-u^2)(1-v^2))^{(k-j)/2} (c_j the monomial coefficients of G_k, k - j even),
which is also right at u = +-1.

**Numerical only.**  The two polynomial constraints are imposed on finite samples (a grid of
[-1, s] and of Delta) and the SDP is solved in floating point by cvxpy (Clarabel, then SCS), so
the value can lie slightly below the true SDP optimum and is NOT a certified bound; it is
labelled ``certified: False``.  The published values are 12.42 (n = 3) and 24.56 (n = 4) at
s = 1/2, against the kissing numbers 12 and 24 and the Delsarte LP's 13.16 and 25.56.  Measured
here with the defaults (D = 6, 200 + 1360 samples, Clarabel, one shared core, ~10 s each):
12.558 (n = 3, status optimal_inaccurate) and 24.813 (n = 4); D = 4 gives 13.171 for n = 3.
"""
from __future__ import annotations


import numpy as np

from constellations.core.errors import ConfigurationError

from constellations.core.conic import SOLVED, solve_with_fallback
from constellations.bounds.bound import Bound
from constellations.bounds.polynomials import gegenbauer_monomials

__all__ = ["three_point_bound"]

_PERMS = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))


def _Y(k: int, D: int, coeffs, u, v, t) -> np.ndarray:
    """Y_k at arrays u, v, t (shape (P,)): array (P, D-k+1, D-k+1)."""
    w2 = np.clip((1 - u * u) * (1 - v * v), 0.0, None)
    x = t - u * v
    g = np.zeros_like(u)
    for j, c in enumerate(coeffs):
        if c != 0 and (k - j) % 2 == 0:
            g = g + float(c) * x ** j * w2 ** ((k - j) // 2)
    m = D - k + 1
    up = u[:, None] ** np.arange(m)[None, :]
    vp = v[:, None] ** np.arange(m)[None, :]
    return up[:, :, None] * vp[:, None, :] * g[:, None, None]


def _S(k: int, D: int, coeffs, pts: np.ndarray) -> np.ndarray:
    """S_k at the rows (u, v, t) of ``pts``, flattened: (P, (D-k+1)^2)."""
    out = 0
    for p in _PERMS:
        out = out + _Y(k, D, coeffs, pts[:, p[0]], pts[:, p[1]], pts[:, p[2]])
    out = out / 6.0
    return out.reshape(len(pts), -1)


def _delta_samples(s: float, m: int) -> np.ndarray:
    """Grid points of Delta (Chebyshev-like spacing of [-1, s], denser near the ends)."""
    g = (s - 1) / 2 + (s + 1) / 2 * np.cos(np.linspace(np.pi, 0.0, m))
    U, V, T = np.meshgrid(g, g, g, indexing="ij")
    U, V, T = U.ravel(), V.ravel(), T.ravel()
    keep = (1 + 2 * U * V * T - U * U - V * V - T * T >= -1e-12) & (U <= V) & (V <= T)  # S_k is symmetric
    return np.column_stack([U[keep], V[keep], T[keep]])


def three_point_bound(n: int, s, degree: int = 6, grid: int = 200, delta_grid: int = 24,
                      solver: str | None = None) -> Bound:
    """Numerical Bachoc-Vallentin bound on A(n, s) (see the module docstring).

    Parameters
    ----------
    n : int, 3 <= n <= 24
    s : float in [-1, 1)
    degree : int, 1 <= D <= 12
        The matrices F_k are (D-k+1) x (D-k+1); the a_k run to 2D.
    grid, delta_grid : int
        Samples of [-1, s] and per axis of Delta (about delta_grid^3/6 points).

    Returns
    -------
    Bound
        ``value`` the SDP optimum (float, not floored, not certified), ``details["certified"]``
        False, the solver and its status.
    """
    if isinstance(n, bool) or int(n) != n or not 3 <= int(n) <= 24:
        raise ConfigurationError(f"the three-point SDP is set up for 3 <= n <= 24, got n={n}")
    n = int(n)
    s = float(s)
    if not (-1 <= s < 1):
        raise ConfigurationError(f"max inner product s must lie in [-1, 1), got {s}")
    if int(degree) != degree or not 1 <= degree <= 12:
        raise ConfigurationError(f"degree must be an integer in 1..12, got {degree}")
    if not (10 <= grid <= 5000 and 5 <= delta_grid <= 80):
        raise ConfigurationError("grid must be in 10..5000 and delta_grid in 5..80")
    import cvxpy as cp
    D = int(degree)
    Gn = gegenbauer_monomials(n, 2 * D)          # G_k^{(n)}, k = 0..2D
    Gm = gegenbauer_monomials(n - 1, D)          # G_k^{(n-1)}, k = 0..D
    F = [cp.Variable((D - k + 1, D - k + 1), PSD=True) for k in range(D + 1)]
    a = cp.Variable(2 * D, nonneg=True)
    b = cp.Variable((2, 2), PSD=True)

    def inner(k, S):  # sum over entries of F_k * S (S rows flattened row-major; S_k symmetric)
        return S @ cp.reshape(F[k], ((D - k + 1) ** 2,), order="C")

    # constraint (b) on a grid of [-1, s]
    uu = (s - 1) / 2 + (s + 1) / 2 * np.cos(np.linspace(np.pi, 0.0, grid))
    P = np.stack([np.polynomial.polynomial.polyval(uu, [float(c) for c in Gn[k]]) for k in range(1, 2 * D + 1)],
                 axis=1)
    pts_b = np.column_stack([uu, uu, np.ones_like(uu)])
    lhs_b = P @ a + 2 * b[0, 1] + b[1, 1] + 3 * sum(inner(k, _S(k, D, Gm[k], pts_b)) for k in range(D + 1))
    # constraint (c) on Delta
    pts_c = _delta_samples(s, delta_grid)
    lhs_c = b[1, 1] + sum(inner(k, _S(k, D, Gm[k], pts_c)) for k in range(D + 1))
    one = _S(0, D, Gm[0], np.array([[1.0, 1.0, 1.0]]))
    objective = 1 + cp.sum(a) + b[0, 0] + (one @ cp.reshape(F[0], ((D + 1) ** 2,), order="C"))[0]
    prob = cp.Problem(cp.Minimize(objective), [lhs_b <= -1, lhs_c <= 0])
    sname, last = solve_with_fallback(prob, solver)
    if prob.status not in SOLVED:
        raise ConfigurationError(f"three-point SDP not solved (status {prob.status}; {last})")
    value = float(prob.value)
    return Bound(value, "three-point-sdp", None,
                 {"certified": False, "numerical": True, "n": n, "s": s, "degree": D, "status": prob.status,
                  "solver": sname, "samples": [len(uu), len(pts_c)],
                  "note": "numerical SDP on sampled constraints (Bachoc-Vallentin 2008); not a certified bound"})

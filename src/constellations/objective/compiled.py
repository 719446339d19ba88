r"""Riemannian L-BFGS stages compiled end to end with Numba: objective, two-loop recursion, line
search and vector transport in one compiled loop.

Small and medium problems (one evaluation of at most :data:`MAX_WORK` multiply-adds) spend most of
a Python L-BFGS iteration in the interpreter, not in the kernel: about 200 Python calls per
iteration against an evaluation of tens of microseconds (N = 75, d = 3).  Here a whole run of
iterations is one compiled call, so a restart costs what its arithmetic costs.

The algorithm is :func:`search.optimizer.rlbfgs` step for step (its docstring; that
function with :func:`objective.reference.value_and_grad` is the reference the tests compare
against): minimise :math:`f = -F_\beta` on the product of unit spheres, memory 12, the initial
scaling :math:`\langle s, y\rangle / \langle y, y\rangle` of the newest pair, Armijo backtracking
from t = 1 (constant 1e-4, at most 40 halvings), retraction by row normalisation, transport by
projection, a pair stored only if :math:`\langle s, y\rangle > 10^{-16} \langle y, y\rangle`, stop on
:math:`\max|g| \le` gtol, on a failed line search or on a relative gain :math:`\le` ftol.

:math:`F_\beta` is the smoothed margin of :mod:`objective.reference` (tied: :math:`\tfrac12(1 -
Q_\beta)` over the pairs i < j, each counted twice as in the reference's i != j sum; free:
:math:`\tfrac12(P_\beta - Q_\beta)` over the graph's edges), shifted by the exact maximum and with
terms below :math:`e^{-60}` skipped, as in :mod:`objective.numba_kernels`.  The loop is serial: a
search runs its restarts in parallel processes (``n_jobs``), not threads.

Pair lists (codes of at least :data:`PAIR_MIN_N` points).  At sharp beta almost every pair of a
code is skipped: only pairs within 60/beta of the largest cosine q contribute.  A stage therefore
evaluates a Verlet list, built at X0: the pairs i < j (in lex order) with

.. math::

    c_{ij}(X_0) \ge q_0 - 60/\beta - \sigma, \qquad \sigma = \text{PAIR\_SKIN}\,(1 - q_0)
    \ \text{(the skin, in cosine)}.

While every row is within :math:`D \le \sigma/4` of X0, a pair left out has
:math:`c_{ij}(X) - q(X) \le c_{ij}(X_0) + 2D - (q_0 - 2D) < -60/\beta` (unit rows:
:math:`|\Delta c_{ij}| \le |\Delta x_i| + |\Delta x_j|`), so the full sum skips it too, and the list
gives the same value and gradient, summed in the same order, bit for bit.  An evaluation that
finds a row further out falls back to all pairs and flags the list, which the Python side rebuilds
before the next chunk.  At N = 95, d = 3 a list holds about 6% of the pairs
(``benchmarks/bench_compiled_stages.py``).

Deadlines and Ctrl-C: the compiled loop runs at most ``chunk`` iterations per call, sized to about
:data:`CHUNK_WORK` multiply-adds (a few hundredths of a second); between calls the Python side
asks the deadline (:meth:`constellations.core.deadline.Deadline.expired`) and updates ``holder["X"]``.
The state (iterate, gradient, stored pairs) lives in arrays between calls, so chunking changes nothing
in the iterates.

The functions below are plain Python; Numba is imported and they are compiled on first use
(:func:`core.jit.njit`, through :func:`_compiled`), so that importing this module costs nothing.
"""
from __future__ import annotations

from functools import cache

import numpy as np

from constellations.core.deadline import Deadline
from constellations.core.jit import njit
from constellations.objective.reference import default_edges

__all__ = ["MAX_WORK", "CHUNK_WORK", "fits", "value_and_grad", "rlbfgs_stage"]

#: Largest evaluation (multiply-adds over all pairs) that runs compiled; above it the parallel,
#: stop-checked Numba kernel under the Python L-BFGS is the better tool.
MAX_WORK = 20_000_000

#: Multiply-adds per compiled call (line-search evaluations included, about 3 per iteration).
CHUNK_WORK = 30_000_000

_CUTOFF = -60.0
_MEMORY = 12

#: Pair lists of codes (module docstring): codes of at least PAIR_MIN_N points, skin PAIR_SKIN (1 - q)
#: in cosine, a list only when it holds at most PAIR_MAX_SHARE of the pairs.
PAIR_MIN_N = 24
PAIR_SKIN = 0.5
PAIR_MAX_SHARE = 0.5
_PAIR_EPS = 1e-9


def _work(n: int, dim: int, n_edges: int, tied: bool) -> float:
    """Multiply-adds of one pass over the pairs: N (N - 1)/2 d tied, |E| N^2 d free."""
    return n * (n - 1) / 2 * dim if tied else n_edges * n * n * dim


def fits(shape, n_edges: int = 1) -> bool:
    """Does a problem of this shape ((N, d) tied or (M, N, d) free) run compiled?"""
    tied = len(shape) == 2
    n, d = shape[-2], shape[-1]
    return _work(n, d, n_edges, tied) <= MAX_WORK


# --------------------------------------------------------------------------- objective

def _dot(X, i, Y, j):
    s = 0.0
    for t in range(X.shape[1]):
        s += X[i, t] * Y[j, t]
    return s


def _tangent_rows(X, G):
    for i in range(X.shape[0]):
        a = _dot(G, i, X, i)
        for t in range(X.shape[1]):
            G[i, t] -= a * X[i, t]


def _code_fg(X, beta, G):
    """Tied F_beta(X) (N, d) and its Riemannian gradient into G."""
    N, d = X.shape
    q = -np.inf
    for i in range(N):
        for j in range(i + 1, N):
            s = _dot(X, i, X, j)
            if s > q:
                q = s
    G[:, :] = 0.0
    Z = 0.0
    for i in range(N):
        for j in range(i + 1, N):
            a = beta * (_dot(X, i, X, j) - q)
            if a >= _CUTOFF:
                Z += _add_pair(X, i, j, np.exp(a), G)
    return _code_value(X, G, Z, q, beta)


def _add_pair(X, i, j, w, G):
    """Add w times the other row to rows i and j of G; returns 2 w (both orders of the pair)."""
    for t in range(X.shape[1]):
        G[i, t] += w * X[j, t]
        G[j, t] += w * X[i, t]
    return 2.0 * w


def _code_value(X, G, Z, q, beta):
    """F_beta = (1 - Q)/2 with Q = q + log(Z)/beta; G (the weighted sums) becomes the gradient."""
    Q = q + np.log(Z) / beta
    for i in range(X.shape[0]):
        for t in range(X.shape[1]):
            G[i, t] = -G[i, t] / Z
    _tangent_rows(X, G)
    return 0.5 * (1.0 - Q)


def _code_fg_pairs(X, beta, P, X0, skin, G, stale):
    """Tied F_beta over the pair list P (lex order) built at X0 with ``skin``: the same value and
    gradient as :func:`_code_fg` while every row is within skin/4 of X0 (module docstring, "pair
    lists"); otherwise it evaluates all pairs and sets ``stale[0]``."""
    N, d = X.shape
    D = 0.0
    for i in range(N):
        s = 0.0
        for t in range(d):
            v = X[i, t] - X0[i, t]
            s += v * v
        if s > D:
            D = s
    if 4.0 * np.sqrt(D) > skin:
        stale[0] = 1
        return _code_fg(X, beta, G)
    q = -np.inf
    for e in range(P.shape[0]):
        s = _dot(X, P[e, 0], X, P[e, 1])
        if s > q:
            q = s
    G[:, :] = 0.0
    Z = 0.0
    for e in range(P.shape[0]):
        i, j = P[e, 0], P[e, 1]
        a = beta * (_dot(X, i, X, j) - q)
        if a >= _CUTOFF:
            Z += _add_pair(X, i, j, np.exp(a), G)
    return _code_value(X, G, Z, q, beta)


def _free_fg(X, n, edges, beta, G, W):
    """Free F_beta of rows X (M N, d) (modality k is rows k N .. k N + N - 1), gradient into G;
    W is scratch of X's shape."""
    d = X.shape[1]
    p = np.inf
    for e in range(edges.shape[0]):
        k0, l0 = edges[e, 0] * n, edges[e, 1] * n
        for i in range(n):
            c = _dot(X, k0 + i, X, l0 + i)
            if c < p:
                p = c
    G[:, :] = 0.0
    Zp = 0.0
    for e in range(edges.shape[0]):
        k0, l0 = edges[e, 0] * n, edges[e, 1] * n
        for i in range(n):
            w = np.exp(-beta * (_dot(X, k0 + i, X, l0 + i) - p))
            Zp += w
            for t in range(d):
                G[k0 + i, t] += w * X[l0 + i, t]
                G[l0 + i, t] += w * X[k0 + i, t]
    P = p - np.log(Zp) / beta
    # non-matched part: one BLAS product per edge, then the exponentials and two more products
    E = edges.shape[0]
    Ss = np.empty((E, n, n))
    q = -np.inf
    for e in range(E):
        k0, l0 = edges[e, 0] * n, edges[e, 1] * n
        Ss[e] = np.dot(X[k0:k0 + n], X[l0:l0 + n].T)
        for i in range(n):
            Ss[e, i, i] = -np.inf
            for j in range(n):
                if Ss[e, i, j] > q:
                    q = Ss[e, i, j]
    W[:, :] = 0.0
    Zq = 0.0
    for e in range(E):
        k0, l0 = edges[e, 0] * n, edges[e, 1] * n
        Wt = Ss[e]  # overwritten by the weights
        for i in range(n):
            for j in range(n):
                a = beta * (Wt[i, j] - q)
                w = np.exp(a) if a >= _CUTOFF else 0.0
                Wt[i, j] = w
                Zq += w
        W[k0:k0 + n] += np.dot(Wt, X[l0:l0 + n])
        W[l0:l0 + n] += np.dot(Wt.T, X[k0:k0 + n])
    Q = q + np.log(Zq) / beta
    for r in range(X.shape[0]):
        for t in range(d):
            G[r, t] = 0.5 * (G[r, t] / Zp - W[r, t] / Zq)
    _tangent_rows(X, G)
    return 0.5 * (P - Q)


def _fg(X, beta, n, edges, tied, G, W, P, X0, skin, stale):
    if tied:
        if skin > 0.0:
            return _code_fg_pairs(X, beta, P, X0, skin, G, stale)
        return _code_fg(X, beta, G)
    return _free_fg(X, n, edges, beta, G, W)


_NO_PAIRS = np.zeros((0, 2), dtype=np.int64)


def _edges_array(edges) -> np.ndarray:
    if edges is None:
        return _NO_PAIRS  # an empty (0, 2) index array serves for no edges as for no pairs
    return np.asarray([tuple(e) for e in edges], dtype=np.int64).reshape(-1, 2)


#: The functions of this module that run compiled (calling each other compiled).
_JITTED = ("_dot", "_tangent_rows", "_code_fg", "_add_pair", "_code_value", "_code_fg_pairs", "_free_fg", "_fg",
           "_vdot", "_absmax", "_axpy", "_scaled", "_axpby", "_drop_oldest", "_transport", "_retract", "_run")


@cache
def _compiled():
    """The compiled versions of the functions of :data:`_JITTED`, made on first use (once per process)."""
    return njit(globals(), {name: (name, {"cache": True}) for name in _JITTED})


def value_and_grad(X, beta: float, edges=None):
    """F_beta and its Riemannian gradient, compiled (the same values as
    :func:`objective.reference.value_and_grad`, summed in another order)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    tied = X.ndim == 2
    if not tied and edges is None:
        edges = default_edges(X.shape[0])
    R = X.reshape(-1, X.shape[-1])
    G = np.empty_like(R)
    F = _compiled()._fg(R, float(beta), X.shape[-2], _edges_array(edges), tied, G, np.empty_like(R), _NO_PAIRS, R,
                        -1.0, np.zeros(1, dtype=np.int64))
    return float(F), G.reshape(X.shape)


# --------------------------------------------------------------------------- L-BFGS

# The vector operations of the L-BFGS loop run on flat views of the (rows, d) arrays: with d = 3 a
# loop over rows and then 3 coordinates costs four times as much as one flat loop.

def _vdot(A, B):
    a = A.reshape(A.size)
    b = B.reshape(B.size)
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


def _absmax(A):
    a = A.reshape(A.size)
    m = 0.0
    for i in range(a.shape[0]):
        v = abs(a[i])
        if v > m:
            m = v
    return m


def _axpy(Y, a, X):
    """Y += a X, in place (no temporary)."""
    y = Y.reshape(Y.size)
    x = X.reshape(X.size)
    for i in range(y.shape[0]):
        y[i] += a * x[i]


def _scaled(Y, a, X):
    """Y = a X, in place."""
    y = Y.reshape(Y.size)
    x = X.reshape(X.size)
    for i in range(y.shape[0]):
        y[i] = a * x[i]


def _axpby(Y, a, X, b):
    """Y = a X + b Y, in place."""
    y = Y.reshape(Y.size)
    x = X.reshape(X.size)
    for i in range(y.shape[0]):
        y[i] = a * x[i] + b * y[i]


def _drop_oldest(S, Y, R):
    """Shift the stored pairs down by one (S[0], the oldest, is overwritten), on flat views."""
    m = S.shape[0]
    Sf = S.reshape(m, S.size // m)
    Yf = Y.reshape(m, Y.size // m)
    for a in range(m - 1):
        for i in range(Sf.shape[1]):
            Sf[a, i] = Sf[a + 1, i]
            Yf[a, i] = Yf[a + 1, i]
        R[a] = R[a + 1]


def _transport(X, S, Y, k):
    """Project the k stored pairs S[a], Y[a] onto the tangent space at X, row by row, in place
    (:func:`_tangent_rows` on each, with 3-d indexing instead of views)."""
    d = X.shape[1]
    for a in range(k):
        for i in range(X.shape[0]):
            u = 0.0
            v = 0.0
            for t in range(d):
                u += S[a, i, t] * X[i, t]
                v += Y[a, i, t] * X[i, t]
            for t in range(d):
                S[a, i, t] -= u * X[i, t]
                Y[a, i, t] -= v * X[i, t]


def _retract(X, p, t, out):
    for i in range(X.shape[0]):
        s = 0.0
        for c in range(X.shape[1]):
            v = X[i, c] + t * p[i, c]
            out[i, c] = v
            s += v * v
        r = np.sqrt(s)
        for c in range(X.shape[1]):
            out[i, c] /= r


def _run(X, g, f, S, Y, R, count, beta, n, edges, tied, iters, gtol, ftol, P, X0, skin, stale):
    """Up to ``iters`` iterations from (X, f = -F, g = -grad F) and ``count[0]`` stored pairs
    (S[0] oldest).  Updates everything in place; returns (iterations done, finished).  With a pair
    list (``skin > 0``) it also returns, unfinished, after the iteration in which an evaluation
    found the list stale (``stale[0]``), so that the caller rebuilds it."""
    memory = S.shape[0]
    q = np.empty_like(X)
    p = np.empty_like(X)
    Xn = np.empty_like(X)
    Gn = np.empty_like(X)
    W = np.empty_like(X)
    s_new = np.empty_like(X)
    y_new = np.empty_like(X)
    alphas = np.empty(memory)
    for it in range(iters):
        if _absmax(g) <= gtol:
            return it, True
        if stale[0]:
            return it, False
        k = count[0]
        q[:, :] = g
        for a in range(k - 1, -1, -1):
            alphas[a] = R[a] * _vdot(S[a], q)
            _axpy(q, -alphas[a], Y[a])
        if k > 0:
            gamma = _vdot(S[k - 1], Y[k - 1]) / _vdot(Y[k - 1], Y[k - 1])
        else:
            gamma = min(1.0, 0.1 / max(_absmax(g), 1e-300))
        q *= gamma
        for a in range(k):
            b = R[a] * _vdot(Y[a], q)
            _axpy(q, alphas[a] - b, S[a])
        _scaled(p, -1.0, q)
        _tangent_rows(X, p)
        slope = _vdot(g, p)
        if not slope < 0:
            count[0] = 0
            k = 0
            sc = min(1.0, 0.1 / max(_absmax(g), 1e-300))
            p[:, :] = -g * sc
            slope = _vdot(g, p)
        t = 1.0
        ok = False
        fn = 0.0
        for _ls in range(40):
            _retract(X, p, t, Xn)
            fn = -_fg(Xn, beta, n, edges, tied, Gn, W, P, X0, skin, stale)
            if fn <= f[0] + 1e-4 * t * slope:
                ok = True
                break
            t *= 0.5
        if not ok:
            return it + 1, True
        # new pair: s = P_Xn(t p), y = gn - P_Xn(g), with gn = -Gn
        _scaled(s_new, t, p)
        _tangent_rows(Xn, s_new)
        _scaled(y_new, 1.0, g)
        _tangent_rows(Xn, y_new)
        _axpby(y_new, -1.0, Gn, -1.0)
        sy = _vdot(s_new, y_new)
        _transport(Xn, S, Y, k)
        if sy > 1e-16 * _vdot(y_new, y_new) and sy > 0:
            if k == memory:
                _drop_oldest(S, Y, R)
                k -= 1
            S[k] = s_new
            Y[k] = y_new
            R[k] = 1.0 / sy
            count[0] = k + 1
        df = f[0] - fn
        X[:, :] = Xn
        for i in range(X.shape[0]):
            for c in range(X.shape[1]):
                g[i, c] = -Gn[i, c]
        f[0] = fn
        if df <= ftol * max(1.0, abs(fn)):
            return it + 1, True
    return iters, False


def _pair_list(R, beta, skin_fraction=None):
    """(P, X0, skin): the pairs i < j of the code R (N, d), in lex order, whose cosine is at least
    q - 60/beta - skin (q the largest), with skin = skin_fraction (1 - q) in cosine; or no list
    (skin = -1) when the code is small or the list would hold more than PAIR_MAX_SHARE of the pairs."""
    n = R.shape[0]
    frac = PAIR_SKIN if skin_fraction is None else skin_fraction
    if n < PAIR_MIN_N or frac <= 0:
        return _NO_PAIRS, R, -1.0
    C = R @ R.T
    iu = np.triu_indices(n, 1)
    c = C[iu]
    q = float(c.max())
    skin = frac * max(1.0 - q, 1e-6)
    keep = c >= q + _CUTOFF / beta - skin - _PAIR_EPS
    if keep.sum() > PAIR_MAX_SHARE * c.size:
        return _NO_PAIRS, R, -1.0
    P = np.stack([iu[0][keep], iu[1][keep]], axis=1).astype(np.int64)
    return np.ascontiguousarray(P), R.copy(), skin


def rlbfgs_stage(X, beta: float, edges=None, *, maxiter: int = 400, gtol: float = 1e-11,
                 ftol: float = 1e-15, deadline: Deadline = Deadline.NEVER, holder: dict | None = None,
                 skin_fraction: float | None = None):
    """One stage of :func:`search.optimizer.rlbfgs` on F_beta, compiled.

    X : unit rows, (N, d) tied or (M, N, d) free; ``edges`` the graph's edges (free).  Returns
    ``(X, F, timed_out)`` as :func:`~search.optimizer.rlbfgs` does: ``timed_out`` when ``deadline``
    (a :class:`~constellations.core.deadline.Deadline`) expired, its time passed or Ctrl-C pressed
    (checked between compiled calls of about CHUNK_WORK multiply-adds); X is then the last accepted
    point and ``holder["X"]`` always holds it.
    ``skin_fraction`` overrides PAIR_SKIN for codes (0: all pairs, no list); it changes the speed,
    not the iterates (module docstring).
    """
    shape = np.shape(X)
    tied = len(shape) == 2
    if not tied and edges is None:
        edges = default_edges(shape[0])
    n, d = shape[-2], shape[-1]
    E = _edges_array(None if tied else edges)
    R2 = np.array(X, dtype=np.float64).reshape(-1, d)
    holder = {} if holder is None else holder
    holder["X"] = R2.reshape(shape)
    if deadline.expired():
        return R2.reshape(shape), -np.inf, True
    k = _compiled()
    stale = np.zeros(1, dtype=np.int64)
    P, X0, skin = _pair_list(R2, beta, skin_fraction) if tied else (_NO_PAIRS, R2, -1.0)
    G = np.empty_like(R2)
    f = np.array([-k._fg(R2, float(beta), n, E, tied, G, np.empty_like(R2), P, X0, skin, stale)])
    g = -G
    S = np.zeros((_MEMORY,) + R2.shape)
    Y = np.zeros_like(S)
    Rho = np.zeros(_MEMORY)
    count = np.zeros(1, dtype=np.int64)
    chunk = int(max(1, min(maxiter, CHUNK_WORK // max(3.0 * _work(n, d, max(len(E), 1), tied), 1.0))))
    done = 0
    while done < maxiter:
        if deadline.expired():
            return R2.reshape(shape), -f[0], True
        used, finished = k._run(R2, g, f, S, Y, Rho, count, float(beta), n, E, tied,
                                min(chunk, maxiter - done), gtol, ftol, P, X0, skin, stale)
        holder["X"] = R2.reshape(shape).copy()
        done += used
        if stale[0]:
            P, X0, skin = _pair_list(R2, beta, skin_fraction)
            stale[0] = 0
        if finished:
            break
    return R2.reshape(shape), -f[0], False

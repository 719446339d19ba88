r"""The best SigLIP model (t*, b*) for fixed embeddings: the minimiser of the sigmoid loss

.. math::  L(t, b) = \sum_{\mathrm{pos}} \mathrm{softplus}(-(t s + b)) + \sum_{\mathrm{neg}} \mathrm{softplus}(t s + b),

over all pairs of all edges (s the float64 inner products; :mod:`.logits` for the conventions).

**Convexity and existence.**  softplus is convex and z = t s + b is linear in (t, b), so L is convex; its
gradient and Hessian are

.. math::  \nabla L = \sum (\sigma(z) - y)\,(s, 1), \qquad
           \nabla^2 L = \sum \sigma(z)\sigma(-z)\,(s, 1)(s, 1)^T

(y = 1 on positives), positive definite unless all s are equal.  L is a one-feature logistic regression
with intercept, so a minimiser exists iff the classes overlap both ways: min pos < max neg (else every
positive is >= every negative, the data are a *constellation*, and L decreases to its infimum as t -> +inf
with -b/t held in [max neg, min pos]: infimum 0 when min pos > max neg) and max pos > min neg (else
t -> -inf).  Those cases are reported as such (``status`` ``"separable"``, ``"anti_separable"`` or, when
all products are equal, ``"degenerate"``) with t* = inf (JSON null), never as a fake optimum.

**Newton.**  Otherwise damped Newton on (t, b): the step d = -H^{-1} g (Cholesky-checked, with a small
Levenberg shift if H is numerically singular), backtracking (Armijo, c = 1e-4, halving) until
L(x + a d) <= L(x) - 1e-4 a lambda^2, lambda^2 = g^T H^{-1} g the Newton decrement.  Near the optimum
lambda^2/2 ~ L - L*; once it is below 1e-12 L (the rounding level of L) a step is accepted when it does
not increase |g|.  Converged when the Newton step at the current point is below 1e-10 (1 + |t|, 1 + |b|)
componentwise (the point is then that close to the minimiser: Newton converges quadratically), or when the
step stops shrinking at the rounding floor of the float64 sums.  The reported (t*, b*) is the last point
*evaluated*: its gradient (``gradient``, ``grad_norm``) and decrement are the certificate.

**Exact passes and the start.**  Every evaluation of L, g, H is one blocked float64 pass over all pairs
(:mod:`.pairsums`, never all N^2 products in memory).  The start comes from a surrogate: each fine bin
(width h = 2/32000) of the products swept once is replaced by the two-node quadrature matching its count
and its first three moments (:func:`quadrature_points`; the positives exactly without labels), whose
error per pair is O((t h)^4 / 200); Newton on it starts from the minimiser of the same surrogate on bins
32 times wider (:func:`coarsen`), itself started at t = 0, b = logit(positive fraction).  From there one or
two exact Newton steps reach the float64 floor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from constellations.core.errors import ConfigurationError

from .gram import run_pass
from .logits import SigmoidLoss, sigmoid_loss
from .pairsums import MODEL, THRESH, PairSums

__all__ = ["TemperatureFit", "Evaluation", "NewtonRun", "newton", "weighted_evaluator", "quadrature_points",
           "coarsen", "separability", "fit_scores", "exact_evaluator", "fit_pairs"]

XTOL = 1e-10
FLOOR = 1e-12
COARSE = 32  # fine bins per bin of the first surrogate (1000 bins of width 2e-3)


@dataclass(frozen=True)
class TemperatureFit:
    """The best (t*, b*) for the embeddings, or why there is none (see the module docstring).

    Attributes
    ----------
    status : str
        ``"converged"``, ``"max_iterations"`` (the pass cap stopped Newton: the point is the best so far),
        ``"stalled"`` (the line search found no decrease), ``"separable"`` (a constellation: t* = inf),
        ``"anti_separable"`` (t* = -inf) or ``"degenerate"`` (all products equal).
    message : str
    t, b, log_t : float
        t*, b*, log t* (inf/NaN, JSON null, when there is no minimiser).
    threshold : float
        -b*/t*; for separable data the midpoint of ``separating_interval``.
    loss : SigmoidLoss or None
        The loss at (t*, b*) in its conventions.
    loss_infimum : float or None
        inf L: the loss at the minimiser, 0 for strictly separable data, None where not computed.
    positives_below, negatives_above : int or None
        Positives with s < -b*/t* and negatives with s > -b*/t* (exact float64 products).
    gradient : (float, float)
        (dL/dt, dL/db) at (t*, b*): the certificate of optimality.
    grad_norm : float
    decrement : float
        lambda^2 / 2 = g^T H^{-1} g / 2 at (t*, b*), about L(t*, b*) - min L.
    step : (float, float)
        The Newton step at (t*, b*) (its size is the distance to the minimiser, to second order).
    iterations : int
        Newton steps taken on the exact loss.
    passes : int
        Exact evaluations, each one blocked pass over all pairs.
    start : (float, float)
        Where the exact Newton started (the surrogate's minimiser).
    surrogate_iterations : int
    separating_interval : (float, float) or None
        (max negative, min positive) when separable.
    """

    status: str
    message: str
    t: float
    b: float
    log_t: float
    threshold: float
    loss: SigmoidLoss | None
    loss_infimum: float | None
    positives_below: int | None = None
    negatives_above: int | None = None
    gradient: tuple = (math.nan, math.nan)
    grad_norm: float = math.nan
    decrement: float = math.nan
    step: tuple = (math.nan, math.nan)
    iterations: int = 0
    passes: int = 0
    start: tuple = (math.nan, math.nan)
    surrogate_iterations: int = 0
    separating_interval: tuple | None = None


@dataclass(frozen=True)
class Evaluation:
    """L, its gradient g = (dL/dt, dL/db) and Hessian H (2, 2) in (t, b) at one point; ``sums`` the
    :class:`~.pairsums.PairSums` of an exact pass (None for weighted points)."""

    t: float
    b: float
    loss: float
    g: np.ndarray
    H: np.ndarray
    sums: object = None


@dataclass(frozen=True)
class NewtonRun:
    """The end of :func:`newton`: the last point evaluated and how the iteration ended."""

    t: float
    b: float
    ev: Evaluation
    steps: int
    evals: int
    status: str
    step: tuple
    decrement: float


def _direction(ev: Evaluation) -> tuple[np.ndarray, float]:
    """Newton step -H^{-1} g and lambda^2 / 2 (Levenberg-shifted while H is not numerically positive definite)."""
    H, g = ev.H, ev.g
    tr = float(H[0, 0] + H[1, 1])
    if not tr > 0:  # every weight underflowed: a gradient step of unit length
        d = -g / max(float(np.linalg.norm(g)), 1e-300)
        return d, 0.5 * float(np.linalg.norm(g))
    mu = 0.0
    for _ in range(40):
        A = H + mu * np.eye(2)
        try:
            Lc = np.linalg.cholesky(A)
            if Lc[1, 1] > 1e-9 * math.sqrt(tr):
                break
        except np.linalg.LinAlgError:
            pass
        mu = max(2.0 * mu, 1e-12 * tr)
    d = -np.linalg.solve(A, g)
    return d, 0.5 * float(-g @ d)


def _size(d: np.ndarray, t: float, b: float) -> float:
    return max(abs(d[0]) / (1 + abs(t)), abs(d[1]) / (1 + abs(b)))


def newton(evaluate, t: float, b: float, *, max_evals: int = 30, xtol: float = XTOL) -> NewtonRun:
    """Damped Newton on a convex L(t, b) from (t, b); ``evaluate(t, b)`` -> :class:`Evaluation`.

    Stops when the step is below ``xtol`` (relative), at the rounding floor, after ``max_evals``
    evaluations, or when the line search finds no decrease (see the module docstring)."""
    ev, evals, steps, prev = evaluate(t, b), 1, 0, math.inf
    while True:
        d, dec = _direction(ev)
        size = _size(d, t, b)
        floor = dec <= FLOOR * max(abs(ev.loss), 1e-300)
        if size <= xtol or (floor and size >= prev / 2):
            return NewtonRun(t, b, ev, steps, evals, "converged", tuple(d), dec)
        if evals >= max_evals:
            return NewtonRun(t, b, ev, steps, evals, "max_iterations", tuple(d), dec)
        prev, a = size, 1.0
        while True:
            cand = evaluate(t + a * d[0], b + a * d[1])
            evals += 1
            if cand.loss <= ev.loss - 2e-4 * a * dec or (floor and np.linalg.norm(cand.g) <= np.linalg.norm(ev.g)):
                break
            a *= 0.5
            if a < 1e-12 or evals >= max_evals:
                status = "stalled" if a < 1e-12 else "max_iterations"
                return NewtonRun(t, b, ev, steps, evals, status, tuple(d), dec)
        t, b, ev, steps = cand.t, cand.b, cand, steps + 1


def weighted_evaluator(v, w, y):
    """``evaluate(t, b)`` of L = sum_i w_i [y_i softplus(-z_i) + (1 - y_i) softplus(z_i)], z_i = t v_i + b:
    the loss of weighted scores, float64, softplus(+-z) = max(+-z, 0) + log1p(e^{-|z|})."""
    v, w = np.asarray(v, dtype=np.float64), np.asarray(w, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)

    def evaluate(t, b):
        z = t * v + b
        e = np.exp(-np.abs(z))
        inv = 1.0 / (1.0 + e)
        # softplus(-z) for positives, softplus(z) for negatives: max(-+z, 0) + log1p(e^{-|z|})
        loss = float(w @ (np.log1p(e) + np.maximum(np.where(y > 0, -z, z), 0.0)))
        sig = np.where(z >= 0, inv, e * inv)
        ww = w * e * inv * inv  # w sigma(z) sigma(-z)
        r = w * (sig - y)
        wv = ww @ v
        H = np.array([[ww @ (v * v), wv], [wv, ww.sum()]])
        return Evaluation(float(t), float(b), loss, np.array([r @ v, r.sum()]), H)
    return evaluate


def quadrature_points(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-node quadrature of every bin of ``hist`` (4, B): B equal bins on [-1, 1] of width h = 2/B, with the
    count n and the power sums S_p = sum delta^p (p = 1, 2, 3) of delta = (s - c)/h about the bin centre c.
    Nodes c + h (mu + sigma x_{1,2}) with weights n p_{1,2}, where x_{1,2} = (gamma -+ sqrt(gamma^2 + 4))/2,
    p_1 = x_2/(x_2 - x_1), p_2 = 1 - p_1 (mean mu, variance sigma^2 and skewness gamma of the bin's delta): the
    same count and first three moments.  Returns (values, weights)."""
    n, S1, S2, S3 = hist
    k = np.flatnonzero(n > 0)
    n, S1, S2, S3 = n[k], S1[k], S2[k], S3[k]
    mu = S1 / n
    m2 = np.maximum(S2 / n - mu * mu, 0.0)
    m3 = S3 / n - 3 * mu * S2 / n + 2 * mu ** 3
    sd = np.sqrt(m2)
    one = m2 <= 1e-24  # one value (to rounding): one node
    gamma = np.where(one, 0.0, m3 / np.where(one, 1.0, sd ** 3))
    root = np.sqrt(gamma * gamma + 4)
    x1, x2 = (gamma - root) / 2, (gamma + root) / 2
    p1 = np.where(one, 1.0, x2 / (x2 - x1))
    half = hist.shape[1] * 0.5
    centre = (k + 0.5) / half - 1.0
    v = np.concatenate([centre + (mu + sd * x1) / half, centre + (mu + sd * x2) / half])
    w = np.concatenate([n * p1, n * (1 - p1)])
    keep = w > 0
    return v[keep], w[keep]


def coarsen(hist: np.ndarray, factor: int) -> np.ndarray:
    """The bins of ``hist`` (4, B) merged ``factor`` at a time (4, B/factor): power sums moved to the coarse
    centres (sum (delta + D)^p by the binomial theorem, D the offset of the fine centre) and rescaled."""
    n, S1, S2, S3 = (h.reshape(-1, factor) for h in hist)
    D = np.arange(factor) + 0.5 - factor / 2  # fine centre - coarse centre, in fine widths
    out = np.stack([n, S1 + n * D, S2 + 2 * D * S1 + n * D ** 2, S3 + 3 * D * S2 + 3 * D ** 2 * S1 + n * D ** 3])
    return out.sum(axis=2) / (float(factor) ** np.arange(4))[:, None]


def separability(pos_min: float, pos_max: float, neg_min: float, neg_max: float, tol: float = 0.0):
    """``(status, message, threshold, interval, infimum)`` when L has no (unique) minimiser, else None.

    ``pos_min`` and ``neg_max`` decide separability exactly; ``pos_max`` and ``neg_min`` (within ``tol``)
    decide anti-separability and equal products."""
    if pos_min >= neg_max:
        if pos_max - neg_min <= tol:
            return ("degenerate", f"all products equal {pos_min:.17g}: L depends on t s + b only and has no unique "
                    f"minimiser", pos_min, (neg_max, pos_min), None)
        strict = pos_min > neg_max
        return ("separable", "the data are a constellation (every positive product "
                + (">" if strict else ">=") + " every negative one): L has no minimiser at finite t; "
                f"its infimum {'0 ' if strict else ''}is approached as t -> inf with -b/t in "
                f"[{neg_max:.12g}, {pos_min:.12g}]", (pos_min + neg_max) / 2, (neg_max, pos_min),
                0.0 if strict else None)
    if pos_max <= neg_min + tol:
        return ("anti_separable", "every positive product is <= every negative one (to the float error bound): "
                "L decreases as t -> -inf; no minimiser", (pos_max + neg_min) / 2, None, None)
    return None


def _separated(sep) -> TemperatureFit:
    status, message, threshold, interval, infimum = sep
    t = math.inf if status == "separable" else (-math.inf if status == "anti_separable" else math.nan)
    return TemperatureFit(status, message, t, math.nan, t, threshold, None, infimum,
                          0 if status == "separable" else None, 0 if status == "separable" else None,
                          separating_interval=interval)


def _message(run: NewtonRun) -> str:
    what = {"converged": "converged", "max_iterations": "stopped at the pass cap (not converged)",
            "stalled": "stalled: the line search found no decrease"}[run.status]
    sign = "" if run.t > 0 else "; t* <= 0: the loss prefers non-matches above matches"
    return (f"Newton {what} after {run.steps} step(s), {run.evals} exact pass(es): t* = {run.t:.12g}, "
            f"b* = {run.b:.12g}, |grad| = {float(np.linalg.norm(run.ev.g)):.3g}{sign}")


def _fitted(run: NewtonRun, loss: SigmoidLoss, below, above, start, surrogate_iterations) -> TemperatureFit:
    t, b, g = run.t, run.b, run.ev.g
    return TemperatureFit(run.status, _message(run), t, b, math.log(t) if t > 0 else math.nan,
                          -b / t if t != 0 else math.nan, loss, loss.loss_sum if run.status == "converged" else None,
                          below, above, (float(g[0]), float(g[1])), float(np.linalg.norm(g)), run.decrement,
                          run.step, run.steps, run.evals, start, surrogate_iterations)


def _start(n_pos: int, n_neg: int) -> tuple[float, float]:
    """t = 0 and the best b there: logit of the positive fraction."""
    return 0.0, math.log(n_pos) - math.log(n_neg)


def fit_scores(scores, positive, weights=None, *, max_iter: int = 100) -> TemperatureFit:
    """The best (t*, b*) for arrays: inner products ``scores``, ``positive`` (bool, same shape), optional
    ``weights`` (>= 0; pair multiplicities).  The same Newton as :func:`fit_pairs`, each evaluation exact on
    the arrays; ``loss.loss_per_item`` is NaN (no batch size)."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(positive, dtype=bool).ravel()
    w = np.ones_like(s) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if not (s.shape == y.shape == w.shape) or not np.isfinite(s).all() or not (np.isfinite(w).all() and (w >= 0).all()):
        raise ConfigurationError("scores, positive and weights must be finite arrays of one size, weights >= 0")
    keep = w > 0
    s, y, w = s[keep], y[keep], w[keep]
    n_pos, n_neg = float(w[y].sum()), float(w[~y].sum())
    if n_pos == 0 or n_neg == 0:
        raise ConfigurationError("need at least one positive and one negative score")
    sep = separability(s[y].min(), s[y].max(), s[~y].min(), s[~y].max())
    if sep is not None:
        return _separated(sep)
    run = newton(weighted_evaluator(s, w, y), *_start(n_pos, n_neg), max_evals=max_iter)
    z = run.t * s + run.b
    lp, ln = float(w[y] @ np.logaddexp(0.0, -z[y])), float(w[~y] @ np.logaddexp(0.0, z[~y]))
    n = float(w.sum())
    loss = SigmoidLoss(run.t, run.b, lp + ln, (lp + ln) / n, math.nan, lp, ln, int(round(n)), ())
    theta = -run.b / run.t if run.t > 0 else math.nan
    below = int(round(w[y & (s < theta)].sum())) if run.t > 0 else None
    above = int(round(w[~y & (s > theta)].sum())) if run.t > 0 else None
    return _fitted(run, loss, below, above, _start(n_pos, n_neg), 0)


def _surrogate(hist: np.ndarray, diag, factor: int):
    """``evaluate`` of the quadrature surrogate: bins merged ``factor`` at a time; the positives exactly when
    ``diag`` (their products) is given."""
    pv, pw = (diag.ravel(), np.ones(diag.size)) if diag is not None else quadrature_points(coarsen(hist[0], factor))
    nv, nw = quadrature_points(coarsen(hist[1], factor))
    y = np.concatenate([np.ones(pv.size), np.zeros(nv.size)])
    return weighted_evaluator(np.concatenate([pv, nv]), np.concatenate([pw, nw]), y)


def exact_evaluator(gram, lab, zedges, eps: float, progress=None):
    """``evaluate(t, b)``: one blocked pass over all pairs (:class:`~.pairsums.PairSums` with MODEL, and the
    threshold counts at -b/t when t > 0)."""
    def evaluate(t, b):
        flags = MODEL | (THRESH if t > 0 else 0)
        ps = PairSums(gram, lab, flags, t=t, b=b, zedges=zedges, theta=-b / t if t > 0 else 0.0, eps=eps)
        run_pass(gram, ps, progress)
        S = ps.sums.sum(axis=0)
        return Evaluation(float(t), float(b), float(S[0] + S[1]), np.array([S[3], S[2]]),
                          np.array([[S[6], S[5]], [S[5], S[4]]]), ps)
    return evaluate


def fit_pairs(gram, lab, hist, diag, extremes, n_pos: int, n_neg: int, zedges, eps: float, *,
              max_passes: int = 30, progress=None) -> tuple:
    """The best (t*, b*) for the pairs of ``gram`` (see the module docstring): the :class:`TemperatureFit`
    and the pooled reliability bins (3, B) at (t*, b*) (None when there is no minimiser).

    ``hist`` (2, 4, FINE): the pooled fine bins of the first sweep (positives, negatives); ``diag``: the
    exact positives (E, N) when they are the diagonal (no labels), else None; ``extremes``: (min pos,
    max pos, min neg, max neg), the first and last exact, the others swept (within ``eps``)."""
    sep = separability(*extremes, tol=2 * eps)
    if sep is not None:
        return _separated(sep), None
    start, sur_evals = _start(n_pos, n_neg), 0
    for factor in (COARSE, 1):  # coarse bins from (0, b0), then the fine ones
        sur = newton(_surrogate(hist, diag if factor == 1 else None, factor), *start, max_evals=100)
        sur_evals += sur.evals
        if math.isfinite(sur.t) and math.isfinite(sur.b):
            start = (sur.t, sur.b)
    run = newton(exact_evaluator(gram, lab, zedges, eps, progress), *start, max_evals=max_passes)
    ps = run.ev.sums
    loss = sigmoid_loss(run.t, run.b, ps.sums, gram.edges, gram.N)
    tpos = run.t > 0
    below = int(ps.sums[:, 7].sum()) if tpos else None
    above = int(ps.sums[:, 8].sum()) if tpos else None
    return _fitted(run, loss, below, above, start, sur_evals), ps.rel.sum(axis=0)

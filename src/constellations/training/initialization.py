r"""The initial bias that minimises the expected sigmoid loss at initialisation (open_clip issue #650).

SigLIP (big_vision convention) scores a batch of B pairs with logits z_ij = t <u_i, v_j> + b and the loss

.. math::

    L = -\frac{1}{B} \sum_{i,j} \log\sigma\big(y_{ij} (t\,s_{ij} + b)\big),
    \qquad y_{ii} = +1,\ y_{ij} = -1\ (i \ne j),

and initialises t0 = 10, b0 = -10.  The paper's relative bias is b_rel = -b / t (logits t (s - b_rel));
the toolkit's ``param="absolute"`` bias (logits t s - b, docs/math.md section 3) is -b = t b_rel.

At initialisation the two embeddings of every pair, matched or not, are independent uniform unit vectors
of R^d, so every inner product s has the density

.. math::

    f_d(s) = c_d (1 - s^2)^{(d-3)/2} \text{ on } [-1, 1], \qquad
    c_d = \frac{\Gamma(d/2)}{\sqrt{\pi}\,\Gamma((d-1)/2)}

(d = 2: 1 / (pi sqrt(1 - s^2)); d = 3: uniform).  The expected loss per item (the normalisation above;
divide by B for the mean over the B^2 pairs, ``reduction="mean"``) is

.. math::

    \bar L(b) = E[\operatorname{softplus}(-(t_0 s + b))] + (B - 1)\, E[\operatorname{softplus}(t_0 s + b)],

convex in b, with derivative B E[sigmoid(t0 s + b)] - 1 (as sigmoid(-x) = 1 - sigmoid(x)).  Its unique
minimiser b0* therefore solves

.. math::

    E[\sigma(t_0 s + b_0^*)] = 1 / B,

which for t0 -> 0 gives sigma(b) = 1/B, i.e. b0* -> log(1/(B-1)); B = 2 gives b0* = 0 (s is symmetric).
For B > 2 and t0 > 0, b0* < log(1/(B-1)): s is symmetric, so E[sigma(b + t0 s)] is the mean of
(sigma(b + x) + sigma(b - x))/2 over x = t0 |s|, which increases in x when b < 0 (sigma' is even and
decreasing in |.|, and |b + x| < |b - x|), hence exceeds sigma(b) = 1/B at b = log(1/(B-1)).  Expanding,
b0* = log(1/(B-1)) - (1 - 2/B) t0^2 / (2d) + O(t0^4 / d^2); to first order in e^b (large B),
b0* ~ -log(B - 1) - log E[e^{t0 s}] (``b0_mgf``), and log E[e^{t0 s}] ~ t0^2 / (2d) for t0 << d.

Numerics.  Every expectation is a 1-D integral, computed with s = sin(u), u in [-pi/2, pi/2], where the
density becomes proportional to cos^{d-2}(u) (bounded for every d >= 2; log cos u = log1p(-2 sin^2(u/2))
keeps (d - 2) log cos u accurate for large d):

    log E[h(t0 s + b)] = log int cos^{d-2}(u) h(t0 sin u + b) du - log int cos^{d-2}(u) du.

The integrand is handled in log space (log-sigmoid, log-softplus, never log(sigmoid + eps)): its
logarithm is evaluated on a grid of 2^14 + 1 points, the integral is restricted to the hull of the grid
points within 60 nats of the largest value (plus one cell each side; what is left out is below e^-60
relative for the unimodal integrands here) and done by adaptive Gauss-Kronrod (``scipy.integrate.quad``,
relative tolerance 1e-13) with breakpoints at the grid maximum and at the logit's zero.  Normalising by the
same quadrature of the density avoids the cancellation of log Gamma(d/2) - log Gamma((d-1)/2) at large d.
b0* is the root of log E[sigma(t0 s + b)] + log B (increasing in b), bracketed exactly by
[log(1/(B-1)) - t0, log(1/(B-1)) + t0] (since t0 s lies in [-t0, t0]), found by Brent's method to
1e-13 absolute.
"""
from __future__ import annotations

import functools
import math
import numbers
import time
import warnings
from dataclasses import dataclass

import numpy as np

from constellations.core.errors import ConfigurationError
from constellations.core.results import Result, Status

__all__ = ["InitialBias", "initial_bias", "initial_biases", "expected_terms", "expected_loss", "REFERENCE_BIAS",
           "MAX_BATCH_SIZE", "MAX_DIM", "MAX_T0"]

#: SigLIP's initial bias (big_vision; with t0 = 10), the comparison point of every result.
REFERENCE_BIAS = -10.0
#: Refused above these (absurd sizes): batch size, dimension, inverse temperature, |bias|, batch sizes per call.
MAX_BATCH_SIZE = 10 ** 12
MAX_DIM = 10 ** 6
MAX_T0 = 1e4
MAX_BIAS = 1e6
MAX_BATCHES = 1000

_GRID = 2 ** 14 + 1   # points of the grid that locates the integrand's support
_WINDOW = 60.0        # nats below the grid maximum that are still integrated
_EPSREL = 1e-13       # quad's relative tolerance
_XTOL = 1e-13         # brentq's absolute tolerance on b


@dataclass(frozen=True)
class InitialBias(Result):
    """The loss-minimising initial bias for one batch size (:func:`initial_bias`).

    Attributes
    ----------
    batch_size : int
        B (also ``n`` of the vocabulary).
    dim : int
        d, the embedding dimension.
    t0 : float
        Initial inverse temperature.
    b0 : float
        b0*, the minimiser of the expected loss (big_vision sign: logits t0 s + b0).
    b_rel0 : float
        -b0* / t0, the paper's relative bias (logits t0 (s - b_rel0)).
    loss, loss_per_pair : float
        Expected loss at b0*: per item (-(1/B) sum over the B^2 pairs) and per pair (that divided by B).
    b0_approx, loss_approx, loss_approx_per_pair : float
        log(1/(B-1)) (the minimiser as t0 -> 0) and the expected loss there.
    b0_mgf : float
        -log(B-1) - log E[exp(t0 s)], the first-order (large-B) approximation of b0*.
    b0_reference, loss_reference, loss_reference_per_pair : float
        SigLIP's b0 = -10 (or the ``reference_bias`` given) and the expected loss there (at this t0).
    quadrature_error : float
        Largest relative error estimate of the quadratures at b0* (scipy.integrate.quad's).
    iterations : int
        Brent iterations.
    converged : bool
        Brent's method met its tolerance.
    seconds : float
        Wall-clock seconds of the computation.

    In the result vocabulary (:mod:`constellations.core.results`): ``n`` is the batch size B, ``dim`` is d,
    ``modalities`` is 2 (the two towers), ``config``, ``margin`` and ``margin_certified`` are None (no
    configuration: the embeddings are random), ``status`` is CONVERGED when Brent's method converged and the
    quadrature error estimate is below 1e-9, COMPLETED otherwise.
    """

    batch_size: int
    dim: int
    t0: float
    b0: float
    b_rel0: float
    loss: float
    loss_per_pair: float
    b0_approx: float
    loss_approx: float
    loss_approx_per_pair: float
    b0_mgf: float
    b0_reference: float
    loss_reference: float
    loss_reference_per_pair: float
    quadrature_error: float
    iterations: int
    converged: bool
    seconds: float

    config = None
    margin = None
    margin_certified = None
    modalities = 2

    @property
    def n(self) -> int:
        """The batch size B."""
        return self.batch_size

    @property
    def status(self) -> Status:
        """CONVERGED (root found, quadrature error estimate < 1e-9), else COMPLETED."""
        ok = self.converged and self.quadrature_error < 1e-9
        return Status.CONVERGED if ok else Status.COMPLETED

    @property
    def message(self) -> str:
        """One line: b0*, b_rel0*, the expected losses at b0*, log(1/(B-1)) and the reference bias."""
        return (f"B = {self.batch_size}, t0 = {self.t0:g}, d = {self.dim}: b0* = {self.b0:.10g} "
                f"(b_rel0* = {self.b_rel0:.10g}), expected loss {self.loss:.8g} per item; "
                f"log(1/(B-1)) = {self.b0_approx:.10g} gives {self.loss_approx:.8g}, "
                f"b0 = {self.b0_reference:g} gives {self.loss_reference:.8g}")


def _check_int(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigurationError(f"{name} must be a whole number, got {value!r}")
    if not low <= int(value) <= high:
        raise ConfigurationError(f"{name} must lie in [{low}, {high:,}], got {int(value)}")
    return int(value)


def _check_real(value, name: str, high: float, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigurationError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or abs(v) > high or (positive and v <= 0):
        need = f"finite and in (0, {high:g}]" if positive else f"finite with |{name}| <= {high:g}"
        raise ConfigurationError(f"{name} must be {need}, got {value!r}")
    return v


def _log_expit(x):
    from scipy.special import log_expit
    return log_expit(x)


def _log_softplus(x):
    """log(softplus(x)) = log(log(1 + e^x)); for x < -37, softplus(x) = e^x (1 - e^x/2 + ...) = e^x to
    double precision, so the log is x itself (no underflow to log 0)."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x < -37.0, x, np.log(np.logaddexp(0.0, np.maximum(x, -37.0))))


def _log_softplus_neg(x):
    return _log_softplus(-np.asarray(x, dtype=np.float64))


def _identity(x):
    return np.asarray(x, dtype=np.float64)


def _zero(x):
    return np.zeros_like(np.asarray(x, dtype=np.float64))


def _log_integral(log_h, t: float, b: float, d: int) -> tuple[float, float]:
    """log int_{-pi/2}^{pi/2} cos^{d-2}(u) h(t sin u + b) du and quad's relative error estimate
    (``log_h``: log h, vectorised; see the module docstring for the support and the tolerances)."""
    from scipy.integrate import quad

    def ell(u):
        with np.errstate(divide="ignore"):  # log cos(+-pi/2) = -inf: the density is 0 there
            lw = 0.0 if d == 2 else (d - 2) * np.log1p(-2.0 * np.sin(0.5 * u) ** 2)
        return lw + log_h(t * np.sin(u) + b)

    grid = np.linspace(-0.5 * math.pi, 0.5 * math.pi, _GRID)
    values = ell(grid)
    k = int(np.argmax(values))
    top = float(values[k])
    inside = np.nonzero(values >= top - _WINDOW)[0]
    lo, hi = grid[max(inside[0] - 1, 0)], grid[min(inside[-1] + 1, _GRID - 1)]
    points = [grid[k]]
    if abs(b) < t and lo < math.asin(-b / t) < hi:  # the logit's zero, where h bends
        points.append(math.asin(-b / t))
    with warnings.catch_warnings():  # a tolerance below rounding is reported through the error estimate
        warnings.simplefilter("ignore")
        val, err = quad(lambda u: math.exp(float(ell(u)) - top), lo, hi, points=points, epsabs=0.0,
                        epsrel=_EPSREL, limit=1000)
    return top + math.log(val), err / val


@functools.lru_cache(maxsize=64)
def _log_norm(d: int) -> tuple[float, float]:
    """log int cos^{d-2}(u) du (= log(1 / c_d) + log 1), by the same quadrature as the numerators."""
    return _log_integral(_zero, 1.0, 0.0, d)


def _log_mean(log_h, t: float, b: float, d: int) -> tuple[float, float]:
    """log E[h(t s + b)] for s the inner product of two independent uniform unit vectors of R^d, and the
    sum of the relative error estimates of its two quadratures."""
    num, e1 = _log_integral(log_h, t, b, d)
    den, e2 = _log_norm(d)
    return num - den, e1 + e2


def expected_terms(bias: float, t0: float = 10.0, dim: int = 512) -> tuple[float, float, float]:
    """The three expectations at initialisation behind the loss and its derivative.

    With s = <u, v> for independent uniform unit u, v in R^dim (density f_d, module docstring):

    Returns
    -------
    (matched, non_matched, sigmoid) : tuple of float
        E[softplus(-(t0 s + b))], E[softplus(t0 s + b)] and E[sigmoid(t0 s + b)], b = ``bias`` (big_vision
        sign: logits t0 s + b).

    Raises
    ------
    ConfigurationError
        t0 not finite or outside (0, 1e4], dim not a whole number in [2, 1e6], bias not finite or |bias| > 1e6.
    """
    t0 = _check_real(t0, "t0", MAX_T0, True)
    d = _check_int(dim, "dim", 2, MAX_DIM)
    b = _check_real(bias, "bias", MAX_BIAS, False)
    return tuple(math.exp(_log_mean(f, t0, b, d)[0]) for f in (_log_softplus_neg, _log_softplus, _log_expit))


def expected_loss(bias: float, batch_size: int, t0: float = 10.0, dim: int = 512) -> float:
    """Expected sigmoid loss per item at initialisation,
    E[softplus(-(t0 s + b))] + (B - 1) E[softplus(t0 s + b)] (divide by B for the per-pair mean).

    Raises
    ------
    ConfigurationError
        As :func:`expected_terms`, or batch_size not a whole number in [2, 1e12].
    """
    B = _check_int(batch_size, "batch_size", 2, MAX_BATCH_SIZE)
    matched, non_matched, _ = expected_terms(bias, t0, dim)
    return matched + (B - 1) * non_matched


def _loss_at(b: float, B: int, t: float, d: int) -> tuple[float, float]:
    """Expected loss per item at bias b and the largest relative quadrature error estimate."""
    (lp, ep), (ln, en) = _log_mean(_log_softplus_neg, t, b, d), _log_mean(_log_softplus, t, b, d)
    return math.exp(lp) + (B - 1) * math.exp(ln), max(ep, en)


def _solve(B: int, t: float, d: int):
    """b0*: the root of log E[sigmoid(t s + b)] + log B, and brentq's RootResults."""
    from scipy.optimize import brentq
    approx = -math.log(B - 1)
    pad = 1e-6 * (1.0 + abs(approx))  # keeps a strict sign change when t is below rounding of the bracket
    return brentq(lambda b: _log_mean(_log_expit, t, b, d)[0] + math.log(B), approx - t - pad, approx + t + pad,
                  xtol=_XTOL, rtol=4 * np.finfo(float).eps, maxiter=200, full_output=True, disp=False)


def initial_bias(batch_size: int, t0: float = 10.0, dim: int = 512,
                 reference_bias: float = REFERENCE_BIAS) -> InitialBias:
    """The initial bias b0* that minimises the expected SigLIP loss at initialisation (module docstring).

    Parameters
    ----------
    batch_size : int
        B >= 2: one matched and B - 1 non-matched pairs per item.
    t0 : float
        Initial inverse temperature (SigLIP: 10).
    dim : int
        Embedding dimension d >= 2.
    reference_bias : float
        A bias to compare with (SigLIP's -10).

    Returns
    -------
    InitialBias
        b0*, b_rel0* = -b0*/t0, the expected losses at b0*, at log(1/(B-1)) and at ``reference_bias``.

    Raises
    ------
    ConfigurationError
        batch_size not a whole number in [2, 1e12], dim not one in [2, 1e6], t0 not finite or outside
        (0, 1e4], reference_bias not finite or |reference_bias| > 1e6.
    """
    start = time.perf_counter()
    B = _check_int(batch_size, "batch_size", 2, MAX_BATCH_SIZE)
    d = _check_int(dim, "dim", 2, MAX_DIM)
    t = _check_real(t0, "t0", MAX_T0, True)
    ref = _check_real(reference_bias, "reference_bias", MAX_BIAS, False)
    b0, root = _solve(B, t, d)
    loss, err = _loss_at(b0, B, t, d)
    err = max(err, _log_mean(_log_expit, t, b0, d)[1])
    approx = -math.log(B - 1)
    loss_approx, _ = _loss_at(approx, B, t, d)
    loss_ref, _ = _loss_at(ref, B, t, d)
    b_mgf = approx - _log_mean(_identity, t, 0.0, d)[0]
    return InitialBias(batch_size=B, dim=d, t0=t, b0=b0, b_rel0=-b0 / t, loss=loss, loss_per_pair=loss / B,
                       b0_approx=approx, loss_approx=loss_approx, loss_approx_per_pair=loss_approx / B,
                       b0_mgf=b_mgf, b0_reference=ref, loss_reference=loss_ref, loss_reference_per_pair=loss_ref / B,
                       quadrature_error=err, iterations=int(root.iterations), converged=bool(root.converged),
                       seconds=time.perf_counter() - start)


def initial_biases(batch_sizes, t0: float = 10.0, dim: int = 512,
                   reference_bias: float = REFERENCE_BIAS) -> tuple[InitialBias, ...]:
    """:func:`initial_bias` for each of ``batch_sizes`` (a non-empty sequence of at most 1000), same t0 and d.

    All inputs are checked before any computation.

    Raises
    ------
    ConfigurationError
        An empty or too long list, or any input :func:`initial_bias` refuses.
    """
    if isinstance(batch_sizes, numbers.Integral):
        batch_sizes = [batch_sizes]
    try:
        sizes = None if isinstance(batch_sizes, (str, bytes)) else list(batch_sizes)
    except TypeError:  # not iterable
        sizes = None
    if not sizes or len(sizes) > MAX_BATCHES:
        raise ConfigurationError(f"give between 1 and {MAX_BATCHES} batch sizes, got {batch_sizes!r}")
    sizes = [_check_int(B, "batch_size", 2, MAX_BATCH_SIZE) for B in sizes]
    _check_int(dim, "dim", 2, MAX_DIM)
    _check_real(t0, "t0", MAX_T0, True)
    _check_real(reference_bias, "reference_bias", MAX_BIAS, False)
    return tuple(initial_bias(B, t0, dim, reference_bias) for B in sizes)

"""The loss-minimising initial bias at initialisation (src/constellations/training/initialization.py).

Independent checks: Monte Carlo (s drawn exactly, through the Beta law of (s + 1)/2 and as the first
coordinate of a normalised Gaussian vector), closed forms for d = 3 (uniform s: sigmoid and softplus
integrate to softplus and the dilogarithm, and b0* is explicit), the t0 -> 0 expansion, the symmetry at
B = 2 and the identity softplus(-x) = softplus(x) - x.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import expit, spence

from constellations.core.errors import ConfigurationError
from constellations.core.results import VOCABULARY, Status
from constellations.training.initialization import (InitialBias, expected_loss, expected_terms, initial_bias,
                                                    initial_biases)

#: Monte-Carlo agreement is asked within this many standard errors (computed from the samples); for a
#: normal error one check fails with probability 6e-7, and the seeds make every run the same.
Z = 5.0


def beta_samples(d: int, n: int, seed: int) -> np.ndarray:
    """s = <u, v> for independent uniform unit u, v in R^d: (s + 1)/2 ~ Beta((d-1)/2, (d-1)/2)."""
    return 2.0 * np.random.default_rng(seed).beta((d - 1) / 2, (d - 1) / 2, size=n) - 1.0


def mc_terms(s, t, b):
    """Monte-Carlo means and standard errors of softplus(-x), softplus(x), sigmoid(x), x = t s + b."""
    x = t * s + b
    out = []
    for v in (np.logaddexp(0.0, -x), np.logaddexp(0.0, x), expit(x)):
        out.append((v.mean(), v.std(ddof=1) / math.sqrt(v.size)))
    return out


@pytest.mark.parametrize("d, t, b", [(512, 10.0, -5.64), (768, 10.0, -10.0), (2, 10.0, -13.5), (3, 1.0, -5.7)])
def test_expectations_match_monte_carlo_beta(d, t, b):
    s = beta_samples(d, 10 ** 6, seed=d)
    for quad, (mean, se) in zip(expected_terms(b, t, d), mc_terms(s, t, b)):
        assert abs(quad - mean) <= Z * se, (quad, mean, se)


def test_expectations_match_monte_carlo_of_actual_unit_vectors():
    # the density itself, not the Beta identity: s is the first coordinate of a uniform unit vector
    d, n = 16, 400_000
    g = np.random.default_rng(7).standard_normal((n, d))
    s = g[:, 0] / np.linalg.norm(g, axis=1)
    for quad, (mean, se) in zip(expected_terms(-8.0, 10.0, d), mc_terms(s, 10.0, -8.0)):
        assert abs(quad - mean) <= Z * se, (quad, mean, se)


@pytest.mark.parametrize("B, d", [(256, 512), (32768, 768), (4096, 2)])
def test_b0_matches_the_minimiser_of_the_monte_carlo_loss(B, d):
    t, n = 10.0, 400_000
    s = beta_samples(d, n, seed=B + d)

    def mc_loss(b):
        x = t * s + b
        return np.logaddexp(0.0, -x).mean() + (B - 1) * np.logaddexp(0.0, x).mean()

    approx = -math.log(B - 1)
    b_mc = minimize_scalar(mc_loss, bounds=(approx - t, approx + t), method="bounded",
                           options={"xatol": 1e-10}).x
    # The MC minimiser solves mean sigmoid(t s_k + b) = 1/B; by the delta method its standard error is
    # SE(mean sigmoid) / (d/db mean sigmoid) = SE(sigmoid) / mean(sigmoid (1 - sigmoid)).
    sig = expit(t * s + b_mc)
    se_b = sig.std(ddof=1) / math.sqrt(n) / np.mean(sig * (1 - sig))
    r = initial_bias(B, t, d)
    assert abs(r.b0 - b_mc) <= Z * se_b, (r.b0, b_mc, se_b)
    assert abs(approx - b_mc) > 10 * Z * se_b  # the check tells b0* from log(1/(B-1))
    assert r.loss == pytest.approx(mc_loss(b_mc), rel=1e-2)


def test_small_t0_tends_to_log_one_over_b_minus_one():
    B, d = 256, 3
    approx = -math.log(B - 1)
    r = initial_bias(B, 1e-8, d)
    assert abs(r.b0 - approx) < 1e-12 and r.b0_approx == approx
    # at t0 = 0 the loss is softplus(-b) + (B - 1) softplus(b) = log B + (B - 1) log(B / (B - 1))
    assert r.loss == pytest.approx(math.log(B) + (B - 1) * math.log(B / (B - 1)), rel=1e-12)
    # second order: E sigmoid(b + t s) = sigmoid(b) + sigmoid''(b) t^2 E[s^2]/2 + O(t^4), E[s^2] = 1/d, and
    # sigmoid''/sigmoid' = 1 - 2 sigmoid, so b0* = log(1/(B-1)) - (1 - 2/B) t^2 / (2d) + O(t^4)
    # (the O(t^4) remainder is about E[s^4] t^4 ~ 3 t^4 / d^2 times a bounded factor of sigmoid derivatives)
    def residual(t, dim):
        b0 = initial_bias(B, t, dim).b0
        assert abs(b0 - approx) > 10 * t ** 4 / dim ** 2  # the second-order shift is what is seen
        return b0 - (approx - (1 - 2 / B) * t ** 2 / (2 * dim))

    for dim in (2, 3, 512):
        t = 0.1 * math.sqrt(dim)  # t s has standard deviation t / sqrt(d): the expansion's small parameter
        r1, r2 = residual(t, dim), residual(t / 2, dim)
        assert abs(r1) < t ** 4 / dim ** 2 and 15 < r1 / r2 < 17  # halving t divides it by 2^4


@pytest.mark.parametrize("B, t", [(256, 10.0), (32768, 10.0), (4096, 100.0), (3, 0.5)])
def test_d3_closed_form_b0(B, t):
    # d = 3: s uniform on [-1, 1], E sigmoid(t s + b) = (softplus(b + t) - softplus(b - t)) / (2t), and
    # = 1/B is solved by e^b (e^t - e^(2t/B - t)) = e^(2t/B) - 1
    b0 = math.log(math.expm1(2 * t / B)) - t - math.log1p(-math.exp(2 * t / B - 2 * t))
    r = initial_bias(B, t, 3)
    assert r.b0 == pytest.approx(b0, abs=1e-10)
    # b0_mgf = -log(B - 1) - log E[e^(t s)], E[e^(t s)] = sinh(t)/t for d = 3
    log_mgf = t + math.log1p(-math.exp(-2 * t)) - math.log(2 * t)
    assert r.b0_mgf == pytest.approx(-math.log(B - 1) - log_mgf, abs=1e-12)


@pytest.mark.parametrize("t, b", [(10.0, -12.5), (1.0, -5.7), (3.0, 0.4)])
def test_d3_closed_form_expectations(t, b):
    # int softplus = -Li2(-e^x) and Li2(z) = spence(1 - z)
    li2 = lambda x: spence(1.0 + math.exp(x))  # noqa: E731  Li2(-e^x)
    sp = lambda x: float(np.logaddexp(0.0, x))  # noqa: E731
    non_matched = (li2(b - t) - li2(b + t)) / (2 * t)
    sigmoid = (sp(b + t) - sp(b - t)) / (2 * t)
    matched, nm, sg = expected_terms(b, t, 3)
    assert nm == pytest.approx(non_matched, rel=1e-11) and sg == pytest.approx(sigmoid, rel=1e-11)
    assert matched == pytest.approx(non_matched - b, rel=1e-11)  # softplus(-x) = softplus(x) - x, E s = 0


@pytest.mark.parametrize("d, t", [(2, 10.0), (512, 10.0), (768, 300.0)])
def test_b2_is_zero_and_the_optimality_condition_holds(d, t):
    assert abs(initial_bias(2, t, d).b0) < 1e-10  # E sigmoid(t s) = 1/2 as s is symmetric
    B = 4096
    r = initial_bias(B, t, d)
    matched, non_matched, sigmoid = expected_terms(r.b0, t, d)
    assert B * sigmoid == pytest.approx(1.0, rel=1e-10)          # the derivative B E[sigmoid] - 1 vanishes
    assert matched == pytest.approx(non_matched - r.b0, rel=1e-11)
    assert r.loss == pytest.approx(matched + (B - 1) * non_matched, rel=1e-13)
    assert r.loss_per_pair == pytest.approx(r.loss / B, rel=1e-15)
    assert all(expected_loss(r.b0 + h, B, t, d) > r.loss for h in (-1e-3, 1e-3))
    assert r.loss <= r.loss_approx and r.loss <= r.loss_reference and r.b0 < r.b0_approx
    assert r.b_rel0 == -r.b0 / t and r.status is Status.CONVERGED


def test_result_vocabulary_and_several_batch_sizes():
    rs = initial_biases([256, 4096], t0=10.0, dim=512)
    assert [r.batch_size for r in rs] == [256, 4096] and all(isinstance(r, InitialBias) for r in rs)
    d = rs[0].to_dict()
    assert list(d)[:len(VOCABULARY)] == list(VOCABULARY)
    json.dumps(d)
    assert (d["n"], d["dim"], d["modalities"], d["status"]) == (256, 512, 2, "converged")
    assert d["margin"] is None and d["margin_certified"] is None and rs[0].config is None
    assert "\n" not in rs[0].message and d["b0_reference"] == -10.0
    assert rs[1].b0 == initial_bias(4096, 10.0, 512).b0


@pytest.mark.parametrize("kw", [dict(batch_size=1), dict(batch_size=2.0), dict(batch_size=True),
                                dict(batch_size=10 ** 13), dict(t0=0.0), dict(t0=-1.0), dict(t0=float("nan")),
                                dict(t0=float("inf")), dict(t0=1e5), dict(dim=1), dict(dim=3.5),
                                dict(dim=10 ** 7), dict(reference_bias=float("nan"))])
def test_bad_input_is_refused(kw):
    args = dict(batch_size=256, t0=10.0, dim=512) | kw
    with pytest.raises(ConfigurationError):
        initial_bias(**args)


@pytest.mark.parametrize("sizes", [[], "256", [256, 1], None, list(range(2, 1100))])
def test_bad_batch_size_lists_are_refused(sizes):
    with pytest.raises(ConfigurationError):
        initial_biases(sizes)


def test_expectation_inputs_are_checked():
    with pytest.raises(ConfigurationError):
        expected_terms(float("inf"), 10.0, 512)
    with pytest.raises(ConfigurationError):
        expected_loss(-10.0, 1, 10.0, 512)

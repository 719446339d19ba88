"""Losses: float64 reference against direct formulas, exactness at large t, closed forms of docs/math.md section 3."""
import math

import mpmath
import numpy as np
import pytest
import torch

from constellations.codes.constructions import polygon_code, simplex_code
from constellations.core.configuration import tied
from constellations.core.errors import ConfigurationError
from constellations.objective.losses import (adapt, adapter_parameters, affine_pair_loss, delta_from_logit, loss_bound,
                                   loss_from_gram, pair_loss, pair_loss_grad, pair_loss_torch, sigmoid_loss, sigmoid_loss_torch)
from constellations.core.margins import margin_stats


def unit(rng, *shape):
    X = rng.standard_normal(shape)
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def direct(U, V, t, bias, param, reduction="sum"):
    """The textbook formula with plain log(1 + exp(.)), fine for moderate logits."""
    N = len(U)
    total = 0.0
    for i in range(N):
        for j in range(N):
            ip = float(U[i] @ V[j])
            z = t * (ip - bias) if param == "relative" else t * ip - bias
            total += math.log(1 + math.exp(-z)) if i == j else math.log(1 + math.exp(z))
    return total / N ** 2 if reduction == "mean" else total


def exact_mp(U, V, t, b_rel):
    """The relative-bias loss in 60-digit arithmetic, as a reference for huge logits."""
    mpmath.mp.dps = 60
    G = U @ V.T
    total = mpmath.mpf(0)
    for i in range(len(U)):
        for j in range(len(U)):
            z = mpmath.mpf(t) * (mpmath.mpf(G[i, j]) - mpmath.mpf(b_rel))
            total += mpmath.log1p(mpmath.exp(-z if i == j else z))
    return total


@pytest.mark.parametrize("param", ["relative", "absolute"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_loss_equals_direct_formula(param, reduction):
    rng = np.random.default_rng(1)
    for N, d, t, b in [(2, 1, 1.0, 0.0), (5, 3, 3.7, 0.4), (7, 4, 12.0, -0.3)]:
        U, V = unit(rng, N, d), unit(rng, N, d)
        got = pair_loss(U, V, t, b, param=param, reduction=reduction)
        assert got == pytest.approx(direct(U, V, t, b, param, reduction), rel=1e-13)


def test_relative_is_absolute_with_b_equal_t_brel():
    rng = np.random.default_rng(2)
    X = unit(rng, 3, 6, 4)
    for t, br in [(0.5, 0.2), (10.0, -0.4), (77.0, 0.9)]:
        a = sigmoid_loss(X, t, br, param="relative")
        b = sigmoid_loss(X, t, t * br, param="absolute")
        assert a == pytest.approx(b, rel=1e-13)


def test_multimodal_is_sum_over_edges():
    rng = np.random.default_rng(3)
    X = unit(rng, 3, 5, 4)
    total = sigmoid_loss(X, 4.0, 0.1, graph="star")
    assert total == pytest.approx(pair_loss(X[0], X[1], 4.0, 0.1) + pair_loss(X[0], X[2], 4.0, 0.1), rel=1e-14)


def test_no_saturation_at_t_1000():
    # On a constellation the loss is ~ N^2 exp(-t m): tiny but exact, not floored at ~1e-8 * N^2.
    cfg = tied(polygon_code(6))  # m = sin^2(pi/6) = 1/4, b_rel = 3/4
    s = margin_stats(cfg)
    U, V = cfg.X[0], cfg.X[1]
    got = pair_loss(U, V, 1000.0, s.b_rel)
    ref = exact_mp(U, V, 1000.0, s.b_rel)
    assert 0 < got < 1e-100 and math.isfinite(got)
    assert abs(got - float(ref)) <= 1e-12 * float(ref)
    # Off a constellation the loss is large (~ t * violation) and must not saturate at ~18.4 per term.
    rng = np.random.default_rng(4)
    U, V = unit(rng, 5, 3), unit(rng, 5, 3)
    got = pair_loss(U, V, 1000.0, 0.0)
    ref = exact_mp(U, V, 1000.0, 0.0)
    assert got > 100 * 18.4 / 25 and abs(got - float(ref)) <= 1e-12 * float(ref)
    # The torch kernels agree in float64.
    for fn in (lambda A, B, t, b: pair_loss_torch(A, B, t, b),
               lambda A, B, t, b: loss_from_gram(torch.bmm(A, B.transpose(1, 2)), t, b)):
        v = fn(torch.tensor(U[None]), torch.tensor(V[None]), torch.tensor([1000.0], dtype=torch.float64),
               torch.tensor([0.0], dtype=torch.float64))
        assert float(v[0]) == pytest.approx(float(ref), rel=1e-12)
    Uc, Vc = cfg.X[0], cfg.X[1]
    v = pair_loss_torch(torch.tensor(Uc[None]), torch.tensor(Vc[None]), torch.tensor([1000.0], dtype=torch.float64),
                        torch.tensor([s.b_rel], dtype=torch.float64))
    assert float(v[0]) == pytest.approx(float(exact_mp(Uc, Vc, 1000.0, s.b_rel)), rel=1e-12)


@pytest.mark.parametrize("code,M", [(simplex_code(5, 4), 2), (polygon_code(7), 2), (simplex_code(4, 3), 3)])
def test_theorem_3_2_bound_on_constellations(code, M):
    cfg = tied(code, modalities=M)
    s = margin_stats(cfg)
    E = len(cfg.graph.edges)
    for t in (1.0, 5.0, 40.0, 300.0):
        L = sigmoid_loss(cfg, t, s.b_rel)
        assert 0 < L <= loss_bound(cfg.N, t, s.margin, edges=E)
        Lm = sigmoid_loss(cfg, t, s.b_rel, reduction="mean")
        assert Lm <= loss_bound(cfg.N, t, s.margin, edges=E, reduction="mean")
    # and the bound is tight in the exponent: L >= exp(-t m) - its smallest term at the worst pair.
    assert sigmoid_loss(cfg, 300.0, s.b_rel) >= math.log1p(math.exp(-300.0 * s.margin))


def test_adapter_identity():
    rng = np.random.default_rng(5)
    U, V = unit(rng, 9, 4), unit(rng, 9, 4)
    for delta in (0.2, 0.5, 0.9, float(delta_from_logit(1.3))):
        AU, AV = adapt(U, delta, locked=True), adapt(V, delta, locked=False)
        assert np.allclose(np.linalg.norm(AU, axis=1), 1) and np.allclose(np.linalg.norm(AV, axis=1), 1)
        assert np.allclose(AU @ AV.T, delta ** 2 * (U @ V.T) - (1 - delta ** 2), atol=1e-15)
        for t, br in [(1.0, 0.0), (7.5, -0.3), (50.0, 0.6)]:
            t2, br2 = adapter_parameters(t, br, delta)
            lhs = pair_loss(AU, AV, t, br)
            rhs = pair_loss(U, V, t2, br2)
            assert abs(lhs - rhs) <= 1e-9 * max(1.0, abs(lhs))
    with pytest.raises(ConfigurationError):
        adapter_parameters(1.0, 0.0, 1.0)
    with pytest.raises(ConfigurationError):
        adapt(U, 0.0, True)


@pytest.mark.parametrize("param", ["relative", "absolute"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_torch_batched_matches_numpy(param, reduction):
    rng = np.random.default_rng(6)
    S, M, N, d = 3, 3, 6, 4
    X = unit(rng, S, M, N, d)
    t = np.array([0.7, 5.0, 60.0])
    b = np.array([0.1, -0.3, 2.0]) if param == "absolute" else np.array([0.1, -0.3, 0.5])
    for graph in ("complete", "star", "1-2"):
        from constellations.core.graphs import parse_graph
        edges = parse_graph(graph, M).edges
        got = sigmoid_loss_torch(torch.tensor(X), torch.tensor(t), torch.tensor(b), edges, param=param,
                                 reduction=reduction).numpy()
        ref = [sigmoid_loss(X[s], t[s], b[s], graph, param=param, reduction=reduction) for s in range(S)]
        assert np.allclose(got, ref, rtol=1e-12, atol=0)


def test_fused_kernel_gradients():
    torch.manual_seed(0)
    S, N, d = 2, 5, 3
    dt = torch.float64
    A = torch.randn(S, N, d, dtype=dt, requires_grad=True)
    B = torch.randn(S, N, d, dtype=dt, requires_grad=True)
    al = (torch.rand(S, dtype=dt) * 3 + 0.5).requires_grad_()
    be = torch.randn(S, dtype=dt, requires_grad=True)
    for mean in ("sum", "mean"):
        assert torch.autograd.gradcheck(lambda a, b, x, y: affine_pair_loss(a, b, x, y, mean), (A, B, al, be))
    # Against plain autograd of the -logsigmoid formulation, through t = exp(t') and b_rel.
    lt = torch.tensor([0.3, 2.0], dtype=dt, requires_grad=True)
    br = torch.tensor([0.1, -0.2], dtype=dt, requires_grad=True)
    g1 = torch.autograd.grad(pair_loss_torch(A, B, lt.exp(), br).sum(), (A, B, lt, br))
    g2 = torch.autograd.grad(loss_from_gram(torch.bmm(A, B.transpose(1, 2)), lt.exp(), br).sum(), (A, B, lt, br))
    for a, b in zip(g1, g2):
        assert torch.allclose(a, b, rtol=1e-11, atol=1e-12)
    # Gradient-only evaluation: NaN value, identical gradients.
    v = affine_pair_loss(A, B, al, be, "sum", with_value=False)
    assert torch.isnan(v).all()
    g3 = torch.autograd.grad(v.sum(), (A, B, al, be))
    g4 = torch.autograd.grad(affine_pair_loss(A, B, al, be, "sum").sum(), (A, B, al, be))
    for a, b in zip(g3, g4):
        assert torch.equal(a, b)


@pytest.mark.parametrize("param", ["relative", "absolute"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_torch_gradient_matches_numpy_reference(param, reduction):
    rng = np.random.default_rng(9)
    S, N, d = 3, 7, 4
    U, V = unit(rng, S, N, d), unit(rng, S, N, d)
    t = np.array([0.8, 6.0, 250.0])
    b = np.array([0.2, -0.4, 0.6]) * (t if param == "absolute" else 1.0)
    A = torch.tensor(U, requires_grad=True)
    B = torch.tensor(V, requires_grad=True)
    tt = torch.tensor(t, requires_grad=True)
    bb = torch.tensor(b, requires_grad=True)
    L = pair_loss_torch(A, B, tt, bb, param=param, reduction=reduction)
    L.sum().backward()
    for s in range(S):
        dU, dV, dt, db = pair_loss_grad(U[s], V[s], t[s], b[s], param=param, reduction=reduction)
        scale = max(1.0, np.abs(dU).max())
        assert np.allclose(A.grad[s].numpy(), dU, rtol=1e-11, atol=1e-12 * scale)
        assert np.allclose(B.grad[s].numpy(), dV, rtol=1e-11, atol=1e-12 * scale)
        assert tt.grad[s].item() == pytest.approx(dt, rel=1e-10, abs=1e-12 * scale)
        assert bb.grad[s].item() == pytest.approx(db, rel=1e-10, abs=1e-12 * scale)
    # and the NumPy gradient is the gradient of the NumPy loss (central differences)
    h = 1e-6
    dU, dV, dt, db = pair_loss_grad(U[0], V[0], 1.7, 0.3, param=param, reduction=reduction)
    E = np.zeros_like(U[0])
    E[2, 1] = h
    fd = (pair_loss(U[0] + E, V[0], 1.7, 0.3, param=param, reduction=reduction)
          - pair_loss(U[0] - E, V[0], 1.7, 0.3, param=param, reduction=reduction)) / (2 * h)
    assert fd == pytest.approx(dU[2, 1], rel=1e-6, abs=1e-9)
    fd_t = (pair_loss(U[0], V[0], 1.7 + h, 0.3, param=param, reduction=reduction)
            - pair_loss(U[0], V[0], 1.7 - h, 0.3, param=param, reduction=reduction)) / (2 * h)
    assert fd_t == pytest.approx(dt, rel=1e-6, abs=1e-9)
    fd_b = (pair_loss(U[0], V[0], 1.7, 0.3 + h, param=param, reduction=reduction)
            - pair_loss(U[0], V[0], 1.7, 0.3 - h, param=param, reduction=reduction)) / (2 * h)
    assert fd_b == pytest.approx(db, rel=1e-6, abs=1e-9)


def test_bad_input():
    rng = np.random.default_rng(7)
    U = unit(rng, 4, 3)
    with pytest.raises(ConfigurationError):
        pair_loss(U, U[:3], 1.0, 0.0)
    with pytest.raises(ConfigurationError):
        pair_loss(U, U, 0.0, 0.0)
    with pytest.raises(ConfigurationError):
        pair_loss(U, U, 1.0, 0.0, param="nope")
    with pytest.raises(ConfigurationError):
        pair_loss(U, U, 1.0, 0.0, reduction="max")
    bad = np.stack([U, U])
    bad[0, 0, 0] = np.nan
    with pytest.raises(ConfigurationError):
        sigmoid_loss(bad, 1.0, 0.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
def test_cuda_matches_cpu():  # pragma: no cover - needs a GPU
    rng = np.random.default_rng(8)
    X = torch.tensor(unit(rng, 2, 2, 7, 3))
    t = torch.tensor([2.0, 30.0], dtype=torch.float64)
    b = torch.tensor([0.1, 0.4], dtype=torch.float64)
    cpu = sigmoid_loss_torch(X, t, b, ((0, 1),))
    gpu = sigmoid_loss_torch(X.cuda(), t.cuda(), b.cuda(), ((0, 1),)).cpu()
    assert torch.allclose(cpu, gpu, rtol=1e-12)

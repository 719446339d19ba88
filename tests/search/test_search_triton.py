"""The search with the Triton kernel (issue 12), on the CPU through Triton's interpreter, and the
kernel selection.  TRITON_INTERPRET=1 is set before triton is imported (as in test_objective_triton)."""
import os

os.environ["TRITON_INTERPRET"] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import triton  # noqa: E402,F401  (no importorskip: CI must fail, not skip, without triton)

from constellations.core.errors import ConfigurationError  # noqa: E402
from constellations.objective.reference import Stopped  # noqa: E402
from constellations.objective.reference import value_and_grad as numpy_vg  # noqa: E402
from constellations.search import search
from constellations.objective import backends as kernels  # noqa: E402

SHORT = (10.0, 100.0, 1000.0)  # a short continuation: the interpreter is slow


def test_triton_search_reaches_the_octahedron():
    """N = 6, d = 3 tied: the restart runs on the Triton kernel (interpreted), the polish makes it exact."""
    r = search(6, 3, tied=True, restarts=1, seed=0, backend="triton", betas=SHORT, hops=0, constructions=False)
    assert r.backend == "triton" and r.extra["found_by"] in ("restart", "polish")
    assert r.restart_margins[0] > 0.49  # the kernel itself got there (before the polish)
    assert abs(r.margin - 0.5) < 1e-9 and r.margin_certified <= r.margin


def test_triton_batched_restarts_reach_the_simplex():
    """Batched restarts (float64 rows, float32 kernel): the regular simplex, m = 2/3 (Theorem 3.4)."""
    r = search(4, 3, tied=True, restarts=2, batch=2, seed=0, backend="triton", betas=(10.0, 1000.0), hops=0,
               constructions=False)
    assert r.backend == "triton" and r.restarts == 2
    assert min(r.restart_margins) > 0.66 and abs(r.margin - 2 / 3) < 1e-9


def test_triton_kernel_accepts_stop_and_matches_the_reference():
    X = np.random.default_rng(0).standard_normal((2, 7, 3))
    X /= np.linalg.norm(X, axis=-1, keepdims=True)
    vg = kernels.kernel("triton", "cpu")
    with pytest.raises(Stopped):
        vg(X, 100.0, [(0, 1)], stop=lambda: True)
    F, G = vg(X, 100.0, [(0, 1)])
    F0, G0 = numpy_vg(X, 100.0, [(0, 1)])
    # beta = 100 runs in tf32 (precision_for): the value bound of docs/math.md 6.5 with tf32 operands
    # (u_op = 2^-11, about u/2 = 2^-11 in all) plus the float64 reference's
    from test_objective_triton import U32, U64, error_bound  # tests/ is on sys.path (rootdir conftest)
    tol = error_bound(U32, 100.0, 7, 3, 1, u_op=2.0 ** -11)[0] + error_bound(U64, 100.0, 7, 3, 1, u_row=0.0,
                                                                             n_sum=49)[0]
    assert abs(F - F0) <= tol and G.shape == X.shape


def test_auto_on_cuda_picks_triton_when_available(monkeypatch):
    monkeypatch.setattr(kernels, "triton_available", lambda device: True)
    assert kernels.resolve_backend("auto", "cuda", 1000, 64) == "triton"
    monkeypatch.setattr(kernels, "triton_available", lambda device: False)
    assert kernels.resolve_backend("auto", "cuda", 1000, 64) == "torch"
    with pytest.raises(ConfigurationError, match="triton"):
        kernels.resolve_backend("triton", "cuda", 1000, 64)
    # on the CPU "auto" never chooses the (slow) interpreter
    assert kernels.resolve_backend("auto", "cpu", 10, 3) in ("numpy", "numba")


def test_triton_on_cpu_needs_the_interpreter(monkeypatch):
    assert kernels.resolve_backend("triton", "cpu", 10, 3) == "triton"
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ConfigurationError, match="TRITON_INTERPRET"):
        kernels.resolve_backend("triton", "cpu", 10, 3)
    with pytest.raises(ConfigurationError, match="torch or triton"):
        kernels.resolve_backend("numba", "cuda", 10, 3)
    with pytest.raises(ConfigurationError, match="torch or triton"):
        search(5, 3, restarts=1, batch=2, backend="numba")

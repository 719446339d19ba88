"""The fused Triton kernel against the NumPy reference, on the CPU through Triton's interpreter.

TRITON_INTERPRET=1 is set before triton is imported, so these tests need no GPU; they need triton
installed (the test extra) and deliberately do not skip without it.
"""
import os

os.environ["TRITON_INTERPRET"] = "1"

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import triton  # noqa: E402,F401  (no importorskip: CI must fail, not skip, without triton)

from constellations.errors import ConfigurationError  # noqa: E402
from constellations.solvers import objective_numpy, objective_torch  # noqa: E402
from constellations.solvers import objective_triton as ot  # noqa: E402

BETAS = (1.0, 50.0, 1000.0)
# (shape, edges): free M = 2..4 with complete, star and explicit graphs; tied codes.  N = 5..40: with
# 16 x 16 tiles every N but 5 spans several tiles, the last one partial (17 and 33 leave 1 row); d = 2, 3, 7, 16.
CASES = [
    ((2, 5, 2), None),
    ((3, 37, 7), None),
    ((4, 20, 16), [(0, 1), (0, 2), (0, 3)]),  # star
    ((3, 40, 3), [(0, 2), (2, 1)]),  # path, edges given out of order
    ((5, 2), None),
    ((33, 3), None),
    ((40, 16), None),
    ((17, 7), None),
]
# fp32 products carry errors of about 2^-24 sqrt(d): F (a soft maximum of them) moves by as much; the
# weights exp(beta c) multiply them by beta, hence the gradient tolerance 1e-5 (1 + beta / 250).
F_ATOL = 2e-6


def unit_rows(shape, seed):
    X = np.random.default_rng(seed).standard_normal(shape)
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def grad_err(G, G0):
    return np.abs(G - G0).max() / np.abs(G0).max()


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("tiles", [None, {"block_m": 16, "block_n": 16}], ids=["default", "16x16"])
def test_fp32_matches_numpy(case, tiles):
    shape, edges = CASES[case]
    X = unit_rows(shape, case)
    for beta in BETAS:
        F0, G0 = objective_numpy.value_and_grad(X, beta, edges)
        F, G = ot.value_and_grad(X, beta, edges, device="cpu", precision="ieee", tiles=tiles)
        assert G.shape == X.shape and G.dtype == np.float64
        assert abs(F - F0) <= F_ATOL, (beta, F, F0)
        assert grad_err(G, G0) <= 1e-5 * (1 + beta / 250), beta


@pytest.mark.parametrize("case", [1, 3, 5, 7])
def test_float64_matches_numpy_tightly(case):
    shape, edges = CASES[case]
    X = unit_rows(shape, 10 + case)
    for beta in BETAS:
        F0, G0 = objective_numpy.value_and_grad(X, beta, edges)
        F, G = ot.value_and_grad(X, beta, edges, device="cpu", dtype=torch.float64)
        assert abs(F - F0) <= 1e-12
        assert grad_err(G, G0) <= 1e-11


def test_reduction_slices_and_output_chunks():
    """d = 20 in NUM_K = 2 slices of 16 (the last one partial) and NCHUNK = 2 output chunks of 16, N = 37 in
    2 row tiles and 2 column tiles: the paths taken at d = 768 on the GPU."""
    tiles = dict(block_m=32, block_n=32, block_k=16, dv=16)
    cfg = ot.tile_config(20, **tiles)
    assert (cfg["NUM_K"], cfg["NCHUNK"]) == (2, 2)
    for shape, edges in (((3, 37, 20), [(0, 1), (2, 1)]), ((37, 20), None)):
        X = unit_rows(shape, 3)
        for beta in (2.0, 300.0):
            F0, G0 = objective_numpy.value_and_grad(X, beta, edges)
            F, G = ot.value_and_grad(X, beta, edges, device="cpu", precision="ieee", tiles=tiles)
            assert abs(F - F0) <= F_ATOL
            assert grad_err(G, G0) <= 1e-5 * (1 + beta / 250)


def test_bf16_value_within_the_rounding_bound():
    """bf16 inputs move every c by at most u = 2^-7 (+ fp32 accumulation), so F by at most u/2, at any beta.
    The weights move by up to exp(2 beta u): the gradient is only asked to keep its direction in the range
    where precision_for picks bf16 (beta <= 16)."""
    for case in range(len(CASES)):
        shape, edges = CASES[case]
        X = unit_rows(shape, 20 + case)
        d = shape[-1]
        for beta in BETAS + (16.0,):
            F0, G0 = objective_numpy.value_and_grad(X, beta, edges)
            F, G = ot.value_and_grad(X, beta, edges, device="cpu", precision="bf16")
            assert abs(F - F0) <= 0.5 * (ot.UNIT_ROUNDOFF["bf16"] + d * 2.0 ** -23) + 1e-7, (case, beta)
            if beta <= 16:
                cos = float((G * G0).sum() / np.linalg.norm(G) / np.linalg.norm(G0))
                assert cos > 0.99, (case, beta, cos)


def test_precision_rule():
    assert ot.UNIT_ROUNDOFF["bf16"] * 16 == ot.AUTO_TOLERANCE == ot.UNIT_ROUNDOFF["tf32"] * 128
    got = [ot.precision_for(b) for b in (1, 16, 17, 128, 129, 10240, 131072, 131073)]
    assert got == ["bf16", "bf16", "tf32", "tf32", "tf32x3", "tf32x3", "tf32x3", "ieee"]


@pytest.mark.parametrize("precision", ["tf32", "tf32x3", "auto"])
def test_tensor_core_precisions_run(precision):
    """The interpreter multiplies tf32 / tf32x3 operands in fp32, so this checks the plumbing (the
    rounding itself happens only on a GPU, where benchmarks/gpu_check.py measures it)."""
    X = unit_rows((2, 19, 7), 8)
    F0, G0 = objective_numpy.value_and_grad(X, 200.0)
    F, G = ot.value_and_grad(X, 200.0, device="cpu", precision=precision)
    assert abs(F - F0) <= F_ATOL and grad_err(G, G0) <= 2e-5


def test_batched_tensor_matches_reference_and_torch():
    rng = np.random.default_rng(5)
    Xb = rng.standard_normal((3, 3, 21, 5))
    Xb /= np.linalg.norm(Xb, axis=-1, keepdims=True)
    edges = [(0, 1), (1, 2)]
    T = torch.tensor(Xb, dtype=torch.float32)
    F, G = ot.value_and_grad_tensor(T, 30.0, edges, precision="ieee")
    assert F.shape == (3,) and G.shape == T.shape and G.dtype == torch.float32
    Ft, Gt = objective_torch.value_and_grad_tensor(torch.tensor(Xb), 30.0, edges)
    for b in range(3):
        F0, G0 = objective_numpy.value_and_grad(Xb[b], 30.0, edges)
        assert abs(float(F[b]) - F0) <= F_ATOL
        assert grad_err(G[b].double().numpy(), G0) <= 1e-5
        assert abs(float(Ft[b]) - F0) <= 1e-12
    # float64 state, float32 kernel (the batched search's use): float64 out, tangent to the float64 rows
    F, G = ot.value_and_grad_tensor(torch.tensor(Xb), 30.0, edges, precision="ieee", dtype=torch.float32)
    assert F.dtype == G.dtype == torch.float64
    assert float((G * torch.tensor(Xb)).sum(-1).abs().max()) <= 1e-15
    for b in range(3):
        F0, G0 = objective_numpy.value_and_grad(Xb[b], 30.0, edges)
        assert abs(float(F[b]) - F0) <= F_ATOL and grad_err(G[b].numpy(), G0) <= 1e-5
    # tied batch
    C = torch.tensor(Xb[:, 0], dtype=torch.float64)
    F, G = ot.value_and_grad_tensor(C, 30.0, tied=True)
    for b in range(3):
        F0, G0 = objective_numpy.value_and_grad(Xb[b, 0], 30.0)
        assert abs(float(F[b]) - F0) <= 1e-12
        assert grad_err(G[b].numpy(), G0) <= 1e-11


def test_tied_value_of_the_regular_simplex():
    """N = d + 1 points of the simplex: all N(N-1) products are -1/d, so Q = -1/d + log(N(N-1))/beta and the
    Riemannian gradient vanishes (by symmetry)."""
    d = 4
    E = np.eye(d + 1) - 1.0 / (d + 1)
    # rows of E: d + 1 vectors with equal pairwise angles spanning a d-dimensional subspace; coordinates in R^d
    U, S, Vt = np.linalg.svd(E)
    C = U[:, :d] * S[:d]
    C /= np.linalg.norm(C, axis=1, keepdims=True)
    beta = 7.0
    F, G = ot.value_and_grad(C, beta, device="cpu", dtype=torch.float64)
    N = d + 1
    assert F == pytest.approx(0.5 * (1 + 1.0 / d - np.log(N * (N - 1)) / beta), abs=1e-13)
    assert np.abs(G).max() <= 1e-13


def test_bad_input_raises():
    X = torch.tensor(unit_rows((2, 6, 3), 0), dtype=torch.float32)
    with pytest.raises(ConfigurationError, match="precision"):
        ot.value_and_grad_tensor(X[None], 1.0, precision="fp8")
    with pytest.raises(ConfigurationError, match="float32"):
        ot.value_and_grad_tensor(X[None].double(), 1.0, precision="bf16")
    with pytest.raises(ConfigurationError, match="float32 or float64"):
        ot.value_and_grad_tensor(X[None], 1.0, dtype=torch.float16)
    with pytest.raises(ConfigurationError, match="expects"):
        ot.value_and_grad_tensor(X, 1.0)
    with pytest.raises(ConfigurationError, match="edge"):
        ot.value_and_grad_tensor(X[None], 1.0, [(0, 2)])
    with pytest.raises(ConfigurationError, match="beta"):
        ot.value_and_grad_tensor(X[None], 0.0)
    with pytest.raises(ConfigurationError, match="N >= 2"):
        ot.value_and_grad_tensor(X[None, :, :1], 1.0)
    with pytest.raises(ConfigurationError, match="NaN"):
        ot.value_and_grad(np.full((2, 3, 2), np.nan), 1.0, device="cpu")
    with pytest.raises(ConfigurationError, match="power of two"):
        ot.tile_config(8, block_m=24)


def test_stop_abandons_the_evaluation():
    with pytest.raises(objective_numpy.Stopped):
        ot.value_and_grad(unit_rows((2, 6, 3), 0), 1.0, device="cpu", stop=lambda: True)


def test_beta_is_not_rounded_to_float32():
    """A float kernel argument would be fp32; beta = 0.1 (inexact in binary) must enter in float64."""
    X = unit_rows((2, 9, 3), 4)
    F0, G0 = objective_numpy.value_and_grad(X, 0.1)
    F, G = ot.value_and_grad(X, 0.1, device="cpu", dtype=torch.float64)
    assert abs(F - F0) <= 1e-12 * abs(F0)


def test_cpu_without_interpreter_is_refused(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    assert not ot.available("cpu")
    with pytest.raises(ConfigurationError, match="TRITON_INTERPRET"):
        ot.value_and_grad(unit_rows((2, 6, 3), 0), 1.0, device="cpu")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert ot.available("cpu")


def test_package_does_not_import_triton():
    code = ("import sys; import constellations.solvers.objective_triton, constellations.solvers.search; "
            "sys.exit('triton' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_gpu_check_smoke(tmp_path):
    """benchmarks/gpu_check.py --smoke runs every section on the CPU (kernel under the interpreter) and
    writes its JSON; the tiny accuracy section is a real check against torch float64."""
    out = tmp_path / "check.json"
    env = dict(os.environ, TRITON_INTERPRET="1", CUDA_VISIBLE_DEVICES="")
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
    proc = subprocess.run([sys.executable, str(script), "--smoke", str(out)], env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rep = json.loads(out.read_text())
    assert rep["smoke"] is True and "device" in rep and "device:" in proc.stdout
    secs = rep["sections"]
    assert list(secs) == ["kernel", "accuracy", "search", "train", "analyze"]
    for name, rec in secs.items():
        assert rec["ok"], (name, rec.get("error"), rec.get("traceback"))
    for row in secs["kernel"]["shapes"]:
        assert row["matmul_seconds"]["fp32"] > 0 and row["torch_fallback"]["seconds"] > 0
        assert set(row["triton"]) == {"bf16", "tf32", "tf32x3", "ieee"}
        assert all(r["default"]["ratio"] > 0 for r in row["triton"].values())
    for r in secs["accuracy"]["results"]:
        if r["precision"] == "ieee":
            assert r["F_rel_err"] <= 1e-5 and r["G_rel_err"] <= 1e-5 * (1 + r["beta"] / 250), r
        if r["precision"] == "float64":
            assert max(r["F_rel_err"], r["G_rel_err"]) <= 1e-11, r
    assert secs["train"]["train_seconds"] > 0 and len(secs["train"]["margin"]) == 2
    assert secs["analyze"]["analyze_seconds"] > 0 and secs["analyze"]["analyze_seconds_no_gap"] > 0
    assert secs["search"]["margin_certified"] > 0
    assert "sections ok: kernel=yes, accuracy=yes, search=yes, train=yes, analyze=yes" in proc.stdout


def test_gpu_check_records_failures_and_cuts_overruns(tmp_path, monkeypatch):
    """A section that raises is recorded and the others still run; one that overruns its budget is cut."""
    import importlib.util
    import time

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check_under_test", path)
    gc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gc)

    def fine(self, rec, end):
        rec["figure"] = 1.0

    def boom(self, rec, end):
        raise RuntimeError("boom")

    def slow(self, rec, end):
        time.sleep(30)

    for name in ("kernel", "accuracy", "analyze"):
        monkeypatch.setattr(gc.Check, name, fine)
    monkeypatch.setattr(gc.Check, "train", boom)
    monkeypatch.setattr(gc.Check, "search", slow)
    monkeypatch.setitem(gc.SMOKE["budgets"], "search", 1.0)
    monkeypatch.setitem(gc.SMOKE["budgets"], "accuracy", 0.0)  # below the 5 s floor: skipped
    out = tmp_path / "c.json"
    t = time.time()
    gc.main(["--smoke", str(out)])
    assert time.time() - t < 20
    secs = json.loads(out.read_text())["sections"]
    assert secs["kernel"]["ok"] and secs["kernel"]["figure"] == 1.0 and secs["analyze"]["ok"]
    assert not secs["train"]["ok"] and secs["train"]["error"] == "RuntimeError: boom"
    assert not secs["search"]["ok"] and secs["search"]["timed_out"]
    assert not secs["accuracy"]["ok"] and "skipped" in secs["accuracy"]["error"]


# compile_kernel of benchmarks/triton_resources.py (argv: d, precision, script path) with the default tiles
AOT_COMPILE = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("triton_resources_under_test", sys.argv[3])
tr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tr)
ck, _ = tr.compile_kernel(int(sys.argv[1]), sys.argv[2], 90, {})
print(json.dumps({"shared": ck.metadata.shared, "mma": "mma" in ck.asm["ptx"]}))
"""


@pytest.mark.parametrize("d,precision", [(256, "bf16"), (768, "tf32x3")])
def test_kernel_compiles_for_hopper(d, precision):
    """The interpreter never compiles; this builds the real kernel for sm_90 (H100/H200) ahead of time with
    the ptxas that ships in the triton wheel (no GPU needed; a subprocess, since triton must be imported
    without TRITON_INTERPRET) with the default tiles of the two check shapes (one reduction slice at d = 256,
    several at d = 768), and checks that it uses tensor cores and fits the 227 KiB of shared memory an H100
    block may have."""
    env = dict(os.environ, TRITON_INTERPRET="0", TRITON_DEFAULT_FP_FUSION="1")
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "triton_resources.py"
    proc = subprocess.run([sys.executable, "-c", AOT_COMPILE, str(d), precision, str(script)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 0 < got["shared"] <= 227 * 1024 and got["mma"], got


def test_triton_resources_script():
    """benchmarks/triton_resources.py compiles for sm_90 without a GPU and reports registers and spills."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "triton_resources.py"
    proc = subprocess.run([sys.executable, str(script), "--dims", "16", "--precisions", "bf16"], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, TRITON_INTERPRET="0"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "FAILED" not in proc.stdout and "d=   16 bf16   sm_90: shared" in proc.stdout and "HGMMA" in proc.stdout

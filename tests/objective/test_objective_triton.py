"""The fused Triton kernel against the NumPy reference, on the CPU through Triton's interpreter.

TRITON_INTERPRET=1 is set before triton is imported, so these tests need no GPU; they need triton
installed (the test extra) and deliberately do not skip without it.
"""
import os

os.environ["TRITON_INTERPRET"] = "1"

import json  # noqa: E402
import math  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import triton  # noqa: E402,F401  (no importorskip: CI must fail, not skip, without triton)
from conftest import REPO  # noqa: E402

from constellations.core.errors import ConfigurationError  # noqa: E402
from constellations.objective import reference as objective_numpy
from constellations.objective import torch_kernels as objective_torch  # noqa: E402
from constellations.objective import triton_kernels as ot  # noqa: E402

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

# ---------------------------------------------------------------------------------------------------------
# Tolerances: the rounding-error bound of docs/math.md section 6.5 ("Error bound of one evaluation"), never a
# number that one Triton version happened to meet.  u is the unit roundoff of the arithmetic (2^-24 fp32,
# 2^-53 float64); first order in u (the neglected terms are below 1% of these here).
U32, U64 = 2.0 ** -24, 2.0 ** -53
ARG, FN = 5, 8  # an exponent argument beta (a - b) carries <= 5u relative error; exp and log <= 8u (4 ulps)
BF16_OP = 2.0 ** -8  # bf16 operands: 8 significant bits, round to nearest


def error_bound(u, beta, N, d, n_edges=1, tied=False, *, u_row=None, u_op=0.0, n_sum=None):
    """(|F - F*|, max |G - G*|) for one evaluation in unit roundoff u (docs/math.md 6.5, items (a)-(f)).

    u_row: relative error of the rows read against the exact ones (default u: the float32 copy of float64 rows);
    u_op: rounding of the matmul operands beyond that (bf16: 2^-8; the kernel then also rounds the weights);
    n_sum: the longest sum of the off-diagonal normaliser (kernel |E| N; the NumPy/torch references sum all
    |E| N^2 terms at once).  Every weight of a pair lies in a mass of at most 1 per point (6.5 (e)), so the
    gradient bound is absolute; |G| <= 1.
    """
    u_row = u if u_row is None else u_row
    T = -(-N // 16)  # column tiles of the sweep (BLOCK_N >= 16)
    K = n_edges * N if n_sum is None else n_sum
    lam = math.log(n_edges * N * N)
    a, e = ARG * u, FN * u
    dQ = 2 * (u_row + u_op) + d * u  # (a) products of the sweep
    dP = 2 * u_row + d * u  # (a) matched products (torch, rows as read)
    eps_p = 2 * a * beta + T * (e + u)  # (b) one accumulated term p * prod(alpha)
    eps_O = 2 * eps_p + (2 * N - 1) * u + u_row + 2 * u_op  # (b) O = o / l
    bL = eps_p + (N - 1) * u + e * (1 + lam) + 3 * u * lam + beta * u  # (c) beta |dL|
    bQ = bL + a * (2 * beta + lam) + e + (K - 1) * u + e * (1 + lam) + 3 * u * lam + beta * u  # (c) beta |dQ|
    eps_r = bL + bQ + a * (2 * beta + lam) + e  # (d) r = exp(beta (L - Q))
    tangent = (d + 3) * u + 2 * u_row  # (f)
    E_Q = math.exp(2 * beta * dQ) * (1 + eps_r + eps_O + (n_edges + 1) * u) - 1  # (e)
    if tied:
        return 0.5 * (dQ + bQ / beta) + u, E_Q + tangent
    eps_w = 2 * a * beta + e  # (d) one matched weight exp(-beta (c_ii - p))
    eps_v = 2 * eps_w + K * u  # (d) ... divided by their sum
    bP = eps_w + (K - 1) * u + e * (1 + lam) + 3 * u * lam + beta * u  # (c) beta |dP|
    E_P = math.exp(2 * beta * dP) * (1 + eps_v + u_row + (n_edges + 1) * u) - 1
    return 0.5 * (dP + bP / beta + dQ + bQ / beta) + u, 0.5 * (E_Q + E_P) + tangent


def tolerances(shape, edges, beta, kernel="fp32"):
    """Bound of the kernel ("fp32", "bf16", "float64", or "reference": another float64 reference that sums all
    pairs at once, such as objective_torch) plus that of the NumPy reference it is compared with."""
    N, d = shape[-2], shape[-1]
    tied = len(shape) == 2
    n_edges = 1 if tied else len(edges) if edges is not None else shape[0] * (shape[0] - 1) // 2
    ref = error_bound(U64, beta, N, d, n_edges, tied, u_row=0.0, n_sum=n_edges * N * N)
    if kernel == "reference":
        ker = ref
    elif kernel == "float64":
        ker = error_bound(U64, beta, N, d, n_edges, tied, u_row=0.0)
    else:
        ker = error_bound(U32, beta, N, d, n_edges, tied, u_op=BF16_OP if kernel == "bf16" else 0.0)
    return ker[0] + ref[0], ker[1] + ref[1]


def unit_rows(shape, seed):
    X = np.random.default_rng(seed).standard_normal(shape)
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def assert_within(F, G, F0, G0, tol, *info):
    """|F - F0| and max |G - G0| within the bounds tol = (tol_F, tol_G) of :func:`tolerances`."""
    eF, eG = abs(float(F) - float(F0)), float(np.abs(np.asarray(G) - np.asarray(G0)).max())
    assert eF <= tol[0], ("F", eF, tol[0], *info)
    assert eG <= tol[1], ("G", eG, tol[1], *info)


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("tiles", [None, {"block_m": 16, "block_n": 16}], ids=["default", "16x16"])
def test_fp32_matches_numpy(case, tiles):
    shape, edges = CASES[case]
    X = unit_rows(shape, case)
    for beta in BETAS:
        F0, G0 = objective_numpy.value_and_grad(X, beta, edges)
        F, G = ot.value_and_grad(X, beta, edges, device="cpu", precision="ieee", tiles=tiles)
        assert G.shape == X.shape and G.dtype == np.float64
        assert_within(F, G, F0, G0, tolerances(shape, edges, beta), beta)


@pytest.mark.parametrize("case", [0, 4])
def test_the_fp32_tolerance_rejects_bf16_and_a_wrong_sign(case):
    """The bound of 6.5 is worst-case, so it must still be tight enough to fail a wrong kernel: the bf16 kernel
    (a kernel that silently rounds its operands) and a gradient of the wrong sign both break it at every beta."""
    shape, edges = CASES[case]
    X = unit_rows(shape, case)
    for beta in BETAS:
        F0, G0 = objective_numpy.value_and_grad(X, beta, edges)
        tol_F, tol_G = tolerances(shape, edges, beta)
        F, G = ot.value_and_grad(X, beta, edges, device="cpu", precision="bf16")
        assert abs(F - F0) > tol_F or np.abs(G - G0).max() > tol_G, beta
        F, G = ot.value_and_grad(X, beta, edges, device="cpu", precision="ieee")
        assert np.abs(-G - G0).max() > 10 * tol_G, beta


@pytest.mark.parametrize("case", [1, 3, 5, 7])
def test_float64_matches_numpy_tightly(case):
    shape, edges = CASES[case]
    X = unit_rows(shape, 10 + case)
    for beta in BETAS:
        F0, G0 = objective_numpy.value_and_grad(X, beta, edges)
        F, G = ot.value_and_grad(X, beta, edges, device="cpu", dtype=torch.float64)
        assert_within(F, G, F0, G0, tolerances(shape, edges, beta, "float64"), beta)


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
            assert_within(F, G, F0, G0, tolerances(shape, edges, beta), beta)


def test_bf16_value_within_the_rounding_bound():
    """bf16 operands move every c by at most 2 * 2^-8 = UNIT_ROUNDOFF["bf16"] (+ the fp32 accumulation), so F by
    about half that, at any beta: the bound of 6.5 with u_op = 2^-8.  The weights move by up to exp(2 beta 2^-7),
    so that bound says little about the gradient; it is only asked to keep its direction (what the search
    uses) where precision_for picks bf16 (beta <= 16).  cos > 0.99 is a property, not a rounding bound: the
    bf16 operands are the round-to-nearest images of fixed inputs, so only fp32 roundings (relative 1e-4 at
    most here) vary between Triton versions, and 1 - cos is below 5e-4 in every case."""
    assert ot.UNIT_ROUNDOFF["bf16"] == 2 * BF16_OP
    for case in range(len(CASES)):
        shape, edges = CASES[case]
        X = unit_rows(shape, 20 + case)
        for beta in BETAS + (16.0,):
            F0, G0 = objective_numpy.value_and_grad(X, beta, edges)
            F, G = ot.value_and_grad(X, beta, edges, device="cpu", precision="bf16")
            assert abs(F - F0) <= tolerances(shape, edges, beta, "bf16")[0], (case, beta)
            if beta <= 16:
                cos = float((G * G0).sum() / np.linalg.norm(G) / np.linalg.norm(G0))
                assert cos > 0.99, (case, beta, cos)


def test_precision_rule():
    assert ot.UNIT_ROUNDOFF["bf16"] * 16 == ot.AUTO_TOLERANCE == ot.UNIT_ROUNDOFF["tf32"] * 128
    got = [ot.precision_for(b) for b in (1, 16, 17, 128, 129, 10240, 131072, 131073)]
    assert got == ["bf16", "bf16", "tf32", "tf32", "tf32x3", "tf32x3", "tf32x3", "ieee"]


@pytest.mark.parametrize("precision", ["tf32", "tf32x3", "auto"])
def test_tensor_core_precisions_run(precision):
    """The interpreter multiplies tf32 / tf32x3 operands in fp32, so this checks the plumbing against the fp32
    bound (the operand rounding itself happens only on a GPU, where benchmarks/gpu_check.py measures it)."""
    X = unit_rows((2, 19, 7), 8)
    F0, G0 = objective_numpy.value_and_grad(X, 200.0)
    F, G = ot.value_and_grad(X, 200.0, device="cpu", precision=precision)
    assert_within(F, G, F0, G0, tolerances(X.shape, None, 200.0))


def test_batched_tensor_matches_reference_and_torch():
    rng = np.random.default_rng(5)
    Xb = rng.standard_normal((3, 3, 21, 5))
    Xb /= np.linalg.norm(Xb, axis=-1, keepdims=True)
    edges = [(0, 1), (1, 2)]
    T = torch.tensor(Xb, dtype=torch.float32)
    F, G = ot.value_and_grad_tensor(T, 30.0, edges, precision="ieee")
    assert F.shape == (3,) and G.shape == T.shape and G.dtype == torch.float32
    Ft, Gt = objective_torch.value_and_grad_tensor(torch.tensor(Xb), 30.0, edges)
    tol32 = tolerances(Xb.shape[1:], edges, 30.0)
    tol_ref = tolerances(Xb.shape[1:], edges, 30.0, "reference")  # torch float64 against NumPy
    for b in range(3):
        F0, G0 = objective_numpy.value_and_grad(Xb[b], 30.0, edges)
        assert_within(F[b], G[b].double().numpy(), F0, G0, tol32, b)
        assert_within(Ft[b], Gt[b].numpy(), F0, G0, tol_ref, b)
    # float64 state, float32 kernel (the batched search's use): float64 out, tangent to the float64 rows: the
    # projection and this check leave |<G, x>| <= (2d + 4) u64 |G| |x| with |G| <= 1
    F, G = ot.value_and_grad_tensor(torch.tensor(Xb), 30.0, edges, precision="ieee", dtype=torch.float32)
    assert F.dtype == G.dtype == torch.float64
    assert float((G * torch.tensor(Xb)).sum(-1).abs().max()) <= (2 * 5 + 4) * U64
    for b in range(3):
        F0, G0 = objective_numpy.value_and_grad(Xb[b], 30.0, edges)
        assert_within(F[b], G[b].numpy(), F0, G0, tol32, b)
    # tied batch
    C = torch.tensor(Xb[:, 0], dtype=torch.float64)
    F, G = ot.value_and_grad_tensor(C, 30.0, tied=True)
    for b in range(3):
        F0, G0 = objective_numpy.value_and_grad(Xb[b, 0], 30.0)
        assert_within(F[b], G[b].numpy(), F0, G0, tolerances((21, 5), None, 30.0, "float64"), b)


def test_tied_value_of_the_regular_simplex():
    """N = 5 points of the regular simplex, the rows (5 e_i - 1)/sqrt(20) of R^5: all N(N-1) products are exactly
    -1/4, so Q = -1/4 + log(20)/beta, and the Riemannian gradient vanishes (the sum of the other rows is -C_i).
    The float64 rows are 4/sqrt(20) and -1/sqrt(20) with two roundings (u_row = 2 u); the closed form itself is
    evaluated with a few more."""
    N = 5
    C = (N * np.eye(N) - 1.0) / np.sqrt(N * (N - 1))
    beta = 7.0
    F, G = ot.value_and_grad(C, beta, device="cpu", dtype=torch.float64)
    tol_F, tol_G = error_bound(U64, beta, N, N, 1, True, u_row=2 * U64)
    assert abs(F - 0.5 * (1 + 1 / 4 - np.log(N * (N - 1)) / beta)) <= tol_F + 4 * U64
    assert np.abs(G).max() <= tol_G


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
    # rounding beta to fp32 would move F by about 2^-24 |log Z| / beta ~ 1e-6; the float64 bound is ~1e-13
    assert abs(F - F0) <= tolerances(X.shape, None, 0.1, "float64")[0]


def test_cpu_without_interpreter_is_refused(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    assert not ot.available("cpu")
    with pytest.raises(ConfigurationError, match="TRITON_INTERPRET"):
        ot.value_and_grad(unit_rows((2, 6, 3), 0), 1.0, device="cpu")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert ot.available("cpu")


def test_package_does_not_import_triton():
    code = ("import sys; import constellations.objective.triton_kernels, constellations.search; "
            "sys.exit('triton' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def _load_gpu_check():
    import importlib.util

    path = REPO / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check_under_test", path)
    gc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gc)
    return gc


def test_gpu_check_smoke(tmp_path):
    """benchmarks/gpu_check.py --smoke runs every section on the CPU (kernel under the interpreter) and
    writes its JSON; the tiny accuracy section is a real check against torch float64."""
    gc = _load_gpu_check()
    out = tmp_path / "check.json"
    env = dict(os.environ, TRITON_INTERPRET="1", CUDA_VISIBLE_DEVICES="")
    script = REPO / "benchmarks" / "gpu_check.py"
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
    # the accuracy section reports errors relative to its torch float64 reference (|F64|, max |G64|): recompute
    # that reference here to turn them back into absolute errors for the bounds of 6.5
    acc = secs["accuracy"]
    X = gc.unit_tensor((1, 2, acc["n"], acc["dim"]), "cpu", torch.float64, seed=1)
    kinds = {"ieee": "fp32", "float64": "float64", "bf16": "bf16"}
    checked = set()
    for r in acc["results"]:
        if r["precision"] not in kinds:  # tf32 / tf32x3: fp32 products under the interpreter, no GPU rounding
            continue
        Xr = X[:, 0] if r["tied"] else X
        F64, G64 = objective_torch.value_and_grad_tensor(Xr, r["beta"], tied=r["tied"])
        # the kernel's bound plus the float64 reference's (the same for torch as for NumPy)
        tol_F, tol_G = tolerances(tuple(Xr.shape[1:]), None, r["beta"], kinds[r["precision"]])
        assert r["F_rel_err"] * abs(float(F64[0])) <= tol_F, r
        if r["precision"] != "bf16":  # the bf16 gradient bound says little (see the bf16 test)
            assert r["G_rel_err"] * float(G64.abs().max()) <= tol_G, r
        checked.add(r["precision"])
    assert checked == set(kinds)
    assert secs["train"]["train_seconds"] > 0 and len(secs["train"]["margin"]) == 2
    assert secs["analyze"]["analyze_seconds"] > 0 and secs["analyze"]["analyze_seconds_no_gap"] > 0
    assert secs["search"]["margin_certified"] > 0
    assert "sections ok: kernel=yes, accuracy=yes, search=yes, train=yes, analyze=yes" in proc.stdout


def test_gpu_check_records_failures_and_cuts_overruns(tmp_path, monkeypatch):
    """A section that raises is recorded and the others still run; one that overruns its budget is cut."""
    import time

    gc = _load_gpu_check()

    def fine(self, rec, end):
        rec["figure"] = 1.0

    def boom(self, rec, end):
        raise RuntimeError("boom")

    def slow(self, rec, end):
        time.sleep(120)

    for name in ("kernel", "accuracy", "analyze"):
        monkeypatch.setattr(gc.Check, name, fine)
    monkeypatch.setattr(gc.Check, "train", boom)
    monkeypatch.setattr(gc.Check, "search", slow)
    monkeypatch.setitem(gc.SMOKE["budgets"], "search", 1.0)
    monkeypatch.setitem(gc.SMOKE["budgets"], "accuracy", 0.0)  # below the 5 s floor: skipped
    out = tmp_path / "c.json"
    t = time.time()
    gc.main(["--smoke", str(out)])
    # a deadline, not a timing: the section is cut at its 1 s budget instead of sleeping 120 s; 60 s leaves room
    # for any load (the other sections do nothing)
    assert time.time() - t < 60
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
    script = REPO / "benchmarks" / "triton_resources.py"
    proc = subprocess.run([sys.executable, "-c", AOT_COMPILE, str(d), precision, str(script)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 0 < got["shared"] <= 227 * 1024 and got["mma"], got


def test_triton_resources_script():
    """benchmarks/triton_resources.py compiles for sm_90 without a GPU and reports registers and spills."""
    script = REPO / "benchmarks" / "triton_resources.py"
    proc = subprocess.run([sys.executable, str(script), "--dims", "16", "--precisions", "bf16"], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, TRITON_INTERPRET="0"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "FAILED" not in proc.stdout and "d=   16 bf16   sm_90: shared" in proc.stdout and "HGMMA" in proc.stdout

r"""The smoothed margin and its Riemannian gradient as one fused Triton kernel (GPU; CPU interpreter).

Same function and semantics as :mod:`constellations.objective.reference` (the reference; the
formulas are in its docstring and in docs/math.md section 3): :math:`F_\beta = \tfrac12(P_\beta -
Q_\beta)` in free mode, :math:`\tfrac12(1 - Q_\beta)` for a tied code, and the Riemannian gradient on
the product of spheres.  Entry points:

- ``value_and_grad(X, beta, edges=None, *, block=None, device=None, dtype=None, precision="auto",
  tiles=None, stop=None)``: the common signature; NumPy in, ``(float, float64 ndarray)`` out
  (device default "cuda" when available; dtype default float32).
- ``value_and_grad_tensor(X, beta, edges=None, *, tied=False, block=None, precision="auto",
  tiles=None, stop=None, dtype=None)``: tensors in and out, batched over restarts like
  :func:`constellations.objective.torch_kernels.value_and_grad_tensor` (same positional arguments,
  ``tied`` and ``stop``): X has shape (B, M, N, d) (free) or (B, N, d) (tied) in float32 or float64;
  F has shape (B,), G the shape of X; ``dtype=torch.float32`` runs a float64 X in float32.
- ``available(device)``: whether this backend can run there (the search falls back to torch if not).

Pass structure (the off-diagonal part :math:`Q_\beta`; the matched part :math:`P_\beta` is O(E N d)
and stays in torch)
---------------------------------------------------------------------------------------------------
Write :math:`c_{ij} = \langle A_i, B_j\rangle` for a *directed* edge (A, B) = (X_k, X_l) and
:math:`Z = \sum_e \sum_{i\ne j} e^{\beta c^e_{ij}}`, so :math:`Q = \beta^{-1}\log Z` and

.. math::

    \partial Q/\partial A_i = \sum_{j\ne i} w_{ij} B_j, \qquad
    \partial Q/\partial B_j = \sum_{i\ne j} w_{ij} A_i, \qquad w_{ij} = e^{\beta(c_{ij} - Q)}.

The column side of edge (k, l) is the row side of the reversed edge (l, k) (same products, same
excluded diagonal), so ONE kernel computes, for every directed edge and every row i, in a single
sweep over column tiles (the flash-attention forward recurrence, online log-sum-exp):

.. math::

    m_i \leftarrow \max(m_i, \max_j c_{ij}), \quad
    \ell_i \leftarrow \ell_i e^{\beta(m_i^{old} - m_i)} + \sum_j e^{\beta(c_{ij} - m_i)}, \quad
    o_i \leftarrow o_i e^{\beta(m_i^{old} - m_i)} + \sum_j e^{\beta(c_{ij} - m_i)} B_j,

and writes :math:`L_i = m_i + \beta^{-1}\log\ell_i` (a row soft-max, in units of c) and
:math:`O_i = o_i/\ell_i`.  The (row tile) x (column tile) block of c lives only in registers /
shared memory: it is never written to GPU memory, and every pair is visited once per direction.
Then, in O(E N d) torch work, :math:`Q = \beta^{-1}\log\sum_{e,i} e^{\beta L^e_i}` (over the forward
edges; the reversed ones hold the same sum) and :math:`\partial Q/\partial A_i = e^{\beta(L_i - Q)}
O_i`.  The global normaliser is applied after the sweep, so no second sweep is needed: the
flash-attention backward's second pass is replaced by running the forward recurrence on the
transposed edge.  Cost per free edge: four matmul-sized products (c and the weighted sum, each
direction), as in a forward + backward, when the (rows, d) accumulator fits in registers; a wide d
is cut into NCHUNK output chunks, each forming c again (:func:`tile_config`).  Exponentials: 2 N^2
per edge.

**Tied case (symmetry).**  For a code C the block matrix is symmetric, so the column side equals the
row side: one directed edge (C, C), two products, and :math:`\partial Q/\partial C_i =
2 e^{\beta(L_i - Q)} O_i` (the factor 2 cancels the 1/2 of F).  Visiting only j > i tiles would
save a further quarter of the products, but needs atomics and a shift known before the sweep; not
done.

**Shifts.**  The running maximum is kept in units of c and every exponent is formed as
:math:`\beta (c - m)`, a difference of nearby fp32 numbers times beta: nothing overflows at any beta
and the argument keeps fp32 relative accuracy even at beta = 10^4 (forming beta c first would lose
|beta c| 2^-24 in absolute terms).

Precision (``precision`` argument; the matmuls accumulate in fp32, or fp64 for float64 input)
-------------------------------------------------------------------------------------------
``"ieee"`` (fp32 FMA, no tensor cores), ``"tf32"`` (tensor cores, inputs rounded to 10 mantissa
bits), ``"tf32x3"`` (tensor cores, each input split into two tf32 numbers hi + lo and the product
formed as hi hi' + hi lo' + lo hi': about fp32 accuracy at three tf32 products' cost) or ``"bf16"``
(tensor cores, both products with bf16 inputs).  Rounding the inputs perturbs each product by
:math:`|\delta c| \le u \sum_t |A_{it} B_{jt}| \le u` for unit rows (Cauchy-Schwarz) with
u = 2^-7 (bf16: 8 significant bits, each input off by at most 2^-8), 2^-10 (tf32: 11 bits) or
2^-20 (tf32x3: |x - hi - lo| <= 2^-22 |x| per input and the dropped lo lo' <= 2^-22, with room for
the partial sums), plus the fp32 accumulation, about :math:`d\,2^{-24}`.  A
perturbation of every c by at most :math:`\delta` moves :math:`Q_\beta` (a soft maximum) by at most
:math:`\delta`, whatever beta, but multiplies each weight :math:`w_{ij}` by up to
:math:`e^{\pm 2\beta\delta}`: the gradient degrades as beta grows.  ``"auto"`` (:func:`precision_for`)
picks the cheapest precision with :math:`\beta u \le 1/8` (weights within about 25%; the search
re-verifies its result in float64 anyway): bf16 for beta <= 16, tf32 for beta <= 128, tf32x3 for
beta <= 131072 (every stage of the search's continuation, which ends at 10240), ieee above.
The value is good to :math:`u/2` in every precision (:math:`|\delta F| \le |\delta Q|/2`).
float64 input always runs in ieee (fp64) arithmetic.

Where it runs
-------------
On a CUDA tensor, compiled Triton.  On a CPU tensor only under Triton's interpreter
(``TRITON_INTERPRET=1`` set before triton is first imported), which is how the tests check it
against the NumPy reference; there tf32 is computed exactly (the interpreter multiplies in fp32)
and bf16 is emulated: the operands are the same bf16 numbers (X is rounded to nearest by torch
before the launch, the weights by the kernel, ``rtne``) and are multiplied in fp32, as the tensor
cores do.  Otherwise, or if triton is not installed, the entry points raise
:class:`~constellations.core.errors.ConfigurationError`; :func:`available` lets a caller choose the torch
fallback instead.  Triton is imported lazily: the package does not require it.
"""
from __future__ import annotations

import math
import os

import numpy as np

from constellations.core.errors import ConfigurationError

from constellations.objective.reference import check_stop, default_edges

__all__ = ["value_and_grad", "value_and_grad_tensor", "available", "precision_for", "tile_config",
           "PRECISIONS", "UNIT_ROUNDOFF"]

PRECISIONS = ("auto", "ieee", "tf32", "tf32x3", "bf16")
#: Worst-case relative perturbation of one inner product of unit rows from rounding the inputs.
UNIT_ROUNDOFF = {"bf16": 2.0 ** -7, "tf32": 2.0 ** -10, "tf32x3": 2.0 ** -20, "ieee": 2.0 ** -23}
#: ``precision="auto"`` keeps beta * UNIT_ROUNDOFF[p] at most this.
AUTO_TOLERANCE = 0.125

_KERNELS = {}


def precision_for(beta: float) -> str:
    """Cheapest input precision with ``beta * UNIT_ROUNDOFF <= AUTO_TOLERANCE`` (module docstring)."""
    for p in ("bf16", "tf32", "tf32x3"):
        if beta * UNIT_ROUNDOFF[p] <= AUTO_TOLERANCE:
            return p
    return "ieee"


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes")


def available(device="cuda") -> bool:
    """True if triton imports and can run on ``device`` (CUDA, or CPU under TRITON_INTERPRET=1)."""
    try:
        import torch
        import triton  # noqa: F401
    except ImportError:
        return False
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.is_available()
    return dev.type == "cpu" and _interpreting()


def _kernel():
    """Define the Triton kernel on first use (``triton.jit`` reads TRITON_INTERPRET when it decorates)."""
    key = _interpreting()
    if key in _KERNELS:
        return _KERNELS[key]
    try:
        import triton
        import triton.language as tl
    except ImportError:
        raise ConfigurationError("the triton backend needs the 'triton' package (pip install triton); "
                                 "use backend 'torch' instead") from None

    @triton.jit
    def _row_softmax_kernel(X, ROWS, COLS, Lout, Oout, N, D, BETA,
                            sxb, sxm, sxn, sxd, slb, sle, soB, soE, son, sod,
                            BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                            NUM_K: tl.constexpr, DV: tl.constexpr, NCHUNK: tl.constexpr,
                            PREC: tl.constexpr, EMULATE_BF16: tl.constexpr, IS64: tl.constexpr):
        # program: (row tile x output chunk, directed edge, batch entry)
        pid0 = tl.program_id(0)
        e = tl.program_id(1)
        b = tl.program_id(2).to(tl.int64)
        beta = tl.load(BETA)  # a tensor of X's dtype: a float argument would be rounded to fp32
        tile = pid0 // NCHUNK
        chunk = pid0 % NCHUNK
        km = tl.load(ROWS + e).to(tl.int64)
        lm = tl.load(COLS + e).to(tl.int64)
        A = X + b * sxb + km * sxm
        Bm = X + b * sxb + lm * sxm
        offs_m = tile * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_k = tl.arange(0, BLOCK_K)
        offs_v = chunk * DV + tl.arange(0, DV)
        row_ok = offs_m < N
        if NUM_K == 1:
            a = tl.load(A + offs_m[:, None] * sxn + offs_k[None, :] * sxd,
                        mask=row_ok[:, None] & (offs_k[None, :] < D), other=0.0)
        if IS64:
            m_i = tl.full([BLOCK_M], float("-inf"), tl.float64)
            l_i = tl.zeros([BLOCK_M], tl.float64)
            o_i = tl.zeros([BLOCK_M, DV], tl.float64)
        else:
            m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
            l_i = tl.zeros([BLOCK_M], tl.float32)
            o_i = tl.zeros([BLOCK_M, DV], tl.float32)
        for start_n in range(0, N, BLOCK_N):
            offs_n = start_n + tl.arange(0, BLOCK_N)
            col_ok = offs_n < N
            # c = A_i . B_j over the full dimension, in NUM_K slices of BLOCK_K
            if NUM_K == 1:
                bt = tl.load(Bm + offs_n[None, :] * sxn + offs_k[:, None] * sxd,
                             mask=col_ok[None, :] & (offs_k[:, None] < D), other=0.0)
                if PREC == "bf16":  # X arrives in bf16
                    if EMULATE_BF16:
                        c = tl.dot(a.to(tl.float32), bt.to(tl.float32), input_precision="ieee")
                    else:
                        c = tl.dot(a, bt)
                else:
                    c = tl.dot(a, bt, input_precision=PREC)
            else:
                c = tl.zeros([BLOCK_M, BLOCK_N], o_i.dtype)
                for kk in range(0, NUM_K):
                    kx = kk * BLOCK_K + offs_k
                    ak = tl.load(A + offs_m[:, None] * sxn + kx[None, :] * sxd,
                                 mask=row_ok[:, None] & (kx[None, :] < D), other=0.0)
                    bk = tl.load(Bm + offs_n[None, :] * sxn + kx[:, None] * sxd,
                                 mask=col_ok[None, :] & (kx[:, None] < D), other=0.0)
                    if PREC == "bf16":
                        if EMULATE_BF16:
                            c += tl.dot(ak.to(tl.float32), bk.to(tl.float32), input_precision="ieee")
                        else:
                            c += tl.dot(ak, bk)
                    else:
                        c += tl.dot(ak, bk, input_precision=PREC)
            keep = col_ok[None, :] & (offs_m[:, None] != offs_n[None, :])
            c = tl.where(keep, c, float("-inf"))
            m_new = tl.maximum(m_i, tl.max(c, axis=1))
            # rows with nothing seen yet: shift by 0 so that exp(-inf) = 0, never exp(nan)
            m_use = tl.where(m_new == float("-inf"), 0.0, m_new)
            alpha = tl.exp((m_i - m_use) * beta)
            p = tl.exp((c - m_use[:, None]) * beta)
            l_i = l_i * alpha + tl.sum(p, axis=1)
            bv = tl.load(Bm + offs_n[:, None] * sxn + offs_v[None, :] * sxd,
                         mask=col_ok[:, None] & (offs_v[None, :] < D), other=0.0)
            if PREC == "bf16":
                if EMULATE_BF16:
                    pv = tl.dot(p.to(tl.bfloat16, fp_downcast_rounding="rtne").to(tl.float32), bv.to(tl.float32),
                                input_precision="ieee")
                else:
                    pv = tl.dot(p.to(tl.bfloat16, fp_downcast_rounding="rtne"), bv)
            else:
                pv = tl.dot(p.to(bv.dtype), bv, input_precision=PREC)
            o_i = o_i * alpha[:, None] + pv
            m_i = m_new
        L = m_i + tl.log(l_i) / beta
        O = o_i / l_i[:, None]
        if chunk == 0:
            tl.store(Lout + b * slb + e * sle + offs_m, L, mask=row_ok)
        tl.store(Oout + b * soB + e * soE + offs_m[:, None] * son + offs_v[None, :] * sod,
                 O.to(Oout.dtype.element_ty), mask=row_ok[:, None] & (offs_v[None, :] < D))

    _KERNELS[key] = _row_softmax_kernel
    return _row_softmax_kernel


def _pow2(x: int, lo: int = 16) -> int:
    return max(lo, 1 << (int(x) - 1).bit_length())


def tile_config(d: int, dtype_bytes: int = 4, precision: str = "tf32", *, block_m=None, block_n=None, block_k=None,
                dv=None, warps=None, stages=None) -> dict:
    """Tile sizes for dimension d, input width ``dtype_bytes`` and ``precision`` (each overridable).

    Rows per program BLOCK_M, columns per step BLOCK_N, reduction slice BLOCK_K (NUM_K slices
    cover d), output chunk DV (NCHUNK chunks cover d; each chunk recomputes c, so a chunk is as wide
    as the registers allow: the (BLOCK_M, DV) accumulator is the largest live tile).  ``stages``:
    software-pipelining depth of the column loop; 2 when one stage's tiles pass 48 KiB.

    The defaults were chosen by compiling for sm_90 (H100/H200) ahead of time on a machine without a
    GPU and reading the resource usage: BLOCK_M = 64 with 8 warps gives warpgroup MMA (HGMMA) in
    bf16, tf32 and tf32x3 without register spills at d = 256 and 768 (tf32: 48 bytes at 768) and
    fits the 228 KiB of shared memory; fp32 "ieee" (FMA, no tensor cores) needs narrow slices
    (BLOCK_K = 32, DV = 64) not to spill.
    They are not timed here: ``benchmarks/gpu_check.py`` times alternatives on the GPU.
    """
    dp = _pow2(d)
    if dtype_bytes >= 8:  # float64: FMA only, 8-byte tiles
        dflt = dict(block_m=32, block_n=32, block_k=min(dp, 64), dv=min(dp, 64), warps=4)
    elif precision == "bf16":
        dflt = dict(block_m=64, block_n=32 if dp >= 256 else 64, block_k=dp if dp <= 256 else 128, dv=min(dp, 256),
                    warps=8 if dp >= 128 else 4)
    elif precision == "tf32":
        dflt = dict(block_m=64, block_n=32 if dp >= 128 else 64, block_k=dp if dp <= 256 else 64, dv=min(dp, 128),
                    warps=8 if dp >= 128 else 4)
    elif precision == "tf32x3":  # three products per dot: narrower slices than tf32
        dflt = dict(block_m=64, block_n=32 if dp >= 64 else 64, block_k=min(dp, 32), dv=min(dp, 128),
                    warps=8 if dp >= 64 else 4)
    else:
        dflt = dict(block_m=64, block_n=32 if dp >= 64 else 64, block_k=min(dp, 32), dv=min(dp, 64),
                    warps=8 if dp >= 64 else 4)
    given = dict(block_m=block_m, block_n=block_n, block_k=block_k, dv=dv, warps=warps)
    t = {k: (v if v is not None else dflt[k]) for k, v in given.items()}
    for name in ("block_m", "block_n", "block_k", "dv"):
        v = t[name]
        if isinstance(v, bool) or int(v) != v or v < 16 or int(v) & (int(v) - 1):
            raise ConfigurationError(f"{name} must be a power of two >= 16, got {v}")
    if stages is None:
        stages = 2 if (t["block_k"] + t["dv"]) * t["block_n"] * dtype_bytes > 48 * 1024 else 3
    return dict(BLOCK_M=int(t["block_m"]), BLOCK_N=int(t["block_n"]), BLOCK_K=int(t["block_k"]),
                NUM_K=-(-d // int(t["block_k"])), DV=int(t["dv"]), NCHUNK=-(-d // int(t["dv"])),
                num_warps=int(t["warps"]), num_stages=int(stages))


def _directed_softmax(X4, rows, cols, beta, precision, tiles):
    """Run the kernel: X4 (B, M, N, d); rows/cols (DE,) modality indices.  Returns L (B, DE, N), O."""
    import torch

    nb, _, N, d = X4.shape
    de = len(rows)
    kern = _kernel()
    out_dtype = X4.dtype
    if precision == "bf16":
        # the kernel rounds every operand to bf16 anyway: storing X so halves the traffic, same numbers
        X4 = X4.to(torch.bfloat16)
    cfg = tile_config(d, X4.element_size(), precision, **(tiles or {}))
    launch = dict(num_warps=cfg.pop("num_warps"), num_stages=cfg.pop("num_stages"))
    L = torch.empty((nb, de, N), dtype=out_dtype, device=X4.device)
    O = torch.empty((nb, de, N, d), dtype=out_dtype, device=X4.device)
    R = torch.tensor(rows, dtype=torch.int32, device=X4.device)
    C = torch.tensor(cols, dtype=torch.int32, device=X4.device)
    beta_t = torch.tensor([beta], dtype=out_dtype, device=X4.device)
    grid = (-(-N // cfg["BLOCK_M"]) * cfg["NCHUNK"], de, nb)
    kern[grid](X4, R, C, L, O, N, d, beta_t,
               X4.stride(0), X4.stride(1), X4.stride(2), X4.stride(3),
               L.stride(0), L.stride(1), O.stride(0), O.stride(1), O.stride(2), O.stride(3),
               PREC=precision, EMULATE_BF16=_interpreting(), IS64=(out_dtype == torch.float64), **launch,
               **cfg)
    return L, O


def _tangent(X, G):
    return G - (G * X).sum(dim=-1, keepdim=True) * X


def _check_tensor(X, beta, precision, tied):
    import torch

    if not isinstance(X, torch.Tensor):
        raise ConfigurationError(f"expected a torch tensor, got {type(X).__name__}")
    want = 3 if tied else 4
    if X.ndim != want:
        shape = "(B, N, d)" if tied else "(B, M, N, d)"
        raise ConfigurationError(f"{'tied' if tied else 'free'} mode expects {shape}, got {tuple(X.shape)}")
    if X.dtype not in (torch.float32, torch.float64):
        raise ConfigurationError(f"the triton kernel takes float32 or float64, got {X.dtype}")
    if X.shape[-2] < 2 or X.shape[-1] < 1 or X.shape[0] < 1:
        raise ConfigurationError(f"need B >= 1, N >= 2 and d >= 1, got shape {tuple(X.shape)}")
    if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta > 0):
        raise ConfigurationError(f"beta must be finite and > 0, got {beta!r}")
    if precision not in PRECISIONS:
        raise ConfigurationError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if X.dtype == torch.float64 and precision in ("tf32", "tf32x3", "bf16"):
        raise ConfigurationError(f"precision {precision!r} needs float32 input; float64 runs in ieee")
    if X.device.type == "cpu" and not _interpreting():
        raise ConfigurationError("the triton backend runs on CUDA tensors (or on CPU under TRITON_INTERPRET=1); "
                                 "use backend 'torch' on this device")
    if X.device.type not in ("cpu", "cuda"):
        raise ConfigurationError(f"the triton backend does not run on device {X.device}")


def value_and_grad_tensor(X, beta: float, edges=None, *, tied: bool = False, block=None, precision: str = "auto",
                          tiles=None, stop=None, dtype=None):
    """Batched smoothed margin and Riemannian gradient on tensors (see the module docstring).

    Parameters
    ----------
    X : torch.Tensor, (B, M, N, d) free or (B, N, d) tied, float32 or float64, unit rows
        On CUDA (or CPU under ``TRITON_INTERPRET=1``).
    beta : float
        Sharpness (> 0).
    edges : sequence of (k, l), optional
        Free mode only (default complete graph).
    tied : bool
    block : ignored
        Accepted for the torch backend's signature; tiles are set by ``tiles``.
    precision : {"auto", "ieee", "tf32", "tf32x3", "bf16"}
        Matmul input precision; "auto" is :func:`precision_for` (beta).  float64 kernels: ieee.
    tiles : dict, optional
        Overrides of :func:`tile_config` (``block_m``, ``block_n``, ``block_k``, ``dv``, ``warps``, ``stages``).
    stop : callable, optional
        Asked once before the launch (one launch is one sweep, a fraction of a second at
        N = 100,000 on a GPU); True raises :class:`~constellations.objective.reference.Stopped`.
    dtype : torch.float32 or torch.float64, optional
        Kernel dtype (default X's).  float32 with a float64 X: the kernel reads a float32 copy and F, G
        come back in float64, projected on the tangent space of the float64 rows, so that a float64
        optimiser (the batched search) can use the tensor-core precisions.

    Returns
    -------
    (F, G) : tensors of shape (B,) and X.shape, X's dtype and device
    """
    import torch

    del block
    beta = float(beta) if isinstance(beta, (int, float, np.floating)) and not isinstance(beta, bool) else beta
    _check_tensor(X, beta, "auto", tied)
    if dtype not in (None, torch.float32, torch.float64):
        raise ConfigurationError(f"the triton kernel computes in float32 or float64, not {dtype}")
    Xk = X.contiguous() if dtype is None or dtype == X.dtype else X.to(dtype).contiguous()
    _check_tensor(Xk, beta, precision, tied)
    if Xk.dtype == torch.float64:
        precision = "ieee"
    elif precision == "auto":
        precision = precision_for(beta)
    check_stop(stop)
    with torch.no_grad():
        if tied:
            L, O = _directed_softmax(Xk[:, None], [0], [0], beta, precision, tiles)
            Q = _soft_max(L[:, 0], beta)  # (B,)
            r = torch.exp((L[:, 0] - Q[:, None]) * beta)  # (B, N)
            G = -r[..., None] * O[:, 0]
            return (0.5 * (1.0 - Q)).to(X.dtype), _tangent(X, G.to(X.dtype))
        nb, M, N, _ = Xk.shape
        edges = _edges(edges, M)
        E = len(edges)
        rows = [k for k, _ in edges] + [l for _, l in edges]
        cols = [l for _, l in edges] + [k for k, _ in edges]
        L, O = _directed_softmax(Xk, rows, cols, beta, precision, tiles)
        Q = _soft_max(L[:, :E].reshape(nb, -1), beta)
        r = torch.exp((L - Q[:, None, None]) * beta)  # (B, 2E, N)
        GQ = torch.zeros_like(Xk)
        W = r[..., None] * O
        idx = torch.tensor(rows, device=Xk.device)
        GQ.index_add_(1, idx, W)
        P, GP = _matched_softmin(Xk, edges, beta)
        G = 0.5 * (GP - GQ)
        return (0.5 * (P - Q)).to(X.dtype), _tangent(X, G.to(X.dtype))


def _soft_max(L, beta):
    """(1/beta) log sum_i exp(beta L_i) over the last axis, shifted by the maximum."""
    import torch

    m = L.amax(dim=-1)
    return m + torch.log(torch.exp((L - m[:, None]) * beta).sum(dim=-1)) / beta


def _matched_softmin(X, edges, beta):
    """P = -(1/beta) log sum_{e,i} exp(-beta c_e(i,i)) and dP/dX (O(E N d), plain torch)."""
    import torch

    k = torch.tensor([e[0] for e in edges], device=X.device)
    l = torch.tensor([e[1] for e in edges], device=X.device)
    diag = (X[:, k] * X[:, l]).sum(-1)  # (B, E, N)
    p = diag.flatten(1).amin(dim=1)
    w = torch.exp(-(diag - p[:, None, None]) * beta)
    Zp = w.flatten(1).sum(dim=1)
    w = w / Zp[:, None, None]
    G = torch.zeros_like(X)
    G.index_add_(1, k, w[..., None] * X[:, l])
    G.index_add_(1, l, w[..., None] * X[:, k])
    return p - torch.log(Zp) / beta, G


def _edges(edges, M):
    edges = default_edges(M) if edges is None else [tuple(int(v) for v in e) for e in edges]
    if not edges:
        raise ConfigurationError("need at least one edge")
    for k, l in edges:
        if not (0 <= k < M and 0 <= l < M) or k == l:
            raise ConfigurationError(f"edge {(k, l)} is not a pair of distinct modalities in 0..{M - 1}")
    return edges


def value_and_grad(X, beta: float, edges=None, *, block=None, device=None, dtype=None, precision: str = "auto",
                   tiles=None, stop=None):
    """Smoothed margin F_beta and its Riemannian gradient (Triton; see objective_numpy).

    NumPy in (shape (M, N, d) free or (N, d) tied), ``(float, float64 ndarray)`` out.  ``device``:
    default "cuda" when available, else "cpu" (needs ``TRITON_INTERPRET=1``); ``dtype``: default
    ``torch.float32``; ``precision``, ``tiles`` and ``stop`` as in :func:`value_and_grad_tensor`; ``block`` is
    ignored.
    """
    import torch

    Xn = np.asarray(X, dtype=np.float64)
    if Xn.ndim not in (2, 3):
        raise ConfigurationError(f"expected (N, d) or (M, N, d), got shape {Xn.shape}")
    if not np.isfinite(Xn).all():
        raise ConfigurationError("X contains NaN or Inf")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    T = torch.as_tensor(Xn, dtype=dtype or torch.float32, device=device)[None]
    F, G = value_and_grad_tensor(T, beta, edges, tied=(Xn.ndim == 2), block=block, precision=precision,
                                 tiles=tiles, stop=stop)
    return float(F[0]), G[0].to(torch.float64).cpu().numpy()

"""Scale: free search at N = 10,000, d = 64, M = 2 on CPU; and the prepared CUDA check.

Usage:
  PYTHONPATH=. python benchmarks/bench_search_scale.py [--n 10000] [--dim 64] [--budget 240]
  PYTHONPATH=. python benchmarks/bench_search_scale.py --cuda [--n 100000] [--dim 256]   # needs a GPU

CPU mode: time of one objective-and-gradient evaluation per backend (NumPy blocked BLAS, Numba fused,
torch blocked), peak resident memory, then a time-limited search from one random start (no polish at
this size) and the margin before/after.
CUDA mode: time per evaluation of the torch kernel (float32, blocked) at N x d on the GPU, and its
ratio to one plain torch matmul of the same shape (N x d) @ (d x N), both synchronised, medians of 5.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu(n, d, budget, backends):
    from constellations.objective import numba_kernels as objective_numba
    from constellations.objective import reference as objective_numpy
    from constellations.objective import torch_kernels as objective_torch
    from constellations.search.polish import free_margin
    from constellations.search import search
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, n, d))
    X /= np.linalg.norm(X, axis=-1, keepdims=True)
    print(f"N={n} d={d}: random start margin {free_margin(X, [(0, 1)]):.4f}", flush=True)
    kern = {"numpy": objective_numpy.value_and_grad, "numba": objective_numba.value_and_grad,
            "torch": objective_torch.value_and_grad}
    f_ref = None
    for name in backends:
        t = time.perf_counter()
        f, g = kern[name](X, 40.0)
        sec = time.perf_counter() - t
        if f_ref is None:
            f_ref = f
        print(f"  {name:5s}: one value+gradient {sec:.2f}s (F={f:.8f}, |dF| vs first {abs(f - f_ref):.1e}); "
              f"peak RSS {peak_rss_mib():.0f} MiB", flush=True)
    r = search(n, d, 2, restarts=1, time_limit=budget, seed=0, backend="numpy",
               constructions=False)
    print(f"  search {budget:.0f}s budget: margin {r.margin:.6f} (certified {r.margin_certified:.6f}), "
          f"b_rel {r.b_rel:.4f}, {r.seconds:.1f}s, backend {r.backend}, peak RSS {peak_rss_mib():.0f} MiB", flush=True)


def cuda(n, d, reps=5):
    import torch
    from constellations.objective.torch_kernels import value_and_grad_tensor
    assert torch.cuda.is_available(), "no CUDA device"
    dev = torch.device("cuda")
    g = torch.Generator(device=dev).manual_seed(0)
    X = torch.randn(1, 2, n, d, device=dev, generator=g, dtype=torch.float32)
    X /= X.norm(dim=-1, keepdim=True)

    def timeit(fn):
        fn()
        torch.cuda.synchronize()
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            ts.append(time.perf_counter() - t)
        return float(np.median(ts))

    t_obj = timeit(lambda: value_and_grad_tensor(X, 40.0))
    A, B = X[0, 0], X[0, 1]
    t_mm = timeit(lambda: A @ B.T)
    print(f"CUDA {torch.cuda.get_device_name()}: N={n} d={d} float32: objective+gradient {t_obj * 1e3:.1f} ms, "
          f"plain matmul {t_mm * 1e3:.1f} ms, ratio {t_obj / t_mm:.1f}; peak GPU memory "
          f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--dim", type=int, default=None)
    ap.add_argument("--budget", type=float, default=240.0)
    ap.add_argument("--backends", default="numpy,torch,numba")
    ap.add_argument("--cuda", action="store_true")
    args = ap.parse_args(argv)
    if args.cuda:
        cuda(args.n or 100_000, args.dim or 256)
    else:
        cpu(args.n or 10_000, args.dim or 64, args.budget, args.backends.split(","))


if __name__ == "__main__":
    main()

"""Time margin statistics and the certified margin at N = 20,000, d = 128, M = 2.

Baseline measured in the same run: the bare blocked matmul U V^T (same flops, no
reductions), so the ratio shows the overhead of the margin bookkeeping.
Peak memory: tracemalloc (NumPy reports its buffers to it) per call, and the process max RSS.

    python benchmarks/bench_margins.py [--n 20000] [--dim 128] [--repeats 3]
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time
import tracemalloc

import numpy as np

from constellations.core.certify import certified_margin
from constellations.core.margins import block_rows, margin_stats, retrieval_accuracy


def timed(fn, repeats):
    times, peaks = [], []
    for _ in range(repeats):
        tracemalloc.start()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return statistics.median(times), max(peaks)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, a.n, a.dim))
    X /= np.linalg.norm(X, axis=-1, keepdims=True)
    U, V = X
    blk = block_rows(a.n)

    def bare():
        for s in range(0, a.n, blk):
            U[s:s + blk] @ V.T

    rows = [("bare blocked matmul U V^T (baseline)", bare),
            ("margin_stats", lambda: margin_stats(X)),
            ("certified_margin (float64 bound)", lambda: certified_margin(X)),
            ("retrieval_accuracy (both directions)", lambda: retrieval_accuracy(X))]
    print(f"N={a.n} d={a.dim} M=2, block={blk} rows, median of {a.repeats}")
    base = None
    for name, fn in rows:
        t, peak = timed(fn, a.repeats)
        base = base or t
        print(f"{name:40s} {t:8.3f} s   x{t / base:5.2f} of baseline   peak traced {peak / 2**20:7.1f} MiB")
    print(f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
          f"(input array {X.nbytes / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()

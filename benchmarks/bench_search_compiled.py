"""Compiled L-BFGS stages against the Python L-BFGS with the Numba kernel, one restart at a time.

Usage: PYTHONPATH=. python benchmarks/bench_search_compiled.py [--repeats 7] [--seed 0]

For each case, the same random starts run the default beta continuation
(search.optimizer.default_schedule) twice: through ``optimize(..., kernel=numba value_and_grad)``
(the Python L-BFGS; the baseline, measured in this run) and through ``optimize(..., compiled=True)``
(objective.compiled).  Prints per case the median seconds of a restart of each, their ratio, and
the median float64 margin each reached (same algorithm: the margins agree up to the rounding that sends
long runs apart).  Cases: the tied code N = 75 in d = 3 (Tammes), N = 300 in d = 4, and the free
M = 2, N = 100, d = 10 problem of issue 11.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from constellations.core.margins import code_margin, free_margin  # noqa: E402
from constellations.objective.numba_kernels import value_and_grad as numba_kernel  # noqa: E402
from constellations.search.optimizer import default_schedule, optimize  # noqa: E402

CASES = [("tied N=75 d=3", (75, 3), None), ("tied N=300 d=4", (300, 4), None),
         ("free M=2 N=100 d=10", (2, 100, 10), [(0, 1)])]


def _margin(X, edges):
    return code_margin(X) if edges is None else free_margin(X, edges)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    warm = np.random.default_rng(0).standard_normal((6, 3))
    optimize(warm, (10.0,), compiled=True)  # compile (or load from the cache) before timing
    optimize(warm, (10.0,), kernel=numba_kernel)
    print(f"{'case':22s} {'python s':>9s} {'compiled s':>10s} {'ratio':>6s} {'m python':>12s} {'m compiled':>12s}")
    for name, shape, edges in CASES:
        rng = np.random.default_rng(args.seed)
        tp, tc, mp, mc = [], [], [], []
        for k in range(args.repeats):
            X0 = rng.standard_normal(shape)
            betas = default_schedule(k)
            t = time.perf_counter()
            Xp, _ = optimize(X0, betas, edges, kernel=numba_kernel)
            tp.append(time.perf_counter() - t)
            t = time.perf_counter()
            Xc, _ = optimize(X0, betas, edges, compiled=True)
            tc.append(time.perf_counter() - t)
            mp.append(_margin(Xp, edges))
            mc.append(_margin(Xc, edges))
        a, b = statistics.median(tp), statistics.median(tc)
        print(f"{name:22s} {a:9.3f} {b:10.3f} {a / b:6.2f} {statistics.median(mp):12.8f} {statistics.median(mc):12.8f}",
              flush=True)


if __name__ == "__main__":
    main()

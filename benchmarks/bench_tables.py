"""Benchmark: a 20-cell table on a local 2-worker Dask cluster against ``--workers 1`` (in-process).

Each measurement runs ``run_table`` in a fresh Python process on a fresh store (so both modes pay
their imports and JIT compilation once, as a user would), alternating the two modes, and times the
whole ``run_table`` call: cluster start-up and shut-down are included in the Dask figure.  Both
modes run with one thread per worker (OMP/MKL/OpenBLAS/NUMBA threads = 1), and every cell uses a
fixed number of restarts with no time limit, so both modes do exactly the same work; the script
checks that they produce the same margins (same per-cell seeds).

Usage::

    python benchmarks/bench_tables.py [--repeats 2] [--solver search] [--restarts 16] [--out FILE.json]

Prints (and optionally writes) a JSON object with every timing, the medians and the speed-up
median(in-process) / median(local Dask).  The machine's load average is recorded before and after,
and the CPU seconds of each run's process tree: CPU / wall is the parallelism the run actually got
(about 2 for the Dask run on two idle cores).  On a shared machine the ratio is noisy.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

GRID = dict(n="8,16", dims="3:7", modalities="2,3")  # 2 x 5 x 2 = 20 cells

CHILD = r"""
import json, sys, time
from constellations.tables.grid import make_grid
from constellations.tables.runner import run_table
from constellations.tables.store import TableStore
store, workers, solver, restarts, grid = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), json.loads(sys.argv[5])
cells = make_grid(grid["n"], grid["dims"], grid["modalities"], restarts=restarts, seed=0)
assert len(cells) == 20, len(cells)
with TableStore(store) as st:
    t0 = time.perf_counter()
    s = run_table(cells, st, cell_function=solver, workers=workers)
    wall = time.perf_counter() - t0
    margins = {repr(c.key): st.get(c).margin for c in cells}
    cell_seconds = sum(st.get(c).seconds for c in cells)
print(json.dumps({"wall": wall, "new": s.new, "failed": len(s.failed), "mode": s.mode, "workers": s.workers,
                  "cell_seconds": cell_seconds, "margins": margins}))
"""


def one(workers: int, solver: str, restarts: int) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[v] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, os.path.join(tmp, "t.sqlite"), str(workers), solver,
                              str(restarts), json.dumps(GRID)], env=env, capture_output=True, text=True, check=True)
        proc_wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process_wall"] = proc_wall
    # CPU seconds of the whole process tree (client, scheduler, workers): cpu / wall is the parallelism
    # actually obtained, which on a shared machine can be far below the number of workers
    res["cpu"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if res["failed"] or res["new"] != 20:
        raise SystemExit(f"benchmark run failed: {res}")
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--solver", default="search")
    ap.add_argument("--restarts", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2, help="local Dask workers (default 2)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    load_before = os.getloadavg()
    serial, dask = [], []
    for _ in range(a.repeats):
        serial.append(one(1, a.solver, a.restarts))
        dask.append(one(a.workers, a.solver, a.restarts))
    load_after = os.getloadavg()
    same = all(r["margins"] == serial[0]["margins"] for r in serial + dask)
    differing = {}
    for key in serial[0]["margins"]:
        vals = {"in_process": [r["margins"][key] for r in serial], "local_dask": [r["margins"][key] for r in dask]}
        if len({v for vs in vals.values() for v in vs}) > 1:
            differing[key] = vals
    med_s = statistics.median(r["wall"] for r in serial)
    med_d = statistics.median(r["wall"] for r in dask)
    report = {
        "benchmark": "bench_tables: 20-cell grid, local Dask cluster vs --workers 1",
        "grid": GRID, "solver": a.solver, "restarts": a.restarts, "time_per_cell": None,
        "dask_workers": a.workers, "cpu_count": os.cpu_count(), "repeats": a.repeats,
        "in_process_wall_s": [round(r["wall"], 3) for r in serial],
        "local_dask_wall_s": [round(r["wall"], 3) for r in dask],
        "in_process_process_wall_s": [round(r["process_wall"], 3) for r in serial],
        "local_dask_process_wall_s": [round(r["process_wall"], 3) for r in dask],
        "in_process_cpu_s": [round(r["cpu"], 3) for r in serial],
        "local_dask_cpu_s": [round(r["cpu"], 3) for r in dask],
        "in_process_parallelism_cpu_per_wall": [round(r["cpu"] / r["process_wall"], 2) for r in serial],
        "local_dask_parallelism_cpu_per_wall": [round(r["cpu"] / r["process_wall"], 2) for r in dask],
        "sum_of_cell_seconds_in_process": [round(r["cell_seconds"], 3) for r in serial],
        "sum_of_cell_seconds_dask": [round(r["cell_seconds"], 3) for r in dask],
        "median_in_process_s": round(med_s, 3), "median_local_dask_s": round(med_d, 3),
        "speedup": round(med_s / med_d, 3),
        "identical_margins": same,
        "differing_cells": differing,
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in load_after],
        "python": sys.version.split()[0],
    }
    text = json.dumps(report, indent=2)
    print(text)
    if a.out:
        sys.path.insert(0, str(REPO))
        from constellations.io.files import atomic_write_text

        atomic_write_text(a.out, text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

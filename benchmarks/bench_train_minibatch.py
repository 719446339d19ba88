"""Minibatch training at N = 1024, d = 32, M = 2: the margin m, b_rel and t reached after a fixed number of steps,
for batch sizes B in {16, 64, 256, N} and both bias parameterisations (docs/math.md section 3).

Every run starts from the same seeds (same initial embeddings), t0 = 10, b_rel0 = 0 (b0 = 0), Adam with the
same learning rate and the same number of optimiser steps; B = N is the full batch.  Each step of run s uses
the B items drawn by its own counter-based sampler (``training/batches.py``), so the batches do not depend on
the other runs.  Reported figures are of ALL N items, recomputed in float64 (``margin_stats``): m is HALF the
gap (min matched minus max non-matched inner product), b*_rel the midpoint of the gap, b_rel = b/t for the
absolute bias.  ``epochs`` = steps B / N (passes over the items), ``pair_terms`` = steps B^2 (per edge, the
terms of the loss seen).  Wall seconds are informational only (shared 2-core machine, noisy).

Run:  PYTHONPATH=src python benchmarks/bench_train_minibatch.py --steps 2000 --out data/training/minibatch.csv
(about 2 minutes on the shared 2-core machine; data/training/README.md has the table it made)
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

COLUMNS = ["param", "batch_size", "seed", "steps", "epochs", "pair_terms", "lr", "margin_m", "gap_2m", "b_rel",
           "b_rel_star", "t", "loss_all_items", "wall_s"]


def run(a, param: str, B: int, seeds):
    """One batched training of ``seeds`` at batch size ``B``: rows for the CSV."""
    from constellations.training.trainer import TrainSpec, train

    spec = TrainSpec(n=a.n, dim=a.dim, modalities=2, param=param, steps=a.steps, lr=a.lr, batch_size=B,
                     record_every=a.steps, loss_every=a.steps, dtype="float32")
    t = time.perf_counter()
    r = train(spec, seeds, t0=a.t0, bias0=0.0, threads=a.threads)
    wall = time.perf_counter() - t
    return [{"param": param, "batch_size": B, "seed": int(s), "steps": a.steps, "epochs": a.steps * B / a.n,
             "pair_terms": a.steps * B * B, "lr": a.lr, "margin_m": float(r.margin[i]),
             "gap_2m": float(2 * r.margin[i]), "b_rel": float(r.b_rel[i]), "b_rel_star": float(r.b_rel_star[i]),
             "t": float(r.t[i]), "loss_all_items": float(r.loss[i]), "wall_s": wall} for i, s in enumerate(seeds)]


def table(rows) -> str:
    """Markdown: one line per (param, B), means over the seeds (min..max of m)."""
    out = ["| param | B | epochs | m (half gap) mean [min, max] | 2m | b_rel | b*_rel | t | loss (all N) | wall s |",
           "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    keys = sorted({(r["param"], r["batch_size"]) for r in rows}, key=lambda k: (k[0] != "relative", k[1]))
    for param, B in keys:
        g = [r for r in rows if (r["param"], r["batch_size"]) == (param, B)]
        m = np.array([r["margin_m"] for r in g])
        mean = lambda c: float(np.mean([r[c] for r in g]))
        out.append(f"| {param} | {B} | {g[0]['epochs']:g} | {m.mean():+.4f} [{m.min():+.4f}, {m.max():+.4f}] | "
                   f"{2 * m.mean():+.4f} | {mean('b_rel'):.4f} | {mean('b_rel_star'):.4f} | {mean('t'):.3f} | "
                   f"{mean('loss_all_items'):.4g} | {g[0]['wall_s']:.1f} |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--t0", type=float, default=10.0)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--batch-sizes", default="16,64,256,N", help="comma-separated; N = the full batch")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="CSV to write (atomically)")
    a = ap.parse_args(argv)
    import torch

    from constellations.io.files import atomic_write_text

    seeds = [int(s) for s in a.seeds.split(",")]
    sizes = sorted({a.n if b.strip() == "N" else int(b) for b in a.batch_sizes.split(",")})
    print(f"# N={a.n} d={a.dim} M=2 steps={a.steps} lr={a.lr} t0={a.t0} seeds={seeds} threads={a.threads} "
          f"torch {torch.__version__} {platform.machine()} cpus={os.cpu_count()}", flush=True)
    rows, t = [], time.perf_counter()
    for param in ("relative", "absolute"):
        for B in sizes:
            rows += run(a, param, B, seeds)
            ms = ", ".join(f"{r['margin_m']:+.4f}" for r in rows[-len(seeds):])
            print(f"  {param:8s} B={B:5d}: m = {ms} ({rows[-1]['wall_s']:.1f} s)", flush=True)
    print(table(rows))
    print(f"# total {time.perf_counter() - t:.0f} s")
    if a.out:
        lines = [",".join(COLUMNS)] + [",".join(repr(r[c]) if isinstance(r[c], float) else str(r[c]) for c in COLUMNS)
                                       for r in rows]
        atomic_write_text(a.out, "\n".join(lines) + "\n")
        print("wrote", a.out)


if __name__ == "__main__":
    main()

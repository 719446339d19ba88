"""Benchmark of the batched sigmoid-loss trainer (issue #4).

1. Speed: S seeds x STEPS steps at N=100, d=10 (relative bias) as ONE batched run, against S sequential
   single-seed runs of the same code path (``training.trainer.train`` with one seed), side by side in this
   process, same dtype, same thread count.  The batched run is timed twice (before and after the
   sequential loop) to expose load drift on a shared machine.  Trajectories are checked to agree.
2. The paper's claim: relative bias (logits t(<u,v> - b_rel)) against absolute bias (logits t<u,v> - b),
   same seeds and starting point (t0, b_rel0; b0 = t0 b_rel0), Adam: loss after 2,000 and 10,000 steps,
   steps to loss < 1e-3, final margins m (HALF the gap) and 2m, and b/t.

Run:  PYTHONPATH=. python benchmarks/bench_train.py [--seeds 20 --steps 10000 --threads 1 --out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def stats(v):
    v = np.asarray(v, dtype=np.float64)
    f = v[np.isfinite(v)]
    if f.size == 0:
        return {"median": None, "mean": None, "std": None, "min": None, "max": None, "finite": 0, "n": int(v.size)}
    return {"median": float(np.median(f)), "mean": float(f.mean()), "std": float(f.std(ddof=1)) if f.size > 1 else 0.0,
            "min": float(f.min()), "max": float(f.max()), "finite": int(f.size), "n": int(v.size)}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--dim", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--t0", type=float, default=10.0)
    ap.add_argument("--b-rel0", type=float, default=0.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--record-every", type=int, default=100)
    ap.add_argument("--loss-every", type=int, default=1,
                    help="loss value every K steps (both the batched and the sequential runs)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, auto")
    ap.add_argument("--graph-mode", default="auto", help="auto (CUDA graph on CUDA), off, cuda-graph")
    ap.add_argument("--skip-sequential", action="store_true")
    ap.add_argument("--skip-claim", action="store_true", help="only the speed comparison")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)

    import torch
    torch.set_num_threads(a.threads)
    from constellations.training.trainer import TrainSpec, train

    seeds = list(range(a.seeds))
    mk = lambda param: TrainSpec(n=a.n, dim=a.dim, steps=a.steps, lr=a.lr, param=param, dtype=a.dtype,
                                 record_every=a.record_every, loss_every=a.loss_every, device=a.device,
                                 graph_mode=a.graph_mode)
    train(TrainSpec(n=a.n, dim=a.dim, steps=20, dtype=a.dtype, device=a.device), [0])  # warm-up
    out = {"settings": vars(a), "torch": torch.__version__, "machine": platform.machine(),
           "cpus": os.cpu_count(), "note": "shared 2-core machine; timings are noisy"}

    def timed(fn):
        w, c = time.perf_counter(), time.process_time()
        r = fn()
        return r, time.perf_counter() - w, time.process_time() - c

    rel, bw, bc = timed(lambda: train(mk("relative"), seeds, t0=a.t0, bias0=a.b_rel0))
    batched_wall, batched_cpu = [bw], [bc]
    print(f"batched relative S={a.seeds} x {a.steps} steps: {bw:.2f} s wall, {bc:.2f} s CPU", flush=True)
    if not a.skip_sequential:
        per_run, per_run_cpu, seq_margin, seq_loss = [], [], [], []
        for s in seeds:
            r, w, c = timed(lambda: train(mk("relative"), [s], t0=a.t0, bias0=a.b_rel0))
            per_run.append(w); per_run_cpu.append(c)
            seq_margin.append(r.margin[0]); seq_loss.append(r.loss[0])
            if s == len(seeds) // 2 - 1:  # a batched run in the middle of the sequential loop
                _, w, c = timed(lambda: train(mk("relative"), seeds, t0=a.t0, bias0=a.b_rel0))
                batched_wall.append(w); batched_cpu.append(c)
        _, w, c = timed(lambda: train(mk("relative"), seeds, t0=a.t0, bias0=a.b_rel0))
        batched_wall.append(w); batched_cpu.append(c)
        seq_total, seq_cpu = float(np.sum(per_run)), float(np.sum(per_run_cpu))
        print(f"sequential {a.seeds} single runs: {seq_total:.2f} s wall, {seq_cpu:.2f} s CPU "
              f"(median per run {np.median(per_run):.2f} s wall, {np.median(per_run_cpu):.2f} s CPU)", flush=True)
        print(f"batched (before, middle, after): wall {batched_wall}, CPU {batched_cpu}", flush=True)
        bwm, bcm = float(np.median(batched_wall)), float(np.median(batched_cpu))
        out["speed"] = {
            "batched_wall_s": batched_wall, "batched_cpu_s": batched_cpu,
            "sequential_total_wall_s": seq_total, "sequential_total_cpu_s": seq_cpu,
            "sequential_per_run_wall_s": per_run, "sequential_per_run_cpu_s": per_run_cpu,
            "ratio_wall_total_vs_batched_median": seq_total / bwm,
            "ratio_wall_median_run_x_S_vs_batched_median": float(np.median(per_run)) * a.seeds / bwm,
            "ratio_cpu_total_vs_batched_median": seq_cpu / bcm,
            "ratio_cpu_median_run_x_S_vs_batched_median": float(np.median(per_run_cpu)) * a.seeds / bcm,
            "max_abs_margin_diff_batched_vs_sequential": float(np.max(np.abs(np.array(seq_margin) - rel.margin))),
            "max_rel_loss_diff_batched_vs_sequential": float(np.max(np.abs(np.array(seq_loss) - rel.loss)
                                                                     / np.abs(rel.loss))),
        }
        print(json.dumps(out["speed"], indent=1, default=float), flush=True)

    if a.skip_claim:
        if a.out:
            from constellations.io.files import atomic_write_text
            atomic_write_text(a.out, json.dumps(out, indent=1, default=float) + "\n")
            print("wrote", a.out)
        return
    t = time.perf_counter()
    ab = train(mk("absolute"), seeds, t0=a.t0, bias0=a.t0 * a.b_rel0)
    print(f"batched absolute: {time.perf_counter() - t:.2f} s", flush=True)
    claim = {}
    for name, r in (("relative", rel), ("absolute", ab)):
        c = {f"loss_at_{k}": stats(r.loss_at(k)) for k in sorted({2000, 10000, a.steps}) if k <= a.steps}
        c.update({"steps_to_loss_1e-3": stats(r.steps_to(1e-3)),
             "runs_reaching_1e-3": int(np.isfinite(r.steps_to(1e-3)).sum()),
             "margin_m": stats(r.margin), "gap_2m": stats(2 * r.margin), "b_rel_star": stats(r.b_rel_star),
             "t": stats(r.t), "b_rel_loss (b/t)": stats(r.b_rel), "constellations": int((r.margin > 0).sum()),
             "wall_s": r.wall_s})
        claim[name] = c
    out["claim"] = claim
    print(json.dumps(claim, indent=1), flush=True)
    if a.out:
        from constellations.io.files import atomic_write_text
        atomic_write_text(a.out, json.dumps(out, indent=1, default=float) + "\n")
        print("wrote", a.out)


if __name__ == "__main__":
    main()

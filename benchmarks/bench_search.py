"""Free search at N = 100, d = 10, M = 2: this search vs the paper's Adam recipe, side by side.

Usage: PYTHONPATH=. python benchmarks/bench_search.py [--budget 60] [--adam-seeds 2] [--out FILE]
       PYTHONPATH=. python benchmarks/bench_search.py --push 600     # the 10-minute push only

1. The paper's recipe (docs/math.md 3, data/reference/README.md): free U, V; relative-bias sigmoid loss averaged
   over the N^2 pairs, logits t (<u_i, v_j> - b_rel), t = exp(t') trainable from t = 10, b_rel trainable
   from 0; Adam lr 1e-2, 10,000 full-batch steps, rows renormalised after each step (torch, float32
   like the reference, CPU).  The margin m (half gap) is measured in float64 every 50 steps.
2. This toolkit's free search (search.search) with a time budget; best margin over time from
   the per-restart callback (before polish), final margin after polish, certified margin.
3. The tied search (spherical codes, U = V) with the same budget: does free beat tied?

Reported: final margins, wall times, and the time each method needs to reach the paper recipe's
final margin (and their ratio).  The machine is a shared 2-core box: timings are noisy.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from constellations.search import search  # noqa: E402


def margin_np(U, V):
    G = U @ V.T
    pos = np.diag(G).min()
    np.fill_diagonal(G, -np.inf)
    return 0.5 * (pos - G.max())


def paper_adam(n=100, d=10, steps=10_000, lr=1e-2, t0=10.0, seed=0, every=50):
    """The paper's recipe; returns (final margin, seconds, trace [(seconds, margin)])."""
    import torch
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    U = torch.randn(n, d, generator=g)
    V = torch.randn(n, d, generator=g)
    U = (U / U.norm(dim=1, keepdim=True)).requires_grad_()
    V = (V / V.norm(dim=1, keepdim=True)).requires_grad_()
    tp = torch.tensor(float(np.log(t0)), requires_grad=True)
    b = torch.tensor(0.0, requires_grad=True)
    opt = torch.optim.Adam([U, V, tp, b], lr=lr)
    sign = 2 * torch.eye(n) - 1  # +1 matched, -1 non-matched
    trace = []
    t_start = time.perf_counter()
    for step in range(1, steps + 1):
        opt.zero_grad()
        logits = torch.exp(tp) * (U @ V.T - b)
        loss = torch.nn.functional.softplus(-sign * logits).mean()
        loss.backward()
        opt.step()
        with torch.no_grad():
            U /= U.norm(dim=1, keepdim=True)
            V /= V.norm(dim=1, keepdim=True)
        if step % every == 0 or step == steps:
            trace.append((time.perf_counter() - t_start,
                          margin_np(U.detach().double().numpy(), V.detach().double().numpy())))
    return trace[-1][1], time.perf_counter() - t_start, trace


def time_to(trace, target):
    for t, m in trace:
        if m >= target:
            return t
    return None


def run_search(n, d, budget, tied, seed=0):
    trace = []
    t0 = time.perf_counter()

    def cb(done, total, best):
        trace.append((time.perf_counter() - t0, best))

    r = search(n, d, 2, tied=tied, restarts=None, time_limit=budget, seed=seed, callback=cb, constructions=False)
    trace.append((r.seconds, r.margin))
    return r, trace


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--adam-seeds", type=int, default=2)
    ap.add_argument("--push", type=float, default=None, help="only run a free search with this budget")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    out = {}
    if args.push:
        r, trace = run_search(100, 10, args.push, tied=False, seed=args.seed)
        print(f"push {args.push:.0f}s: free m={r.margin:.10f} certified={r.margin_certified:.10f} b_rel={r.b_rel:.6f} "
              f"restarts={r.restarts} polish_gain={r.polish_gain:.2e} ({r.seconds:.1f}s)")
        out["push"] = dict(margin=r.margin, margin_certified=r.margin_certified, b_rel=r.b_rel, restarts=r.restarts,
                           seconds=r.seconds, trace=trace, restart_margins=list(r.restart_margins))
        if args.out:
            from constellations import io
            io.save(Path(args.out).with_suffix(".npz"), r.config)
    else:
        adam = []
        for s in range(args.adam_seeds):
            m, sec, trace = paper_adam(seed=s)
            adam.append(dict(seed=s, margin=m, seconds=sec, trace=trace))
            print(f"paper Adam recipe seed {s}: final m={m:.4f} in {sec:.1f}s (10,000 steps)", flush=True)
        rf, trf = run_search(100, 10, args.budget, tied=False, seed=args.seed)
        print(f"free search  {args.budget:.0f}s: m={rf.margin:.6f} certified={rf.margin_certified:.6f} "
              f"b_rel={rf.b_rel:.4f} restarts={rf.restarts} ({rf.seconds:.1f}s)", flush=True)
        rt, trt = run_search(100, 10, args.budget, tied=True, seed=args.seed)
        print(f"tied search  {args.budget:.0f}s: m={rt.margin:.6f} certified={rt.margin_certified:.6f} "
              f"restarts={rt.restarts} ({rt.seconds:.1f}s)", flush=True)
        print(f"free beats tied: {rf.margin > rt.margin} (by {rf.margin - rt.margin:+.2e})")
        for a in adam:
            target = a["margin"]
            ta = time_to(a["trace"], target)
            ts = time_to(trf, target)
            ratio = (ta / ts) if ts else None
            print(f"time to the Adam seed {a['seed']} final margin {target:.4f}: Adam {ta:.1f}s, search "
                  f"{ts if ts is None else round(ts, 2)}s" + (f", ratio Adam/search = {ratio:.1f}" if ratio else ""))
            a["time_to_final"] = ta
            a["search_time_to_it"] = ts
        out.update(adam=adam, free=dict(margin=rf.margin, margin_certified=rf.margin_certified, b_rel=rf.b_rel,
                                        restarts=rf.restarts, seconds=rf.seconds, trace=trf),
                   tied=dict(margin=rt.margin, margin_certified=rt.margin_certified, restarts=rt.restarts,
                             seconds=rt.seconds, trace=trt))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()

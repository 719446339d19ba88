"""Re-seat chains on a glassy code: one long chain against chains restarted on Luby's schedule.

Usage: PYTHONPATH=. python benchmarks/bench_reseat_chains.py [--n 100] [--dim 10] [--seconds 45]
       [--seeds 0-15] [--target 0.334] [--jobs 2]

Per seed and arm, from a fresh restart of the tied problem (restart 0 of the seed), basin hopping with
the re-seat move alone runs for ``--seconds`` in one process:

- ``one``: one chain (``RESEAT_CHAIN_STEPS`` set past reach): every step starts from the best so far;
- ``luby``: the library's re-seats: a new chain from a fresh restart after 40, 40, 80, 40, ... steps.

It prints the margin each run ends at and when it first reached ``--target``, then per arm how many
seeds reached it and the median margin.  The two arms of a seed start from the same restart and run
side by side on the same machine (``--jobs`` processes at once).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ARMS = ("one", "luby")
LIBRARY = {}


def run(args):
    """One (arm, seed): ``(arm, seed, margin, seconds to the target or None, steps)``."""
    arm, seed, n, dim, seconds, target = args
    from constellations.search import moves
    from constellations.search.problem import Problem, Settings
    from constellations.search.restarts import Phase, Progress, restart
    LIBRARY.setdefault("steps", moves.RESEAT_CHAIN_STEPS)  # a worker runs several cases
    moves.RESEAT_CHAIN_STEPS = 1 << 40 if arm == "one" else LIBRARY["steps"]
    pb = Problem(n, dim, 2, ((0, 1),), True, "numba", "cpu")
    st = Settings(restarts=None, moves=("reseat",), hops=None)
    t0 = time.time()
    X, m, _ = restart(pb, st, 0, np.random.SeedSequence(seed), None, t0 + seconds)
    ph, reached = Phase(), []
    offer = ph.offer

    def watch(Y, mY, source="restart"):
        if mY >= target and not reached:
            reached.append(time.time() - t0)
        return offer(Y, mY, source)

    ph.offer = watch
    ph.offer(X, m, "restart")
    moves.basin_hop(pb, st, ph, np.random.SeedSequence([seed, 1]), t0, t0 + seconds, Progress(None, None))
    return arm, seed, ph.best_m, (reached[0] if reached else None), ph.moves.get("hops", 0)


def seeds_of(text):
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(x) for x in text.split(",")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--dim", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=45.0)
    ap.add_argument("--seeds", default="0-15")
    ap.add_argument("--target", type=float, default=0.334)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    cases = [(arm, s, a.n, a.dim, a.seconds, a.target) for s in seeds_of(a.seeds) for arm in ARMS]
    out = {arm: [] for arm in ARMS}
    with mp.get_context("spawn").Pool(a.jobs) as pool:
        for arm, s, m, t, hops in pool.imap(run, cases):
            out[arm].append(m)
            when = "never" if t is None else f"{t:.1f}s"
            print(f"{arm:5s} seed {s:3d}: m={m:.6f} reached {a.target} at {when} ({hops} steps)", flush=True)
    for arm in ARMS:
        ms = out[arm]
        print(f"{arm}: {sum(m >= a.target for m in ms)}/{len(ms)} seeds >= {a.target}; "
              f"median {statistics.median(ms):.6f}")


if __name__ == "__main__":
    main()

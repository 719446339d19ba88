"""Pair lists in the compiled stages of codes: an MBH step with lists against all pairs.

Usage: PYTHONPATH=. python benchmarks/bench_compiled_stages.py [--steps 30] [--seed 0]

For each code (N, d), anneals a random start, then times ``--steps`` MBH steps
(search.moves: perturb every row by MBH_SIGMA theta / sqrt(d) times MBH_SCALES, then the
MBH_BETAS stages) twice on each perturbed start, one right after the other: with the pair lists of
objective.compiled (PAIR_SKIN) and with all pairs (PAIR_SKIN = 0, the baseline, measured in
this run).  Prints the median milliseconds of a step of each, their ratio, the share of pairs in a
list at the final code, and whether both gave the same margins (they must: the list changes the
speed, not the iterates).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from constellations.objective import compiled  # noqa: E402
from constellations.search.moves import MBH_BETAS, MBH_SCALES, MBH_SIGMA  # noqa: E402
from constellations.search.optimizer import SHARP_BETAS, default_schedule  # noqa: E402
from constellations.search.problem import Problem  # noqa: E402

CASES = [(50, 3), (95, 3), (40, 6), (64, 8), (100, 10)]


def _step(pb, Z, skin):
    compiled.PAIR_SKIN = skin
    t = time.perf_counter()
    _, m, _ = pb.sharpen(Z, None, MBH_BETAS)
    return time.perf_counter() - t, m


def _interleaved(pb, starts, skin):
    """Each start with lists, then with all pairs (so that the machine's drift hits both alike):
    (median seconds with lists, with all pairs, margins with lists, with all pairs)."""
    rows = []
    try:
        for Z in starts:
            rows.append(_step(pb, Z, skin) + _step(pb, Z, 0.0))
    finally:
        compiled.PAIR_SKIN = skin
    t_list, m_list, t_all, m_all = zip(*rows)
    return statistics.median(t_list), statistics.median(t_all), list(m_list), list(m_all)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    skin = compiled.PAIR_SKIN
    print(f"{'code':>14} {'list ms':>8} {'all ms':>8} {'ratio':>6} {'share':>6} same")
    for n, d in CASES:
        pb = Problem(n, d, 1, (), True, backend="numba")
        rng = np.random.default_rng(args.seed)
        Y, _ = pb.anneal(pb.random(rng), default_schedule(3) + SHARP_BETAS)
        G = Y @ Y.T - 2 * np.eye(n)
        sigma = MBH_SIGMA * np.arccos(G.max()) / np.sqrt(d)
        starts = []
        for k in range(args.steps):
            Z = Y + sigma * MBH_SCALES[k % len(MBH_SCALES)] * rng.standard_normal(Y.shape)
            starts.append(Z / np.linalg.norm(Z, axis=1, keepdims=True))
        pb.sharpen(starts[0], None, MBH_BETAS)  # compile outside the timing
        t_list, t_all, m_list, m_all = _interleaved(pb, starts, skin)
        P, _, s = compiled._pair_list(Y, MBH_BETAS[0])
        share = len(P) / (n * (n - 1) / 2) if s > 0 else 1.0
        print(f"{f'N={n} d={d}':>14} {t_list * 1e3:8.1f} {t_all * 1e3:8.1f} {t_all / t_list:6.2f} {share:6.1%} "
              f"{m_list == m_all}", flush=True)


if __name__ == "__main__":
    main()

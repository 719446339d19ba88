"""Free-constellation ceilings before (sandwich) and after (min with the shell bound), as a Markdown table.

    python benchmarks/bench_ceilings.py                 # d = 2..12, N = 16, 32, 64, 128 (Levenshtein)
    python benchmarks/bench_ceilings.py --n 8 16 --dim 2 3 --method delsarte

Columns: the best certified margin found on the shipped grid (data/tables/margins.csv, any M or tied),
the best tied one, the sandwich ceiling (before), the free ceiling (after, src/constellations/bounds/shell.py),
best/ceiling before and after, and "free = tied" where the best tied margin found meets the free
ceiling within 1e-9 (then no free constellation beats that code), or "m* equal" where the tied
margin found is >= m_reg(N), so that the optimal free and tied margins coincide (the corollary in
src/constellations/bounds/shell.py) although neither is known exactly.  A summary follows: the share of
d <= 6 cells on the shipped grid (N in 8..128) where the free ceiling is strictly below the sandwich,
the median gain, and the time per cold cell.  ``--project`` adds, for every shipped free cell whose
certified margin beats the tied cell's, the certified margin of its midpoint code (issue 13 item 6).
"""
from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

from constellations.bounds import margin_upper
from constellations.bounds.shell import code_regime_floor, margin_upper_free

TABLE = Path(__file__).resolve().parents[1] / "data" / "tables" / "margins.csv"


def _found():
    best, tied = {}, {}
    if TABLE.exists():
        with open(TABLE) as fh:
            for r in csv.DictReader(fh):
                key, m = (int(r["n"]), int(r["dim"])), float(r["margin_certified"])
                best[key] = max(best.get(key, -1.0), m)
                if r["tied"] == "True":
                    tied[key] = max(tied.get(key, -1.0), m)
    return best, tied


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[16, 32, 64, 128])
    ap.add_argument("--dim", type=int, nargs="+", default=list(range(2, 13)))
    ap.add_argument("--method", default="levenshtein", choices=["levenshtein", "delsarte"])
    ap.add_argument("--project", action="store_true",
                    help="also project every shipped free cell that beats its tied cell to a code (midpoint_code)")
    a = ap.parse_args(argv)
    best, tied = _found()
    times = []
    print(f"| d | N | best found | tied found | sandwich (before) | free ceiling (after) | gain | "
          f"best/ceiling before | after | method | free = tied |")
    print("| --- " * 11 + "|")
    proved, corollary = [], []
    for d in a.dim:
        for N in a.n:
            t0 = time.perf_counter()
            sand = margin_upper(N, d, method=a.method)
            free = margin_upper_free(N, d, method=a.method)
            times.append(time.perf_counter() - t0)
            b, t = best.get((N, d)), tied.get((N, d))
            eq = t is not None and abs(free.value - t) <= 1e-9
            if eq:
                proved.append((d, N))
            elif t is not None and t >= code_regime_floor(N):
                corollary.append((d, N))
            f = (lambda x: "" if x is None else f"{x:.6f}")
            r = (lambda x, c: "" if x is None else f"{x / c:.3f}")
            print(f"| {d} | {N} | {f(b)} | {f(t)} | {sand.value:.6f} | {free.value:.6f} | "
                  f"{sand.value - free.value:.6f} | {r(b, sand.value)} | {r(b, free.value)} | {free.method} | "
                  f"{'yes' if eq else ('m* equal' if (d, N) in corollary else '')} |")
    print()
    print(f"free = tied proved, value known (tied found within 1e-9 of the free ceiling): {proved or 'none'}")
    print(f"free = tied proved, value unknown ('m* equal': tied found >= m_reg(N), the corollary in "
          f"src/constellations/bounds/shell.py): {len(corollary)} cells")
    grid = [(N, d) for N in (8, 16, 32, 64, 128) for d in range(2, 7)]
    # the summary is Levenshtein (the LP would take ~10 s a cell)
    gains = [margin_upper(N, d).value - margin_upper_free(N, d).value for N, d in grid]
    below = [g for g in gains if g > 0]
    print(f"d <= 6 cells of the shipped grid (N in 8..128), Levenshtein: strictly below the sandwich in "
          f"{len(below)}/{len(grid)} = {len(below) / len(grid):.2f}; median gain {statistics.median(below):.4f} "
          f"(over those cells), {statistics.median(gains):.4f} (over all)")
    print(f"time per cold cell (sandwich + free): median {statistics.median(times) * 1e3:.0f} ms, "
          f"max {max(times) * 1e3:.0f} ms ({a.method})")
    if a.project:
        _project()


def _project():
    """Issue 13 item 6 on the shipped store: every free cell above the tied one, projected to a code."""
    from constellations.bounds.shell import code_regime_floor, midpoint_code
    from constellations.tables.store import TableStore
    path = TABLE.with_name("margins.sqlite")
    with TableStore(path, readonly=True) as st:
        cells = st.cells()
        tied = {(c.key[0], c.key[1]): c.margin_certified for c in cells if c.key[4]}
        print()
        print("| N | d | M | free (certified) | tied (certified) | projected code (certified) | m_reg(N) |")
        print("| --- " * 7 + "|")
        worse = 0
        for c in sorted(cells, key=lambda c: c.key):
            N, d, M, _, is_tied = c.key
            if is_tied or c.margin_certified <= tied[(N, d)] + 1e-9:
                continue
            mc = midpoint_code(st.configuration(c.key))
            worse += mc.margin_certified < c.margin_certified - 1e-9
            print(f"| {N} | {d} | {M} | {c.margin_certified:.9f} | {tied[(N, d)]:.9f} | {mc.margin_certified:.9f} | "
                  f"{code_regime_floor(N):.4f} |")
        print(f"\nfree cells whose projected code is worse than the free margin: {worse}")


if __name__ == "__main__":
    main()

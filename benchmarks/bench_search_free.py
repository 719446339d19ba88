"""Free >= tied, and every cell within its budget (issue 11, "Done when", the small table).

For N in {8, 16}, d in 2..5: the tied search, then free searches with M = 3 and M = 2 (complete
graph), each with ``--time-per-cell`` seconds (default 2) and seed 0.  A code is a constellation
for every M and a free search first solves the tied problem, so m(M=2) >= m(M=3) >= m(tied) - 1e-12
is expected in every cell (M = 2 has fewer constraints than M = 3 on the same rows: any M = 3
constellation restricted to two modalities is an M = 2 one).  Prints one line per (N, d) and a
summary; exit status 1 if an inequality or a budget (10% + 1 s) fails.

    python benchmarks/bench_search_free.py [seconds_per_cell]
"""
import sys
import time

from constellations.search import search


def main(per_cell: float = 2.0) -> int:
    bad = 0
    worst = 0.0
    print(f"{'N':>3} {'d':>2} {'tied':>10} {'M=3':>10} {'M=2':>10}  seconds (tied, M=3, M=2)")
    for n in (8, 16):
        for d in range(2, 6):
            rows = []
            for kw in (dict(tied=True, modalities=2), dict(modalities=3), dict(modalities=2)):
                t0 = time.time()
                r = search(n, d, restarts=None, time_limit=per_cell, seed=0, constructions=False, **kw)
                rows.append((r.margin, time.time() - t0))
            (mt, st), (m3, s3), (m2, s2) = rows
            ok = m2 >= m3 - 1e-12 and m3 >= mt - 1e-12
            within = max(st, s3, s2) <= 1.1 * per_cell + 1.0
            worst = max(worst, st, s3, s2)
            bad += (not ok) + (not within)
            print(f"{n:>3} {d:>2} {mt:10.6f} {m3:10.6f} {m2:10.6f}  {st:.2f} {s3:.2f} {s2:.2f}"
                  + ("" if ok else "  ORDER FAILS") + ("" if within else "  OVER BUDGET"), flush=True)
    print(f"budget {per_cell:g} s per cell; slowest cell {worst:.2f} s; failures: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0))

"""Tightness of the certified ceilings on a table store, before (the sandwich) and after (issue 13).

    python benchmarks/bench_tightness.py                       # the shipped store, d = 2..12, N = 16..128
    python benchmarks/bench_tightness.py --store my.sqlite --n 8 16 --dim 2 3

Prints two Markdown tables, rows d and columns N, each cell "before -> after":

* tied: the stored tied margin (a spherical code) over the sandwich ceiling, then over the code ceiling
  in R^d (constellations.bounds.margin_upper_tied);
* free: the best stored margin of the (N, d) cell (any M, or tied: a code is a constellation) over the
  sandwich, then over the free ceiling (margin_upper_free: the sandwich and the shell bounds);

"=" marks a ratio of 1 within 1e-9 (proved optimal).  Then the issue-13 figures on the whole stored
grid (every N and d of the store): the median tied found/ceiling, the d = 2 tied cells, the share of
d <= 6 cells where the free ceiling is strictly below the sandwich, and the median gain.  Nothing is
searched: the margins are the stored ones, the ceilings are computed now.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from constellations.bounds import optimality
from constellations.tables.runner import ceilings
from constellations.tables.store import TableStore

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "tables" / "margins.sqlite"


def _proved(certified, bound) -> bool:
    """Proved optimal by a theorem (:func:`constellations.bounds.optimality`), no tolerance."""
    return certified is not None and optimality(certified, bound).proved


def _cell(found, before, after, proved):
    if found is None:
        return "-"
    return f"{found / before:.3f} -> {found / after:.3f}" + (" =" if proved else "")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=str(SHIPPED))
    ap.add_argument("--n", type=int, nargs="+", default=[16, 32, 64, 128])
    ap.add_argument("--dim", type=int, nargs="+", default=list(range(2, 13)))
    a = ap.parse_args(argv)
    with TableStore(a.store, readonly=True) as st:
        rows = st.cells()
    tied, best, cert_tied, cert_best = {}, {}, {}, {}
    for r in rows:
        k = (r.n, r.dim)
        if r.tied:
            tied[k], cert_tied[k] = r.margin, r.margin_certified
        if r.margin > best.get(k, 0.0):
            best[k], cert_best[k] = r.margin, r.margin_certified
    t0 = time.perf_counter()
    cs = {k: ceilings(*k) for k in best}
    seconds = time.perf_counter() - t0
    for title, found, cert, which in (("tied (codes): found / sandwich -> found / code ceiling", tied, cert_tied,
                                       "tied"),
                                      ("free (best of M = 2, 3, 4 and tied): found / sandwich -> found / free ceiling",
                                       best, cert_best, "free")):
        print(f"### {title}\n")
        print("| d | " + " | ".join(f"N={n}" for n in a.n) + " |")
        print("|" + "---|" * (len(a.n) + 1))
        for d in a.dim:
            cells = []
            for n in a.n:
                c = cs.get((n, d))
                cells.append("-" if c is None else _cell(found.get((n, d)), c.sandwich, getattr(c, which),
                                                         _proved(cert.get((n, d)), getattr(c, f"{which}_bound"))))
            print(f"| {d} | " + " | ".join(cells) + " |")
        print()
    ratios = [tied[k] / cs[k].tied for k in tied]
    d2 = [(k, tied[k] / cs[k].tied, _proved(cert_tied[k], cs[k].tied_bound)) for k in sorted(tied) if k[1] == 2]
    low = [k for k in cs if k[1] <= 6]
    below = [k for k in low if cs[k].free < cs[k].sandwich]
    gains = [cs[k].sandwich / cs[k].free - 1 for k in low]
    print(f"- stored grid: {len(cs)} (N, d) cells, N in {sorted({k[0] for k in cs})}, "
          f"d in {min(k[1] for k in cs)}..{max(k[1] for k in cs)}; ceilings computed in {seconds:.1f} s")
    print(f"- tied found/ceiling: median {statistics.median(ratios):.4f} over {len(ratios)} tied cells "
          f"(min {min(ratios):.4f}); {sum(_proved(cert_tied[k], cs[k].tied_bound) for k in tied)} proved optimal")
    print(f"- d = 2 tied cells: " + ", ".join(f"N={k[0]}: {r:.12f}{' optimal' if o else ''}" for k, r, o in d2))
    print(f"- free ceiling strictly below the sandwich in {len(below)}/{len(low)} cells with d <= 6; "
          f"median gain sandwich/free - 1 = {statistics.median(gains):.4f} "
          f"(over the cells where it is below: {statistics.median([g for k, g in zip(low, gains) if k in below]):.4f})")
    free_r = [best[k] / cs[k].free for k in cs]
    print(f"- best/free ceiling: median {statistics.median(free_r):.4f}; "
          f"{sum(_proved(cert_best[k], cs[k].free_bound) for k in cs)} cells proved optimal as constellations")


if __name__ == "__main__":
    main()

"""Kissing and root configurations from random starts (issue 29, item 3), with the default options.

Usage: PYTHONPATH=. python benchmarks/bench_search_kissing.py [--seconds 300] [--seed 0] [--cases 4:24,8:240]
       [--jobs auto] [--strategy auto] [--out FILE.json]

The six (d, N) and their largest inner products c, closed forms (docs/math.md section 4), never read
from a file and never given to the search:

    24-cell (4, 24) 1/2;  600-cell (4, 120) (1 + sqrt 5)/4;  D5 roots (5, 40) 1/2;
    E6 roots (6, 72) 1/2;  E7 roots (7, 126) 1/2;  E8 roots (8, 240) 1/2.

Each runs ``search(N, d, tied=True, restarts=None, time_limit=T, seed=S, constructions=False,
n_jobs="auto")`` -- the CLI's defaults with --no-constructions -- and is a hit when its margin is within
1e-10 of (1 - c)/2.  Printed per case: margin, target, gap, the seconds at which the search's progress
callback first reported a margin within 1e-10 of the target (with worker processes the hops report once,
at their end; a hit made by the final polish is reported after the last callback), the step that found the
result, restarts; then the hit count.  --out writes the rows as JSON (atomically) after every case.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.results_file import add_out, out_path, write_json  # noqa: E402
from constellations.search import search  # noqa: E402

CASES = {(4, 24): ("24-cell", 0.5), (4, 120): ("600-cell", (1 + math.sqrt(5)) / 4), (5, 40): ("D5 roots", 0.5),
         (6, 72): ("E6 roots", 0.5), (7, 126): ("E7 roots", 0.5), (8, 240): ("E8 roots", 0.5)}
TOL = 1e-10


def parse_cases(text):
    """'4:24,8:240' -> [(4, 24), (8, 240)], each one of CASES."""
    try:
        cases = [tuple(int(x) for x in part.split(":")) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--cases: expected e.g. 4:24,8:240, got {text!r}") from None
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        raise argparse.ArgumentTypeError(f"--cases: not one of the six configurations: {unknown}")
    return cases


def run_case(d, n, seconds, seed, n_jobs, strategy):
    """One search; the callback notes when the best margin first comes within TOL of the target."""
    name, c = CASES[(d, n)]
    target = (1 - c) / 2
    t0, first = time.perf_counter(), []

    def note(done, total, best):
        if not first and best is not None and best >= target - TOL:
            first.append(time.perf_counter() - t0)

    r = search(n, d, tied=True, restarts=None, time_limit=seconds, seed=seed, constructions=False,
               n_jobs=n_jobs, strategy=strategy, callback=note)
    gap = r.margin - target
    return dict(name=name, dim=d, n=n, margin=r.margin, margin_certified=r.margin_certified, target=target,
                gap=gap, hit=gap >= -TOL, first_hit_seconds=first[0] if first else None, seconds=r.seconds,
                restarts=r.restarts, found_by=r.extra.get("found_by"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=300.0, help="time limit of each search (default 300)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cases", type=parse_cases, default=list(CASES), help="e.g. 4:24,4:120 (default: all six)")
    ap.add_argument("--jobs", default="auto", type=lambda t: t if t == "auto" else int(t),
                    help="the search's n_jobs (default auto, as in the CLI)")
    ap.add_argument("--strategy", default="auto")
    add_out(ap)
    args = ap.parse_args(argv)
    out = out_path(ap, args)
    rows = []
    for d, n in args.cases:
        row = run_case(d, n, args.seconds, args.seed, args.jobs, args.strategy)
        rows.append(row)
        first = (f"{row['first_hit_seconds']:.1f}s" if row["first_hit_seconds"] is not None
                 else "the end (the final polish, after the last progress report)" if row["hit"] else "never")
        print(f"{row['name']:9s} d={d} N={n:3d} m={row['margin']:.12f} target={row['target']:.12f} "
              f"gap={row['gap']:+.1e} {'hit' if row['hit'] else 'MISS'} first within 1e-10 at {first}; "
              f"{row['seconds']:.1f}s, {row['restarts']} restarts, found_by={row['found_by']}", flush=True)
        if out:
            write_json(out, dict(rows=rows, seconds=args.seconds, seed=args.seed, jobs=args.jobs, tolerance=TOL))
    print(f"{sum(r['hit'] for r in rows)}/{len(rows)} found within {TOL:g} of the closed form")


if __name__ == "__main__":
    main()

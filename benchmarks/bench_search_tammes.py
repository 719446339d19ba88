"""Tied search in d = 3 for N = 4..30 (or up to 100) against the spherical-code records.

Usage: PYTHONPATH=. python benchmarks/bench_search_tammes.py [--restarts R] [--nmin 4] [--nmax 30] [--out FILE]

The records are read from data/reference/spherical_codes.csv (N = 4..30) and
data/reference/spherical_codes_records.csv (N = 31..100), each row with its source (N.J.A. Sloane's
table of 3-d packings, public coordinate files, the proofs cited there; data/reference/README.md), for
the comparison only: the search never sees them.  N without a record are reported as such.
Reports per N: margin found, record, difference, restarts, seconds; and the total time.
For time-limited runs over many (d, N), with parallel jobs and resume, see bench_search_records.py.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from constellations.core.errors import ConstellationsError  # noqa: E402
from constellations.io.files import atomic_write_text, check_writable, to_jsonable  # noqa: E402
from constellations.search import search  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_search_records import records as all_records  # noqa: E402  (one reader of both tables)


def records():
    """N -> (record margin, table name) of the d = 3 rows of both reference tables."""
    return {n: (rec["record"], rec["table"]) for (d, n), rec in all_records().items() if d == 3}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--restarts", type=int, default=20)
    ap.add_argument("--nmin", type=int, default=4)
    ap.add_argument("--nmax", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the per-N results to this .json file (atomically)")
    args = ap.parse_args(argv)
    if args.out:
        try:
            check_writable(args.out, ".json")  # before the work, not after it
        except ConstellationsError as exc:
            ap.error(str(exc))
    ref = records()
    rows = []
    t0 = time.perf_counter()
    for n in range(args.nmin, args.nmax + 1):
        if n not in ref:
            print(f"N={n:3d} no record in the reference tables: skipped", flush=True)
            continue
        r = search(n, 3, tied=True, restarts=args.restarts, seed=args.seed, constructions=False)
        rec, src = ref[n]
        diff = r.margin - rec
        ok = diff >= -1e-8
        rows.append(dict(n=n, margin=r.margin, margin_certified=r.margin_certified, record=rec, source=src,
                         diff=diff, ok=ok, seconds=r.seconds, restarts=r.restarts))
        print(f"N={n:3d} m={r.margin:.12f} record={rec:.12f} diff={diff:+.2e} {'ok' if ok else 'SHORT'} "
              f"{r.seconds:6.2f}s  ({src})", flush=True)
    total = time.perf_counter() - t0
    short = [row["n"] for row in rows if not row["ok"]]
    print(f"total {total:.1f}s; short of the record (by more than 1e-8) at N = {short or 'none'}")
    if args.out:
        atomic_write_text(args.out, json.dumps(to_jsonable(dict(rows=rows, total_seconds=total,
                                                                restarts=args.restarts)), indent=1))


if __name__ == "__main__":
    main()

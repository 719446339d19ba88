"""Tied search in d = 3 for N = 4..30 against the spherical-code records.

Usage: PYTHONPATH=. python benchmarks/bench_search_tammes.py [--restarts R] [--nmax 30] [--out FILE]

For N <= 20 the records are read from data/reference/spherical_codes.csv (for the comparison
only; the search never sees them).  For N = 21..30 the table below holds N.J.A. Sloane's minimal
angles (degrees) of the best known 3-d packings as RECALLED by the author of this script, not copied
from the source here: treat a "short" verdict there as a flag to double-check, not a proof.
(Observed: the search reaches the recalled values of N = 21 and 24..30 to within 4e-10, so those digits
are right; for N = 22 and 23 every run ends at 44.7401612 and 43.7099642 degrees, which share the
trailing digits of the recalled 44.7402812 and 43.7100642, so the recall is the likelier error.)
Reports per N: margin found, record, difference, restarts, seconds; and the total time.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from constellations.solvers.search import search  # noqa: E402

#: Sloane's table of 3-d packings, N = 21..30, minimal angle in degrees (recalled; see docstring).
RECALLED_ANGLES = {21: 45.6132231, 22: 44.7402812, 23: 43.7100642, 24: 43.6907671, 25: 41.6344612,
                   26: 41.0376616, 27: 40.6776007, 28: 39.3551436, 29: 38.7136512, 30: 38.5971159}


def records():
    ref = {}
    path = REPO / "data" / "reference" / "spherical_codes.csv"
    with open(path) as fh:
        for row in csv.DictReader(fh):
            if row["dim"] == "3":
                ref[int(row["n_points"])] = (float(row["margin"]), "reference csv")
    for n, ang in RECALLED_ANGLES.items():
        ref.setdefault(n, ((1 - math.cos(math.radians(ang))) / 2, "Sloane (recalled)"))
    return ref


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--restarts", type=int, default=20)
    ap.add_argument("--nmin", type=int, default=4)
    ap.add_argument("--nmax", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the per-N results as JSON")
    args = ap.parse_args(argv)
    ref = records()
    rows = []
    t0 = time.perf_counter()
    for n in range(args.nmin, args.nmax + 1):
        r = search(n, 3, tied=True, restarts=args.restarts, seed=args.seed, constructions=False)
        rec, src = ref.get(n, (float("nan"), "none"))
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
        Path(args.out).write_text(json.dumps(dict(rows=rows, total_seconds=total, restarts=args.restarts), indent=1))


if __name__ == "__main__":
    main()

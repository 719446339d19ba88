"""Tammes codes (d = 3): this search against Lai et al.'s own program, IDNS, on equal time and one core each.

Usage: PYTHONPATH=. python benchmarks/bench_search_vs_idns.py --idns PATH/TO/IDNS [--ns 105,155,180]
       [--seconds 120] [--seed 0] [--out FILE.json]

The baseline is the executable that Lai, Yue, Hao, Glover and Lv publish with their paper (Iterated
dynamic neighborhood search for packing equal circles on a sphere, Comput. Oper. Res. 151 (2023)
106121): github.com/XiangjingLai/Tammes-problem, "Executable codes of IDNS.zip" (commit 946e134), a
Linux x86-64 binary run as ``IDNS N NumberOfRuns TimeLimit``.  Nothing here ships or needs it: pass
its path.  Their own job script runs 10 runs of 1000 s at N = 100.

For every N, at the same time and side by side (one core each, the machine's two cores busy):

- ``IDNS N 1 T`` in a scratch folder; its N.txt starts with N, the minimal distance D and the
  angular diameter, so its margin is m = D^2 / 4 (c = 1 - D^2 / 2, m = (1 - c) / 2);
- ``search(N, 3, tied=True, restarts=None, time_limit=T, seed=S, constructions=False, n_jobs=1)``
  (default options otherwise), in a process of its own.

Both are compared with the best known margin (data/reference/tammes_lai2023.csv, the codes that IDNS
itself found with long runs).  Prints one row per N (margins, gaps, wall seconds), the number of N
each reaches within 1e-8, and the median gap of each.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_search_records import TOL, records  # noqa: E402
from benchmarks.results_file import add_out, out_path, write_json  # noqa: E402
from constellations.search import search  # noqa: E402


def run_idns(idns, n, seconds):
    """IDNS's margin D^2 / 4 and wall seconds for one run of ``seconds`` at N (d = 3)."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([str(Path(idns).resolve()), str(n), "1", str(seconds)], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10 * seconds + 60)
        wall = time.perf_counter() - t0
        head = (Path(tmp) / f"{n}.txt").read_text().split()
    if int(head[0]) != n:
        raise RuntimeError(f"IDNS wrote {head[0]} points for N = {n}")
    return float(head[1]) ** 2 / 4.0, wall


def run_ours(n, seconds, seed):
    """This search's margin and wall seconds, one worker (n_jobs=1), default options otherwise."""
    t0 = time.perf_counter()
    r = search(n, 3, tied=True, restarts=None, time_limit=seconds, seed=seed, constructions=False, n_jobs=1)
    return r.margin, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--idns", required=True, help="path of the IDNS executable (Lai et al.'s repository)")
    ap.add_argument("--ns", type=lambda t: [int(x) for x in t.split(",")], default=[105, 155, 180])
    ap.add_argument("--seconds", type=float, default=120.0, help="time limit of both, per N")
    ap.add_argument("--seed", type=int, default=0, help="this search's seed (IDNS seeds itself)")
    add_out(ap, "results as JSON, rewritten atomically after every N")
    args = ap.parse_args(argv)
    ref = records()
    if any((3, n) not in ref for n in args.ns) or args.seconds <= 0 or not Path(args.idns).is_file():
        ap.error("every N needs a d = 3 record, --seconds > 0 and --idns an existing file")
    out = out_path(ap, args)
    rows = []
    with ProcessPoolExecutor(max_workers=2) as pool:
        for n in args.ns:
            fi = pool.submit(run_idns, args.idns, n, int(round(args.seconds)))
            fo = pool.submit(run_ours, n, args.seconds, args.seed)
            (mi, ti), (mo, to) = fi.result(), fo.result()
            rec = ref[(3, n)]["record"]
            rows.append(dict(n=n, record=rec, idns=mi, idns_gap=mi - rec, idns_seconds=ti,
                             ours=mo, ours_gap=mo - rec, ours_seconds=to))
            print(f"N={n:3d} record={rec:.12f}  IDNS {mi:.12f} gap {mi - rec:+.2e} ({ti:5.1f}s)  "
                  f"ours {mo:.12f} gap {mo - rec:+.2e} ({to:5.1f}s)", flush=True)
            if out:
                write_json(out, dict(rows=rows, seconds=args.seconds, seed=args.seed))
    for who in ("idns", "ours"):
        hits = sum(r[f"{who}_gap"] >= -TOL for r in rows)
        med = statistics.median(r[f"{who}_gap"] for r in rows)
        print(f"{who}: {hits}/{len(rows)} within {TOL:g} of the record; median gap {med:+.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Tied search from random starts against the published spherical-code records (issue 11).

Usage: PYTHONPATH=. python benchmarks/bench_search_records.py [--dims 3 | 4:8 | 3,5]
       [--nmin 4] [--nmax 100] [--time-per-n 60] [--seed 0] [--jobs 1] [--out FILE.json] [--resume FILE.json]

For every (d, N) in range that has a row in data/reference/spherical_codes.csv,
data/reference/spherical_codes_records.csv or data/reference/tammes_lai2023.csv (d = 3, N = 101..200;
each row cites its source; data/reference/README.md), runs

    search(N, d, tied=True, restarts=None, time_limit=T, seed=S, constructions=False)

and compares its margin m with the record margin (1 - c)/2 *after* the search: the search never sees
the tables.  Per case: margin found, record, gap = m - record, ok (gap >= -1e-8), seconds, found_by
(``result.extra["found_by"]``); then the hit rate and every miss with its gap.

--jobs K runs K cases at once in separate processes (torch limited to one thread each);
--search-jobs J gives each search J worker processes of its own (``n_jobs``: its restarts and its
basin hopping run in parallel); its default, auto, is the CLI's default (every core), so the default
run spends every core on one case at a time, as a user's `constellations search` would (use
--search-jobs 1 with --jobs K > 1).  --out
rewrites FILE.json atomically after every finished case, so an interrupted sweep keeps what it did;
--resume FILE.json skips the cases already in that file (it may be the same file as --out) and
carries them into the summary; its rows outside this run's range are kept in --out unchanged.
Ctrl-C writes what is done, marked "interrupted", and exits 130.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from constellations.core.errors import ConstellationsError  # noqa: E402
from benchmarks.results_file import add_out, out_path, write_json  # noqa: E402

TABLES = [REPO / "data" / "reference" / "spherical_codes.csv",
          REPO / "data" / "reference" / "spherical_codes_records.csv",
          REPO / "data" / "reference" / "tammes_lai2023.csv"]
TOL = 1e-8


def records():
    """(d, N) -> dict(record margin, its uncertainty in c, status, source) from both reference tables."""
    ref = {}
    for path in TABLES:
        with open(path, newline="") as fh:
            for r in csv.DictReader(fh):
                key = (int(r["dim"]), int(r["n_points"]))
                ref[key] = dict(record=float(r["margin"]), c_uncertainty=float(r["c_uncertainty"]),
                                status=r["status"], source=r["source"], table=path.name)
    return ref


def parse_dims(text):
    """'3' -> [3]; '4:8' -> [4, 5, 6, 7, 8] (inclusive); '3,5:6' -> [3, 5, 6]."""
    dims = set()
    try:
        for part in text.split(","):
            lo, _, hi = part.partition(":")
            dims.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--dims: expected e.g. 3, 4:8 or 3,5:6, got {text!r}") from None
    if not dims or min(dims) < 2:
        raise argparse.ArgumentTypeError(f"--dims: dimensions must be >= 2, got {text!r}")
    return sorted(dims)


def _one_thread():
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass


def run_case(d, n, time_per_n, seed, strategy="auto", n_jobs="auto"):
    """One tied search from random starts; never given the record."""
    from constellations.search import search
    t0 = time.perf_counter()
    try:
        r = search(n, d, tied=True, restarts=None, time_limit=time_per_n, seed=seed, constructions=False,
                   strategy=strategy, n_jobs=n_jobs)
    except ConstellationsError as exc:  # a refused size is a result too (counted as a miss)
        return dict(dim=d, n=n, margin=None, margin_certified=None, seconds=time.perf_counter() - t0,
                    found_by=None, restarts=0, error=str(exc))
    return dict(dim=d, n=n, margin=r.margin, margin_certified=r.margin_certified, seconds=r.seconds,
                found_by=r.extra.get("found_by"), restarts=r.restarts, time_limited=r.time_limited,
                interrupted=r.interrupted)


def _compare(row, ref):
    rec = ref[(row["dim"], row["n"])]
    row["record"] = rec["record"]
    row["record_status"] = rec["status"]
    m = row.get("margin")
    row["gap"] = None if m is None else m - rec["record"]
    row["ok"] = m is not None and row["gap"] >= -TOL
    return row


def _line(row):
    if row["margin"] is None:
        return f"d={row['dim']} N={row['n']:3d} refused: {row['error']}"
    return (f"d={row['dim']} N={row['n']:3d} m={row['margin']:.12f} record={row['record']:.12f} "
            f"gap={row['gap']:+.2e} {'interrupted' if row.get('interrupted') else 'ok' if row['ok'] else 'MISS'} "
            f"{row['seconds']:7.1f}s "
            f"found_by={row['found_by']}")


def _summary(rows):
    """Hits and misses over the cases that ran to their time limit (an interrupted one is neither)."""
    full = [r for r in rows if not r.get("interrupted")]
    hits = sum(r["ok"] for r in full)
    misses = [dict(dim=r["dim"], n=r["n"], gap=r["gap"]) for r in full if not r["ok"]]
    return len(full), hits, misses


def _write(path, rows, args, interrupted, others=()):
    """The results file; ``others`` (rows of a resumed file outside this range) are kept, not summarised."""
    cases, hits, misses = _summary(rows)
    doc = dict(rows=sorted([*rows, *others], key=lambda r: (r["dim"], r["n"])), dims=args.dims, nmin=args.nmin,
               nmax=args.nmax, ns=args.ns, strategy=args.strategy, search_jobs=args.search_jobs,
               time_per_n=args.time_per_n, seed=args.seed, tolerance=TOL,
               cases=cases, hits=hits, hit_rate=hits / cases if cases else None, misses=misses,
               interrupted=interrupted)
    write_json(path, doc)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dims", type=parse_dims, default=[3], help="e.g. 3, 4:8 or 3,5:6 (default 3)")
    ap.add_argument("--nmin", type=int, default=4)
    ap.add_argument("--nmax", type=int, default=100)
    ap.add_argument("--time-per-n", type=float, default=60.0, help="search time limit per case, seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strategy", default="auto", help="the search's strategy (default auto)")
    ap.add_argument("--ns", type=lambda t: sorted({int(x) for x in t.split(",")}), default=None,
                    help="only these N, e.g. 43,49,57 (within --nmin..--nmax)")
    ap.add_argument("--jobs", type=int, default=1, help="cases run at once in separate processes")
    ap.add_argument("--search-jobs", default="auto", type=lambda t: t if t == "auto" else int(t),
                    help="worker processes of each search (its n_jobs: restarts and basin hopping in parallel); "
                         "auto (the default, as in the CLI): every core")
    add_out(ap, "results as JSON, rewritten atomically after every case")
    ap.add_argument("--resume", default=None, help="skip the cases already in this JSON file")
    args = ap.parse_args(argv)
    if args.jobs < 1 or args.time_per_n <= 0 or args.nmin > args.nmax:
        ap.error("need --jobs >= 1, --time-per-n > 0 and --nmin <= --nmax")
    out = out_path(ap, args)
    ref = records()
    cases = sorted((d, n) for (d, n) in ref if d in args.dims and args.nmin <= n <= args.nmax
                   and (args.ns is None or n in args.ns))
    done, others = [], []
    if args.resume and Path(args.resume).exists():
        try:
            old = json.loads(Path(args.resume).read_text())["rows"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            ap.error(f"--resume {args.resume}: not a results file of this script ({exc})")
        wanted = set(cases)
        done = [_compare(r, ref) for r in old if (r["dim"], r["n"]) in wanted and not r.get("interrupted")]
        others = [r for r in old if (r["dim"], r["n"]) not in wanted]
        print(f"resumed {len(done)} cases from {args.resume}")
    todo = [c for c in cases if c not in {(r["dim"], r["n"]) for r in done}]
    print(f"{len(cases)} cases with a record (dims {args.dims}, N {args.nmin}..{args.nmax}); {len(todo)} to run, "
          f"{args.time_per_n:g}s each, {args.jobs} at a time", flush=True)
    rows = list(done)
    t0 = time.perf_counter()
    interrupted = False
    pool = ProcessPoolExecutor(max_workers=args.jobs, initializer=_one_thread) if args.jobs > 1 else None
    try:
        if pool is None:
            finished = (run_case(d, n, args.time_per_n, args.seed, args.strategy, args.search_jobs) for d, n in todo)
        else:
            futures = [pool.submit(run_case, d, n, args.time_per_n, args.seed, args.strategy,
                                   args.search_jobs) for d, n in todo]
            finished = (f.result() for f in as_completed(futures))
        for row in finished:
            row = _compare(row, ref)
            if row.get("interrupted"):  # a search cut short by Ctrl-C: keep it, but as such
                interrupted = True
            rows.append(row)
            print(_line(row), flush=True)
            if out:
                _write(out, rows, args, interrupted, others)
            if interrupted:
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if pool is not None:
            pool.shutdown(wait=not interrupted, cancel_futures=True)
    if out:
        _write(out, rows, args, interrupted, others)
    cases, hits, misses = _summary(rows)
    print(f"hit rate {hits}/{cases}" + (f" = {hits / cases:.0%}" if cases else "")
          + f" (within {TOL:g} of the record); wall {time.perf_counter() - t0:.1f}s"
          + ("; the interrupted case is left out" if cases < len(rows) else ""))
    for m in misses:
        gap = "refused" if m["gap"] is None else f"{m['gap']:+.3e}"
        print(f"  miss d={m['dim']} N={m['n']}: gap {gap}")
    if interrupted:
        print("constellations: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

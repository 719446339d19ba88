"""Benchmark: certified margin bounds for d = 2..24 at N = 100 and N = 1000.

For every cell it prints margin_lower (best certified construction), margin_upper (Theorem 3.4 and
the sandwich with the exact Levenshtein bound), their ratio, and the wall time of each.  With
``--delsarte`` it adds the sandwich with the certified Delsarte LP (the baseline-vs-alternative
timing ratio is measured in the same run).  With ``--sdp`` it solves the dimension-free SDP for
M = 2, 3, 4 (star and complete graphs).  Margins are m, HALF the gap.

    PYTHONPATH=. python benchmarks/bench_bounds.py [--n 100,1000] [--dims 2:24] [--delsarte] [--sdp]
                                                   [--json out.json]

Each cell is computed once (the functions cache per (N, d)); timings are single cold runs on a
shared machine, so read them as orders of magnitude.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from constellations.io.files import atomic_write_text, to_jsonable  # noqa: E402
from constellations import bounds as B  # noqa: E402


def _dims(spec: str):
    if ":" in spec:
        a, b = spec.split(":")
        return list(range(int(a), int(b) + 1))
    return [int(x) for x in spec.split(",")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", default="100,1000")
    ap.add_argument("--dims", default="2:24")
    ap.add_argument("--delsarte", action="store_true", help="also the Delsarte-LP sandwich (slower)")
    ap.add_argument("--sdp", action="store_true", help="also the dimension-free SDP table")
    ap.add_argument("--json", default=None, help="write all rows to this file (atomic)")
    a = ap.parse_args(argv)
    Ns = [int(x) for x in a.n.split(",")]
    dims = _dims(a.dims)
    rows = []
    # warm up imports (scipy, flint) outside the timed cells
    B.levenshtein_bound(3, "1/2")
    B.margin_lower(5, 3)
    for N in Ns:
        print(f"\n## N = {N}  (m = half the gap)\n")
        hdr = "| d | margin_lower | construction | margin_upper | method | lower/upper | t_lower s | t_upper s |"
        sep = "|---|---|---|---|---|---|---|---|"
        if a.delsarte:
            hdr += " upper (LP) | t_upper LP s | LP/Lev time |"
            sep += "---|---|---|"
        print(hdr)
        print(sep)
        for d in dims:
            t0 = time.perf_counter()
            lo = B.margin_lower(N, d)
            t1 = time.perf_counter()
            up = B.margin_upper(N, d)
            t2 = time.perf_counter()
            row = {"N": N, "d": d, "margin_lower": lo.value, "lower_method": lo.method,
                   "margin_upper": up.value, "upper_method": up.method,
                   "ratio": lo.value / up.value if up.value > 0 else None,
                   "t_lower": t1 - t0, "t_upper": t2 - t1}
            line = (f"| {d} | {lo.value:.6f} | {lo.method.split(':')[-1]} | {up.value:.6f} | {up.method} | "
                    f"{row['ratio']:.3f} | {row['t_lower']:.3f} | {row['t_upper']:.3f} |")
            if a.delsarte:
                t3 = time.perf_counter()
                lp = B.margin_upper(N, d, method="delsarte")
                t4 = time.perf_counter()
                row.update({"margin_upper_lp": lp.value, "t_upper_lp": t4 - t3})
                line += f" {lp.value:.6f} | {t4 - t3:.2f} | {(t4 - t3) / max(row['t_upper'], 1e-9):.0f}x |"
            print(line, flush=True)
            rows.append(row)
        sub = [r for r in rows if r["N"] == N]
        print(f"\nN = {N}: median t_upper {statistics.median(r['t_upper'] for r in sub):.3f} s, "
              f"median t_lower {statistics.median(r['t_lower'] for r in sub):.3f} s, "
              f"median ratio {statistics.median(r['ratio'] for r in sub):.3f}", end="")
        if a.delsarte:
            print(f", median t_upper LP {statistics.median(r['t_upper_lp'] for r in sub):.2f} s", end="")
        print()
    sdp_rows = []
    if a.sdp:
        print("\n## Dimension-free SDP (numerical), compared with N/(2(N-1))\n")
        print("| M | graph | N | SDP m | N/(2(N-1)) | b_rel | t s |")
        print("|---|---|---|---|---|---|---|")
        for M, graphs in ((2, ("complete",)), (3, ("star", "complete")), (4, ("star", "complete"))):
            for g in graphs:
                for N in (3, 6, 12):
                    t0 = time.perf_counter()
                    r = B.sdp_margin(N, M, g)
                    t = time.perf_counter() - t0
                    sdp_rows.append({"M": M, "graph": g, "N": N, "sdp": r.margin, "b_rel": r.b_rel, "t": t})
                    print(f"| {M} | {g} | {N} | {r.margin:.8f} | {N / (2 * (N - 1)):.8f} | {r.b_rel:.6f} | {t:.2f} |",
                          flush=True)
    print("\n## Asymptotic reference curves (free b_rel; natural log per dimension)\n")
    print("| m | Thm 3.3 lower log(1/sqrt(1-a^2)) | Thm 3.5 upper -log(1-a)/2 | Kabatiansky-Levenshtein |")
    print("|---|---|---|---|")
    for m in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45):
        print(f"| {m} | {B.exponent_lower(m):.4f} | {B.exponent_upper(m):.4f} | {B.kl_exponent(1 - 2 * m):.4f} |")
    if a.json:
        atomic_write_text(a.json, json.dumps(to_jsonable({"cells": rows, "sdp": sdp_rows}), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Algebraic codes at scale: best construction vs short search, and the cost of exact certificates.

Usage:
  PYTHONPATH=. python benchmarks/bench_codes.py table  [--search-seconds 15] [--out data/codes]
  PYTHONPATH=. python benchmarks/bench_codes.py certify [--full] [--leech-rows K]

``table``: for N in {1024, 4096, 16384, 65536} and d in {64, 128, 256, 512, 768, 1024}, the catalogue's
best construction (constellations.codes.catalogue.best_construction: exact margin, recipe, how c was proved,
lookup seconds), and for the cells where a CPU search fits in the budget (N <= 4096, d <= 256) a
tied search of ``--search-seconds`` seconds from a random start (certified margin), and also the same
search started from the construction (does search improve it?).  Writes codes_table.json and
codes_table.md under --out.

``certify``: seconds of the exact certificates: Kerdock d = 256 and d = 1024 by exhaustive Lee weights,
Leech by orbit representatives; --full adds the brute-force check of Kerdock d = 256 (every pair,
66,048^2 x 256, integer Gram in float32 blocks, exact because every partial sum is an integer below
2^24) and --leech-rows K the same for the first K Leech rows against all 196,560 (K = 196560: every
pair; several minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NS = (1024, 4096, 16384, 65536)
DIMS = (64, 128, 256, 512, 768, 1024)


def table(search_seconds: float, out: Path, search_cells):
    from constellations.codes.catalogue import best_construction
    from constellations.core.certify import certified_margin
    from constellations.io.files import atomic_write_text
    from constellations.search import search
    rows = []
    for n in NS:
        for d in DIMS:
            t = time.perf_counter()
            e = best_construction(n, d)
            sec = time.perf_counter() - t
            row = {"n": n, "dim": d, "modalities": 2, "margin": e.margin, "margin_exact": e.margin_exact,
                   "margin_certified": e.margin_certified, "code": e.code, "copies": e.copies,
                   "recipe": e.recipe, "certification": e.certification, "lookup_seconds": round(sec, 3)}
            if (n, d) in search_cells:
                r = search(n, d, 2, tied=True, restarts=None, time_limit=search_seconds, seed=0,
                           constructions=False)
                row["search_random_start"] = {"margin_certified": r.margin_certified, "seconds": round(r.seconds, 1),
                                              "restarts": r.restarts}
                cfg = e.build()
                r2 = search(n, d, 2, tied=True, restarts=1, time_limit=search_seconds, seed=0, init=cfg)
                row["search_from_construction"] = {"margin_certified": r2.margin_certified,
                                                   "seconds": round(r2.seconds, 1),
                                                   "construction_certified": certified_margin(cfg).margin_certified}
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k not in ("recipe", "certification")}), flush=True)
    meta = {"command": f"PYTHONPATH=. python benchmarks/bench_codes.py table --search-seconds {search_seconds:g}",
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, shared 2 cores",
            "note": "margin = m (HALF the gap) of the tied configuration U = V = code; exact rational in "
                    "margin_exact; search margins are certified float64 lower bounds (certified_margin)."}
    atomic_write_text(out / "codes_table.json", json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    md = ["# Best construction vs short search (tied, M = 2)", "",
          f"Made by `{meta['command']}` ({meta['machine']}).", "",
          "m is HALF the gap.  Construction margins are exact (the code's max inner product c is proved in integer "
          "arithmetic, see src/constellations/codes/catalogue.py); search margins are certified float64 lower bounds after "
          f"{search_seconds:g} s of `search(..., tied=True)` from a random start, and from the construction.", "",
          "| N | d | construction m | code | search m (random start) | search m (from construction) |",
          "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        s1 = r.get("search_random_start", {}).get("margin_certified")
        s2 = r.get("search_from_construction", {}).get("margin_certified")
        code = r["code"] + (f" x{r['copies']}" if r["copies"] > 1 else "")
        m = float(Fraction(r["margin_exact"]))
        md.append(f"| {r['n']} | {r['dim']} | {m:.6f} ({r['margin_exact']}) | {code} | "
                  f"{'-' if s1 is None else f'{s1:.6f}'} | {'-' if s2 is None else f'{s2:.6f}'} |")
    md += ["", "Recipes:", ""] + [f"- N={r['n']}, d={r['dim']}: {r['recipe']}" for r in rows]
    atomic_write_text(out / "codes_table.md", "\n".join(md) + "\n")


def _full_gram_max(P: np.ndarray, rows: int | None = None) -> int:
    """max_{i != j} <p_i, p_j> over rows i < ``rows`` (default all) and every j, float32 matmul of small
    integers (exact)."""
    F = np.ascontiguousarray(P, dtype=np.float32)
    block = max(64, (1 << 26) // len(F))  # a 256 MiB block of inner products
    best = -np.inf
    for a in range(0, len(F) if rows is None else rows, block):
        G = F[a:a + block] @ F.T
        r = np.arange(G.shape[0])
        G[r, a + r] = -np.inf
        best = max(best, float(G.max()))
    return int(best)


def certify(full: bool, leech_rows: int):
    from constellations.codes import binary as bc
    from constellations.codes import lattices as lat
    for d in (256, 1024):
        t = time.perf_counter()
        c = bc.kerdock_max_inner_product(d)
        print(f"kerdock d={d}: {bc.kerdock_size(d)} points, c = {c} by exhaustive Lee weights of {d * d} Z4 words: "
              f"{time.perf_counter() - t:.1f}s", flush=True)
    t = time.perf_counter()
    L = lat.leech_min_vectors()
    top, reps = lat.integer_max_inner_product(L, lat.leech_symmetries())
    print(f"leech: 196560 points, max <x,y> = {top} (c = {Fraction(top, 32)}) over {reps} orbit representatives: "
          f"{time.perf_counter() - t:.1f}s", flush=True)
    if full:
        P = bc.kerdock_z4_code(7).gray_points(dtype=np.float32) * 16  # +-1 entries
        P = np.vstack([P, 16 * bc.kerdock_points(256, 65536, None, np.float32)])  # +-e_i scaled by 16
        t = time.perf_counter()
        top = _full_gram_max(np.rint(P).astype(np.int8))
        print(f"kerdock d=256 brute force: max 256<x,y> = {top} (c = {Fraction(top, 256)}), 66048^2 pairs: "
              f"{time.perf_counter() - t:.1f}s", flush=True)
    if leech_rows:
        t = time.perf_counter()
        top = _full_gram_max(L, leech_rows)
        print(f"leech brute force, first {leech_rows} rows x all 196560: max <x,y> = {top} "
              f"(c = {Fraction(top, 32)}): {time.perf_counter() - t:.1f}s", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["table", "certify"])
    ap.add_argument("--search-seconds", type=float, default=15.0)
    ap.add_argument("--out", type=Path, default=REPO / "data" / "codes")
    ap.add_argument("--full", action="store_true", help="brute-force Kerdock d = 256 (every pair)")
    ap.add_argument("--leech-rows", type=int, default=0, help="brute-force these many Leech rows against all")
    a = ap.parse_args()
    if a.what == "table":
        cells = {(n, d) for n in (1024, 4096) for d in (64, 128, 256)}
        table(a.search_seconds, a.out, cells)
    else:
        certify(a.full, a.leech_rows)


if __name__ == "__main__":
    main()

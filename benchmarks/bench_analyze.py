"""Benchmark of ``constellations analyze`` at SigLIP scale (issue 12 item 4).

Makes random float32 pairs (U, V) of N x d (default N = 50,000, d = 1,152, SigLIP so400m's width), with V_i
correlated to U_i so that retrieval and margins are not trivial, writes them as two .npy files, and runs the
real console command ``constellations analyze U.npy V.npy --json`` in a subprocess: wall time and the
subprocess's peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss``) are printed against the targets
(<= 180 s, <= 4 GiB).  Then checks agreement with float64 brute force:

1. on a subsample of ``--check-n`` items, ``analyze_pairs`` (the same float32 sweep + float64 refinement)
   against numpy float64 on the full Gram matrix of the subsample: min/max, percentile and mean forms,
   retrieval both ways (exact agreement expected, to ~1e-15);
2. on the full run: min pos (all N matched products in float64), the max negative against a float64
   brute force over a random subset of rows (the full value must be >= it, and equal to the float64 product
   of the pair it came from), and p95 of the negatives against the sampled float64 quantile of those
   rows (statistical agreement only).

Run:  PYTHONPATH=. python benchmarks/bench_analyze.py [--n 50000 --dim 1152 --threads 2 --dtype float64
      --out FILE.json]   (BENCH_TMP=DIR puts the two .npy files there)

``--logits`` measures the SigLIP-model checks instead (issue "The practitioner's view"): one .npz of N x d
pairs (default N = 20,000, d = 64), ``constellations analyze`` run three times in subprocesses -- ``--no-fit``,
the default (with the fit of (t*, b*)), and with a given model ``--t 10 --bias -10`` -- each timed (wall and
CPU of the child), the fit's status, exact passes and gradient printed; then on a subsample of ``--check-n``
items the fit against :func:`constellations.analysis.temperature.fit_scores` on the float64 brute-force
products, and the model's loss against a brute-force sum.

      PYTHONPATH=. python benchmarks/bench_analyze.py --logits [--n 20000 --dim 64 --out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def make_pairs(n, d, seed=0, chunk=5000):
    """U random unit-ish rows, V_i = U_i + 1.5 z_i: matched products ~0.55, non-matched ~N(0, 1/d)."""
    rng = np.random.default_rng(seed)
    U = np.empty((n, d), dtype=np.float32)
    V = np.empty((n, d), dtype=np.float32)
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        u = rng.standard_normal((b - a, d), dtype=np.float32)
        U[a:b] = u
        V[a:b] = u + 1.5 * rng.standard_normal((b - a, d), dtype=np.float32)
    return U, V


def brute(U, V, q=(5.0, 95.0)):
    Un = U.astype(np.float64)
    Vn = V.astype(np.float64)
    Un /= np.linalg.norm(Un, axis=1, keepdims=True)
    Vn /= np.linalg.norm(Vn, axis=1, keepdims=True)
    G = Un @ Vn.T
    N = len(G)
    pos = np.diag(G).copy()
    neg = G[~np.eye(N, dtype=bool)]
    return {"pos_min": pos.min(), "neg_max": neg.max(), "p_pos": np.percentile(pos, q[0]),
            "p_neg": np.percentile(neg, q[1]), "mean_pos": pos.mean(), "mean_neg": neg.mean(),
            "r_kl": float(np.mean(G.argmax(1) == np.arange(N))), "r_lk": float(np.mean(G.argmax(0) == np.arange(N)))}


def _timed_cli(args, env):
    """Run ``constellations analyze ARGS --json --quiet --no-gap``: (wall s, child CPU s, parsed JSON)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "constellations.cli.main", "analyze", *args, "--json", "--quiet",
                        "--no-gap"], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"analyze failed ({r.returncode}): {r.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu, json.loads(r.stdout)


def logits_main(args) -> int:
    """The --logits benchmark (see the module docstring)."""
    from constellations.analysis.paired import analyze_pairs
    from constellations.analysis.temperature import fit_scores

    U, V = make_pairs(args.n, args.dim)
    report = {"n": args.n, "dim": args.dim, "cpus": os.cpu_count(), "loadavg_before": os.getloadavg(), "runs": {}}
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        f = os.path.join(tmp, "pairs.npz")
        np.savez(f, U=U, V=V)
        for name, extra in (("no_fit", ["--no-fit"]), ("fit", []), ("model_and_fit", ["--t", "10", "--bias", "-10"])):
            wall, cpu, out = _timed_cli([f, *extra], env)
            fit = out["fit"] or {}
            report["runs"][name] = {"wall_s": wall, "cpu_s": cpu, "analyze_seconds": out["seconds"],
                                    "fit": {k: fit.get(k) for k in ("status", "t", "b", "passes", "grad_norm")}}
            print(f"analyze {' '.join(extra) or '(default: fit)'}: wall {wall:.1f} s, CPU {cpu:.1f} s; fit "
                  f"{fit.get('status')} in {fit.get('passes')} pass(es), t* {fit.get('t')}, b* {fit.get('b')}, "
                  f"|grad| {fit.get('grad_norm')}", flush=True)
    rng = np.random.default_rng(1)
    sel = np.sort(rng.choice(args.n, size=min(args.check_n, args.n), replace=False))
    res = analyze_pairs((U[sel], V[sel]), gap=False, t=10.0, bias=-10.0)
    Un, Vn = (A[sel].astype(np.float64) for A in (U, V))
    Un /= np.linalg.norm(Un, axis=1, keepdims=True)
    Vn /= np.linalg.norm(Vn, axis=1, keepdims=True)
    S = Un @ Vn.T
    P = np.eye(len(sel), dtype=bool)
    z = 10.0 * S - 10.0
    loss = np.logaddexp(0, -z)[P].sum() + np.logaddexp(0, z)[~P].sum()
    ref = fit_scores(S, P)
    check = {"n": len(sel), "loss_rel_diff": abs(res.model.loss.loss_sum / loss - 1),
             "fit_t_rel_diff": abs(res.fit.t / ref.t - 1), "fit_b_rel_diff": abs(res.fit.b / ref.b - 1)}
    report["subsample_check"] = check
    ok = max(check["loss_rel_diff"], check["fit_t_rel_diff"], check["fit_b_rel_diff"]) < 1e-8
    print(f"subsample of {len(sel)}: loss vs brute force {check['loss_rel_diff']:.1e}, fit vs fit_scores "
          f"t {check['fit_t_rel_diff']:.1e}, b {check['fit_b_rel_diff']:.1e}: {'OK' if ok else 'FAILED'}")
    report["ok"] = bool(ok)
    if args.out:
        from constellations.io.files import atomic_write_text, to_jsonable
        atomic_write_text(args.out, json.dumps(to_jsonable(report), indent=1) + "\n")
    return 0 if ok else 1


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=None, help="items (default 50000; 20000 with --logits)")
    ap.add_argument("--dim", type=int, default=None, help="dimension (default 1152; 64 with --logits)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--check-n", type=int, default=3000)
    ap.add_argument("--check-rows", type=int, default=200)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--out", default=None)
    ap.add_argument("--logits", action="store_true", help="benchmark the SigLIP-model checks (default N 20000, d 64)")
    args = ap.parse_args(argv)
    args.n = args.n or (20_000 if args.logits else 50_000)
    args.dim = args.dim or (64 if args.logits else 1152)
    if args.logits:
        args.check_n = min(args.check_n, 1500)
        return logits_main(args)

    from constellations.analysis.paired import analyze_pairs

    t = time.perf_counter()
    U, V = make_pairs(args.n, args.dim)
    print(f"made U, V float32 ({args.n} x {args.dim}) in {time.perf_counter() - t:.1f} s", flush=True)
    report = {"n": args.n, "dim": args.dim, "threads": args.threads, "device": args.device, "dtype": args.dtype,
              "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "loadavg_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        pu, pv = os.path.join(tmp, "U.npy"), os.path.join(tmp, "V.npy")
        np.save(pu, U)
        np.save(pv, V)
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
        cmd = [sys.executable, "-c",
               f"import torch; torch.set_num_threads({args.threads}); "
               "from constellations.cli.main import main; main()",
               "analyze", pu, pv, "--json", "--quiet", "--device", args.device, "--dtype", args.dtype]
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t
        if r.returncode != 0:
            print(r.stderr)
            raise SystemExit(f"analyze failed with exit status {r.returncode}")
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss = ru.ru_maxrss * 1024  # Linux: KiB
    cpu = ru.ru_utime + ru.ru_stime  # on a loaded machine wall time mostly measures the neighbours
    out = json.loads(r.stdout)
    report.update({"wall_s": wall, "analyze_seconds": out["seconds"], "peak_rss_bytes": rss, "cpu_s": cpu,
                   "loadavg_after": os.getloadavg(), "sweeps": out["sweeps"], "epsilon": out["epsilon"],
                   "forms": out["forms"], "retrieval": [out["edges"][0]["retrieval_kl"], out["edges"][0]["retrieval_lk"]],
                   "gap": out["edges"][0]["gap"]["method"] if out["edges"][0]["gap"] else None})
    print(f"analyze N={args.n} d={args.dim}: wall {wall:.1f} s (target <= 180), CPU {cpu:.1f} s over "
          f"{args.threads} thread(s), peak RSS {rss / 2 ** 30:.2f} GiB "
          f"(target <= 4), {out['sweeps']} Gram sweep(s), load average {report['loadavg_before']} -> "
          f"{report['loadavg_after']}", flush=True)

    # 1. subsample: the same algorithm against a float64 brute force
    rng = np.random.default_rng(1)
    sel = np.sort(rng.choice(args.n, size=min(args.check_n, args.n), replace=False))
    Us, Vs = U[sel], V[sel]
    res = analyze_pairs((Us, Vs), gap=False)
    b = brute(Us, Vs)
    got = {"pos_min": res.forms["minmax"].pos, "neg_max": res.forms["minmax"].neg,
           "p_pos": res.forms["percentile"].pos, "p_neg": res.forms["percentile"].neg,
           "mean_pos": res.forms["mean"].pos, "mean_neg": res.forms["mean"].neg,
           "r_kl": res.edges[0].retrieval_kl, "r_lk": res.edges[0].retrieval_lk}
    diffs = {k: abs(got[k] - b[k]) for k in b}
    report["subsample_check"] = {"n": len(sel), "max_abs_diff": max(diffs.values()), "diffs": diffs}
    print(f"subsample of {len(sel)} items vs float64 brute force: max |diff| {max(diffs.values()):.2e} "
          f"({', '.join(f'{k} {v:.1e}' for k, v in diffs.items())})", flush=True)

    # 2. the full run against float64 facts
    Un = U.astype(np.float64)
    Un /= np.linalg.norm(Un, axis=1, keepdims=True)
    Vn = V.astype(np.float64)
    Vn /= np.linalg.norm(Vn, axis=1, keepdims=True)
    diag = np.einsum("nd,nd->n", Un, Vn)
    rows = np.sort(rng.choice(args.n, size=min(args.check_rows, args.n), replace=False))
    Gr = Un[rows] @ Vn.T
    Gr[np.arange(len(rows)), rows] = -np.inf
    negs = Gr[np.isfinite(Gr)]
    f = out["forms"]
    full = {"pos_min_diff": abs(f["minmax"]["pos"] - diag.min()),
            "p_pos_diff": abs(f["percentile"]["pos"] - np.percentile(diag, 5)),
            "neg_max_minus_sampled_max": f["minmax"]["neg"] - negs.max(),
            "p_neg_minus_sampled_p95": f["percentile"]["neg"] - np.percentile(negs, 95),
            "sampled_rows": len(rows)}
    report["full_check"] = full
    print(f"full run: min pos vs float64 diag {full['pos_min_diff']:.1e}, p5 pos {full['p_pos_diff']:.1e}; "
          f"max neg - max over {len(rows)} sampled rows = {full['neg_max_minus_sampled_max']:.4g} (>= 0); "
          f"p95 neg - sampled p95 = {full['p_neg_minus_sampled_p95']:.2e} (sampling error)", flush=True)
    ok = (max(diffs.values()) < 1e-12 and full["pos_min_diff"] < 1e-12 and full["p_pos_diff"] < 1e-12
          and full["neg_max_minus_sampled_max"] >= 0)
    report["ok"] = bool(ok)
    print("checks:", "OK" if ok else "FAILED")
    if args.out:
        from constellations.io.files import atomic_write_text, to_jsonable
        atomic_write_text(args.out, json.dumps(to_jsonable(report), indent=1) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

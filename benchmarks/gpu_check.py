"""The prepared GPU check of issue 12: one script, at most 8 minutes on one H100 or H200.

Usage (from the repository root, in the project's environment with a CUDA build of torch and triton):

    python benchmarks/gpu_check.py [OUT.json]            # default gpu_check.json; needs a GPU
    python benchmarks/gpu_check.py --smoke [OUT.json]    # tiny sizes; on a CPU-only machine it runs the
                                                         # Triton kernel under TRITON_INTERPRET=1

It prints the device and every figure, and writes one JSON (rewritten atomically after every section,
so a killed run keeps what it measured).  Sections, each wrapped so that a failure is recorded and the
rest still run, all under a global time guard (7 min 20 s; a section that would overrun is cut by an
alarm and marked ``timed_out``):

1. ``kernel``: the fused Triton objective + gradient (:mod:`constellations.objective.triton_kernels`)
   at N = 100,000, d = 256 and N = 32,768, d = 768 (M = 2, one edge, beta = 40), for each input
   precision (bf16, tf32, tf32x3, ieee) and a few tile shapes; each time divided by the time of one plain
   fp32 matmul X_0 @ X_1^T of the same shape (``allow_tf32=False``; target ratio <= 1.0).  Also the
   torch fallback (:mod:`constellations.objective.torch_kernels`, fp32) and TF32 / bf16 matmuls for
   context.  Medians over repeats, each timed between ``torch.cuda.synchronize()`` calls.
2. ``accuracy``: F and gradient at N = 4,096, d = 256 (free M = 2 and tied) against torch float64 on
   the GPU, at beta = 10, 40, 1000: max relative error per precision (target 1e-5 for fp32 ieee).
3. ``search``: N = 32,768, d = 768, M = 2 from a random start with ``device="cuda"`` (backend
   "triton" when the search offers it; ``constructions=False``: no catalogue code as start or
   floor), 2 minute limit: target a positive certified margin.
4. ``train``: 20 seeds x 10,000 steps at N = 100, d = 10 (:func:`constellations.training.trainer.train`,
   device cuda, float32; target <= 3 s; a second identical call is timed too, to show one-time setup).
5. ``analyze``: N = 50,000 pairs, d = 1,152 (:func:`constellations.analysis.paired.analyze_pairs`, on cuda
   when it takes a ``device``), with its defaults (modality-gap LPs included) and again without the
   LPs; target <= 10 s.
"""
from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import signal
import sys
import time
import traceback
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: The whole script stays under 8 minutes; sections are cut at this many seconds after the start.
GLOBAL_LIMIT = 440.0

FULL = dict(
    kernel_shapes=[(100_000, 256), (32_768, 768)], kernel_reps=5, kernel_beta=40.0,
    tile_alternatives={256: [dict(block_m=64), dict(block_m=64, block_n=64), dict(block_m=64, dv=128),
                             dict(stages=3)],
                       768: [dict(dv=1024), dict(dv=512), dict(block_m=64, dv=128), dict(block_k=64)]},
    acc_n=4096, acc_d=256, acc_betas=(10.0, 40.0, 1000.0),
    train=dict(n=100, dim=10, seeds=20, steps=10_000),
    analyze=dict(n=50_000, dim=1152),
    search=dict(n=32_768, dim=768, time_limit=120.0),
    budgets=dict(kernel=170.0, accuracy=40.0, search=200.0, train=60.0, analyze=60.0),
)
SMOKE = dict(
    kernel_shapes=[(40, 20), (37, 40)], kernel_reps=1, kernel_beta=40.0,
    tile_alternatives={20: [dict(block_m=16, block_n=32)], 40: [dict(block_k=32, dv=32)]},
    acc_n=40, acc_d=8, acc_betas=(10.0, 1000.0),
    train=dict(n=10, dim=4, seeds=2, steps=20),
    analyze=dict(n=300, dim=16),
    search=dict(n=12, dim=3, time_limit=3.0),
    budgets=dict(kernel=60.0, accuracy=30.0, train=30.0, analyze=30.0, search=60.0),
)
TARGETS = {"kernel_ratio_max": 1.0, "accuracy_rel_max": 1e-5, "train_seconds_max": 3.0,
           "analyze_seconds_max": 10.0, "search_seconds_max": 120.0}


class SectionTimeout(BaseException):
    """Raised by the alarm; a BaseException so that library code catching Exception cannot swallow it."""


def _alarm(signum, frame):
    raise SectionTimeout


def median_time(fn, reps, sync):
    fn()
    sync()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def unit_tensor(shape, device, dtype, seed=0):
    import torch
    g = torch.Generator(device=device).manual_seed(seed)
    X = torch.randn(*shape, device=device, dtype=dtype, generator=g)
    return X / X.norm(dim=-1, keepdim=True)


class Check:
    def __init__(self, out, smoke):
        import torch
        self.torch = torch
        self.out = out
        self.smoke = smoke
        self.cfg = SMOKE if smoke else FULL
        self.cuda = torch.cuda.is_available()
        if not self.cuda and not smoke:
            raise SystemExit("gpu_check: no CUDA device (use --smoke for the CPU dry run)")
        if not self.cuda:
            os.environ["TRITON_INTERPRET"] = "1"  # read when the kernel is first defined
        self.device = "cuda" if self.cuda else "cpu"
        self.t0 = time.time()
        name = torch.cuda.get_device_name() if self.cuda else "cpu (Triton interpreter)"
        self.report = {"device": name, "smoke": smoke, "torch": torch.__version__, "targets": TARGETS,
                       "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sections": {}}
        try:
            import triton
            self.report["triton"] = triton.__version__
        except ImportError:
            self.report["triton"] = None
        print(f"device: {name}; torch {torch.__version__}; triton {self.report['triton']}", flush=True)

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()

    def left(self):
        return GLOBAL_LIMIT - (time.time() - self.t0)

    def save(self):
        from constellations.io.files import atomic_write_text
        self.report["seconds"] = time.time() - self.t0
        atomic_write_text(self.out, json.dumps(self.report, indent=1, default=float) + "\n")

    def section(self, name, fn):
        budget = min(self.cfg["budgets"][name], self.left())
        rec = {"ok": False, "seconds": 0.0, "error": None, "timed_out": False}
        self.report["sections"][name] = rec
        print(f"== {name} (budget {budget:.0f} s)", flush=True)
        if self.left() < 5 or budget <= 0:
            rec["error"] = "skipped: " + ("global time guard" if self.left() < 5 else "no budget")
            print(f"   {rec['error']}", flush=True)
            self.save()
            return
        t = time.time()
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, budget)
        try:
            fn(rec, t + budget)
            rec["ok"] = True
        except SectionTimeout:
            rec["timed_out"] = True
            rec["error"] = f"cut by the time guard after {budget:.0f} s"
        except Exception as exc:  # a failing section is recorded; the rest still run
            rec["error"] = f"{type(exc).__name__}: {exc}"
            rec["traceback"] = traceback.format_exc(limit=6)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        rec["seconds"] = time.time() - t
        if rec["error"]:
            print(f"   FAILED: {rec['error']}", flush=True)
        if self.cuda:
            self.torch.cuda.empty_cache()
        self.save()

    # ---------------------------------------------------------------- sections
    def kernel(self, rec, end):
        torch = self.torch
        from constellations.objective import torch_kernels as objective_torch
        from constellations.objective import triton_kernels as objective_triton
        cfg = self.cfg
        beta = cfg["kernel_beta"]
        rec["beta"] = beta
        rec["shapes"] = []
        sweeps = []
        for N, d in cfg["kernel_shapes"]:
            X = unit_tensor((1, 2, N, d), self.device, torch.float32)
            A, B = X[0, 0], X[0, 1]
            row = {"n": N, "dim": d, "modalities": 2}
            rec["shapes"].append(row)
            mm = {}
            for label, tf32, dt in (("fp32", False, torch.float32), ("tf32", True, torch.float32),
                                    ("bf16", False, torch.bfloat16)):
                torch.backends.cuda.matmul.allow_tf32 = tf32
                a, b = A.to(dt), B.to(dt)
                mm[label] = median_time(lambda: a @ b.T, cfg["kernel_reps"], self.sync)
                del a, b
                if self.cuda:
                    torch.cuda.empty_cache()
            torch.backends.cuda.matmul.allow_tf32 = False
            row["matmul_seconds"] = mm
            print(f"   N={N} d={d}: matmul fp32 {mm['fp32'] * 1e3:.1f} ms, tf32 {mm['tf32'] * 1e3:.1f} ms, "
                  f"bf16 {mm['bf16'] * 1e3:.1f} ms", flush=True)
            row["triton"] = {}
            if self.cuda:
                torch.cuda.reset_peak_memory_stats()
            for prec in ("bf16", "tf32", "tf32x3", "ieee"):
                r = self._time_triton(X, beta, prec, None, mm["fp32"])
                row["triton"][prec] = {"default": r}
            row["triton_peak_gib"] = torch.cuda.max_memory_allocated() / 2**30 if self.cuda else None
            if self.cuda:
                torch.cuda.reset_peak_memory_stats()
            t_t = median_time(lambda: objective_torch.value_and_grad_tensor(X, beta), max(1, cfg["kernel_reps"] // 2),
                              self.sync)
            row["torch_fallback"] = {"seconds": t_t, "ratio": t_t / mm["fp32"],
                                     "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if self.cuda else None}
            print(f"   torch fallback: {t_t * 1e3:.1f} ms, ratio {t_t / mm['fp32']:.2f}", flush=True)
            sweeps.append((X, row, mm["fp32"], cfg["tile_alternatives"].get(d, [])))
            row["auto_precision_at_beta"] = objective_triton.precision_for(beta)
        # tile alternatives last, while time remains (each costs a compile)
        for X, row, t_mm, alts in sweeps:
            for tiles in alts:
                for prec in ("bf16", "tf32", "tf32x3"):
                    if time.time() > end - 15:
                        rec["sweep_cut"] = True
                        break
                    key = ",".join(f"{k}={v}" for k, v in tiles.items())
                    row["triton"][prec][key] = self._time_triton(X, beta, prec, tiles, t_mm)
        for row in rec["shapes"]:
            best = {}
            for prec, runs in row["triton"].items():
                ok = {k: v for k, v in runs.items() if "ratio" in v}
                if ok:
                    k = min(ok, key=lambda k: ok[k]["ratio"])
                    best[prec] = {"tiles": k, **ok[k]}
            row["best"] = best
            print(f"   N={row['n']} d={row['dim']} best ratios: "
                  + ", ".join(f"{p} {b['ratio']:.2f} ({b['tiles']})" for p, b in best.items()), flush=True)

    def _time_triton(self, X, beta, prec, tiles, t_mm):
        from constellations.objective import triton_kernels as objective_triton
        try:
            t = time.perf_counter()
            objective_triton.value_and_grad_tensor(X, beta, precision=prec, tiles=tiles)
            self.sync()
            first = time.perf_counter() - t
            sec = median_time(lambda: objective_triton.value_and_grad_tensor(X, beta, precision=prec, tiles=tiles),
                              self.cfg["kernel_reps"], self.sync)
        except SectionTimeout:
            raise
        except Exception as exc:
            msg = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            print(f"   triton {prec} {tiles or 'default'}: failed: {msg}", flush=True)
            return {"error": msg}
        print(f"   triton {prec:4s} {str(tiles or 'default'):40s}: {sec * 1e3:9.2f} ms, ratio {sec / t_mm:.3f} "
              f"(first call with compile {first:.1f} s)", flush=True)
        return {"seconds": sec, "ratio": sec / t_mm, "first_call_seconds": first}

    def accuracy(self, rec, end):
        torch = self.torch
        from constellations.objective import torch_kernels as objective_torch
        from constellations.objective import triton_kernels as objective_triton
        N, d = self.cfg["acc_n"], self.cfg["acc_d"]
        rec.update(n=N, dim=d, modalities=2, results=[])
        X = unit_tensor((1, 2, N, d), self.device, torch.float64, seed=1)
        for tied in (False, True):
            Xr = X[:, 0] if tied else X
            for beta in self.cfg["acc_betas"]:
                F64, G64 = objective_torch.value_and_grad_tensor(Xr, beta, tied=tied)
                for prec, dt in (("ieee", torch.float32), ("tf32x3", torch.float32), ("tf32", torch.float32),
                                 ("bf16", torch.float32), ("ieee", torch.float64)):
                    F, G = objective_triton.value_and_grad_tensor(Xr.to(dt), beta, tied=tied, precision=prec)
                    eF = abs(float(F[0]) - float(F64[0])) / abs(float(F64[0]))
                    eG = float((G.double() - G64).abs().max() / G64.abs().max())
                    name = prec if dt == torch.float32 else "float64"
                    rec["results"].append({"tied": tied, "beta": beta, "precision": name, "F_rel_err": eF,
                                           "G_rel_err": eG})
                    print(f"   {'tied' if tied else 'free'} beta={beta:g} {name:7s}: F rel err {eF:.2e}, "
                          f"G rel err {eG:.2e}", flush=True)
        res = rec["results"]
        # fp32 products carry ~2^-24 sqrt(d) errors that the weights exp(beta c) multiply by beta: per beta too
        rec["max_rel_err"] = {p: max(max(r["F_rel_err"], r["G_rel_err"]) for r in res if r["precision"] == p)
                              for p in dict.fromkeys(r["precision"] for r in res)}
        rec["max_rel_err_by_beta"] = {p: {str(b): max(max(r["F_rel_err"], r["G_rel_err"]) for r in res
                                                      if r["precision"] == p and r["beta"] == b)
                                          for b in self.cfg["acc_betas"]} for p in rec["max_rel_err"]}
        rec["meets_target"] = {p: e <= TARGETS["accuracy_rel_max"] for p, e in rec["max_rel_err"].items()}
        print("   max relative error (target 1e-5 for fp32): "
              + ", ".join(f"{p} {e:.2e}" for p, e in rec["max_rel_err"].items()), flush=True)

    def train(self, rec, end):
        from dataclasses import fields

        from constellations.training.trainer import TrainSpec, train
        c = self.cfg["train"]
        names = {f.name for f in fields(TrainSpec)}
        kw = dict(n=c["n"], dim=c["dim"], modalities=2, steps=c["steps"], device=self.device, dtype="float32",
                  record_every=max(1, c["steps"] // 10), loss_every=max(1, c["steps"] // 10))
        graph_mode = "cuda-graph" if str(self.device).startswith("cuda") else "off"
        spec = TrainSpec(**{k: v for k, v in kw.items() if k in names}, graph_mode=graph_mode)
        eager_spec = TrainSpec(**{k: v for k, v in kw.items() if k in names}, graph_mode="off")
        rec.update(n=c["n"], dim=c["dim"], modalities=2, seeds=list(range(c["seeds"])), steps=c["steps"],
                   spec=repr(spec), graph_mode=graph_mode)
        t = time.perf_counter()
        res = train(spec, seeds=range(c["seeds"]))
        self.sync()
        rec["train_seconds"] = time.perf_counter() - t  # includes the graph capture
        rec["train_loop_seconds"] = res.wall_s
        rec["launch"] = res.launch
        # a second identical call shows how much of the first was one-time setup (graph capture)
        if end - time.time() > 2 * rec["train_seconds"] + 5:
            t = time.perf_counter()
            train(spec, seeds=range(c["seeds"]))
            self.sync()
            rec["train_seconds_second_call"] = time.perf_counter() - t
        # the eager loop for comparison (18.4 s on an H100 before the graph); skipped when short of time
        if end - time.time() > 25:
            t = time.perf_counter()
            eager = train(eager_spec, seeds=range(c["seeds"]))
            self.sync()
            rec["train_eager_seconds"] = time.perf_counter() - t
            rec["graph_equals_eager"] = bool(np.array_equal(eager.X, res.X))
            rec["graph_vs_eager_max_abs_diff"] = float(np.max(np.abs(eager.X - res.X)))
        margin = np.asarray(res.margin, dtype=float)
        rec["margin"] = [float(v) for v in np.ravel(margin)]
        rec["meets_target"] = rec["train_seconds"] <= TARGETS["train_seconds_max"]
        print(f"   {c['seeds']} seeds x {c['steps']} steps, N={c['n']} d={c['dim']}: {res.launch} "
              f"{rec['train_seconds']:.2f} s (second call {rec.get('train_seconds_second_call', math.nan):.2f} s), "
              f"eager {rec.get('train_eager_seconds', math.nan):.2f} s; target 3 s; "
              f"graph == eager: {rec.get('graph_equals_eager')}; "
              f"margins {np.min(margin):.4f}..{np.max(margin):.4f}", flush=True)

    def analyze(self, rec, end):
        from constellations.analysis.paired import analyze_pairs
        c = self.cfg["analyze"]
        rng = np.random.default_rng(2)
        U = rng.standard_normal((c["n"], c["dim"]), dtype=np.float32)
        V = U + 1.5 * rng.standard_normal((c["n"], c["dim"]), dtype=np.float32)
        kw = {}
        if "device" in inspect.signature(analyze_pairs).parameters:
            kw["device"] = self.device
        rec.update(n=c["n"], dim=c["dim"], dtype="float32", options={k: str(v) for k, v in kw.items()})
        # first as `constellations analyze` runs it (its defaults, modality-gap LPs included), then without the LPs
        for key, extra in (("analyze_seconds", {}), ("analyze_seconds_no_gap", {"gap": False})):
            t = time.perf_counter()
            res = analyze_pairs((U, V), **kw, **extra)
            self.sync()
            rec[key] = time.perf_counter() - t
            forms = getattr(res, "forms", None)
            if isinstance(forms, dict):
                rec["margin"] = {k: float(getattr(f, "margin", math.nan)) for k, f in forms.items()}
            print(f"   N={c['n']} d={c['dim']} {dict(kw, **extra)}: {rec[key]:.2f} s (target 10 s); "
                  f"margins {rec.get('margin')}", flush=True)
            if key == "analyze_seconds":
                rec["meets_target"] = rec[key] <= TARGETS["analyze_seconds_max"]

    def search(self, rec, end):
        from constellations import search as search_mod
        c = self.cfg["search"]
        backends = getattr(search_mod, "BACKENDS", ())
        backend = "triton" if "triton" in backends else "auto"
        limit = min(c["time_limit"], max(5.0, end - time.time() - 60.0))
        rec.update(n=c["n"], dim=c["dim"], modalities=2, backend_requested=backend, time_limit=limit, seed=0)
        t = time.perf_counter()
        # constructions=False: the target is a random start (the catalogue's Gold code would be returned as is)
        r = search_mod.search(c["n"], c["dim"], 2, restarts=1, time_limit=limit, seed=0, device=self.device,
                              backend=backend, constructions=False)
        rec["wall_seconds"] = time.perf_counter() - t
        rec.update(margin=float(r.margin), margin_certified=float(r.margin_certified), b_rel=float(r.b_rel),
                   seconds=float(r.seconds), backend=getattr(r, "backend", None), restarts=int(r.restarts),
                   found_by=r.extra.get("found_by"), tied_margin=r.extra.get("tied_margin"),
                   time_limited=bool(r.time_limited), constructions=False)
        rec["meets_target"] = r.margin_certified > 0 and rec["wall_seconds"] <= TARGETS["search_seconds_max"]
        print(f"   N={c['n']} d={c['dim']}: margin {r.margin:.6f}, certified {r.margin_certified:.6f}, "
              f"{r.seconds:.1f} s in search, {rec['wall_seconds']:.1f} s wall, backend {rec['backend']}", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="gpu_check.json", help="JSON output (default gpu_check.json)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes; runs on CPU under the Triton interpreter")
    args = ap.parse_args(argv)
    from constellations.io.files import check_writable
    out = check_writable(args.out, ".json")
    chk = Check(out, args.smoke)
    for name in ("kernel", "accuracy", "search", "train", "analyze"):
        chk.section(name, getattr(chk, name))
    chk.save()
    secs = chk.report["sections"]
    print(f"== done in {chk.report['seconds']:.0f} s; sections ok: "
          + ", ".join(f"{k}={'yes' if v['ok'] else 'NO'}" for k, v in secs.items()) + f"; wrote {out}", flush=True)


if __name__ == "__main__":
    main()

"""Resource usage of the fused Triton kernel compiled ahead of time for a GPU, on a machine without one.

Usage (from the repository root; needs triton, whose wheel ships ptxas and cuobjdump):

    python benchmarks/triton_resources.py [--arch 90] [--dims 256,768] [--precisions bf16,tf32,tf32x3,ieee]
                                          [--tiles '{"block_m": 64}']

For each (d, precision) it compiles :mod:`constellations.objective.triton_kernels`'s kernel with the
default tiles of :func:`~constellations.objective.triton_kernels.tile_config` (or ``--tiles``
overrides) for ``sm_<arch>`` and prints the dynamic shared memory per block, the registers per
thread, the local-memory stack (register spills), and counts of tensor-core (HGMMA/HMMA), FMA and
exp2 instructions in the SASS.  No timing: that needs the GPU (``benchmarks/gpu_check.py``).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ["TRITON_INTERPRET"] = "0"  # compile, never interpret
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def compile_kernel(d, precision, arch, tiles):
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from constellations.objective import triton_kernels as ot
    kern = ot._kernel()
    cfg = ot.tile_config(d, 2 if precision == "bf16" else 4, precision, **tiles)
    warps, stages = cfg.pop("num_warps"), cfg.pop("num_stages")
    const = dict(cfg, PREC=precision, EMULATE_BF16=False, IS64=False)
    sig = {name: "i32" for name in kern.arg_names}
    sig.update(X="*bf16" if precision == "bf16" else "*fp32", ROWS="*i32", COLS="*i32", Lout="*fp32", Oout="*fp32",
               BETA="*fp32", **{k: "constexpr" for k in const})
    src = ASTSource(fn=kern, signature=sig, constexprs={(kern.arg_names.index(k),): v for k, v in const.items()})
    ck = triton.compile(src, target=GPUTarget("cuda", arch, 32), options=dict(num_warps=warps, num_stages=stages))
    return ck, dict(cfg, num_warps=warps, num_stages=stages)


def usage(ck):
    import triton
    tools = Path(triton.__file__).parent / "backends" / "nvidia" / "bin"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "k.cubin"
        path.write_bytes(ck.asm["cubin"])
        res = subprocess.run([str(tools / "cuobjdump"), "-res-usage", str(path)], capture_output=True, text=True).stdout
        sass = subprocess.run([str(tools / "cuobjdump"), "-sass", str(path)], capture_output=True, text=True).stdout
    out = {k.lower(): int(v) for k, v in re.findall(r"(REG|STACK):(\d+)", res)}
    out["shared"] = ck.metadata.shared
    out.update({k: len(re.findall(k, sass)) for k in ("HGMMA", "HMMA", "FFMA", "MUFU.EX2")})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", type=int, default=90)
    ap.add_argument("--dims", default="256,768")
    ap.add_argument("--precisions", default="bf16,tf32,tf32x3,ieee")
    ap.add_argument("--tiles", default="{}", help="JSON overrides of tile_config, e.g. '{\"block_m\": 64}'")
    args = ap.parse_args(argv)
    tiles = json.loads(args.tiles)
    for d in (int(x) for x in args.dims.split(",")):
        for prec in args.precisions.split(","):
            try:
                ck, cfg = compile_kernel(d, prec, args.arch, tiles)
                u = usage(ck)
            except Exception as exc:  # report and go on: one failing configuration is a result too
                print(f"d={d:5d} {prec:6s}: FAILED {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
                continue
            print(f"d={d:5d} {prec:6s} sm_{args.arch}: shared {u['shared'] / 1024:6.1f} KiB, regs {u.get('reg')}, "
                  f"spill stack {u.get('stack')} B, HGMMA {u['HGMMA']}, HMMA {u['HMMA']}, FFMA {u['FFMA']}, "
                  f"EX2 {u['MUFU.EX2']}  tiles {cfg}", flush=True)


if __name__ == "__main__":
    main()

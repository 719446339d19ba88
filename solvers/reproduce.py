r"""The paper's synthetic training studies, regenerated with the batched trainer (:mod:`solvers.train`).

Every study trains free embeddings (N = 100 items in d = 10 by default, Adam, rows renormalised each step)
and reports, per setting, mean and standard deviation over the seeds of: the final loss, the margin m
(HALF the gap) next to the full gap 2m that the paper's Tables 1-3 print, b*_rel of the final embeddings,
the trained t and b_rel, and the fraction of runs that ended as constellations (m > 0).  All settings of
one study with the same number of modalities run as ONE batch (settings x seeds).

Studies (``TABLES``):

- ``fixed-brel``: b_rel fixed at each value of ``b_rels``, t trainable (the paper's fixed-b_rel sweep);
- ``init-grid``: t and b_rel both trainable, started from every (t0, b_rel0) of a grid;
- ``modalities``: M = 2, 3, 4, 5 modalities on the complete graph, relative bias;
- ``bias``: absolute bias (logits t<u,v> - b) against relative bias (logits t(<u,v> - b_rel)), same start
  (b0 = t0 b_rel0), both trainable.

The exact settings (steps, lr, t0, seeds, dtype) are part of the result and of every file written.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from constellations.errors import ConfigurationError

from .train import TrainSpec, train

__all__ = ["TABLES", "StudyResult", "reproduce", "summarise"]

TABLES = ("fixed-brel", "init-grid", "modalities", "bias")

DEFAULTS = {
    "fixed-brel": {"b_rels": (-0.2, 0.0, 0.2, 0.4, 0.6, 0.8)},
    "init-grid": {"t0s": (1.0, 10.0, 100.0), "b_rel0s": (-0.5, 0.0, 0.5)},
    "modalities": {"modalities": (2, 3, 4, 5)},
    "bias": {},
}

METRICS = ("loss", "margin", "gap", "b_rel_star", "t", "b_rel", "frac_separated")


@dataclass(frozen=True)
class StudyResult:
    """One regenerated table.

    ``rows`` holds one dict per setting: the setting's columns, then ``<metric>_mean`` and ``<metric>_std``
    for each of :data:`METRICS` (``margin`` is m, half the gap; ``gap`` is 2m), ``constellations`` (runs with
    m > 0) and ``runs``.  ``settings`` records everything needed to rerun it.
    """

    table: str
    rows: tuple
    settings: dict = field(default_factory=dict)
    wall_s: float = 0.0

    def to_markdown(self) -> str:
        cols = [c for c in self.rows[0] if not c.endswith(("_mean", "_std")) and c not in ("runs", "constellations")]
        head = cols + ["loss", "m (half gap)", "2m (paper's gap)", "b*_rel", "t", "b_rel (b/t)", "sep. frac",
                       "m > 0"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            cells = [str(r[c]) for c in cols]
            cells.append(f"{r['loss_mean']:.3g} ± {r['loss_std']:.2g}")
            for m in ("margin", "gap", "b_rel_star"):
                cells.append(f"{r[m + '_mean']:.4f} ± {r[m + '_std']:.4f}")
            cells.append(f"{r['t_mean']:.1f} ± {r['t_std']:.1f}")
            cells.append(f"{r['b_rel_mean']:.4f} ± {r['b_rel_std']:.4f}")
            cells.append(f"{r['frac_separated_mean']:.4f}")
            cells.append(f"{r['constellations']}/{r['runs']}")
            lines.append("| " + " | ".join(cells) + " |")
        s = self.settings
        note = (f"\nN={s['n']}, d={s['dim']}, {s['steps']} Adam steps, lr={s['lr']}, {s['seeds']} seeds per setting, "
                f"reduction={s['reduction']}, dtype={s['dtype']}; mean ± std over seeds. "
                "m is HALF the gap (min matched - max non-matched inner product); 2m is the paper's printed value.\n")
        return "\n".join(lines) + "\n" + note


def summarise(result, groups, columns) -> list[dict]:
    """Mean/std over the runs of each group.  ``groups`` maps a setting tuple to the run indices."""
    hist = result.history
    frac = hist["frac_separated"][-1]
    per_run = {"loss": result.loss, "margin": result.margin, "gap": 2 * result.margin,
               "b_rel_star": result.b_rel_star, "t": result.t, "b_rel": result.b_rel, "frac_separated": frac}
    rows = []
    for key, idx in groups.items():
        row = dict(zip(columns, key))
        for m in METRICS:
            v = np.asarray(per_run[m])[idx]
            row[m + "_mean"] = float(np.mean(v))
            row[m + "_std"] = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
        row["constellations"] = int(np.count_nonzero(result.margin[idx] > 0))
        row["runs"] = len(idx)
        rows.append(row)
    return rows


def reproduce(table: str, *, n: int = 100, dim: int = 10, seeds: int = 5, steps: int = 5000, lr: float = 0.01,
              t0: float = 10.0, b_rel0: float = 0.0, reduction: str = "sum", dtype: str = "float32",
              device: str = "cpu", progress=None, **params) -> StudyResult:
    """Regenerate one study (see the module docstring); ``params`` override the study's grid.

    Seeds are 0..seeds-1 for every setting (the same initial embeddings across settings).
    """
    if table not in TABLES:
        raise ConfigurationError(f"unknown table {table!r}; choose from {', '.join(TABLES)}")
    if seeds < 1:
        raise ConfigurationError("need at least one seed")
    grid = {**DEFAULTS[table], **params}
    common = dict(n=n, dim=dim, steps=steps, lr=lr, reduction=reduction, dtype=dtype, device=device,
                  record_every=max(1, steps // 20))
    seed_list = list(range(seeds))
    rows, wall = [], 0.0

    def run(spec, settings, t0s, b0s, columns, label):
        nonlocal wall
        S = len(settings) * seeds
        runs_seeds = seed_list * len(settings)
        cb = (lambda step, loss: progress(label, step, steps)) if progress else None
        res = train(spec, runs_seeds, t0=np.repeat(t0s, seeds), bias0=np.repeat(b0s, seeds), progress=cb)
        wall += res.wall_s
        groups = {s: list(range(i * seeds, (i + 1) * seeds)) for i, s in enumerate(settings)}
        assert S == res.S
        return summarise(res, groups, columns), res.interrupted

    interrupted = False
    if table == "fixed-brel":
        b = [float(x) for x in grid["b_rels"]]
        spec = TrainSpec(param="relative", fix_bias=True, **common)
        rows, interrupted = run(spec, [(x,) for x in b], [t0] * len(b), b, ("b_rel fixed",), table)
    elif table == "init-grid":
        pairs = [(float(a), float(c)) for a in grid["t0s"] for c in grid["b_rel0s"]]
        spec = TrainSpec(param="relative", **common)
        rows, interrupted = run(spec, pairs, [p[0] for p in pairs], [p[1] for p in pairs], ("t0", "b_rel0"), table)
    elif table == "modalities":
        for M in grid["modalities"]:
            spec = TrainSpec(param="relative", modalities=int(M), **common)
            r, interrupted = run(spec, [(int(M),)], [t0], [b_rel0], ("modalities",), f"{table} M={M}")
            rows += r
            if interrupted:
                break
    else:
        for param in ("absolute", "relative"):
            spec = TrainSpec(param=param, **common)
            b0 = t0 * b_rel0 if param == "absolute" else b_rel0
            r, interrupted = run(spec, [(param,)], [t0], [b0], ("bias",), f"{table} {param}")
            rows += r
            if interrupted:
                break
    settings = {"table": table, "n": n, "dim": dim, "seeds": seeds, "steps": steps, "lr": lr, "t0": t0,
                "b_rel0": b_rel0, "reduction": reduction, "dtype": dtype, "device": device, "optimizer": "adam",
                "grid": {k: list(v) for k, v in grid.items()}, "interrupted": interrupted}
    return StudyResult(table, tuple(rows), settings, wall)

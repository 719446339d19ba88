r"""The paper's synthetic training studies, regenerated with the batched trainer (:mod:`training.trainer`).

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

from constellations.core.devices import device_memory_limit, resolve_device
from constellations.core.errors import ConfigurationError
from constellations.core.results import Result, Status

from constellations.training.trainer import MAX_SEEDS, TrainSpec, train, train_memory_bytes

__all__ = ["TABLES", "StudyResult", "plan", "reproduce", "summarise"]

TABLES = ("fixed-brel", "init-grid", "modalities", "bias")

DEFAULTS = {
    "fixed-brel": {"b_rels": (-0.2, 0.0, 0.2, 0.4, 0.6, 0.8)},
    "init-grid": {"t0s": (1.0, 10.0, 100.0), "b_rel0s": (-0.5, 0.0, 0.5)},
    "modalities": {"modalities": (2, 3, 4, 5)},
    "bias": {},
}

METRICS = ("loss", "margin", "gap", "b_rel_star", "t", "b_rel", "frac_separated")


@dataclass(frozen=True)
class StudyResult(Result):
    """One regenerated table.

    ``rows`` holds one dict per setting: the setting's columns, then ``<metric>_mean`` and ``<metric>_std``
    for each of :data:`METRICS` (``margin`` is m, half the gap; ``gap`` is 2m), ``constellations`` (runs with
    m > 0), ``runs``, ``steps_done`` (fewer than ``settings["steps"]`` if interrupted) and ``interrupted``.
    ``settings`` records everything needed to rerun it, and ``interrupted``.

    In the result vocabulary (:mod:`constellations.core.results`): ``seconds`` is the training time of all
    batches (``wall_s``, its old name, is a deprecated alias), ``margin`` the largest float64 margin of any
    run of the study (None if no batch ran), ``modalities`` M (a tuple of the M trained for the
    ``modalities`` study), ``config`` and ``margin_certified`` None (a study keeps no configuration and
    certifies nothing).
    """

    table: str
    rows: tuple
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0
    margin: float | None = None
    modalities: int | tuple = 2

    config = None
    margin_certified = None

    @property
    def wall_s(self) -> float:
        """Deprecated alias of ``seconds``."""
        return self.seconds

    @property
    def n(self) -> int | None:
        return self.settings.get("n")

    @property
    def dim(self) -> int | None:
        return self.settings.get("dim")

    @property
    def status(self) -> Status:
        """INTERRUPTED if a KeyboardInterrupt stopped the training, else COMPLETED."""
        return Status.INTERRUPTED if self.settings.get("interrupted") else Status.COMPLETED

    @property
    def message(self) -> str:
        """One line: the study, its settings and runs, the best margin, how it stopped."""
        runs = sum(r["runs"] for r in self.rows)
        best = "no run" if self.margin is None else f"best m = {self.margin:.6g}"
        how = ("interrupted: partial results" if self.status is Status.INTERRUPTED
               else f"{self.settings.get('steps')} steps per run")
        return f"{self.table}: {len(self.rows)} setting(s), {runs} run(s), {best}; {how}"

    def to_markdown(self) -> str:
        cols = [c for c in self.rows[0] if not c.endswith(("_mean", "_std"))
                and c not in ("runs", "constellations", "steps_done", "interrupted")]
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
        seeds = s["seeds"]
        note = (f"\nN={s['n']}, d={s['dim']}, {s['steps']} Adam steps, lr={s['lr']}, {len(seeds)} seeds per setting "
                f"({_seed_text(seeds)}), reduction={s['reduction']}, dtype={s['dtype']}; mean ± std over seeds. "
                "m is HALF the gap (min matched - max non-matched inner product); 2m is the paper's printed value.\n")
        head = ""
        if s.get("interrupted"):
            done = ", ".join(f"{r['steps_done']}" for r in self.rows)
            head = (f"**INTERRUPTED: partial results.** Steps done per row: {done} of {s['steps']}"
                    + ("; settings after the last row were not run" if s.get("incomplete_grid") else "") + ".\n\n")
        return head + "\n".join(lines) + "\n" + note


def _seed_text(seeds) -> str:
    seeds = list(seeds)
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds {seeds[0]}..{seeds[-1]}"
    return "seeds " + ",".join(map(str, seeds))


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
        row["steps_done"] = int(result.steps_done)
        row["interrupted"] = bool(result.interrupted)
        rows.append(row)
    return rows


def _seed_list(seeds) -> list[int]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ConfigurationError("need at least one seed")
        return list(range(int(seeds)))
    seed_list = [int(s) for s in seeds]
    if not seed_list or min(seed_list) < 0 or len(set(seed_list)) != len(seed_list):
        raise ConfigurationError("seeds must be a count >= 1 or a non-empty list of distinct seeds >= 0")
    return seed_list


def plan(table: str, *, n: int = 100, dim: int = 10, seeds=5, steps: int = 5000, lr: float = 0.01,
         t0: float = 10.0, b_rel0: float = 0.0, reduction: str = "sum", dtype: str = "float32",
         device: str = "cpu", memory_limit: int | None = None, **params) -> list[tuple]:
    """The batches of one study, checked before anything runs.

    Returns a list of (spec, settings, t0s, b0s, columns, label), one per batch.  Raises
    ConfigurationError for an unknown table, bad seeds, more than :data:`~training.trainer.MAX_SEEDS`
    runs (settings x seeds) in a batch, or a batch whose memory estimate
    (:func:`~training.trainer.train_memory_bytes`) exceeds ``memory_limit`` (default
    :func:`constellations.core.devices.device_memory_limit`), so ``reproduce all`` fails before its first table.
    """
    if table not in TABLES:
        raise ConfigurationError(f"unknown table {table!r}; choose from {', '.join(TABLES)}")
    S = len(_seed_list(seeds))
    grid = {**DEFAULTS[table], **params}
    common = dict(n=n, dim=dim, steps=steps, lr=lr, reduction=reduction, dtype=dtype, device=device,
                  record_every=max(1, steps // 20))
    batches = []
    if table == "fixed-brel":
        b = [float(x) for x in grid["b_rels"]]
        batches.append((TrainSpec(param="relative", fix_bias=True, **common), [(x,) for x in b], [t0] * len(b), b,
                        ("b_rel fixed",), table))
    elif table == "init-grid":
        pairs = [(float(a), float(c)) for a in grid["t0s"] for c in grid["b_rel0s"]]
        batches.append((TrainSpec(param="relative", **common), pairs, [p[0] for p in pairs], [p[1] for p in pairs],
                        ("t0", "b_rel0"), table))
    elif table == "modalities":
        for M in grid["modalities"]:
            batches.append((TrainSpec(param="relative", modalities=int(M), **common), [(int(M),)], [t0], [b_rel0],
                            ("modalities",), f"{table} M={M}"))
    else:
        for param in ("absolute", "relative"):
            b0 = t0 * b_rel0 if param == "absolute" else b_rel0
            batches.append((TrainSpec(param=param, **common), [(param,)], [t0], [b0], ("bias",), f"{table} {param}"))
    limit = device_memory_limit(resolve_device(device)) if memory_limit is None else memory_limit
    for spec, settings, *_ , label in batches:
        runs = len(settings) * S
        if runs > MAX_SEEDS:
            raise ConfigurationError(f"{label}: {len(settings)} settings x {S} seeds = {runs} runs in one batch, "
                                     f"more than the limit of {MAX_SEEDS}; use fewer seeds")
        need = train_memory_bytes(spec, runs)
        if need > limit:
            raise ConfigurationError(f"{label}: {runs} runs of N={n} need about {need / 2 ** 30:.3g} GiB, over the "
                                     f"limit of {limit / 2 ** 30:.3g} GiB; use fewer items or seeds")
    return batches


def reproduce(table: str, *, n: int = 100, dim: int = 10, seeds=5, steps: int = 5000, lr: float = 0.01,
              t0: float = 10.0, b_rel0: float = 0.0, reduction: str = "sum", dtype: str = "float32",
              device: str = "cpu", progress=None, threads=1, **params) -> StudyResult:
    """Regenerate one study (see the module docstring); ``params`` override the study's grid.

    ``threads``: torch's CPU threads for the training (:func:`training.trainer.train`; 1, the fast
    setting, by default, or "auto").

    ``seeds`` is a count (seeds 0..seeds-1) or a sequence of distinct seeds, the same for every setting
    (the same initial embeddings across settings).  Interrupting (KeyboardInterrupt) during training
    returns the rows reached, marked ``interrupted`` (settings not started are left out, and
    ``settings["incomplete_grid"]`` says so).
    """
    batches = plan(table, n=n, dim=dim, seeds=seeds, steps=steps, lr=lr, t0=t0, b_rel0=b_rel0,
                   reduction=reduction, dtype=dtype, device=device, **params)
    seed_list = _seed_list(seeds)
    grid = {**DEFAULTS[table], **params}
    S = len(seed_list)
    rows, wall, best = [], 0.0, None
    interrupted = incomplete = False
    for i, (spec, settings, t0s, b0s, columns, label) in enumerate(batches):
        cb = (lambda step, loss, label=label: progress(label, step, steps)) if progress else None
        res = train(spec, seed_list * len(settings), t0=np.repeat(t0s, S), bias0=np.repeat(b0s, S), progress=cb,
                    threads=threads)
        wall += res.seconds
        best = float(np.max(res.margin)) if best is None else max(best, float(np.max(res.margin)))
        groups = {st: list(range(j * S, (j + 1) * S)) for j, st in enumerate(settings)}
        rows += summarise(res, groups, columns)
        if res.interrupted:
            interrupted, incomplete = True, i < len(batches) - 1
            break
    settings = {"table": table, "n": n, "dim": dim, "seeds": seed_list, "steps": steps, "lr": lr, "t0": t0,
                "b_rel0": b_rel0, "reduction": reduction, "dtype": dtype, "device": device, "optimizer": "adam",
                "grid": {k: list(v) for k, v in grid.items()}, "interrupted": interrupted,
                "incomplete_grid": incomplete}
    Ms = sorted({spec.modalities for spec, *_ in batches})
    return StudyResult(table, tuple(rows), settings, wall, best, Ms[0] if len(Ms) == 1 else tuple(Ms))

"""``constellations table``: tabulate achievable margins against certified ceilings (resumable).

Sub-commands (``run`` is the default, so ``constellations table --n 8 --dims 2:4`` runs):

- ``run``: compute the missing cells of a grid into the store, then print the table;
- ``show``: reprint stored cells without computing anything;
- ``verify``: re-verify every stored configuration (certified margin >= 0, at or below the ceiling);
- ``export``: write one stored configuration to an ``.npz`` file.
"""
from __future__ import annotations

import csv
import io as _io
import math
import sys

import click

from constellations.errors import ConstellationsError

from .output import emit_json, echo_err

__all__ = ["command"]


class _DefaultGroup(click.Group):
    """A group that runs ``run`` when the first argument is not a sub-command."""

    default_command = "run"

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = [self.default_command] + list(args)
        return super().parse_args(ctx, args)


def _int_list(value, name, minimum):
    from constellations.solvers.tables.grid import parse_int_list

    if value is None:
        return None
    return parse_int_list(value, name, minimum=minimum)


def _filters(n, dims, modalities):
    return (_int_list(n, "--n", 2), _int_list(dims, "--dims", 1), _int_list(modalities, "--modalities", 2))


# ----------------------------------------------------------------------------------- formatting

def _num(x, digits):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}f}"


def _tables_by_m(rows, digits):
    """One Markdown table per (N, graph): rows d, columns M (and tied), plus the ceiling."""
    out = []
    groups = {}
    for r in rows:
        g = "complete" if r.tied else r.graph
        groups.setdefault((r.n, g), []).append(r)
    # tied cells belong to every graph's table of the same N
    tied_by = {}
    for r in rows:
        if r.tied:
            tied_by[(r.n, r.dim)] = r
    keys = sorted({(r.n, r.graph) for r in rows if not r.tied} | {(r.n, "complete") for r in rows if r.tied})
    for n, g in keys:
        sub = [r for r in rows if r.n == n and not r.tied and r.graph == g]
        ms = sorted({r.modalities for r in sub})
        dims = sorted({r.dim for r in sub} | {d for (nn, d) in tied_by if nn == n})
        has_tied = any((n, d) in tied_by for d in dims)
        head = ["d"] + [f"M={m}" for m in ms] + (["tied"] if has_tied else []) + ["upper", "best/upper"]
        title = f"N = {n}" + ("" if g == "complete" else f", graph {g}")
        lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        by = {(r.dim, r.modalities): r for r in sub}
        for d in dims:
            cells = [by.get((d, m)) for m in ms] + ([tied_by.get((n, d))] if has_tied else [])
            present = [c for c in cells if c is not None]
            upper = min((c.margin_upper for c in present if c.margin_upper is not None), default=None)
            best = max((c.margin for c in present), default=None)
            ratio = None if (best is None or not upper) else best / upper
            lines.append("| " + " | ".join([str(d)] + [_num(c.margin if c else None, digits) for c in cells]
                                           + [_num(upper, digits), _num(ratio, 3)]) + " |")
        out.append("\n".join(lines))
    return out


def _tables_by_n(rows, digits):
    """One Markdown table per M (and tied, and the ceiling): rows d, columns N."""
    out = []
    series = {}
    uppers = {}
    for r in rows:
        label = "tied (spherical code)" if r.tied else (f"M = {r.modalities}" + ("" if r.graph == "complete"
                                                                                 else f", graph {r.graph}"))
        order = (1, 0, "") if r.tied else (0, r.modalities, r.graph)
        series.setdefault((order, label), {})[(r.dim, r.n)] = r.margin
        if r.margin_upper is not None:
            uppers[(r.dim, r.n)] = min(uppers.get((r.dim, r.n), math.inf), r.margin_upper)
    ns = sorted({r.n for r in rows})
    dims = sorted({r.dim for r in rows})
    items = sorted(series.items()) + [(((2, 0, ""), "upper (certified, any M)"), uppers)]
    for (_, label), vals in items:
        head = ["d"] + [f"N={n}" for n in ns]
        lines = [f"### {label}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for d in dims:
            lines.append("| " + " | ".join([str(d)] + [_num(vals.get((d, n)), digits) for n in ns]) + " |")
        out.append("\n".join(lines))
    return out


def render_markdown(rows, columns="m", digits=4) -> str:
    if not rows:
        return "(no cells)\n"
    note = ("Margins m are HALF the gap (pos - neg)/2, float64, re-verified; `upper` is the smallest certified "
            "ceiling for any M (solvers.bounds.margin_upper / Theorem 3.4).")
    tables = _tables_by_m(rows, digits) if columns == "m" else _tables_by_n(rows, digits)
    return "\n\n".join(tables) + "\n\n" + note + "\n"


CSV_FIELDS = ["n", "dim", "modalities", "graph", "tied", "margin", "b_rel", "margin_cert", "margin_upper",
              "gap_ratio", "upper_method", "restarts", "restarts_requested", "time_requested", "seconds",
              "seconds_total", "attempts", "seed", "solver", "solver_version", "created", "updated", "host"]


def render_csv(rows) -> str:
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for r in rows:
        d = r.as_dict()
        w.writerow(["" if d[f] is None else (repr(d[f]) if isinstance(d[f], float) else d[f]) for f in CSV_FIELDS])
    return buf.getvalue()


def _json_rows(rows):
    return [{f: r.as_dict()[f] for f in CSV_FIELDS} for r in rows]


def render_plot(rows, path) -> None:
    """Margin vs d per M, with the certified ceiling and the tied curve; one panel per N."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from constellations.io import atomic_write

    ns = sorted({r.n for r in rows})
    if not ns:
        raise click.UsageError("nothing to plot: no cells")
    cols = min(3, len(ns))
    nrows = -(-len(ns) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.4 * nrows), squeeze=False)
    for ax, n in zip(axes.flat, ns):
        sub = [r for r in rows if r.n == n]
        series = {}
        for r in sub:
            key = "tied" if r.tied else (f"M={r.modalities}" + ("" if r.graph == "complete" else f" {r.graph}"))
            series.setdefault(key, []).append((r.dim, r.margin))
        for key in sorted(series, key=lambda k: (k == "tied", k)):
            pts = sorted(series[key])
            style = (dict(ls="-", lw=4, marker="s", ms=7, color="0.75", zorder=1) if key == "tied"
                     else dict(marker="o", ms=3, lw=1.2, zorder=2))
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=key, **style)
        up = {}
        for r in sub:
            if r.margin_upper is not None:
                up[r.dim] = min(up.get(r.dim, math.inf), r.margin_upper)
        if up:
            ds = sorted(up)
            ax.plot(ds, [up[d] for d in ds], color="k", lw=1.2, ls=":", label="certified upper")
        ax.set_title(f"N = {n}")
        ax.set_xlabel("d")
        ax.set_ylabel("margin m (half gap)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(ns):]:
        ax.axis("off")
    fig.tight_layout()
    try:
        with atomic_write(path, "wb") as fh:
            fig.savefig(fh, format="png", dpi=120)
    finally:
        plt.close(fig)


def _emit(rows, fmt_, columns, digits, output, extra=None):
    from constellations.io import atomic_write_text

    if fmt_ == "json":
        obj = {**(extra or {}), "cells": _json_rows(rows)}
        if output:
            import json

            from constellations.io import to_jsonable

            atomic_write_text(output, json.dumps(to_jsonable(obj), indent=2) + "\n")
        else:
            emit_json(obj)
        return
    text = render_csv(rows) if fmt_ == "csv" else render_markdown(rows, columns, digits)
    if output:
        atomic_write_text(output, text)
    else:
        click.echo(text, nl=False)


# ------------------------------------------------------------------------------------ options

def _store_option(f):
    return click.option("--store", type=click.Path(dir_okay=False), default=None,
                        help="SQLite store (default: $CONSTELLATIONS_STORE or "
                             "$XDG_DATA_HOME/constellations/tables.sqlite).")(f)


def _output_options(f):
    f = click.option("--digits", type=click.IntRange(1, 17), default=4, show_default=True,
                     help="Decimals in the Markdown table.")(f)
    f = click.option("--plot", type=click.Path(dir_okay=False), default=None,
                     help="Also draw margin vs d per M, with the ceiling and the tied curve (PNG).")(f)
    f = click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
                     help="Write the table to this file (atomically) instead of stdout.")(f)
    f = click.option("--columns", type=click.Choice(["m", "n"], case_sensitive=False), default="m",
                     show_default=True, help="Markdown layout: rows d and columns M (one table per N), "
                                             "or columns N (one table per M).")(f)
    f = click.option("--format", "fmt_", type=click.Choice(["md", "csv", "json"], case_sensitive=False),
                     default="md", show_default=True, help="Output format.")(f)
    return f


@click.group("table", cls=_DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
def command():
    """Tabulate achievable margins against certified ceilings, in a resumable store.

    \b
    constellations table --n 8,16 --dims 2:6 --modalities 2,3 --tied   (same as `table run ...`)
    constellations table show --n 16 --format csv
    constellations table verify
    """


@command.command("run")
@click.option("--n", "n_spec", required=True, help="Numbers of items N: 8,16 or ranges 8:32:8.")
@click.option("--dims", required=True, help="Dimensions d: 2:12 (inclusive) or 3,5,8.")
@click.option("--modalities", default="2", show_default=True, help="Numbers of modalities M: 2,3,4.")
@click.option("--graph", default="complete", show_default=True, help="complete, star, or edges like 0-1,1-2.")
@click.option("--tied", is_flag=True, help="Also compute the tied (spherical-code) column.")
@click.option("--tied-only", is_flag=True, help="Only the tied column (ignores --modalities).")
@click.option("--restarts", type=click.IntRange(1, None), default=8, show_default=True,
              help="Search restarts per cell. Asking for more later improves stored cells, never worsens them.")
@click.option("--time-per-cell", type=float, default=None, help="Seconds allowed per cell (default: no limit).")
@click.option("--seed", type=click.IntRange(0, None), default=0, show_default=True,
              help="Base seed; each cell derives its own from it and its key.")
@_store_option
@click.option("--workers", type=click.IntRange(1, None), default=None,
              help="1: run in this process, no Dask. Default: a local Dask cluster, one worker per core.")
@click.option("--scheduler", default=None, help="Use an existing Dask scheduler, e.g. tcp://host:8786.")
@click.option("--solver", default="search", show_default=True,
              help="search (solvers.search), search-no-polish (no final LP polish: keeps big cells within "
                   "--time-per-cell), construction (fast tied-code baseline) or module:function.")
@click.option("--force", is_flag=True, help="Recompute cells already stored with enough effort (keeps the best).")
@click.option("--warm-start", is_flag=True,
              help="Start each search from the best stored configuration valid for the cell: its own, the tied "
                   "code of the same (N, d), or the first M modalities of a stored cell with more modalities.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when a terminal).")
@_output_options
def run_cmd(n_spec, dims, modalities, graph, tied, tied_only, restarts, time_per_cell, seed, store, workers,
            scheduler, solver, force, warm_start, progress, fmt_, columns, output, plot, digits):
    """Compute the grid's missing cells into the store, then print the table.

    Every finished cell is committed at once: an interrupted run loses only the cells in flight,
    and re-running the same command computes only what is missing.  Margins are m, HALF the gap.

    Exit status: 0 done, 1 some cells failed, 2 bad input, 130 interrupted (re-run to resume).
    """
    from constellations.solvers.tables.grid import make_grid
    from constellations.solvers.tables.runner import resolve_cell_function, run_table
    from constellations.solvers.tables.store import TableStore

    if scheduler and workers is not None:
        raise click.UsageError("--workers and --scheduler exclude each other (the scheduler's workers are used)")
    if time_per_cell is not None and not (0 < time_per_cell < math.inf):
        raise click.BadParameter("must be a positive number of seconds", param_hint="--time-per-cell")
    cells = make_grid(n_spec, dims, modalities, graph=graph, tied=tied, tied_only=tied_only, restarts=restarts,
                      time_limit=time_per_cell, seed=seed)
    fn = resolve_cell_function(solver)
    with TableStore(store) as st:
        bar = _ProgressBar(progress)
        try:
            summary = run_table(cells, st, cell_function=fn, workers=workers, scheduler=scheduler, force=force,
                                warm_start=warm_start, progress=bar)
        finally:
            bar.close()
        rows = [r for r in (st.get(c) for c in cells) if r is not None]
        _emit(rows, fmt_.lower(), columns.lower(), digits, output,
              extra={"store": str(st.path), "summary": _summary_dict(summary)})
        if plot:
            render_plot(rows, plot)
        echo_err(_summary_line(summary, st.path))
    for label, msg in summary.failed[:5]:
        echo_err(f"constellations: cell {label} failed: {msg}")
    if summary.interrupted:
        echo_err("constellations: interrupted; finished cells are stored, re-run the same command to resume")
        return 130
    return 1 if summary.failed else 0


def _summary_dict(s):
    return {"cells": s.cells, "skipped": s.skipped, "new": s.new, "improved": s.improved, "kept": s.kept,
            "failed": len(s.failed), "interrupted": s.interrupted, "seconds": s.seconds, "workers": s.workers,
            "mode": s.mode}


def _summary_line(s, path):
    return (f"table: {s.cells} cells: {s.new} new, {s.improved} improved, {s.kept} kept, {s.skipped} already stored, "
            f"{len(s.failed)} failed; {s.seconds:.1f} s, {s.workers} worker(s) ({s.mode}); store {path}")


class _ProgressBar:
    """tqdm on stderr: cells done / total, with running and left in the postfix and an ETA."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.bar = None

    def __call__(self, p):
        if self.enabled is False:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=p.total - p.skipped, unit="cell", file=sys.stderr, dynamic_ncols=True,
                            disable=None if self.enabled is None else False, desc="table")
        if p.status in ("new", "improved", "kept", "failed"):
            self.bar.update(1)
        self.bar.set_postfix_str(f"running {p.running}, left {p.left}" + (f", skipped {p.skipped}" if p.skipped else ""))

    def close(self):
        if self.bar is not None:
            self.bar.close()


# ---------------------------------------------------------------------------------------- show

def _filter_options(f):
    f = click.option("--tied/--no-tied", "tied", default=None, help="Only tied cells / only untied cells.")(f)
    f = click.option("--graph", default=None, help="Only this graph (complete, star, edges).")(f)
    f = click.option("--modalities", default=None, help="Only these M.")(f)
    f = click.option("--dims", default=None, help="Only these d.")(f)
    f = click.option("--n", "n_spec", default=None, help="Only these N.")(f)
    return f


def _select(st, n_spec, dims, modalities, graph, tied):
    ns, ds, ms = _filters(n_spec, dims, modalities)
    rows = st.cells(n=ns, dims=ds, tied=tied, graph=graph)
    if ms is not None:
        rows = [r for r in rows if r.tied or r.modalities in ms]
    return rows


@command.command("show")
@_store_option
@_filter_options
@_output_options
def show_cmd(store, n_spec, dims, modalities, graph, tied, fmt_, columns, output, plot, digits):
    """Reprint stored cells (all, or those selected) without computing anything."""
    from constellations.solvers.tables.store import TableStore

    with TableStore(store, readonly=True) as st:
        rows = _select(st, n_spec, dims, modalities, graph, tied)
        _emit(rows, fmt_.lower(), columns.lower(), digits, output, extra={"store": str(st.path)})
        if plot:
            render_plot(rows, plot)
    return 0


# -------------------------------------------------------------------------------------- verify

@command.command("verify")
@_store_option
@_filter_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def verify_cmd(store, n_spec, dims, modalities, graph, tied, as_json):
    """Re-verify stored cells from their configurations alone.

    For each cell: the certified margin recomputed from the stored configuration is >= 0 (it is a
    constellation), the recomputed float64 margin equals the stored one, and the margin is at or
    below the certified ceiling recomputed now.  Exit status 0 if every cell passes, 1 if not.
    """
    from constellations.certify import certified_margin
    from constellations.solvers.tables.runner import upper_bound
    from constellations.solvers.tables.store import TableStore

    results = []
    with TableStore(store, readonly=True) as st:
        rows = _select(st, n_spec, dims, modalities, graph, tied)
        for r in rows:
            cfg = st.configuration(r.key)
            cert = certified_margin(cfg.X, r.graph)
            upper, method = upper_bound(r.n, r.dim)
            problems = []
            if cfg.X.shape != (r.modalities, r.n, r.dim):
                problems.append(f"stored shape {cfg.X.shape}")
            if not cert.margin_cert >= 0:
                problems.append(f"certified margin {cert.margin_cert!r} < 0")
            if abs(cert.margin - r.margin) > 1e-12:
                problems.append(f"recomputed margin {cert.margin!r} != stored {r.margin!r}")
            if not cert.margin <= upper:
                problems.append(f"margin {cert.margin!r} above the certified ceiling {upper!r} ({method})")
            results.append({"n": r.n, "dim": r.dim, "modalities": r.modalities, "graph": r.graph, "tied": r.tied,
                            "margin": cert.margin, "margin_cert": cert.margin_cert, "margin_upper": upper,
                            "upper_method": method, "ok": not problems, "problems": problems})
        path = str(st.path)
    bad = [x for x in results if not x["ok"]]
    if as_json:
        emit_json({"store": path, "cells": len(results), "failed": len(bad), "results": results})
    else:
        for x in bad:
            what = "tied" if x["tied"] else f"M={x['modalities']}"
            click.echo(f"FAIL N={x['n']} d={x['dim']} {what} {x['graph']}: {'; '.join(x['problems'])}")
        click.echo(f"{len(results) - len(bad)}/{len(results)} cells re-verified (certified margin >= 0, "
                   f"margin <= certified ceiling) in {path}")
    return 1 if bad else 0


# -------------------------------------------------------------------------------------- export

@command.command("export")
@_store_option
@click.option("--n", "n", type=click.IntRange(2, None), required=True, help="N of the cell.")
@click.option("--dim", type=click.IntRange(1, None), required=True, help="d of the cell.")
@click.option("--modalities", type=click.IntRange(2, None), default=2, show_default=True, help="M of the cell.")
@click.option("--graph", default="complete", show_default=True)
@click.option("--tied", is_flag=True, help="The tied (spherical-code) cell.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output .npz file.")
def export_cmd(store, n, dim, modalities, graph, tied, output):
    """Write one stored configuration to an .npz file (for `constellations verify`)."""
    from constellations.graphs import parse_graph
    from constellations.solvers.tables.store import TableStore

    key = (n, dim, 2 if tied else modalities, "complete" if tied else parse_graph(graph, modalities).spec, tied)
    with TableStore(store, readonly=True) as st:
        if st.get(key) is None:
            raise ConstellationsError(f"no stored cell N={n} d={dim} " + ("tied" if tied else f"M={modalities} {graph}")
                                      + f" in {st.path}")
        path = st.export(key, output)
    click.echo(str(path))
    return 0

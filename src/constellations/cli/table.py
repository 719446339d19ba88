"""``constellations table``: tabulate achievable margins against certified ceilings (resumable).

Sub-commands (``run`` is the default when the first argument is an option, so
``constellations table --n 8 --dims 2:4`` runs; any other unknown word is an error):

- ``run``: compute the missing cells of a grid into the store, then print the table;
- ``show``: reprint stored cells without computing anything;
- ``verify``: re-verify every stored configuration (certified margin >= 0, at or below the free
  ceiling, tied cells at or below the code ceiling; shell certificates re-checked);
- ``export``: write one stored configuration to an ``.npz`` file.

Paths: ``-o/--output``, ``--plot`` and ``--store`` must name a file in an existing directory
(checked when the command line is parsed, before any work); directories are never created,
except the default store's (:func:`~tables.store.default_store_path`).
After Ctrl-C (SIGINT) or SIGTERM, ``run`` exits 130 or 143 with one line on stderr, keeps every
finished cell in the store, and every output it still writes says that it is partial (a Markdown
note, a ``#`` line atop the CSV, ``"interrupted": true`` in JSON, a title on the plot).
"""
from __future__ import annotations

import csv
import io as _io
import json
import math
import sys
from pathlib import Path

import click

from constellations.core.errors import ConstellationsError
from constellations.core.graphs import parse_graph
from constellations.io.files import atomic_write, atomic_write_text, to_jsonable
from constellations.tables.grid import make_grid
from constellations.tables.runner import ceilings, check_table_device, plan_workers, resolve_cell_function, run_table
from constellations.tables.store import TableStore
from constellations.tables.verification import Judge, verify_store

from constellations.cli.limits import WORKERS
from constellations.cli.output import checked_path, echo_err, emit_json, output_option

__all__ = ["command"]

_SUBCOMMANDS = ("run", "show", "verify", "export")


class _DefaultGroup(click.Group):
    """A group that runs ``run`` when the first argument is an option (or there is none).

    ``table bogus`` is an error ("no such command"), not ``table run bogus``.
    """

    default_command = "run"

    def parse_args(self, ctx, args):
        if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help")):
            args = [self.default_command] + list(args)
        elif args[0] not in self.commands and args[0] not in ("-h", "--help"):
            raise click.UsageError(f"no such command 'table {args[0]}' (commands: {', '.join(_SUBCOMMANDS)}; "
                                   "options alone mean `table run`)", ctx=ctx)
        return super().parse_args(ctx, args)


# ----------------------------------------------------------------------------------- formatting

def _num(x, digits):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}f}"


def _ceil(r):
    return ceilings(r.n, r.dim)


def _judge(judge):
    """``judge`` (a :class:`~tables.verification.Judge`), or one that reads the stored certified
    margins alone."""
    return Judge() if judge is None else judge


def _cell_extra(r, judge=None) -> dict:
    """The two certified ceilings of a stored cell, computed now (issue 13), its ratios to them, and
    whether it is proved optimal.

    ``margin_upper_free`` bounds every cell; ``margin_upper_tied`` (codes) only tied cells.  ``optimal``:
    a theorem proves the optimum of the cell (tied: as a code; untied: as a constellation) and the
    stored certified margin reaches it exactly (:func:`bounds.optimality.optimality`); the
    ``optimum*`` fields give that optimum, its theorem and how far below it the cell is (``judge``:
    :class:`~tables.verification.Judge`, which reads the exact margin of a cell at its optimum).
    """
    c = _ceil(r)
    tied = c.tied if r.tied else None
    o = _judge(judge)(r)
    return {"margin_upper_free": c.free, "upper_free_method": c.free_method,
            "gap_ratio_free": r.margin / c.free if c.free > 0 else None,
            "margin_upper_tied": tied, "upper_tied_method": c.tied_method if r.tied else None,
            "gap_ratio_tied": (r.margin / tied) if tied else None,
            "optimal": o.proved, "optimum": o.optimum, "optimum_exact": o.optimum_exact, "optimum_theorem": o.theorem,
            "optimum_gap": o.gap}


def _ratio_cell(row, ceiling, tied, judge):
    """``found/ceiling`` to 3 decimals, and ``opt`` when ``row`` is proved optimal (judged as a tied
    cell or as a constellation): the ratio alone never says so."""
    if row is None or not ceiling:
        return "-"
    return f"{row.margin / ceiling:.3f}" + (" opt" if judge(row, tied).proved else "")


def _tables_by_m(rows, digits, judge):
    """One Markdown table per (N, graph): rows d, columns M (and tied), plus both ceilings and ratios."""
    out = []
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
        head = (["d"] + [f"M={m}" for m in ms] + (["tied", "code ceiling", "tied/ceiling"] if has_tied else [])
                + ["free ceiling", "best/ceiling"])
        title = f"N = {n}" + ("" if g == "complete" else f", graph {g}")
        lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        by = {(r.dim, r.modalities): r for r in sub}
        for d in dims:
            cells = [by.get((d, m)) for m in ms] + ([tied_by.get((n, d))] if has_tied else [])
            present = [c for c in cells if c is not None]
            c = _ceil(present[0])
            best = max(present, key=lambda x: x.margin, default=None)
            tcell = tied_by.get((n, d))
            tied_cols = [_num(c.tied, digits), _ratio_cell(tcell, c.tied, True, judge)] if has_tied else []
            free_cols = [_num(c.free, digits), _ratio_cell(best, c.free, False, judge)]
            lines.append("| " + " | ".join([str(d)] + [_num(x.margin if x else None, digits) for x in cells]
                                           + tied_cols + free_cols) + " |")
        out.append("\n".join(lines))
    return out


def _tables_by_n(rows, digits):
    """One Markdown table per M (and tied, and the ceiling): rows d, columns N."""
    out = []
    series = {}
    uppers, tied_up = {}, {}
    for r in rows:
        label = "tied (spherical code)" if r.tied else (f"M = {r.modalities}" + ("" if r.graph == "complete"
                                                                                 else f", graph {r.graph}"))
        order = (1, 0, "") if r.tied else (0, r.modalities, r.graph)
        series.setdefault((order, label), {})[(r.dim, r.n)] = r.margin
        c = _ceil(r)
        uppers[(r.dim, r.n)] = c.free
        tied_up[(r.dim, r.n)] = c.tied
    ns = sorted({r.n for r in rows})
    dims = sorted({r.dim for r in rows})
    items = sorted(series.items()) + [(((2, 0, ""), "code ceiling (tied, certified)"), tied_up),
                                      (((3, 0, ""), "free ceiling (certified, any M)"), uppers)]
    for (_, label), vals in items:
        head = ["d"] + [f"N={n}" for n in ns]
        lines = [f"### {label}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for d in dims:
            lines.append("| " + " | ".join([str(d)] + [_num(vals.get((d, n)), digits) for n in ns]) + " |")
        out.append("\n".join(lines))
    return out


def render_markdown(rows, columns="m", digits=4, partial=None, judge=None) -> str:
    """The Markdown tables; ``partial`` (a sentence) puts a PARTIAL note on top; ``judge`` decides
    ``opt`` (default: from the stored certified margins)."""
    top = f"> **PARTIAL**: {partial}\n\n" if partial else ""
    if not rows:
        return top + "(no cells)\n"
    note = ("Margins m are HALF the gap (pos - neg)/2, float64, re-verified. Two certified ceilings, computed "
            "now: `code ceiling` bounds tied constellations (spherical codes) in R^d itself "
            "(constellations.bounds.margin_upper_tied), `free ceiling` every constellation, any M, graph "
            "and b_rel (margin_upper_free: Theorem 3.4, the sandwich, the shell bounds). `best` is the largest "
            "margin of the row (a code is a constellation too); `opt` marks a configuration proved optimal: a "
            "theorem gives the optimum of the cell and the configuration's margin (certified, or exact) reaches "
            "it exactly, with no tolerance; a ratio of 1.000 without `opt` is below the optimum (`table verify` "
            "says by how much).")
    tables = _tables_by_m(rows, digits, _judge(judge)) if columns == "m" else _tables_by_n(rows, digits)
    return top + "\n\n".join(tables) + "\n\n" + note + "\n"


#: CSV columns and JSON keys of a cell (the shared vocabulary: ``margin_certified``, ``seconds``, ...).
CSV_FIELDS = ["n", "dim", "modalities", "graph", "tied", "margin", "b_rel", "margin_certified", "margin_upper",
              "gap_ratio", "upper_method", "restarts", "restarts_requested", "time_requested", "seconds",
              "seconds_total", "attempts", "seed", "solver", "solver_version", "created", "updated", "host",
              "margin_upper_free", "upper_free_method", "gap_ratio_free", "margin_upper_tied", "upper_tied_method",
              "gap_ratio_tied", "optimal", "optimum", "optimum_exact", "optimum_theorem", "optimum_gap"]
"""``margin_upper``/``gap_ratio``/``upper_method`` are the ceiling stored with the cell when it was computed;
the ``*_free`` and ``*_tied`` ceilings are computed now, and ``optimal`` means proved by the theorem
``optimum_theorem`` (:func:`_cell_extra`)."""


def _row_dict(r, judge=None) -> dict:
    return {**r.as_dict(), **_cell_extra(r, judge)}


def render_csv(rows, partial=None, judge=None) -> str:
    """One line per cell; ``partial`` (a sentence) adds a first line ``# PARTIAL: ...``."""
    buf = _io.StringIO()
    if partial:
        buf.write(f"# PARTIAL: {partial}\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    judge = _judge(judge)
    for r in rows:
        d = _row_dict(r, judge)
        w.writerow(["" if d[f] is None else (repr(d[f]) if isinstance(d[f], float) else d[f]) for f in CSV_FIELDS])
    return buf.getvalue()


def _json_rows(rows, judge=None):
    judge = _judge(judge)
    return [{f: d[f] for f in CSV_FIELDS} for d in (_row_dict(r, judge) for r in rows)]


_MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*")


def _series(rows):
    """``{label: {d: margin}}`` with the untied labels first (by M), then ``"tied"``."""
    series = {}
    for r in rows:
        key = "tied" if r.tied else (f"M={r.modalities}" + ("" if r.graph == "complete" else f" {r.graph}"))
        series.setdefault(key, {})[r.dim] = r.margin
    untied = sorted((k for k in series if k != "tied"), key=lambda k: (int(k[2:].split()[0]), k))
    return {k: series[k] for k in untied + (["tied"] if "tied" in series else [])}


def plot_figure(rows, partial=None):
    """The table's figure: per N, margin vs d (top) and each M's gain over the tied code (bottom).

    The M = 2, 3, 4 and tied margins usually agree to 1e-3 or better, so on one axis they hide each
    other.  The top panel shifts each M's markers slightly along d (the offset is drawing only) and
    draws the certified ceiling; the bottom panel plots m(M) - m(tied) on a symmetric-log axis
    (linear within 1e-9 of 0), where an exact tie sits on the 0 line and gains from 1e-9 to 1e-1 are
    decades apart.  Returns the matplotlib figure (the caller closes it).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = sorted({r.n for r in rows})
    if not ns:  # e.g. interrupted before the first cell: still a (labelled) figure, never a stale one
        fig = plt.figure(figsize=(4.8, 3.0), layout="constrained")
        fig.text(0.5, 0.5, "no cells" + (f"\n\nPARTIAL: {partial}" if partial else ""), ha="center", va="center",
                 wrap=True, color="C3" if partial else "k")
        return fig
    cols = min(3, len(ns))
    grid_rows = -(-len(ns) // cols)
    fig = plt.figure(figsize=(4.8 * cols, 5.0 * grid_rows + (0.4 if partial else 0)), layout="constrained")
    outer = fig.add_gridspec(grid_rows, cols)
    for i, n in enumerate(ns):
        pair = outer[divmod(i, cols)].subgridspec(2, 1, height_ratios=[2.0, 1.0], hspace=0.0)
        top = fig.add_subplot(pair[0])
        bot = fig.add_subplot(pair[1], sharex=top)
        sub = [r for r in rows if r.n == n]
        series = _series(sub)
        untied = [k for k in series if k != "tied"]
        tied = series.get("tied", {})
        width = 0.12 * (len(untied) - 1)
        offsets = {k: (j * 0.12 - width / 2 if len(untied) > 1 else 0.0) for j, k in enumerate(untied)}
        if tied:
            ds = sorted(tied)
            top.plot(ds, [tied[d] for d in ds], ls="-", lw=4, marker="s", ms=7, color="0.78", zorder=1,
                     label="tied (code)")
        up = {r.dim: _ceil(r).free for r in sub}
        if up:
            ds = sorted(up)
            top.plot(ds, [up[d] for d in ds], color="k", lw=1.2, ls=":", label="free ceiling (certified)")
        if tied:
            ds = sorted(tied)
            top.plot(ds, [_ceil(next(r for r in sub if r.dim == d)).tied for d in ds], color="0.4", lw=1.0,
                     ls="--", label="code ceiling (certified)")
        for j, key in enumerate(untied):
            ds = sorted(series[key])
            style = dict(marker=_MARKERS[j % len(_MARKERS)], ms=4.5, lw=0.9, fillstyle="none", color=f"C{j}",
                         zorder=2 + j)
            top.plot([d + offsets[key] for d in ds], [series[key][d] for d in ds], label=key, **{**style, "ls": "none"})
            both = [d for d in ds if d in tied]
            if both:
                bot.plot([d + offsets[key] for d in both], [series[key][d] - tied[d] for d in both], label=key,
                         **style)
        _label_panel(top, bot, n, bool(tied))
    if partial:
        fig.suptitle(f"PARTIAL: {partial}", color="C3", fontsize=11)
    return fig


def _label_panel(top, bot, n, has_tied: bool) -> None:
    """Titles, labels, scales and grids of one N's pair of axes (margins on top, gains below)."""
    from matplotlib.ticker import MaxNLocator

    top.set_title(f"N = {n}")
    top.set_ylabel("margin m (half gap)")
    top.grid(alpha=0.3)
    top.legend(fontsize=7)
    top.tick_params(labelbottom=False)
    bot.axhline(0.0, color="0.5", lw=0.8)
    bot.set_yscale("symlog", linthresh=1e-9, linscale=0.5)
    bot.set_ylim(-1e-9, 1.0)
    bot.set_yticks([0, 1e-8, 1e-6, 1e-4, 1e-2, 1])
    bot.set_ylabel("m(M) - m(tied)")
    bot.set_xlabel("d (M markers shifted apart)")
    bot.xaxis.set_major_locator(MaxNLocator(integer=True))
    bot.grid(alpha=0.3)
    if not has_tied:
        bot.text(0.5, 0.5, "no tied cells to compare with\n(run with --tied)", transform=bot.transAxes,
                 ha="center", va="center", fontsize=8)


def render_plot(rows, path, partial=None) -> None:
    """Write :func:`plot_figure` to ``path`` as a PNG, atomically."""
    import matplotlib.pyplot as plt

    fig = plot_figure(rows, partial)
    try:
        with atomic_write(path, "wb") as fh:
            fig.savefig(fh, format="png", dpi=120)
    finally:
        plt.close(fig)


def _emit(rows, fmt_, columns, digits, output, extra=None, partial=None, judge=None):
    """Print the table, or write it to ``output``; returns a phrase saying what was written, or None."""
    if fmt_ == "json":
        obj = {**(extra or {}), "interrupted": bool(partial), **({"partial": partial} if partial else {}),
               "cells": _json_rows(rows, judge)}
        text = json.dumps(to_jsonable(obj), indent=2) + "\n"
    elif fmt_ == "csv":
        text = render_csv(rows, partial, judge)
    else:
        text = render_markdown(rows, columns, digits, partial, judge)
    if not output:
        click.echo(text, nl=False)
        return None
    atomic_write_text(output, text)
    return f"{len(rows)} cell{'s' * (len(rows) != 1)} as {fmt_}{' (PARTIAL)' if partial else ''} to {output}"


# ------------------------------------------------------------------------------------ options

_FORMAT_OF_SUFFIX = {".md": "md", ".markdown": "md", ".csv": "csv", ".json": "json"}
_PLAIN_SUFFIXES = ("", ".txt")


def _table_format(fmt_, as_json, output):
    """--format, else --json, else the suffix of -o (.md, .csv, .json), else Markdown.

    The suffix of ``-o`` must name a format the table is written in (``.md``/``.markdown``,
    ``.csv``, ``.json``), agreeing with ``--format``/``--json`` when given, or be ``.txt`` or none
    (Markdown unless ``--format`` says otherwise): ``-o table.xlsx`` is refused, not filled with
    Markdown.  Raises click.UsageError (one line, exit 2) before any work.
    """
    if as_json:
        if fmt_ not in (None, "json"):
            raise click.UsageError("--json and --format " + fmt_ + " exclude each other")
        fmt_ = "json"
    fmt_ = None if fmt_ is None else fmt_.lower()
    if not output:
        return fmt_ or "md"
    suffix = Path(output).suffix.lower()
    named = _FORMAT_OF_SUFFIX.get(suffix)
    if named is None and suffix not in _PLAIN_SUFFIXES:
        raise click.UsageError(f"-o {output}: the table is written as md, csv or json; name the file "
                               f"*.md, *.csv or *.json (or *.txt with --format), not *{Path(output).suffix}")
    if named is not None and fmt_ not in (None, named):
        raise click.UsageError(f"-o {output} names {named} but the format asked for is {fmt_}; "
                               "make the suffix and the format agree")
    return fmt_ or named or "md"


def _store_option(writable):
    help_ = ("SQLite store (default: $CONSTELLATIONS_STORE, else $XDG_DATA_HOME/constellations/tables.sqlite, "
             "else ~/.local/share/constellations/tables.sqlite; only the default's directory is created).")
    return click.option("--store", type=click.Path(dir_okay=False), default=None, metavar="PATH",
                        callback=checked_path(None) if writable else None, help=help_)


def _output_options(f):
    f = click.option("--digits", type=click.IntRange(1, 17), default=4, show_default=True,
                     help="Decimals in the Markdown table.")(f)
    f = click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="PATH.png",
                     callback=checked_path(".png"),
                     help="Also draw, per N, margin vs d per M with the ceiling and the tied curve, and each "
                          "M's gain over the tied code (PNG).")(f)
    f = output_option(None, help="Write the table to this file (atomically) instead of stdout; its suffix "
                                 "(.md, .csv, .json) sets the format (.txt or none: Markdown or --format; any "
                                 "other suffix is refused).")(f)
    f = click.option("--columns", type=click.Choice(["m", "n"], case_sensitive=False), default="m",
                     show_default=True, help="Markdown layout: rows d and columns M (one table per N), "
                                             "or columns N (one table per M).")(f)
    f = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")(f)
    f = click.option("--format", "fmt_", type=click.Choice(["md", "csv", "json"], case_sensitive=False),
                     default=None, help="Output format [default: from the -o suffix, else md].")(f)
    return f


@click.group("table", cls=_DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
def command():
    """Tabulate achievable margins against certified ceilings, in a resumable store.

    \b
    constellations table --n 8,16 --dims 2:6 -M 2,3 --tied   (same as `table run ...`)
    constellations table show --n 16 -o t16.csv
    constellations table verify
    constellations table export --n 16 --dim 4 -M 3 -o c.npz
    """


@command.command("run")
@click.option("--n", "n_spec", required=True, help="Numbers of items N: 8,16 or ranges 8:32:8.")
@click.option("--dims", "--dim", "dims", required=True, help="Dimensions d: 2:12 (inclusive) or 3,5,8.")
@click.option("-M", "--modalities", default="2", show_default=True, help="Numbers of modalities M: 2,3,4.")
@click.option("--graph", default="complete", show_default=True, help="complete, star, or edges like 0-1,1-2.")
@click.option("--tied", is_flag=True, help="Also compute the tied (spherical-code) column.")
@click.option("--tied-only", is_flag=True, help="Only the tied column (ignores --modalities).")
@click.option("--restarts", type=click.IntRange(1, None), default=8, show_default=True,
              help="Search restarts per cell. Asking for more later improves stored cells, never worsens them.")
@click.option("--time-per-cell", type=float, default=None, help="Seconds allowed per cell (default: no limit).")
@click.option("--seed", type=click.IntRange(0, None), default=0, show_default=True,
              help="Base seed; each cell derives its own from it and its key.")
@_store_option(writable=True)
@click.option("--workers", type=WORKERS, default="auto", show_default=True,
              help="1: run in this process, no Dask. auto: a local Dask cluster, one worker per core available; "
                   "a count above the cores available (or the memory) is refused.")
@click.option("--scheduler", default=None, help="Use an existing Dask scheduler, e.g. tcp://host:8786.")
@click.option("--solver", default="search", show_default=True,
              help="search (constellations.search), search-no-polish (no final LP polish: keeps big cells within "
                   "--time-per-cell), construction (fast tied-code baseline) or module:function.")
@click.option("--force", is_flag=True, help="Recompute cells already stored with enough effort (keeps the best).")
@click.option("--warm-start", is_flag=True,
              help="Start each search from the best stored configuration valid for the cell: its own, the tied "
                   "code of the same (N, d), or the first M modalities of a stored cell with more modalities.")
@click.option("--midpoint/--no-midpoint", default=True, show_default=True,
              help="Afterwards, improve each tied cell with the midpoint code (U_i + V_i)/|U_i + V_i| of the best "
                   "stored free cell of its (N, d), re-verified; kept only if strictly better.")
@click.option("--device", default=None,
              help="Device of each cell's search: cpu, cuda or cuda:K (checked first; with cuda the cells run one "
                   "after the other in this process on that GPU). Default: the search's own (cpu).")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when a terminal).")
@_output_options
def run_cmd(n_spec, dims, modalities, graph, tied, tied_only, restarts, time_per_cell, seed, store, workers,
            scheduler, solver, force, warm_start, midpoint, device, progress, fmt_, as_json, columns, output, plot,
            digits):
    """Compute the grid's missing cells into the store, then print the table.

    Every finished cell is committed at once: an interrupted run loses only the cells in flight,
    and re-running the same command computes only what is missing.  Margins are m, HALF the gap.

    Exit status: 0 done, 1 some cells failed, 2 bad input, 130 interrupted by Ctrl-C (SIGINT), 143 by
    SIGTERM (re-run to resume; the table still printed or written is marked PARTIAL).
    """
    fmt_ = _table_format(fmt_, as_json, output)
    if scheduler and workers != "auto":
        raise click.UsageError("--workers and --scheduler exclude each other (the scheduler's workers are used)")
    if time_per_cell is not None and not (0 < time_per_cell < math.inf):
        raise click.BadParameter("must be a positive number of seconds", param_hint="--time-per-cell")
    if device is not None:
        device = check_table_device(device)  # one line and exit 2 before any work if CUDA is absent
        if device.startswith("cuda") and (scheduler or workers not in ("auto", 1)):
            raise click.UsageError(f"--device {device} runs the cells in this process on one GPU; "
                                   "drop --workers/--scheduler")
    cells = make_grid(n_spec, dims, modalities, graph=graph, tied=tied, tied_only=tied_only, restarts=restarts,
                      time_limit=time_per_cell, seed=seed)
    fn = resolve_cell_function(solver)
    if not scheduler:
        plan_workers(workers, cells)  # more workers than the machine runs: one line, before the store is opened
    with TableStore(store) as st:
        bar = _ProgressBar(progress)
        try:
            summary = run_table(cells, st, cell_function=fn, workers=workers, scheduler=scheduler, force=force,
                                warm_start=warm_start, progress=bar, midpoint=midpoint, device=device)
        finally:
            bar.close()
        rows = [r for r in (st.get(c) for c in cells) if r is not None]
        partial = None
        if summary.interrupted:
            partial = (f"the run was interrupted; {len(rows)} of the grid's {len(cells)} cells are stored; "
                       "re-run the same command to complete it")
        wrote = [_emit(rows, fmt_, columns.lower(), digits, output, partial=partial,
                       extra={"store": str(st.path), "summary": _summary_dict(summary)}, judge=Judge(st))]
        if plot:
            render_plot(rows, plot, partial)
            wrote.append(f"plot of {len(rows)} cells{' (PARTIAL)' if partial else ''} to {plot}")
        wrote = [w for w in wrote if w]
        store_path = st.path
    if summary.interrupted:
        echo_err(f"constellations: interrupted: {len(rows)} of {len(cells)} cells stored in {store_path}"
                 + (f", {summary.partial} of them partial" if summary.partial else "")
                 + (f"; wrote {' and '.join(wrote)}" if wrote else "") + "; re-run the same command to resume")
        return 130
    echo_err(_summary_line(summary, store_path) + (f"; wrote {' and '.join(wrote)}" if wrote else ""))
    for label, msg in summary.failed[:5]:
        echo_err(f"constellations: cell {label} failed: {msg}")
    return 1 if summary.failed else 0


def _summary_dict(s):
    return {"cells": s.cells, "skipped": s.skipped, "new": s.new, "improved": s.improved, "kept": s.kept,
            "failed": len(s.failed), "interrupted": s.interrupted, "partial": s.partial, "seconds": s.seconds,
            "workers": s.workers, "mode": s.mode, "midpoint": s.midpoint, "handed_down": s.handed_down}


def _summary_line(s, path):
    return (f"table: {s.cells} cells: {s.new} new, {s.improved} improved, {s.kept} kept, {s.skipped} already stored, "
            f"{len(s.failed)} failed" + (f", {s.midpoint} tied improved by midpoint codes" if s.midpoint else "")
            + (f", {s.handed_down} free raised to a tied code or more modalities" if s.handed_down else "")
            + f"; {s.seconds:.1f} s, {s.workers} worker{'s' * (s.workers != 1)} ({s.mode}); "
            f"store {path}")


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
        self.bar.set_postfix_str(f"running {p.running}, left {p.left}"
                                 + (f", skipped {p.skipped}" if p.skipped else ""))

    def close(self):
        if self.bar is not None:
            self.bar.close()


# ---------------------------------------------------------------------------------------- show

def _filter_options(f):
    f = click.option("--tied/--no-tied", "tied", default=None, help="Only tied cells / only untied cells.")(f)
    f = click.option("--graph", default=None, help="Only this graph (complete, star, edges).")(f)
    f = click.option("-M", "--modalities", default=None, help="Only these M.")(f)
    f = click.option("--dims", "--dim", "dims", default=None, help="Only these d.")(f)
    f = click.option("--n", "n_spec", default=None, help="Only these N.")(f)
    return f


@command.command("show")
@_store_option(writable=False)
@_filter_options
@_output_options
def show_cmd(store, n_spec, dims, modalities, graph, tied, fmt_, as_json, columns, output, plot, digits):
    """Reprint stored cells (all, or those selected) without computing anything.

    With -o or --plot, one line on stderr says what was written where.
    """
    fmt_ = _table_format(fmt_, as_json, output)
    with TableStore(store, readonly=True) as st:
        rows = st.select(n=n_spec, dims=dims, modalities=modalities, graph=graph, tied=tied)
        wrote = [_emit(rows, fmt_, columns.lower(), digits, output, extra={"store": str(st.path)}, judge=Judge(st))]
        if plot:
            render_plot(rows, plot)
            wrote.append(f"plot of {len(rows)} cells to {plot}")
    wrote = [w for w in wrote if w]
    if wrote:
        echo_err(f"table: wrote {' and '.join(wrote)}")
    return 0


# -------------------------------------------------------------------------------------- verify

@command.command("verify")
@_store_option(writable=False)
@_filter_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def verify_cmd(store, n_spec, dims, modalities, graph, tied, as_json):
    """Re-verify stored cells from their configurations alone.

    For each cell: the certified margin recomputed from the stored configuration is >= 0 (it is a
    constellation), the recomputed float64 margin equals the stored one, and the margin is at or
    below both certified ceilings recomputed now: the free ceiling (every cell) and, for tied cells,
    the code ceiling.  Shell certificates are re-checked from their (N, d, m) alone
    (verify_shell_certificate).  A cell is "proved optimal" only when a theorem gives its optimum and
    the configuration's margin reaches it exactly; otherwise a cell with a proved optimum is reported
    within its distance of it.  Exit status 0 if every cell passes, 1 if not.
    """
    report = verify_store(store, n=n_spec, dims=dims, modalities=modalities, graph=graph, tied=tied)
    if as_json:
        emit_json(report.to_dict())
    else:
        for x in report.cells:
            if x.optimality.optimum is not None:
                click.echo(f"{x.label}: {x.optimality.label()}")
        for x in report.failed:
            click.echo(f"FAIL {x.label}: {'; '.join(x.problems)}")
        click.echo(f"{len(report.cells) - len(report.failed)}/{len(report.cells)} cells re-verified (certified margin "
                   f">= 0, margin <= the free ceiling, tied cells <= the code ceiling; {report.proved} proved optimal, "
                   f"{report.within} below an optimum a theorem proves) in {report.store}")
    return 1 if report.failed else 0


# -------------------------------------------------------------------------------------- export

@command.command("export")
@_store_option(writable=False)
@click.option("--n", "n", type=click.IntRange(2, None), required=True, help="N of the cell.")
@click.option("--dim", "--dims", "dim", type=click.IntRange(1, None), required=True, help="d of the cell.")
@click.option("-M", "--modalities", type=click.IntRange(2, None), default=2, show_default=True, help="M of the cell.")
@click.option("--graph", default="complete", show_default=True)
@click.option("--tied", is_flag=True, help="The tied (spherical-code) cell.")
@output_option(".npz", required=True, help="Output .npz file (for `constellations verify`); its directory must exist.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object describing what was written.")
def export_cmd(store, n, dim, modalities, graph, tied, output, as_json):
    """Write one stored configuration to an .npz file (for `constellations verify`).

    Prints what was written: the cell, its margin, the array's shape (M modalities x N rows
    of dimension d) and the path.
    """
    key = (n, dim, 2 if tied else modalities, "complete" if tied else parse_graph(graph, modalities).spec, tied)
    what = "tied" if tied else f"M={modalities} {key[3]}"
    with TableStore(store, readonly=True) as st:
        row = st.get(key)
        if row is None:
            raise ConstellationsError(f"no stored cell N={n} d={dim} {what} in {st.path}")
        cfg = st.configuration(key)
        path = st.export(key, output)
        store_path = st.path
    m, rows_, d = cfg.X.shape
    if as_json:
        emit_json({"output": str(path), "format": "npz", "n": n, "dim": dim, "modalities": m, "graph": key[3],
                   "tied": tied, "rows": m * rows_, "shape": [m, rows_, d], "margin": row.margin,
                   "b_rel": row.b_rel, "margin_certified": row.margin_certified, "store": str(store_path)})
    else:
        click.echo(f"wrote N={n} d={dim} {what} (margin {row.margin:.12g}): {m * rows_} rows "
                   f"({m} modalities x {rows_} points, d={d}) as .npz to {path}")
    return 0

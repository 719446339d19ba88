"""``constellations reproduce``: regenerate the paper's synthetic training studies."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from constellations.io.files import atomic_write_text
from constellations.training.reproduce import TABLES, plan, reproduce

from constellations.cli.limits import threads_option
from constellations.cli.output import INTEGER, checked_dir, csv_text, echo_err, emit_json
from constellations.cli.seeds import SEEDS_HELP, SeedsType

CHOICES = ("fixed-brel", "init-grid", "modalities", "bias", "all")


_out_dir = checked_dir("table.md")  # probes the directory as the real writes will


@click.command("reproduce")
@click.argument("table", type=click.Choice(CHOICES))
@click.option("--n", "n", type=INTEGER, default=100, show_default=True)
@click.option("--dim", type=INTEGER, default=10, show_default=True)
@click.option("--seeds", type=SeedsType(), default="5", show_default=True,
              help=SEEDS_HELP + " The same seeds for every setting.")
@click.option("--steps", type=INTEGER, default=5000, show_default=True)
@click.option("--lr", type=float, default=0.01, show_default=True)
@click.option("--t0", type=float, default=10.0, show_default=True, help="Initial t (where not swept).")
@click.option("--b-rel0", "b_rel0", type=float, default=0.0, show_default=True, help="Initial b_rel (where not swept).")
@click.option("--reduction", type=click.Choice(["sum", "mean"]), default="sum", show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True)
@click.option("--device", default="cpu", show_default=True)
@threads_option()
@click.option("-o", "--output", "out_dir", default=None, metavar="DIR", callback=_out_dir,
              help="Write TABLE.md, TABLE.csv and TABLE.json into DIR (an existing directory).")
@click.option("--out", "out_alias", default=None, metavar="DIR", callback=_out_dir, hidden=True,
              help="Deprecated alias of -o/--output.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(table, n, dim, seeds, steps, lr, t0, b_rel0, reduction, dtype, device, threads, out_dir, out_alias,
            as_json):
    """Regenerate TABLE (fixed-brel, init-grid, modalities, bias, or all) at N x d (default 100 x 10).

    Prints the margin as m (HALF the gap) and 2m (the paper's printed gap) side by side, as mean
    ± std over the seeds.  All settings and seeds of a table run as one batch.  Exit status 0;
    130 if interrupted (Ctrl-C: the rows reached are printed and written, marked INTERRUPTED in
    the .md, with ``interrupted``/``steps_done`` columns in the .csv and .json); 2 on bad input.
    """
    if out_dir is not None and out_alias is not None and out_dir != out_alias:
        raise click.UsageError("give the output directory once (-o/--output; --out is its old name)")
    out_dir = out_dir or out_alias
    tables = TABLES if table == "all" else (table,)
    kw = dict(n=n, dim=dim, seeds=seeds, steps=steps, lr=lr, t0=t0, b_rel0=b_rel0, reduction=reduction,
              dtype=dtype, device=device)
    for t in tables:  # refuse oversized or bad settings before the first table trains
        plan(t, **kw)

    results = []

    def progress(label, step, total):
        if sys.stderr.isatty() and not as_json:
            click.echo(f"\r  {label}: step {step}/{total}", err=True, nl=False)

    cmd = "constellations " + " ".join(sys.argv[1:]) if len(sys.argv) > 1 else None
    for t in tables:
        res = reproduce(t, progress=progress, threads=threads, **kw)
        results.append(res)
        if sys.stderr.isatty() and not as_json:
            click.echo("", err=True)
        md = f"## {t}\n\n" + res.to_markdown()
        if out_dir is not None:
            _write_table(Path(out_dir), res, md, cmd, threads)
        if not as_json:
            click.echo(md)
        if res.settings.get("interrupted"):
            break
    interrupted = bool(results and results[-1].settings.get("interrupted"))
    if as_json:
        emit_json({"interrupted": interrupted,
                   "tables": [{"table": r.table, "settings": r.settings, "seconds": r.wall_s, "rows": list(r.rows)}
                              for r in results]})
    if interrupted:
        skipped = tables[len(results):]
        echo_err(f"constellations: interrupted during {results[-1].table}; partial rows written and marked"
                 + (f"; not run: {', '.join(skipped)}" if skipped else ""))
        return 130
    return 0


def _write_table(out_dir: Path, res, md: str, cmd: str | None, threads) -> None:
    """Write TABLE.md, TABLE.json and TABLE.csv of one study into ``out_dir``."""
    t = res.table
    settings = {**res.settings, "threads": threads, "seconds": res.wall_s}
    if cmd:
        settings["command"] = cmd
    atomic_write_text(out_dir / f"{t}.md", md + (f"\nCommand: `{cmd}`\n" if cmd else ""))
    atomic_write_text(out_dir / f"{t}.json", json.dumps({"interrupted": res.settings["interrupted"],
                                                         "settings": settings, "rows": list(res.rows)}, indent=1)
                      + "\n")
    header = list(res.rows[0])
    atomic_write_text(out_dir / f"{t}.csv", csv_text(header, ([r.get(k, "") for k in header] for r in res.rows)))

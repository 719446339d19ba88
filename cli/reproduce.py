"""``constellations reproduce``: regenerate the paper's synthetic training studies."""
from __future__ import annotations

import csv
import io as _io
import json
import sys
from pathlib import Path

import click

from .output import emit_json

CHOICES = ("fixed-brel", "init-grid", "modalities", "bias", "all")


@click.command("reproduce")
@click.argument("table", type=click.Choice(CHOICES))
@click.option("--n", "n", type=int, default=100, show_default=True)
@click.option("--dim", type=int, default=10, show_default=True)
@click.option("--seeds", type=int, default=5, show_default=True, help="Seeds per setting (0..seeds-1).")
@click.option("--steps", type=int, default=5000, show_default=True)
@click.option("--lr", type=float, default=0.01, show_default=True)
@click.option("--t0", type=float, default=10.0, show_default=True, help="Initial t (where not swept).")
@click.option("--b-rel0", "b_rel0", type=float, default=0.0, show_default=True, help="Initial b_rel (where not swept).")
@click.option("--reduction", type=click.Choice(["sum", "mean"]), default="sum", show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--threads", type=int, default=1, show_default=True, help="torch CPU threads.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write TABLE.md, TABLE.csv and TABLE.json here.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(table, n, dim, seeds, steps, lr, t0, b_rel0, reduction, dtype, device, threads, out_dir, as_json):
    """Regenerate TABLE (fixed-brel, init-grid, modalities, bias, or all) at N x d (default 100 x 10).

    Prints the margin as m (HALF the gap) and 2m (the paper's printed gap) side by side, as mean
    ± std over the seeds.  All settings and seeds of a table run as one batch.
    """
    import torch

    from constellations.io import atomic_write_text
    from constellations.solvers.reproduce import TABLES, reproduce

    if threads < 1:
        raise click.BadParameter("must be >= 1", param_hint="--threads")
    if not str(device).startswith(("cuda", "auto")):
        torch.set_num_threads(threads)
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    tables = TABLES if table == "all" else (table,)
    results = []

    def progress(label, step, total):
        if sys.stderr.isatty() and not as_json:
            click.echo(f"\r  {label}: step {step}/{total}", err=True, nl=False)

    cmd = "constellations " + " ".join(sys.argv[1:]) if len(sys.argv) > 1 else None
    for t in tables:
        res = reproduce(t, n=n, dim=dim, seeds=seeds, steps=steps, lr=lr, t0=t0, b_rel0=b_rel0,
                        reduction=reduction, dtype=dtype, device=device, progress=progress)
        results.append(res)
        if sys.stderr.isatty() and not as_json:
            click.echo("", err=True)
        md = f"## {t}\n\n" + res.to_markdown()
        if out_dir is not None:
            settings = {**res.settings, "threads": threads, "wall_s": res.wall_s}
            if cmd:
                settings["command"] = cmd
            atomic_write_text(Path(out_dir) / f"{t}.md", md + (f"\nCommand: `{cmd}`\n" if cmd else ""))
            atomic_write_text(Path(out_dir) / f"{t}.json",
                              json.dumps({"settings": settings, "rows": list(res.rows)}, indent=1) + "\n")
            buf = _io.StringIO()
            w = csv.DictWriter(buf, fieldnames=list(res.rows[0]))
            w.writeheader()
            w.writerows(res.rows)
            atomic_write_text(Path(out_dir) / f"{t}.csv", buf.getvalue())
        if not as_json:
            click.echo(md)
        if res.settings.get("interrupted"):
            break
    if as_json:
        emit_json({"tables": [{"table": r.table, "settings": r.settings, "wall_s": r.wall_s, "rows": list(r.rows)}
                              for r in results]})
    return 130 if results and results[-1].settings.get("interrupted") else 0

"""``constellations search``: multi-start search for maximal-margin constellations / spherical codes."""
from __future__ import annotations

import sys

import click

from constellations.cli.output import emit_json, fmt

__all__ = ["command"]


@click.command("search")
@click.option("--n", "n", type=int, required=True, help="Number of items N (>= 2).")
@click.option("--dim", type=int, required=True, help="Dimension d (>= 1).")
@click.option("--modalities", "-M", type=int, default=2, show_default=True, help="Number of modalities M (>= 2).")
@click.option("--graph", default=None, help="Synchronisation graph: complete (default), star, or edges '0-1,1-2'.")
@click.option("--tied", is_flag=True, help="All modalities equal: the spherical-code (Tammes) problem.")
@click.option("--restarts", type=int, default=None,
              help="Random restarts [default: 8, or unlimited until --time-limit when that is given].")
@click.option("--time-limit", type=float, default=None, help="Wall-clock budget in seconds.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda (cuda uses the torch kernel).")
@click.option("--backend", type=click.Choice(["auto", "numpy", "numba", "torch"]), default="auto", show_default=True)
@click.option("--jobs", "n_jobs", type=int, default=1, show_default=True, help="Worker processes for restarts.")
@click.option("--batch", type=int, default=1, show_default=True,
              help="Run restarts this many at a time as one batched torch program (for --device cuda).")
@click.option("--init", "init_path", type=click.Path(dir_okay=False), default=None,
              help="Start the first restart from this .npz configuration.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write the best configuration (.npz).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(n, dim, modalities, graph, tied, restarts, time_limit, seed, device, backend, n_jobs, batch,
            init_path, output, as_json, quiet):
    """Search for N unit vectors per modality in R^d maximising the margin m (half the gap).

    Multi-start Riemannian L-BFGS on a smoothed margin with beta continuation, an exact
    sequential-LP polish of the best restarts, and a certified margin of the result.
    Ctrl-C stops the search and still reports (and writes) the best configuration so far.

    \b
    Examples:
      constellations search --n 12 --dim 3 --tied
      constellations search --n 100 --dim 10 --time-limit 60 -o best.npz --json
      constellations search --n 2000 --dim 64 --device cuda --batch 16 --time-limit 300
    """
    from constellations import io
    from constellations.solvers.search import search

    if restarts is None and time_limit is None:
        restarts = 8
    init = None
    if init_path is not None:
        init = io.load(init_path, normalize=True)
    bar = None
    if not quiet and not as_json and sys.stderr.isatty():
        from tqdm import tqdm
        bar = tqdm(total=restarts, file=sys.stderr, unit="restart", leave=False, dynamic_ncols=True,
                   desc=f"search N={n} d={dim}")

    def callback(done, total, best):
        if bar is not None:
            bar.update(done - bar.n)
            bar.set_postfix_str(f"best m={best:.6f}")

    try:
        res = search(n, dim, modalities, graph, tied=tied, restarts=restarts, time_limit=time_limit, seed=seed,
                     device=device, backend=backend, init=init, n_jobs=n_jobs, callback=callback, batch=batch)
    finally:
        if bar is not None:
            bar.close()
    written = None
    if output is not None:
        written = str(io.save(output, res.config))
    out = {
        "n": res.n, "dim": res.dim, "modalities": res.modalities, "graph": res.config.graph.spec, "tied": tied,
        "margin": res.margin, "b_rel": res.b_rel, "margin_certified": res.margin_certified,
        "seconds": res.seconds, "restarts": res.restarts, "seed": seed, "interrupted": res.interrupted,
        "time_limited": res.time_limited, "backend": res.backend, "device": res.device,
        "polish_gain": res.polish_gain, "restart_margins": list(res.restart_margins), "output": written,
    }
    if as_json:
        emit_json(out)
    else:
        click.echo(f"N={res.n} d={res.dim} M={res.modalities} graph={out['graph']}{' tied' if tied else ''}")
        click.echo(f"margin m (half gap) = {fmt(res.margin)}   b_rel = {fmt(res.b_rel)}")
        click.echo(f"certified margin    >= {fmt(res.margin_certified)}")
        click.echo(f"{res.restarts} restarts in {res.seconds:.2f} s ({res.backend}, {res.device})"
                   + ("; interrupted, best so far" if res.interrupted else "")
                   + ("; stopped by the time limit" if res.time_limited else ""))
        if written:
            click.echo(f"wrote {written}")
    return 130 if res.interrupted else 0

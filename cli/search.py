"""``constellations search``: multi-start search for maximal-margin constellations / spherical codes."""
from __future__ import annotations

import sys

import click

from constellations import interrupts
from constellations.cli.limits import WORKERS, remaining
from constellations.cli.output import INTEGER, echo_err, emit_json, fmt, output_option

#: The library's strategies (solvers.search.driver.STRATEGIES; a test keeps the two equal), listed
#: here so that --help does not import the search (0.6 s).
STRATEGY_NAMES = ["auto", "restarts", "kick", "jump", "swap", "multiswap", "fresh", "mbh", "reseat", "energy",
                  "structured"]

__all__ = ["command"]


@click.command("search")
@click.option("--n", "n", type=INTEGER, required=True, help="Number of items N (>= 2).")
@click.option("--dim", type=INTEGER, required=True, help="Dimension d (>= 1).")
@click.option("--modalities", "-M", type=int, default=2, show_default=True, help="Number of modalities M (>= 2).")
@click.option("--graph", default=None, help="Synchronisation graph: complete (default), star, or edges '0-1,1-2'.")
@click.option("--tied", is_flag=True, help="All modalities equal: the spherical-code (Tammes) problem.")
@click.option("--restarts", type=INTEGER, default=None,
              help="Random restarts [default: 8, or unlimited until --time-limit when that is given].")
@click.option("--time-limit", type=float, default=None,
              help="Wall-clock budget in seconds for the whole command, start-up and verification included.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed (an integer >= 0).")
@click.option("--device", default="cpu", show_default=True,
              help="cpu, cuda or cuda:K (the triton or torch kernel; refused when there is no CUDA device).")
@click.option("--backend", type=click.Choice(["auto", "numpy", "numba", "torch", "triton"]), default="auto",
              show_default=True,
              help="Kernel of the smoothed margin; auto: triton on CUDA when installed, else torch; numpy or "
                   "numba on the CPU.  triton runs on the CPU only under TRITON_INTERPRET=1 (slow; tests).")
@click.option("--jobs", "n_jobs", type=WORKERS, default="auto", show_default=True,
              help="Worker processes: they run the restarts, then (with --time-limit) as many basin-hopping "
                   "runs at once, the best kept.  auto: every core available (1 under a time limit below "
                   "10 s, where starting workers costs more than it gains); more than the cores is refused.")
@click.option("--batch", type=int, default=1, show_default=True,
              help="Run restarts this many at a time as one batched torch program (for --device cuda).")
@click.option("--strategy", type=click.Choice(STRATEGY_NAMES),
              default="auto", show_default=True,
              help="Moves after the restarts: auto, a portfolio of kick, swap, jump, multiswap, fresh "
                   "restarts and mbh (monotonic basin hopping) that gives the time to what gains most margin per second (successive "
                   "halving) -- on large problems (N d > 600 with numba) reseat alone (move a point and its nearest "
                   "neighbours, re-anneal; a new chain from a fresh restart after 40, 40, 80, ... steps); "
                   "restarts: none; or one move alone (swap and multiswap need --tied); "
                   "energy / structured: auto with codes started by Riesz-energy continuation / from "
                   "classical configurations (simplex, 24-cell, E8...).")
@click.option("--no-constructions", "no_constructions", is_flag=True,
              help="Do not use the catalogue's best construction for (N, d) as a start and a floor "
                   "(searches from random starts only, e.g. for benchmarks).")
@click.option("--init", "init_path", type=click.Path(dir_okay=False), default=None,
              help="Start the first restart from this .npz configuration.")
@output_option(".npz", help="Write the best configuration here (.npz; checked before the search starts).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(n, dim, modalities, graph, tied, restarts, time_limit, seed, device, backend, n_jobs, batch,
            strategy, no_constructions, init_path, output, as_json, quiet):
    """Search for N unit vectors per modality in R^d maximising the margin m (half the gap).

    Multi-start Riemannian L-BFGS on a smoothed margin with beta continuation, an exact
    sequential-LP polish of the best restarts, and a certified margin of the result.  A free
    search (without --tied) first solves the tied problem and continues from that code, so it
    never ends below it.  The best known construction for (N, d) (Kerdock, Gold, Kasami, BCH
    codes, lattices, polytopes; built from its recipe) is a start and a floor: the result is
    never below it (--no-constructions: off).  When
    the search cannot fit the memory or the time limit and the construction's rows certify by
    their structure (entries 0, +a, -a: binary and Kerdock codes), it is returned alone.  --time-limit covers everything, verification included; sizes that
    cannot fit in memory or be verified within it are refused before the search starts.
    Ctrl-C or SIGTERM stops the search and still reports (and writes) the best configuration so
    far, marked interrupted (exit status 130, or 143 for SIGTERM).

    \b
    Examples:
      constellations search --n 12 --dim 3 --tied
      constellations search --n 100 --dim 10 --time-limit 60 -o best.npz --json
      constellations search --n 2000 --dim 64 --device cuda --batch 16 --time-limit 300
      constellations search --n 32768 --dim 768 --time-limit 5
    """
    # Ctrl-C or SIGTERM from here on only raises a flag: the search polls it between kernel calls and
    # returns its best so far, which is then written (a KeyboardInterrupt inside a Numba kernel loses the run)
    pending = []
    with interrupts.on_stop(pending.append):
        return _run(n, dim, modalities, graph, tied, restarts, time_limit, seed, device, backend, n_jobs, batch,
                    strategy, not no_constructions, init_path, output, as_json, quiet, pending)


def _run(n, dim, modalities, graph, tied, restarts, time_limit, seed, device, backend, n_jobs, batch,
         strategy, constructions, init_path, output, as_json, quiet, pending):
    from constellations import io
    from constellations.solvers.search import INTERRUPT, search

    # from here on a stop signal goes straight to the search's flag, also while it looks up constructions
    # and plans its budget (before its own handler is in place); one that came while the modules loaded counts too
    with interrupts.on_stop(lambda signum: INTERRUPT.set()):
        if pending:
            INTERRUPT.set()
        return _search_and_report(n, dim, modalities, graph, tied, restarts, time_limit, seed, device, backend,
                                  n_jobs, batch, strategy, constructions, init_path, output, as_json, quiet, io,
                                  search)


def _search_and_report(n, dim, modalities, graph, tied, restarts, time_limit, seed, device, backend, n_jobs, batch,
                       strategy, constructions, init_path, output, as_json, quiet, io, search):
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
            if bar.total is not None and done > bar.total or (total is not None and total != bar.total):
                bar.total = max(done, total or 0)
            bar.update(done - bar.n)
            bar.set_postfix_str(f"best m={best:.6f}")

    try:
        res = search(n, dim, modalities, graph, tied=tied, restarts=restarts, time_limit=remaining(time_limit),
                     seed=seed,
                     device=device, backend=backend, init=init, n_jobs=n_jobs, callback=callback, batch=batch,
                     strategy=strategy, constructions=constructions)
    finally:
        if bar is not None:
            bar.close()
    written = None
    if output is not None:
        written = str(io.save(output, res.config.with_meta(interrupted=res.interrupted,
                                                           time_limited=res.time_limited)))
    out = {
        "n": res.n, "dim": res.dim, "modalities": res.modalities, "graph": res.config.graph.spec, "tied": tied,
        "margin": res.margin, "b_rel": res.b_rel, "margin_certified": res.margin_certified,
        "seconds": res.seconds, "restarts": res.restarts, "seed": seed, "interrupted": res.interrupted,
        "time_limited": res.time_limited, "backend": res.backend, "device": res.device,
        "polish_gain": res.polish_gain, "restart_margins": list(res.restart_margins), "output": written,
    }
    if not tied:
        out["tied_margin"] = res.extra.get("tied_margin")
    con = res.extra.get("construction")
    out.update(certified_by=res.certified_by, construction_margin=res.extra.get("construction_margin"),
               construction=con, search_skipped=res.extra.get("search_skipped"))
    out.update(strategy=strategy, found_by=res.extra.get("found_by"), portfolio=res.extra.get("portfolio"),
               contacts=res.extra.get("contacts"),
               rattlers=res.extra.get("rattlers"), min_poly=res.extra.get("min_poly"),
               min_poly_of="cosine" if tied else "margin", hop_workers=res.extra.get("hop_workers"))
    if as_json:
        emit_json(out)
    else:
        click.echo(f"N={res.n} d={res.dim} M={res.modalities} graph={out['graph']}{' tied' if tied else ''}")
        click.echo(f"margin m (half gap) = {fmt(res.margin)}   b_rel = {fmt(res.b_rel)}")
        click.echo(f"certified margin    >= {fmt(res.margin_certified)}   (by {res.certified_by})")
        if con is not None:
            click.echo(f"construction        m = {fmt(con['margin'])}   {con['recipe']}")
        if out["search_skipped"]:
            click.echo(f"no search: {out['search_skipped']}; the construction is returned")
        click.echo(f"{res.restarts} restart{'' if res.restarts == 1 else 's'} in {res.seconds:.2f} s "
                   f"({res.backend}, {res.device})"
                   + ("; interrupted, best so far" if res.interrupted else "")
                   + ("; stopped by the time limit" if res.time_limited else ""))
        if out["contacts"] is not None:
            click.echo(f"contacts = {out['contacts']}   rattlers = {out['rattlers']}")
        click.echo("found by the construction" if str(out["found_by"]).startswith("construction:")
                   else f"found by {out['found_by']}")
        if out["portfolio"]:
            arms = out["portfolio"]["arms"]
            click.echo("moves: " + ", ".join(f"{k} {a['pulls']}x {a['seconds']:.1f}s +{a['gain']:.2g}"
                                             for k, a in arms.items() if a["pulls"]))
        if out["hop_workers"]:
            click.echo("hopping workers ended at m = " + ", ".join(fmt(m) for m in out["hop_workers"]))
        if out["min_poly"] is not None:
            click.echo(f"min poly of the {out['min_poly_of']} (recognised, not proved): {out['min_poly']}")
        if written:
            click.echo(f"wrote {written}")
    if res.interrupted:
        echo_err("constellations: interrupted")
        return 130
    return 0

"""``constellations search``: multi-start search for maximal-margin constellations / spherical codes."""
from __future__ import annotations

import click

from constellations import io
from constellations.core import interrupts
from constellations.search import search
from constellations.search.driver import STRATEGIES

from constellations.cli.limits import WORKERS, check_workers, remaining
from constellations.cli.output import INTEGER, echo_err, emit_json, fmt, output_option, progress_bar

#: The library's strategies (:data:`constellations.search.driver.STRATEGIES`), in its order.
STRATEGY_NAMES = list(STRATEGIES)

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
@click.option("--jobs", "n_jobs", type=WORKERS, default="auto", show_default=True, callback=check_workers,
              help="Worker processes: they run the restarts, then (with --time-limit) as many basin-hopping "
                   "runs at once, the best kept.  auto: every core available (1 under a time limit below "
                   "10 s, where starting workers costs more than it gains); more than the cores is refused.")
@click.option("--batch", type=int, default=1, show_default=True,
              help="Run restarts this many at a time as one batched torch program (for --device cuda).")
@click.option("--strategy", type=click.Choice(STRATEGY_NAMES),
              default="auto", show_default=True,
              help="Moves after the restarts: auto, a portfolio of kick, swap, jump, multiswap, fresh "
                   "restarts, mbh (monotonic basin hopping) and antipodal restarts (--tied, N even, d >= 4: N/2 points "
                   "and their negatives) that gives the time to what gains most margin per second (successive "
                   "halving) -- on large problems (N d > 600 with numba) reseat (move a point and its nearest "
                   "neighbours, re-anneal; a new chain from a fresh restart after 40, 40, 80, ... steps) and "
                   "antipodal restarts; auto also makes one restart in 4 of an even code (from the 8th) antipodal; "
                   "restarts: none; or one move alone (swap, multiswap and antipodal need --tied); "
                   "energy / structured: auto with codes started by Riesz-energy continuation / from "
                   "classical configurations (simplex, 24-cell, E8...).")
@click.option("--no-constructions", "no_constructions", is_flag=True,
              help="Do not use the catalogue's best construction for (N, d) as a start and a floor "
                   "(searches from random starts only, e.g. for benchmarks).")
@click.option("--init", "init_path", type=click.Path(dir_okay=False), default=None,
              help="Start the first restart from this configuration: .npz, or a text file of one code "
                   "(.txt/.dat/.csv, one point per line; used tied; rows rescaled to unit norm).")
@output_option(io.CONFIG_SUFFIXES, help="Write the best configuration here (checked before the search starts): "
               ".npz, or with --tied .txt/.dat/.csv (the code, one point per line, full precision).")
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
    if output is not None and io.is_text(output) and not tied:
        raise click.BadParameter("a text file holds one spherical code: use it with --tied, or write .npz",
                                 param_hint="'-o' / '--output'")
    if restarts is None and time_limit is None:
        restarts = 8
    # Ctrl-C or SIGTERM from here on only sets the library's stop flag (core.interrupts): the search polls
    # it between kernel calls and returns its best so far, which is then written (a KeyboardInterrupt inside
    # a Numba kernel loses the run); a signal before the search starts (while the start file loads) makes
    # it return at once
    with interrupts.sigint_sets_flag():
        init = None if init_path is None else io.load(init_path, normalize=True, dim=dim, modalities=modalities)
        bar = progress_bar(quiet, as_json, total=restarts, unit="restart", dynamic_ncols=True,
                           desc=f"search N={n} d={dim}")
        try:
            res = search(n, dim, modalities, graph, tied=tied, restarts=restarts, time_limit=remaining(time_limit),
                         seed=seed, device=device, backend=backend, init=init, n_jobs=n_jobs,
                         callback=_bar_callback(bar), batch=batch, strategy=strategy,
                         constructions=not no_constructions)
        finally:
            if bar is not None:
                bar.close()
        written = None
        if output is not None:
            meta = {"interrupted": res.interrupted, "time_limited": res.time_limited}
            written = str(io.save(output, res.config.with_meta(**meta), certificate=res))
    out = {**res.to_dict(), "output": written}
    if as_json:
        emit_json(out)
    else:
        _report(out)
    if res.interrupted:
        echo_err("constellations: interrupted")
        return 130
    return 0


def _bar_callback(bar):
    """The search's progress callback ``(done, total, best)``, drawing on ``bar`` (None: no bar)."""
    def callback(done, total, best):
        if bar is not None:
            if bar.total is not None and done > bar.total or (total is not None and total != bar.total):
                bar.total = max(done, total or 0)
            bar.update(done - bar.n)
            bar.set_postfix_str(f"best m={best:.6f}")
    return callback


def _report(o: dict) -> None:
    e = click.echo
    e(f"N={o['n']} d={o['dim']} M={o['modalities']} graph={o['graph']}{' tied' if o['tied'] else ''}")
    e(f"margin m (half gap) = {fmt(o['margin'])}   b_rel = {fmt(o['b_rel'])}")
    e(f"certified margin    >= {fmt(o['margin_certified'])}   (by {o['certified_by']})")
    if o["construction"] is not None:
        e(f"construction        m = {fmt(o['construction']['margin'])}   {o['construction']['recipe']}")
    if o["search_skipped"]:
        e(f"no search: {o['search_skipped']}; the construction is returned")
    e(f"{o['restarts']} restart{'' if o['restarts'] == 1 else 's'} in {o['seconds']:.2f} s "
      f"({o['backend']}, {o['device']})"
      + ("; interrupted, best so far" if o["interrupted"] else "")
      + ("; stopped by the time limit" if o["time_limited"] else ""))
    if o["contacts"] is not None:
        e(f"contacts = {o['contacts']}   rattlers = {o['rattlers']}"
          + ("   antipodal (every point's negative is a point)" if o["antipodal"] else ""))
    e("found by the construction" if str(o["found_by"]).startswith("construction:") else f"found by {o['found_by']}")
    if o["portfolio"]:
        e("moves: " + ", ".join(f"{k} {a['pulls']}x {a['seconds']:.1f}s +{a['gain']:.2g}"
                                for k, a in o["portfolio"]["arms"].items() if a["pulls"]))
    if o["hop_workers"]:
        e("hopping workers ended at m = " + ", ".join(fmt(m) for m in o["hop_workers"]))
    if o["min_poly"] is not None:
        e(f"min poly of the {o['min_poly_of']} (recognised, not proved): {o['min_poly']}")
    if o["output"]:
        e(f"wrote {o['output']}")

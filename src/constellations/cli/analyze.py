"""``constellations analyze``: margins, retrieval, modality gap and xi of real paired embeddings."""
from __future__ import annotations

import time

import click

from constellations.analysis import analyze_pairs, check_percentiles
from constellations.core.errors import ConfigurationError, ConstellationsError
from constellations.io.embeddings import load_pairs

from constellations.cli.output import emit_json, fmt, progress_bar


@click.command("analyze")
@click.argument("pairs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--graph", default=None, help="complete (default), star, or edges like 0-1,1-2.")
@click.option("--labels/--no-labels", "use_labels", default=True, show_default=True,
              help="Use the file's 'labels' array (same-class pairs count as positives) when present.")
@click.option("--percentiles", default="5,95", show_default=True,
              help="Percentile of the positives, then of the negatives, for the percentile margin "
                   "(first <= second; 0,100 is the min/max margin).")
@click.option("--gap/--no-gap", default=True, show_default=True, help="Run the modality-gap LPs (Theorem 3.6).")
@click.option("--gap-sample", type=int, default=200, show_default=True,
              help="Most items the gap LPs see (a seeded random subset above it; h is then checked on all).")
@click.option("--gap-time", type=float, default=10.0, show_default=True,
              help="Time limit of each gap LP in seconds (a cut-short LP is reported as such).")
@click.option("--device", default="cpu", show_default=True, help="torch device of the Gram sweep: cpu, cuda, auto.")
@click.option("--dtype", type=click.Choice(["float64", "float32"]), default="float64", show_default=True,
              help="Precision of the Gram sweep (results are float64 either way; float32 is faster on most GPUs).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the row sample and the LP subset.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(pairs, graph, use_labels, percentiles, gap, gap_sample, gap_time, device, dtype, seed, quiet, as_json):
    """Analyse PAIRS: one file with X (M, N, d) or U and V (N, d), or two files U and V.

    \b
    Files: .npz (X or U, V; optional labels (N,) and graph), .npy ((M, N, d), or one (N, d) per file),
    torch .pt/.pth (tensors only, loaded with weights_only=True), .safetensors (if installed).

    Rows of any norm are normalised first.  Reports the margin m (HALF the gap) with its b_rel in
    three forms: min/max (the constellation margin), percentile (p5 of positives vs p95 of
    negatives) and mean; top-1 retrieval both ways; the modality-gap test of Theorem 3.6 (an LP with
    SciPy HiGHS: a direction h with <h,U_i> > 0 for all i, and how many V_j have <h,V_j> < 0; on a
    random subset of --gap-sample items when N is larger); xi and the norm of the mean difference.
    The N^2 products are swept once in blocks (never all in memory) and every reported extreme,
    percentile and retrieval winner is the exact float64 value (see constellations.analysis.paired); a
    progress bar shows the sweep.
    """
    q = _percentiles(percentiles)
    if gap_sample < 2:
        raise click.BadParameter("must be >= 2", param_hint="--gap-sample")
    if not gap_time > 0:
        raise click.BadParameter("must be > 0", param_hint="--gap-time")
    data = load_pairs(pairs)
    name = data.source
    if graph is None and data.graph is not None:
        graph = data.graph
    labels = data.labels if use_labels else None
    bar = progress_bar(quiet, as_json, unit="block", desc="Gram sweep")

    def progress(done, total):
        if bar is not None:
            bar.total = total
            bar.update(done - bar.n)

    t0 = time.perf_counter()
    try:
        res = analyze_pairs(data.X, graph=graph, labels=labels, percentiles=q, gap=gap, device=device,
                            dtype=dtype, gap_sample=gap_sample, gap_time=gap_time, seed=seed, progress=progress)
    except ConstellationsError as exc:
        raise type(exc)(f"{name}: {exc}") from None
    finally:
        if bar is not None:
            bar.close()
    out = {"file": name, **res.to_dict(), "seconds": time.perf_counter() - t0}
    if as_json:
        emit_json(out)
    else:
        _report(out)
    return 0


def _percentiles(text: str) -> tuple[float, float]:
    """``--percentiles P,Q`` as (P, Q), checked by :func:`constellations.analysis.paired.check_percentiles`."""
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        q = tuple(float(x) for x in parts)
        return check_percentiles(q)
    except ValueError as exc:
        msg = str(exc) if isinstance(exc, ConfigurationError) else "use two numbers in [0, 100] like 5,95"
        raise click.BadParameter(msg, param_hint="--percentiles") from None


def _report(o: dict) -> None:
    e = click.echo
    e(f"{o['file']}: M={o['modalities']} modalities, N={o['n']} items, d={o['dim']}, graph {o['graph']}, "
      f"{o['n_classes']} classes; {o['counts']['positive']} positive / {o['counts']['negative']} negative pairs")
    for k, (lo, mean, hi) in o["norms"].items():
        e(f"  modality {k}: raw row norms min {fmt(lo, 5)} mean {fmt(mean, 5)} max {fmt(hi, 5)}; "
          f"|mean of unit rows| {fmt(o['mean_norms'][k], 5)}")
    e("  margin m is HALF the gap; b_rel is the midpoint")
    p, n = o["percentiles"]
    labels = {"minmax": "min/max", "percentile": f"p{p:g}/p{n:g}", "mean": "mean"}
    e(f"  {'form':<12} {'pos':>10} {'neg':>10} {'m':>10} {'2m':>10} {'b_rel':>10}")
    for name, f in o["forms"].items():
        e(f"  {labels[name]:<12} {f['pos']:>10.4f} {f['neg']:>10.4f} {f['margin']:>10.4f} {2 * f['margin']:>10.4f} "
          f"{f['b_rel']:>10.4f}")
    for ed in o["edges"]:
        k, l = ed["edge"]
        e(f"  edge ({k},{l}): top-1 {k}->{l} {ed['retrieval_kl']:.4f}, {l}->{k} {ed['retrieval_lk']:.4f}; "
          f"xi {fmt(ed['xi'], 6)}; |mean diff| {fmt(ed['mean_diff_norm'], 6)}")
        g = ed["gap"]
        if g is not None:
            if g["found"]:
                e(f"    modality gap: h with <h,U_i> > 0 for all i puts {g['n_negative']}/{o['n']} V_j negative"
                  + (" (linearly separable)" if g["separable"] else ""))
            else:
                e("    modality gap: no h has <h,U_i> > 0 for all i")
            if g.get("sample"):
                e(f"    (LPs on a random subset of {g['sample']} of {o['n']} items; counts above are for all items)")
            if g["hypotheses"]:
                e(f"    Theorem 3.6 hypotheses hold: guarantee >= {g['guarantee']}")
            else:
                e("    Theorem 3.6 hypotheses do not hold (need N >= d+2, matched > 0 > non-matched)")

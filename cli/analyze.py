"""``constellations analyze``: margins, retrieval, modality gap and xi of real paired embeddings."""
from __future__ import annotations

import click

from .output import emit_json, fmt


@click.command("analyze")
@click.argument("pairs", type=click.Path(dir_okay=False))
@click.option("--graph", default=None, help="complete (default), star, or edges like 0-1,1-2.")
@click.option("--labels/--no-labels", "use_labels", default=True, show_default=True,
              help="Use the file's 'labels' array (same-class pairs count as positives) when present.")
@click.option("--percentiles", default="5,95", show_default=True,
              help="Percentile of the positives and of the negatives for the percentile margin.")
@click.option("--gap/--no-gap", default=True, show_default=True, help="Run the modality-gap LPs (Theorem 3.6).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(pairs, graph, use_labels, percentiles, gap, as_json):
    """Analyse PAIRS, an .npz with X (M, N, d) or U and V (N, d), rows of any norm, optional labels (N,).

    Rows are normalised first.  Reports the margin m (HALF the gap) with its b_rel in three forms:
    min/max (the constellation margin), percentile (p5 of positives vs p95 of negatives) and mean;
    top-1 retrieval both ways; the modality-gap test of Theorem 3.6 (an LP with SciPy HiGHS: a
    direction h with <h,U_i> > 0 for all i, and how many V_j have <h,V_j> < 0); xi and the norm of
    the mean difference.
    """
    from constellations.analysis import analyze_pairs
    from constellations.errors import FileFormatError
    from constellations.io import load_arrays

    try:
        q = tuple(float(x) for x in percentiles.split(","))
        if len(q) != 2:
            raise ValueError
    except ValueError:
        raise click.BadParameter("use two numbers like 5,95", param_hint="--percentiles") from None
    arrays = load_arrays(pairs)
    if "X" in arrays:
        X = arrays["X"]
    elif "U" in arrays and "V" in arrays:
        X = (arrays["U"], arrays["V"])
    else:
        raise FileFormatError(f"{pairs} holds {sorted(arrays)}; expected 'X' (M, N, d) or 'U' and 'V' (N, d)")
    if graph is None and "graph" in arrays:
        graph = str(arrays["graph"])
    labels = arrays.get("labels") if use_labels else None
    try:
        res = analyze_pairs(X, graph=graph, labels=labels, percentiles=q, gap=gap)
    except Exception as exc:
        from constellations.errors import ConstellationsError
        if isinstance(exc, ConstellationsError):
            raise type(exc)(f"{pairs}: {exc}") from None
        raise
    out = {"file": pairs, **res.to_dict()}
    if as_json:
        emit_json(out)
    else:
        _report(out)
    return 0


def _report(o: dict) -> None:
    e = click.echo
    e(f"{o['file']}: M={o['M']} modalities, N={o['N']} items, d={o['d']}, graph {o['graph']}, "
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
                e(f"    modality gap: h with <h,U_i> > 0 for all i puts {g['n_negative']}/{o['N']} V_j negative"
                  + (" (linearly separable)" if g["separable"] else ""))
            else:
                e("    modality gap: no h has <h,U_i> > 0 for all i")
            if g["hypotheses"]:
                e(f"    Theorem 3.6 hypotheses hold: guarantee >= {g['guarantee']}")
            else:
                e("    Theorem 3.6 hypotheses do not hold (need N >= d+2, matched > 0 > non-matched)")

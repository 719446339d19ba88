"""``constellations analyze``: margins, retrieval, modality gap and xi of real paired embeddings, and a
SigLIP model (t, b) against them: its threshold, loss and calibration, and the best (t*, b*)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from constellations.analysis import analyze_pairs, check_percentiles
from constellations.analysis.logits import check_model
from constellations.analysis.report import html_report
from constellations.analysis.retrieval import MAX_RECALL_K, check_recall_k
from constellations.core.errors import ConfigurationError, ConstellationsError
from constellations.io.embeddings import load_pairs
from constellations.io.files import atomic_write_text, load_arrays, os_reason, shown

from constellations.cli.output import checked_path, emit_json, fmt, progress_bar


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
@click.option("--t", "t", type=float, default=None,
              help="Temperature t > 0 of a SigLIP model z = t<u,v> + b to check (needs --bias).")
@click.option("--log-t", "log_t", type=float, default=None,
              help="log t instead of --t (open_clip's logit_scale; needs --bias).")
@click.option("--bias", type=float, default=None, help="Bias b of the model (open_clip's logit_bias).")
@click.option("--tb", type=click.Path(dir_okay=False), default=None,
              help="JSON or .npz file holding t (or logit_scale) and bias (or logit_bias), scalars; "
                   "instead of --t/--log-t/--bias.")
@click.option("--fit/--no-fit", default=True, show_default=True,
              help="Fit the best (t*, b*) for these embeddings (one or two extra passes over all pairs).")
@click.option("--fit-passes", type=click.IntRange(min=1), default=30, show_default=True,
              help="Most passes over all pairs for the fit's Newton iterations.")
@click.option("--bins", type=click.IntRange(1, 10_000), default=10, show_default=True,
              help="Equal-width probability bins of the reliability table.")
@click.option("--recall-k", default="1,5,10", show_default=True,
              help=f"K of recall@K, both ways (integers 1..{MAX_RECALL_K}).")
@click.option("--report", "report", metavar="FILE.html", default=None, callback=checked_path(".html"),
              help="Also write a self-contained HTML report (figures inline, no network) here, atomically.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(pairs, graph, use_labels, percentiles, gap, gap_sample, gap_time, device, dtype, seed, t, log_t, bias, tb,
            fit, fit_passes, bins, recall_k, report, quiet, as_json):
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

    Also: recall@K both ways (a query counts as retrieved at K when fewer than K non-matches score at
    least as high as its best match: ties count against it); with a SigLIP model (--t T or --log-t LOGT,
    and --bias B, or --tb FILE): its threshold -b/t on the inner product beside the embeddings' b_rel,
    the positives below and negatives above it, and the sigmoid loss as a sum over all pairs, a mean
    per pair, and per item (big_vision: sum / N); the best (t*, b*) for these embeddings (exact Newton on
    the convex loss, or "separable" when no finite t minimises it); the reliability table and ECE of
    p = sigmoid(t<u,v> + b) at the model given, else at the fit.  --report FILE.html writes all of it as one
    self-contained HTML page (histograms of the products with the thresholds, reliability diagram, tables).
    """
    q = _percentiles(percentiles)
    model = _model(t, log_t, bias, tb)
    ks = _recall_k(recall_k)
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
                            dtype=dtype, gap_sample=gap_sample, gap_time=gap_time, seed=seed, progress=progress,
                            fit=fit, bins=bins, recall_k=ks, fit_passes=fit_passes, **model)
    except ConstellationsError as exc:
        raise type(exc)(f"{name}: {exc}") from None
    finally:
        if bar is not None:
            bar.close()
    out = {"file": name, **res.to_dict(), "seconds": time.perf_counter() - t0}
    if report is not None:
        atomic_write_text(report, html_report(res, source=name))
        out["report"] = report
    if as_json:
        emit_json(out)
    else:
        _report(out)
        if report is not None:
            click.echo(f"wrote the HTML report {report}")
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


def _model(t, log_t, bias, tb) -> dict:
    """The model options as ``analyze_pairs`` keywords, checked before any file is read (never guessed)."""
    if tb is not None:
        if t is not None or log_t is not None or bias is not None:
            raise click.BadParameter("the file holds the model: give --tb or --t/--log-t/--bias, not both",
                                     param_hint="--tb")
        t, log_t, bias = _read_tb(tb)
    if t is not None and log_t is not None:
        raise click.BadParameter("give the temperature once: --t or --log-t, not both", param_hint="--log-t")
    if (t is not None or log_t is not None) and bias is None:
        raise click.BadParameter("a temperature needs its bias: give --bias too (it is never guessed)",
                                 param_hint="--bias")
    if bias is not None and t is None and log_t is None:
        raise click.BadParameter("a bias needs its temperature: give --t or --log-t too", param_hint="--bias")
    try:
        check_model(t, bias, log_t)
    except ConfigurationError as exc:
        hint = "--tb" if tb is not None else ("--log-t" if log_t is not None else "--t") if "bias" not in str(exc) \
            else "--bias"
        raise click.BadParameter(str(exc), param_hint=hint) from None
    return {"t": t, "bias": bias, "log_t": log_t}


_T_KEYS, _LOG_T_KEYS, _B_KEYS = ("t", "temperature"), ("log_t", "logit_scale"), ("b", "bias", "logit_bias")


def _read_tb(path: str) -> tuple:
    """(t, log_t, bias) from a JSON object or an .npz archive of scalars (size-1 arrays)."""
    p = Path(path)
    if p.suffix.lower() == ".npz":
        try:
            items = load_arrays(p)
        except ConstellationsError as exc:
            raise click.BadParameter(str(exc), param_hint="--tb") from None
    elif p.suffix.lower() == ".json":
        try:
            items = json.loads(p.read_text())
        except OSError as exc:
            raise click.BadParameter(f"cannot read {shown(p)}: {os_reason(p, exc)}", param_hint="--tb") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise click.BadParameter(f"{shown(p)} is not JSON: {exc}", param_hint="--tb") from None
        if not isinstance(items, dict):
            raise click.BadParameter(f"{shown(p)} must hold a JSON object like {{\"t\": 10, \"bias\": -10}}",
                                     param_hint="--tb")
    else:
        raise click.BadParameter(f"{shown(p)}: use a .json or .npz file", param_hint="--tb")
    t, log_t, b = (_scalar(items, keys, p) for keys in (_T_KEYS, _LOG_T_KEYS, _B_KEYS))
    if t is not None and log_t is not None:
        raise click.BadParameter(f"{shown(p)} holds both a temperature and its log: keep one", param_hint="--tb")
    if t is None and log_t is None:
        raise click.BadParameter(f"{shown(p)} holds no temperature (one of {', '.join(_T_KEYS + _LOG_T_KEYS)})",
                                 param_hint="--tb")
    if b is None:
        raise click.BadParameter(f"{shown(p)} holds no bias (one of {', '.join(_B_KEYS)})", param_hint="--tb")
    return t, log_t, b


def _scalar(items: dict, keys: tuple, p: Path):
    """The one number under one of ``keys`` (None if none): a JSON number, or an array of one real number."""
    found = [k for k in keys if k in items]
    if len(found) > 1:
        raise click.BadParameter(f"{shown(p)} holds both {found[0]!r} and {found[1]!r}", param_hint="--tb")
    if not found:
        return None
    v = items[found[0]]
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if hasattr(v, "dtype") and v.size == 1 and v.dtype.kind in "fiu":
        return float(v.reshape(-1)[0])
    shape = getattr(v, "shape", type(v).__name__)
    raise click.BadParameter(f"{shown(p)}: {found[0]!r} must be one real number, got {shape}", param_hint="--tb")


def _recall_k(text: str) -> tuple:
    """``--recall-k 1,5,10`` as a sorted tuple of integers in 1 .. MAX_RECALL_K."""
    try:
        return check_recall_k(tuple(int(x) for x in text.split(",")))
    except ValueError as exc:
        msg = str(exc) if isinstance(exc, ConfigurationError) else f"use integers 1..{MAX_RECALL_K} like 1,5,10"
        raise click.BadParameter(msg, param_hint="--recall-k") from None


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
        if ed.get("recall"):
            _recall_line(ed["recall"], k, l)
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
    _logit_report(o)


def _recall_line(r: dict, k: int, l: int) -> None:
    def part(vals, upper):
        return ", ".join(f"R@{K} {v:.4f}" + (f" ({u:.4f} ties for)" if u != v else "")
                         for K, v, u in zip(r["k"], vals, upper))
    click.echo(f"    recall (ties against the match) {k}->{l}: {part(r['kl'], r['kl_ties_for'])}; "
               f"{l}->{k}: {part(r['lk'], r['lk_ties_for'])}")


def _loss_line(loss: dict) -> str:
    return (f"loss: sum {fmt(loss['loss_sum'], 10)} over {loss['pairs']} pairs, mean per pair "
            f"{fmt(loss['loss_mean_pair'], 8)}, per item (big_vision, sum/N) {fmt(loss['loss_per_item'], 8)}")


def _logit_report(o: dict) -> None:
    e = click.echo
    forms = o["forms"]
    b_rel = (f"the embeddings' b_rel: min/max {forms['minmax']['b_rel']:.4f} (m {forms['minmax']['margin']:.4f}), "
             f"percentile {forms['percentile']['b_rel']:.4f} (m {forms['percentile']['margin']:.4f}), "
             f"mean {forms['mean']['b_rel']:.4f}")
    m = o.get("model")
    if m:
        e(f"  model t = {fmt(m['t'], 10)} (log t = {fmt(m['log_t'], 10)}), b = {fmt(m['b'], 10)}: threshold "
          f"-b/t = {m['threshold']:.6f}; {b_rel}")
        e(f"    positives below the threshold {m['positives_below']}/{m['positives']}, negatives above "
          f"{m['negatives_above']}/{m['negatives']}; {_loss_line(m['loss'])}")
    f = o.get("fit")
    if f:
        _fit_report(f, b_rel if not m else None)
    c = o.get("calibration")
    if c:
        _calibration_report(c)


def _fit_report(f: dict, b_rel: str | None) -> None:
    e = click.echo
    if f["loss"] is None:
        e(f"  best (t*, b*): {f['status']}: {f['message']}")
        if f["threshold"] is not None:
            e(f"    separating threshold {f['threshold']:.6f}" + (f"; {b_rel}" if b_rel else ""))
        return
    e(f"  best (t*, b*) [{f['status']}]: t* = {fmt(f['t'], 10)} (log t* = {fmt(f['log_t'], 10)}), "
      f"b* = {fmt(f['b'], 10)}, -b*/t* = {fmt(f['threshold'], 8)}" + (f"; {b_rel}" if b_rel else ""))
    e(f"    {_loss_line(f['loss'])}")
    e(f"    |gradient| {fmt(f['grad_norm'], 3)} (certificate), Newton decrement {fmt(f['decrement'], 3)}, "
      f"{f['iterations']} step(s), {f['passes']} exact pass(es) over all pairs; positives below -b*/t* "
      f"{f['positives_below']}, negatives above {f['negatives_above']}")


def _calibration_report(c: dict) -> None:
    e = click.echo
    where = "the given model" if c["source"] == "given" else "the fitted (t*, b*)"
    e(f"  calibration at {where}: ECE {c['ece']:.6f} over {c['total']} pairs "
      f"({c['bins']} equal bins of p = sigmoid(t<u,v> + b))")
    e(f"    {'p bin':<13} {'pairs':>12} {'matches':>10} {'mean p':>10} {'observed':>10}")
    for q in range(c["bins"]):
        lo, hi = c["edges"][q], c["edges"][q + 1]
        e(f"    [{lo:.3f},{hi:.3f}) {c['counts'][q]:>12} {c['positives'][q]:>10} {fmt(c['mean_predicted'][q], 4):>10} "
          f"{fmt(c['observed'][q], 4):>10}")

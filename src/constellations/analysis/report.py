r"""A self-contained HTML report of :func:`~.paired.analyze_pairs`: one page a person can read without the docs.

:func:`html_report` turns a :class:`~.paired.PairAnalysis` into the text of one HTML file: inline CSS, the
figures as inline base64 PNG (matplotlib, Agg, no pyplot state), no scripts, fonts or links to anything
outside the file, so it opens offline and can be mailed or archived as is.  The library returns the text;
the caller writes it (the CLI: ``constellations analyze ... --report FILE``, atomically).

The page shows, for the pairs (positives: matched, or same-label, pairs; negatives: the rest; every edge
pooled):

- the sizes (N items, d, M modalities, graph, pairs) and the raw row norms;
- the histograms of the positive and the negative inner products s = <u, v> (log counts, 200 bins on
  [-1, 1]) with vertical lines at b_rel +- m of the min/max form (min pos and max neg), of the percentile
  form (dashed), at the given model's threshold -b/t and at the fitted threshold -b*/t*;
- the margin forms (m is HALF the gap (pos - neg), b_rel the midpoint (pos + neg)/2);
- the given model (t, b) and the best (t*, b*) side by side: thresholds, pairs on the wrong side, the
  sigmoid loss in its three conventions, the fit's gradient norm (its certificate of optimality);
- the reliability diagram (mean predicted p against the observed match rate per bin, the diagonal, the
  pairs per bin) with its ECE, and its table;
- recall@K both ways per edge, top-1, xi, |mean(U) - mean(V)| and the modality-gap test (Theorem 3.6).

Every number is the analysis' float64 value, printed by :func:`number` (6 significant digits unless stated),
counts with thousands separators, rates as percentages; every inserted text is escaped (``html.escape``).
"""
from __future__ import annotations

import base64
import html
import io
import math

import numpy as np

__all__ = ["html_report", "number", "percent", "count"]

POS_COLOUR, NEG_COLOUR = "#0072B2", "#D55E00"  # blue and vermilion (Okabe-Ito: colour-blind safe)
LINES = {"minmax": ("#000000", "-"), "percentile": ("#555555", "--"), "model": ("#009E73", "-."),
         "fit": ("#CC79A7", ":")}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;font-size:16px;
line-height:1.45;color:#1b1b1b;background:#fff;margin:0}
main{max-width:1100px;margin:0 auto;padding:18px 24px 40px}
h1{font-size:1.6em;margin:0.2em 0 0.1em}h2{font-size:1.25em;margin:1.4em 0 0.4em;border-bottom:2px solid #ddd;
padding-bottom:0.15em}h3{font-size:1.05em;margin:1em 0 0.3em}
p{margin:0.35em 0}.sub{color:#444;font-size:1.05em;margin-bottom:0.8em}.note{color:#444;font-size:0.93em}
table{border-collapse:collapse;margin:0.4em 0 0.6em;font-size:0.95em}
th,td{border:1px solid #ccc;padding:3px 9px;text-align:right;vertical-align:top}
th{background:#f2f2f2}td.l,th.l{text-align:left}td.m{text-align:left;color:#444;font-size:0.93em;max-width:520px}
figure{margin:0.6em 0}figure img{width:100%;height:auto;border:1px solid #e4e4e4}
figcaption{color:#444;font-size:0.93em}.grid{display:grid;grid-template-columns:1fr 1fr;gap:18px;align-items:start}
.warn{color:#9a3412}.ok{color:#166534}code{font-size:0.95em}
@media (max-width:800px){.grid{grid-template-columns:1fr}}
"""


def number(x, digits: int = 6) -> str:
    """``x`` with ``digits`` significant digits (``f"{x:.6g}"``); None and NaN print as an en dash, +-inf as
    "inf" / "-inf"."""
    if x is None:
        return "\u2013"
    x = float(x)
    if math.isnan(x):
        return "\u2013"
    return f"{x:.{digits}g}"


def percent(x) -> str:
    """A rate in [0, 1] as a percentage with two decimals (``f"{100 x:.2f} %"``)."""
    return "\u2013" if x is None else f"{100.0 * float(x):.2f} %"


def count(n) -> str:
    """A count with thousands separators (``f"{n:,}"``)."""
    return "\u2013" if n is None else f"{int(n):,}"


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _table(header, rows, left=1) -> str:
    """An HTML table; the first ``left`` columns (or the columns of the set ``left``) are left-aligned, and a
    column named "meaning" is a note.  Cells are escaped here, so callers pass plain text."""
    lefts = set(range(left)) if isinstance(left, int) else set(left)
    cls = ["m" if h == "meaning" else ("l" if c in lefts else "") for c, h in enumerate(header)]
    out = ["<table><thead><tr>" + "".join(f'<th class="{"l" if k else ""}">{_e(h)}</th>'
                                          for h, k in zip(header, cls)) + "</tr></thead><tbody>"]
    for r in rows:
        out.append("<tr>" + "".join(f'<td class="{k}">{_e(v)}</td>' for v, k in zip(r, cls)) + "</tr>")
    return "".join(out) + "</tbody></table>"


def _png(fig) -> str:
    """The figure as a base64 PNG data URI."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(uri: str, alt: str, caption: str) -> str:
    return f'<figure><img src="{uri}" alt="{_e(alt)}"><figcaption>{_e(caption)}</figcaption></figure>'


def _threshold_lines(o: dict) -> list:
    """(value, label, key) of every vertical line of the histogram."""
    f, p = o["forms"], o["percentiles"]
    mm, pc = f["minmax"], f["percentile"]
    lines = [(mm["pos"], f"min positive = b_rel + m  ({number(mm['pos'], 4)})", "minmax"),
             (mm["neg"], f"max negative = b_rel \u2212 m  ({number(mm['neg'], 4)})", "minmax"),
             (pc["pos"], f"p{p[0]:g} of positives  ({number(pc['pos'], 4)})", "percentile"),
             (pc["neg"], f"p{p[1]:g} of negatives  ({number(pc['neg'], 4)})", "percentile")]
    if o.get("model"):
        lines.append((o["model"]["threshold"], f"given model \u2212b/t  ({number(o['model']['threshold'], 4)})",
                      "model"))
    fit = o.get("fit")
    if fit and fit.get("threshold") is not None:
        what = "best fit \u2212b*/t*" if fit.get("loss") else f"fit ({fit['status']}): midpoint"
        lines.append((fit["threshold"], f"{what}  ({number(fit['threshold'], 4)})", "fit"))
    return lines


def _histogram_figure(o: dict) -> str:
    """Overlaid log-count histograms of the positive and negative products with the threshold lines."""
    from matplotlib.figure import Figure

    h = o["histograms"]
    edges = np.linspace(h["lo"], h["hi"], h["bins"] + 1)
    pos, neg = np.asarray(h["positive"], float), np.asarray(h["negative"], float)
    lines = _threshold_lines(o)
    used = np.flatnonzero((pos + neg) > 0)
    xs = [edges[used[0]], edges[used[-1] + 1]] + [v for v, _, _ in lines] if used.size else [-1.0, 1.0]
    lo, hi = min(xs), max(xs)
    pad = 0.04 * (hi - lo) + 0.01
    fig = Figure(figsize=(10.5, 4.6))
    ax = fig.add_axes((0.075, 0.13, 0.56, 0.8))
    for vals, colour, name, n in ((neg, NEG_COLOUR, "negatives", o["counts"]["negative"]),
                                  (pos, POS_COLOUR, "positives", o["counts"]["positive"])):
        shown = np.where(vals > 0, vals, np.nan)
        ax.stairs(np.nan_to_num(shown, nan=0.5), edges, baseline=0.5, fill=True, color=colour, alpha=0.28)
        ax.stairs(np.nan_to_num(shown, nan=0.5), edges, baseline=0.5, color=colour, lw=1.4,
                  label=f"{name} ({n:,} pairs)")
    for v, label, key in lines:
        colour, style = LINES[key]
        off = not -1.0 <= v <= 1.0  # a threshold outside [-1, 1] cannot be drawn
        ax.axvline(min(max(v, -1.0), 1.0), color=colour, ls=style, lw=1.6, alpha=0 if off else 1,
                   label=label + (" \u2014 off the axis" if off else ""))
    ax.set_yscale("log")
    ax.set_ylim(0.5, max(pos.max(initial=1), neg.max(initial=1)) * 3)
    ax.set_xlim(max(lo - pad, -1.0), min(hi + pad, 1.0))
    ax.set_xlabel("inner product s = <u, v> of unit rows (bin width %g)" % ((h["hi"] - h["lo"]) / h["bins"]),
                  fontsize=11)
    ax.set_ylabel("pairs per bin (log scale)", fontsize=11)
    ax.tick_params(labelsize=10)
    ax.grid(True, which="major", alpha=0.25)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=10, frameon=False, borderaxespad=0)
    return _png(fig)


def _reliability_figure(c: dict) -> str:
    """Reliability diagram (observed match rate against mean predicted p per bin) over the pairs per bin."""
    from matplotlib.figure import Figure

    n = np.asarray(c["counts"], float)
    mp = np.array([np.nan if v is None else v for v in c["mean_predicted"]], float)
    ob = np.array([np.nan if v is None else v for v in c["observed"]], float)
    e = np.asarray(c["edges"], float)
    fig = Figure(figsize=(5.4, 5.6))
    ax = fig.add_axes((0.15, 0.38, 0.8, 0.54))
    ax2 = fig.add_axes((0.15, 0.09, 0.8, 0.18), sharex=ax)
    ax.plot([0, 1], [0, 1], color="#888888", ls="--", lw=1.2, label="perfect calibration")
    ax.bar(e[:-1], np.nan_to_num(ob), width=np.diff(e), align="edge", color=POS_COLOUR, alpha=0.18,
           edgecolor=POS_COLOUR, lw=0.6)
    ax.plot(mp, ob, "o-", color=POS_COLOUR, lw=1.6, ms=5, label="observed match rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("observed match rate", fontsize=11)
    ax.set_title(f"ECE = {number(c['ece'], 4)}", fontsize=12)
    ax.legend(loc="upper left", fontsize=9.5, frameon=False)
    ax.grid(True, alpha=0.25)
    ax2.bar(e[:-1], np.where(n > 0, n, np.nan), width=np.diff(e), align="edge", color="#777777", alpha=0.7)
    ax2.set_yscale("log")
    ax2.set_ylabel("pairs", fontsize=10)
    ax2.set_xlabel("predicted match probability p = \u03c3(t s + b)", fontsize=11)
    for a in (ax, ax2):
        a.tick_params(labelsize=9.5)
    return _png(fig)


def _title(o: dict, source: str) -> str:
    E = len(o["edges"])
    sub = (f"N = {count(o['n'])} items, d = {o['dim']}, M = {o['modalities']} modalities, graph {o['graph']} "
           f"({E} edge{'s' * (E != 1)}), {count(o['n_classes'])} classes; {count(o['counts']['positive'])} "
           f"positive and {count(o['counts']['negative'])} negative pairs")
    return (f"<h1>Paired-embedding analysis: {_e(source)}</h1><p class=\"sub\">{_e(sub)}</p>"
            "<p class=\"note\">Positives are the matched pairs (same index, or same label); negatives are all "
            "other cross-modal pairs; every ordered pair of every edge counts once and the edges are pooled. "
            "Rows are normalised first, so every inner product s lies in [\u22121, 1].</p>")


def _glance(o: dict) -> str:
    """The key numbers in a few sentences."""
    f, p = o["forms"], o["percentiles"]
    m = f["minmax"]["margin"]
    items = [f"min/max margin m = <b>{_e(number(m))}</b>: " + (
        "every positive beats every negative by 2m (a constellation)" if m > 0 else
        "some negative pair scores at least as high as some positive, so no threshold separates them all"),
        f"percentile margin (p{p[0]:g} / p{p[1]:g}) m = <b>{_e(number(f['percentile']['margin']))}</b>, "
        f"mean margin m = <b>{_e(number(f['mean']['margin']))}</b>"]
    ed = o["edges"][0]
    k, l = ed["edge"]
    items.append(f"top-1 retrieval on edge ({k}, {l}): <b>{_e(percent(ed['retrieval_kl']))}</b> ({k} \u2192 {l}), "
                 f"<b>{_e(percent(ed['retrieval_lk']))}</b> ({l} \u2192 {k})")
    md = o.get("model")
    if md:
        items.append(f"given model t = {_e(number(md['t']))}, b = {_e(number(md['b']))}: threshold \u2212b/t = "
                     f"<b>{_e(number(md['threshold']))}</b> (b_rel of the min/max form: "
                     f"{_e(number(f['minmax']['b_rel']))}); {_e(count(md['positives_below']))} of "
                     f"{_e(count(md['positives']))} positives below it, {_e(count(md['negatives_above']))} of "
                     f"{_e(count(md['negatives']))} negatives above it")
    ft = o.get("fit")
    if ft and ft.get("loss"):
        items.append(f"best fit t* = {_e(number(ft['t']))}, b* = {_e(number(ft['b']))}: threshold \u2212b*/t* = "
                     f"<b>{_e(number(ft['threshold']))}</b> ({_e(ft['status'])})")
    elif ft:
        items.append(f"best fit: <b>{_e(ft['status'])}</b> (no finite minimiser)")
    c = o.get("calibration")
    if c:
        items.append(f"ECE = <b>{_e(number(c['ece'], 4))}</b> at the "
                     + ("given model" if c["source"] == "given" else "fitted (t*, b*)"))
    return "<h2>At a glance</h2><ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _forms_section(o: dict) -> str:
    p = o["percentiles"]
    names = {"minmax": "min/max", "percentile": f"percentile (p{p[0]:g} / p{p[1]:g})", "mean": "mean"}
    rows = [[names[k], number(f["pos"]), number(f["neg"]), number(f["margin"]), number(2 * f["margin"]),
             number(f["b_rel"])] for k, f in o["forms"].items()]
    return ("<h2>Margins</h2>" + _table(["form", "pos", "neg", "m (half the gap)", "2m (the gap)", "b_rel"], rows)
            + "<p class=\"note\">m is HALF the gap between the positives and the negatives, m = (pos \u2212 neg)/2, "
            "and b_rel = (pos + neg)/2 is the midpoint, the inner product a perfect threshold would sit at. "
            "min/max: pos = the smallest positive, neg = the largest negative (m > 0 iff every positive beats "
            f"every negative: a constellation); percentile: pos = p{p[0]:g} of the positives, neg = p{p[1]:g} "
            "of the negatives; mean: the means.</p>")


def _loss_rows(m: dict | None, f: dict | None) -> list:
    def get(d, *keys):
        for k in keys:
            d = None if d is None else d.get(k)
        return d
    ml, fl = get(m, "loss"), get(f, "loss")
    return [
        ["loss: sum over all pairs", number(get(ml, "loss_sum"), 10), number(get(fl, "loss_sum"), 10),
         "sum of softplus(\u2212z) over positives and softplus(z) over negatives, z = t s + b"],
        ["loss: mean per pair", number(get(ml, "loss_mean_pair")), number(get(fl, "loss_mean_pair")),
         "the sum divided by the number of pairs (E N\u00b2)"],
        ["loss: per item (big_vision)", number(get(ml, "loss_per_item")), number(get(fl, "loss_per_item")),
         "the sum divided by N: SigLIP training logs at batch size N report this"]]


def _model_rows(m: dict | None, f: dict | None) -> list:
    def g(d, k, fmt=number):
        return "\u2013" if d is None else fmt(d.get(k))
    return [
        ["temperature t", g(m, "t"), g(f, "t"), "logits z = t s + b (open_clip: logit_scale.exp())"],
        ["log t", g(m, "log_t"), g(f, "log_t"), "open_clip's logit_scale"],
        ["bias b", g(m, "b"), g(f, "b"), "open_clip's logit_bias"],
        ["threshold \u2212b/t", g(m, "threshold"), g(f, "threshold"),
         "the inner product where p = 1/2: the model calls pairs above it matches; compare with b_rel"],
        ["positives below the threshold", g(m, "positives_below", count), g(f, "positives_below", count),
         "matches the model rejects (exact count)"],
        ["negatives above the threshold", g(m, "negatives_above", count), g(f, "negatives_above", count),
         "non-matches the model accepts (exact count)"]] + _loss_rows(m, f)


def _model_section(o: dict) -> str:
    m, f = o.get("model"), o.get("fit")
    if m is None and f is None:
        return "<h2>SigLIP model</h2><p class=\"note\">No model given (--t/--bias) and no fit asked.</p>"
    out = ["<h2>SigLIP model: the given (t, b) and the best (t*, b*)</h2>"]
    out.append(_table(["quantity", "given model", "best fit (t*, b*)", "meaning"], _model_rows(m, f)))
    if f is not None:
        cls = "ok" if f["status"] == "converged" else "warn"
        out.append(f"<p>Fit: <b class=\"{cls}\">{_e(f['status'])}</b>. {_e(f['message'])}</p>")
        if f.get("loss") is not None:
            out.append(_table(["certificate", "value", "meaning"], [
                ["|gradient| at (t*, b*)", number(f["grad_norm"], 3),
                 "norm of (dL/dt, dL/db) of the summed loss; ~0 certifies the minimum (the loss is convex)"],
                ["Newton decrement", number(f["decrement"], 3), "about L(t*, b*) \u2212 min L"],
                ["Newton steps / passes", f"{f['iterations']} / {f['passes']}",
                 "exact passes over all pairs, each one evaluation of the loss"]]))
        elif f.get("separating_interval"):
            a, b = f["separating_interval"]
            out.append(f"<p class=\"note\">Every positive is at least every negative: any threshold in "
                       f"[{_e(number(a))}, {_e(number(b))}] separates them, and the loss has no minimum at "
                       "finite t.</p>")
    return "".join(out)


def _calibration_section(o: dict) -> str:
    c = o.get("calibration")
    if c is None:
        return ("<h2>Calibration</h2><p class=\"note\">No reliability table: it needs a model (--t/--bias) or a "
                "fit with a minimum.</p>")
    where = "the given model" if c["source"] == "given" else "the fitted (t*, b*)"
    rows = [[f"[{c['edges'][q]:.3g}, {c['edges'][q + 1]:.3g}" + ("]" if q == c["bins"] - 1 else ")"),
             count(c["counts"][q]), count(c["positives"][q]), number(c["mean_predicted"][q], 4),
             number(c["observed"][q], 4)] for q in range(c["bins"])]
    fig = _figure(_reliability_figure(c), "reliability diagram",
                  "Top: each dot is one bin of predicted p: its mean p (x) and the fraction of its pairs that "
                  "are matches (y); on the dashed diagonal the model is calibrated. Bottom: pairs per bin.")
    table = _table(["p bin", "pairs", "matches", "mean p", "observed"], rows)
    note = (f"<p>ECE = <b>{_e(number(c['ece'], 4))}</b> over {_e(count(c['total']))} pairs, at {_e(where)} "
            f"(t = {_e(number(c['t']))}, b = {_e(number(c['b']))}).</p><p class=\"note\">The expected "
            "calibration error is the pair-weighted mean of |observed \u2212 mean p| over the bins: 0 means the "
            "predicted match probabilities are right on average in every bin. With N matches among N\u00b2 pairs "
            "nearly all pairs sit in the lowest bin, so the ECE can be small while the upper bins are far off: "
            "read the diagram too.</p>")
    return f"<h2>Calibration</h2><div class=\"grid\"><div>{fig}</div><div>{note}{table}</div></div>"


def _retrieval_section(o: dict) -> str:
    ks = o.get("recall_k") or []
    header = ["edge", "queries \u2192 gallery", "top-1"] + [f"R@{k}" for k in ks]
    rows = []
    for ed in o["edges"]:
        k, l = ed["edge"]
        r = ed.get("recall") or {}
        for (a, b), top, vals in (((k, l), ed["retrieval_kl"], r.get("kl")), ((l, k), ed["retrieval_lk"], r.get("lk"))):
            rows.append([f"({k}, {l})", f"modality {a} \u2192 modality {b}", percent(top)]
                        + [percent(v) for v in (vals or [None] * len(ks))])
    return ("<h2>Retrieval</h2>" + _table(header, rows, left=2)
            + "<p class=\"note\">Recall@K: the share of queries whose match is among the K highest inner "
            "products of the other modality (ties count against the match); top-1 breaks ties by the first "
            "index.</p>")


def _gap_text(g: dict | None, n: int) -> str:
    if g is None:
        return "not run (--no-gap)"
    if not g["found"]:
        text = "no direction h has <h, U_i> > 0 for every U_i"
    else:
        text = f"h with <h, U_i> > 0 for all i puts {g['n_negative']:,} of {n:,} V_j on its negative side" + (
            ": linearly separable (a modality gap)" if g["separable"] else "")
    if g.get("sample"):
        text += f" (LPs on a random subset of {g['sample']:,} items)"
    if g["hypotheses"]:
        text += f"; Theorem 3.6 applies and guarantees >= {g['guarantee']:,}"
    return text


def _edges_section(o: dict) -> str:
    rows = [[f"({ed['edge'][0]}, {ed['edge'][1]})", number(ed["margin_minmax"]), number(ed["b_rel_minmax"]),
             number(ed["xi"]), number(ed["mean_diff_norm"]), _gap_text(ed["gap"], o["n"])] for ed in o["edges"]]
    norms = [[f"modality {k}", number(lo), number(mean), number(hi), number(o["mean_norms"][k])]
             for k, (lo, mean, hi) in o["norms"].items()]
    return ("<h2>Per edge: modality gap and \u03be</h2>"
            + _table(["edge (U, V)", "min/max m", "b_rel", "\u03be", "|mean U \u2212 mean V|", "modality gap"],
                     rows, left=(0, 5))
            + "<p class=\"note\">\u03be = mean |x_i \u2212 mean x|\u00b2 with x_i = U_i \u2212 V_i: 0 iff every "
            "pair differs by the same vector. Modality gap (Theorem 3.6): a direction h with every U_i on its "
            "positive side, and how many V_j fall on its negative side.</p>"
            + "<h3>Raw row norms (before normalising)</h3>"
            + _table(["modality", "min", "mean", "max", "|mean of unit rows|"], norms))


def _footer(o: dict) -> str:
    return (f"<p class=\"note\">Computed in float64 (exact order statistics, recall and counts); sweep on "
            f"{_e(o['device'])}, {_e(o['sweeps'])} sweep(s), float error bound {_e(number(o['epsilon'], 3))} "
            f"per product; {_e(number(o['seconds'], 3))} s. Made by <code>constellations analyze</code>.</p>")


def html_report(result, source: str = "embeddings") -> str:
    """The text of a self-contained HTML page reporting ``result`` (see the module docstring).

    Parameters
    ----------
    result : :class:`~.paired.PairAnalysis` or its ``to_dict()``
    source : str
        The input's name, shown in the title (escaped).

    Returns
    -------
    str
        One HTML document: inline CSS and base64 PNG figures, no scripts and no external references.
    """
    o = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    hist = ""
    if o.get("histograms"):
        hist = ("<h2>Inner products of positives and negatives</h2>"
                + _figure(_histogram_figure(o), "histograms of positive and negative inner products",
                          "Pairs per bin of s, log scale, all edges pooled. Solid black: the smallest positive "
                          "and the largest negative (their distance is 2m of the min/max form; they cross when "
                          "m < 0); dashed grey: the percentile form; green dash-dot: the given model's threshold "
                          "\u2212b/t; pink dotted: the fitted threshold \u2212b*/t*."))
    body = [_title(o, source), _glance(o), hist, _forms_section(o), _model_section(o), _calibration_section(o),
            _retrieval_section(o), _edges_section(o), _footer(o)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e('constellations analyze: ' + str(source))}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(body)}</main></body></html>\n")

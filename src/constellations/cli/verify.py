"""``constellations verify``: margin, certified margin, worst pairs and retrieval of a file."""
from __future__ import annotations

import contextlib
import json
import sys
import time

import click

from constellations import io
from constellations.core.certify import certified_margin, check_claim, exact_text
from constellations.core.errors import ConfigurationError
from constellations.core.exact import to_exact
from constellations.core.margins import margin_stats, retrieval_accuracy

from constellations.cli.output import INTEGER, emit_json, fmt, output_option

#: Exit statuses (also in the --help text).
EXIT_YES, EXIT_NO, EXIT_UNDECIDED = 0, 1, 3

#: Passes with more multiply-adds than this (edges x N^2 x d) show a progress bar on a terminal.
PROGRESS_WORK = 10 ** 9

#: Longest exact expression printed in the human report (the JSON always has it).
_EXPR_WIDTH = 60


@click.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--graph", default=None, help="complete, star, or edges like 0-1,1-2 (default: the file's, else complete).")
@click.option("--margin", "claim_m", default=None, metavar="NUMBER", callback=lambda c, p, v: _exact_number(p, v),
              help="Claimed margin m (half gap) to check, read exactly: 0.25, 1/4, (3-sqrt(5))/8.")
@click.option("--b-rel", "claim_b", default=None, metavar="NUMBER", callback=lambda c, p, v: _exact_number(p, v),
              help="Claimed b_rel to check (with --margin), read exactly like --margin.")
@click.option("--normalize", is_flag=True, help="Rescale rows to unit norm instead of refusing non-unit rows.")
@click.option("--dim", type=INTEGER, default=None,
              help="Dimension d of a text file with one number per line (Sloane's layout; else read from a name "
                   "NAME.D.N.txt such as pack.3.150.txt); checked against any other file.")
@click.option("--exact", is_flag=True, help="Certify (and check a claim) in exact rational arithmetic (slow; small N only).")
@click.option("--retrieval/--no-retrieval", default=True, show_default=True, help="Compute top-1 retrieval accuracy.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@output_option(".json", help="Also write the JSON report to this .json file (atomically).")
def command(file, graph, claim_m, claim_b, normalize, dim, exact, retrieval, as_json, output):
    """Verify FILE (.npz with X of shape (M, N, d), or U and V of shape (N, d); or a text file
    .txt/.dat/.csv holding one spherical code, one point per line, used tied).

    Reports pos (min matched inner product), neg (max non-matched), the margin
    m = (pos - neg)/2 (half the gap), b_rel = (pos + neg)/2, a certified lower bound on m
    that accounts for every floating-point rounding, the worst pairs and the retrieval
    accuracy.  With --exact the margin is also given as an exact expression (e.g. 1/4).

    --margin and --b-rel are read exactly by the strict grammar of `bounds` (docs/math.md 6.4):
    decimals (0.26 is 13/50), p/q, sqrt(k), a + b*sqrt(k), (a + b*sqrt(k))/q.

    \b
    Exit status (about the claim when --margin/--b-rel are given, else about FILE):
      0  FILE is a constellation (certified margin >= 0) / the claim provably holds
      1  FILE is provably not a constellation / the claim is provably false
      2  bad input (unreadable file, NaN, wrong shapes, bad options)
      3  not decidable in float64: the answer is within rounding error; rerun with --exact

    A text file is read as the code tables write it: numbers separated by whitespace or commas, '#'
    comments, an optional index column and header line (Lai et al.'s 'N D theta', whose stated
    distance is compared with the certified margin), or Sloane's one number per line (--dim or a
    name pack.D.N.txt).  The report adds the code's largest inner product c = 1 - 2m, its smallest
    distance 2 sqrt(m) and angle, and how far the rows were from unit norm.
    """
    if (claim_m is None) != (claim_b is None):
        raise click.UsageError("--margin and --b-rel go together")
    t0 = time.perf_counter()
    cfg = io.load(file, normalize=normalize, graph=graph, dim=dim)
    with _progress(cfg, "margins", exact) as tick:
        cert = certified_margin(cfg, exact=exact, progress=tick)
        s = cert.stats or margin_stats(cfg, progress=tick)
    claim = check_claim(cfg, claim_m, claim_b, exact=exact) if claim_m is not None else None
    is_const = True if cert.is_constellation else (False if cert.is_not_constellation else None)
    out = {
        "file": file, "modalities": cfg.M, "n": cfg.N, "dim": cfg.d, "graph": cfg.graph.spec,
        "margin": s.margin, "b_rel": s.b_rel, "margin_certified": cert.margin_certified,
        "margin_certified_upper": cert.margin_cert_upper,
        "certification": cert.method, "pos_min": s.pos, "neg_max": s.neg,
        "gap": s.pos - s.neg, "is_constellation": is_const,
        "worst_matched": dict(zip(("k", "l", "i"), s.worst_pos)),
        "worst_non_matched": dict(zip(("k", "l", "i", "j"), s.worst_neg)),
        "per_edge": [{"edge": list(e.edge), "margin": e.margin, "b_rel": e.b_rel, "pos": e.pos, "neg": e.neg}
                     for e in s.per_edge],
    }
    if exact:  # the floats nearest the exact values, and those values as text
        out["margin"], out["b_rel"] = cert.margin, cert.b_rel
        out["margin_exact"] = out["margin_expression"] = cert.margin_exact
        out["b_rel_exact"] = out["b_rel_expression"] = cert.b_rel_exact
    if cfg.meta.get("format") == "text":
        out["code"] = _code_json(cfg.meta, s.margin, cert.margin_certified)
    if retrieval:
        with _progress(cfg, "retrieval", False) as tick:
            acc = retrieval_accuracy(cfg, progress=tick)
        out["retrieval_top1"] = {f"{a}->{b}": v for (a, b), v in acc.items()}
    if claim is not None:
        out["claim"] = _claim_json(claim)
        code = EXIT_YES if claim.holds else (EXIT_NO if claim.refuted else EXIT_UNDECIDED)
    else:
        code = EXIT_YES if is_const else (EXIT_NO if is_const is False else EXIT_UNDECIDED)
    out["exit_status"] = code
    out["seconds"] = time.perf_counter() - t0
    if output is not None:
        io.atomic_write_text(output, json.dumps(io.to_jsonable(out), indent=2) + "\n")
    if as_json:
        emit_json(out)
    else:
        _report(out)
    return code


def _exact_number(param, text):
    """A claimed number typed by the user, read exactly (:func:`constellations.core.exact.to_exact`)."""
    if text is None:
        return None
    flag = "--margin" if param.name == "claim_m" else "--b-rel"
    if text.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise ConfigurationError(f"{flag} must be a finite number, got {text!r}")
    return to_exact(text, flag)


def _code_json(meta: dict, margin: float, margin_certified: float) -> dict:
    """The spherical code read from a text file: its layout, its rows' distance from unit norm, its
    geometry (:func:`constellations.io.coordinates.code_geometry`) and what its header states."""
    stated = meta.get("stated")
    return {"layout": meta.get("layout"), "header": meta.get("header"),
            "max_norm_deviation": meta.get("max_norm_deviation"), "normalized": meta.get("normalized"),
            **io.code_geometry(margin, margin_certified, stated), "stated": stated}


def _claim_json(claim) -> dict:
    """The claim part of the report: floats, and the exact values as text (``"1/4"``)."""
    v = claim.violation
    return {"margin": float(claim.margin), "b_rel": float(claim.b_rel), "margin_exact": exact_text(claim.margin),
            "b_rel_exact": exact_text(claim.b_rel), "holds": claim.holds, "decided": claim.decided,
            "violation": None if v is None else {
                "kind": v.kind, "edge": list(v.edge), "items": list(v.items), "value": v.value,
                "required": v.required, "value_exact": v.value_exact, "required_exact": v.required_exact,
                "certainly_false": v.certain}}


@contextlib.contextmanager
def _progress(cfg, label: str, exact: bool):
    """A progress bar on stderr (a terminal only) for passes of edges x N^2 x d above PROGRESS_WORK."""
    rows = len(cfg.graph.edges) * cfg.N
    if exact or rows * cfg.N * cfg.d < PROGRESS_WORK or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=rows, label=f"  {label}", file=sys.stderr) as bar:
        yield bar.update


def _report(o: dict) -> None:
    e = click.echo
    e(f"{o['file']}: M={o['modalities']} modalities, N={o['n']} items, d={o['dim']}, graph {o['graph']}")
    e(f"  margin m (half gap)   {fmt(o['margin'])}   [gap 2m = {fmt(o['gap'])}]")
    e(f"  b_rel                 {fmt(o['b_rel'])}")
    for key, label in (("margin_expression", "exact margin m"), ("b_rel_expression", "exact b_rel")):
        if key in o:
            x = o[key]
            shown = x if len(x) <= _EXPR_WIDTH else f"{len(x)}-character expression (see --json)"
            e(f"  {label:<21} {shown}")
    e(f"  certified margin      {o['margin_certified']!r} <= m <= {o['margin_certified_upper']!r}   "
      f"({o['certification']})")
    e(f"  pos (min matched)     {fmt(o['pos_min'])}   at edge ({o['worst_matched']['k']},{o['worst_matched']['l']}) "
      f"item {o['worst_matched']['i']}")
    w = o["worst_non_matched"]
    e(f"  neg (max non-matched) {fmt(o['neg_max'])}   at edge ({w['k']},{w['l']}) pair ({w['i']},{w['j']})")
    if "code" in o:
        _report_code(o["code"])
    if len(o["per_edge"]) > 1:
        for pe in o["per_edge"]:
            e(f"    edge {tuple(pe['edge'])}: m={fmt(pe['margin'])} b_rel={fmt(pe['b_rel'])}")
    if "retrieval_top1" in o:
        e("  retrieval top-1       " + ", ".join(f"{k}: {v:.4f}" for k, v in o["retrieval_top1"].items()))
    if "claim" in o:
        c = o["claim"]
        head = f"  claim (m={_short(c['margin_exact'], c['margin'])}, b_rel={_short(c['b_rel_exact'], c['b_rel'])}):"
        if c["holds"]:
            e(f"{head} HOLDS (certified)")
        else:
            v = c["violation"]
            need = ">=" if v["kind"] == "matched" else "<="
            lhs, rhs = _short(v["value_exact"], v["value"]), _short(v["required_exact"], v["required"])
            where = f"at {v['kind']} edge {tuple(v['edge'])} items {tuple(v['items'])}: {lhs} is not {need} {rhs}"
            if v["certainly_false"]:
                e(f"{head} FAILS (certainly) {where}")
            else:
                e(f"{head} NOT PROVABLE in float64 (within rounding) {where}; use --exact")
    if o["is_constellation"] is True:
        e("  => a constellation (certified margin >= 0)")
    elif o["is_constellation"] is False:
        e("  => NOT a constellation (certified margin < 0)")
    else:
        e("  => undecided in float64: the margin is within rounding of 0; use --exact")


def _report_code(c: dict) -> None:
    """The text file's code: layout, unit norms, smallest distance and angle, the header's statement."""
    e = click.echo
    rows = "normalised" if c["normalized"] else "used as written"
    e(f"  text file             {c['layout']}{', header ' + c['header'] if c['header'] else ''}; rows within "
      f"{c['max_norm_deviation']:.2g} of unit norm ({rows})")
    e(f"  as a code             c = {fmt(c['max_inner_product'])}, min distance {fmt(c['min_distance'])} "
      f"(certified >= {c['min_distance_certified']!r}), min angle {fmt(c['min_angle_degrees'])} degrees")
    st = c["stated"]
    if st:
        verdict = "agrees" if c["agrees_with_stated"] else "DISAGREES"
        e(f"  stated by the file    min distance {st['min_distance']!r}, angle {st['min_angle_degrees']!r} degrees: "
          f"m = D^2/4 = {fmt(st['margin'])} +- {st['margin_uncertainty']:.2g} ({verdict})")


def _short(text, value: float) -> str:
    """An exact value as text when it fits on a line, else the float (all 17 digits) and a pointer to --json."""
    if text is None:
        return repr(value)
    return text if len(text) <= _EXPR_WIDTH else f"{value!r} (exact: {len(text)} characters, see --json)"

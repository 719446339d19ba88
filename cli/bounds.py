"""``constellations bounds``: certified bounds on margins, dimensions and spherical codes."""
from __future__ import annotations

import math

import click

from .output import emit_json, fmt


def _inf_to_none(v):
    return None if isinstance(v, float) and math.isinf(v) else v


def _describe(b) -> str:
    c = b.certificate or {}
    t = c.get("type")
    if t == "sandwich" and "conclusion" in c:
        return c["conclusion"]
    if t == "theorem-3.4":
        return f"Theorem 3.4: m <= {c.get('formula')} = {c.get('value')}"
    if t == "construction":
        extra = f", closed form {c['closed_form_margin']}" if "closed_form_margin" in c else ""
        seed = f" seed {c['seed']}" if "seed" in c else ""
        return (f"{c['construction']}{seed} in R^{c['d']} ({c['points_used']} points), certified float64 "
                f"margin {fmt(c['margin_cert'], 17)}{extra}")
    if t == "trivial":
        return c.get("note", "")
    return ""


@click.command("bounds")
@click.option("--n", "n", type=int, default=None, help="Number of items N (constellation bounds).")
@click.option("--dim", "dim", type=int, default=None,
              help="Dimension d (with --n), or the code dimension n (with --codes).")
@click.option("--margin", "margin", default=None,
              help="Margin m (half the gap), 0 < m <= 1: report dim_lower and dim_upper (with --n).")
@click.option("--b-rel", "b_rel", default=None, help="Fixed relative bias b_rel in [-1, 1] (with --n --dim).")
@click.option("--codes", is_flag=True, help="Bounds on A(n, s), spherical codes (with --dim and --max-ip).")
@click.option("--max-ip", "max_ip", default=None,
              help="Max inner product s in [-1, 1) for --codes; accepts 0.5, 1/2 or 1/sqrt(5).")
@click.option("--method", type=click.Choice(["levenshtein", "delsarte"]), default="levenshtein", show_default=True,
              help="Code bound used by the sandwich of docs/math.md 5.2 (delsarte: tighter, about 100x slower).")
@click.option("--sdp", is_flag=True, help="Also solve the dimension-free SDP (numerical; with --n).")
@click.option("--modalities", type=int, default=2, show_default=True, help="M for --sdp.")
@click.option("--graph", default=None, help="Graph for --sdp: complete, star or 0-1,1-2.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(n, dim, margin, b_rel, codes, max_ip, method, sdp, modalities, graph, as_json):
    """Certified bounds.

    \b
      --n N --dim D [--b-rel b]   margin_upper and margin_lower of N-item constellations in R^D
      --n N --margin m            dim_lower and dim_upper for margin m
      --codes --dim n --max-ip s  bounds on A(n, s) (Rankin, Levenshtein, Delsarte LP)

    Margins are m, HALF the gap.  Upper bounds are certified in exact arithmetic (Theorem 3.4;
    the sandwich m*(N, d) <= (1 - c*(N, d+1))/2 with a certified Levenshtein or Delsarte bound on
    A(d+1, 1-2m)); lower bounds are explicit constructions with a certified margin.
    """
    from constellations.solvers import bounds as B

    if codes:
        if dim is None or max_ip is None:
            raise click.UsageError("--codes needs --dim and --max-ip")
        if n is not None or margin is not None or b_rel is not None:
            raise click.UsageError("--codes takes only --dim and --max-ip")
        lev = B.levenshtein_bound(dim, max_ip)
        lp = B.delsarte_lp_bound(dim, max_ip)
        rank = B.rankin_bound(dim, max_ip)
        res = [("rankin", rank), ("levenshtein", lev), ("delsarte-lp", lp)]
        best = min((b for _, b in res), key=lambda b: b.value)
        if as_json:
            emit_json({"dim": dim, "max_ip": str(max_ip), "best": _inf_to_none(best.value), "best_method": best.method,
                       "bounds": {name: b.to_dict() for name, b in res}})
        else:
            click.echo(f"A({dim}, {max_ip}): upper bounds on the size of a code on S^{dim - 1} "
                       f"with max inner product <= {max_ip}")
            for name, b in res:
                if isinstance(b.value, float) and math.isinf(b.value):
                    click.echo(f"  {name:12s} -  ({b.details.get('note', b.method)})")
                else:
                    deg = f", degree {b.details['degree']}" if "degree" in b.details else ""
                    click.echo(f"  {name:12s} {b.value}  (real value {fmt(b.details.get('real'))}{deg}, certified)")
            click.echo(f"  best         {best.value}  ({best.method})")
        return 0

    if n is None:
        raise click.UsageError("give --n N with --dim D or --margin m, or --codes --dim n --max-ip s")
    if (dim is None) == (margin is None):
        raise click.UsageError("give exactly one of --dim (margin bounds) or --margin (dimension bounds)")
    if margin is not None:
        if b_rel is not None:
            raise click.UsageError("--b-rel goes with --dim")
        lo = B.dim_lower(n, margin, method=method)
        hi = B.dim_upper(n, margin)
        if as_json:
            emit_json({"n": n, "margin": str(margin),
                       "dim_lower": _inf_to_none(lo.value), "dim_lower_method": lo.method,
                       "dim_lower_certificate": lo.certificate,
                       "dim_upper": _inf_to_none(hi.value), "dim_upper_method": hi.method,
                       "dim_upper_certificate": hi.certificate})
        else:
            click.echo(f"N = {n}, margin m = {margin} (half the gap)")
            click.echo(f"  dim_lower  {lo.value if not math.isinf(lo.value) else 'none (no dimension works)'}"
                       f"  [{lo.method}]  {_describe(lo)}")
            click.echo(f"  dim_upper  {hi.value if not math.isinf(hi.value) else 'unknown'}"
                       f"  [{hi.method}]  {_describe(hi)}")
        return 0

    up = B.margin_upper(n, dim, b_rel=b_rel, method=method)
    lo = B.margin_lower(n, dim)
    out = {"n": n, "dim": dim, "b_rel": None if b_rel is None else str(b_rel),
           "margin_upper": up.value, "margin_upper_method": up.method, "margin_upper_certificate": up.certificate,
           "margin_lower": lo.value, "margin_lower_method": lo.method, "margin_lower_certificate": lo.certificate,
           "ratio": (lo.value / up.value) if up.value > 0 else None}
    if b_rel is not None:
        out["margin_lower_note"] = "margin_lower is for free b_rel (constructions are not constrained to the given b_rel)"
    if sdp:
        s = B.sdp_bound(n, modalities, graph, None if b_rel is None else float(B.to_exact(b_rel, "b_rel")))
        out["sdp"] = {"value": s.value, "b_rel": s.details["b_rel"], "modalities": modalities,
                      "edges": s.details["edges"], "certified": False, "status": s.details["status"]}
    if as_json:
        emit_json(out)
    else:
        bt = "" if b_rel is None else f", b_rel = {b_rel}"
        click.echo(f"N = {n}, d = {dim}{bt}   (m = half the gap)")
        click.echo(f"  margin_upper  {fmt(up.value)}  [{up.method}]  {_describe(up)}")
        click.echo(f"  margin_lower  {fmt(lo.value)}  [{lo.method}]  {_describe(lo)}")
        if out["ratio"] is not None:
            click.echo(f"  lower/upper   {fmt(out['ratio'], 4)}")
        if b_rel is not None:
            click.echo("  (margin_lower is for free b_rel)")
        if sdp:
            click.echo(f"  sdp           {fmt(out['sdp']['value'], 9)}  (numerical, M = {modalities}, any dimension)")
    return 0

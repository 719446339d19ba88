"""``constellations bounds``: certified bounds on margins, dimensions and spherical codes."""
from __future__ import annotations

import math

import click
from click.core import ParameterSource

from constellations.bounds.report import code_report, dimension_report, tied_report
from constellations.tables.lower import free_bounds

from constellations.cli.output import INTEGER, emit_json, fmt

SIZE = INTEGER  # sizes: whole numbers, 1e4 accepted (src/constellations/cli/output.py)


def _describe(b) -> str:
    c = b.certificate or {}
    t = c.get("type")
    if t == "sandwich" and "conclusion" in c:
        return c["conclusion"]
    if t == "theorem-3.4":
        tail = f" < m = {c['m']}" if "m" in c else ""
        return f"Theorem 3.4: m <= {c.get('formula', 'N/(2(N-1))')} = {c.get('value')}{tail}"
    if t == "construction":
        extra = f", closed form {c['closed_form_margin']}" if "closed_form_margin" in c else ""
        seed = f" seed {c['seed']}" if "seed" in c else ""
        own = f" (built in R^{c['construction_dim']})" if "construction_dim" in c else ""
        how = c.get("certify_method", "")
        how = "certified float64" if how.startswith("float64") else f"certified ({how})"
        if "recipe" in c:  # a catalogue code: its recipe says how to rebuild it and how c was proved
            return f"{c['recipe']} ({c['certify_method']})"
        return (f"{c['construction']}{seed} in R^{c['d']}{own} ({c['points_used']} points), {how} "
                f"margin {fmt(c['margin_cert'], 17)}{extra}")
    if t in ("shell", "shells", "polygon", "tied-code-bound") and "conclusion" in c:
        return c["conclusion"]
    if t == "shell-d1":
        return c.get("proof", "")
    if t == "free-optimum":
        return f"{b.details.get('theorem', '')}: {c.get('conclusion', '')}"
    if t == "trivial":
        return c.get("note", "")
    return ""


def _explicit(ctx, *names):
    """The options among ``names`` given on the command line (not defaults)."""
    return [n for n in names if ctx.get_parameter_source(n) not in (ParameterSource.DEFAULT, None)]


def _refuse(ctx, names, why):
    given = _explicit(ctx, *names)
    if given:
        flags = ", ".join("--" + g.replace("_", "-") for g in given)
        raise click.UsageError(f"{flags} {'is' if len(given) == 1 else 'are'} not used {why}")


@click.command("bounds")
@click.option("--n", "n", type=SIZE, default=None, help="Number of items N (constellation bounds); 1e3 is accepted.")
@click.option("--dim", "dim", type=SIZE, default=None,
              help="Dimension d (with --n), or the code dimension n (with --codes).")
@click.option("--margin", "margin", default=None,
              help="Margin m (half the gap), 0 < m <= 1: report dim_lower and dim_upper (with --n).")
@click.option("--b-rel", "b_rel", default=None, help="Fixed relative bias b_rel in [-1, 1] (with --n --dim).")
@click.option("--codes", is_flag=True, help="Bounds on A(n, s), spherical codes (with --dim and --max-ip).")
@click.option("--max-ip", "max_ip", default=None,
              help="Max inner product s in [-1, 1) for --codes; accepts 0.5, 1/2, 1/sqrt(5), (1+sqrt(5))/4.")
@click.option("--method", type=click.Choice(["levenshtein", "delsarte"]), default="levenshtein", show_default=True,
              help="Code bound used by the sandwich of docs/math.md 5.2 (delsarte: tighter, about 100x slower: ~40 s at N = 5000).")
@click.option("--tied", is_flag=True,
              help="Ceiling for tied constellations (spherical codes) in their own dimension (with --n --dim).")
@click.option("--three-point", "three_point", is_flag=True,
              help="With --codes: also the Bachoc-Vallentin three-point SDP (numerical, 3 <= n <= 24, ~10 s).")
@click.option("--sdp", is_flag=True, help="Also solve the dimension-free SDP (numerical; with --n --dim; M*N <= 64).")
@click.option("-M", "--modalities", "modalities", type=int, default=2, show_default=True, help="M for --sdp.")
@click.option("--graph", default=None, help="Graph for --sdp: complete, star or 0-1,1-2.")
@click.option("--store", "store", type=click.Path(exists=True, dir_okay=False), default=None, metavar="FILE",
              help="With --n --dim: also try every cell of this table store with N' >= N and d' <= d "
                   "(each re-certified, never trusted) for margin_lower.")
@click.option("--search", "search_seconds", type=float, default=None, metavar="SECONDS",
              help="With --n --dim: also run one free search (M = 2) for this many seconds for margin_lower "
                   "(certified).")
@click.option("--seed", type=click.IntRange(0, None), default=0, show_default=True, help="Seed of --search.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def command(ctx, n, dim, margin, b_rel, codes, max_ip, method, tied, three_point, sdp, modalities, graph, store,
            search_seconds, seed, as_json):
    """Certified bounds.

    \b
      --n N --dim D [--b-rel b]   margin_upper and margin_lower of N-item constellations in R^D
      --n N --dim D --tied        the same for tied constellations (codes), bounded in R^D itself
      --n N --margin m            dim_lower and dim_upper for margin m
      --codes --dim n --max-ip s  bounds on A(n, s) (Rankin, Levenshtein, Delsarte LP)

    Margins are m, HALF the gap.  Upper bounds are certified in exact arithmetic: the free ceiling
    is the smallest of Theorem 3.4, the sandwich m*(N, d) <= (1 - c*(N, d+1))/2 (a certified
    Levenshtein or Delsarte bound on A(d+1, 1-2m), kept as margin_upper_sandwich) and the shell
    bounds on codes in R^d itself (src/constellations/bounds/shell.py).  Lower bounds are the best of the
    constructions and the catalogue, the cells of --store and a --search run, each with a certified
    margin.  Above N = 5000 only the catalogue and the bounds that certify quickly are used; what is
    skipped is said (margin_upper_skipped).  "optimal: proved" needs a theorem that gives the
    optimum (Rankin, Levenshtein sharp, the polygon, Theorem 3.4, d = 1, Corollary 5.4) and a
    construction whose margin reaches it exactly, with no tolerance (src/constellations/bounds/optimality.py).

    Numbers (--margin, --b-rel, --max-ip) are read exactly by a strict grammar: decimals (0.4 is
    2/5), p/q, sqrt(k), a + b*sqrt(k), (a + b*sqrt(k))/q.  Limits, refused up front: N <= 5000
    for --margin, --tied, --b-rel, --store and --search; Levenshtein degree <= 400 (margins not too
    close to 0), M*N <= 64 for --sdp.
    """
    _check_options(ctx, n, dim, margin, b_rel, codes, max_ip, tied, three_point, sdp, search_seconds)
    if codes:
        return _codes(code_report(dim, max_ip, three_point), max_ip, as_json)
    if margin is not None:
        return _dimensions(dimension_report(n, margin, method), margin, as_json)
    if tied:
        return _tied(tied_report(n, dim, method), as_json)
    report = free_bounds(n, dim, b_rel=b_rel, method=method, store=store, search_seconds=search_seconds, seed=seed,
                         sdp_modalities=modalities if sdp else None, sdp_graph=graph)
    out = report.to_dict()
    if as_json:
        emit_json(out)
    else:
        _free_text(n, dim, b_rel, report.upper, report.lower, out)
    return 0


def _check_options(ctx, n, dim, margin, b_rel, codes, max_ip, tied, three_point, sdp, search_seconds) -> None:
    """Refuse a combination of options that does not go together (a UsageError naming them)."""
    if not sdp:
        _refuse(ctx, ("modalities", "graph"), "without --sdp")
    if search_seconds is None:
        _refuse(ctx, ("seed",), "without --search")
    elif not (0 < search_seconds < math.inf):
        raise click.BadParameter("must be a positive number of seconds", param_hint="--search")
    if codes or margin is not None or tied:
        _refuse(ctx, ("store", "search_seconds"), "without --n --dim (free constellations)")
    if codes:
        if dim is None or max_ip is None:
            raise click.UsageError("--codes needs --dim and --max-ip")
        if n is not None or margin is not None or b_rel is not None or sdp or tied:
            raise click.UsageError("--codes takes only --dim and --max-ip")
        _refuse(ctx, ("method",), "with --codes (it reports every method)")
        return
    if max_ip is not None or three_point:
        raise click.UsageError(f"{'--max-ip' if max_ip is not None else '--three-point'} goes with --codes")
    if n is None:
        raise click.UsageError("give --n N with --dim D or --margin m, or --codes --dim n --max-ip s")
    if (dim is None) == (margin is None):
        raise click.UsageError("give exactly one of --dim (margin bounds) or --margin (dimension bounds)")
    if margin is not None:
        if b_rel is not None:
            raise click.UsageError("--b-rel goes with --dim")
        if sdp or tied:
            raise click.UsageError(f"{'--sdp' if sdp else '--tied'} goes with --n --dim")
    elif tied and (b_rel is not None or sdp):
        raise click.UsageError(f"--tied takes no {'--b-rel' if b_rel is not None else '--sdp'} "
                               "(a tied code has b_rel = 1 - m)")


def _dimensions(report, margin, as_json):
    """``--n N --margin m``: dim_lower and dim_upper."""
    lo, hi = report.lower, report.upper
    if as_json:
        emit_json(report.to_dict())
        return 0
    click.echo(f"N = {report.n}, margin m = {margin} (half the gap)")
    click.echo(f"  dim_lower  {lo.value if not math.isinf(lo.value) else 'none (no dimension works)'}"
               f"  [{lo.method}]  {_describe(lo)}")
    click.echo(f"  dim_upper  {hi.value if not math.isinf(hi.value) else 'unknown'}"
               f"  [{hi.method}]  {_describe(hi)}")
    return 0


def _with_exact(value, exact) -> str:
    """"1/4 (0.25)" where the exact number is known, else the float."""
    if exact is None or exact == fmt(value):
        return fmt(value)
    return f"{exact} (= {fmt(value)})"


def _free_text(n, dim, b_rel, up, lo, out) -> None:
    det = up.details
    bt = "" if b_rel is None else f", b_rel = {b_rel}"
    click.echo(f"N = {n}, d = {dim}{bt}   (m = half the gap)")
    click.echo(f"  margin_upper  {_with_exact(up.value, out['margin_upper_exact'])}  [{up.method}]  {_describe(up)}")
    if det.get("sandwich") is not None and det["sandwich"] != up.value:
        click.echo(f"  (sandwich     {fmt(det['sandwich'])}  [{det.get('sandwich_method', 'sandwich')}], "
                   f"the ceiling before the shell bounds)")
    for what, why in (det.get("skipped") or {}).items():
        click.echo(f"  (skipped {what}: {why})")
    click.echo(f"  margin_lower  {_with_exact(lo.value, out['margin_lower_exact'])}  [{lo.method}]  {_describe(lo)}")
    if out["ratio"] is not None:
        click.echo(f"  lower/upper   {fmt(out['ratio'], 4)}" + ("  (optimal: proved)" if out["optimal"] else ""))
    if out["optimality"]["optimum"] is not None:
        click.echo(f"  {out['optimality']['label']}")
    if b_rel is not None:
        click.echo("  (margin_lower is for free b_rel)")
    if "sdp" in out:
        click.echo(f"  sdp           {fmt(out['sdp']['value'], 9)}  (numerical, M = {out['modalities']}, any dimension)")


def _codes(report, max_ip, as_json):
    """``--codes --dim n --max-ip s``: every bound on A(n, s)."""
    dim, best, tp = report.dim, report.best, report.three_point
    if as_json:
        emit_json(report.to_dict())
        return 0
    click.echo(f"A({dim}, {max_ip}): upper bounds on the size of a code on S^{dim - 1} "
               f"with max inner product <= {max_ip}")
    for name, b in report.bounds:
        if isinstance(b.value, float) and math.isinf(b.value):
            click.echo(f"  {name:12s} -  ({b.details.get('note', b.method)})")
        else:
            deg = f", degree {b.details['degree']}" if "degree" in b.details else ""
            click.echo(f"  {name:12s} {b.value}  (real value {fmt(b.details.get('real'))}{deg}, certified)")
    click.echo(f"  best         {best.value}  ({best.method})")
    if tp is not None:
        click.echo(f"  three-point  {fmt(tp.value, 6)}  (numerical SDP, degree {tp.details['degree']}, "
                   f"sampled constraints: NOT certified)")
    return 0


def _tied(report, as_json):
    """``--n N --dim D --tied``: the code ceiling, the constructions and the free ceiling."""
    up, lo, free, opt = report.upper, report.lower, report.free, report.optimality
    out = report.to_dict()
    if as_json:
        emit_json(out)
        return 0
    click.echo(f"N = {report.n}, d = {report.dim}, tied (codes: U = V)   (m = half the gap)")
    how = up.details.get("note") or (up.certificate or {}).get("conclusion", "")
    click.echo(f"  margin_upper  {_with_exact(up.value, out['margin_upper_exact'])}  [{up.method}]  {how}")
    click.echo(f"  margin_lower  {_with_exact(lo.value, out['margin_lower_exact'])}  [{lo.method}]  {_describe(lo)}")
    if out["ratio"] is not None:
        tag = "  (optimal: proved)" if opt.proved else ""
        click.echo(f"  lower/upper   {fmt(out['ratio'], 4)}{tag}")
    if opt.optimum is not None:
        click.echo(f"  {opt.label()}")
    if out["known_optimal"]:
        click.echo(f"  proved optimal code known: {out['known_optimal']} (not reached by this bound)")
    click.echo(f"  free ceiling  {_with_exact(free.value, out['margin_upper_free_exact'])}  [{free.method}]  "
               "(constellations, not only codes)")
    return 0

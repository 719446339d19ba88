"""``constellations verify``: margin, certified margin, worst pairs and retrieval of a file."""
from __future__ import annotations

import click

from constellations import io
from constellations.certify import certified_margin, check_claim
from constellations.margins import margin_stats, retrieval_accuracy

from .output import emit_json, fmt


@click.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--graph", default=None, help="complete, star, or edges like 0-1,1-2 (default: the file's, else complete).")
@click.option("--margin", "claim_m", type=float, default=None, help="Claimed margin m (half gap) to check.")
@click.option("--b-rel", "claim_b", type=float, default=None, help="Claimed b_rel to check (with --margin).")
@click.option("--normalize", is_flag=True, help="Rescale rows to unit norm instead of refusing non-unit rows.")
@click.option("--exact", is_flag=True, help="Certify (and check a claim) in exact rational arithmetic (slow; small N only).")
@click.option("--retrieval/--no-retrieval", default=True, show_default=True, help="Compute top-1 retrieval accuracy.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(file, graph, claim_m, claim_b, normalize, exact, retrieval, as_json):
    """Verify FILE (.npz with X of shape (M, N, d), or U and V of shape (N, d)).

    Reports pos (min matched inner product), neg (max non-matched), the margin
    m = (pos - neg)/2 (half the gap), b_rel = (pos + neg)/2, a certified lower bound on m
    that accounts for every floating-point rounding, the worst pairs and the retrieval
    accuracy.

    Exit status: 0 if FILE is a constellation (certified margin >= 0, or the claimed
    --margin/--b-rel provably holds), 1 if not, 2 on bad input.
    """
    if (claim_m is None) != (claim_b is None):
        raise click.UsageError("--margin and --b-rel go together")
    cfg = io.load(file, normalize=normalize, graph=graph)
    s = margin_stats(cfg)
    cert = certified_margin(cfg, exact=exact)
    claim = check_claim(cfg, claim_m, claim_b, exact=exact) if claim_m is not None else None
    ok = claim.holds if claim is not None else cert.margin_cert >= 0
    out = {
        "file": file, "modalities": cfg.M, "n": cfg.N, "dim": cfg.d, "graph": cfg.graph.spec,
        "margin": s.margin, "b_rel": s.b_rel, "margin_certified": cert.margin_cert,
        "certification": cert.method, "pos_min": s.pos, "neg_max": s.neg,
        "gap": s.pos - s.neg, "is_constellation": bool(ok),
        "worst_matched": dict(zip(("k", "l", "i"), s.worst_pos)),
        "worst_non_matched": dict(zip(("k", "l", "i", "j"), s.worst_neg)),
        "per_edge": [{"edge": list(e.edge), "margin": e.margin, "b_rel": e.b_rel, "pos": e.pos, "neg": e.neg}
                     for e in s.per_edge],
    }
    if retrieval:
        out["retrieval_top1"] = {f"{a}->{b}": v for (a, b), v in retrieval_accuracy(cfg).items()}
    if claim is not None:
        v = claim.violation
        out["claim"] = {"margin": claim_m, "b_rel": claim_b, "holds": claim.holds,
                        "violation": None if v is None else {
                            "kind": v.kind, "edge": list(v.edge), "items": list(v.items), "value": v.value,
                            "required": v.required, "certainly_false": v.certain}}
    if as_json:
        emit_json(out)
    else:
        _report(out)
    return 0 if ok else 1


def _report(o: dict) -> None:
    e = click.echo
    e(f"{o['file']}: M={o['modalities']} modalities, N={o['n']} items, d={o['dim']}, graph {o['graph']}")
    e(f"  margin m (half gap)   {fmt(o['margin'])}   [gap 2m = {fmt(o['gap'])}]")
    e(f"  b_rel                 {fmt(o['b_rel'])}")
    e(f"  certified margin      {o['margin_certified']!r}   ({o['certification']})")
    e(f"  pos (min matched)     {fmt(o['pos_min'])}   at edge ({o['worst_matched']['k']},{o['worst_matched']['l']}) "
      f"item {o['worst_matched']['i']}")
    w = o["worst_non_matched"]
    e(f"  neg (max non-matched) {fmt(o['neg_max'])}   at edge ({w['k']},{w['l']}) pair ({w['i']},{w['j']})")
    if len(o["per_edge"]) > 1:
        for pe in o["per_edge"]:
            e(f"    edge {tuple(pe['edge'])}: m={fmt(pe['margin'])} b_rel={fmt(pe['b_rel'])}")
    if "retrieval_top1" in o:
        e("  retrieval top-1       " + ", ".join(f"{k}: {v:.4f}" for k, v in o["retrieval_top1"].items()))
    if "claim" in o:
        c = o["claim"]
        if c["holds"]:
            e(f"  claim (m={c['margin']}, b_rel={c['b_rel']}): HOLDS (certified)")
        else:
            v = c["violation"]
            need = ">=" if v["kind"] == "matched" else "<="
            e(f"  claim (m={c['margin']}, b_rel={c['b_rel']}): FAILS at {v['kind']} edge {tuple(v['edge'])} "
              f"items {tuple(v['items'])}: {fmt(v['value'])} is not {need} {fmt(v['required'])}"
              + ("" if v["certainly_false"] else " (within rounding: not provable in float64)"))
    e("  => " + ("a constellation" if o["is_constellation"] else "NOT a constellation"))

"""``constellations construct``: build a code or construction and save it as .npz."""
from __future__ import annotations

import click

from constellations import constructions, io
from constellations.margins import margin_stats

from .output import emit_json, fmt


@click.command("construct")
@click.argument("kind", type=click.Choice(constructions.KINDS, case_sensitive=False), metavar="KIND")
@click.option("--dim", "-d", type=int, required=True, help="Ambient dimension d.")
@click.option("--n", "-n", type=int, default=None, help="Number of points N (simplex, polygon, random; optional for "
              "cross-polytope; fixed for the polytopes).")
@click.option("--modalities", "-M", type=int, default=2, show_default=True, help="Number of modalities M.")
@click.option("--graph", default="complete", show_default=True, help="complete, star, or edges like 0-1,1-2.")
@click.option("--base", default="simplex", show_default=True,
              help="Base code for lift / modality-simplex / adapters (any code KIND).")
@click.option("--delta", type=float, default=None, help="Scale delta for lift, modality-simplex, adapters [0.9].")
@click.option("--phi", type=float, default=0.0, show_default=True, help="phi for lift (delta^2 + phi^2 <= 1).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for random codes.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output .npz file.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def command(kind, dim, n, modalities, graph, base, delta, phi, seed, output, as_json):
    """Build KIND and write it to an .npz file with its exact margin in the metadata.

    \b
    KIND is one of: simplex, cross-polytope, polygon, icosahedron, 24-cell, 600-cell, e8,
    clebsch, schlafli, gosset, random (codes, used tied across M modalities), or
    lift (Construction 1), modality-simplex (Construction 2), adapters.

    \b
    Examples:
      constellations construct simplex --dim 5 --n 6 -o simplex.npz
      constellations construct e8 --dim 8 -o e8.npz
      constellations construct lift --dim 5 --n 4 --base simplex --delta 0.8 --phi 0.3 -o lift.npz
      constellations construct modality-simplex --dim 6 --n 8 -M 3 --base cross-polytope -o ms.npz
    """
    cfg = constructions.construct(kind.lower(), dim, n, modalities, graph=graph, seed=seed, base=base,
                                  delta=delta, phi=phi)
    path = io.save(output, cfg)
    s = margin_stats(cfg)
    summary = {"kind": kind, "path": str(path), "modalities": cfg.M, "n": cfg.N, "dim": cfg.d,
               "margin": s.margin, "b_rel": s.b_rel,
               "margin_exact": cfg.meta.get("margin"), "b_rel_exact": cfg.meta.get("b_rel")}
    if as_json:
        emit_json(summary)
    else:
        known = f" (exact {fmt(cfg.meta['margin'])})" if "margin" in cfg.meta else ""
        click.echo(f"wrote {path}: {kind}, M={cfg.M}, N={cfg.N}, d={cfg.d}, "
                   f"margin m={fmt(s.margin)}{known}, b_rel={fmt(s.b_rel)}")

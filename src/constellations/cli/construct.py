"""``constellations construct``: build a code or construction and save it as .npz (or a code as text)."""
from __future__ import annotations

import time

import click

from constellations import io
from constellations.codes import constructions
from constellations.core.certify import certified_margin
from constellations.core.configuration import check_memory

from constellations.cli.output import INTEGER, emit_json, fmt, output_option

#: Largest edges * N^2 * d (multiply-adds) for which construct also measures the margin
#: (about 20 s of one core; N = 20,000 in d = 10 is 4e9 and took 7 s).
STATS_MAX_WORK = 10 ** 10

#: Float64 copies of the (M, N, d) array alive at the peak of a construction (code, its
#: normalisation, the validated configuration).
_PEAK_COPIES = 3


def estimate_bytes(kind: str, base: str, dim: int, n: int | None, modalities: int) -> int:
    """Upper estimate of the peak memory of ``construct`` (exact Python integers, no overflow).

    N is n, else at most max(240, 2 dim) (cross-polytope; the fixed polytopes have at most 240
    points).  A simplex also builds its n x n Helmert matrix.
    """
    rows = n if n is not None else max(240, 2 * dim)
    entries = modalities * rows * (dim + 2)  # the constructions add up to 2 coordinates
    if kind == "simplex" or (base == "simplex" and kind in ("lift", "modality-simplex", "adapters")):
        entries += rows * rows
    return 8 * _PEAK_COPIES * entries


@click.command("construct")
@click.argument("kind", type=click.Choice(constructions.KINDS, case_sensitive=False), metavar="KIND")
@click.option("--dim", "-d", type=INTEGER, required=True, help="Ambient dimension d.")
@click.option("--n", "-n", type=INTEGER, default=None,
              help="Number of points N (simplex, polygon, random, spiral, torus; optional for cross-polytope; fixed "
                   "for the polytopes).")
@click.option("--modalities", "-M", type=INTEGER, default=2, show_default=True, help="Number of modalities M.")
@click.option("--graph", default="complete", show_default=True, help="complete, star, or edges like 0-1,1-2.")
@click.option("--base", default="simplex", show_default=True,
              help="Base code for lift / modality-simplex / adapters (any code KIND).")
@click.option("--delta", type=float, default=None, help="Scale delta for lift, modality-simplex, adapters [0.9].")
@click.option("--phi", type=float, default=0.0, show_default=True, help="phi for lift (delta^2 + phi^2 <= 1).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed for random codes.")
@output_option(io.CONFIG_SUFFIXES, required=True,
               help="Output file (its directory must exist): .npz, or .txt/.dat/.csv for a code (one point per "
                    "line, full precision, a '#' header with N, d and the certified margin).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def command(kind, dim, n, modalities, graph, base, delta, phi, seed, output, as_json):
    """Build KIND and write it to an .npz file with its exact margin in the metadata, or a code
    to a text file (.txt, .dat, .csv: one point per line; the constructions lift, modality-simplex
    and adapters, whose modalities differ, need .npz).

    KIND is a code, used tied across the M modalities (@CODES@), or a construction:
    lift (Construction 1), modality-simplex (Construction 2), adapters.  The codes for any N:
    spiral (the Fibonacci spiral on S^2, d >= 3; its c is irrational: reported as measured, the
    margin certified from the points) and torus (a torus grid Z_k^j on S^(2j-1), d >= 4;
    c = (j - 1 + cos(2 pi/k))/j).

    Sizes whose arrays would not fit in half the physical memory are refused before
    anything is allocated.  The margin is measured (and certified) when
    edges x N^2 x d <= 1e10; beyond that use `constellations verify`.

    \b
    Examples:
      constellations construct simplex --dim 5 --n 6 -o simplex.npz
      constellations construct e8 --dim 8 -o e8.npz
      constellations construct icosahedron --dim 3 -o ico.txt
      constellations construct spiral --dim 3 --n 1000 -o spiral.npz
      constellations construct torus --dim 4 --n 30 -o torus.npz
      constellations construct lift --dim 5 --n 4 --base simplex --delta 0.8 --phi 0.3 -o lift.npz
      constellations construct modality-simplex --dim 6 --n 8 -M 3 --base cross-polytope -o ms.npz
    """
    t0 = time.perf_counter()
    kind = kind.lower()
    if dim < 1:
        raise click.BadParameter(f"need dimension >= 1, got {dim}", param_hint="'--dim'")
    if n is not None and n < 2:
        raise click.BadParameter(f"need at least 2 points, got {n}", param_hint="'--n'")
    if modalities < 2:
        raise click.BadParameter(f"need at least 2 modalities, got {modalities}", param_hint="'-M' / '--modalities'")
    if io.is_text(output) and kind in _CONSTRUCTIONS:
        raise click.BadParameter(f"a text file holds one spherical code, and {kind} has modalities that differ; "
                                 "write .npz", param_hint="'-o' / '--output'")
    check_memory(estimate_bytes(kind, base, dim, n, modalities),
                 f"construct {kind} with M={modalities}, N={n if n is not None else 'default'}, d={dim}")
    cfg = constructions.construct(kind, dim, n, modalities, graph=graph, seed=seed, base=base,
                                  delta=delta, phi=phi)
    work = len(cfg.graph.edges) * cfg.N ** 2 * cfg.d
    cert = certified_margin(cfg) if work <= STATS_MAX_WORK else None
    path = io.save(output, cfg, certificate=cert)
    summary = {"kind": kind, "path": str(path), "modalities": cfg.M, "n": cfg.N, "dim": cfg.d,
               "graph": cfg.graph.spec, "seed": seed if kind == "random" or base == "random" else None,
               "margin": None if cert is None else cert.margin, "b_rel": None if cert is None else cert.b_rel,
               "margin_certified": None if cert is None else cert.margin_certified,
               "margin_exact": cfg.meta.get("margin_exact"), "b_rel_exact": cfg.meta.get("b_rel_exact"),
               "margin_closed_form": cfg.meta.get("margin"), "b_rel_closed_form": cfg.meta.get("b_rel"),
               "max_inner_product": cfg.meta.get("max_inner_product"),
               "native_dim": cfg.meta.get("native_dim"), "note": cfg.meta.get("note"),
               "seconds": time.perf_counter() - t0}
    if as_json:
        emit_json(summary)
        return
    _report(summary, work)


def _report(o: dict, work: int) -> None:
    """The one-line summary (and the note of a zero-padded code on a second line)."""
    if o["margin_exact"] is not None:
        known = f" (exact {o['margin_exact']})"
    elif o["margin_closed_form"] is not None:
        known = f" (closed form {fmt(o['margin_closed_form'])})"
    else:
        known = ""
    if o["margin"] is None:
        measured = (f"margin not measured (edges x N^2 x d = {work:.2g} > {STATS_MAX_WORK:.0e}; "
                    f"run `constellations verify {o['path']}`){known}")
    else:
        measured = (f"margin m={fmt(o['margin'])}{known}, b_rel={fmt(o['b_rel'])}, "
                    f"certified m >= {fmt(o['margin_certified'])}")
    click.echo(f"wrote {o['path']}: {o['kind']}, M={o['modalities']}, N={o['n']}, d={o['dim']}, {measured}")
    if o["note"]:
        click.echo(f"  note: {o['note']}")


_CONSTRUCTIONS = ("lift", "modality-simplex", "adapters")
command.help = command.help.replace("@CODES@", ", ".join(k for k in constructions.KINDS if k not in _CONSTRUCTIONS))

"""``constellations init-bias``: the initial bias that minimises the expected sigmoid loss at initialisation."""
from __future__ import annotations

import click

from constellations.core.results import Status
from constellations.training.initialization import initial_biases

from constellations.cli.output import INTEGER, emit_json, fmt

__all__ = ["command"]

#: Most batch sizes in one call (the library's limit too).
MAX_SIZES = 1000


class SizesType(click.ParamType):
    """Comma-separated whole numbers (each read by :data:`~constellations.cli.output.INTEGER`: 4096, 4e3)."""

    name = "B[,B...]"

    def convert(self, value, param, ctx):
        parts = str(value).split(",")
        if len(parts) > MAX_SIZES:
            self.fail(f"at most {MAX_SIZES} batch sizes, got {len(parts)}", param, ctx)
        return tuple(INTEGER.convert(p, param, ctx) for p in parts)


@click.command("init-bias")
@click.option("--batch-size", "batch_sizes", type=SizesType(), required=True, multiple=True,
              help="Batch size B, or several: 256,4096,32768 (the option may also be repeated).")
@click.option("--t0", type=float, default=10.0, show_default=True, help="Initial inverse temperature t0.")
@click.option("--dim", type=INTEGER, default=512, show_default=True, help="Embedding dimension d.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(batch_sizes, t0, dim, as_json):
    """The initial bias b0* minimising the expected SigLIP loss at initialisation (open_clip #650).

    Logits t0 <u, v> + b (big_vision sign; the paper's relative bias is b_rel = -b/t0), embeddings
    independent and uniform on the sphere of R^d. b0* solves E[sigmoid(t0 s + b)] = 1/B; it tends to
    log(1/(B-1)) as t0 -> 0 and lies below it for t0 > 0 and B > 2. Losses are expected values per item
    (-(1/B) times the sum over the B^2 pairs); divide by B for the mean per pair. docs/math.md has the
    derivation.

    \b
    Examples:
      constellations init-bias --batch-size 256,4096,32768
      constellations init-bias --batch-size 32768 --t0 10 --dim 768 --json
    """
    sizes = [B for group in batch_sizes for B in group]
    results = initial_biases(sizes, t0=t0, dim=dim)
    if as_json:
        emit_json({"t0": results[0].t0, "dim": results[0].dim, "results": [r.to_dict() for r in results]})
        return 0
    _table(results)
    return 0


def _table(results) -> None:
    """The human table: one row per batch size."""
    r0 = results[0]
    click.echo(f"Initial bias minimising the expected sigmoid loss at initialisation, t0 = {fmt(r0.t0)}, "
               f"d = {r0.dim}")
    click.echo("(logits t0 s + b0, b_rel0 = -b0/t0; loss = expected per item, -(1/B) sum over the B^2 pairs)")
    ref = f"loss(b0={fmt(r0.b0_reference, 6)})"
    head = ("B", "b0*", "b_rel0*", "loss(b0*)", "log(1/(B-1))", "loss there", ref)
    rows = [(str(r.batch_size), fmt(r.b0, 10), fmt(r.b_rel0, 10), fmt(r.loss, 8), fmt(r.b0_approx, 10),
             fmt(r.loss_approx, 8), fmt(r.loss_reference, 8)) for r in results]
    widths = [max(len(h), *(len(row[k]) for row in rows)) for k, h in enumerate(head)]
    for row in (head, *rows):
        click.echo("  ".join(c.rjust(w) for c, w in zip(row, widths)))
    if any(r.status is not Status.CONVERGED for r in results):
        click.echo("warning: some rows did not meet the tolerances (see --json: converged, quadrature_error)")

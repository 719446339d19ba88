"""The ``--seeds`` grammar shared by ``train`` and ``reproduce``.

One grammar, parsed strictly (ASCII digits only, no eval): a count ``20`` (seeds 0..19), a list
``0,3,7`` (distinct) or a half-open range ``10:30`` (seeds 10..29).  The number of seeds is checked
against :data:`constellations.training.trainer.MAX_SEEDS` before any list is built, so ``0:10**18`` is
refused at once instead of exhausting memory.
"""
from __future__ import annotations

import re

import click

from constellations.training.trainer import MAX_SEEDS

__all__ = ["parse_seeds", "SeedsType", "SEEDS_HELP"]

SEEDS_HELP = "Seeds: a count (20 = seeds 0..19), a list (0,3,7) or a range (10:30 = seeds 10..29)."

_INT = re.compile(r"[0-9]+")


def _int(text: str, spec: str) -> int:
    text = text.strip()
    if not _INT.fullmatch(text):
        raise ValueError(f"{spec!r}: {text!r} is not a non-negative integer; "
                         "use a count (20), a list (0,3,7) or a range (10:30)")
    return int(text)


def parse_seeds(spec: str, limit: int | None = None) -> list[int]:
    """Parse a seeds specification into a list of distinct non-negative seeds.

    Raises ValueError with a one-line reason (the CLI wraps it as a bad parameter).
    """
    limit = MAX_SEEDS if limit is None else limit
    spec = str(spec).strip()
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) != 2:
            raise ValueError(f"{spec!r}: a range is START:STOP, like 10:30")
        a, b = (_int(p, spec) for p in parts)
        if b <= a:
            raise ValueError(f"{spec!r}: empty range (STOP must exceed START; 10:30 is seeds 10..29)")
        count, seeds = b - a, None
    elif "," in spec:
        seeds = [_int(p, spec) for p in spec.split(",")]
        if len(set(seeds)) != len(seeds):
            dup = next(s for s in seeds if seeds.count(s) > 1)
            raise ValueError(f"{spec!r}: seed {dup} is listed twice (it would repeat the same run)")
        count = len(seeds)
    else:
        count, seeds = _int(spec, spec), None
        if count < 1:
            raise ValueError("need at least one seed")
        a = 0
    if count > limit:
        raise ValueError(f"{count} seeds is more than the limit of {limit} per run "
                         "(all seeds train as one batch, each with its own N^2 logits per edge and optimiser state); "
                         "split the seeds over several runs")
    return seeds if seeds is not None else list(range(a, a + count))


class SeedsType(click.ParamType):
    """click type for ``--seeds`` (see :func:`parse_seeds`)."""

    name = "SEEDS"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            return parse_seeds(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)

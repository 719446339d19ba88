"""Formatting shared by the commands: JSON, numbers, error lines."""
from __future__ import annotations

import json
import re
import sys

import click

from constellations.io import to_jsonable

__all__ = ["emit_json", "fmt", "echo_err", "output_option", "IntegerType", "INTEGER"]


def emit_json(obj) -> None:
    """Print one JSON object (numpy scalars/arrays, tuples and dataclass dicts converted)."""
    click.echo(json.dumps(to_jsonable(obj), indent=2, sort_keys=False))


def fmt(x, digits: int = 12) -> str:
    """A float with ``digits`` significant digits (0.24999999999999992 prints as 0.25)."""
    if x is None:
        return "-"
    try:
        return f"{float(x):.{digits}g}"
    except (TypeError, ValueError):
        return str(x)


def echo_err(msg: str) -> None:
    click.echo(msg, err=True)
    sys.stderr.flush()


def output_option(suffix: str | None = ".npz", help: str = "Write the result here (atomically).", **kw):
    """The shared ``-o/--output PATH`` option of every command.

    The path is checked when the command line is parsed, before any work starts
    (:func:`constellations.io.check_writable`: the directory must exist and be writable, and the
    name must end in ``suffix``), so a finished run is never thrown away for want of a place to go.
    """
    def check(ctx, param, value):
        if value is None:
            return None
        from constellations.errors import FileFormatError
        from constellations.io import check_writable
        try:
            return str(check_writable(value, suffix))
        except FileFormatError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return click.option("-o", "--output", "output", default=None, metavar="PATH", callback=check,
                        help=help, **kw)


_INTEGER = re.compile(r"[+-]?[0-9]+(?:[eE]\+?([0-9]{1,3}))?")


class IntegerType(click.ParamType):
    """An integer option that also accepts exponent notation for sizes (``1e9``, ``2E6``).

    Parsed strictly by a regular expression, never through float: ``1.5``, ``nan``, ``inf`` and
    exponents above 999 are refused, so ``--n 1e9`` is the exact integer 10^9.
    """

    name = "integer"

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip().replace("_", "")
        match = _INTEGER.fullmatch(text)
        if not match:
            self.fail(f"{value!r} is not an integer (examples: 12, 1000000, 1e6)", param, ctx)
        mantissa, _, _ = text.lower().partition("e")
        return int(mantissa) * 10 ** int(match.group(1) or 0)


#: Shared instance of :class:`IntegerType`.
INTEGER = IntegerType()

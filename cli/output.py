"""Formatting shared by the commands: JSON, numbers, error lines."""
from __future__ import annotations

import json
import sys

import click

from constellations.io import to_jsonable

__all__ = ["emit_json", "fmt", "echo_err", "output_option"]


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

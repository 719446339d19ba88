"""Shared by the commands: JSON, numbers, error lines, progress bars, CSV text, and the checks of the
output options and whole numbers made when the command line is parsed."""
from __future__ import annotations

import csv
import io
import json
import re
import stat
import sys
from fractions import Fraction
from pathlib import Path

import click

from constellations.core.errors import FileFormatError
from constellations.io.files import check_writable, shown, stat_or_none, to_jsonable

__all__ = ["emit_json", "fmt", "echo_err", "output_option", "checked_path", "checked_dir", "IntegerType", "INTEGER",
           "progress_bar", "csv_text"]


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


def progress_bar(quiet: bool, as_json: bool, **kw):
    """A tqdm bar on stderr (``kw``: tqdm's options), or None with --quiet, --json or no terminal."""
    if quiet or as_json or not sys.stderr.isatty():
        return None
    from tqdm import tqdm
    return tqdm(file=sys.stderr, leave=False, **kw)


def csv_text(header, rows) -> str:
    """CSV text of ``rows`` (sequences) under ``header``."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def checked_path(suffix: str | None):
    """A click callback: the path must be writable (:func:`constellations.io.files.check_writable`),
    checked when the command line is parsed, before any work."""
    def check(ctx, param, value):
        if value is None:
            if param.required:  # click >= 8.3 does not count an explicit default of None as missing
                raise click.MissingParameter(ctx=ctx, param=param)
            return None
        try:
            return str(check_writable(value, suffix))
        except FileFormatError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return check


def checked_dir(probe: str):
    """A click callback: an existing directory that accepts files (never created: the shared rule
    for outputs), probed with the name of one file the command will write there."""
    def check(ctx, param, value):
        if value is None:
            return None
        p = Path(value)
        try:
            st = stat_or_none(p, "write in")
            if st is None or not stat.S_ISDIR(st.st_mode):
                raise click.BadParameter(f"directory {shown(p)} does not exist (create it first)", ctx=ctx,
                                         param=param)
            check_writable(p / probe, Path(probe).suffix)
        except FileFormatError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
        return str(p)
    return check


def output_option(suffix: str | None = ".npz", help: str = "Write the result here (atomically).", **kw):
    """The shared ``-o/--output PATH`` option of every command.

    The path is checked when the command line is parsed, before any work starts
    (:func:`constellations.io.files.check_writable`: the directory must exist and be writable, and the
    name must end in ``suffix``), so a finished run is never thrown away for want of a place to go.
    """
    if not kw.get("required"):
        kw.setdefault("default", None)
    return click.option("-o", "--output", "output", metavar="PATH", callback=checked_path(suffix), help=help, **kw)


_DIGITS = re.compile(r"[+-]?[0-9]{1,400}")
_EXPONENT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]{1,3}")
#: Larger whole numbers are refused at parse time (every command has tighter limits of its own).
MAX_INTEGER = 10 ** 18


class IntegerType(click.ParamType):
    """A whole number, also in integer-valued exponent notation (``1e9``, ``2.5e3``), up to 10^18.

    Parsed strictly by regular expressions and exact rationals, never through float or eval:
    ``1.5``, ``nan``, ``inf`` and ``1e-3`` are refused, and ``--n 1e9`` is the exact integer 10^9.
    Commands refuse sizes above their own stated limits, with the estimate in the message.
    """

    name = "integer"

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            v = value
        else:
            text = str(value).strip().replace("_", "")
            v = None
            if _DIGITS.fullmatch(text):
                v = int(text)
            elif _EXPONENT.fullmatch(text):
                q = Fraction(text)
                v = int(q) if q.denominator == 1 else None
            if v is None:
                self.fail(f"{value!r} is not a whole number (examples: 12, 1000000, 1e6)", param, ctx)
        if abs(v) > MAX_INTEGER:
            self.fail(f"{value!r} is above the largest number accepted, 1e18", param, ctx)
        return v


#: Shared instance of :class:`IntegerType`.
INTEGER = IntegerType()

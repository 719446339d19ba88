"""Formatting shared by the commands: JSON, numbers, error lines."""
from __future__ import annotations

import json
import sys

import click

from constellations.io import to_jsonable

__all__ = ["emit_json", "fmt", "echo_err"]


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

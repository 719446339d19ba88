r"""Spherical codes as plain text, one point per line, as the code tables publish them.

A text file holds ONE spherical code C = {x_1, ..., x_N} in R^d (read as the tied configuration
U = V = C, whose margin is m = (1 - c)/2 with c the largest inner product of two distinct points,
docs/math.md section 2).  File I/O is in :mod:`constellations.io.files` (``load``/``save`` choose this
format by the suffixes :data:`TEXT_SUFFIXES`); this module only parses and formats text, strictly:
numbers are matched by a regular expression and converted with ``float`` (never ``eval``).

Layouts read
------------
* **rows**: one point per line, d numbers separated by whitespace and/or one comma
  (``0.5 -0.25 0.8``, ``0.5,-0.25,0.8``, ``0.5, -0.25, 0.8``).  ``#`` starts a comment to the end of
  the line; blank lines are ignored; ``\r\n`` line ends and a UTF-8 byte-order mark are accepted.
* **an index column**: a first column of the whole numbers 0..N-1 or 1..N in order, written without a
  decimal point or exponent, is dropped when one of them is >= 2 (no coordinate of a unit vector can be).
* **a header line**: a first line of 1 to 3 numbers whose first is the whole number N >= 2 of point
  lines after it (point lines of at least 2 numbers): ``N``, ``N d`` (d a whole number, checked against
  the points) or ``N D theta`` -- the layout of Lai, Yue, Hao, Glover and Lv
  (github.com/XiangjingLai/Tammes-problem, ``Best Solutions/N.txt``: ``N D theta`` then ``i x y z`` for
  i = 0..N-1, 12 decimals), with D the smallest Euclidean distance between two points and theta the
  angular diameter of the caps in degrees, i.e. the smallest angle between two points;
  D = 2 sin(theta/2) is checked (to 1e-6).  A first line as wide as the points that is not a valid
  header (``2 0 0``: N = 2 but no 'N D theta') is read as a point.  For unit vectors D^2 = 2 - 2c, so the
  stated margin is m = D^2 / 4 (= sin^2(theta/2)).
* **one number per line** (N. J. A. Sloane's tables, ``pack.D.N.txt``: the N d coordinates, point after
  point, one per line): the dimension d is ``dim`` when given, else taken from a file name ending in
  ``.D.N.txt`` (``pack.3.150.txt``: d = 3, N = 150, and N d numbers are required).

Writing (:func:`format_code`): ``#`` comments (:func:`code_comments`: N, d, the margin, the largest inner
product, the smallest distance and angle, the certified margin), then one point per line, each coordinate
as ``repr(float)`` -- the shortest decimal that reads back to the same float64, at most 17 significant
digits -- so that writing and reading give the same bits.

Every problem is one line naming the file and the line: a token that is not a decimal number
(``nan``, ``inf``, ``0x10``, ``1_000``, words), a number that overflows float64, an empty field
(``1,,2``), lines with different numbers of coordinates, an empty file.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import numpy as np

from constellations.core.errors import FileFormatError

__all__ = ["TEXT_SUFFIXES", "CodeText", "parse_code", "format_code", "code_comments", "code_geometry", "name_shape"]

#: Suffixes read and written as text (one point per line); anything else is a ``.npz`` archive.
TEXT_SUFFIXES = (".txt", ".dat", ".csv")

_NUM = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_SEP = r"(?:[ \t]*,[ \t]*|[ \t]+)"
_ROW = re.compile(f"{_NUM}(?:{_SEP}{_NUM})*")
_NUMBER = re.compile(_NUM)
_SPLIT = re.compile(_SEP)
_WHOLE = re.compile(r"\+?[0-9]+")
_INDEX = re.compile(r"[+-]?[0-9]+")
#: ``NAME.D.N.txt`` (Sloane's pack.3.150.txt): the dimension and the number of points.
_NAME_SHAPE = re.compile(r"(?:^|\.)([0-9]+)\.([0-9]+)\.[A-Za-z]+$")
#: How closely a 3-number header must satisfy D = 2 sin(theta / 2) to be read as ``N D theta``.
_HEADER_TOL = 1e-6


@dataclass(frozen=True)
class CodeText:
    """A spherical code read from text.

    Attributes
    ----------
    points : ndarray, shape (N, d), float64
        The coordinates exactly as written (not normalised).
    layout : str
        ``"rows"``, ``"rows with an index column"`` or ``"one number per line"``.
    lines : ndarray, shape (N,), int
        The line (1-based) of each point, of its first number for one number per line.
    header : str or None
        The header line's form (``"N"``, ``"N d"``, ``"N D theta"``), None without one.
    stated : dict
        What the header states: ``min_distance`` D, ``min_angle_degrees`` theta, the margin m = D^2/4
        they imply (``margin``) and ``margin_uncertainty``, a bound on |m(points) - m| from the written
        precision: with h the largest half-unit in the last written digit of a coordinate and e_D that of
        D, the normalised points are within 2 sqrt(d) h of the ones meant, so distances move by at most
        4 sqrt(d) h, and dD = e_D + 4 sqrt(d) h gives dm = D dD / 2 + dD^2 / 4.  Empty without such a header.
    """

    points: np.ndarray
    layout: str
    lines: np.ndarray
    header: str | None = None
    stated: dict = field(default_factory=dict)


def name_shape(name: str) -> tuple[int, int] | None:
    """(d, N) from a file name ``NAME.D.N.txt`` (Sloane's ``pack.3.150.txt``: (3, 150)), else None."""
    m = _NAME_SHAPE.search(str(name).replace("\\", "/").rsplit("/", 1)[-1])
    return (int(m.group(1)), int(m.group(2))) if m else None


def parse_code(text: str, name: str = "<text>", *, dim: int | None = None) -> CodeText:
    """Read a spherical code from ``text`` (the layouts of the module docstring).

    Parameters
    ----------
    text : str
        The file's content.
    name : str
        The file's name: errors say ``name:line: ...``; a name ``NAME.D.N.txt`` gives d for one number
        per line.
    dim : int, optional
        The dimension d: required (unless the name gives it) for one number per line, checked otherwise.

    Raises
    ------
    FileFormatError
        With ``name:line`` for the first bad line.
    """
    rows = _rows(text, name)
    if not rows:
        raise FileFormatError(f"{name}: no points (the file is empty or holds only comments)")
    header, body = _split_header(rows, name)
    if header is None:
        return _code(None, rows, name, dim)
    try:
        return _code(header, body, name, dim)
    except FileFormatError:
        if len(header[1]) != len(body[0][1]):
            raise
        # as wide as the points: read as a point when it is not a valid header ("2 0 0" with --normalize)
        try:
            return _code(None, rows, name, dim)
        except FileFormatError:
            pass
        raise


def _code(header, rows, name, dim) -> CodeText:
    """The code of the point ``rows`` under ``header`` (or None)."""
    widths = {len(r[1]) for r in rows}
    if widths == {1} and header is None:
        points, layout = _one_per_line(rows, name, dim), "one number per line"
        lines = np.array([r[0] for r in rows[::points.shape[1]]])
    else:
        lines = np.array([r[0] for r in rows])
        _same_width(rows, name)
        points, layout = _drop_index(rows)
        if dim is not None and points.shape[1] != dim:
            raise FileFormatError(f"{name}: the points have {points.shape[1]} coordinates, but the dimension "
                                  f"given is {dim}")
    stated = {}
    if header is not None:
        stated = _check_header(header, points, rows, name)
    return CodeText(points, layout, lines, None if header is None else _FORMS[len(header[1])], stated)


_FORMS = {1: "N", 2: "N d", 3: "N D theta"}


def _rows(text: str, name: str) -> list:
    """(line number, tokens, values) of every line holding numbers."""
    if text.startswith("\ufeff"):
        text = text[1:]
    out = []
    for ln, line in enumerate(text.split("\n"), 1):
        s = line.split("#", 1)[0].strip()
        if not s:
            continue
        if not _ROW.fullmatch(s):
            raise FileFormatError(f"{name}:{ln}: {_bad_token(s)}")
        tokens = _SPLIT.split(s)
        values = [float(t) for t in tokens]
        if not all(map(math.isfinite, values)):
            bad = next(t for t, v in zip(tokens, values) if not math.isfinite(v))
            raise FileFormatError(f"{name}:{ln}: {bad!r} overflows a float64 (largest about 1.8e308)")
        out.append((ln, tokens, values))
    return out


def _bad_token(s: str) -> str:
    """Why a line is not numbers separated by whitespace or commas: its first bad field, in words."""
    for tok in re.split(r"[ \t]*,[ \t]*|[ \t]+", s):
        if tok == "":
            return "an empty field (two commas in a row, or a comma at an end of the line)"
        if not _NUMBER.fullmatch(tok):
            shown = tok if len(tok) <= 40 else tok[:40] + "..."
            return f"{shown!r} is not a decimal number (expected numbers separated by whitespace or commas)"
    return "not numbers separated by whitespace or commas"  # pragma: no cover - every field matched


def _split_header(rows, name):
    """(header row or None, point rows): the first row is a header when it has 1 to 3 numbers, the first a
    whole number N >= 2 equal to the number of point lines after it (those lines having at least 2 numbers)."""
    ln, tokens, values = rows[0]
    rest = rows[1:]
    if not (1 <= len(tokens) <= 3 and _WHOLE.fullmatch(tokens[0]) and rest) or min(len(r[1]) for r in rest) < 2:
        return None, rows
    n = int(tokens[0])
    if n == len(rest) and n >= 2:  # a first value >= 2 is not a coordinate of a unit vector
        return rows[0], rest
    if n >= 2 and len(tokens) != len(rest[0][1]) and len({len(r[1]) for r in rest}) == 1:
        raise FileFormatError(f"{name}:{ln}: the header says N = {n} points, but {len(rest)} point lines follow "
                              "(a truncated or edited file?)")
    return None, rows


def _same_width(rows, name) -> None:
    """Every point line has as many numbers as the first one."""
    ln0, first = rows[0][0], len(rows[0][1])
    for ln, tokens, _ in rows:
        if len(tokens) != first:
            raise FileFormatError(f"{name}:{ln}: {len(tokens)} numbers, but line {ln0} has {first} (every point "
                                  "needs the same number of coordinates)")


def _drop_index(rows):
    """(points, layout): a first column 0..N-1 or 1..N of whole numbers, with one >= 2, is an index."""
    A = np.array([r[2] for r in rows], dtype=np.float64)
    n = len(rows)
    if A.shape[1] >= 2 and all(_INDEX.fullmatch(r[1][0]) for r in rows):
        idx = A[:, 0]
        for start in (0, 1):
            if idx.max() >= 2 and np.array_equal(idx, np.arange(start, start + n)):
                return np.ascontiguousarray(A[:, 1:]), "rows with an index column"
    return A, "rows"


def _one_per_line(rows, name, dim):
    """Sloane's layout: N d numbers, one per line, point after point."""
    values = np.array([r[2][0] for r in rows], dtype=np.float64)
    from_name = name_shape(name)
    if dim is None and from_name is None:
        raise FileFormatError(f"{name}: one number per line (Sloane's layout) needs the dimension: give it "
                              "(CLI: --dim D) or name the file NAME.D.N.txt, e.g. pack.3.150.txt")
    d = dim if dim is not None else from_name[0]
    if from_name is not None and dim is not None and from_name[0] != dim:
        raise FileFormatError(f"{name}: the name says dimension {from_name[0]}, but the dimension given is {dim}")
    if d < 1 or values.size % d:
        raise FileFormatError(f"{name}: {values.size} numbers, one per line, do not make points of dimension {d}")
    if from_name is not None and from_name[0] == d and values.size != d * from_name[1]:
        raise FileFormatError(f"{name}: the name says N = {from_name[1]} points in dimension {d} "
                              f"({d * from_name[1]} numbers), but the file holds {values.size}")
    return values.reshape(-1, d)


def _check_header(header, points, rows, name) -> dict:
    """The header's d checked; for ``N D theta`` the stated margin D^2/4 and its uncertainty (CodeText)."""
    ln, tokens, values = header
    d = points.shape[1]
    if len(tokens) == 2:
        if not _WHOLE.fullmatch(tokens[1]) or int(tokens[1]) != d:
            raise FileFormatError(f"{name}:{ln}: a header 'N d' needs d = {d}, the points' dimension, got "
                                  f"{tokens[1]!r}")
        return {}
    if len(tokens) == 1:
        return {}
    D, theta = values[1], values[2]
    if not (0 < D <= 2 and 0 < theta <= 180 and abs(2 * math.sin(math.radians(theta) / 2) - D) <= _HEADER_TOL):
        raise FileFormatError(f"{name}:{ln}: a 3-number header is read as 'N D theta' (smallest distance D, "
                              f"smallest angle theta in degrees, D = 2 sin(theta/2)); {tokens[1]} and {tokens[2]} "
                              "are not")
    h = max(_half_unit(t) for r in rows for t in r[1][-d:])
    dD = _half_unit(tokens[1]) + 4 * math.sqrt(d) * h
    return {"min_distance": D, "min_angle_degrees": theta, "margin": D * D / 4,
            "margin_uncertainty": D * dD / 2 + dD * dD / 4}


def _half_unit(token: str) -> float:
    """Half a unit in the last written digit of a decimal ``token`` (``0.125`` -> 5e-4, ``1.5e-3`` -> 5e-5)."""
    mant, _, exp = token.lower().partition("e")
    decimals = len(mant.partition(".")[2])
    return 0.5 * 10.0 ** (int(exp or 0) - decimals)


def format_code(points: np.ndarray, comments=(), *, sep: str = " ") -> str:
    """Text of a code: ``# comment`` lines, then one point per line, coordinates separated by ``sep``
    (a space; ``","`` for ``.csv``).

    Each coordinate is written as ``repr(float)``, the shortest decimal that reads back to the same
    float64 (at most 17 significant digits), so :func:`parse_code` returns the same bits.
    """
    lines = [f"# {c}" for c in comments]
    lines += [sep.join(map(repr, row)) for row in np.asarray(points, dtype=np.float64).tolist()]
    return "\n".join(lines) + "\n"


def code_geometry(margin: float, margin_certified: float | None = None, stated: dict | None = None) -> dict:
    """What the margin m of a code (used tied, docs/math.md section 2) says about its points.

    The largest inner product of two distinct points is c = 1 - 2m, the smallest distance
    sqrt(2 - 2c) = 2 sqrt(m) and the smallest angle arccos(c) = 2 arcsin(sqrt(m)) (in degrees; the
    arcsine keeps its accuracy where c is near 1).  A certified lower bound m_c on m (docs/math.md
    section 6) bounds the smallest distance of the exactly normalised points below by 2 sqrt(m_c),
    rounded down (sqrt is correctly rounded; one step down to the next float is below it).  With a
    ``stated`` dict (:class:`CodeText`), ``agrees_with_stated`` says whether
    | m - stated margin | <= its uncertainty (plus 8 float64 units of rounding in m).
    """
    m = max(float(margin), 0.0)
    out = {"max_inner_product": 1.0 - 2.0 * float(margin), "min_distance": 2.0 * math.sqrt(m),
           "min_angle_degrees": math.degrees(2.0 * math.asin(min(1.0, math.sqrt(m))))}
    if margin_certified is not None:
        mc = float(margin_certified)
        out["min_distance_certified"] = math.nextafter(2.0 * math.sqrt(mc), 0.0) if mc > 0 else 0.0
    if stated:
        slack = stated["margin_uncertainty"] + 8 * math.ulp(max(m, stated["margin"]))
        out["agrees_with_stated"] = bool(abs(float(margin) - stated["margin"]) <= slack)
    return out


def code_comments(n: int, d: int, *, margin: float | None = None, margin_certified: float | None = None,
                  method: str | None = None, meta: dict | None = None) -> list[str]:
    """The header comments of a written code: N, d, and the margin with what it says about the points
    (:func:`code_geometry`); ``margin_certified`` is a proved lower bound on m (docs/math.md section 6)."""
    out = [f"spherical code: N = {n} points on the unit sphere in R^{d}, one point per line",
           "coordinates in full float64 precision (shortest repr: they read back bit for bit)"]
    if margin is None:
        out.append("margin not computed here: `constellations verify FILE` measures and certifies it")
    else:
        g = code_geometry(margin, margin_certified)
        out.append(f"margin m = (1 - c)/2 = {float(margin)!r}, c = largest inner product of two distinct points")
        out.append(f"c = {g['max_inner_product']!r}; min distance sqrt(2 - 2c) = {g['min_distance']!r}; "
                   f"min angle = {g['min_angle_degrees']!r} degrees")
    if margin_certified is not None:
        how = f", by {method}" if method else ""
        out.append(f"certified margin m >= {float(margin_certified)!r}{how}")
    if meta:
        text = json.dumps(meta, sort_keys=True, default=str)
        if len(text) <= 2000:
            out.append(f"meta: {text}")
    return out

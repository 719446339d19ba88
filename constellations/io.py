"""Reading and writing configurations as ``.npz`` files, atomically.

Format
------
An ``.npz`` archive holding either

- ``X``: float array of shape (M, N, d), or
- ``U`` and ``V``: float arrays of shape (N, d) (two modalities),

plus optional ``meta`` (a JSON object stored as a 0-d unicode array), optional
``graph`` (a string accepted by :func:`~constellations.graphs.parse_graph`) and,
for analysis of real embeddings, optional integer ``labels`` of shape (N,).
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .configuration import UNIT_TOL, Configuration, as_array
from .errors import ConfigurationError, FileFormatError

__all__ = ["load", "save", "load_arrays", "atomic_write", "atomic_write_text", "to_jsonable", "check_writable"]


def check_writable(path, suffix: str | None = None) -> Path:
    """Check, before any work starts, that ``path`` can be written; return it as a Path.

    One rule for every command: the parent directory must already exist (it is never created,
    so a mistyped directory is reported rather than silently made), must be writable, and
    ``path`` must not be a directory.  With ``suffix`` (e.g. ``".npz"``) the name must end in it:
    a file is never silently renamed.  Raises :class:`FileFormatError` with a one-line reason.
    """
    path = Path(path)
    if suffix is not None and path.suffix.lower() != suffix:
        raise FileFormatError(f"cannot write {path}: the output must be a {suffix} file (name it *{suffix})")
    if path.is_dir():
        raise FileFormatError(f"cannot write {path}: it is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise FileFormatError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise FileFormatError(f"cannot write {path}: permission denied")
    return path


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """Open a temporary file next to ``path``; rename it over ``path`` only on success.

    A crash or exception mid-write leaves any existing ``path`` untouched.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise FileFormatError(f"cannot write {path}: directory {parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise FileFormatError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        # mkstemp creates 0600; give the file the mode a plain open() would (target's, else umask).
        try:
            os.fchmod(fd, path.stat().st_mode & 0o7777)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file, fsync, rename)."""
    with atomic_write(path, "w") as fh:
        fh.write(text)


def to_jsonable(obj):
    """Convert numpy scalars/arrays, tuples and dataclass-like values to plain JSON types."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None if np.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def load_arrays(path) -> dict:
    """Read every array of an ``.npz`` file into memory, with clear errors for bad files."""
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"no such file: {path}")
    if path.is_dir():
        raise FileFormatError(f"{path} is a directory, not an .npz file")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise FileFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    if magic[:2] != b"PK":
        raise FileFormatError(f"{path} is not an .npz archive (no zip header)")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise FileFormatError(f"cannot read {path} as an .npz archive: {exc}") from None


def load(path, *, normalize: bool = False, unit_tol: float = UNIT_TOL, require_unit: bool = True,
         graph=None) -> Configuration:
    """Load a configuration from ``path`` (see the module docstring for the format).

    Parameters
    ----------
    normalize : bool
        Rescale rows to unit norm instead of refusing rows with | |x| - 1 | > unit_tol.
    require_unit : bool
        If False, the rows are normalised silently (for raw embeddings).
    graph : optional
        Overrides a graph stored in the file.
    """
    arrays = load_arrays(path)
    if "X" in arrays:
        X = arrays["X"]
    elif "U" in arrays and "V" in arrays:
        X = [arrays["U"], arrays["V"]]
    else:
        raise FileFormatError(f"{path} holds {sorted(arrays)}; expected 'X' (M, N, d) or 'U' and 'V' (N, d)")
    meta = {}
    if "meta" in arrays:
        try:
            meta = json.loads(str(arrays["meta"]))
            if not isinstance(meta, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise FileFormatError(f"{path}: 'meta' is not a JSON object ({exc})") from None
    if graph is None and "graph" in arrays:
        graph = str(arrays["graph"])
    try:
        Xa = as_array(X, normalize=normalize or not require_unit, unit_tol=unit_tol)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{path}: {exc}") from None
    meta.setdefault("source", str(path))
    return Configuration(Xa, graph, meta)


def save(path, config: Configuration, *, extra: dict | None = None) -> Path:
    """Write ``config`` to ``path`` as ``.npz`` atomically; returns the path written.

    ``extra`` adds further arrays (e.g. ``labels``).  The name must end in ``.npz``
    (:func:`check_writable`); it is never silently changed.
    """
    path = check_writable(path, ".npz")
    arrays = {"X": np.asarray(config.X), "graph": np.array(config.graph.spec),
              "meta": np.array(json.dumps(to_jsonable(config.meta)))}
    arrays.update(extra or {})
    with atomic_write(path) as fh:
        np.savez(fh, **arrays)
    return path

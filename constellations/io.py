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
import math
import os
import secrets
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npformat

from .configuration import UNIT_TOL, Configuration, as_array, check_memory
from .errors import ConfigurationError, ConstellationsError, FileFormatError

__all__ = ["load", "save", "load_arrays", "atomic_write", "atomic_write_text", "to_jsonable", "check_writable"]


def check_writable(path, suffix: str | None = None) -> Path:
    """Check, before any work starts, that ``path`` can be written; return it as a Path.

    One rule for every command: the parent directory must already exist (it is never created,
    so a mistyped directory is reported rather than silently made), must be writable, and
    ``path`` must not be a directory.  With ``suffix`` (e.g. ``".npz"``) the name must end in it:
    a file is never silently renamed.  A probe file is created and removed in the directory, so
    read-only and virtual file systems are caught too.  Raises :class:`FileFormatError` with a
    one-line reason.
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
    # os.access cannot see read-only or virtual file systems (/proc): create and remove a probe file,
    # just as atomic_write will create its temporary file there.
    probe = _scratch_name(parent, path.name, ".probe")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise FileFormatError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:  # named before it exists: removed even on Ctrl-C
        with contextlib.suppress(OSError):
            os.unlink(probe)
    return path


def _scratch_name(parent: Path, name: str, suffix: str) -> Path:
    """A fresh hidden name next to the target: ``.NAME.<random>SUFFIX``."""
    return parent / f".{name}.{secrets.token_hex(6)}{suffix}"


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """Open a temporary file next to ``path``; rename it over ``path`` only on success.

    A crash or exception mid-write leaves any existing ``path`` untouched.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise FileFormatError(f"cannot write {path}: directory {parent} does not exist")
    # The name is fixed before the file exists, so cleanup can remove it whatever interrupts (Ctrl-C).
    tmp = _scratch_name(parent, path.name, ".tmp")
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise FileFormatError(f"cannot write {path}: {exc.strerror or exc}") from None
        # created 0600; give the file the mode a plain open() would (target's, else umask).
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
    """Convert numpy scalars/arrays and tuples to plain JSON types.

    NaN and +-Inf become None (JSON null): JSON has no such numbers, and a number is never
    written as a string.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
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
        _check_members(path)
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ConstellationsError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise FileFormatError(f"cannot read {path} as an .npz archive: {_one_line(exc)}") from None


def _one_line(exc) -> str:
    return " ".join(str(exc).split())[:300]


def _check_members(path: Path) -> None:
    """Read the .npy headers only and refuse, before allocating, arrays that are pickled, larger than
    the bytes the archive holds for them, or too large for memory (:func:`check_memory`)."""
    total = 0
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as fh:
                version = npformat.read_magic(fh)
                if version == (1, 0):
                    shape, _, dtype = npformat.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, _, dtype = npformat.read_array_header_2_0(fh)
                else:
                    continue  # other versions: np.load's own checks
                header = fh.tell()
            name = info.filename[:-4]
            if dtype.hasobject:
                raise FileFormatError(f"{path}: array {name!r} holds Python objects; pickled data is never loaded")
            nbytes = math.prod(int(n) for n in shape) * dtype.itemsize
            if nbytes > info.file_size - header:
                raise FileFormatError(f"{path}: array {name!r} declares shape {tuple(shape)} ({nbytes} bytes) but "
                                      f"the archive holds {max(0, info.file_size - header)} bytes for it (truncated?)")
            total += nbytes
    check_memory(2 * total, f"loading {path}")  # the arrays and their validated float64 copy


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

"""Reading and writing configurations as ``.npz`` files or text coordinates, atomically.

Formats
-------
By the suffix of the name: ``.txt``, ``.dat`` and ``.csv`` are text, one point per line
(:mod:`constellations.io.coordinates`: the layouts of the code tables, Sloane's and Lai et al.'s included),
holding ONE spherical code C of shape (N, d), loaded as the tied configuration X[k] = C for every k
(m = (1 - c)/2, docs/math.md section 2); any other name is an ``.npz`` archive holding either

- ``X``: float array of shape (M, N, d), or
- ``U`` and ``V``: float arrays of shape (N, d) (two modalities),

plus optional ``meta`` (a JSON object stored as a 0-d unicode array), optional
``graph`` (a string accepted by :func:`~constellations.core.graphs.parse_graph`) and,
for analysis of real embeddings, optional integer ``labels`` of shape (N,).
"""
from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import secrets
import stat
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npformat

from constellations.core.configuration import UNIT_TOL, Configuration, as_array, check_memory, tied
from constellations.core.errors import ConfigurationError, ConstellationsError, FileFormatError
from constellations.io.coordinates import TEXT_SUFFIXES, code_comments, format_code, parse_code

__all__ = ["load", "save", "load_arrays", "atomic_write", "atomic_write_text", "to_jsonable", "check_writable",
           "stat_or_none", "shown", "os_reason", "CONFIG_SUFFIXES", "TEXT_SUFFIXES", "is_text"]

#: Names a configuration may be written to: an ``.npz`` archive, or text (one spherical code).
CONFIG_SUFFIXES = (".npz",) + TEXT_SUFFIXES

#: Bytes of memory reading a text file may take per byte of text (Python floats and lists while parsing).
_TEXT_BYTES_PER_BYTE = 24


def is_text(path) -> bool:
    """Whether ``path`` names a text file of coordinates (by its suffix, :data:`TEXT_SUFFIXES`)."""
    return Path(path).suffix.lower() in TEXT_SUFFIXES


def check_writable(path, suffix: str | tuple[str, ...] | None = None) -> Path:
    """Check, before any work starts, that ``path`` can be written; return it as a Path.

    One rule for every command: the parent directory must already exist (it is never created,
    so a mistyped directory is reported rather than silently made), must be writable, and
    ``path`` must not be a directory.  With ``suffix`` (e.g. ``".npz"``, or a tuple of suffixes such as
    :data:`CONFIG_SUFFIXES`) the name must end in it: a file is never silently renamed.  A probe file
    is created and removed in the directory, so read-only and virtual file systems are caught too.
    Raises :class:`FileFormatError` with a one-line reason, also for names the file system cannot hold
    (a name over NAME_MAX bytes, a path over PATH_MAX).
    """
    path = Path(path)
    suffixes = (suffix,) if isinstance(suffix, str) else suffix
    if suffixes is not None and path.suffix.lower() not in suffixes:
        kinds = suffixes[0] if len(suffixes) == 1 else ", ".join(suffixes[:-1]) + " or " + suffixes[-1]
        raise FileFormatError(f"cannot write {shown(path)}: the output must be a {kinds} file (name it "
                              f"*{suffixes[0]})")
    st = stat_or_none(path, "write")
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise FileFormatError(f"cannot write {shown(path)}: it is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    pst = stat_or_none(parent, "write", shown_as=path)
    if pst is None or not stat.S_ISDIR(pst.st_mode):
        raise FileFormatError(f"cannot write {shown(path)}: directory {shown(parent)} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (st is not None and not os.access(path, os.W_OK)):
        raise FileFormatError(f"cannot write {shown(path)}: permission denied")
    # os.access cannot see read-only or virtual file systems (/proc): create and remove a probe file,
    # just as atomic_write will create its temporary file there.
    probe = _scratch_name(parent, path.name, ".probe")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise FileFormatError(f"cannot write {shown(path)}: {os_reason(path, exc)}") from None
    finally:  # named before it exists: removed even on Ctrl-C
        with contextlib.suppress(OSError):
            os.unlink(probe)
    return path


def stat_or_none(path, action: str = "read", *, shown_as=None) -> os.stat_result | None:
    """``os.stat(path)``, or None when nothing is there; any other failure is a :class:`FileFormatError`.

    "Nothing there" is ENOENT, or ENOTDIR (a component is a file).  Everything else (a name too
    long for the file system, permission denied on a directory, a symlink loop) becomes
    ``cannot <action> <path>: <reason>`` on one line, so no command shows a traceback for a path.
    ``shown_as`` names the path in the message (default ``path``).
    """
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        named = path if shown_as is None else shown_as
        raise FileFormatError(f"cannot {action} {shown(named)}: {os_reason(named, exc)}") from None
    except ValueError as exc:  # an embedded NUL byte
        raise FileFormatError(f"cannot {action} {shown(path if shown_as is None else shown_as)}: {exc}") from None


def shown(path, width: int = 120) -> str:
    """``path`` for a one-line message: paths longer than ``width`` characters keep their two ends."""
    text = str(path)
    if len(text) <= width:
        return text
    return f"{text[:width // 2]}...{text[-(width // 3):]} ({len(os.fsencode(text))} bytes)"


def os_reason(path, exc: OSError) -> str:
    """The reason of an OSError on ``path`` in words; for ENAMETOOLONG, which limit is exceeded."""
    if exc.errno != errno.ENAMETOOLONG:
        return exc.strerror or str(exc)
    name_max, path_max = _limit("PC_NAME_MAX", 255), _limit("PC_PATH_MAX", 4096)
    longest = max((len(os.fsencode(p)) for p in Path(path).parts), default=0)
    total = len(os.fsencode(str(path)))
    if longest > name_max:
        return f"file name too long (a name of {longest} bytes; the file system allows {name_max} per name)"
    if total >= path_max:
        return f"path too long ({total} bytes; the limit is {path_max - 1})"
    return f"file name too long ({exc.strerror or exc})"


def _limit(name: str, default: int) -> int:
    try:
        return int(os.pathconf(".", name))
    except (OSError, ValueError):
        return default


#: Bytes of the target's name kept in a scratch name: ``.NAME.<12 hex>.probe`` must itself fit NAME_MAX.
_SCRATCH_NAME_BYTES = 200


def _scratch_name(parent: Path, name: str, suffix: str) -> Path:
    """A fresh hidden name next to the target: ``.NAME.<random>SUFFIX`` (NAME cut to 200 bytes)."""
    head = os.fsencode(name)[:_SCRATCH_NAME_BYTES]
    return parent / f".{os.fsdecode(head)}.{secrets.token_hex(6)}{suffix}"


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """Open a temporary file next to ``path``; rename it over ``path`` only on success.

    A crash or exception mid-write leaves any existing ``path`` untouched.  Failures of the
    file system (no such directory, a name too long, no space) raise :class:`FileFormatError`.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    pst = stat_or_none(parent, "write", shown_as=path)
    if pst is None or not stat.S_ISDIR(pst.st_mode):
        raise FileFormatError(f"cannot write {shown(path)}: directory {shown(parent)} does not exist")
    # The name is fixed before the file exists, so cleanup can remove it whatever interrupts (Ctrl-C).
    tmp = _scratch_name(parent, path.name, ".tmp")
    try:
        with _open_scratch(tmp, path, mode) as fh:
            yield fh
            _os_step(path, fh.flush)
            _os_step(path, os.fsync, fh.fileno())
        _os_step(path, os.replace, tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _open_scratch(tmp: Path, path: Path, mode: str):
    """Create ``tmp`` exclusively with the mode a plain open() of ``path`` would give (target's, else umask)."""
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise FileFormatError(f"cannot write {shown(path)}: {os_reason(path, exc)}") from None
    try:
        st = stat_or_none(path, "write")
        if st is not None:
            os.fchmod(fd, st.st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def _os_step(path: Path, fn, *args) -> None:
    """Run one file-system step of writing ``path``; an OSError becomes a one-line FileFormatError."""
    try:
        fn(*args)
    except FileFormatError:
        raise
    except OSError as exc:
        raise FileFormatError(f"cannot write {shown(path)}: {os_reason(path, exc)}") from None


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
    st = stat_or_none(path, "read")
    if st is None:
        raise FileFormatError(f"no such file: {shown(path)}")
    if stat.S_ISDIR(st.st_mode):
        raise FileFormatError(f"{shown(path)} is a directory, not an .npz file")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise FileFormatError(f"cannot read {shown(path)}: {os_reason(path, exc)}") from None
    if magic[:2] != b"PK":
        raise FileFormatError(f"{shown(path)} is not an .npz archive (no zip header; text coordinates are read "
                              f"from {', '.join(TEXT_SUFFIXES)} files)")
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
         graph=None, dim: int | None = None, modalities: int = 2) -> Configuration:
    """Load a configuration from ``path`` (see the module docstring for the formats).

    Parameters
    ----------
    normalize : bool
        Rescale rows to unit norm instead of refusing rows with | |x| - 1 | > unit_tol.  Rows within
        the tolerance are kept as written (the certificate normalises them exactly, docs/math.md 6).
    require_unit : bool
        If False, the rows are normalised silently (for raw embeddings).
    graph : optional
        Overrides a graph stored in the file.
    dim : int, optional
        The dimension d of a text file with one number per line (Sloane's layout; else taken from a name
        ``NAME.D.N.txt``); for every other file it is checked against the points.
    modalities : int
        Text files only: the code is used tied over this many modalities (default 2).  ``.npz`` files
        carry their own M.

    For a text file ``meta`` records ``format`` ("text"), ``layout``, ``header``, ``stated`` (what a header
    states: smallest distance and angle, the margin D^2/4 they imply and its uncertainty from the written
    digits, :class:`~constellations.io.coordinates.CodeText`), ``max_norm_deviation`` (the largest
    | |x| - 1 | of the rows as written) and ``normalized``.
    """
    if is_text(path):
        return _load_text(Path(path), normalize=normalize or not require_unit, unit_tol=unit_tol, graph=graph,
                          dim=dim, modalities=modalities)
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
    if dim is not None and Xa.shape[2] != dim:
        raise ConfigurationError(f"{path}: the points have dimension {Xa.shape[2]}, but the dimension given is {dim}")
    return Configuration(Xa, graph, meta)


def _load_text(path: Path, *, normalize: bool, unit_tol: float, graph, dim, modalities) -> Configuration:
    """A text file of coordinates as the tied configuration of its code (:func:`load`)."""
    if isinstance(modalities, bool) or not isinstance(modalities, (int, np.integer)) or modalities < 2:
        raise ConfigurationError(f"a code is used tied over at least 2 modalities, got {modalities!r}")
    parsed = parse_code(_read_text(path), shown(path), dim=dim)
    P = parsed.points
    peak = np.abs(P).max(axis=1)
    if (peak == 0).any():
        i = int(np.argmax(peak == 0))
        raise ConfigurationError(f"{shown(path)}:{parsed.lines[i]}: point {i} is zero and has no direction")
    norms = peak * np.linalg.norm(P / peak[:, None], axis=1)  # scaled: no overflow for rows near 1e300
    dev = np.abs(norms - 1.0)
    if not normalize and dev.max() > unit_tol:
        i = int(np.argmax(dev))
        raise ConfigurationError(
            f"{shown(path)}:{parsed.lines[i]}: point {i} has norm {norms[i]:.6g}, not 1 (tolerance {unit_tol:g}); "
            "pass normalize=True (CLI: --normalize) to rescale the points")
    try:
        code = as_array(P[None], normalize=normalize, unit_tol=unit_tol, min_modalities=1)[0]
    except ConfigurationError as exc:
        raise ConfigurationError(f"{shown(path)}: {exc}") from None
    meta = {"source": str(path), "format": "text", "layout": parsed.layout, "header": parsed.header,
            "max_norm_deviation": float(dev.max()), "normalized": bool(normalize)}
    if parsed.stated:
        meta["stated"] = dict(parsed.stated)
    return tied(code, int(modalities), graph, meta)


def require_file(path: Path, what: str) -> os.stat_result:
    """The stat of ``path``; a missing path or a directory is a one-line :class:`FileFormatError`
    ("... is a directory, not {what}")."""
    st = stat_or_none(path, "read")
    if st is None:
        raise FileFormatError(f"no such file: {shown(path)}")
    if stat.S_ISDIR(st.st_mode):
        raise FileFormatError(f"{shown(path)} is a directory, not {what}")
    return st


def _read_text(path: Path) -> str:
    """The content of a text file, UTF-8; missing, binary and oversized files are one-line errors."""
    st = require_file(path, "a text file of coordinates")
    check_memory(_TEXT_BYTES_PER_BYTE * st.st_size, f"reading {shown(path)}")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise FileFormatError(f"cannot read {shown(path)}: {os_reason(path, exc)}") from None
    if data[:2] == b"PK":
        raise FileFormatError(f"{shown(path)} is an .npz archive, not text: name it *.npz")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise FileFormatError(f"{shown(path)}:{line}: not UTF-8 text (byte {exc.start}); is it a binary file?") \
            from None


def save(path, config: Configuration, *, extra: dict | None = None, certificate=None) -> Path:
    """Write ``config`` to ``path`` atomically; returns the path written.

    The name must end in one of :data:`CONFIG_SUFFIXES` (:func:`check_writable`); it is never
    silently changed.  ``.npz``: the array ``X``, the graph and ``meta``; ``extra`` adds further arrays
    (e.g. ``labels``).  Text (``.txt``, ``.dat``, ``.csv``): one spherical code, so every modality must
    equal the first (a tied configuration; otherwise :class:`ConfigurationError`, nothing written), written
    one point per line in full float64 precision (:func:`~constellations.io.coordinates.format_code`: it
    reads back bit for bit) under ``#`` comments with N, d and, from ``certificate`` (any result with
    ``margin`` and ``margin_certified``: a :class:`~constellations.core.certify.CertifiedMargin`, a search
    result), the margin, the largest inner product, the smallest distance and angle and the certified
    margin (:func:`~constellations.io.coordinates.code_comments`).  Nothing is computed here: without
    ``certificate`` the comments say so.
    """
    path = check_writable(path, CONFIG_SUFFIXES)
    if is_text(path):
        _save_text(path, config, extra, certificate)
        return path
    arrays = {"X": np.asarray(config.X), "graph": np.array(config.graph.spec),
              "meta": np.array(json.dumps(to_jsonable(config.meta)))}
    arrays.update(extra or {})
    with atomic_write(path) as fh:
        np.savez(fh, **arrays)
    return path


def _save_text(path: Path, config: Configuration, extra, certificate) -> None:
    """One code as text (:func:`save`)."""
    if extra:
        raise ConfigurationError(f"cannot write {shown(path)}: extra arrays ({', '.join(sorted(extra))}) need an "
                                 ".npz file")
    X = np.asarray(config.X)
    if not all(np.array_equal(X[k], X[0]) for k in range(1, X.shape[0])):
        raise ConfigurationError(f"cannot write {shown(path)}: a text file holds one spherical code, and the "
                                 f"{X.shape[0]} modalities of this configuration differ; write .npz instead")
    margin = getattr(certificate, "margin", None)
    certified = getattr(certificate, "margin_certified", None)
    method = getattr(certificate, "method", None) or getattr(certificate, "certified_by", None)
    comments = code_comments(config.N, config.d, margin=margin, margin_certified=certified, method=method,
                             meta=to_jsonable(config.meta))
    atomic_write_text(path, format_code(X[0], comments, sep="," if path.suffix.lower() == ".csv" else " "))

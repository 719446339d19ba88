"""An embedded, resumable store of margin-table cells (SQLite).

Guarantees
----------
- **One transaction per finished cell.** :meth:`TableStore.record` writes a cell in a single
  ``BEGIN IMMEDIATE ... COMMIT``; the database runs in WAL mode with ``synchronous=FULL``, so a
  process killed with SIGKILL loses at most the cells still being computed, never a committed one.
- **Improve, never worsen.** A result replaces the stored one only if its margin is strictly
  larger.  Otherwise the stored configuration and margin are kept and only the bookkeeping
  (effort asked for, attempts, total seconds) is updated.  The certified upper bound kept is the
  smallest one seen (every one of them is a valid bound).
- **Concurrent runs.** Two processes writing the same store serialise on SQLite's write lock
  (``busy_timeout`` waits up to ``timeout`` seconds); the read-compare-write of a cell happens
  inside one immediate transaction, so neither can overwrite a better cell of the other.
- **Readers leave no trace.** A read-only open (``table show``, ``verify``, ``export``) creates no
  file beside the store (:class:`TableStore` ``readonly``).
- **Corrupt files are refused, never overwritten.** Opening a file that is not an SQLite
  database, fails ``PRAGMA quick_check`` or is an SQLite database of another program raises
  :class:`StoreError` (a :class:`~constellations.core.errors.FileFormatError`) before anything is
  written.

Every cell keeps its configuration as a compressed ``.npz`` blob (arrays ``X``, ``graph``,
``meta``: the format of :mod:`constellations.io.files`), so that it can be re-verified from the store
alone (:meth:`TableStore.configuration`, :meth:`TableStore.export`).
"""
from __future__ import annotations

import datetime as _dt
import io as _io
import json
import math
import os
import socket
import sqlite3
import stat
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from constellations.core.configuration import Configuration, as_array, memory_limit
from constellations.core.errors import FileFormatError
from constellations.core.results import Result, Status
from constellations.io.files import save, stat_or_none, to_jsonable

from constellations.tables.grid import Cell, CellKey, parse_int_list

__all__ = ["TableStore", "StoreError", "CellResult", "StoredCell", "default_store_path",
           "config_to_blob", "blob_to_arrays", "APPLICATION_ID", "SCHEMA_VERSION"]

#: ``PRAGMA application_id`` of a constellations store ("CNST").
APPLICATION_ID = 0x434E5354
SCHEMA_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    n INTEGER NOT NULL,
    dim INTEGER NOT NULL,
    modalities INTEGER NOT NULL,
    graph TEXT NOT NULL,
    tied INTEGER NOT NULL,
    margin REAL NOT NULL,
    b_rel REAL NOT NULL,
    margin_cert REAL,
    margin_upper REAL,
    upper_method TEXT,
    restarts INTEGER,
    seconds REAL,
    seed INTEGER,
    solver TEXT,
    solver_version TEXT,
    restarts_requested INTEGER NOT NULL,
    time_requested REAL,
    attempts INTEGER NOT NULL,
    seconds_total REAL NOT NULL,
    config BLOB NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    host TEXT,
    PRIMARY KEY (n, dim, modalities, graph, tied)
);
CREATE TABLE IF NOT EXISTS store_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoreError(FileFormatError):
    """The store file is corrupt, of another program, of a newer schema, or cannot be opened."""


def default_store_path() -> Path:
    """``$CONSTELLATIONS_STORE``, else ``$XDG_DATA_HOME/constellations/tables.sqlite``,
    else ``~/.local/share/constellations/tables.sqlite``."""
    env = os.environ.get("CONSTELLATIONS_STORE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "constellations" / "tables.sqlite"


def config_to_blob(X, graph: str = "complete", meta: dict | None = None) -> bytes:
    """Serialise a configuration array (M, N, d) as compressed ``.npz`` bytes (the io format)."""
    buf = _io.BytesIO()
    np.savez_compressed(buf, X=np.ascontiguousarray(np.asarray(X, dtype=np.float64)), graph=np.array(str(graph)),
                        meta=np.array(json.dumps(to_jsonable(meta or {}))))
    return buf.getvalue()


def blob_to_arrays(blob: bytes) -> dict:
    with np.load(_io.BytesIO(blob), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@dataclass(frozen=True)
class CellResult(Result):
    """What a worker returns for one cell (plain data, cheap to pickle).

    Attributes
    ----------
    n, dim, modalities, graph, tied
        The cell's key.
    margin, b_rel : float
        Best margin m* = (pos - neg)/2 and b*_rel = (pos + neg)/2 of ``config``, in float64.
    margin_certified : float or None
        Certified lower bound on the margin of the exactly normalised rows
        (:func:`constellations.core.certify.certified_margin`; stored in the column ``margin_cert``).
    margin_upper : float or None
        Certified upper bound on the margin of *any* configuration of this (N, d), from
        ``bounds.margin_upper``; ``upper_method`` says which bound.
    restarts : int
        Restarts the search actually completed.
    seconds : float
        Wall time of the cell on its worker.
    seed, solver, solver_version
        Reproducibility: the search's seed, the cell function's name and the toolkit version.
    restarts_requested, time_requested
        The effort asked for (``time_requested`` None means no limit).
    config : bytes
        The configuration as ``.npz`` bytes (see :func:`config_to_blob`).
    """

    n: int
    dim: int
    modalities: int
    graph: str
    tied: bool
    margin: float
    b_rel: float
    margin_certified: float | None
    margin_upper: float | None
    upper_method: str | None
    restarts: int
    seconds: float
    seed: int
    solver: str
    solver_version: str
    restarts_requested: int
    time_requested: float | None
    config: bytes

    @property
    def status(self) -> Status:
        """COMPLETED: a stored cell is a finished computation (interrupted cells are not stored)."""
        return Status.COMPLETED

    @property
    def message(self) -> str:
        cert = "-" if self.margin_certified is None else f"{self.margin_certified:.12g}"
        return f"cell N={self.n} d={self.dim} M={self.modalities}: m = {self.margin:.12g} (certified >= {cert}) " \
               f"by {self.solver}"

    @property
    def key(self) -> CellKey:
        return (int(self.n), int(self.dim), int(self.modalities), str(self.graph), bool(self.tied))

    @classmethod
    def for_cell(cls, cell: Cell, **values) -> "CellResult":
        return cls(n=cell.n, dim=cell.dim, modalities=cell.modalities, graph=cell.graph, tied=cell.tied,
                   restarts_requested=cell.restarts, time_requested=cell.time_limit, **values)


@dataclass(frozen=True)
class StoredCell:
    """One row of the store (the configuration blob is loaded separately).

    ``gap_ratio`` is ``margin / margin_upper``: the fraction of the certified ceiling reached
    (1 means the cell is provably optimal; None when no upper bound is stored).
    """

    n: int
    dim: int
    modalities: int
    graph: str
    tied: bool
    margin: float
    b_rel: float
    margin_certified: float | None
    margin_upper: float | None
    upper_method: str | None
    restarts: int | None
    seconds: float | None
    seed: int | None
    solver: str | None
    solver_version: str | None
    restarts_requested: int
    time_requested: float | None
    attempts: int
    seconds_total: float
    created: str
    updated: str
    host: str | None

    @property
    def key(self) -> CellKey:
        return (self.n, self.dim, self.modalities, self.graph, self.tied)

    @property
    def gap_ratio(self) -> float | None:
        if self.margin_upper is None or not self.margin_upper > 0:
            return None
        return self.margin / self.margin_upper

    def as_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["gap_ratio"] = self.gap_ratio
        return d


_ROW_FIELDS = [f.name for f in fields(StoredCell)]
# schema 1 names the column margin_cert; the field (and every output) says margin_certified
_COLUMN = {"margin_certified": "margin_cert"}
_SELECT = ", ".join(_COLUMN.get(f, f) for f in _ROW_FIELDS)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _row_to_cell(row) -> StoredCell:
    d = dict(zip(_ROW_FIELDS, row))
    d["tied"] = bool(d["tied"])
    return StoredCell(**d)


def _covers(stored_time: float | None, asked_time: float | None) -> bool:
    """Did an attempt with time limit ``stored_time`` use at least ``asked_time``? (None = unlimited)."""
    if stored_time is None:
        return True
    if asked_time is None:
        return False
    return stored_time >= asked_time


#: Largest store that a read-only open reads into memory (bytes); a larger one is read in place.
SNAPSHOT_LIMIT = 1 << 30


def _quiet(p: Path) -> bool:
    """No writer is at work on ``p``: neither a write-ahead log nor a rollback journal beside it."""
    return not any(p.with_name(p.name + tail).exists() for tail in ("-wal", "-journal"))


def _snapshot(p: Path) -> bytes | None:
    """The bytes of the store ``p`` read while no writer is at work, or None.

    A store in WAL mode keeps its ``-wal`` file while any connection is open, and its main file is
    only written by a checkpoint, with the ``-wal`` there; a store in rollback mode is written with
    its ``-journal`` there.  So the bytes read between two looks that find neither file, with the
    file's size, inode and modification time unchanged, are the store as of its last commit.
    None when a writer is at work (three tries), or the store is over :data:`SNAPSHOT_LIMIT`.
    """
    for _ in range(3):
        if not _quiet(p):
            return None
        before = os.stat(p)
        if before.st_size > min(SNAPSHOT_LIMIT, memory_limit() // 4):
            return None
        with open(p, "rb") as fh:
            data = fh.read()
        after = os.stat(p)
        same = (before.st_ino, before.st_size, before.st_mtime_ns) == (after.st_ino, after.st_size, after.st_mtime_ns)
        if same and len(data) == after.st_size and _quiet(p):
            return data
    return None


def _snapshot_connection(p: Path):
    """An in-memory SQLite connection holding :func:`_snapshot` of ``p``, or None.

    Reading a store this way creates nothing beside it: SQLite opens a WAL-mode database, even
    read-only (``mode=ro``), by creating its ``-wal`` and ``-shm`` files, which would then be left
    beside the user's store.  The snapshot's header is marked rollback mode (bytes 18 and 19: a
    WAL-mode image cannot be deserialised); its content is unchanged.
    """
    data = _snapshot(p)
    if data is None or not hasattr(sqlite3.Connection, "deserialize"):
        return None
    image = bytearray(data)
    if len(image) >= 20 and image[18:20] == b"\x02\x02":
        image[18:20] = b"\x01\x01"
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    try:
        conn.deserialize(bytes(image))
    except BaseException:
        conn.close()
        raise
    return conn


def _stat(path, action):
    """``os.stat`` or None when nothing is there; an unusable path (a name too long, ...) is a
    :class:`StoreError` of one line (:func:`constellations.io.files.stat_or_none`)."""
    try:
        return stat_or_none(path, action)
    except FileFormatError as exc:
        raise StoreError(str(exc)) from None


class TableStore:
    """A margin-table store in one SQLite file.

    Parameters
    ----------
    path : path-like, optional
        The database file, created if missing (unless ``readonly``).  Its directory must
        already exist: it is never created, so a mistyped directory is reported.  Only the
        default location (``path`` None: :func:`default_store_path`) has its directory created.
    readonly : bool
        Open without ever writing (``table show``, ``verify``, ``export``); a missing file is then an
        error.  Nothing is created beside the file: a store that no writer is using is read into
        memory at once (:func:`_snapshot`); one being written is read in place through SQLite's
        write-ahead log, whose ``-wal`` and ``-shm`` files its writer has created already.
    timeout : float
        Seconds to wait for another process's write lock.

    Raises
    ------
    StoreError
        Corrupt file, another program's database, a newer schema, or an unopenable path.
        The file is left exactly as it was.
    """

    def __init__(self, path=None, *, readonly: bool = False, timeout: float = 60.0):
        default = path is None
        self.path = Path(path).expanduser() if not default else default_store_path()
        self.readonly = bool(readonly)
        self._timeout = float(timeout)
        self._conn = None
        p = self.path
        st = _stat(p, "open store")
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise StoreError(f"store {p} is a directory, not a file")
        exists = st is not None and st.st_size > 0
        if exists:
            self._check_header(p)
        elif readonly:
            raise StoreError(f"no table store at {p} (run `constellations table` first, or pass --store)")
        elif default:
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the directory of store {p}: {exc}") from None
        elif (parent := _stat(p.parent, "open the directory of store")) is None or not stat.S_ISDIR(parent.st_mode):
            raise StoreError(f"cannot create store {p}: directory {p.parent} does not exist")
        elif not os.access(p.parent, os.W_OK | os.X_OK):
            raise StoreError(f"cannot create store {p}: permission denied")
        try:
            self._conn = self._connect(p, readonly)
            if exists:
                self._validate()
            else:
                self._create()
            if not readonly:
                mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":  # pragma: no cover - e.g. some network file systems
                    raise StoreError(f"store {p}: cannot switch to WAL mode (got {mode})")
                self._conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            self.close()
            if not exists:
                raise StoreError(f"cannot create store {p}: {exc}") from None
            raise StoreError(f"store {p} is corrupt or unreadable ({exc}); it was left untouched") from None
        except BaseException:
            self.close()
            raise

    # -- opening -----------------------------------------------------------------------------
    @staticmethod
    def _check_header(p: Path) -> None:
        try:
            with open(p, "rb") as fh:
                head = fh.read(len(_SQLITE_MAGIC))
        except OSError as exc:
            raise StoreError(f"cannot read store {p}: {exc}") from None
        if head != _SQLITE_MAGIC:
            raise StoreError(f"store {p} is not an SQLite database (corrupt, or another kind of file); "
                             "it was left untouched")

    def _connect(self, p: Path, readonly: bool):
        if readonly:
            conn = _snapshot_connection(p)
            if conn is None:  # a writer is at work (its -wal is there already), or a very large store
                uri = "file:" + p.resolve().as_posix().replace("?", "%3f").replace("#", "%23") + "?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=self._timeout, isolation_level=None,
                                       check_same_thread=False)
        else:
            conn = sqlite3.connect(str(p), timeout=self._timeout, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
        return conn

    def _validate(self) -> None:
        c = self._conn
        app = c.execute("PRAGMA application_id").fetchone()[0]
        if app != APPLICATION_ID:
            raise StoreError(f"{self.path} is an SQLite database but not a constellations table store "
                             f"(application_id {app:#x}); it was left untouched")
        ver = c.execute("PRAGMA user_version").fetchone()[0]
        if ver > SCHEMA_VERSION:
            raise StoreError(f"store {self.path} has schema version {ver}, newer than this toolkit's "
                             f"{SCHEMA_VERSION}; upgrade constellations")
        check = [r[0] for r in c.execute("PRAGMA quick_check").fetchall()]
        if check != ["ok"]:
            raise StoreError(f"store {self.path} is corrupt ({'; '.join(map(str, check[:3]))}); "
                             "it was left untouched")
        names = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "cells" not in names:
            raise StoreError(f"store {self.path} has no 'cells' table; it was left untouched")

    def _create(self) -> None:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            app = c.execute("PRAGMA application_id").fetchone()[0]
            names = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if names and app != APPLICATION_ID:  # another process created something else meanwhile
                raise StoreError(f"{self.path} is an SQLite database but not a constellations table store")
            for stmt in filter(str.strip, _SCHEMA.split(";")):
                c.execute(stmt)
            c.execute(f"PRAGMA application_id={APPLICATION_ID}")
            c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            c.execute("INSERT OR IGNORE INTO store_info VALUES ('created', ?)", (_now(),))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    # -- context management -------------------------------------------------------------------
    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _c(self):
        if self._conn is None:
            raise StoreError(f"store {self.path} is closed")
        return self._conn

    # -- reading -------------------------------------------------------------------------------
    def get(self, key) -> StoredCell | None:
        """The stored cell of ``key`` (a :class:`Cell` or a key tuple), or None."""
        key = key.key if hasattr(key, "key") else tuple(key)
        row = self._c().execute(
            f"SELECT {_SELECT} FROM cells WHERE n=? AND dim=? AND modalities=? AND graph=? AND tied=?",
            (int(key[0]), int(key[1]), int(key[2]), str(key[3]), int(bool(key[4])))).fetchone()
        return None if row is None else _row_to_cell(row)

    def cells(self, *, n=None, dims=None, modalities=None, graph=None, tied=None) -> list[StoredCell]:
        """Stored cells, optionally filtered (``n``, ``dims``, ``modalities``: iterables of int),
        ordered by (N, d, tied, M, graph)."""
        where, args = [], []
        for col, vals in (("n", n), ("dim", dims), ("modalities", modalities)):
            if vals is not None:
                vals = [int(v) for v in vals]
                where.append(f"{col} IN ({','.join('?' * len(vals))})")
                args.extend(vals)
        if graph is not None:
            where.append("graph=?")
            args.append(str(graph))
        if tied is not None:
            where.append("tied=?")
            args.append(int(bool(tied)))
        sql = f"SELECT {_SELECT} FROM cells"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY n, dim, tied, modalities, graph"
        return [_row_to_cell(r) for r in self._c().execute(sql, args).fetchall()]

    def select(self, *, n=None, dims=None, modalities=None, graph=None, tied=None) -> list[StoredCell]:
        """The stored cells a user's filters select (``table show``, ``table verify``).

        ``n``, ``dims``, ``modalities``: spec strings (``"8,16"``, ``"2:12"``; :func:`~tables.grid.parse_int_list`)
        or iterables of int; ``modalities`` keeps every tied cell (a code is a constellation for every M);
        ``graph`` and ``tied`` as in :meth:`cells`.
        """
        ns, ds, ms = (None if v is None else parse_int_list(v, name, minimum=low)
                      for v, name, low in ((n, "--n", 2), (dims, "--dims", 1), (modalities, "--modalities", 2)))
        rows = self.cells(n=ns, dims=ds, tied=tied, graph=graph)
        if ms is not None:
            rows = [r for r in rows if r.tied or r.modalities in ms]
        return rows

    def __len__(self) -> int:
        return self._c().execute("SELECT COUNT(*) FROM cells").fetchone()[0]

    def config_blob(self, key) -> bytes:
        key = key.key if hasattr(key, "key") else tuple(key)
        row = self._c().execute(
            "SELECT config FROM cells WHERE n=? AND dim=? AND modalities=? AND graph=? AND tied=?",
            (int(key[0]), int(key[1]), int(key[2]), str(key[3]), int(bool(key[4])))).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def configuration(self, key):
        """The stored configuration of ``key`` as a :class:`~constellations.core.configuration.Configuration`."""
        arrays = blob_to_arrays(self.config_blob(key))
        meta = json.loads(str(arrays["meta"])) if "meta" in arrays else {}
        X = as_array(arrays["X"])
        return Configuration(X, str(arrays["graph"]), meta)

    def export(self, key, path) -> Path:
        """Write the stored configuration of ``key`` to ``path`` (``.npz``, atomically)."""
        return save(path, self.configuration(key))

    def needs_work(self, cell: Cell) -> bool:
        """True if ``cell`` is missing, or was attempted with fewer restarts or less time than asked."""
        s = self.get(cell.key)
        if s is None:
            return True
        return not (s.restarts_requested >= cell.restarts and _covers(s.time_requested, cell.time_limit))

    def pending(self, cells) -> list[Cell]:
        """The cells of ``cells`` that :meth:`needs_work`."""
        return [c for c in cells if self.needs_work(c)]

    # -- writing -------------------------------------------------------------------------------
    def record(self, result: CellResult) -> str:
        """Store one finished cell in one transaction; never replace a better margin.

        Returns
        -------
        ``"new"`` (the cell was missing), ``"improved"`` (strictly larger margin: replaced) or
        ``"kept"`` (the stored margin was at least as good; only bookkeeping updated).
        """
        if self.readonly:
            raise StoreError(f"store {self.path} is open read-only")
        if not (isinstance(result.margin, float) or isinstance(result.margin, (int, np.floating))) \
                or not math.isfinite(float(result.margin)):
            raise ValueError(f"cell {result.key}: margin {result.margin!r} is not a finite number")
        c = self._c()
        key = result.key
        kargs = (key[0], key[1], key[2], key[3], int(key[4]))
        now = _now()
        host = socket.gethostname()
        c.execute("BEGIN IMMEDIATE")
        try:
            row = c.execute(f"SELECT {_SELECT} FROM cells WHERE n=? AND dim=? AND modalities=? AND graph=? "
                            "AND tied=?", kargs).fetchone()
            old = None if row is None else _row_to_cell(row)
            upper, method = result.margin_upper, result.upper_method
            if old is not None and old.margin_upper is not None and (upper is None or old.margin_upper < upper):
                upper, method = old.margin_upper, old.upper_method
            if old is None:
                status = "new"
            elif float(result.margin) > old.margin:
                status = "improved"
            else:
                status = "kept"
            if old is None:
                req_r, req_t, attempts, total, created = (result.restarts_requested, result.time_requested, 1,
                                                          float(result.seconds), now)
            else:
                req_r = max(old.restarts_requested, int(result.restarts_requested))
                if old.time_requested is None or result.time_requested is None:
                    req_t = None
                else:
                    req_t = max(old.time_requested, float(result.time_requested))
                attempts, total, created = old.attempts + 1, old.seconds_total + float(result.seconds), old.created
            if status == "kept":
                c.execute("UPDATE cells SET margin_upper=?, upper_method=?, restarts_requested=?, time_requested=?, "
                          "attempts=?, seconds_total=?, updated=? "
                          "WHERE n=? AND dim=? AND modalities=? AND graph=? AND tied=?",
                          (upper, method, req_r, req_t, attempts, total, now) + kargs)
            else:
                c.execute("INSERT OR REPLACE INTO cells (n, dim, modalities, graph, tied, margin, b_rel, "
                          "margin_cert, margin_upper, upper_method, restarts, seconds, seed, solver, solver_version, "
                          "restarts_requested, time_requested, attempts, seconds_total, config, created, updated, host) "
                          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                          kargs + (float(result.margin), float(result.b_rel),
                                   None if result.margin_certified is None else float(result.margin_certified),
                                   None if upper is None else float(upper), method,
                                   int(result.restarts), float(result.seconds), int(result.seed), str(result.solver),
                                   str(result.solver_version), int(req_r), req_t, attempts, total,
                                   sqlite3.Binary(result.config), created, now, host))
            c.execute("COMMIT")
        except BaseException:
            try:
                c.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise
        return status

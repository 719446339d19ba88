"""The margin-table store: keys, resume bookkeeping, improve-never-worsen, corruption, concurrency.

Every stored value here comes from a real configuration re-verified by ``finish_cell``: regular
simplices (m = N/(2(N-1)) exactly), cross-polytopes (m = 1/2) and random codes (worse).
"""
import math
import os
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import REPO

from constellations.codes.constructions import cross_polytope_code, random_code, simplex_code
from constellations.core.errors import ConstellationsError, FileFormatError
from constellations.tables.grid import Cell, TableGridError, cell_seed, make_grid, parse_int_list
from constellations.tables.runner import finish_cell
from constellations.tables.store import APPLICATION_ID, StoreError, TableStore, default_store_path



def tied_result(cell, code, seconds=0.01, restarts=None):
    X = np.broadcast_to(code, (cell.modalities,) + code.shape)
    return finish_cell(cell, X, solver="test", restarts=cell.restarts if restarts is None else restarts,
                       seconds=seconds)


@pytest.fixture
def store(tmp_path):
    with TableStore(tmp_path / "t.sqlite") as st:
        yield st


# ------------------------------------------------------------------------------------------ grid

def test_parse_int_list():
    assert parse_int_list("2:5") == (2, 3, 4, 5)
    assert parse_int_list("8,16, 8") == (8, 16)
    assert parse_int_list("8:32:8") == (8, 16, 24, 32)
    assert parse_int_list([3, 2]) == (2, 3)
    for bad in ("", "a", "5:2", "1:2:0", "2:3:4:5", "2,,3"):
        with pytest.raises(TableGridError):
            parse_int_list(bad)
    with pytest.raises(ConstellationsError):
        parse_int_list("1", "N", minimum=2)


def test_make_grid_keys_and_seeds():
    cells = make_grid("8,16", "2:4", "2,3", tied=True, restarts=3, time_limit=1.5, seed=7)
    assert len(cells) == 2 * 3 * 3
    keys = [c.key for c in cells]
    assert len(set(keys)) == len(keys)
    tied = [c for c in cells if c.tied]
    assert len(tied) == 6 and all(c.modalities == 2 and c.graph == "complete" for c in tied)
    # seeds: stable, per cell, independent of the grid it came from
    again = {c.key: c.seed for c in make_grid("16", "3", "3", seed=7)}
    assert again[(16, 3, 3, "complete", False)] == {c.key: c.seed for c in cells}[(16, 3, 3, "complete", False)]
    assert cell_seed((16, 3, 3, "complete", False), 7) != cell_seed((16, 3, 3, "complete", False), 8)
    assert len({c.seed for c in cells}) == len(cells)
    assert make_grid("8", "3", "3", graph="star")[0].graph == "star"
    assert len(make_grid("8", "3", "2,3", tied_only=True)) == 1
    for kwargs in ({"restarts": 0}, {"time_limit": -1.0}, {"time_limit": math.inf}, {"seed": -1},
                   {"graph": "0-5"}):
        with pytest.raises(ConstellationsError):
            make_grid("8", "3", "2", **kwargs)
    with pytest.raises(ConstellationsError):
        make_grid("1", "3", "2")
    # 8 N d (M + 2) bytes = 8e9 * 66 = 528 GB for the largest cell: refused before allocating, with the estimate
    with pytest.raises(ConstellationsError, match=r"N=100000, d=10000, M=64 needs about 4\d\d GiB"):
        make_grid("8,100000", "3,10000", "2,64")
    with pytest.raises(ConstellationsError):
        make_grid("8", "3", "1")


# ----------------------------------------------------------------------------------- round trip

def test_record_and_reverify(store):
    cell = Cell(5, 4, 3, "complete", False, restarts=2, time_limit=None, seed=11)
    res = tied_result(cell, simplex_code(5, 4))
    assert res.margin == pytest.approx(5 / 8, abs=1e-12)          # N/(2(N-1))
    assert res.margin_certified <= res.margin and res.margin_certified > 5 / 8 - 1e-12
    assert res.margin <= res.margin_upper
    assert store.record(res) == "new"
    row = store.get(cell)
    assert row.key == cell.key and row.margin == res.margin and row.b_rel == pytest.approx(3 / 8)
    assert row.attempts == 1 and row.restarts_requested == 2 and row.seed == 11 and row.solver == "test"
    assert row.gap_ratio == pytest.approx(res.margin / res.margin_upper)
    cfg = store.configuration(cell)
    assert cfg.X.shape == (3, 5, 4) and cfg.graph.spec == "complete"
    from constellations.core.certify import certified_margin

    assert certified_margin(cfg).margin_certified == res.margin_certified
    assert len(store) == 1 and store.cells()[0].key == cell.key


def test_needs_work_and_pending(store):
    cell = Cell(4, 3, 2, restarts=4, time_limit=2.0)
    assert store.needs_work(cell)
    store.record(tied_result(cell, simplex_code(4, 3)))
    assert not store.needs_work(cell)
    assert not store.needs_work(cell.with_effort(restarts=2))
    assert store.needs_work(cell.with_effort(restarts=5))
    assert store.needs_work(cell.with_effort(time_limit=3.0))
    assert not store.needs_work(cell.with_effort(time_limit=1.0))
    other = Cell(4, 3, 3, restarts=1)
    assert store.pending([cell, other]) == [other]


# ------------------------------------------------------------------------------ never worsen

def test_improve_never_worsen(store):
    cell = Cell(6, 3, 2, restarts=2, time_limit=None)
    good = tied_result(cell, cross_polytope_code(6, 3))                      # m = 1/2 exactly
    bad = tied_result(cell.with_effort(restarts=8), random_code(6, 3, seed=1))
    assert good.margin == pytest.approx(0.5, abs=1e-15) and bad.margin < good.margin - 0.05
    assert store.record(bad) == "new"
    assert store.record(good) == "improved"
    blob = store.config_blob(cell)
    assert store.record(bad) == "kept"                                       # a worse rerun
    row = store.get(cell)
    assert row.margin == good.margin and store.config_blob(cell) == blob
    assert row.attempts == 3 and row.restarts_requested == 8                 # bookkeeping only
    assert row.seconds_total == pytest.approx(3 * 0.01)
    assert store.record(good) == "kept"                                      # equal is not better


def test_smallest_upper_bound_kept(store):
    cell = Cell(6, 3, 2)
    res = tied_result(cell, cross_polytope_code(6, 3))
    from dataclasses import replace

    store.record(replace(res, margin_upper=0.7, upper_method="loose"))
    store.record(replace(res, margin_upper=0.6, upper_method="tight"))
    store.record(replace(res, margin_upper=0.65, upper_method="middle"))
    row = store.get(cell)
    assert (row.margin_upper, row.upper_method) == (0.6, "tight")


def test_record_refuses_nan(store):
    from dataclasses import replace

    res = tied_result(Cell(4, 3, 2), simplex_code(4, 3))
    with pytest.raises(ValueError):
        store.record(replace(res, margin=float("nan")))
    assert len(store) == 0


# ---------------------------------------------------------------------------------- the file

def test_wal_and_schema(tmp_path):
    p = tmp_path / "t.sqlite"
    with TableStore(p) as st:
        st.record(tied_result(Cell(4, 3, 2), simplex_code(4, 3)))
    con = sqlite3.connect(p)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    con.close()
    with TableStore(p, readonly=True) as ro:
        assert len(ro) == 1
        with pytest.raises(StoreError):
            ro.record(tied_result(Cell(4, 3, 2), simplex_code(4, 3)))


def test_default_path(monkeypatch, tmp_path):
    monkeypatch.delenv("CONSTELLATIONS_STORE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_store_path() == tmp_path / "constellations" / "tables.sqlite"
    monkeypatch.setenv("CONSTELLATIONS_STORE", str(tmp_path / "x.sqlite"))
    assert default_store_path() == tmp_path / "x.sqlite"


def test_missing_readonly_and_directory(tmp_path):
    with pytest.raises(StoreError, match="no table store"):
        TableStore(tmp_path / "nope.sqlite", readonly=True)
    assert not (tmp_path / "nope.sqlite").exists()
    with pytest.raises(StoreError, match="directory"):
        TableStore(tmp_path)


def test_directory_is_never_created_except_the_default(monkeypatch, tmp_path):
    """One rule: an explicit store's directory must exist; only the default location is created."""
    with pytest.raises(StoreError, match="does not exist"):
        TableStore(tmp_path / "nodir" / "t.sqlite")
    assert not (tmp_path / "nodir").exists()
    monkeypatch.delenv("CONSTELLATIONS_STORE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with TableStore() as st:
        assert st.path == tmp_path / "xdg" / "constellations" / "tables.sqlite" and len(st) == 0
    assert st.path.is_file()


def test_shipped_store_reads_margin_certified():
    """Schema 1 (column margin_cert) loads as StoredCell.margin_certified, a certified lower bound."""
    shipped = REPO / "data" / "tables" / "margins.sqlite"
    from constellations.core.certify import certified_margin

    with TableStore(shipped, readonly=True) as st:
        row = st.get((8, 7, 2, "complete", True))
        assert row.margin == pytest.approx(8 / 14, abs=1e-9)                    # simplex N/(2(N-1))
        assert row.margin_certified <= row.margin and row.margin_certified > 8 / 14 - 1e-9
        assert certified_margin(st.configuration(row.key)).margin_certified == row.margin_certified


def _assert_refused_untouched(path, match):
    before = path.read_bytes()
    with pytest.raises(FileFormatError, match=match):
        TableStore(path)
    with pytest.raises(FileFormatError, match=match):
        TableStore(path, readonly=True)
    assert path.read_bytes() == before


def test_corrupt_not_sqlite(tmp_path):
    p = tmp_path / "t.sqlite"
    p.write_bytes(b"this is not a database, it is a text file\n" * 100)
    _assert_refused_untouched(p, "not an SQLite database")


def _write_six_simplices(p):
    with TableStore(p) as st:
        for n in range(3, 9):
            st.record(tied_result(Cell(n, 8, 2), simplex_code(n, 8)))


def test_corrupt_damaged_pages(tmp_path):
    p = tmp_path / "t.sqlite"
    _write_six_simplices(p)
    raw = bytearray(p.read_bytes())
    assert len(raw) >= 3 * 4096
    rng = np.random.default_rng(0)
    raw[4096:len(raw)] = rng.integers(0, 256, len(raw) - 4096, dtype=np.uint8).tobytes()  # all but page 1
    p.write_bytes(bytes(raw))
    _assert_refused_untouched(p, "corrupt")


def test_foreign_sqlite_database(tmp_path):
    p = tmp_path / "other.sqlite"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE people (name TEXT)")
    con.execute("INSERT INTO people VALUES ('ada')")
    con.commit()
    con.close()
    _assert_refused_untouched(p, "not a constellations table store")


def test_truncated_store(tmp_path):
    p = tmp_path / "t.sqlite"
    _write_six_simplices(p)
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    _assert_refused_untouched(p, "corrupt")


# -------------------------------------------------------------------------------- concurrency

WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from constellations.codes.constructions import random_code
    from constellations.tables.grid import Cell
    from constellations.tables.runner import finish_cell
    from constellations.tables.store import TableStore

    path, seed = sys.argv[1], int(sys.argv[2])
    with TableStore(path, timeout=60) as st:
        for rep in range(4):
            for n in (5, 6, 7, 8, 9):
                cell = Cell(n, 3, 2, restarts=1 + rep, seed=seed)
                code = random_code(n, 3, seed=1000 * seed + 10 * rep + n)
                res = finish_cell(cell, np.stack([code, code]), solver="w%d" % seed, restarts=1, seconds=0.0)
                st.record(res)
                print(n, repr(res.margin), flush=True)
""")


def test_two_concurrent_writers(tmp_path):
    """Two processes hammer the same store: no corruption, and every cell holds the best margin
    either of them found (the compare-and-write is atomic)."""
    p = tmp_path / "t.sqlite"
    TableStore(p).close()
    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(p), str(s)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for s in (1, 2)]
    best = {}
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        for line in out.strip().splitlines():
            n, m = line.split()
            best[int(n)] = max(best.get(int(n), -math.inf), float(m))
    con = sqlite3.connect(p)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with TableStore(p, readonly=True) as st:
        rows = st.cells()
        assert sorted(r.n for r in rows) == [5, 6, 7, 8, 9]
        for r in rows:
            assert r.margin == best[r.n]
            assert r.attempts == 8 and r.restarts_requested == 4

"""The table runner: cell functions, in-process vs local Dask, failures, interruption, resume.

The stand-in cell function is ``construction_cell``: real tied codes whose margins are known in
closed form (regular simplex N/(2(N-1)), cross-polytope 1/2, regular polygon sin^2(pi/N)).
"""
import dataclasses
import math

import numpy as np
import pytest

from constellations.core.errors import ConstellationsError
from constellations.tables.grid import Cell, make_grid
from constellations.bounds import margin_upper_free
from constellations.tables.runner import construction_cell, resolve_cell_function, run_table, search_cell
from constellations.tables.store import TableStore



@pytest.mark.parametrize("n,dim,expected", [
    (4, 3, 4 / 6),                     # simplex N = d+1
    (3, 5, 3 / 4),                     # simplex N < d+1
    (6, 3, 0.5),                       # octahedron
    (8, 5, 0.5),                       # cross-polytope, N <= 2d
    (7, 2, math.sin(math.pi / 7) ** 2),  # heptagon (proven optimal in d=2)
    (12, 3, (1 - 1 / math.sqrt(5)) / 2),  # icosahedron
    (24, 4, 0.25),                     # 24-cell
])
def test_construction_cell_closed_forms(n, dim, expected):
    for m in (2, 3):
        res = construction_cell(Cell(n, dim, m, restarts=2, seed=3))
        assert res.margin == pytest.approx(expected, abs=1e-12)
        assert expected - 1e-12 < res.margin_certified <= res.margin
        assert res.margin <= res.margin_upper + 1e-15
        assert res.key == (n, dim, m, "complete", False)


def test_cell_ceiling_is_above_known_constellations():
    for n, dim in [(4, 3), (5, 4), (6, 3), (8, 4), (7, 2), (16, 2), (16, 5), (27, 6)]:
        res = construction_cell(Cell(n, dim, 2, restarts=1))
        b = margin_upper_free(n, dim)
        assert (res.margin_upper, res.upper_method) == (b.value, b.method)   # the cell's ceiling
        assert res.margin_upper <= n / (2 * (n - 1)) * (1 + 1e-15)
        assert res.margin_upper >= res.margin - 1e-12
    assert margin_upper_free(5, 4).value >= 5 / 8       # the simplex attains Theorem 3.4


def _key_values(store, cells):
    return {c.key: (store.get(c).margin, store.get(c).margin_certified, store.get(c).b_rel, store.get(c).seed,
                    store.config_blob(c)) for c in cells}


def test_in_process_and_local_dask_identical(tmp_path):
    cells = make_grid("5,9,16,130", "2:4", "2,3", tied=True, restarts=3, seed=5)
    with TableStore(tmp_path / "a.sqlite") as a, TableStore(tmp_path / "b.sqlite") as b:
        sa = run_table(cells, a, cell_function="construction", workers=1)
        sb = run_table(cells, b, cell_function="construction", workers=2)
        assert (sa.mode, sb.mode) == ("in-process", "local-dask")
        assert sa.new == sb.new == len(cells) and not sa.failed and not sb.failed
        assert sb.workers == 2
        assert _key_values(a, cells) == _key_values(b, cells)
        # random codes won some cells, so the per-cell seeds really were the same on both paths
        assert any("random" in str(a.configuration(c).meta.get("construction")) for c in cells)


def test_real_search_in_process_and_dask_identical(tmp_path):
    """The real search on simplex-sized cells: the optimum N/(2(N-1)) is known in closed form."""
    cells = [Cell(4, 3, 2, restarts=1, seed=1), Cell(3, 2, 2, "complete", True, restarts=1, seed=2)]
    with TableStore(tmp_path / "a.sqlite") as a, TableStore(tmp_path / "b.sqlite") as b:
        run_table(cells, a, cell_function="search", workers=1)
        run_table(cells, b, cell_function="search", workers=2)
        va, vb = _key_values(a, cells), _key_values(b, cells)
        assert va == vb
        assert a.get(cells[0]).margin == pytest.approx(4 / 6, abs=1e-6)
        assert a.get(cells[1]).margin == pytest.approx(3 / 4, abs=1e-6)
        assert a.get(cells[0]).solver == "search"


def test_resume_fills_only_missing(tmp_path):
    cells = make_grid("5,6", "3:4", "2", restarts=2)
    with TableStore(tmp_path / "t.sqlite") as st:
        first = run_table(cells[:2], st, cell_function="construction", workers=1)
        assert first.new == 2
        events = []
        second = run_table(cells, st, cell_function="construction", workers=1, progress=events.append)
        assert (second.skipped, second.new) == (2, 2)
        assert all(e.done + e.running + e.left == e.total for e in events)
        assert events[-1].done == len(cells) and events[-1].left == 0
        third = run_table(cells, st, cell_function="construction", workers=1)
        assert third.skipped == 4 and third.computed == 0
        more = run_table([c.with_effort(restarts=3) for c in cells], st, cell_function="construction", workers=1)
        assert more.kept + more.improved == 4 and more.new == 0
        assert all(st.get(c).attempts == 2 for c in cells)


def broken_cell(cell):
    if cell.n == 6:
        raise RuntimeError("solver exploded")
    return construction_cell(cell)


def interrupting_cell(cell):
    if cell.n == 7:
        raise KeyboardInterrupt
    return construction_cell(cell)


def test_failed_cells_are_reported_not_stored(tmp_path):
    cells = make_grid("5,6,7", "3", "2")
    with TableStore(tmp_path / "t.sqlite") as st:
        s = run_table(cells, st, cell_function=broken_cell, workers=1)
        assert s.new == 2 and len(s.failed) == 1 and "solver exploded" in s.failed[0][1]
        assert st.get((6, 3, 2, "complete", False)) is None and len(st) == 2


def test_interrupt_keeps_finished_cells(tmp_path):
    cells = make_grid("5,6,7,8", "3", "2")
    with TableStore(tmp_path / "t.sqlite") as st:
        s = run_table(cells, st, cell_function=interrupting_cell, workers=1)
        assert s.interrupted and s.new == 2 and len(st) == 2
        s2 = run_table(cells, st, cell_function="construction", workers=1)
        assert (s2.skipped, s2.new) == (2, 2) and not s2.interrupted


def _interrupted_search_cell(cell):
    """A cell whose search was stopped by Ctrl-C but returned its best code so far (N = 7 only)."""
    from constellations.tables.runner import CellInterrupted

    res = construction_cell(cell)
    if cell.n == 7:
        raise CellInterrupted(dataclasses.replace(res, restarts_requested=0, time_requested=0.0))
    return res


def test_interrupted_cell_keeps_its_best_but_is_recomputed(tmp_path):
    cells = make_grid("5,6,7,8", "3", "2")
    with TableStore(tmp_path / "t.sqlite") as st:
        s = run_table(cells, st, cell_function=_interrupted_search_cell, workers=1)
        assert s.interrupted and s.new == 2 and s.partial == 1 and len(st) == 3
        kept = st.get((7, 3, 2, "complete", False))
        assert kept.restarts_requested == 0 and st.needs_work(cells[2])   # stored, yet not done
        s2 = run_table(cells, st, cell_function="construction", workers=1)
        assert (s2.skipped, s2.new, s2.kept + s2.improved) == (2, 1, 1) and not s2.interrupted
        assert st.get((7, 3, 2, "complete", False)).restarts_requested == cells[2].restarts


def test_search_cell_passes_an_interrupt_on(monkeypatch):
    """The search turns Ctrl-C into an early return; search_cell must stop the table, with that result."""
    import constellations.search as search_mod
    from constellations.core.configuration import Configuration
    from constellations.codes.constructions import simplex_code
    from constellations.tables.runner import CellInterrupted

    class Res:
        config = Configuration.from_array(np.stack([simplex_code(4, 3)] * 2))
        restarts = 1
        interrupted = True

    monkeypatch.setattr(search_mod, "search", lambda *a, **k: Res())
    with pytest.raises(CellInterrupted) as info:
        search_cell(Cell(4, 3, 2, restarts=5, seed=1))
    r = info.value.result
    assert r.margin == pytest.approx(4 / 6, abs=1e-12)          # simplex N/(2(N-1))
    assert (r.restarts_requested, r.time_requested) == (0, 0.0)
    Res.interrupted = False
    assert search_cell(Cell(4, 3, 2, restarts=5, seed=1)).restarts_requested == 5


def test_local_workers_ignore_sigint(tmp_path):
    """The local cluster's worker processes ignore SIGINT (Ctrl-C is the client's to handle)."""
    import signal

    from constellations.tables.runner import _start_local_cluster
    from distributed import Client

    before = signal.getsignal(signal.SIGINT)
    cluster = _start_local_cluster(1)
    try:
        with Client(cluster) as client:
            got = client.run(lambda: signal.getsignal(signal.SIGINT))
        assert list(got.values()) == [signal.SIG_IGN]
        assert signal.getsignal(signal.SIGINT) is before   # restored here
    finally:
        cluster.close()


def test_resolve_cell_function():
    assert resolve_cell_function("search") is search_cell
    assert resolve_cell_function("construction") is construction_cell
    assert resolve_cell_function("constellations.tables.runner:construction_cell") is construction_cell
    for bad in ("nope", "no.such.module:f", "constellations.tables.runner:nothing"):
        with pytest.raises(ConstellationsError):
            resolve_cell_function(bad)
    with pytest.raises(ConstellationsError):
        run_table([], None, cell_function="construction", workers=0)


def test_wrong_key_is_refused(tmp_path):
    def liar(cell):
        return construction_cell(Cell(cell.n + 1, cell.dim, cell.modalities))

    with TableStore(tmp_path / "t.sqlite") as st:
        s = run_table(make_grid("5", "3", "2"), st, cell_function=liar, workers=1)
        assert len(st) == 0 and s.new == 0 and "key" in s.failed[0][1]


def test_warm_start_sources(tmp_path):
    """A cell starts from the best stored configuration valid for it: the tied code of its (N, d)
    copied to every modality, or the first M modalities of a cell with more modalities."""
    from constellations.tables.runner import finish_cell, warm_start
    from constellations.codes.constructions import random_code, simplex_code
    from constellations.core.margins import margin

    def store_tied_code(st, cell, code):
        st.record(finish_cell(cell, np.broadcast_to(code, (cell.modalities,) + code.shape), solver="test",
                              restarts=1, seconds=0.0))

    with TableStore(tmp_path / "t.sqlite") as st:
        m2, m3 = Cell(5, 4, 2), Cell(5, 4, 3)
        assert warm_start(st, m2) == (None, None)
        store_tied_code(st, m2, random_code(5, 4, seed=0))                 # poor
        X, src = warm_start(st, m2)
        assert src.startswith("stored") and margin(X) == st.get(m2).margin
        store_tied_code(st, m3, simplex_code(5, 4))                        # optimal, m = 5/8
        X, src = warm_start(st, m2)
        assert src.startswith("M=3") and X.shape == (2, 5, 4) and margin(X) >= 5 / 8 - 1e-12
        tied = Cell(5, 4, 2, "complete", True)
        store_tied_code(st, tied, simplex_code(5, 4))
        X, src = warm_start(st, Cell(5, 4, 4))
        assert src.startswith("tied") and X.shape == (4, 5, 4) and margin(X) == pytest.approx(5 / 8)
        assert warm_start(st, tied)[1].startswith("stored")               # a tied cell only from itself
        # a warm-started re-run lifts the poor M=2 cell to the M=3 value, never lower
        s = run_table([m2.with_effort(restarts=1)], st, cell_function="construction", workers=1, force=True,
                      warm_start=True)
        assert s.improved == 1 and st.get(m2).margin == pytest.approx(5 / 8, abs=1e-12)
        assert st.configuration(m2).meta["warm_start"].startswith(("M=3", "tied"))


def test_midpoint_pass_turns_a_free_cell_into_a_better_code(tmp_path):
    """Issue 13: the tied column takes the midpoint code of the best free cell when it is better.

    U = the regular hexagon, V = U rotated by 0.1 rad: in the plane (U_i + V_i)/2 is U_i rotated by
    0.05 rad and scaled by cos(0.05), so the midpoint code is a regular hexagon: margin exactly
    sin^2(pi/6) = 1/4, the optimum for 6 points in the plane (the stored tied code is a worse one)."""
    from constellations.codes.constructions import polygon_code, random_code
    from constellations.tables.runner import finish_cell, midpoint_pass
    cells = make_grid("6", "2", "2", tied=True, restarts=1)
    tied_cell = next(c for c in cells if c.tied)
    free_cell = next(c for c in cells if not c.tied)
    U = polygon_code(6, 2)
    t = 0.1
    R = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    with TableStore(tmp_path / "m.sqlite") as st:
        weak = random_code(6, 2, seed=3)
        st.record(finish_cell(tied_cell, np.stack([weak, weak]), solver="test", restarts=1, seconds=0.0))
        st.record(finish_cell(free_cell, np.stack([U, U @ R.T]), solver="test", restarts=1, seconds=0.0))
        before = st.get(tied_cell.key).margin
        assert before < 0.25 - 1e-3
        assert midpoint_pass(st, cells) == 1
        row = st.get(tied_cell.key)
        assert row.solver == "midpoint" and row.margin == pytest.approx(0.25, abs=1e-12)
        assert row.restarts_requested == 1  # the effort of the search is kept; the pass adds none
        cfg = st.configuration(tied_cell.key)
        assert np.array_equal(cfg.X[0], cfg.X[1]) and cfg.meta["midpoint_of"][4] is False
        assert midpoint_pass(st, cells) == 0  # nothing better the second time: the store is unchanged
        summary = run_table(cells, st, cell_function=construction_cell, workers=1)
        assert summary.skipped == 2 and summary.midpoint == 0


def test_handdown_pass_orders_the_table(tmp_path):
    """Issue 11: after a run, m(M=2) >= m(M=3) >= m(tied) in every (N, d): free cells below the tied
    code (or below a cell with more modalities) take it over, re-verified.  N = 5 in d = 4: the
    simplex code has m = 5/8, the optimum N/(2(N-1)) of Theorem 3.4 (docs/math.md 5.1)."""
    from constellations.codes.constructions import random_code, simplex_code
    from constellations.tables.runner import finish_cell, handdown_pass
    cells = make_grid("5", "4", "2,3", tied=True, restarts=1)
    by = {("tied" if c.tied else c.modalities): c for c in cells}
    with TableStore(tmp_path / "h.sqlite") as st:
        S = simplex_code(5, 4)
        st.record(finish_cell(by["tied"], np.stack([S, S]), solver="test", restarts=1, seconds=0.0))
        for m, seed in ((2, 1), (3, 2)):
            W = random_code(5, 4, seed=seed)
            st.record(finish_cell(by[m], np.broadcast_to(W, (m, 5, 4)), solver="test", restarts=1, seconds=0.0))
            assert st.get(by[m].key).margin < 5 / 8 - 1e-3
        assert handdown_pass(st, cells) == 2
        for m in (2, 3):
            row = st.get(by[m].key)
            assert row.solver == "handed down" and row.margin == pytest.approx(5 / 8, abs=1e-12)
            assert row.restarts_requested == 1  # the search's effort is kept; the pass adds none
        assert st.configuration(by[3].key).meta["handed_down_from"].startswith("tied")
        assert handdown_pass(st, cells) == 0  # nothing better the second time
        summary = run_table(cells, st, cell_function=construction_cell, workers=1)
        assert summary.skipped == 3 and summary.handed_down == 0


# ------------------------------------------------------------------ --device and the scale grid (issue 12)

def _device_recording_cell(cell, device="cpu"):
    res = construction_cell(cell)
    return dataclasses.replace(res, solver=f"construction@{device}")


def test_device_reaches_the_cell_function(tmp_path):
    cells = make_grid("5", "4", "2", tied=True, restarts=1)
    with TableStore(tmp_path / "d.sqlite") as st:
        s = run_table(cells, st, cell_function=_device_recording_cell, workers=1, device="cpu", midpoint=False)
        assert s.new == 2 and {c.solver for c in st.cells()} == {"construction@cpu"}


def test_cuda_device_is_checked_first_and_never_shared(tmp_path):
    import torch
    from constellations.tables.runner import RunnerError, check_table_device

    cells = make_grid("5", "4", "2", restarts=1)
    with TableStore(tmp_path / "c.sqlite") as st:
        if not torch.cuda.is_available():
            with pytest.raises(RunnerError, match="no CUDA device"):
                check_table_device("cuda")
            with pytest.raises(RunnerError, match="no CUDA device"):
                run_table(cells, st, cell_function="construction", workers=1, device="cuda")
        else:  # pragma: no cover - needs a GPU
            with pytest.raises(RunnerError, match="one GPU"):
                run_table(cells, st, cell_function="construction", workers=2, device="cuda")
        assert len(st) == 0
    with pytest.raises(RunnerError, match="unknown device"):
        check_table_device("tpu")


def test_large_cell_ceiling_is_fast_and_sound():
    """N = 16384, d = 256 (a scale-table cell): the quick path, under 20 s, between known values.

    Below: the Kerdock code in R^256 (N = 32768 >= 16384 unit vectors, |<x, y>| <= 1/16, so
    m >= (1 - 1/16)/2 = 15/32 = 0.46875; via the catalogue, certified).  Above: Theorem 3.4's
    N/(2(N-1)) holds for every N-item constellation.
    """
    import time

    from constellations.bounds.constellation import MAX_ITEMS, margin_lower
    from constellations.bounds.shell import margin_upper_large
    from constellations.tables.runner import ceilings

    n, d = 16384, 256
    assert n > MAX_ITEMS
    upper = margin_upper_free(n, d).value  # only the quick bounds: it equals margin_upper_large below
    c = ceilings(n, d)
    lower = margin_lower(n, d)
    assert upper == pytest.approx(float(margin_upper_large(n, d).value), rel=0, abs=0)
    assert 15 / 32 <= float(lower.value) <= upper < n / (2 * (n - 1))
    assert c.free == upper and lower.value <= c.tied <= n / (2 * (n - 1))


def test_large_cell_search_keeps_its_time_budget():
    """N = 4096, d = 64 with 3 s: starts from the Kerdock code (m = 7/16) and stops on time."""
    import time

    t0 = time.perf_counter()
    r = search_cell(Cell(4096, 64, 2, "complete", False, restarts=4, time_limit=3.0, seed=0), device="cpu")
    wall = time.perf_counter() - t0
    assert r.margin_certified >= 7 / 16 - 1e-12 and r.margin <= r.margin_upper
    assert wall < 3.0 + 30.0, wall   # the budget plus generous slack for the float64 re-verification

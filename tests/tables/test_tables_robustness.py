"""``constellations table`` under stress: SIGTERM, worker counts, killed parents, output names,
read-only opens.

- SIGTERM stops a run as Ctrl-C does: exit 143, one line, finished cells kept, outputs marked
  PARTIAL, no worker process left;
- worker counts above the machine are refused with one line before the store is opened, and a
  cell's time limit counts the search's start-up;
- the local cluster's workers die with their parent, SIGKILL included;
- ``-o`` must name a format the table is written in;
- ``show``, ``verify`` and ``export`` leave nothing beside the store.

The stand-in cell is ``test_cli_table:slow_cell`` (a real tied construction plus 0.3 s of waiting).
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import psutil
import pytest

from conftest import REPO, stored_cells

from constellations.core import interrupts
from constellations.tables import runner
from constellations.tables.grid import Cell, make_grid
from constellations.tables.runner import RunnerError, plan_workers, search_cell
from constellations.tables.store import TableStore

TESTS = REPO / "tests" / "cli"  # test_cli_table.slow_cell, imported by name in the workers
GONE_WITHIN = 30.0  # seconds a worker may take to notice that its parent is gone (generous)


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(TESTS), str(REPO / "tests"), env.get("PYTHONPATH", "")])
    return env


def _table(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "constellations.cli.main", "table", *map(str, args)], cwd=REPO,
                          env=_env(), capture_output=True, text=True, timeout=timeout)


def _start(*args):
    return subprocess.Popen([sys.executable, "-m", "constellations.cli.main", "table", *map(str, args)], cwd=REPO,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _one_line_error(p):
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("constellations: error:"), p.stderr
    return lines[0]




def _wait_for_cells(proc, store, k):
    deadline = time.time() + 150
    while time.time() < deadline and (not store.exists() or stored_cells(store) < k):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    assert stored_cells(store) >= k


def _workers_of(proc, k):
    """The worker processes (spawned children) of ``proc``, once there are ``k`` of them."""
    parent = psutil.Process(proc.pid)
    deadline = time.time() + 150
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        kids = [p for p in parent.children(recursive=True) if "spawn_main" in " ".join(_cmdline(p))]
        if len(kids) >= k:
            return kids
        time.sleep(0.1)
    raise AssertionError(f"fewer than {k} workers started")


def _cmdline(p):
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def _alive(procs):
    """Those of ``procs`` still running (a zombie is dead: it only waits to be reaped)."""
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _wait_gone(procs, seconds=GONE_WITHIN):
    deadline = time.time() + seconds
    while _alive(procs) and time.time() < deadline:
        time.sleep(0.1)
    left = _alive(procs)
    for p in left:  # never leave them behind, even when the test fails
        p.kill()
    return left


# ---------------------------------------------------------------------------------------- SIGTERM

def test_sigterm_stops_like_ctrl_c(tmp_path):
    """SIGTERM to the process group, as a batch scheduler sends it (twice: the second arrives while
    the cluster shuts down): exit 143, one line on stderr, the finished cells kept in an intact
    store, the output marked PARTIAL, and no process of the run left behind."""
    store = tmp_path / "t.sqlite"
    proc = _start("--n", "5:50", "--dims", "3", "--solver", "test_cli_table:slow_cell", "--workers", 2,
                  "--store", store, "--no-progress", "--format", "json")
    kids = _workers_of(proc, 2)
    _wait_for_cells(proc, store, 2)
    kids = kids + psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGTERM)
    time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGTERM)   # ignored: the run is already stopping
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("constellations: interrupted: "), stderr
    assert "Traceback" not in stderr and "re-run the same command to resume" in lines[0]
    done = stored_cells(store)
    assert 2 <= done < 46
    obj = json.loads(stdout)
    assert obj["interrupted"] is True and obj["summary"]["interrupted"] and len(obj["cells"]) == done
    con = sqlite3.connect(store)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    assert _wait_gone(kids) == []


class _SignalledStore(TableStore):
    """A store that receives ``signum`` (sent to this process) as it starts to commit its first cell."""

    signum = None

    def record(self, result):
        if self.signum is not None:
            os.kill(os.getpid(), self.signum)
            self.signum = None
            time.sleep(0.05)  # the signal is handled at the next bytecode, well inside the commit
        return super().record(result)


@pytest.mark.parametrize("signum", interrupts.STOP_SIGNALS)
def test_stop_signal_during_a_commit_is_held_until_the_cell_is_stored(tmp_path, signum):
    saved = {s: signal.getsignal(s) for s in interrupts.STOP_SIGNALS}
    interrupts.install()   # as the CLI does: both signals raise KeyboardInterrupt
    try:
        with _SignalledStore(tmp_path / "t.sqlite") as st:
            st.signum = signum
            s = runner.run_table(make_grid("5,6,7", "3", "2"), st, cell_function="construction", workers=1)
            assert s.interrupted and s.new == 1 and len(st) == 1   # the cell being committed is kept
        assert interrupts.received() == signum and interrupts.exit_status() == 128 + signum
    finally:
        for s_, h in saved.items():
            signal.signal(s_, h)
        interrupts.clear()


# ------------------------------------------------------------------------------------ worker counts

def test_worker_count_above_the_machine_is_refused(monkeypatch, tmp_path):
    cores = len(os.sched_getaffinity(0))
    cells = make_grid("8", "3", "2")
    assert plan_workers(None, cells) == plan_workers("auto", cells) == cores   # auto: every core available
    assert plan_workers(1, cells) == 1 and plan_workers(cores, cells) == cores
    for bad in (cores + 1, 100000):
        with pytest.raises(RunnerError, match=f"{bad} is more than the {cores} core"):
            plan_workers(bad, cells)
    for bad in (0, -3, 2.5, True, "many"):
        with pytest.raises(RunnerError):
            plan_workers(bad, cells)
    # memory: workers that would not fit in half the physical memory are refused too
    import constellations.core.workers as W
    monkeypatch.setattr(W, "available_cores", lambda: 64)
    monkeypatch.setattr(W, "physical_memory", lambda: 5 * W.WORKER_PROCESS_BYTES)   # 2.5 workers' worth in half
    assert plan_workers(None, cells) == 2
    with pytest.raises(RunnerError, match="memory"):
        plan_workers(3, cells)
    with TableStore(tmp_path / "t.sqlite") as st:
        with pytest.raises(RunnerError):
            runner.run_table(cells, st, cell_function="construction", workers=3)
        assert len(st) == 0


def test_too_many_workers_is_one_line_before_anything(tmp_path):
    store = tmp_path / "w.sqlite"
    too_many = len(os.sched_getaffinity(0)) + 1
    line = _one_line_error(_table("--n", "8", "--dims", "3", "--solver", "construction", "--workers", too_many,
                                  "--store", store))
    assert f"--workers={too_many} is more than" in line
    assert not store.exists() and os.listdir(tmp_path) == []
    _one_line_error(_table("--n", "8", "--dims", "3", "--workers", "0", "--store", store))
    p = _table("--n", "5", "--dims", "3", "--solver", "construction", "--workers", "auto", "--store", store,
               "--format", "json", "--no-midpoint")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["summary"]["workers"] == len(os.sched_getaffinity(0))


def test_cell_time_limit_counts_the_search_start_up(monkeypatch):
    """Time spent in a cell before its search starts comes out of the cell's limit (at least a token
    search is left), and the recorded seconds include it."""
    import numpy as np

    import constellations.search as search_mod
    from constellations.core.configuration import Configuration
    from constellations.codes.constructions import simplex_code

    asked = []

    class Res:
        config = Configuration.from_array(np.stack([simplex_code(4, 3)] * 2))
        restarts = 1
        interrupted = False

    def fake_search(*args, time_limit=None, **kw):
        asked.append(time_limit)
        time.sleep(0.1)
        return Res()

    monkeypatch.setattr(search_mod, "search", fake_search)
    r = search_cell(Cell(4, 3, 2, restarts=1, time_limit=1.0, seed=1))
    assert asked[0] <= 1.0 and r.seconds >= 0.1
    search_cell(Cell(4, 3, 2, restarts=1, time_limit=None, seed=1))
    assert asked[1] is None
    assert runner._search_budget(1.0, 0.4) == pytest.approx(0.6)
    assert runner._search_budget(0.2, 0.4) == runner.MIN_SEARCH_SECONDS   # start-up over the limit: a token search
    assert runner._search_budget(0.01, 0.4) == 0.01
    assert runner._search_budget(None, 5.0) is None


# ------------------------------------------------------------------------------ workers and parent

def test_local_workers_ignore_stop_signals_and_watch_their_parent():
    """The preload: both stop signals ignored, and a die-with-parent watchdog on this process."""
    from distributed import Client

    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN when pytest runs in the background
    cluster = runner._start_local_cluster(1)
    try:
        with Client(cluster) as client:
            got = client.run(lambda: (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM),
                                      [t.name for t in threading.enumerate()], os.getppid(),
                                      os.environ.get("CONSTELLATIONS_TABLE_PARENT")))
        (sigint, sigterm, threads, ppid, watched), = got.values()
        assert sigint == sigterm == signal.SIG_IGN
        assert "die-with-parent" in threads and ppid == os.getpid() and watched == str(os.getpid())
        assert signal.getsignal(signal.SIGINT) is before   # restored here
    finally:
        cluster.close()


def test_stop_signal_during_the_cluster_start_is_held_not_lost():
    """SIGTERM while the local cluster starts: held until it is up, then the cluster is closed and
    KeyboardInterrupt raised; no worker is left behind (the old code ignored only SIGINT there)."""
    import distributed  # noqa: F401 - imported first: the signal must land in the start, not the import

    saved = {s: signal.getsignal(s) for s in interrupts.STOP_SIGNALS}
    interrupts.install()
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            runner._start_local_cluster(1)
        assert interrupts.received() == signal.SIGTERM
    finally:
        timer.cancel()
        for s_, h in saved.items():
            signal.signal(s_, h)
        interrupts.clear()
    workers = [p for p in psutil.Process().children(recursive=True)
               if p.pid not in before and "resource_tracker" not in " ".join(_cmdline(p))]
    assert _wait_gone(workers) == []


def test_workers_die_with_a_killed_parent(tmp_path):
    """SIGKILL the command: its local cluster's worker processes exit on their own."""
    store = tmp_path / "t.sqlite"
    proc = _start("--n", "5:50", "--dims", "3", "--solver", "test_cli_table:slow_cell", "--workers", 2,
                  "--store", store, "--no-progress")
    kids = _workers_of(proc, 2)
    _wait_for_cells(proc, store, 1)
    everything = kids + psutil.Process(proc.pid).children(recursive=True)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert _wait_gone(everything) == []


# -------------------------------------------------------------------------------------- outputs

def test_output_suffix_must_name_a_format(tmp_path):
    store = tmp_path / "t.sqlite"
    for args in (["-o", tmp_path / "t.xlsx"], ["-o", tmp_path / "t.csv", "--format", "json"],
                 ["-o", tmp_path / "t.md", "--json"]):
        line = _one_line_error(_table("--n", "5", "--dims", "3", "--solver", "construction", "--workers", 1,
                                      "--store", store, *args))
        assert "-o " in line
        assert os.listdir(tmp_path) == []          # refused before the store is opened or anything runs
    assert _table("--n", "5", "--dims", "3", "--solver", "construction", "--workers", 1, "--store", store,
                  "-o", tmp_path / "t.txt", "--format", "csv").returncode == 0
    assert (tmp_path / "t.txt").read_text().startswith("n,dim,modalities")
    _one_line_error(_table("show", "--store", store, "-o", tmp_path / "s.xlsx"))
    assert not (tmp_path / "s.xlsx").exists()
    assert _table("show", "--store", store, "-o", tmp_path / "s.markdown").returncode == 0
    assert (tmp_path / "s.markdown").read_text().startswith("### N = 5")


# ------------------------------------------------------------------------------- read-only opens

def test_read_only_commands_leave_nothing_beside_the_store(tmp_path):
    """show, verify and export read the store without creating its -wal and -shm files; while a
    writer is at work they still see its latest commit."""
    d = tmp_path / "d"
    d.mkdir()
    store = d / "t.sqlite"
    assert _table("--n", "5", "--dims", "3:4", "--tied", "--solver", "construction", "--workers", 1,
                  "--store", store).returncode == 0
    assert os.listdir(d) == ["t.sqlite"]
    for args in (["show"], ["show", "--format", "csv", "-o", tmp_path / "s.csv"], ["verify", "--json"],
                 ["export", "--n", 5, "--dim", 3, "--tied", "-o", tmp_path / "c.npz"]):
        p = _table(*args, "--store", store)
        assert p.returncode == 0, p.stderr
        assert os.listdir(d) == ["t.sqlite"], args
    with TableStore(store) as writer:           # a writer at work: its -wal holds an uncommitted-to-file cell
        cell = make_grid("6", "3", "2")[0]
        writer.record(runner.construction_cell(cell))
        assert (d / "t.sqlite-wal").exists()
        with TableStore(store, readonly=True) as reader:
            assert reader.get(cell.key) is not None and len(reader) == len(writer)

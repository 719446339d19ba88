"""``constellations table``: the real console entry point, in subprocesses.

Covers: run/show/verify/export, the output formats and plot, one-line errors (exit 2), a corrupt
store left untouched, resume after SIGKILL (no lost and no duplicated cells), improve-never-worsen
through the CLI, and a real ``dask.distributed`` scheduler and worker started as subprocesses on
127.0.0.1 and used through ``--scheduler``.

The stand-in solver is ``construction`` (real tied codes with closed-form margins); the kill test
uses :func:`slow_cell`, the same construction plus a pause so that the run can be killed mid-way.
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from constellations.solvers.tables.runner import construction_cell

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def slow_cell(cell):
    """The construction cell, plus 0.3 s of waiting (stands in for a real search's cost)."""
    time.sleep(0.3)
    return construction_cell(cell)


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(TESTS), env.get("PYTHONPATH", "")])
    return env


def table(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "constellations.cli.main", "table", *map(str, args)], cwd=REPO, env=_env(),
                          capture_output=True, text=True, timeout=timeout)


def _one_line_error(p):
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("constellations: error:"), p.stderr
    assert "Traceback" not in p.stderr


def test_run_show_verify_export(tmp_path):
    store = tmp_path / "t.sqlite"
    p = table("--n", "5,8", "--dims", "2:4", "--modalities", "2,3", "--tied", "--solver", "construction",
              "--workers", "1", "--store", store, "--plot", tmp_path / "p.png")
    assert p.returncode == 0, p.stderr
    assert "### N = 5" in p.stdout and "### N = 8" in p.stdout and "| d | M=2 | M=3 | tied | upper |" in p.stdout
    assert "| 4 | 0.6250 | 0.6250 | 0.6250 |" in p.stdout        # simplex, N/(2(N-1)) = 5/8
    assert "| 4 | 0.5000 | 0.5000 | 0.5000 |" in p.stdout        # cross-polytope, N=8, d=4
    assert "18 new" in p.stderr and "in-process" in p.stderr
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    s = table("show", "--store", store, "--format", "json", "--n", "8")
    assert s.returncode == 0, s.stderr
    obj = json.loads(s.stdout)
    assert len(obj["cells"]) == 9 and all(c["n"] == 8 for c in obj["cells"])
    c = next(c for c in obj["cells"] if c["dim"] == 2 and c["tied"])
    assert c["margin"] == pytest.approx(0.5 * (1 - 2 ** -0.5), abs=1e-12)   # octagon: sin^2(pi/8)
    assert c["margin"] <= c["margin_upper"] and c["gap_ratio"] == pytest.approx(c["margin"] / c["margin_upper"])

    csv_ = table("show", "--store", store, "--format", "csv", "-o", tmp_path / "t.csv")
    assert csv_.returncode == 0 and csv_.stdout == ""
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert lines[0].startswith("n,dim,modalities,graph,tied,margin,b_rel,margin_cert,margin_upper,gap_ratio")
    assert len(lines) == 19
    cols = table("show", "--store", store, "--columns", "n", "--modalities", "3")
    assert "### M = 3" in cols.stdout and "| d | N=5 | N=8 |" in cols.stdout and "### M = 2" not in cols.stdout

    v = table("verify", "--store", store)
    assert v.returncode == 0 and "18/18 cells re-verified" in v.stdout
    e = table("export", "--store", store, "--n", 5, "--dim", 4, "--modalities", 3, "-o", tmp_path / "c.npz")
    assert e.returncode == 0, e.stderr
    from constellations.io import load

    cfg = load(tmp_path / "c.npz")
    assert cfg.X.shape == (3, 5, 4)


def test_errors_are_one_line(tmp_path):
    _one_line_error(table("--n", "8", "--dims", "5:2", "--store", tmp_path / "a.sqlite"))
    _one_line_error(table("--n", "1", "--dims", "3", "--store", tmp_path / "a.sqlite"))
    _one_line_error(table("--n", "8", "--dims", "3", "--solver", "nope", "--store", tmp_path / "a.sqlite"))
    _one_line_error(table("--n", "8", "--dims", "3", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1",
                          "--store", tmp_path / "a.sqlite"))
    _one_line_error(table("--n", "8", "--dims", "3", "--time-per-cell", "-1", "--store", tmp_path / "a.sqlite"))
    _one_line_error(table("show", "--store", tmp_path / "missing.sqlite"))
    assert not (tmp_path / "missing.sqlite").exists()


def test_corrupt_store_refused_and_untouched(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"\x00garbage" * 1000)
    before = bad.read_bytes()
    p = table("--n", "5", "--dims", "3", "--solver", "construction", "--workers", "1", "--store", bad)
    _one_line_error(p)
    assert "not an SQLite database" in p.stderr
    _one_line_error(table("show", "--store", bad))
    assert bad.read_bytes() == before


def test_more_restarts_improve_never_worsen(tmp_path):
    store = tmp_path / "t.sqlite"
    args = ["--n", "130", "--dims", "4", "--solver", "construction", "--workers", "1", "--store", store,
            "--format", "json"]
    a = json.loads(table(*args, "--restarts", "1").stdout)
    b = json.loads(table(*args, "--restarts", "1").stdout)
    assert b["summary"]["skipped"] == 1 and b["cells"] == a["cells"]
    c = json.loads(table(*args, "--restarts", "6").stdout)
    assert c["summary"]["improved"] + c["summary"]["kept"] == 1
    m1, m6 = a["cells"][0]["margin"], c["cells"][0]["margin"]
    assert m6 >= m1 and c["cells"][0]["attempts"] == 2 and c["cells"][0]["restarts_requested"] == 6
    d = json.loads(table(*args, "--restarts", "2", "--force").stdout)   # fewer restarts: can only be kept
    assert d["summary"]["kept"] == 1 and d["cells"][0]["margin"] == m6


def _count(store):
    try:
        con = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_resume_after_sigkill(tmp_path):
    store = tmp_path / "t.sqlite"
    args = ["--n", "5:16", "--dims", "3", "--solver", "test_cli_table:slow_cell", "--workers", "1",
            "--store", store, "--no-progress", "--format", "json"]
    proc = subprocess.Popen([sys.executable, "-m", "constellations.cli.main", "table", *map(str, args)], cwd=REPO, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and (not store.exists() or _count(store) < 3):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    done = _count(store)
    assert 3 <= done < 12
    p = table(*args)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)["summary"]
    assert s["skipped"] == done and s["new"] == 12 - done and s["kept"] == s["improved"] == 0
    rows = json.loads(table("show", "--store", store, "--format", "json").stdout)["cells"]
    assert sorted(r["n"] for r in rows) == list(range(5, 17))      # none lost, none duplicated
    assert all(r["attempts"] == 1 for r in rows)                    # none computed twice
    con = sqlite3.connect(store)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


def _dask_cmd(module):
    return [sys.executable, "-c", f"import sys; from distributed.cli.{module} import main; sys.exit(main())"]


@pytest.fixture
def dask_cluster(tmp_path):
    sched_file = tmp_path / "scheduler.json"
    procs = []
    try:
        procs.append(subprocess.Popen(_dask_cmd("dask_scheduler") + ["--host", "127.0.0.1", "--port", "0",
                                                                      "--no-dashboard", "--scheduler-file",
                                                                      str(sched_file)],
                                      env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.time() + 60
        while not sched_file.exists() and time.time() < deadline:
            time.sleep(0.1)
        assert sched_file.exists(), "the scheduler did not start"
        time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        procs.append(subprocess.Popen(_dask_cmd("dask_worker") + [address, "--no-nanny", "--nthreads", "1",
                                                                   "--no-dashboard", "--name", "w1"],
                                      env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()


def test_external_scheduler(tmp_path, dask_cluster):
    assert dask_cluster.startswith("tcp://127.0.0.1:")
    store = tmp_path / "t.sqlite"
    p = table("--n", "5,8", "--dims", "3:4", "--tied", "--solver", "construction", "--scheduler", dask_cluster,
              "--store", store, "--format", "json")
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert obj["summary"]["mode"] == "scheduler" and obj["summary"]["new"] == 8
    assert obj["summary"]["workers"] == 1
    # same cells as in-process, bit for bit
    ref = tmp_path / "ref.sqlite"
    q = table("--n", "5,8", "--dims", "3:4", "--tied", "--solver", "construction", "--workers", "1",
              "--store", ref, "--format", "json")
    strip = lambda cells: [{k: v for k, v in c.items() if k not in ("seconds", "seconds_total", "created",  # noqa
                                                                     "updated")} for c in cells]
    assert strip(json.loads(q.stdout)["cells"]) == strip(obj["cells"])


SHIPPED = REPO / "data" / "tables" / "margins.sqlite"


@pytest.mark.skipif(not SHIPPED.exists(), reason="the shipped table data/tables/margins.sqlite is absent")
def test_shipped_table_reverifies():
    """Every cell of the shipped table: certified margin >= 0 recomputed from its stored configuration,
    at or below the certified ceiling recomputed now; and the grid is complete."""
    p = table("verify", "--store", SHIPPED, "--json", timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr
    obj = json.loads(p.stdout)
    assert obj["failed"] == 0 and obj["cells"] == 5 * 11 * 4
    keys = {(r["n"], r["dim"], "tied" if r["tied"] else r["modalities"]) for r in obj["results"]}
    assert keys == {(n, d, m) for n in (8, 16, 32, 64, 128) for d in range(2, 13) for m in (2, 3, 4, "tied")}
    assert all(r["ok"] and r["margin_cert"] >= 0 and r["margin"] <= r["margin_upper"] for r in obj["results"])
    # closed forms the search must have reached: simplex N = 8 <= d + 1 (m = 8/14) and the
    # cross-polytope N = 16 = 2d at d = 8 (m = 1/2, the tied optimum; Rankin)
    tied = {(r["n"], r["dim"]): r["margin"] for r in obj["results"] if r["tied"]}
    assert tied[(8, 7)] == pytest.approx(8 / 14, abs=1e-6)
    assert tied[(16, 8)] == pytest.approx(0.5, abs=1e-6)

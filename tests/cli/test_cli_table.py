"""``constellations table``: the real console entry point, in subprocesses.

Covers: run/show/verify/export, the output formats and plot, one-line errors (exit 2), a corrupt
store left untouched, resume after SIGKILL (no lost and no duplicated cells), improve-never-worsen
through the CLI, and a real ``dask.distributed`` scheduler and worker started as subprocesses on
127.0.0.1 and used through ``--scheduler``.

The stand-in solver is ``construction`` (real tied codes with closed-form margins); the kill test
uses :func:`slow_cell`, the same construction plus a pause so that the run can be killed mid-way.
"""
import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, stored_cells

from constellations.tables.runner import construction_cell

TESTS = REPO / "tests" / "cli"  # test_cli_table.slow_cell, imported by name in the workers


def slow_cell(cell):
    """The construction cell, plus 0.3 s of waiting (stands in for a real search's cost)."""
    time.sleep(0.3)
    return construction_cell(cell)


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(TESTS), str(REPO / "tests"), env.get("PYTHONPATH", "")])
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
    assert "### N = 5" in p.stdout and "### N = 8" in p.stdout and "| d | M=2 | M=3 | tied | code ceiling | tied/ceiling | free ceiling | best/ceiling |" in p.stdout
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

    csv_ = table("show", "--store", store, "-o", tmp_path / "t.csv")          # format from the suffix
    assert csv_.returncode == 0 and csv_.stdout == ""
    assert csv_.stderr.strip().splitlines() == [f"table: wrote 18 cells as csv to {tmp_path / 't.csv'}"]
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert lines[0].startswith("n,dim,modalities,graph,tied,margin,b_rel,margin_certified,margin_upper,gap_ratio")
    assert len(lines) == 19
    cols = table("show", "--store", store, "--columns", "n", "--modalities", "3")
    assert "### M = 3" in cols.stdout and "| d | N=5 | N=8 |" in cols.stdout and "### M = 2" not in cols.stdout

    v = table("verify", "--store", store)
    assert v.returncode == 0 and "18/18 cells re-verified" in v.stdout
    e = table("export", "--store", store, "--n", 5, "--dim", 4, "-M", 3, "-o", tmp_path / "c.npz")
    assert e.returncode == 0, e.stderr
    assert e.stdout.strip() == (f"wrote N=5 d=4 M=3 complete (margin 0.625): 15 rows (3 modalities x 5 points, d=4) "
                                f"as .npz to {tmp_path / 'c.npz'}")
    from constellations.io.files import load

    cfg = load(tmp_path / "c.npz")
    assert cfg.X.shape == (3, 5, 4)
    j = table("export", "--store", store, "--n", 8, "--dim", 4, "--tied", "-o", tmp_path / "t.npz", "--json")
    obj = json.loads(j.stdout)
    assert obj["output"] == str(tmp_path / "t.npz") and obj["format"] == "npz" and obj["rows"] == 16
    assert obj["margin"] == 0.5 and 0.5 - 1e-12 < obj["margin_certified"] <= 0.5    # cross-polytope


def _no_tmp_files(d):
    return [p.name for p in Path(d).iterdir() if p.name.endswith(".tmp") or p.name.startswith(".")]


def test_no_such_subcommand(tmp_path):
    p = table("bogus", "--store", tmp_path / "a.sqlite")
    _one_line_error(p)
    assert "no such command 'table bogus'" in p.stderr and not (tmp_path / "a.sqlite").exists()
    _one_line_error(table("shwo"))


def test_outputs_checked_before_the_work(tmp_path):
    """Unwritable or mistyped outputs: exit 2, one line, before any cell runs or any file appears."""
    store = tmp_path / "t.sqlite"
    assert table("--n", 5, "--dims", 3, "--solver", "construction", "--workers", 1, "--store", store).returncode == 0
    before = store.read_bytes()
    for args in (["-o", "/proc/x.csv"], ["-o", tmp_path / "nodir" / "t.md"], ["--plot", tmp_path / "nodir" / "p.png"],
                 ["--plot", tmp_path / "p.pdf"], ["-o", tmp_path]):
        p = table("--n", "5,6", "--dims", 3, "--solver", "construction", "--workers", 1, "--store", store, *args)
        _one_line_error(p)
    assert store.read_bytes() == before                     # the N=6 cell was never computed
    for out in ("/proc/x.csv", "/proc/x.npz", tmp_path / "nodir" / "c.npz", tmp_path / "c.txt"):
        p = table("export", "--store", store, "--n", 5, "--dim", 3, "-o", out)
        _one_line_error(p)
        assert "-o" in p.stderr
    p = table("--n", 5, "--dims", 3, "--solver", "construction", "--store", tmp_path / "nodir" / "t.sqlite")
    _one_line_error(p)
    assert "does not exist" in p.stderr
    _one_line_error(table("show", "--store", store, "-o", tmp_path / "nodir" / "x.csv"))
    assert not (tmp_path / "nodir").exists() and not (tmp_path / "p.pdf").exists() and not _no_tmp_files(tmp_path)


def test_default_store_directory_is_created(tmp_path):
    """The one exception to 'directories are never created': the default store location."""
    env = _env()
    env.pop("CONSTELLATIONS_STORE", None)
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    p = subprocess.run([sys.executable, "-m", "constellations.cli.main", "table", "--n", "5", "--dims", "3",
                        "--solver", "construction", "--workers", "1"],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr
    default = tmp_path / "xdg" / "constellations" / "tables.sqlite"
    assert default.is_file() and f"store {default}" in p.stderr


def test_json_vocabulary(tmp_path):
    store = tmp_path / "t.sqlite"
    p = table("--n", 6, "--dim", 3, "-M", 3, "--solver", "construction", "--workers", 1, "--store", store, "--json")
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert obj["interrupted"] is False and "partial" not in obj
    (c,) = obj["cells"]
    assert (c["n"], c["dim"], c["modalities"]) == (6, 3, 3) and "margin_cert" not in c
    assert c["margin"] == pytest.approx(0.5, abs=1e-12) and 0.5 - 1e-12 < c["margin_certified"] <= c["margin"]
    for k in ("n", "dim", "modalities", "margin", "b_rel", "margin_certified", "seconds", "seed", "margin_upper"):
        assert isinstance(c[k], (int, float)) and not isinstance(c[k], bool), k
    assert isinstance(obj["summary"]["seconds"], float)
    s = table("show", "--store", store, "-o", tmp_path / "t.json")
    assert json.loads((tmp_path / "t.json").read_text())["cells"] == obj["cells"]
    v = json.loads(table("verify", "--store", store, "--json").stdout)
    assert v["results"][0]["margin_certified"] == c["margin_certified"] and "margin_cert" not in v["results"][0]
    assert s.returncode == 0


def test_plot_shows_each_modality_and_its_gain_over_the_tied_code():
    """The shipped plot's data: per N, each M's markers apart from the others, and m(M) - m(tied) drawn."""
    import matplotlib.pyplot as plt

    from constellations.cli.table import plot_figure
    from constellations.tables.store import TableStore

    with TableStore(SHIPPED, readonly=True) as st:
        rows = st.cells(n=[32])
    con = sqlite3.connect(f"file:{SHIPPED}?mode=ro", uri=True)
    ref = {(m, t): v for m, t, v in con.execute("SELECT modalities, tied, margin FROM cells WHERE n=32 AND dim=6")}
    con.close()
    fig = plot_figure(rows)
    try:
        top, bottom = fig.axes
        xs = {ln.get_label(): list(ln.get_xdata()) for ln in top.get_lines()}
        assert len({x[0] for k, x in xs.items() if k.startswith("M=")}) == 3      # M = 2, 3, 4 not on top
        gains = {ln.get_label(): dict(zip(np.round(ln.get_xdata()), ln.get_ydata())) for ln in bottom.get_lines()
                 if ln.get_label().startswith("M=")}
        for m in (2, 3, 4):
            assert gains[f"M={m}"][6] == ref[(m, 0)] - ref[(2, 1)]
        # N=32, d=6: the search's M=2 cell beat its tied code by 5.8e-3 until the midpoint pass made the
        # tied cell the midpoint code of that M=2 configuration (data/tables/README.md, step 6)
        assert gains["M=2"][6] == 0.0 and ref[(2, 1)] == pytest.approx(1 / 3, abs=1e-12)
        assert bottom.get_yscale() == "symlog"
    finally:
        plt.close(fig)


def test_partial_markers_in_markdown_and_plot():
    import matplotlib.pyplot as plt

    from constellations.cli.table import plot_figure, render_markdown

    assert render_markdown([], partial="the run was interrupted").startswith("> **PARTIAL**: the run was interrupted")
    assert "PARTIAL" not in render_markdown([])
    fig = plot_figure([], partial="the run was interrupted")
    try:
        assert any("PARTIAL: the run was interrupted" in t.get_text() for t in fig.texts)
    finally:
        plt.close(fig)


def _wait_for_cells(proc, store, k):
    deadline = time.time() + 150
    while time.time() < deadline and (not store.exists() or stored_cells(store) < k):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)


@pytest.mark.parametrize("workers", [2, 1])
def test_ctrl_c_is_clean_and_marks_outputs_partial(tmp_path, workers):
    """Ctrl-C as a terminal sends it (SIGINT to the whole process group, Dask workers included):
    exit 130, exactly one line on stderr, no traceback, finished cells kept, outputs marked PARTIAL."""
    store = tmp_path / "t.sqlite"
    out = tmp_path / ("t.json" if workers == 2 else "t.csv")
    args = ["--n", "5:24", "--dims", "3", "--solver", "test_cli_table:slow_cell", "--workers", workers,
            "--store", store, "--no-progress", "-o", out, "--plot", tmp_path / "p.png"]
    proc = subprocess.Popen([sys.executable, "-m", "constellations.cli.main", "table", *map(str, args)], cwd=REPO,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    _wait_for_cells(proc, store, 3)
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("constellations: interrupted: "), stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert "PARTIAL" in lines[0] and stdout == ""
    done = stored_cells(store)
    assert 3 <= done < 20
    con = sqlite3.connect(store)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    if workers == 2:
        obj = json.loads(out.read_text())
        assert obj["interrupted"] is True and "interrupted" in obj["partial"] and len(obj["cells"]) == done
    else:
        text = out.read_text().splitlines()
        assert text[0].startswith("# PARTIAL: the run was interrupted") and len(text) == 2 + done
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not _no_tmp_files(tmp_path)
    # resume: only the missing cells, and the Markdown of the complete table has no PARTIAL note
    p = table(*args[:-4], "-o", tmp_path / "t.md")
    assert p.returncode == 0, p.stderr
    assert f"{done} already stored" in p.stderr and "PARTIAL" not in (tmp_path / "t.md").read_text()


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




def test_resume_after_sigkill(tmp_path):
    store = tmp_path / "t.sqlite"
    args = ["--n", "5:16", "--dims", "3", "--solver", "test_cli_table:slow_cell", "--workers", "1",
            "--store", store, "--no-progress", "--format", "json"]
    proc = subprocess.Popen([sys.executable, "-m", "constellations.cli.main", "table", *map(str, args)], cwd=REPO, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and (not store.exists() or stored_cells(store) < 3):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    done = stored_cells(store)
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


def test_shipped_table_reverifies():
    """Every cell of the shipped table: certified margin >= 0 recomputed from its stored configuration,
    at or below the certified ceiling recomputed now; and the grid is complete."""
    p = table("verify", "--store", SHIPPED, "--json", timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr
    obj = json.loads(p.stdout)
    assert obj["failed"] == 0 and obj["cells"] == 5 * 11 * 4
    keys = {(r["n"], r["dim"], "tied" if r["tied"] else r["modalities"]) for r in obj["results"]}
    assert keys == {(n, d, m) for n in (8, 16, 32, 64, 128) for d in range(2, 13) for m in (2, 3, 4, "tied")}
    assert all(r["ok"] and r["margin_certified"] >= 0 and r["margin"] <= r["margin_upper"] for r in obj["results"])
    # closed forms the search must have reached: simplex N = 8 <= d + 1 (m = 8/14) and the
    # cross-polytope N = 16 = 2d at d = 8 (m = 1/2, the tied optimum; Rankin)
    tied = {(r["n"], r["dim"]): r["margin"] for r in obj["results"] if r["tied"]}
    assert tied[(8, 7)] == pytest.approx(8 / 14, abs=1e-6)
    assert tied[(16, 8)] == pytest.approx(0.5, abs=1e-6)


def test_shipped_table_two_ceilings():
    """Issue 13: a code ceiling (tied cells) and a free ceiling (every cell), both re-checked by verify;
    the d = 2 tied cells come within float rounding of the proved optimum sin^2(pi/N) of the N-gon
    (Fejes Toth), which an irrational optimum never lets a float configuration reach: labelled "within"."""
    import math
    from constellations.bounds import margin_upper, margin_upper_free, margin_upper_tied
    obj = json.loads(table("verify", "--store", SHIPPED, "--json", timeout=300).stdout)
    tied = [r for r in obj["results"] if r["tied"]]
    assert all(r["margin_upper_tied"] is not None and r["margin"] <= r["margin_upper_tied"] + 1e-15 for r in tied)
    assert all(r["margin_upper_tied"] is None for r in obj["results"] if not r["tied"])
    for r in tied:
        if r["dim"] == 2:
            assert r["margin_upper_tied"] == pytest.approx(math.sin(math.pi / r["n"]) ** 2, rel=1e-14)
            assert r["upper_tied_method"] == "polygon-exact" and not r["optimal"]
            assert r["optimality"]["optimum"] >= math.sin(math.pi / r["n"]) ** 2 * (1 - 1e-15)
            assert r["optimality"]["theorem"] and "within" in r["optimality"]["label"]   # sin^2(pi/8) in closed form
    # N = 16, d = 8..12: the optimum 1/2 is proved (Rankin); "proved optimal" only where the stored rows
    # reach it exactly (an exact cross-polytope), never for a search result a few ulps below it
    for r in (r for r in obj["results"] if r["n"] == 16 and r["dim"] >= 8):
        assert r["optimality"]["optimum_exact"] == "1/2" and r["optimal"] == (r["margin_exact"] == "1/2")
    assert not any(r["optimal"] for r in obj["results"] if r["n"] == 128 and r["dim"] == 3)
    # the Markdown shows both ceilings and the labels; the CSV carries them per cell
    md = table("show", "--store", SHIPPED, "--n", 32, "--dims", "2,3").stdout
    assert "| 2 | 0.0096 | 0.0096 | 0.0096 | 0.0096 | 0.0096 | 1.000 |" in md
    rows = list(csv.DictReader(io.StringIO(table("show", "--store", SHIPPED, "--n", 32, "--dims", 3,
                                                 "--format", "csv").stdout)))
    assert {float(r["margin_upper_free"]) for r in rows} == {margin_upper_free(32, 3).value}
    assert [float(r["margin_upper_tied"]) for r in rows if r["tied"] == "True"] == [margin_upper_tied(32, 3).value]
    assert margin_upper_free(32, 3).value < margin_upper(32, 3).value - 0.1  # the shell bound, far below the sandwich
    assert all(float(r["margin_upper_free"]) <= float(r["margin_upper"]) for r in rows)  # the stored one is older


def test_device_cpu_small_grid_runs_the_search_there(tmp_path):
    """--device cpu reaches each cell's search (stored in the cell's record) and the table is the usual one."""
    store = tmp_path / "d.sqlite"
    p = table("--n", "5", "--dims", "4", "--tied", "--device", "cpu", "--restarts", 1, "--time-per-cell", 5,
              "--workers", 1, "--store", store, "--format", "json")
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert len(obj["cells"]) == 2 and obj["summary"]["mode"] == "in-process"
    for c in obj["cells"]:   # N = 5 in d = 4: the simplex, margin N/(2(N-1)) = 5/8, reached by the search
        assert c["margin"] == pytest.approx(0.625, abs=1e-6) and c["margin"] <= c["margin_upper"]
    from constellations.tables.store import TableStore
    with TableStore(store) as st:
        metas = [st.configuration(c.key).meta for c in st.cells()]
    assert len(metas) == 2 and all(m["device"] == "cpu" and m["solver"] == "search" for m in metas)


def test_device_cuda_without_cuda_is_one_line(tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    p = table("--n", "8", "--dims", "3", "--device", "cuda", "--store", tmp_path / "c.sqlite")
    _one_line_error(p)
    assert "cuda" in p.stderr and "no CUDA device" in p.stderr
    assert not (tmp_path / "c.sqlite").exists()   # refused before the store is opened
    _one_line_error(table("--n", "8", "--dims", "3", "--device", "tpu", "--store", tmp_path / "c.sqlite"))


def test_proved_optimal_means_proved(tmp_path):
    """A configuration a few ulps below its proved optimum is "within" it, not optimal: the shipped tied
    N = 16, d = 10 code (certified 0.4999999999998..., below 1/2 by 2e-13); the exact cross-polytope
    (margin exactly 1/2 = the Rankin optimum) is proved optimal, in verify and in show alike."""
    import shutil
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shutil.copy(SHIPPED, shipped / "m.sqlite")
    p = table("verify", "--store", shipped / "m.sqlite", "--n", 16, "--dims", 10)
    assert p.returncode == 0, p.stderr
    line = next(x for x in p.stdout.splitlines() if x.startswith("N=16 d=10 tied:"))
    assert line == ("N=16 d=10 tied: optimum proved: 1/2 (Rankin (cross-polytope)); "
                    "this configuration is within 2e-13 of it"), line
    obj = json.loads(table("verify", "--store", shipped / "m.sqlite", "--n", 16, "--dims", 10, "--tied",
                           "--json").stdout)
    (r,) = obj["results"]
    assert not r["optimal"] and obj["optimal"] == 0 and r["margin_certified"] < 0.5
    assert r["optimality"]["theorem"].startswith("Rankin") and 1e-13 < r["optimality"]["gap"] < 3e-13
    rows = list(csv.DictReader(io.StringIO(table("show", "--store", shipped / "m.sqlite", "--n", 16, "--dims", 10,
                                                 "--tied", "--format", "csv").stdout)))
    assert [r["optimal"] for r in rows] == ["False"] and rows[0]["optimum_exact"] == "1/2"
    assert os.listdir(shipped) == ["m.sqlite"]
    # the octahedron (N = 6, d = 3) built exactly: its exact margin is the optimum 1/2
    store = tmp_path / "o.sqlite"
    assert table("--n", 6, "--dims", 3, "--tied-only", "--solver", "construction", "--workers", 1,
                 "--store", store, "--no-midpoint").returncode == 0
    v = table("verify", "--store", store)
    assert "N=6 d=3 tied: optimum proved: 1/2 (Rankin (cross-polytope)); this configuration reaches it" in v.stdout
    assert "1 proved optimal" in v.stdout
    (c,) = json.loads(table("show", "--store", store, "--format", "json").stdout)["cells"]
    assert c["optimal"] is True and c["optimum_gap"] == 0.0 and c["margin_certified"] < 0.5   # exact, not float
    assert "| 1.000 opt |" in table("show", "--store", store).stdout


def test_verify_store_is_a_library_result(tmp_path):
    """`table verify` only formats: the re-verification is tables.verification.verify_store."""
    from constellations.tables.grid import make_grid
    from constellations.tables.store import TableStore
    from constellations.tables.verification import verify_store

    with TableStore(tmp_path / "t.sqlite") as st:
        for cell in make_grid("6,7", "3", "2", tied=True):
            st.record(construction_cell(cell))
        report = verify_store(st)
    d = report.to_dict()
    assert d["cells"] == 4 and d["failed"] == 0 and not report.failed
    by = {(r["n"], r["tied"]): r for r in d["results"]}
    assert by[(6, True)]["optimal"] and by[(6, True)]["margin_exact"] == "1/2"
    assert not by[(7, True)]["optimal"]            # N = 7 in d = 3: no theorem gives the optimum
    assert by[(7, True)]["optimality"]["optimum"] is None
    assert d["optimal"] == report.proved == sum(r["optimal"] for r in d["results"])

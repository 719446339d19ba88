"""``constellations init-bias`` (src/constellations/cli/init_bias.py): the real entry point, two subprocesses,
the other cases in process through :func:`constellations.cli.main.main`."""
from __future__ import annotations

import json
import math

import pytest

from constellations.cli.main import main
from constellations.training.initialization import initial_bias

from conftest import run_cli

pytestmark = pytest.mark.usefixtures("keeps_signal_handlers")


def test_json_run_matches_the_library():
    r = run_cli("init-bias", "--batch-size", "256,4096", "--t0", "10", "--dim", "512", "--json")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert (o["t0"], o["dim"]) == (10.0, 512) and [x["n"] for x in o["results"]] == [256, 4096]
    for row in o["results"]:
        lib = initial_bias(row["batch_size"], 10.0, 512)
        assert row["b0"] == lib.b0 and row["b_rel0"] == -lib.b0 / 10.0 and row["status"] == "converged"
        assert row["b0_approx"] == -math.log(row["batch_size"] - 1) and row["b0_reference"] == -10.0
        assert row["loss"] < row["loss_approx"] < row["loss_reference"]


def test_bad_input_exits_2_with_one_line():
    r = run_cli("init-bias", "--batch-size", "1")
    assert r.returncode == 2 and "Traceback" not in r.stderr and not r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("constellations: error: ") and "batch_size" in lines[0]


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["init-bias", *argv])
    cap = capsys.readouterr()
    return exc.value.code, cap.out, cap.err


@pytest.mark.parametrize("argv", [["--batch-size", "2.5"], ["--batch-size", "256", "--t0", "nan"],
                                  ["--batch-size", "256", "--t0", "0"], ["--batch-size", "256", "--dim", "1"],
                                  ["--batch-size", "256,,3"], ["--batch-size", "1e13"], ["--t0", "10"],
                                  ["--batch-size", "256", "--dim", "1e9"], ["--batch-size", "x;touch PWNED"]])
def test_bad_options_in_process(argv, capsys):
    code, out, err = _run(argv, capsys)
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, (argv, err)


def test_table_in_process(capsys):
    code, out, err = _run(["--batch-size", "32768", "--batch-size", "256", "--dim", "768"], capsys)
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()[3:]]
    assert [row[0] for row in rows] == ["32768", "256"]
    lib = initial_bias(32768, 10.0, 768)
    # the table prints 10 significant digits
    assert float(rows[0][1]) == pytest.approx(lib.b0, rel=1e-9)
    assert float(rows[0][4]) == pytest.approx(-math.log(32767), rel=1e-9)
    assert float(rows[0][6]) == pytest.approx(lib.loss_reference, rel=1e-7)

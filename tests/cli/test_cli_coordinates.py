"""Text coordinates through the real console script: construct -o FILE.txt, search --init FILE.txt -o FILE.txt,
verify of a published file (three subprocesses); the refusal of a free search into text, in process."""
import json
import math

import click
import numpy as np
import pytest

from conftest import REPO, run_cli

from constellations import io
from constellations.cli.search import command as search_command
from constellations.codes.constructions import icosahedron_code

LAI_150 = REPO / "data" / "reference" / "coordinates" / "lai2023" / "150.txt"
ICO_MARGIN = (1 - 1 / math.sqrt(5)) / 2   # the icosahedron, tied: c = 1/sqrt(5)


def test_construct_then_search_from_and_into_text(tmp_path):
    r = run_cli("construct", "icosahedron", "--dim", 3, "-o", tmp_path / "ico.txt", "--json")
    assert r.returncode == 0, r.stderr
    ico = io.load(tmp_path / "ico.txt")
    assert np.array_equal(ico.X[0], icosahedron_code()) and ico.meta["layout"] == "rows"
    assert f"certified margin m >= {json.loads(r.stdout)['margin_certified']!r}" in (tmp_path / "ico.txt").read_text()
    r = run_cli("search", "--n", 12, "--dim", 3, "--tied", "--init", tmp_path / "ico.txt", "--restarts", 1,
                "--jobs", 1, "--strategy", "restarts", "--no-constructions", "-o", tmp_path / "best.txt", "--json")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    best = io.load(o["output"])
    assert o["margin"] == pytest.approx(ICO_MARGIN, abs=1e-12)            # never worse than the start, the optimum
    assert best.N == 12 and np.array_equal(best.X[0], best.X[1])
    assert f"certified margin m >= {o['margin_certified']!r}" in (tmp_path / "best.txt").read_text()


def test_verify_a_published_code_against_its_stated_distance():
    r = run_cli("verify", LAI_150, "--json", "--no-retrieval")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    c = o["code"]
    assert (o["n"], o["dim"], c["layout"], c["header"]) == (150, 3, "rows with an index column", "N D theta")
    assert c["stated"]["min_distance"] == 0.299930345582 and c["agrees_with_stated"] is True
    assert c["min_distance"] == pytest.approx(0.299930345582, abs=4e-12) and 0 < c["max_norm_deviation"] < 2e-12
    assert o["margin_certified"] <= o["margin"] and o["is_constellation"] is True


def test_free_search_into_text_is_refused_before_the_work(tmp_path):
    with pytest.raises(click.BadParameter, match="a text file holds one spherical code: use it with --tied"):
        search_command.main(["--n", "2000", "--dim", "16", "--restarts", "100", "-o", str(tmp_path / "x.txt")],
                            standalone_mode=False)
    assert list(tmp_path.iterdir()) == []

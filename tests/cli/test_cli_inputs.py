"""Inputs that used to give tracebacks or wrong answers (issue "Foundations I", item 4), run through the
real console script: each is now one line on stderr with exit 2, or a correct answer."""
import json
from fractions import Fraction

import pytest

from conftest import run_cli

LONG_NAME = "a" * 300                      # one name over NAME_MAX (255 bytes)
LONG_PATH = "a/" * 2100 + "x"              # short names, 4200 bytes in all: over PATH_MAX (4096)


def one_line_error(r, code=2):
    """Exit ``code``, exactly one non-empty stderr line in the CLI's format, no traceback; returns it."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("constellations: error:"), r.stderr[-2000:]
    return lines[0]


@pytest.fixture(scope="module")
def e8(tmp_path_factory):
    f = tmp_path_factory.mktemp("e8") / "e8.npz"
    r = run_cli("construct", "e8", "--dim", "8", "-o", f)
    assert r.returncode == 0, r.stderr
    return f


def test_construct_without_output_is_a_usage_error(tmp_path):
    # --help says -o is required: a missing -o is a click usage error, not a TypeError after the work
    msg = one_line_error(run_cli("construct", "e8", "--dim", "8", cwd=tmp_path))
    assert "Missing option '-o' / '--output'" in msg
    assert list(tmp_path.iterdir()) == []
    assert "[required]" in run_cli("construct", "--help").stdout


@pytest.mark.parametrize("which", ["name", "path"])
@pytest.mark.parametrize("command", [
    ("construct", "e8", "--dim", "8", "-o", "{p}.npz"),
    ("verify", "{p}.npz"),
    ("verify", "@E8", "-o", "{p}.json"),
    ("search", "--n", "4", "--dim", "3", "--tied", "-o", "{p}.npz"),
    ("train", "--n", "4", "--dim", "3", "--steps", "5", "-o", "{p}.npz"),
    ("table", "--n", "4", "--dims", "3", "--tied-only", "--store", "{p}.sqlite"),
    ("analyze", "{p}.npz"),
])
def test_overlong_paths_are_one_line_errors(tmp_path, e8, command, which):
    p = LONG_NAME if which == "name" else LONG_PATH
    args = [a.format(p=p) if a != "@E8" else str(e8) for a in command]
    msg = one_line_error(run_cli(*args, cwd=tmp_path, timeout=120))
    limit = "255 per name" if which == "name" else "path too long"
    assert limit in msg and len(msg) < 500, msg
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary file left


def test_name_of_250_bytes_is_written(tmp_path):
    # the temporary and probe names next to it (".NAME.<random>.tmp") must fit NAME_MAX too
    name = "b" * 246 + ".npz"
    r = run_cli("construct", "e8", "--dim", "8", "-o", name, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    r = run_cli("verify", name, "--exact", "--no-retrieval", cwd=tmp_path)
    assert r.returncode == 0 and "exact margin m        1/4" in r.stdout


def test_analyze_negative_seed_is_a_usage_error(e8):
    msg = one_line_error(run_cli("analyze", e8, "--seed", "-1", "--no-gap", "--quiet"))
    assert "--seed" in msg


def test_analyze_reversed_percentiles_refused(e8):
    # E8 tied: positives are all 1, negatives range over {-1, -1/2, 0, 1/2}; min/max m = (1 - 1/2)/2 = 1/4.
    msg = one_line_error(run_cli("analyze", e8, "--percentiles", "95,5", "--no-gap", "--quiet"))
    assert "reversed" in msg and "5,95" in msg
    r = run_cli("analyze", e8, "--percentiles", "0,100", "--no-gap", "--json")
    assert r.returncode == 0, r.stderr
    forms = json.loads(r.stdout)["forms"]
    assert forms["percentile"]["margin"] == forms["minmax"]["margin"] == pytest.approx(0.25, abs=1e-15)
    # 126 of the 239 non-matched cosines of each root are <= 0 and 56 are 1/2: p50 of the negatives is 0
    r = run_cli("analyze", e8, "--percentiles", "50,50", "--no-gap", "--json")
    p = json.loads(r.stdout)["forms"]["percentile"]
    assert (p["pos"], p["neg"], p["margin"]) == pytest.approx((1.0, 0.0, 0.5), abs=1e-15)


# kind, dim, the member built (native dimension, points), the dimensions the family lives in
PADDED = [
    ("kerdock", 15, 4, 24, "R^4, R^16, R^64, R^256, R^1024"),
    ("hadamard", 15, 8, 16, "R^2, R^4, R^8, R^16"),
    ("gold", 15, 7, 64, "R^7, R^31, R^127"),
    ("kasami", 62, 15, 64, "R^15, R^63, R^255"),
    ("golay", 30, 24, 4096, "golay codes: R^24)"),
]


@pytest.mark.parametrize("kind, dim, d0, n, dims", PADDED)
def test_codes_of_restricted_dimension_say_they_are_padded(tmp_path, kind, dim, d0, n, dims):
    f = tmp_path / "c.npz"
    r = run_cli("construct", kind, "--dim", dim, "-o", f, "--json")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert (o["n"], o["dim"], o["native_dim"]) == (n, dim, d0)
    assert f"no {kind} code lives in R^{dim}" in o["note"] and dims in o["note"]
    assert f"in R^{d0}, zero-padded to R^{dim}" in o["note"]
    text = run_cli("construct", kind, "--dim", dim, "-o", f).stdout
    assert f"note: no {kind} code lives in R^{dim}" in text


def test_codes_in_their_own_dimension_carry_no_note(tmp_path):
    o = json.loads(run_cli("construct", "kerdock", "--dim", "16", "-o", tmp_path / "k.npz", "--json").stdout)
    assert (o["n"], o["native_dim"], o["note"], o["margin_exact"]) == (288, 16, None, "3/8")
    o = json.loads(run_cli("construct", "e8", "--dim", "10", "-o", tmp_path / "e.npz", "--json").stdout)
    assert o["note"] == "e8: 240 points in R^8, zero-padded to R^10" and o["margin_exact"] == "1/4"


def test_verify_claims_use_the_exact_grammar(e8):
    r = run_cli("verify", e8, "--margin", "1/4", "--b-rel", "3/4", "--exact", "--no-retrieval")
    assert r.returncode == 0, r.stderr
    assert "claim (m=1/4, b_rel=3/4): HOLDS" in r.stdout
    # 0.26 is 13/50 exactly: b_rel + m = 101/100 > 1 = <x_0, x_0>
    r = run_cli("verify", e8, "--margin", "0.26", "--b-rel", "3/4", "--exact", "--no-retrieval")
    assert r.returncode == 1 and "FAILS (certainly)" in r.stdout
    assert "m=13/50" in r.stdout and "1 is not >= 101/100" in r.stdout
    # 1e-20 above 1/4: float64 cannot decide, and the report shows both sides apart
    m = "0.25000000000000000001"
    r = run_cli("verify", e8, "--margin", m, "--b-rel", "0.75", "--no-retrieval")
    assert r.returncode == 3 and "1.0 is not >= 100000000000000000001/100000000000000000000" in r.stdout
    r = run_cli("verify", e8, "--margin", m, "--b-rel", "0.75", "--exact", "--no-retrieval", "--json")
    c = json.loads(r.stdout)["claim"]
    assert r.returncode == 1 and c["margin_exact"] == "25000000000000000001/100000000000000000000"
    assert c["violation"]["value_exact"] == "1" and c["violation"]["required"] == 1.0
    # a square root: m = 1/8 + sqrt(2)/100 = 0.1391... < 1/4 holds at b_rel = 3/4
    r = run_cli("verify", e8, "--margin", "1/8 + sqrt(2)/100", "--b-rel", "3/4", "--exact", "--no-retrieval")
    assert r.returncode == 0 and "claim (m=1/8 + sqrt(2)/100, b_rel=3/4): HOLDS" in r.stdout


@pytest.mark.parametrize("m, b, why", [("pi/4", "3/4", "unknown name 'pi'"),
                                       ("1/4", "nan", "--b-rel must be a finite number"),
                                       ("sqrt(2)/8", "sqrt(3)/2", "use different square roots"),
                                       ("1/0", "0", "division by zero")])
def test_verify_bad_claims_are_one_line_errors(e8, m, b, why):
    msg = one_line_error(run_cli("verify", e8, "--margin", m, "--b-rel", b, "--no-retrieval"))
    assert why in msg


def test_exact_values_print_as_fractions_and_surds(tmp_path, e8):
    # Construction 1 of the simplex (c = -1/3: m = 2/3, b_rel = 1/3) with delta = 4/5, phi = 3/10:
    # m' = delta^2 m = 32/75, b' = delta^2 b + phi^2 - (1 - delta^2 - phi^2) = 1/30
    d2, p2 = Fraction(4, 5) ** 2, Fraction(3, 10) ** 2
    m, b = d2 * Fraction(2, 3), d2 * Fraction(1, 3) + p2 - (1 - d2 - p2)
    assert (m, b) == (Fraction(32, 75), Fraction(1, 30))
    f = tmp_path / "lift.npz"
    args = ("construct", "lift", "--dim", "5", "--n", "4", "--base", "simplex", "--delta", "0.8", "--phi", "0.3",
            "-o", f)
    r = run_cli(*args)
    assert r.returncode == 0 and "(exact 32/75)" in r.stdout, r.stdout
    o = json.loads(run_cli(*args, "--json").stdout)
    assert (o["margin_exact"], o["b_rel_exact"]) == ("32/75", "1/30")
    assert o["margin"] == pytest.approx(32 / 75, abs=1e-14) and isinstance(o["margin"], float)
    # the 600-cell: c = (1 + sqrt 5)/4, m = (3 - sqrt 5)/8
    o = json.loads(run_cli("construct", "600-cell", "--dim", "4", "-o", tmp_path / "c.npz", "--json").stdout)
    assert (o["margin_exact"], o["b_rel_exact"]) == ("3/8 - sqrt(5)/8", "5/8 + sqrt(5)/8")
    # verify --exact: the exact value as text next to the float
    o = json.loads(run_cli("verify", e8, "--exact", "--json", "--no-retrieval").stdout)
    assert (o["margin_exact"], o["b_rel_exact"], o["margin"]) == ("1/4", "3/4", 0.25)

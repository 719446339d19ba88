"""data/reference/spherical_codes.csv: internal consistency, closed forms, and agreement with the
constructions and theorems it cites (docs/math.md sections 2, 4 and 5.3).

The file is part of the repository, so a missing file fails here instead of skipping.
"""
import ast
import csv
import math

import numpy as np
import pytest

from conftest import REPO
from constellations import io
from constellations.codes.constructions import code, code_max_inner_product, simplex_code

REF = REPO / "data" / "reference" / "spherical_codes.csv"
COLUMNS = ["dim", "n_points", "max_inner_product", "margin", "b_rel", "status", "closed_form",
           "c_uncertainty", "source", "proof"]


def _csv_rows(path, columns):
    """The rows of a reference CSV whose header must be exactly ``columns``."""
    assert path.exists(), f"{path} is missing"
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == columns
        return list(reader)


ROWS = _csv_rows(REF, COLUMNS)
# more published records (d = 3, N = 31..100; the exact simplex/Rankin ranges of d = 4..8), same columns; kept
# apart because the bound tests of other modules iterate over every row of spherical_codes.csv
RECORDS = REF.with_name("spherical_codes_records.csv")
RECORD_ROWS = _csv_rows(RECORDS, COLUMNS)
# the best known Tammes codes for N = 101..200 (Lai, Yue, Hao, Glover and Lv 2023), same columns
LAI = REF.with_name("tammes_lai2023.csv")
LAI_ROWS = _csv_rows(LAI, COLUMNS)
ALL_ROWS = ROWS + RECORD_ROWS + LAI_ROWS


def _polyroot(lo, hi, *coeffs):
    """The root of sum coeffs[i] x^(deg-i) in [lo, hi] by bisection (a sign change is required)."""
    def f(x):
        return sum(c * x ** (len(coeffs) - 1 - i) for i, c in enumerate(coeffs))
    assert f(lo) * f(hi) < 0, "polyroot needs a sign change on [lo, hi]"
    for _ in range(200):
        mid = (lo + hi) / 2
        if (f(lo) < 0) == (f(mid) < 0):
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


_FUNCS = {"sqrt": math.sqrt, "cos": math.cos, "polyroot": _polyroot}
_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}


def closed_form_value(text: str) -> float:
    """Evaluate a closed form of the csv with a whitelist walk of its syntax tree (never eval)."""
    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name) and node.id == "pi":
            return math.pi
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = walk(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS \
                and not node.keywords:
            return _FUNCS[node.func.id](*[walk(a) for a in node.args])
        raise ValueError(f"unsupported closed form {text!r}")
    return float(walk(ast.parse(text, mode="eval")))


def test_evaluator_refuses_anything_else():
    for bad in ("__import__('os')", "open('x')", "x", "[1]", "sqrt(4, key=1)"):
        with pytest.raises((ValueError, TypeError)):
            closed_form_value(bad)
    assert closed_form_value("(1+sqrt(5))/4") == pytest.approx(math.cos(math.pi / 5), abs=1e-15)
    assert closed_form_value("polyroot(0, 1, 2, 0, -1)") == pytest.approx(math.sqrt(2) / 2, abs=1e-15)


def test_table_is_not_trivial():
    assert len(ROWS) >= 40
    dims = {int(r["dim"]) for r in ROWS}
    assert {2, 3, 4, 8} <= dims


@pytest.mark.parametrize("r", ALL_ROWS, ids=lambda r: f"d{r['dim']}-N{r['n_points']}")
def test_row_is_consistent(r):
    d, N = int(r["dim"]), int(r["n_points"])
    c, m, b = float(r["max_inner_product"]), float(r["margin"]), float(r["b_rel"])
    unc = float(r["c_uncertainty"])
    assert d >= 2 and N >= 2 and -1 <= c < 1 and 0 <= unc <= 1e-9
    # docs/math.md section 2: a code with max inner product c is a constellation with these values
    assert m == pytest.approx((1 - c) / 2, abs=1e-15)
    assert b == pytest.approx((1 + c) / 2, abs=1e-15)
    assert r["status"] in ("proven-optimal", "best-known")
    assert r["source"].strip()
    if r["status"] == "proven-optimal":
        assert r["proof"].strip(), "a proven-optimal row must name its proof"
    if r["closed_form"]:
        assert closed_form_value(r["closed_form"]) == pytest.approx(c, abs=1e-12)
        assert unc <= 1e-15
    # Rankin (docs/math.md 5.3): c >= -1/(N-1) always, c >= 0 once N >= d+2, and equality in the
    # simplex and cross-polytope ranges
    assert c >= -1 / (N - 1) - unc
    if N <= d + 1:
        assert c == pytest.approx(-1 / (N - 1), abs=1e-15)
    elif N <= 2 * d:
        assert c == 0.0
    else:
        assert c > 0


@pytest.mark.parametrize("r", [r for r in ALL_ROWS if "minimal angle" in r["source"]],
                         ids=lambda r: f"d{r['dim']}-N{r['n_points']}")
def test_quoted_angles_match(r):
    # "minimal angle X deg" (7 decimals, so |error| <= 5e-8 deg <= 9e-10 in the cosine)
    deg = float(r["source"].split("minimal angle ")[1].split(" deg")[0])
    assert math.cos(math.radians(deg)) == pytest.approx(float(r["max_inner_product"]), abs=1e-9)
    assert float(r["c_uncertainty"]) >= 9e-10 or r["closed_form"]


def test_tammes_monotone_in_n():
    """c*(N, d) <= c*(N+1, d): dropping a point cannot raise the max inner product."""
    by_dim = {}
    for r in ALL_ROWS:  # across both files: no (d, N) twice
        by_dim.setdefault(int(r["dim"]), []).append(
            (int(r["n_points"]), float(r["max_inner_product"]), float(r["c_uncertainty"])))
    checked = 0
    for d, rows in by_dim.items():
        rows.sort()
        assert len({n for n, _, _ in rows}) == len(rows), f"duplicate N in dimension {d}"
        for (n1, c1, u1), (n2, c2, u2) in zip(rows, rows[1:]):
            assert c1 <= c2 + u1 + u2, (d, n1, n2)
            checked += 1
    assert checked >= 30


def test_three_dimensional_records_cover_4_to_30():
    ns = sorted(int(r["n_points"]) for r in ROWS if r["dim"] == "3")
    assert ns == list(range(4, 31))
    proven = {int(r["n_points"]) for r in ROWS if r["dim"] == "3" and r["status"] == "proven-optimal"}
    assert proven == set(range(4, 15)) | {24}


# rows that name a construction of constellations.codes.constructions: the library's array must give c
_BUILT = {"regular tetrahedron": ("simplex", 4), "icosahedron": ("icosahedron", None), "24-cell": ("24-cell", None),
          "600-cell": ("600-cell", None), "E8 roots": ("e8", None), "Clebsch": ("clebsch", None),
          "Schlafli": ("schlafli", None), "Gosset": ("gosset", None), "regular simplex": ("simplex", None),
          "cross-polytope": ("cross-polytope", None), "-gon": ("polygon", None)}


def test_rows_agree_with_the_constructions():
    seen = 0
    for r in ALL_ROWS:
        d, N, c = int(r["dim"]), int(r["n_points"]), float(r["max_inner_product"])
        kind = next((k for key, (k, _) in _BUILT.items() if key in r["source"]), None)
        if kind is None:
            continue
        if kind in ("simplex", "cross-polytope", "polygon"):
            P, _ = code(kind, d, N)
        else:
            P, _ = code(kind, d)
        if "less one vertex" in r["source"]:
            P = P[:N]
        assert P.shape == (N, d), r
        assert code_max_inner_product(P) == pytest.approx(c, abs=1e-12), r
        seen += 1
    assert seen >= 15 + 29


def test_records_file_covers():
    """spherical_codes_records.csv: d = 3 (N = 31..100) and d = 4..8 (N = d+1..2d)."""
    got = {(int(r["dim"]), int(r["n_points"])) for r in RECORD_ROWS}
    want = {(3, N) for N in range(31, 101)}
    want |= {(d, N) for d in range(4, 9) for N in range(d + 1, 2 * d + 1)} - {(4, 8)}
    assert got == want
    for r in RECORD_ROWS:
        if r["dim"] == "3":  # none of these is proved optimal
            assert r["status"] == "best-known" and not r["proof"]
            assert "neilsloane.com/packings" in r["source"] or "mathModellingTammes" in r["source"]


@pytest.mark.parametrize("r", [r for r in ALL_ROWS if "header angular diameter" in r["source"]],
                         ids=lambda r: f"d{r['dim']}-N{r['n_points']}")
def test_coordinate_rows_match_their_header_angle(r):
    # rows computed from a coordinate file quote the angle its header states (9 decimals: <= 1e-11 in c)
    deg = float(r["source"].split("header angular diameter ")[1].split(" deg")[0])
    assert math.cos(math.radians(deg)) == pytest.approx(float(r["max_inner_product"]), abs=1e-10)
    assert "largest inner product of the coordinates in" in r["source"] and float(r["c_uncertainty"]) >= 1e-10


def test_lai_file_covers_101_to_200_and_states_consistent_values():
    """tammes_lai2023.csv: d = 3, N = 101..200; each row quotes the header of the published file
    (minimal distance D, 12 decimals; angular diameter theta in degrees): c = 1 - D^2/2 and
    D = 2 sin(theta/2) (chord and angle of the same two centres) agree to the written digits."""
    assert [(int(r["dim"]), int(r["n_points"])) for r in LAI_ROWS] == [(3, n) for n in range(101, 201)]
    for r in LAI_ROWS:
        text = r["source"].split("stated minimal distance D = ")[1]
        D = float(text.split(",")[0])
        theta = float(text.split("angular diameter ")[1].split(" deg")[0])
        assert float(r["max_inner_product"]) == pytest.approx(1 - D * D / 2, abs=1e-15)
        assert 2 * math.sin(math.radians(theta) / 2) == pytest.approx(D, abs=1e-11)
        assert r["status"] == "best-known" and not r["proof"] and f"Best Solutions/{r['n_points']}.txt" in r["source"]


def test_lai_row_150_matches_the_published_coordinates():
    """The N = 150 row against the coordinate file kept byte for byte (coordinates/lai2023/150.txt):
    the certified margin of its normalised rows is within the 12 written decimals of the stated one."""
    row = next(r for r in LAI_ROWS if r["n_points"] == "150")
    cfg = io.load(REPO / "data" / "reference" / "coordinates" / "lai2023" / "150.txt")
    assert cfg.X.shape[-2:] == (150, 3)
    G = cfg.X[0] @ cfg.X[0].T
    np.fill_diagonal(G, -1.0)
    assert G.max() == pytest.approx(float(row["max_inner_product"]), abs=1e-12)


QUOTED = REF.with_name("records_quoted_d5to8.csv")
QUOTED_ROWS = _csv_rows(QUOTED, ["dim", "n_points", "max_inner_product", "min_angle_deg", "how", "source"])


def test_quoted_records_are_consistent_and_below_the_ceilings():
    """records_quoted_d5to8.csv: each c agrees with its angle, lies in (0, 1), names its source (with a
    commit), and no certified ceiling on the tied margin lies below it."""
    from constellations.bounds.tied import margin_upper_tied
    assert {(int(r["dim"]), int(r["n_points"])) for r in QUOTED_ROWS} >= {(5, 41), (6, 98), (8, 86)}
    for r in QUOTED_ROWS:
        d, N, c = int(r["dim"]), int(r["n_points"]), float(r["max_inner_product"])
        assert 0 < c < 1 and r["how"] in ("coordinates", "quoted") and "@" in r["source"]
        assert math.cos(math.radians(float(r["min_angle_deg"]))) == pytest.approx(c, abs=1e-11)
        assert margin_upper_tied(N, d).value >= (1 - c) / 2 - 1e-12, (d, N)


def test_records_below_certified_ceilings():
    """No record beats the certified ceiling on the tied margin; where the ceiling is attained, the
    row must say proven-optimal with the same value (the simplex/Rankin rows)."""
    from constellations.bounds.tied import margin_upper_tied
    for r in RECORD_ROWS + LAI_ROWS:
        d, N, c, unc = int(r["dim"]), int(r["n_points"]), float(r["max_inner_product"]), float(r["c_uncertainty"])
        b = margin_upper_tied(N, d)
        assert b.value >= (1 - c) / 2 - unc, (d, N, b.value)
        if b.details["optimal"]:
            assert r["status"] == "proven-optimal" and abs(b.value - (1 - c) / 2) <= 1e-12 + unc, (d, N)


def test_transcription_cross_checks():
    """Values recomputed from Sloane's coordinate files (data/reference/README.md) agree with the angles."""
    rows = {(int(r["dim"]), int(r["n_points"])): float(r["max_inner_product"]) for r in ALL_ROWS}
    # pack.3.19.txt (github.com/xianyang316/Hyperuniformity_simulation): largest inner product in float64
    assert rows[(3, 19)] == pytest.approx(0.6731168876855447, abs=1e-9)
    # pack.3.50.txt: minimal chord 0.5134720846805647, i.e. c = 1 - chord^2/2
    assert rows[(3, 50)] == pytest.approx(1 - 0.5134720846805647 ** 2 / 2, abs=1e-9)


def test_petersen_code_row():
    """(4, 10, 1/6): normalised midpoints of the 10 edges of the regular simplex in R^4."""
    V = simplex_code(5, 4)
    P = np.array([V[i] + V[j] for i in range(5) for j in range(i + 1, 5)])
    P /= np.linalg.norm(P, axis=1, keepdims=True)
    row = next(r for r in ROWS if (r["dim"], r["n_points"]) == ("4", "10"))
    assert code_max_inner_product(P) == pytest.approx(1 / 6, abs=1e-14)
    assert float(row["max_inner_product"]) == pytest.approx(code_max_inner_product(P), abs=1e-14)


# ------------------------------------------- code_sizes.csv: exact values (and best-known lower bounds) of A(n, s)

SIZES = REPO / "data" / "reference" / "code_sizes.csv"
SIZE_COLUMNS = ["n", "s", "A", "status", "attained_by", "source", "proof"]

SIZE_ROWS = _csv_rows(SIZES, SIZE_COLUMNS)

# attained_by names that constellations.codes.constructions can build cheaply: (kind, dim)
_SIZE_BUILT = {"regular hexagon": ("polygon", 6), "icosahedron": ("icosahedron", None),
               "24-cell": ("24-cell", None), "E8 roots": ("e8", None), "Clebsch": ("clebsch", None),
               "Schlafli": ("schlafli", None), "Gosset": ("gosset", None)}


# attained_by names built from constellations.codes.lattices: an exact integer check of c <= s
_LATTICE_BUILT = {"Barnes-Wall lattice BW16": "bw16_min_vectors"}


@pytest.mark.parametrize("r", SIZE_ROWS, ids=lambda r: f"n{r['n']}-s{r['s']}")
def test_code_size_row(r):
    from constellations.bounds import levenshtein_bound, to_exact
    n, A = int(r["n"]), int(r["A"])
    s = to_exact(r["s"])
    assert r["status"] in ("exact", "best-known") and r["source"].strip() and r["proof"].strip()
    # no valid bound can be below a true value (or below a known code); "sharp" rows are equal to it
    lev = levenshtein_bound(n, s)
    assert lev.value >= A
    if r["status"] == "best-known":
        # a lower bound only: it must not claim optimality, and the bound must leave room above it
        assert "not proven optimal" in r["proof"] and "sharp" not in r["proof"]
        assert lev.value > A
        assert any(key in r["attained_by"] for key in list(_SIZE_BUILT) + list(_LATTICE_BUILT)), \
            "a best-known row must name a configuration the test can build"
    if "Levenshtein bound is sharp" in r["proof"] or "Levenshtein bound equals" in r["proof"]:
        assert lev.value == A and lev.details["exact"] == str(A)
    if "the Levenshtein bound is " in r["proof"] and "sharp" not in r["proof"]:
        quoted = r["proof"].split("the Levenshtein bound is ")[1].split(",")[0].strip()
        assert lev.details["exact"] == quoted
    # a configuration attaining A: A points with inner products <= s
    hit = next(((k, N) for key, (k, N) in _SIZE_BUILT.items() if key in r["attained_by"]), None)
    if hit is not None:
        kind, N = hit
        P, _ = code(kind, n, N) if N else code(kind, n)
        assert P.shape == (A, n)
        assert code_max_inner_product(P) <= float(s) + 1e-12
    lattice = next((f for key, f in _LATTICE_BUILT.items() if key in r["attained_by"]), None)
    if lattice is not None:
        # integer rows of one squared norm q: c = max <x, y> / q exactly, every pair computed
        from fractions import Fraction

        from constellations.codes import lattices
        P = getattr(lattices, lattice)()
        q = int((P[0].astype(np.int64) ** 2).sum())
        assert P.shape == (A, n) and len(np.unique(P, axis=0)) == A
        assert np.all((P.astype(np.int64) ** 2).sum(axis=1) == q)
        top, _ = lattices.integer_max_inner_product(P)
        assert Fraction(top, q) <= s


def test_code_sizes_cover_the_sharp_table():
    sharp = {(int(r["n"]), r["s"]) for r in SIZE_ROWS if "sharp" in r["proof"]}
    assert {(3, "1/sqrt(5)"), (5, "1/5"), (6, "1/4"), (7, "1/3"), (8, "1/2"), (21, "1/9"), (22, "1/6"),
            (23, "1/3"), (24, "1/2")} <= sharp

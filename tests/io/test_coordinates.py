"""Spherical codes as text (constellations.io.coordinates, io.load/io.save by suffix): the layouts of the code
tables, strict parsing with file:line errors, and published files checked against what they state."""
import math
import re

import numpy as np
import pytest

from conftest import REPO

from constellations import ConfigurationError, FileFormatError
from constellations import io
from constellations.codes.constructions import construct, icosahedron_code
from constellations.core.certify import certified_margin
from constellations.core.configuration import tied

COORDS = REPO / "data" / "reference" / "coordinates"
LAI_150 = COORDS / "lai2023" / "150.txt"
SLOANE_19 = COORDS / "sloane" / "pack.3.19.txt"


# ------------------------------------------------------------------------------------------ layouts
def test_rows_with_whitespace_commas_comments_crlf_and_bom():
    text = "\ufeff# a code\n\n1, 0 0\r\n 0,1,0   # trailing comment\n0\t0   -1.0e0\n-.5 , +0.5 ,0.5\n"
    c = io.parse_code(text, "f.txt")
    assert c.layout == "rows" and c.header is None and c.stated == {}
    assert np.array_equal(c.points, [[1, 0, 0], [0, 1, 0], [0, 0, -1], [-0.5, 0.5, 0.5]])
    assert c.lines.tolist() == [3, 4, 5, 6]


@pytest.mark.parametrize("text, header", [
    ("3 3\n1 1 0 0\n2 0 1 0\n3 0 0 1\n", "N d"),   # 1-based index column, header N d
    ("3\n0 1 0 0\n1 0 1 0\n2 0 0 1\n", "N"),      # 0-based index column, header N
    ("0 1 0 0\n1 0 1 0\n2 0 0 1\n", None),        # index column alone
])
def test_index_column_and_header(text, header):
    c = io.parse_code(text, "f.txt")
    assert np.array_equal(c.points, np.eye(3)) and c.layout == "rows with an index column" and c.header == header


@pytest.mark.parametrize("text", ["1 0\n-1 0\n", "0 1\n1 0\n", "1 0 0\n-1 0 0\n", "2 0 0\n0 3 0\n0 0 1\n",
                                  "2 0.5 90\n1 0 0\n0 1 0\n"])
def test_points_that_look_like_a_header_or_an_index(text):
    # first values 0 and 1 may be coordinates: a header needs N >= 2 and an index a value >= 2; a first line as
    # wide as the points that is not a valid header ("2 0 0": N = 2 but d = 0) is a point (to be normalised)
    c = io.parse_code(text, "f.txt")
    assert c.layout == "rows" and c.header is None and c.points.tolist() == [
        [float(v) for v in ln.split()] for ln in text.splitlines()]


@pytest.mark.parametrize("text, message", [
    ("1 0 0\n0 nan 0\n", r"f\.txt:2: 'nan' is not a decimal number"),
    ("1 0 0\n0 -inf 0\n", r"f\.txt:2: '-inf' is not"),
    ("1 0 0\n0 1e999 0\n", r"f\.txt:2: '1e999' overflows a float64"),
    ("1 0 0\n0,,1\n", r"f\.txt:2: an empty field"),
    ("1 0 0\n0 1 0,\n", r"f\.txt:2: an empty field"),
    ("1 0 0\n\n# c\n0 1\n", r"f\.txt:4: 2 numbers, but line 1 has 3"),
    ("# only a comment\n\n", r"f\.txt: no points"),
    ("", r"f\.txt: no points"),
    ("1 0 0\n0 1 0\n__import__('os').system('x')\n", r"f\.txt:3: .* is not a decimal number"),
    ("0x10 0 0\n", r"f\.txt:1: '0x10' is not"),
    ("1_000 0 0\n", r"f\.txt:1: '1_000' is not"),
    ("x y z\n1 0 0\n0 1 0\n", r"f\.txt:1: 'x' is not"),
    ("1 0 0\r0 1 0\r", r"f\.txt:1: .* is not a decimal number"),          # old Mac line ends are refused
    ("3 0.3 17.2\n0 1 0 0\n1 0 1 0\n", r"f\.txt:1: the header says N = 3 points, but 2 point lines follow"),
    ("2 4\n1 0 0\n0 1 0\n", r"f\.txt:1: a header 'N d' needs d = 3"),
    ("2 0.5 90\n0 1 0 0\n1 0 1 0\n", r"f\.txt:1: a 3-number header is read as 'N D theta'"),
])
def test_bad_text_is_one_line_with_file_and_line(text, message):
    with pytest.raises(FileFormatError, match=message) as info:
        io.parse_code(text, "f.txt")
    assert "\n" not in str(info.value)


def test_one_number_per_line_needs_the_dimension():
    ico = icosahedron_code()
    text = "\n".join(map(repr, ico.ravel().tolist())) + "\n"
    assert np.array_equal(io.parse_code(text, "dir/pack.3.12.txt").points, ico)   # Sloane's name gives d = 3
    assert np.array_equal(io.parse_code(text, "ico.txt", dim=3).points, ico)
    assert io.parse_code(text, "ico.txt", dim=3).layout == "one number per line"
    for name, dim, message in (("ico.txt", None, r"needs the dimension: give it \(CLI: --dim D\)"),
                               ("ico.txt", 5, "36 numbers, one per line, do not make points of dimension 5"),
                               ("pack.3.13.txt", None, r"the name says N = 13 points in dimension 3 \(39 numbers\)"),
                               ("pack.3.12.txt", 4, "the name says dimension 3, but the dimension given is 4")):
        with pytest.raises(FileFormatError, match=message):
            io.parse_code(text, name, dim=dim)
    with pytest.raises(FileFormatError, match="the points have 3 coordinates, but the dimension given is 4"):
        io.parse_code("1 0 0\n0 1 0\n", "f.txt", dim=4)
    assert io.name_shape("pack.4.120.txt") == (4, 120) and io.name_shape("150.txt") is None


# ------------------------------------------------------------------------------------------ published files
def test_lai_et_al_150_is_certified_at_its_stated_distance():
    """Lai, Yue, Hao, Glover, Lv (2023), Best Solutions/150.txt as published: header 'N D theta', index column,
    12 decimals.  Its certified margin matches the stated distance D through m = D^2/4 to the written precision."""
    cfg = io.load(LAI_150)
    assert (cfg.M, cfg.N, cfg.d) == (2, 150, 3) and np.array_equal(cfg.X[0], cfg.X[1])
    assert cfg.meta["layout"] == "rows with an index column" and cfg.meta["header"] == "N D theta"
    assert cfg.X[0, 0].tolist() == [0.866101512304, 0.216127019580, 0.450729721444]   # line 2, index 0 dropped
    assert cfg.X[0, -1].tolist() == [0.033667670246, -0.623987070748, -0.780709051773]
    assert 0 < cfg.meta["max_norm_deviation"] < 2e-12                                # 12 decimals: rows kept as written
    st = cfg.meta["stated"]
    D, theta = 0.299930345582, 17.249816554153                                         # the header, typed from the file
    assert (st["min_distance"], st["min_angle_degrees"]) == (D, theta)
    # written precision: D to 5e-13, coordinates to 5e-13 each, so distances of the normalised points move by at most
    # 4 sqrt(3) 5e-13; dm = D dD / 2 (+ dD^2 / 4)
    dD = 5e-13 + 4 * math.sqrt(3) * 5e-13
    assert st["margin"] == D * D / 4 and st["margin_uncertainty"] == pytest.approx(D * dD / 2, rel=1e-6)
    cert = certified_margin(cfg)
    assert cert.is_constellation and cert.margin_certified <= cert.margin
    assert abs(cert.margin - D * D / 4) <= st["margin_uncertainty"]
    assert abs(cert.margin - math.sin(math.radians(theta) / 2) ** 2) <= st["margin_uncertainty"] + 5e-14
    assert cert.margin - cert.margin_certified < 1e-14
    # the smallest distance by brute force over all pairs of the normalised points, against m
    P = cfg.X[0] / np.linalg.norm(cfg.X[0], axis=1, keepdims=True)
    dist = np.sqrt(((P[:, None, :] - P[None, :, :]) ** 2).sum(-1))[np.triu_indices(150, 1)].min()
    geo = io.code_geometry(cert.margin, cert.margin_certified, st)
    assert geo["min_distance"] == pytest.approx(dist, abs=1e-14) and abs(dist - D) < 4 * dD
    assert geo["min_distance_certified"] <= geo["min_distance"] and geo["agrees_with_stated"]
    assert not io.code_geometry(cert.margin + 1e-11, None, st)["agrees_with_stated"]


def test_sloane_pack_3_19_gives_the_angle_of_sloanes_table():
    """Sloane's pack.3.19.txt (one number per line, CRLF): d and N from the name; its minimal angle is the
    table's 47.6919141 degrees, and its c the reference row (3, 19) of data/reference/spherical_codes.csv."""
    cfg = io.load(SLOANE_19)
    assert (cfg.N, cfg.d) == (19, 3) and cfg.meta["layout"] == "one number per line"
    m = certified_margin(cfg).margin
    assert io.code_geometry(m)["min_angle_degrees"] == pytest.approx(47.6919141, abs=5e-8)
    assert 1 - 2 * m == pytest.approx(0.6731168876732, abs=1e-9)


# ------------------------------------------------------------------------------------------ writing
def _awkward_code():
    """Random unit rows in R^7 and rows of signed zeros, subnormals and tiny entries: every bit must survive."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 7))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    X[0] = [1.0, -0.0, 5e-324, 0.0, -1e-300, 0.0, 0.0]
    X[1] = [2 ** -0.5, -(2 ** -0.5), 0.0, 2.2250738585072014e-308, 0.0, 0.0, 0.0]
    return X


@pytest.mark.parametrize("suffix", [".txt", ".dat", ".csv"])
def test_write_then_read_gives_the_same_bits(tmp_path, suffix):
    X = _awkward_code()
    cfg = tied(X)
    cert = certified_margin(cfg)
    path = io.save(tmp_path / f"c{suffix}", cfg, certificate=cert)
    back = io.load(path)
    assert back.X[0].tobytes() == X.tobytes() and back.X[1].tobytes() == X.tobytes()
    assert back.meta["layout"] == "rows" and back.meta["normalized"] is False
    text = path.read_text()
    assert text.startswith("# spherical code: N = 40 points on the unit sphere in R^7, one point per line\n")
    assert float(re.search(r"certified margin m >= (\S+),", text).group(1)) == cert.margin_certified
    assert float(re.search(r"min distance sqrt\(2 - 2c\) = (\S+);", text).group(1)) == 2 * math.sqrt(cert.margin)
    data = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert len(data) == 40 and data[0].split("," if suffix == ".csv" else " ") == [
        "1.0", "-0.0", "5e-324", "0.0", "-1e-300", "0.0", "0.0"]
    assert list(tmp_path.iterdir()) == [path]


def test_published_file_written_back_keeps_its_points(tmp_path):
    cfg = io.load(LAI_150)
    back = io.load(io.save(tmp_path / "150.txt", cfg))   # no certificate: the comments say it was not computed
    assert back.X.tobytes() == cfg.X.tobytes() and "margin not computed here" in (tmp_path / "150.txt").read_text()


def test_only_one_code_goes_to_text(tmp_path):
    with pytest.raises(ConfigurationError, match="a text file holds one spherical code, and the 2 modalities"):
        io.save(tmp_path / "lift.txt", construct("lift", 5, 4, 2, base="simplex", delta=0.8, phi=0.3))
    with pytest.raises(ConfigurationError, match=r"extra arrays \(labels\) need an \.npz file"):
        io.save(tmp_path / "ico.txt", construct("icosahedron", 3), extra={"labels": np.arange(12)})
    assert list(tmp_path.iterdir()) == []                                     # nothing written, no temporary file
    p = io.save(tmp_path / "ico.txt", construct("icosahedron", 3, modalities=3))  # tied over 3: one code
    three = io.load(p, modalities=3)
    assert three.M == 3 and np.array_equal(three.X[2], icosahedron_code())
    with pytest.raises(ConfigurationError, match="at least 2 modalities"):
        io.load(p, modalities=1)


def test_rows_far_from_unit_and_bad_files(tmp_path):
    p = tmp_path / "s.txt"
    p.write_text("# scaled\n2 0 0\n0 0.5 0\n0 0 1\n")
    with pytest.raises(ConfigurationError, match=r"s\.txt:2: point 0 has norm 2, not 1 .*normalize"):
        io.load(p)
    cfg = io.load(p, normalize=True)
    assert np.array_equal(cfg.X[0], np.eye(3)) and cfg.meta["max_norm_deviation"] == 1.0 and cfg.meta["normalized"]
    p.write_text("1 0 0\n0 0 0\n")
    with pytest.raises(ConfigurationError, match=r"s\.txt:2: point 1 is zero"):
        io.load(p)
    p.write_text("1 0 0\n")
    with pytest.raises(ConfigurationError, match="N=2"):
        io.load(p)
    io.save(tmp_path / "a.npz", construct("icosahedron", 3))
    (tmp_path / "a.txt").write_bytes((tmp_path / "a.npz").read_bytes())
    with pytest.raises(FileFormatError, match=r"a\.txt is an \.npz archive, not text"):
        io.load(tmp_path / "a.txt")
    (tmp_path / "b.dat").write_bytes(b"1 0 0\n\xff\xfe 1 0\n")
    with pytest.raises(FileFormatError, match=r"b\.dat:2: not UTF-8 text"):
        io.load(tmp_path / "b.dat")
    with pytest.raises(FileFormatError, match="no such file"):
        io.load(tmp_path / "missing.txt")
    with pytest.raises(ConfigurationError, match="dimension 3, but the dimension given is 4"):
        io.load(tmp_path / "a.npz", dim=4)

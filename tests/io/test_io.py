import json
from pathlib import Path

import numpy as np
import pytest

from constellations import ConfigurationError, FileFormatError
from constellations import io
from constellations.codes.constructions import construct


def test_roundtrip(tmp_path):
    c = construct("modality-simplex", 5, 4, 3, base="simplex", graph="star")
    p = io.save(tmp_path / "c.npz", c)
    d = io.load(p)
    assert np.array_equal(d.X, c.X) and d.graph == c.graph
    assert d.meta["margin"] == pytest.approx(c.meta["margin"])


def test_uv_format(tmp_path):
    c = construct("icosahedron", 3)
    np.savez(tmp_path / "uv.npz", U=c.U, V=c.V)
    d = io.load(tmp_path / "uv.npz")
    assert d.M == 2 and np.array_equal(d.V, c.V)


def test_missing_corrupt_truncated(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        io.load(tmp_path / "nope.npz")
    (tmp_path / "bad.npz").write_text("not a zip")
    with pytest.raises(FileFormatError):
        io.load(tmp_path / "bad.npz")
    good = io.save(tmp_path / "g.npz", construct("e8", 8))
    data = good.read_bytes()
    (tmp_path / "t.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError):
        io.load(tmp_path / "t.npz")
    np.savez(tmp_path / "w.npz", Y=np.eye(3))
    with pytest.raises(FileFormatError, match="expected"):
        io.load(tmp_path / "w.npz")
    np.savez(tmp_path / "m.npz", U=np.eye(3), V=np.eye(4)[:, :3])
    with pytest.raises(ConfigurationError, match="N"):
        io.load(tmp_path / "m.npz")


def test_non_unit_rows(tmp_path):
    np.savez(tmp_path / "s.npz", X=2 * construct("icosahedron", 3).X)
    with pytest.raises(ConfigurationError, match="normalize"):
        io.load(tmp_path / "s.npz")
    assert np.allclose(np.linalg.norm(io.load(tmp_path / "s.npz", normalize=True).X, axis=-1), 1)


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    p = tmp_path / "keep.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError):
        with io.atomic_write(p, "w") as fh:
            fh.write("partial")
            raise RuntimeError("crash mid-write")
    assert p.read_text() == "old"
    assert [f.name for f in tmp_path.iterdir()] == ["keep.txt"]


def test_jsonable():
    obj = {"a": np.float64(1.5), "b": (np.int64(2),), "c": np.eye(2), "d": float("inf"), "e": np.float64("nan"),
           "f": np.array([1.0, -np.inf])}
    s = json.dumps(io.to_jsonable(obj), allow_nan=False)  # JSON has no Inf/NaN: they become null, never strings
    assert json.loads(s) == {"a": 1.5, "b": [2], "c": [[1, 0], [0, 1]], "d": None, "e": None, "f": [1.0, None]}


def test_check_writable(tmp_path):
    assert io.check_writable(tmp_path / "a.npz", ".npz") == tmp_path / "a.npz"
    assert list(tmp_path.iterdir()) == []  # the probe file is removed
    with pytest.raises(FileFormatError, match="must be a .npz file"):
        io.check_writable(tmp_path / "a.txt", ".npz")
    with pytest.raises(FileFormatError, match="does not exist"):
        io.check_writable(tmp_path / "nodir" / "a.npz", ".npz")
    (tmp_path / "d.npz").mkdir()
    with pytest.raises(FileFormatError, match="directory"):
        io.check_writable(tmp_path / "d.npz", ".npz")
    # a configuration goes to .npz or to text (.txt, .dat, .csv: one code); any other name is refused
    with pytest.raises(FileFormatError, match=r"must be a \.npz, \.txt, \.dat or \.csv file"):
        io.save(tmp_path / "out.bin", construct("simplex", 2, 3))
    assert list(tmp_path.iterdir()) == [tmp_path / "d.npz"]  # neither out.bin nor out.bin.npz


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_check_writable_virtual_filesystem():
    # os.access may say yes for /proc (root); the probe file shows that nothing can be created there.
    with pytest.raises(FileFormatError, match="cannot write"):
        io.check_writable("/proc/x.npz", ".npz")


def _npz_with_header(path, shape, payload=b"\0" * 64, descr="<f8"):
    import io as _io
    import zipfile

    from numpy.lib import format as npformat
    buf = _io.BytesIO()
    npformat.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("X.npy", buf.getvalue() + payload)


def test_lying_header_refused_before_allocating(tmp_path):
    # A 100-byte file whose header claims 16 TB: refused from the header, nothing allocated.
    _npz_with_header(tmp_path / "lie.npz", (2, 10 ** 6, 10 ** 6))
    with pytest.raises(FileFormatError, match=r"declares shape \(2, 1000000, 1000000\).*holds 64 bytes"):
        io.load(tmp_path / "lie.npz")


def test_pickled_arrays_never_loaded(tmp_path):
    np.savez(tmp_path / "obj.npz", X=np.array([1, "a", None], dtype=object))
    with pytest.raises(FileFormatError, match="Python objects"):
        io.load(tmp_path / "obj.npz")


def test_load_checks_memory(tmp_path, monkeypatch):
    import constellations.core.configuration as configuration
    p = io.save(tmp_path / "e8.npz", construct("e8", 8))
    monkeypatch.setattr(configuration, "memory_limit", lambda: 10_000)
    # X alone is 2 x 240 x 8 float64 = 30 KiB, counted twice (the array and its validated copy)
    with pytest.raises(ConfigurationError, match=r"loading .*needs about 6\d(\.\d)? KiB.*limit of 9.77 KiB"):
        io.load(p)


# ---------------------------------------------------------------- names the file system cannot hold
def test_overlong_names_are_file_format_errors(tmp_path):
    # ENAMETOOLONG is an OSError of its own: every entry point turns it into a FileFormatError naming the limit
    long_name = tmp_path / ("a" * 300 + ".npz")
    long_path = tmp_path.joinpath(*["a"] * 2100, "x.npz")
    c = construct("simplex", 3, 4)
    for p, limit in ((long_name, "255 per name"), (long_path, "path too long")):
        for call in (lambda: io.check_writable(p, ".npz"), lambda: io.load(p), lambda: io.save(p, c),
                     lambda: io.atomic_write_text(p, "x")):
            with pytest.raises(FileFormatError, match=limit):
                call()
    assert list(tmp_path.iterdir()) == []


def test_scratch_names_fit_beside_a_long_name(tmp_path):
    # a 250-byte name is legal; its temporary ".NAME.<random>.tmp" and probe names must be legal too
    p = tmp_path / ("b" * 246 + ".npz")
    io.save(p, construct("simplex", 3, 4))
    assert [q.name for q in tmp_path.iterdir()] == [p.name] and io.load(p).N == 4

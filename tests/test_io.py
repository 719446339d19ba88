import json

import numpy as np
import pytest

from constellations import ConfigurationError, FileFormatError, io
from constellations.constructions import construct


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
    s = json.dumps(io.to_jsonable({"a": np.float64(1.5), "b": (np.int64(2),), "c": np.eye(2), "d": float("inf")}))
    assert json.loads(s) == {"a": 1.5, "b": [2], "c": [[1, 0], [0, 1]], "d": "inf"}

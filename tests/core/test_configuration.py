import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from constellations import Configuration, ConfigurationError, Graph, as_array, parse_graph, tied
from constellations.core.configuration import check_memory, format_bytes
from constellations.codes.constructions import simplex_code


def unit(rng, *shape):
    X = rng.standard_normal(shape)
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def test_as_array_accepts_and_freezes():
    X = unit(np.random.default_rng(0), 3, 5, 4)
    A = as_array(X)
    assert A.dtype == np.float64 and A.shape == (3, 5, 4) and not A.flags.writeable
    assert np.array_equal(A, X)


@pytest.mark.parametrize("bad, msg", [
    (np.full((2, 3, 2), np.nan), "NaN"),
    (np.full((2, 3, 2), np.inf), "NaN or Inf"),
    (np.ones((3, 2)), "shape"),
    (np.ones((2, 1, 3)) / np.sqrt(3), "N=2"),
    (np.ones((1, 4, 3)) / np.sqrt(3), "modalities"),
    (np.zeros((2, 3, 2)), "zero"),
    (np.ones((2, 3, 2)), "unit"),
    (np.zeros((2, 3, 0)), "dimension"),
])
def test_bad_arrays_refused(bad, msg):
    with pytest.raises(ConfigurationError, match=msg):
        as_array(bad)


def test_mismatched_modalities():
    with pytest.raises(ConfigurationError, match="N"):
        as_array([np.eye(3), np.eye(4)[:, :3]])
    with pytest.raises(ConfigurationError, match="d"):
        as_array([np.eye(3), np.eye(3, 4)])


def test_normalize_option():
    X = 3.0 * unit(np.random.default_rng(1), 2, 4, 3)
    A = as_array(X, normalize=True)
    assert np.allclose(np.linalg.norm(A, axis=-1), 1.0, atol=1e-15)


def test_graphs():
    assert Graph.complete(4).edges == ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
    assert Graph.star(4).edges == ((0, 1), (0, 2), (0, 3))
    assert parse_graph("2-1, 0-1", 3).edges == ((0, 1), (1, 2))
    assert parse_graph("star", 3) == Graph.star(3)
    for spec in ["complete", "star", "0-2"]:
        g = parse_graph(spec, 3)
        assert parse_graph(g.spec, 3).edges == g.edges
    with pytest.raises(ConfigurationError):
        parse_graph("0-5", 3)
    with pytest.raises(ConfigurationError):
        parse_graph("nonsense", 3)
    with pytest.raises(ConfigurationError):
        Graph(1, ())


def test_configuration_and_tied():
    c = tied(simplex_code(4, 3), modalities=3)
    assert (c.M, c.N, c.d) == (3, 4, 3)
    assert c.graph == Graph.complete(3)
    assert np.array_equal(c.X[0], c.X[2])
    p = Configuration.from_pair(c.U, c.V)
    assert p.M == 2


@pytest.mark.parametrize("scale", [1e200, 1e300, 1e-160, 1e-300, 3.0])
def test_normalize_any_magnitude(scale):
    # Squares of 1e200 overflow and of 1e-160 underflow; the exact power-of-two rescaling avoids both.
    X = unit(np.random.default_rng(2), 2, 5, 4)
    c = Configuration.from_array(X * scale, normalize=True)
    assert np.allclose(c.X, X, rtol=0, atol=4e-16)


def test_non_unit_message_names_the_norm():
    X = unit(np.random.default_rng(3), 2, 4, 3)
    for scale, shown in [(1e200, r"1e\+200"), (1e-160, "1e-160")]:
        with pytest.raises(ConfigurationError, match=f"norm {shown}.*pass normalize=True"):
            Configuration.from_array(X * scale)


def test_subnormal_rows_normalise():
    X = np.array([[[3e-320, 4e-320], [1.0, 0.0]], [[0.0, 5e-321], [0.0, -2.0]]])
    A = as_array(X, normalize=True)
    assert np.allclose(A, [[[0.6, 0.8], [1, 0]], [[0, 1], [0, -1]]], atol=1e-3)  # subnormal input: few digits
    assert np.allclose(np.linalg.norm(A, axis=-1), 1.0, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=3, max_size=3),
       st.integers(-300, 300))
def test_normalised_rows_are_unit(row, e):
    with np.errstate(over="ignore"):
        row = np.array(row) * 10.0 ** e
    if not np.isfinite(row).all() or not np.any(row):
        return
    X = np.stack([row, [1.0, 0.0, 0.0]])[None].repeat(2, axis=0)
    A = as_array(X, normalize=True)
    assert abs(np.linalg.norm(A[0, 0]) - 1.0) < 1e-15
    # the direction is kept: A[0, 0] is a positive multiple of row
    k = int(np.argmax(np.abs(row)))
    assert np.sign(A[0, 0, k]) == np.sign(row[k])
    # compare with row scaled by a power of two into the normal range (exact, also for subnormal rows,
    # where scaling A back down to row's size would round to a few bits)
    r = np.ldexp(row, -int(np.frexp(row[k])[1]))
    assert np.allclose(A[0, 0], r / np.linalg.norm(r), rtol=0, atol=1e-15)


def test_check_memory():
    assert format_bytes(3 * 2 ** 40) == "3 TiB" and format_bytes(512) == "512 B"
    check_memory(1 << 20, "small", limit=1 << 30)
    with pytest.raises(ConfigurationError, match=r"random code needs about 2.88 TiB.*limit of 8 GiB"):
        check_memory(8 * 3 * 2 * 10 ** 9 * 66, "random code", limit=8 << 30)

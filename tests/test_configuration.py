import numpy as np
import pytest

from constellations import Configuration, ConfigurationError, Graph, as_array, parse_graph, tied
from constellations.constructions import simplex_code


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

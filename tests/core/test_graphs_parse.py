"""parse_graph / Graph: strict reading of user text and edge lists (issue 10)."""
import numpy as np
import pytest

from constellations.core.errors import ConfigurationError
from constellations.core.graphs import Graph, parse_graph


@pytest.mark.parametrize("spec,M,edges", [
    ("0-1, 1-2", 3, ((0, 1), (1, 2))),
    (" 2-0 ", 3, ((0, 2),)),
    ("complete", 3, ((0, 1), (0, 2), (1, 2))),
    ("star", 4, ((0, 1), (0, 2), (0, 3))),
    (None, 2, ((0, 1),)),
    ([(0, 1)], 2, ((0, 1),)),
    (np.array([[0, 1], [1, 2]]), 3, ((0, 1), (1, 2))),
    ([(np.int64(2), np.int64(0))], 3, ((0, 2),)),
])
def test_accepted(spec, M, edges):
    g = parse_graph(spec, M)
    assert g.edges == edges and g.M == M
    assert parse_graph(g.spec, M) == g  # spec round-trips


@pytest.mark.parametrize("spec", [
    "", ",", "0-1,", "0.5-1", "0-1-2", "Complete", "\u0660-\u0661",  # Arabic-Indic digits: int() would take them
    "__import__('os')", "0-1;1-2", "0-99999999999", "1-1", "0-5",
    5, 0.5, [(0.5, 1)], [(True, 1)], [(0,)], [0], [(0, 1, 2)], [], "0 - 1 , x"])
def test_rejected(spec):
    with pytest.raises(ConfigurationError):
        parse_graph(spec, 3)


@pytest.mark.parametrize("M", [None, 1, 2.5, True, "3"])
def test_bad_number_of_modalities(M):
    with pytest.raises(ConfigurationError):
        Graph(M, ((0, 1),))

"""Lower bounds from the table store and a short search (tables.lower), above the construction bounds."""

import numpy as np
import pytest

from conftest import REPO

from constellations.bounds import margin_lower
from constellations.bounds.constellation import MAX_ITEMS
from constellations.core.certify import certified_margin
from constellations.core.errors import ConfigurationError
from constellations.tables.lower import best_margin_lower, free_bounds
from constellations.tables.store import TableStore

SHIPPED = REPO / "data" / "tables" / "margins.sqlite"


def test_store_candidates_are_recertified():
    b = best_margin_lower(32, 3, store=SHIPPED)
    assert b.value >= 0.1 and b.method.startswith("construction:store:")
    assert b.details["store"]["path"] == str(SHIPPED) and b.details["store"]["configurations"] >= 1
    with TableStore(SHIPPED, readonly=True) as st:
        key = next(r.key for r in st.cells(n=[32], dims=[3]) if b.method.endswith(f"M={r.modalities},{r.graph}"))
        X = st.configuration(key).X
        assert best_margin_lower(32, 3, store=st).value == b.value   # an open store too
    assert b.value == certified_margin(X).margin_certified
    # a configuration with fewer items or a larger dimension is not a candidate
    assert margin_lower(32, 3, extra=[np.asarray(X)[:, :31, :]]).value == margin_lower(32, 3).value


def test_without_store_or_search_it_is_the_construction_bound():
    assert best_margin_lower(24, 4) == margin_lower(24, 4)


def test_too_many_items_refused_before_work():
    for kw in [{"store": "x.sqlite"}, {"search_seconds": 1}]:   # x.sqlite does not exist: never opened
        with pytest.raises(ConfigurationError, match=f"limit of {MAX_ITEMS}"):
            best_margin_lower(MAX_ITEMS + 1, 3, **kw)
    with pytest.raises(ConfigurationError, match="positive number of seconds"):
        best_margin_lower(8, 3, search_seconds=0)


def test_free_bounds_report():
    r = free_bounds(32, 3, store=SHIPPED)
    d = r.to_dict()
    assert d["margin_lower"] == r.lower.value and "store:" in d["margin_lower_method"]
    assert d["store"]["configurations"] >= 1 and d["margin_lower"] <= d["margin_upper"]
    assert d["optimal"] is False and d["seconds"] >= 0 and d["status"] == "completed"  # the vocabulary

"""The analysis of real pairs (constellations.analysis) speaks the one result vocabulary (core/results.py)."""
from __future__ import annotations

import json

import numpy as np

from constellations.analysis import PairAnalysis, analyze_pairs
from constellations.codes.constructions import construct
from constellations.core.results import VOCABULARY, Result, Status

#: The keys of ``constellations analyze --json`` before the vocabulary (each must stay).
OLD_KEYS = ("modalities", "n", "dim", "graph", "n_classes", "norms", "mean_norms", "forms", "percentiles", "counts",
            "edges", "device", "epsilon", "sweeps")


def test_e8_as_u_equals_v_speaks_the_vocabulary():
    X = construct("e8", dim=8).X[0]  # 240 unit rows, inner products in {-1, +-1/2, 0, 1}: m = (1 - 1/2)/2
    res = analyze_pairs((X, X), gap=False)
    assert isinstance(res, Result) and isinstance(res, PairAnalysis)
    for name in (*VOCABULARY, "config"):
        assert hasattr(res, name), name
    d = res.to_dict()
    assert list(d)[:len(VOCABULARY)] == list(VOCABULARY)
    assert all(k in d for k in OLD_KEYS) and "config" not in d
    json.dumps(d, allow_nan=False)
    assert isinstance(res.status, Status) and res.status is Status.COMPLETED and d["status"] == "completed"
    assert abs(res.margin - 0.25) < 1e-12 and res.margin == res.forms["minmax"].margin == d["margin"]
    assert res.margin_certified is None and d["margin_certified"] is None and res.config is None
    assert (res.n, res.dim, res.modalities) == (240, 8, 2) and (d["n"], d["dim"], d["modalities"]) == (240, 8, 2)
    assert isinstance(res.message, str) and res.message and "\n" not in res.message and d["message"] == res.message
    assert isinstance(res.seconds, float) and res.seconds >= 0 and d["seconds"] == res.seconds
    assert d["forms"]["minmax"]["margin"] == res.margin and d["edges"][0]["edge"] == [0, 1]


def test_three_modalities_margin_is_pooled_over_edges_and_to_dict_is_plain_json():
    # M = 3 on a star graph, with the gap test on a subset (its gamma may be NaN: JSON null)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3, 30, 4))
    X[1] += 2 * X[0]
    X[2] += X[0]
    res = analyze_pairs(X, graph="star", gap_sample=10, seed=1)
    assert (res.n, res.dim, res.modalities) == (30, 4, 3) and len(res.edges) == 2
    assert res.margin == res.forms["minmax"].margin <= min(e.margin_minmax for e in res.edges)
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    assert list(d)[:len(VOCABULARY)] == list(VOCABULARY) and all(k in d for k in OLD_KEYS)
    assert set(d["norms"]) == {"0", "1", "2"} and isinstance(d["edges"][0]["gap"], dict)

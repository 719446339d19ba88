"""One result vocabulary (src/constellations/core/results.py) across every result type of the package."""
from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil

import numpy as np
import pytest

import constellations
from constellations import certified_margin
from constellations.codes.constructions import construct
from constellations.core.results import VOCABULARY, Result, Status
from constellations.search import newton_polish, search
from constellations.search.polish import polish
from constellations.tables.grid import Cell
from constellations.tables.store import CellResult

#: The result types that must speak the vocabulary (the package's public results of computations).
EXPECTED = {"SearchResult", "CertifiedMargin", "PolishResult", "NewtonResult", "CellResult", "TrainResult",
            "StudyResult", "FrozenResult", "PairAnalysis", "Bound", "Optimality", "FreeReport", "TiedReport",
            "DimensionReport", "CodeReport", "SDPResult", "ClaimCheck", "Ceilings", "InitialBias"}


def _all_result_types():
    for info in pkgutil.walk_packages(constellations.__path__, "constellations."):
        importlib.import_module(info.name)
    seen, todo = set(), list(Result.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.add(cls)
            todo += cls.__subclasses__()
    return seen


def test_every_result_type_has_the_vocabulary():
    types = _all_result_types()
    assert EXPECTED <= {t.__name__ for t in types}, EXPECTED - {t.__name__ for t in types}
    for cls in types:
        if cls.__name__.startswith("_"):  # a private mixin shared by public result types (bounds.report._Report)
            continue
        assert dataclasses.is_dataclass(cls), cls
        names = {f.name for f in dataclasses.fields(cls)} | set(dir(cls))
        missing = [v for v in (*VOCABULARY, "config", "to_dict") if v not in names]
        assert not missing, f"{cls.__name__} lacks {missing}"


def _check(result, n, dim, modalities=None):
    d = result.to_dict()
    assert list(d)[:len(VOCABULARY)] == list(VOCABULARY)
    json.dumps(d)  # plain JSON data, no arrays, no NaN objects
    assert isinstance(result.status, Status) and d["status"] == result.status.value
    assert isinstance(result.message, str) and "\n" not in result.message and result.message
    assert result.seconds is None or result.seconds >= 0
    assert (result.n, result.dim) == (n, dim)
    if modalities is not None:
        assert result.modalities == modalities
    return d


def test_search_result_speaks_the_vocabulary():
    res = search(12, 3, tied=True, restarts=2, seed=0)
    d = _check(res, 12, 3, 2)
    assert res.status is Status.COMPLETED
    assert abs(d["margin"] - (1 - 5 ** -0.5) / 2) < 1e-9  # the icosahedron, Tammes N = 12
    assert d["margin_certified"] <= d["margin"] and d["found_by"] and d["graph"] == "complete"


def test_certificate_speaks_the_vocabulary():
    cm = certified_margin(construct("e8", dim=8))
    d = _check(cm, 240, 8, 2)
    assert cm.margin_certified <= 0.25 <= cm.margin_cert_upper and cm.margin_cert == cm.margin_certified
    exact = certified_margin(construct("cross-polytope", dim=4), exact=True)
    assert exact.to_dict()["margin_exact"] == "1/2" and "config" not in d


def test_polishes_speak_the_vocabulary():
    C = construct("icosahedron", dim=3).X[0]
    pr = polish(C, tied=True)
    _check(pr, 12, 3)
    assert pr.status is Status.CONVERGED and pr.margin >= pr.margin_before
    nr = newton_polish(C)
    _check(nr, 12, 3)
    assert abs(nr.margin - (1 - 5 ** -0.5) / 2) < 1e-15


def test_table_cell_speaks_the_vocabulary():
    cell = Cell(n=4, dim=3, modalities=2, graph="complete", tied=True, restarts=1)
    r = CellResult.for_cell(cell, margin=1 / 3, b_rel=2 / 3, margin_certified=1 / 3 - 1e-16, margin_upper=1 / 3,
                            upper_method="theorem-3.4", restarts=1, seconds=0.5, seed=0, solver="construction",
                            solver_version="1", config=b"")
    d = _check(r, 4, 3, 2)
    assert d["margin"] == pytest.approx(1 / 3) and "config" not in d


def test_bounds_results_speak_the_vocabulary():
    from fractions import Fraction

    from constellations.bounds import code_report, dimension_report, levenshtein_bound, sdp_margin, tied_report
    from constellations.core.certify import check_claim

    t = tied_report(6, 3)  # the octahedron: Rankin's optimum m = 1/2, reached exactly
    d = _check(t, 6, 3)
    assert d["margin"] == d["margin_certified"] == 0.5 and t.optimality.proved and "optimal: proved" in d["message"]
    dr = dimension_report(6, "1/2")  # the cross-polytope needs d = 3; Rankin: 2N <= ... gives d >= 3
    d = _check(dr, 6, None)
    assert d["margin"] == 0.5 and d["dim_upper"] == 3 and d["margin_certified"] is None
    cr = code_report(3, 0)  # A(3, 0) = 6 (Rankin)
    d = _check(cr, None, 3)
    assert d["best"] == 6 and d["margin"] is None
    lb = levenshtein_bound(8, Fraction(1, 2))  # the kissing number in R^8: Levenshtein gives exactly 240
    assert lb.to_dict()["value"] == 240 and lb.to_dict()["status"] == "completed"
    sr = sdp_margin(4)  # Theorem 3.4 is met by the SDP: m = N/(2(N-1)) = 2/3
    d = _check(sr, 4, None, 2)
    assert abs(d["margin"] - 2 / 3) < 1e-6 and d["margin_certified"] is None
    claim = check_claim(construct("cross-polytope", dim=3), Fraction(1, 2), Fraction(1, 2), exact=True)
    d = _check(claim, 6, 3, 2)
    assert claim.holds and d["margin_certified"] == 0.5 and d["margin_exact"] == "1/2"
    for sub in (t.upper, t.optimality, t.lower):
        assert list(sub.to_dict())[:len(VOCABULARY)] == list(VOCABULARY)


def test_to_dict_converts_numpy_and_non_finite_values():
    @dataclasses.dataclass(frozen=True)
    class Probe(Result):
        margin: float = np.float64(0.25)
        margin_certified: float = float("nan")
        status: Status = Status.TIME_LIMIT
        message: str = "probe"
        seconds: float = np.float32(1.5)
        n: int = np.int64(3)
        dim: int = 2
        modalities: int = 2
        config: object = None
        extra: tuple = (np.arange(3), 1)

    d = Probe().to_dict()
    assert d == {"margin": 0.25, "margin_certified": None, "status": "time_limit", "message": "probe",
                 "seconds": 1.5, "n": 3, "dim": 2, "modalities": 2, "extra": [None, 1]}

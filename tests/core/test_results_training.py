"""The training results (TrainResult, StudyResult, FrozenResult) answer to the one result vocabulary."""
import json

import numpy as np
import pytest

from constellations.codes.constructions import random_code, simplex_code
from constellations.core.configuration import Configuration, tied
from constellations.core.margins import margin_stats
from constellations.core.results import VOCABULARY, Result, Status
from constellations.training.frozen import FrozenResult, frozen_alternate, frozen_optimum
from constellations.training.reproduce import StudyResult, reproduce
from constellations.training.trainer import TrainResult, TrainSpec, train


def _speaks_the_vocabulary(r) -> dict:
    """Every name is an attribute and a key of to_dict(), the vocabulary first and in order, all JSON."""
    assert isinstance(r, Result)
    for name in VOCABULARY + ("config",):
        assert hasattr(r, name), name
    d = r.to_dict()
    assert tuple(d)[:len(VOCABULARY)] == VOCABULARY
    json.dumps(d, allow_nan=False)
    assert isinstance(r.status, Status) and d["status"] == r.status.value
    assert isinstance(r.message, str) and r.message and "\n" not in r.message
    assert r.seconds >= 0 and d["seconds"] == r.seconds
    assert (d["n"], d["dim"]) == (r.n, r.dim)
    return d


def _interrupt_at(stop_step):
    def progress(step, *_):
        if step == stop_step:
            raise KeyboardInterrupt
    return progress


# -- TrainResult ----------------------------------------------------------------------------------


def test_train_result_vocabulary_completed():
    spec = TrainSpec(n=6, dim=3, modalities=3, graph="star", steps=20, record_every=5, dtype="float64")
    r = train(spec, seeds=(0, 1, 2))
    assert isinstance(r, TrainResult)
    d = _speaks_the_vocabulary(r)
    assert r.status is Status.COMPLETED and r.steps_done == 20
    assert (r.n, r.dim, r.modalities) == (6, 3, 3) and d["modalities"] == 3
    assert r.margin_certified is None and d["margin_certified"] is None
    # the best run: the largest float64 margin, whose configuration is ``config``
    assert d["margin"] == float(np.max(r.margin)) and r.best == int(np.argmax(r.margin))
    assert isinstance(r.config, Configuration) and r.config.meta["seed"] == int(r.seeds[r.best])
    assert margin_stats(r.config).margin == pytest.approx(d["margin"], abs=1e-12)
    # the old name still reads the new field
    assert r.wall_s == r.seconds
    assert d["spec"]["graph"] == spec.graph.spec and d["steps_done"] == 20 and d["best_run"] == r.best
    assert [run["seed"] for run in d["runs"]] == [0, 1, 2]
    assert [run["margin"] for run in d["runs"]] == [float(m) for m in r.margin]


def test_train_result_vocabulary_interrupted():
    spec = TrainSpec(n=6, dim=3, steps=40, record_every=10, frozen=0, adapter=True)
    r = train(spec, seeds=(4,), progress=_interrupt_at(20))
    d = _speaks_the_vocabulary(r)
    assert r.interrupted and r.steps_done == 20
    assert r.status is Status.INTERRUPTED and d["status"] == "interrupted"
    assert "20 of 40" in r.message
    assert (d["n"], d["dim"], d["modalities"]) == (6, 3, 2)
    assert d["runs"][0]["delta"] == pytest.approx(float(r.delta[0]))


# -- StudyResult ----------------------------------------------------------------------------------


def test_study_result_vocabulary_completed():
    r = reproduce("modalities", n=6, dim=3, seeds=2, steps=10, modalities=(2, 3))
    assert isinstance(r, StudyResult)
    d = _speaks_the_vocabulary(r)
    assert r.status is Status.COMPLETED
    assert (r.n, r.dim, r.modalities) == (6, 3, (2, 3)) and d["modalities"] == [2, 3]
    assert r.config is None and r.margin_certified is None
    # the best margin of any run bounds every setting's mean, and is > 0 exactly when some run separated
    assert all(r.margin >= row["margin_mean"] - 1e-15 for row in r.rows)
    assert (r.margin > 0) == any(row["constellations"] > 0 for row in r.rows)
    assert r.wall_s == r.seconds
    assert d["table"] == "modalities" and len(d["rows"]) == 2 and d["settings"]["seeds"] == [0, 1]


def test_study_result_vocabulary_interrupted():
    def progress(label, step, steps):
        if step == 10:
            raise KeyboardInterrupt
    r = reproduce("fixed-brel", n=5, dim=3, seeds=2, steps=40, b_rels=(0.0, 0.4), progress=progress)
    d = _speaks_the_vocabulary(r)
    assert r.settings["interrupted"] and r.status is Status.INTERRUPTED
    assert all(row["steps_done"] == 10 for row in r.rows)
    assert (d["n"], d["dim"], d["modalities"]) == (5, 3, 2)


# -- FrozenResult ---------------------------------------------------------------------------------


def test_frozen_result_vocabulary():
    N = 5
    r = frozen_optimum(tied(simplex_code(N, 6)))
    assert isinstance(r, FrozenResult)
    d = _speaks_the_vocabulary(r)
    assert r.solver_status in ("optimal", "optimal_inaccurate")
    assert r.status is (Status.CONVERGED if r.solver_status == "optimal" else Status.COMPLETED)
    assert (r.n, r.dim, r.modalities) == (N, 6, 2)
    assert d["margin"] == pytest.approx(N / (2 * (N - 1)), abs=1e-6) and d["margin_certified"] is None
    assert isinstance(r.config, Configuration) and r.config.meta["free"] == 1
    assert margin_stats(r.config).margin == pytest.approx(r.achieved, abs=1e-12)
    assert d["graph"] == r.config.graph.spec and d["solver_status"] == r.solver_status


def test_frozen_result_vocabulary_star_and_alternate():
    X = tied(random_code(8, 3, 3), modalities=3, graph="star")
    r = frozen_optimum(X, free=2)
    d = _speaks_the_vocabulary(r)
    assert (d["n"], d["dim"], d["modalities"]) == (8, 3, 3) and d["free"] == 2
    assert r.config.graph.spec == X.graph.spec
    a = frozen_alternate(tied(random_code(10, 4, 0)), rounds=1)
    assert a is not None
    _speaks_the_vocabulary(a)
    assert margin_stats(a.config).margin == pytest.approx(a.achieved, abs=1e-12)

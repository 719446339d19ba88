"""One rule for "proved optimal" (src/constellations/bounds/optimality.py): a theorem and an exact comparison."""
import itertools
import json
import os
import subprocess
import sys
from fractions import Fraction

import pytest

from constellations.core.results import VOCABULARY

from conftest import REPO

from constellations.core.certify import certified_margin
from constellations.codes.constructions import construct
from constellations.core.errors import ConstellationsError
from constellations.bounds import margin_lower, margin_upper_free, margin_upper_tied, parse_exact
from constellations.bounds.optimality import (Optimality, construction_margin, format_gap,
                                                      optimality)


# the certified margin of the shipped tied (16, 10) cell: a float a few ulps below the optimum 1/2
SHIPPED_16_10 = 0.49999999999980393


def test_just_below_one_half_is_not_proved():
    o = optimality(SHIPPED_16_10, margin_upper_tied(16, 10))
    assert isinstance(o, Optimality) and o.proved is False
    assert o.optimum == 0.5 and o.optimum_exact == "1/2" and "Rankin" in o.theorem
    assert 1.96e-13 < o.gap <= 2e-13  # 1/2 - 0.49999999999980393, rounded up
    assert o.label() == "optimum proved: 1/2 (Rankin (cross-polytope)); this configuration is within 2e-13 of it"


def test_reaching_one_half_exactly_is_proved():
    ceiling = margin_upper_tied(16, 10)
    o = optimality(0.5, ceiling)
    assert o.proved and o.gap == 0.0
    assert o.label() == "optimum proved: 1/2 (Rankin (cross-polytope)); this configuration reaches it"
    # the exact cross-polytope: its certified float margin is below 1/2, its exact margin is 1/2
    c = construct("cross-polytope", dim=10, n=16)
    cm = certified_margin(c).margin_certified
    assert cm < 0.5 and not optimality(cm, ceiling).proved
    assert optimality(cm, ceiling, exact_margin=c.meta["margin_exact"]).proved
    assert optimality(cm, ceiling, exact_margin=Fraction(1, 2)).proved
    assert not optimality(cm, ceiling, exact_margin=Fraction(1, 2) - Fraction(1, 10 ** 30)).proved


def test_irrational_optimum_needs_the_exact_construction():
    # icosahedron: m* = (1 - 1/sqrt 5)/2 (Levenshtein sharp); no float equals it
    ceiling = margin_upper_tied(12, 3)
    cm = certified_margin(construct("icosahedron", dim=3)).margin_certified
    o = optimality(cm, ceiling)
    assert not o.proved and 0 < o.gap < 1e-14 and o.theorem == "Levenshtein (sharp)"
    assert optimality(cm, ceiling, exact_margin="(1 - 1/sqrt(5))/2").proved
    below = parse_exact("(1 - 1/sqrt(5))/2") - Fraction(1, 10 ** 20)
    assert not optimality(cm, ceiling, exact_margin=below).proved


def test_polygon_optimum_by_closed_form():
    # sin^2(pi/7) is neither rational nor a quadratic surd: equal closed forms, or the enclosure
    ceiling = margin_upper_tied(7, 2)
    assert ceiling.details["optimum_exact"] == "sin^2(pi/7)"
    lo = margin_lower(7, 2)
    assert not optimality(lo.value, ceiling).proved
    assert optimality(lo.value, ceiling, exact_margin="sin^2(pi/7)").proved
    assert not optimality(lo.value, ceiling, exact_margin="sin^2(pi/8)").proved
    assert construction_margin(lo) == "sin^2(pi/7)"


def test_no_theorem_no_claim():
    ceiling = margin_upper_tied(15, 3)  # the optimum of 15 points on S^2 is not known
    o = optimality(0.2, ceiling)
    assert (o.proved, o.optimum, o.theorem, o.gap) == (False, None, None, None)
    assert o.label() == "no proved optimum"
    # the bounds meet: a certified margin at the certified ceiling proves the optimum
    met = optimality(ceiling.value, ceiling)
    assert met.proved and met.optimum == ceiling.value and "ceiling met" in met.theorem


def test_free_ceiling_names_corollary_5_4():
    o = optimality(0.25, margin_upper_free(240, 8))
    assert o.proved and o.optimum_exact == "1/4"
    assert "Corollary 5.4" in o.theorem and "Levenshtein (sharp)" in o.theorem
    d = o.to_dict()
    assert set(d) == {"proved", "optimum", "optimum_exact", "theorem", "gap", "label"} | set(VOCABULARY)
    assert list(d)[:len(VOCABULARY)] == list(VOCABULARY) and d["message"] == o.label()
    assert d["label"] == o.label() and json.loads(json.dumps(d)) == d


def test_margin_above_the_optimum_is_an_error():
    with pytest.raises(ConstellationsError):
        optimality(0.6, margin_upper_tied(16, 10))


def test_d1_exact_zero_is_reached():
    # brute force in R^1, M = 2: m*(3, 1) = 0 and m*(2, 1) = 1 over all sign patterns
    def best(N):
        out = -2.0
        for u in itertools.product((1, -1), repeat=N):
            for v in itertools.product((1, -1), repeat=N):
                pos = min(u[i] * v[i] for i in range(N))
                neg = max(u[i] * v[j] for i in range(N) for j in range(N) if i != j)
                out = max(out, (pos - neg) / 2)
        return out
    assert best(3) == 0 and best(2) == 1
    for N, m in ((3, 0.0), (2, 1.0)):
        o = optimality(m, margin_upper_free(N, 1))
        assert o.proved and o.optimum == best(N)
    assert optimality(0.0, margin_upper_free(3, 1)).theorem == "d = 1"


@pytest.mark.parametrize("gap,text", [(1.9606538614880265e-13, "2e-13"), (2e-13, "2e-13"), (0.05, "0.05"),
                                      (0.051, "0.06"), (9.5e-16, "1e-15")])
def test_gap_is_rounded_up(gap, text):
    assert format_gap(gap) == text


def run(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "constellations.cli.main", "bounds", *map(str, args)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


def test_cli_tied_prints_the_theorem():
    p = run("--n", 16, "--dim", 10, "--tied")
    assert p.returncode == 0, p.stderr
    assert "optimum proved: 1/2 (Rankin (cross-polytope)); this configuration reaches it" in p.stdout
    d = json.loads(run("--n", 12, "--dim", 3, "--tied", "--json").stdout)
    assert d["optimal"] is True and d["optimality"]["theorem"] == "Levenshtein (sharp)"
    assert d["optimality"]["optimum_exact"] == "1/2 - 1/10*sqrt(5)" == d["margin_upper_exact"]


def test_cli_no_optimum_is_not_optimal():
    d = json.loads(run("--n", 15, "--dim", 3, "--tied", "--json").stdout)
    assert d["optimal"] is False and d["optimality"]["optimum"] is None
    d = json.loads(run("--n", 10, "--dim", 4, "--b-rel", "1/3", "--json").stdout)
    assert d["optimal"] is False and d["optimality"]["optimum"] is None  # no verdict at a fixed b_rel

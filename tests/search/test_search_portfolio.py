"""The portfolio of moves (src/constellations/search/portfolio.py): successive halving on margin per second,
and its use by the search (every move, free >= tied, the report)."""
import types

import numpy as np
import pytest

from constellations.core.deadline import Deadline
from constellations.core.margins import code_margin
from constellations.search import search
from constellations.search.driver import PORTFOLIO, STRATEGIES
from constellations.search.moves import hop_starts
from constellations.search.portfolio import Portfolio
from constellations.search.restarts import Phase


class TickingClock:
    """A stand-in for ``time`` in search.moves whose time() advances ``tick`` seconds at every call.

    MBH pulls run for MBH_BURST = 1 s of steps and the portfolio ranks its arms by margin per second, so a
    count of hops still does as much work as the machine's speed allows; with this clock a pull is a fixed
    number of steps (about 1/(3 tick): three calls a step) and every rate a count, the same run on any
    machine, however loaded.  Only for searches without a time limit (it never meets a real deadline) and
    in this process (n_jobs = 1)."""

    def __init__(self, tick):
        self.now, self.tick = 1e9, tick

    def time(self):
        self.now += self.tick
        return self.now


def ticking_clock(monkeypatch, tick=0.05):
    from constellations.search import moves
    monkeypatch.setattr(moves, "time", types.SimpleNamespace(time=TickingClock(tick).time))


def _play(p, payoff, pulls):
    """Pull ``pulls`` times; payoff[name] = (seconds, gain) of one pull. Returns the names pulled."""
    seen = []
    for _ in range(pulls):
        name = p.next()
        p.record(name, *payoff[name])
        seen.append(name)
    return seen


def test_successive_halving_doubles_the_winner_and_halves_the_rest():
    payoff = {"a": (1.0, 0.0), "b": (1.0, 1e-3), "c": (1.0, 0.0), "d": (2.0, 0.0)}
    p = Portfolio(("a", "b", "c", "d"))
    seen = _play(p, payoff, 4 + 2 * 2 + 4 * 1)
    assert seen[:4] == ["a", "b", "c", "d"]  # round 0: every arm once, in order
    # round 1: the best half by rate -- b (gains), then a (no gain, but cheaper than d, and c ties a
    # on every key but comes later): each twice; round 2: b alone, 4 times
    assert sorted(seen[4:8]) == ["a", "a", "b", "b"]
    assert seen[8:] == ["b"] * 4
    # a new bracket: every arm again
    assert sorted(_play(p, payoff, 4)) == ["a", "b", "c", "d"]
    rep = p.report()
    assert rep["brackets"] == 2 and rep["arms"]["b"]["pulls"] == 8 and rep["arms"]["b"]["improved"] == 8
    assert rep["arms"]["b"]["gain"] == pytest.approx(8e-3) and rep["arms"]["d"]["seconds"] == 4.0


def test_rate_is_gain_per_second_not_gain():
    # x gains 1e-3 in 10 s, y gains 5e-4 in 1 s: y pays 5x more per second and survives
    p = Portfolio(("x", "y"))
    _play(p, {"x": (10.0, 1e-3), "y": (1.0, 5e-4)}, 2)
    assert _play(p, {"x": (10.0, 0.0), "y": (1.0, 0.0)}, 1) == ["y"]


def test_a_round_shares_seconds_not_pulls():
    """Round 1 gives each survivor 2 u seconds (u the median round-0 pull, here 1 s): an arm whose
    pull takes 10 s is pulled once while a 1 s arm is pulled twice -- not 2 pulls each, which
    would hand the slow arm ten times the other's time."""
    payoff = {"a": (10.0, 2e-2), "b": (1.0, 1e-3), "c": (1.0, 0.0), "d": (1.0, 0.0)}
    p = Portfolio(("a", "b", "c", "d"))
    seen = _play(p, payoff, 4 + 3 + 1)
    assert seen[:4] == ["a", "b", "c", "d"]
    assert seen[4:7] == ["a", "b", "b"]  # the fewest seconds in the round goes first
    # round 2: a alone (2e-3 per second against b's 1e-3); 4 s of share, one 10 s pull
    assert seen[7] == "a"
    assert _play(p, payoff, 4) == ["a", "b", "c", "d"]  # a new bracket
    assert p.report()["brackets"] == 2


def test_one_arm_always_pulled_and_negative_gains_ignored():
    p = Portfolio(("kick",))
    assert _play(p, {"kick": (0.5, -1.0)}, 5) == ["kick"] * 5
    assert p.report()["arms"]["kick"]["gain"] == 0.0
    _play(p, {"kick": (0.5, 1.1e-16)}, 2)  # an ulp: a re-polished copy of the same code, not a gain
    assert p.report()["arms"]["kick"]["improved"] == 0
    with pytest.raises(ValueError):
        Portfolio(())


def test_strategies_of_the_cli_are_the_librarys():
    from constellations.cli.search import STRATEGY_NAMES
    assert STRATEGY_NAMES == list(STRATEGIES)
    assert STRATEGIES["auto"][0] == PORTFOLIO and "multiswap" in PORTFOLIO and "fresh" in PORTFOLIO


def test_each_move_alone_reaches_the_octahedron():
    """Every move with one signature, alone as a strategy, from random starts: N = 6 in d = 3 is the
    octahedron, c = 0, m = 1/2 (Rankin's bound for d + 2 <= N <= 2d is sharp)."""
    for name in PORTFOLIO:
        r = search(6, 3, tied=True, restarts=1, hops=3, seed=2, strategy=name, constructions=False)
        assert abs(r.margin - 0.5) < 1e-9, name
        assert r.extra["hops"] == 3 and r.extra["portfolio"]["arms"][name]["pulls"] == 3


def test_auto_portfolio_reports_every_arm_on_a_tammes_code():
    """N = 13 in d = 3 from random starts with the whole portfolio: the record of Sloane's table of
    3-d packings (data/reference/spherical_codes.csv), and a report of what each arm did."""
    from test_search import _reference_margins  # tests/ is on sys.path (rootdir conftest)
    rec = _reference_margins()
    r = search(13, 3, tied=True, restarts=4, hops=10, seed=0, constructions=False)
    assert abs(r.margin - rec[3, 13]) < 1e-8
    arms = r.extra["portfolio"]["arms"]
    # every arm but the antipodal restarts, which need N even
    assert set(arms) == set(PORTFOLIO) - {"antipodal"} and sum(a["pulls"] for a in arms.values()) == r.extra["hops"] == 10
    assert all(a["pulls"] >= 1 for a in arms.values())  # round 0 pulls every arm once
    assert r.extra["found_by"] in ("restart", "polish", *PORTFOLIO)
    assert abs(code_margin(r.config.X[0]) - r.margin) < 1e-15


def test_free_portfolio_has_no_code_moves_and_stays_above_tied():
    r = search(10, 3, 2, restarts=2, hops=6, seed=0, constructions=False)
    arms = r.extra["portfolio"]["arms"]
    assert set(arms) == {"kick", "jump", "fresh", "mbh"}
    assert r.margin >= r.extra["tied_margin"] - 1e-12
    t = search(10, 3, tied=True, restarts=2, hops=6, seed=0, constructions=False)
    assert r.margin >= t.margin - 1e-12  # the same tied run is the free run's first phase


def test_portfolio_in_cli_json(cli):
    import json
    res = cli("search", "--n", "6", "--dim", "3", "--tied", "--restarts", "1", "--json",
                  "--no-constructions", "--strategy", "auto")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    # d = 3: every arm but the antipodal restarts (ANTIPODAL_MIN_DIM)
    assert out["strategy"] == "auto" and set(out["portfolio"]["arms"]) == set(PORTFOLIO) - {"antipodal"}
    assert abs(out["margin"] - 0.5) < 1e-9 and np.isfinite(out["margin_certified"])
    assert out["antipodal"] is True  # the octahedron


@pytest.mark.parametrize("n", [28, 29])
def test_mbh_alone_reaches_tammes_records_that_restarts_miss(n, monkeypatch):
    """N = 28 and 29 in d = 3: four compiled restarts end 1e-4 and 3e-5 below the records of Sloane's
    table of 3-d packings (data/reference/spherical_codes.csv); monotonic basin hopping from them,
    alone, reaches the records within 8 pulls of about 6 steps each (a ticking clock makes a pull a
    count of steps: N = 29 needs 3 pulls, N = 28 more than 4)."""
    from test_search import _reference_margins  # tests/ is on sys.path (rootdir conftest)
    rec = _reference_margins()[3, n]
    ticking_clock(monkeypatch)
    plain = search(n, 3, tied=True, restarts=4, hops=0, seed=0, constructions=False, backend="numba")
    r = search(n, 3, tied=True, restarts=4, hops=8, seed=0, constructions=False, backend="numba", strategy="mbh")
    assert plain.margin < rec - 1e-5
    assert abs(r.margin - rec) < 1e-8 and r.extra["found_by"] == "mbh"
    arm = r.extra["portfolio"]["arms"]["mbh"]
    assert arm["pulls"] == 8 and arm["gain"] > 1e-5  # credited with its chain's gains


@pytest.mark.parametrize("seconds,restarted", [(0.05, True), (1e9, False)])
def test_mbh_chain_restarts_after_its_idle_seconds(monkeypatch, seconds, restarted):
    """An MBH chain at the octahedron (N = 6, d = 3: optimal, no step can gain) starts again from a
    fresh restart once its steps have run MBH_PATIENCE_SECONDS without gain, however few they were
    (the step count, MBH_PATIENCE, is put out of reach); without that limit it stays within a 1 s
    pull.  On the ticking clock a step lasts 0.05 s and the pull about 6 steps, on any machine."""
    from constellations.search import moves
    from constellations.search.optimizer import default_schedule
    from constellations.search.problem import Problem, Settings

    ticking_clock(monkeypatch, 0.05)
    monkeypatch.setattr(moves, "MBH_PATIENCE", 10**6)
    monkeypatch.setattr(moves, "MBH_PATIENCE_SECONDS", seconds)
    pb = Problem(6, 3, 2, ((0, 1),), True, "numba")
    octa = np.vstack([np.eye(3), -np.eye(3)])
    hop = moves.Hop(default_schedule(0), Deadline.NEVER, None, settings=Settings())
    moves.mbh(pb, octa, code_margin(octa), np.random.default_rng(0), hop)
    assert (hop.chain["restarts"] > 0) == restarted



def test_parallel_hopping_reaches_a_tammes_record_that_one_worker_misses():
    """n_jobs = 2: the restarts and then the basin hopping run in two worker processes, each hopping
    from the best restart with its own random stream (hops run in the workers only under a deadline: the
    time limit here is a safety net the counts never reach, so the run is the same on any machine).  N = 13
    in d = 3: one random restart ends at 0.22685; two swap hops reach the record of Sloane's table in one
    worker and stop at 0.22733 in the other, and the search keeps the best; the report adds up their arms."""
    from test_search import _reference_margins  # tests/ is on sys.path (rootdir conftest)
    rec = _reference_margins()[3, 13]
    r = search(13, 3, tied=True, restarts=1, hops=2, strategy="swap", time_limit=600, seed=0, constructions=False,
               n_jobs=2)
    assert r.restart_margins[0] < rec - 1e-3 and not r.time_limited
    assert abs(r.margin - rec) < 1e-8 and r.extra["found_by"] == "swap"
    workers = sorted(r.extra["hop_workers"])
    assert len(workers) == 2 and workers[0] < rec - 1e-4 and abs(workers[1] - r.margin) < 1e-12
    rep = r.extra["portfolio"]
    assert rep["workers"] == 2 and rep["arms"]["swap"]["pulls"] == r.extra["hops"] == 4
    assert abs(code_margin(r.config.X[0]) - r.margin) < 1e-15


def test_parallel_hopping_runs_start_from_distinct_restarts():
    """Worker 0 hops from the phase's best (a polish of the best restart, 2), the others from the next
    restarts in decreasing margin, one per basin: restart 2 is the best's own basin and restart 0 lies
    within 1e-7 of restart 3, so both are passed over; with more workers than starts they cycle."""
    ph = Phase()
    margins = {0: 0.30, 1: 0.10, 2: 0.32, 3: 0.30 + 5e-8, 4: 0.20}
    for j, m in margins.items():
        ph.results[j] = (np.full((3, 2), float(j)), m)
    ph.offer(np.full((3, 2), -1.0), 0.32 + 3e-6, "polish")
    starts = hop_starts(ph, 6)
    assert [s[1] for s in starts] == [0.32 + 3e-6, 0.30 + 5e-8, 0.20, 0.10, 0.32 + 3e-6, 0.30 + 5e-8]
    assert [s[2] for s in starts[:4]] == ["polish", "restart", "restart", "restart"]
    assert [s[0][0, 0] for s in starts[:4]] == [-1.0, 3.0, 4.0, 1.0]  # restart 3, not 0
    assert hop_starts(ph, 1) == starts[:1]


def test_merged_portfolio_reports_add_up():
    from constellations.search.moves import _merged
    a = dict(arms=dict(kick=dict(pulls=2, seconds=0.5, gain=1e-3, improved=1)), brackets=1)
    b = dict(arms=dict(kick=dict(pulls=3, seconds=0.25, gain=0.0, improved=0),
                       mbh=dict(pulls=1, seconds=1.0, gain=2e-3, improved=1)), brackets=2)
    m = _merged([a, b])
    assert m["arms"]["kick"] == dict(pulls=5, seconds=0.75, gain=1e-3, improved=1)
    assert m["arms"]["mbh"] == b["arms"]["mbh"] and m["brackets"] == 3 and m["workers"] == 2


def test_parallel_free_search_stays_above_its_tied_code():
    """A free search with n_jobs = 2: one start of the workers serves both phases, the free phase hops
    in both of them (under a deadline, here a safety net the counts never reach), and the result is
    never below the tied code: for N = 16 in d = 5 the Clebsch code (c = 1/5, m = 2/5, proven optimal by
    the Levenshtein bound; data/reference/spherical_codes.csv), which two restarts reach.  The time
    limit itself is held under load by tests/test_workers_signals.py and test_search.py."""
    from test_search import _reference_margins  # tests/ is on sys.path (rootdir conftest)
    r = search(16, 5, 3, restarts=2, hops=1, time_limit=600, seed=0, n_jobs=2, constructions=False)
    assert abs(r.extra["tied_margin"] - _reference_margins()[5, 16]) < 1e-9 and not r.time_limited
    assert r.margin >= r.extra["tied_margin"] - 1e-12
    assert len(r.extra["hop_workers"]) == 2 and r.extra["portfolio"]["workers"] == 2  # the free phase's


def test_a_round_without_gains_drops_no_arm():
    """No arm gained: nothing to halve on, so every arm keeps the same share of seconds per round (the
    slow arm's one pull overshoots it) -- the slow arm is not dropped for being slow (it may be the
    only move that leaves the basin); once an arm gains, halving resumes."""
    payoff = {"a": (1.0, 0.0), "b": (1.0, 0.0), "slow": (4.0, 0.0)}
    p = Portfolio(("a", "b", "slow"))
    seen = _play(p, payoff, 3 + 3 * 5)  # round 0, then 3 rounds of 2 u = 2 s each: a, b twice, slow once
    assert seen[:3] == ["a", "b", "slow"]
    for k in range(3):
        assert sorted(seen[3 + 5 * k: 8 + 5 * k]) == ["a", "a", "b", "b", "slow"]
    rep = p.report()["arms"]
    assert rep["slow"]["seconds"] == 16.0 and rep["a"]["seconds"] == 7.0 and p.report()["brackets"] == 1
    payoff["b"] = (1.0, 1e-4)  # b pays from now on
    seen = _play(p, payoff, 5 + 8)  # the next round keeps b and a (cheaper than slow), 4 u = 4 s each
    assert sorted(seen[5:]) == ["a"] * 4 + ["b"] * 4


def test_deferred_problems_hop_by_reseats_and_antipodal_restarts(monkeypatch):
    """Where the LP polish is deferred (Problem.lp_deferred, here forced for a small problem) the
    automatic portfolio is the re-seat move and the antipodal restarts (N even, d >= 4); elsewhere it
    is PORTFOLIO; on S^2 without the antipodal restarts.  All reach the cross-polytope's margin 1/2
    (N = 8 in d = 4, N = 6 in d = 3: c = 0, Rankin's bound)."""
    from constellations.search import problem as problem_module
    from constellations.search.driver import DEFERRED_PORTFOLIO
    plain = search(8, 4, tied=True, restarts=2, hops=4, seed=0, constructions=False, backend="numba")
    assert tuple(plain.extra["strategy_moves"]) == PORTFOLIO
    sphere = search(6, 3, tied=True, restarts=2, hops=4, seed=0, constructions=False, backend="numba")
    assert tuple(sphere.extra["strategy_moves"]) == tuple(mv for mv in PORTFOLIO if mv != "antipodal")
    monkeypatch.setattr(problem_module, "LP_DEFER_VARS", 0)
    r = search(8, 4, tied=True, restarts=2, hops=4, seed=0, constructions=False, backend="numba")
    assert tuple(r.extra["strategy_moves"]) == DEFERRED_PORTFOLIO == ("reseat", "antipodal")
    arms = r.extra["portfolio"]["arms"]
    assert set(arms) == {"reseat", "antipodal"} and arms["reseat"]["pulls"] + arms["antipodal"]["pulls"] == 4
    assert min(a["pulls"] for a in arms.values()) >= 1  # round 0 pulls both
    r3 = search(6, 3, tied=True, restarts=2, hops=4, seed=0, constructions=False, backend="numba")
    assert tuple(r3.extra["strategy_moves"]) == ("reseat",) and r3.extra["portfolio"]["arms"]["reseat"]["pulls"] == 4
    assert all(abs(x.margin - 0.5) < 1e-9 for x in (plain, sphere, r, r3))

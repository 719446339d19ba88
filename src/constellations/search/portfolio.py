r"""The portfolio: which move the basin hopping runs next, by successive halving on margin per second.

The moves (:mod:`search.moves`) are arms.  A *bracket* starts with every arm alive; in its
round 0 every arm is pulled once; in round r >= 1 each surviving arm gets :math:`2^r u` seconds
(:math:`u` the median time of a round-0 pull: :math:`2^r` pulls of a typical arm), pulled in turn,
the arm with the fewest seconds in the round first, until every survivor has had its share (the
last pull may overshoot it); then the better half survives (:math:`\lceil |S|/2 \rceil` arms),
until one is left; its round done, a new bracket starts with all arms again, so that an arm that
stopped paying can be replaced and one that was unlucky comes back.  The budget of a round is
time, not pulls: an arm whose pull costs ten times the others' would otherwise take ten times
their share of the search (the LP polish of a kick at N = 96, d = 3 costs seconds where an MBH
step costs hundredths).

Arms are ranked by their *rate* in the bracket,

.. math::

    \rho_a = \frac{\sum \Delta m}{\sum t} \quad [\text{margin per second}],

the gain of the best margin (:math:`\Delta m \ge 0`, float64; gains up to GAIN_FLOOR count as 0)
over the seconds spent on the arm's pulls in this bracket; ties are broken by the rate over the
whole run, then by the cheaper arm (fewer seconds per pull).  **A round in which no arm has gained
anything in the bracket drops none**: without evidence there is nothing to halve on, so every arm
gets the same seconds again, round after round, until one pays.  (Ranking such a round by cost
starved the slow move that was the only way out: from a code 3e-7 below the N = 97, d = 3 Tammes
record, kicks alone reached the record in 15-27 s in 3 of 3 tries, but the old tie-break gave them
4.6 s of 78 in a one-minute search and the cheap swaps 34 s; measured ad hoc.)  A portfolio of
one arm always pulls it.  :meth:`Portfolio.report` gives each arm's pulls, seconds, gain and
improvements (``SearchResult.extra["portfolio"]``).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

__all__ = ["Portfolio", "Arm", "GAIN_FLOOR"]

#: Gains of the best margin at or below this count as none: a re-polished copy of the same code
#: differs by an ulp or two (1e-16), which must not steer the halving nor claim the result.
GAIN_FLOOR = 1e-12


@dataclass
class Arm:
    """What one move has done: in the current bracket and over the run."""

    name: str
    pulls: int = 0
    seconds: float = 0.0
    gain: float = 0.0
    improved: int = 0
    bracket_seconds: float = 0.0
    bracket_gain: float = 0.0

    def rate(self, bracket: bool) -> float:
        g, s = (self.bracket_gain, self.bracket_seconds) if bracket else (self.gain, self.seconds)
        return g / s if s > 0 else 0.0

    def cost(self) -> float:
        return self.seconds / self.pulls if self.pulls else 0.0


@dataclass
class Portfolio:
    """Successive halving over the arms ``names`` (see the module docstring).

    Use: ``move = p.next()``, run it, ``p.record(move, seconds, gain)``.
    """

    names: tuple
    arms: dict = field(init=False)
    alive: list = field(init=False)
    round: int = field(init=False, default=0)
    queue: list = field(init=False, default_factory=list)
    brackets: int = field(init=False, default=0)
    unit: float = field(init=False, default=0.0)
    spent: dict = field(init=False, default_factory=dict)

    def __post_init__(self):
        if not self.names:
            raise ValueError("a portfolio needs at least one move")
        self.arms = {n: Arm(n) for n in self.names}
        self._new_bracket()

    def _new_bracket(self):
        self.alive, self.round, self.brackets = list(self.names), 0, self.brackets + 1
        for a in self.arms.values():
            a.bracket_seconds = a.bracket_gain = 0.0
        self.queue = list(self.alive)  # round 0: each arm once, in order
        self.spent = dict.fromkeys(self.alive, 0.0)

    def _halve(self):
        if self.round == 0:
            self.unit = float(statistics.median(self.spent.values()))
        if any(self.arms[n].bracket_gain > 0 for n in self.alive):
            key = lambda n: (self.arms[n].rate(True), self.arms[n].rate(False), -self.arms[n].cost())  # noqa: E731
            ranked = sorted(self.alive, key=key, reverse=True)
            self.alive = ranked[:math.ceil(len(ranked) / 2)]
            self.round += 1
        else:  # no evidence: no arm is dropped, and every one gets the same seconds again
            self.round = max(self.round, 1)
        self.spent = dict.fromkeys(self.alive, 0.0)

    def _share(self) -> float:
        return 2 ** self.round * self.unit

    def _pick(self):
        # fewest seconds in this round first (ties: the order of ``alive``), so that a deadline cuts
        # every arm alike; None once every survivor has had its share
        short = [n for n in self.alive if self.spent[n] < self._share()]
        return min(short, key=lambda n: self.spent[n]) if short else None

    def next(self) -> str:
        """The move to run now."""
        while not self.queue:  # round 0 runs from the queue; later rounds pick by seconds spent
            name = self._pick() if self.round else None
            if name is not None:
                return name
            if self.round and len(self.alive) <= 1:
                self._new_bracket()
            else:
                self._halve()
        return self.queue.pop(0)

    def record(self, name: str, seconds: float, gain: float) -> None:
        """Account one pull of ``name``: its wall time and the gain of the best margin (>= 0)."""
        a = self.arms[name]
        gain = float(gain) if gain > GAIN_FLOOR else 0.0
        if name in self.spent:
            self.spent[name] += seconds
        a.pulls += 1
        a.seconds += seconds
        a.bracket_seconds += seconds
        a.gain += gain
        a.bracket_gain += gain
        a.improved += gain > 0

    def report(self) -> dict:
        """Per arm: pulls, seconds, gain, improvements; plus the number of brackets started."""
        out = {n: dict(pulls=a.pulls, seconds=round(a.seconds, 3), gain=a.gain, improved=a.improved)
               for n, a in self.arms.items()}
        return dict(arms=out, brackets=self.brackets)

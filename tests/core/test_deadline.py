"""The one deadline (src/constellations/core/deadline.py): its arithmetic on an injected clock (no wall-clock
timing), the stop flag, and what travels to worker processes."""
import pickle
import time

import pytest

from constellations.core.deadline import Deadline
from constellations.core.interrupts import INTERRUPT


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now=100.0):
        self.now = now

    def __call__(self):
        return self.now


def test_after_left_passed_and_expired_follow_the_clock():
    c = Clock(100.0)
    d = Deadline.after(5.0, clock=c)
    assert d.at == 105.0 and d.left() == 5.0 and not d.passed() and not d.expired() and not d()
    assert d.passed(within=5.5) and not d.passed(within=4.5)  # a step of 5.5 s would carry past it
    c.now = 104.0
    assert d.left() == 1.0 and not d.expired()
    c.now = 105.0
    assert not d.expired()  # strictly after ``at``
    c.now = 107.0
    assert d.left() == 0.0 and d.passed() and d.expired() and d()  # never negative


def test_share_is_a_fraction_of_what_is_left_from_now():
    c = Clock(0.0)
    d = Deadline(10.0, clock=c)
    assert d.share(0.25).at == 2.5 and d.share(1.0).at == 10.0
    c.now = 4.0
    s = d.share(0.5)
    assert s.at == 7.0 and s.clock is c  # derived deadlines keep the clock
    c.now = 12.0
    assert d.share(0.5).at == 12.0  # nothing left: now, not before


def test_earlier_later_capped():
    c = Clock(0.0)
    d = Deadline(10.0, clock=c)
    assert d.earlier(3.0).at == 7.0 and d.later(1.5).at == 11.5 and d.earlier(12.0).at == -2.0
    assert d.capped(4.0).at == 4.0 and d.capped(20.0) is d and d.capped(None) is d
    c.now = 8.0
    assert d.capped(4.0) is d  # 12 comes after 10


def test_never_has_no_limit_and_its_derivatives_neither():
    n = Deadline.NEVER
    assert n == Deadline() and n.at is None and n.left() is None and not n.passed(within=1e300)
    assert not n.expired()
    for derived in (n.share(0.5), n.earlier(3.0), n.later(3.0), n.capped(None), Deadline.after(None)):
        assert derived is n
    assert 0.0 <= n.capped(2.0).left() <= 2.0  # NEVER capped: 2 s from now on time.time


def test_the_stop_flag_expires_every_deadline_but_not_the_clock():
    far = Deadline(10.0, clock=Clock(0.0))
    INTERRUPT.set()
    try:
        assert Deadline.NEVER.expired() and far.expired() and far()
        assert not far.passed() and far.left() == 10.0  # the clock alone
    finally:
        INTERRUPT.flag = False
    assert not Deadline.NEVER.expired() and not far.expired()


def test_a_pickled_deadline_keeps_its_point_on_the_clock():
    """Workers receive the deadline pickled: the point on time.time travels, not the seconds left
    (which would restart counting when a busy worker finally unpickles it)."""
    d = Deadline(1234.5)
    e = pickle.loads(pickle.dumps(d))
    assert e == d and e.at == 1234.5 and e.clock is time.time
    assert pickle.loads(pickle.dumps(Deadline.NEVER)).at is None


def test_nan_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        Deadline(float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        Deadline.after(float("nan"))

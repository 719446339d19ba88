r"""The one deadline of a long computation: a point on the clock, and the stop flag.

Every loop of the search, every kernel and every polish asks the same question, "stop now?", of one
object, a :class:`Deadline`: :meth:`Deadline.expired` is True once the stop flag
(:data:`constellations.core.interrupts.INTERRUPT`: Ctrl-C or SIGTERM during a search) is set or the
clock has passed :attr:`Deadline.at`.  A deadline is also a callable (``deadline()`` is
``deadline.expired()``), so it is what the kernels take as their ``stop``.

A search divides its time by deriving deadlines from the one it was given, never by passing seconds
around:

- ``Deadline.after(T)``: T seconds from now (``Deadline.after(None)`` is :data:`Deadline.NEVER`);
- ``d.share(f)``: a fraction f of what is left of d, from now:
  :math:`\text{now} + f \cdot \text{left}`;
- ``d.earlier(s)`` / ``d.later(s)``: s seconds before / after d (the verification's reserve, the
  grace given to late workers);
- ``d.capped(s)``: d, or s seconds from now if that comes first (a polish's own time limit);
- ``d.left()``: the seconds left, never negative (None: no limit), for a solver's own time limit
  (HiGHS); ``d.passed(within=s)``: will the clock have passed d within s seconds (the stop flag
  aside): "is there time for a step of s seconds?".

:data:`Deadline.NEVER` has no time limit; it still expires when the stop flag is set.  Deadlines
derived from NEVER stay NEVER.

**The clock** is ``time.time`` (seconds since the epoch), not ``time.monotonic``: a deadline travels
to the search's worker processes (pickled, with its ``at``) and is compared there with the worker's
clock, and only ``time.time`` is one clock for every process (the reference point of
``time.monotonic`` is undefined, by Python's documentation).  Another clock can be injected
(``clock=``) for tests; deadlines derived from a deadline keep its clock.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, ClassVar

from constellations.core.interrupts import INTERRUPT

__all__ = ["Deadline"]


@dataclass(frozen=True)
class Deadline:
    """Stop at ``at`` (seconds on ``clock``; None: no time limit) or when the stop flag is set.

    Parameters
    ----------
    at : float, optional
        The point on ``clock`` after which :meth:`expired` is True.  None: never, by the clock.
    clock : callable, optional
        ``clock() -> float`` seconds; ``time.time`` (the module docstring says why).
    """

    at: float | None = None
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False, kw_only=True)

    #: No time limit (the stop flag still ends the computation).
    NEVER: ClassVar["Deadline"]

    def __post_init__(self):
        if self.at is not None:
            at = float(self.at)
            if math.isnan(at):
                raise ValueError("a deadline must be a number of seconds or None, not NaN")
            object.__setattr__(self, "at", at)

    @classmethod
    def after(cls, seconds: float | None, *, clock: Callable[[], float] = time.time) -> "Deadline":
        """``seconds`` from now (None: :data:`NEVER`, or a deadline without a limit on ``clock``)."""
        if seconds is None:
            return cls.NEVER if clock is time.time else cls(clock=clock)
        return cls(clock() + float(seconds), clock=clock)

    def passed(self, within: float = 0.0) -> bool:
        """Will the clock have passed :attr:`at` in ``within`` seconds: ``clock() + within > at``?
        The clock alone (the stop flag aside); False without a time limit."""
        return self.at is not None and self.clock() + within > self.at

    def expired(self) -> bool:
        """True once the stop flag is set or the clock has passed :attr:`at`."""
        return INTERRUPT.is_set() or self.passed()

    def __call__(self) -> bool:
        """:meth:`expired`: a deadline serves as a kernel's ``stop`` callable."""
        return self.expired()

    def left(self) -> float | None:
        """Seconds left on the clock, ``max(0, at - clock())``; None without a time limit."""
        return None if self.at is None else max(0.0, self.at - self.clock())

    def share(self, f: float) -> "Deadline":
        """``now + f * left()``: the share ``f`` of what is left, from now (NEVER stays NEVER)."""
        if self.at is None:
            return self
        now = self.clock()
        return Deadline(now + float(f) * max(0.0, self.at - now), clock=self.clock)

    def earlier(self, seconds: float) -> "Deadline":
        """``seconds`` before this deadline (time kept for what follows; NEVER stays NEVER)."""
        return self if self.at is None else Deadline(self.at - float(seconds), clock=self.clock)

    def later(self, seconds: float) -> "Deadline":
        """``seconds`` after this deadline (a grace; NEVER stays NEVER)."""
        return self.earlier(-float(seconds))

    def capped(self, seconds: float | None) -> "Deadline":
        """This deadline, or ``seconds`` from now if that comes first (None: this deadline)."""
        if seconds is None:
            return self
        own = Deadline.after(seconds, clock=self.clock)
        return own if self.at is None or own.at < self.at else self


Deadline.NEVER = Deadline()

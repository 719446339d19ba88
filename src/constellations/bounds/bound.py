"""The result type shared by every bound in :mod:`bounds`."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from constellations.core.results import Result, Status

__all__ = ["Bound"]


@dataclass(frozen=True)
class Bound(Result):
    """A bound and how it was obtained.

    It speaks the result vocabulary (:data:`constellations.core.results.VOCABULARY`): a bound is a
    number about a problem, not a configuration, so ``config``, ``margin`` and ``margin_certified``
    are None (the bound itself is ``value``); ``n``, ``dim``, ``modalities`` and ``seconds`` are read
    from ``details`` where the computation put them, else None.

    Attributes
    ----------
    value : int or float
        The bound.  Integer bounds on code sizes are exact floors; float bounds on margins are
        rounded outward (an upper bound is rounded up, a lower bound down).  ``math.inf`` means
        "no bound" (for example no dimension is known to work).
    method : str
        What gave it ("levenshtein", "delsarte-lp", "theorem-3.4", "construction:e8", ...).
    certificate : dict or None
        JSON-able data from which the bound can be re-checked (polynomial coefficients as exact
        fraction strings, a construction and its certified margin, ...); None if the bound is
        numerical only (then ``details["certified"]`` is False).
    details : dict
        Everything else (exact value as a string, float value, degree, timings, ...).
    """

    value: Any
    method: str
    certificate: dict | None = None
    details: dict = field(default_factory=dict, compare=False)

    @property
    def certified(self) -> bool:
        return bool(self.details.get("certified", self.certificate is not None))

    config = margin = margin_certified = None  # a bound, not a configuration (see the class docstring)

    @property
    def status(self) -> Status:
        """COMPLETED: a bound object is only made once its computation ended."""
        return Status.COMPLETED

    @property
    def message(self) -> str:
        """One line: the bound and its method, or "no bound"."""
        v = self.value
        if isinstance(v, float) and math.isinf(v):
            return f"no bound ({self.method})"
        return f"{v} ({self.method}{'' if self.certified else ', not certified'})"

    @property
    def seconds(self):
        return self.details.get("seconds")

    @property
    def n(self):
        return self.details.get("n")

    @property
    def dim(self):
        return self.details.get("dim")

    @property
    def modalities(self):
        return self.details.get("modalities")

    def to_dict(self) -> dict:
        v = self.value
        if isinstance(v, float) and math.isinf(v):
            v = None
        return {**self.vocabulary(), "value": v, "method": self.method, "certified": self.certified,
                "certificate": self.certificate, "details": dict(self.details)}

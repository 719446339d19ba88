"""The result type shared by every bound in :mod:`bounds`."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Bound"]


@dataclass(frozen=True)
class Bound:
    """A bound and how it was obtained.

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

    def to_dict(self) -> dict:
        v = self.value
        if isinstance(v, float) and math.isinf(v):
            v = None
        return {"value": v, "method": self.method, "certified": self.certified,
                "certificate": self.certificate, "details": dict(self.details)}

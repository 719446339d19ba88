"""One result vocabulary, in the style of ``scipy.optimize.OptimizeResult``.

Every result of a computation on a configuration (a search, a training run, a polish, a certificate,
an analysis, a table cell) answers to the same names, whatever else it carries:

==================  =========================================================================
``config``          the configuration (a :class:`~constellations.core.configuration.Configuration`),
                    or None where the result has none
``margin``          m = (pos - neg)/2, half the gap, in float64 (None where not computed)
``margin_certified`` a rigorous lower bound on the margin (None where not certified)
``status``          a :class:`Status`: why the computation stopped
``message``         one line for a person
``seconds``         wall-clock seconds of the computation
``n, dim, modalities`` the sizes N, d, M
==================  =========================================================================

:class:`Result` is a mixin for the frozen dataclasses that carry these names (as fields or
properties); ``to_dict()`` gives them first, then the class's own JSON-able fields, never the arrays
of the configuration.  ``tests/test_results.py`` checks every public result type against it.
"""
from __future__ import annotations

import dataclasses
import enum
import math

import numpy as np

from constellations.core.configuration import Configuration

__all__ = ["Status", "Result", "VOCABULARY", "jsonable"]

#: The names every result answers to, in the order ``to_dict()`` gives them.
VOCABULARY = ("margin", "margin_certified", "status", "message", "seconds", "n", "dim", "modalities")


class Status(str, enum.Enum):
    """Why a computation stopped (a str, so it prints and serialises as its value)."""

    COMPLETED = "completed"              # ran what it was asked (its restarts, steps, iterations)
    CONVERGED = "converged"              # a convergence test was met
    TIME_LIMIT = "time_limit"            # the time limit stopped it
    INTERRUPTED = "interrupted"          # SIGINT or SIGTERM stopped it; the result is the best so far
    CONSTRUCTION_ONLY = "construction_only"  # no search ran; a certified construction stands in
    DIVERGED = "diverged"                # the objective became NaN or Inf
    FAILED = "failed"                    # it could not produce a result

    def __str__(self) -> str:
        return self.value


def jsonable(value):
    """``value`` as plain JSON data: numpy scalars to Python, non-finite floats to None, Status to its
    value, tuples to lists, nested dicts and lists converted; arrays are left out (None)."""
    if isinstance(value, Status):
        return value.value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.ndarray, Configuration)):
        return None
    if isinstance(value, Result):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    return value


class Result:
    """Mixin of the result dataclasses: the shared :data:`VOCABULARY` and ``to_dict()``.

    A subclass defines the vocabulary's names as dataclass fields or properties (``config`` too).
    ``to_dict()`` returns the vocabulary first, then every other field except ``config`` and arrays,
    all JSON-able (:func:`jsonable`); a subclass may extend it.
    """

    def vocabulary(self) -> dict:
        """The :data:`VOCABULARY` names and their JSON-able values, in order (the head of ``to_dict()``;
        a subclass with its own ``to_dict()`` starts from it)."""
        return {name: jsonable(getattr(self, name)) for name in VOCABULARY}

    def to_dict(self) -> dict:
        out = self.vocabulary()
        for f in dataclasses.fields(self):
            if f.name == "config" or f.name in out:
                continue
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                continue
            out[f.name] = jsonable(value)
        return out

"""Solving a cvxpy problem with a fallback list of conic solvers (Clarabel, then SCS)."""
from __future__ import annotations

import warnings

__all__ = ["SOLVED", "solve_with_fallback"]

#: cvxpy statuses accepted as solved.
SOLVED = ("optimal", "optimal_inaccurate")


def solve_with_fallback(prob, solver: str | None = None):
    """Solve ``prob`` with ``solver``, or with Clarabel and then SCS until one reports a solved status.

    Solver warnings are silenced (the caller checks ``prob.status``).  Returns ``(name, error)``: the
    last solver tried and the last exception a solver raised (None if none did).
    """
    import cvxpy as cp

    name, err = None, None
    for name in ([solver] if solver else ["CLARABEL", "SCS"]):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                prob.solve(solver=name)
        except (cp.error.SolverError, ValueError, ArithmeticError) as exc:
            err = exc
            continue
        if prob.status in SOLVED:
            break
    return name, err

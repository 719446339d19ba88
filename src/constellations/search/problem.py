r"""What a search solves (:class:`Problem`) and how it searches (:class:`Settings`).

A :class:`Problem` binds, in one object, the sizes N, d, M, the graph's edges, tied or free, and
the kernel that evaluates the smoothed margin (as pymanopt's Problem binds a manifold and a cost).
Its :meth:`Problem.margin` is the float64 margin every step of the search compares candidates by
(:func:`constellations.core.margins.code_margin` for an (N, d) code, :func:`~constellations.core.margins.free_margin`
for (M, N, d) rows).  Both objects are frozen and picklable: they travel to worker processes.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from constellations.core.deadline import Deadline
from constellations.core.margins import code_margin, free_margin

from constellations.objective.backends import kernel
from constellations.objective.compiled import fits
from constellations.search.optimizer import SHARP_BETAS, normalize, optimize

__all__ = ["Problem", "Settings", "LP_DEFER_VARS"]

#: Above this many variables (N d tied, M N d free) the LP polish waits for the end of a phase
#: (:attr:`Problem.lp_deferred`); Tammes codes in d = 3 (N <= 100: 300 variables) and the codes of
#: d = 4..8 up to N = 64 (512) keep their polish per candidate.
LP_DEFER_VARS = 600


@dataclass(frozen=True)
class Problem:
    """N unit vectors per modality in R^d; M modalities joined by ``edges``; tied (one code) or free.

    ``backend`` and ``device`` choose the kernel (:mod:`objective.backends`).
    """

    n: int
    dim: int
    M: int
    edges: tuple
    tied: bool
    backend: str = "numpy"
    device: str = "cpu"

    @property
    def shape(self) -> tuple:
        """Shape of the variables: (N, d) tied, (M, N, d) free."""
        return (self.n, self.dim) if self.tied else (self.M, self.n, self.dim)

    @property
    def n_vars(self) -> int:
        return int(np.prod(self.shape))

    @property
    def free_edges(self):
        """The edges as the kernels and the polish take them: None for a tied code."""
        return None if self.tied else self.edges

    def margin(self, X) -> float:
        """Float64 margin of a code (N, d) or of rows (M, N, d), as computed (not renormalised)."""
        return code_margin(X) if np.ndim(X) == 2 else free_margin(X, self.edges)

    @property
    def compiled(self) -> bool:
        """Do the L-BFGS stages run compiled end to end (:mod:`objective.compiled`)?  With the
        numba backend, when one evaluation is at most ``compiled.MAX_WORK`` multiply-adds."""
        if self.backend != "numba":
            return False
        return fits(self.shape, len(self.edges))

    @property
    def lp_deferred(self) -> bool:
        """Is the LP polish left to the end of a phase?  With compiled stages and more than
        :data:`LP_DEFER_VARS` variables: there one LP costs seconds (N = 100, d = 10: 2-10 s per LP,
        a polish 50 s for 1e-5 over the sharpened code; 17 s of a 28 s search went to HiGHS), so
        candidates are ranked by their sharpened margins and only the phase's best is polished."""
        return self.compiled and self.n_vars > LP_DEFER_VARS

    def anneal(self, X, betas, deadline: Deadline = Deadline.NEVER, maxiter: int = 400):
        """L-BFGS stages at ``betas`` from X with this problem's kernel (compiled when
        :attr:`compiled`) until ``deadline`` expires: ``(Y, timed_out)``."""
        return optimize(X, betas, self.free_edges, kernel=self.kernel(), compiled=self.compiled, maxiter=maxiter,
                        deadline=deadline)

    def sharpen(self, X, deadline: Deadline = Deadline.NEVER, betas=SHARP_BETAS):
        """Short L-BFGS stages (400 iterations each) at sharp betas from X: ``(Y, margin, timed_out)``.

        Ranks candidates by the basin they are in for far less than an LP polish each (compiled:
        milliseconds at N = 75, d = 3); the margin is the float64 margin of Y."""
        Y, late = self.anneal(X, betas, deadline)
        return Y, self.margin(Y), late

    def kernel(self):
        """``value_and_grad(X, beta, edges=None, *, block=None, stop=None)`` of this backend/device."""
        return kernel(self.backend, self.device)

    def random(self, rng) -> np.ndarray:
        """Rows uniform on the sphere, of this problem's shape."""
        return normalize(rng.standard_normal(self.shape))

    def as_tied(self) -> "Problem":
        return replace(self, tied=True)


@dataclass(frozen=True)
class Settings:
    """How :func:`search.search` searches (see its parameters); ``pass_seconds`` is the
    estimated time of one float64 pass over all pairs (:func:`search.budget.pass_seconds`)."""

    restarts: int | None = 8
    betas: tuple | None = None
    free_init: str = "random"
    jitter: float = 1e-3
    n_jobs: int = 1
    batch: int = 1
    polish_top: int = 12
    polish_time: float | None = 20.0
    polish_max_vars: int = 60_000
    hops: int | None = None
    hop_sigma: float = 0.3
    pass_seconds: float = 0.0
    maxiter: int | None = None
    moves: tuple = ("kick", "jump", "swap")
    starts: str = "random"
    antipodal: bool = False  # one restart in ANTIPODAL_EVERY of an even code antipodal (search.restarts)

r"""Search for maximal-margin constellations and spherical codes.

The package, one concept per module (each imports only those above it; no cycles):

- :mod:`.budget`: Ctrl-C as a flag, deadlines, the memory and time plan of a run;
- :mod:`.optimizer`: Riemannian L-BFGS, serial and batched, and the beta continuation;
- :mod:`.compiled`: the same L-BFGS stages compiled end to end with Numba (objective included), for
  problems whose evaluation takes microseconds, where the interpreter would cost more than the kernel;
- :mod:`.kernels`: which smoothed-margin kernel runs (:mod:`solvers.objective_numpy`, the reference;
  :mod:`solvers.objective_numba`; :mod:`solvers.objective_torch`; :mod:`solvers.objective_triton`, the
  fused GPU kernel) and where;
- :mod:`.problem`: :class:`Problem` (what is solved, its kernel and its margin) and :class:`Settings`;
- :mod:`.restarts`: one restart, and runs of them serially, batched or in processes;
- :mod:`.portfolio`: successive halving over the moves, on margin gained per second;
- :mod:`.moves`: the basin-hopping moves (kick, jump, swap, multiswap, fresh, mbh) and the hopping loop;
- :mod:`.newton`: the active-set Newton/KKT polish of a code's contact graph (to ~1e-15);
- :mod:`.starts`: structured starts (classical configurations cut to N points);
- :mod:`.recognition`: contacts, rattlers, minimal polynomial of the result;
- :mod:`.construction`: the catalogue's best construction as a start and a floor, certified by its
  structure when its rows have entries in {0, +a, -a};
- :mod:`.driver`: :func:`search`, which puts them together and verifies the result.

The exact polish is :mod:`solvers.polish`; margins of raw arrays are
:func:`constellations.margins.code_margin` and :func:`constellations.margins.free_margin`.
"""
from .budget import INTERRUPT
from .driver import TIED_SHARE, SearchResult, search
from .kernels import BACKENDS
from .newton import NewtonResult, newton_polish
from .optimizer import default_schedule, normalize, optimize, rlbfgs, rlbfgs_batched
from .problem import Problem, Settings
from .restarts import batched_restarts, tied_projection

__all__ = ["search", "SearchResult", "Problem", "Settings", "optimize", "rlbfgs", "rlbfgs_batched",
           "default_schedule", "normalize", "batched_restarts", "tied_projection", "BACKENDS", "INTERRUPT",
           "TIED_SHARE", "newton_polish", "NewtonResult"]

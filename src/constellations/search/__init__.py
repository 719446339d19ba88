r"""Search for maximal-margin constellations and spherical codes.

The package, one concept per module (each imports only those above it; no cycles):

- :mod:`.budget`: Ctrl-C as a flag, deadlines, the memory and time plan of a run;
- :mod:`.optimizer`: Riemannian L-BFGS, serial and batched, and the beta continuation (its stages
  compiled end to end with Numba by :mod:`constellations.objective.compiled` for problems whose
  evaluation takes microseconds; the kernel chosen by :mod:`constellations.objective.backends`);
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

The exact polish is :mod:`search.polish`; margins of raw arrays are
:func:`constellations.core.margins.code_margin` and :func:`constellations.core.margins.free_margin`.
"""
from constellations.search.budget import INTERRUPT
from constellations.search.driver import TIED_SHARE, SearchResult, search
from constellations.objective.backends import BACKENDS
from constellations.search.newton import NewtonResult, newton_polish
from constellations.search.optimizer import default_schedule, normalize, optimize, rlbfgs, rlbfgs_batched
from constellations.search.problem import Problem, Settings
from constellations.search.restarts import batched_restarts, tied_projection

__all__ = ["search", "SearchResult", "Problem", "Settings", "optimize", "rlbfgs", "rlbfgs_batched",
           "default_schedule", "normalize", "batched_restarts", "tied_projection", "BACKENDS", "INTERRUPT",
           "TIED_SHARE", "newton_polish", "NewtonResult"]

r"""Numba on first use: the compiled kernels are made when a kernel first runs, not when its module is
imported.

Importing Numba costs about half a second (llvmlite, its typing registry), which every process that
imports the search would pay -- the CLI's subprocesses included, most of which never run a Numba
kernel.  So :mod:`objective.numba_kernels`, :mod:`objective.compiled` and :mod:`analysis.pairsums`
define their kernels as plain Python functions and ask :func:`njit` for the compiled versions on first
use (each module caches them: once per process).  It lives in ``core`` because kernels of two
layer-1 packages use it.  Numba's own disk cache (``cache=True``) still spares the compilation
across processes.
"""
from __future__ import annotations

import types

__all__ = ["njit"]


def njit(scope: dict, specs: dict) -> types.SimpleNamespace:
    """Numba versions of functions of a module, made now (Numba is imported here).

    Parameters
    ----------
    scope : dict
        The module's globals (``globals()``): the functions and the names their bodies use.
    specs : dict
        ``name -> (function name in scope, numba.njit options)``, e.g.
        ``{"_max_par": ("_offdiag_max_py", {"parallel": True, "cache": True})}``.  The option
        ``"suffix"`` (not Numba's) renames the compiled copy ``function name + suffix``, so that two
        copies of one function (parallel and serial) get their own cache files.

    Returns
    -------
    types.SimpleNamespace
        The compiled functions (dispatchers) under their ``specs`` names, and ``numba``, the module.
        They are compiled in a copy of ``scope`` in which each function of ``specs`` named after itself
        is its compiled version and ``prange`` is Numba's, so that compiled functions call each other
        compiled and parallel loops run in parallel; the module itself is left as it was.
    """
    import numba  # heavy (about 0.5 s): only when a compiled kernel is first used

    compiled_scope = dict(scope, prange=numba.prange)
    out = {}
    for name, (fn_name, options) in specs.items():
        fn = scope[fn_name]
        options = dict(options)
        suffix = options.pop("suffix", "")
        copy = types.FunctionType(fn.__code__, compiled_scope, fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
        copy.__qualname__ = fn.__qualname__ + suffix
        out[name] = numba.njit(**options)(copy)
        if name == fn_name:
            compiled_scope[name] = out[name]
    return types.SimpleNamespace(numba=numba, **out)

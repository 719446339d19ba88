r"""The kernels of the search: which implementation of the smoothed margin runs, and where.

The kernels themselves are :mod:`solvers.objective_numpy` (the reference), :mod:`solvers.objective_numba`
and :mod:`solvers.objective_torch`; all share ``value_and_grad(X, beta, edges=None, *, block=None,
stop=None)``.  This module resolves ``backend="auto"`` and checks the device.
"""
from __future__ import annotations

from constellations.errors import ConfigurationError

__all__ = ["BACKENDS", "resolve_backend", "kernel", "check_device"]


BACKENDS = ("auto", "numpy", "numba", "torch")


#: Below this time limit "auto" never picks Numba: loading its compiled kernels costs 0.5-2 s
#: the first time in a process, a large part of a short budget.
NUMBA_MIN_TIME_LIMIT = 20.0


def resolve_backend(backend: str, device: str, n: int, dim: int, time_limit=None):
    if backend not in BACKENDS:
        raise ConfigurationError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if device != "cpu" and backend not in ("auto", "torch"):
        raise ConfigurationError(f"device {device!r} needs the torch backend, not {backend!r}")
    if backend == "auto":
        if device != "cpu":
            backend = "torch"
        elif n * n * max(dim, 8) > 2e7:
            backend = "numpy"  # BLAS blocks win at large N
        elif time_limit is not None and time_limit < NUMBA_MIN_TIME_LIMIT:
            backend = "numpy"
        else:
            backend = "numba"
    return backend


def kernel(backend: str, device: str):
    if backend == "numpy":
        from ..objective_numpy import value_and_grad
        return value_and_grad
    if backend == "numba":
        from ..objective_numba import value_and_grad
        return value_and_grad
    from ..objective_torch import value_and_grad as vg

    def torch_vg(X, beta, edges=None, *, block=None, stop=None):
        return vg(X, beta, edges, block=block, device=device, stop=stop)
    return torch_vg


def check_device(device) -> None:
    """"cpu", or "cuda"/"cuda:K" on a machine where torch sees that CUDA device."""
    dev = str(device)
    if dev == "cpu":
        return
    head, _, index = dev.partition(":")
    if head != "cuda" or (index and not index.isdigit()):
        raise ConfigurationError(f"unknown device {device!r}: choose cpu, cuda or cuda:K")
    import torch
    if not torch.cuda.is_available():
        raise ConfigurationError(f"device {device!r} asked for, but torch finds no CUDA device on this machine; "
                                 "use --device cpu")
    if index and int(index) >= torch.cuda.device_count():
        raise ConfigurationError(f"device {device!r} asked for, but there are {torch.cuda.device_count()} CUDA devices")

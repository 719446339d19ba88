r"""The kernels of the search: which implementation of the smoothed margin runs, and where.

The kernels themselves are :mod:`objective.reference` (the reference), :mod:`objective.numba_kernels`,
:mod:`objective.torch_kernels` and :mod:`objective.triton_kernels` (one fused Triton kernel); all
share ``value_and_grad(X, beta, edges=None, *, block=None, stop=None)``, and ``stop()`` True makes
them raise :class:`objective.reference.Stopped`.  This module resolves ``backend="auto"``; the device
is checked by :func:`constellations.core.devices.check_device` (re-exported here).

Triton runs on CUDA, or on the CPU only under Triton's interpreter (``TRITON_INTERPRET=1``, slow:
for tests).  Its matmuls use tensor-core input precisions chosen per beta stage
(:func:`objective.triton_kernels.precision_for`: bf16, tf32, then tf32x3 from beta = 128 on, so the
late, sharp stages run at about fp32 accuracy); the value is good to u/2 at input roundoff u, and
the search's result is re-verified in float64 whatever the kernel.
"""
from __future__ import annotations

from constellations.core.devices import check_device
from constellations.core.errors import ConfigurationError
from constellations.objective import numba_kernels, reference, torch_kernels, triton_kernels

__all__ = ["BACKENDS", "resolve_backend", "kernel", "check_device", "triton_available"]


BACKENDS = ("auto", "numpy", "numba", "torch", "triton")

#: Backends that run on a CUDA device.
DEVICE_BACKENDS = ("torch", "triton")


#: Below this time limit "auto" never picks Numba: loading its compiled kernels costs 0.5-2 s
#: the first time in a process, a large part of a short budget.
NUMBA_MIN_TIME_LIMIT = 20.0


def triton_available(device: str) -> bool:
    """Can the Triton kernel run on ``device``?  CUDA with triton installed, or the CPU under
    ``TRITON_INTERPRET=1`` (:func:`objective.triton_kernels.available`)."""
    return triton_kernels.available(device)


def resolve_backend(backend: str, device: str, n: int, dim: int, time_limit=None):
    """The backend that runs: ``backend`` checked against ``device``, or "auto" resolved.

    "auto": on CUDA triton when it is available there, else torch; on the CPU numpy for large
    problems or short budgets, else numba (never the Triton interpreter).
    """
    if backend not in BACKENDS:
        raise ConfigurationError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if device != "cpu" and backend not in ("auto",) + DEVICE_BACKENDS:
        raise ConfigurationError(f"device {device!r} needs the torch or triton backend, not {backend!r}")
    if backend == "triton" and not triton_available(device):
        where = ("CUDA, or on the CPU only with TRITON_INTERPRET=1 set before triton is imported"
                 if device == "cpu" else "a CUDA device with the triton package installed")
        raise ConfigurationError(f"the triton backend cannot run on {device!r}: it needs {where}; "
                                 "use backend torch")
    if backend == "auto":
        if device != "cpu":
            backend = "triton" if triton_available(device) else "torch"
        elif n * n * max(dim, 8) > 2e7:
            backend = "numpy"  # BLAS blocks win at large N
        elif time_limit is not None and time_limit < NUMBA_MIN_TIME_LIMIT:
            backend = "numpy"
        else:
            backend = "numba"
    return backend


def kernel(backend: str, device: str):
    """``value_and_grad(X, beta, edges=None, *, block=None, stop=None)`` of a resolved backend."""
    if backend == "numpy":
        return reference.value_and_grad
    if backend == "numba":
        return numba_kernels.value_and_grad
    if backend == "triton":
        tvg = triton_kernels.value_and_grad

        def triton_vg(X, beta, edges=None, *, block=None, stop=None):
            return tvg(X, beta, edges, block=block, device=device, stop=stop, precision="auto")
        return triton_vg
    vg = torch_kernels.value_and_grad

    def torch_vg(X, beta, edges=None, *, block=None, stop=None):
        return vg(X, beta, edges, block=block, device=device, stop=stop)
    return torch_vg


def tensor_kernel(backend: str):
    """The batched kernel ``value_and_grad_tensor(Z, beta, edges, *, tied, stop)`` of a device backend,
    for float64 iterates: Triton computes in float32 (tensor-core precisions by beta) and hands back
    float64 values and gradients; torch computes in the iterate's float64."""
    if backend == "triton":
        import torch

        tvg = triton_kernels.value_and_grad_tensor

        def triton_tensor(Z, beta, edges=None, *, tied=False, stop=None):
            return tvg(Z, beta, edges, tied=tied, stop=stop, dtype=torch.float32, precision="auto")
        return triton_tensor
    return torch_kernels.value_and_grad_tensor

"""Torch devices named by the user: one resolver for every command that runs on CPU or GPU."""
from __future__ import annotations

from .errors import ConfigurationError

__all__ = ["resolve_device", "device_memory_limit"]


def resolve_device(device):
    """The ``torch.device`` for ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:K"``.

    ``"auto"`` is CUDA when torch sees a CUDA device, else the CPU.  A CUDA device on a machine
    without one, or a name torch does not know, is a :class:`ConfigurationError` (one line in the CLI).
    """
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigurationError(f"device {device!r} requested but CUDA is not available")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigurationError(f"unknown device {device!r}: {exc}") from None


def device_memory_limit(device) -> int:
    """Bytes a run on ``device`` may plan to use: 90% of a GPU's memory, or on the CPU
    :func:`constellations.configuration.memory_limit` (half the physical memory)."""
    import torch

    from .configuration import memory_limit

    device = torch.device(device)
    if device.type == "cuda":
        return int(0.9 * torch.cuda.get_device_properties(device).total_memory)
    return memory_limit()

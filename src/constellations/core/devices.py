"""Torch devices named by the user: one checker and one resolver for every command that runs on CPU or GPU.

A device is ``"cpu"``, ``"cuda"`` or ``"cuda:K"`` (and, where a caller resolves it, ``"auto"``).  Torch is
imported only when a CUDA device is named or ``"auto"`` is resolved, so the CPU path stays light.
"""
from __future__ import annotations

from constellations.core import configuration
from constellations.core.errors import ConfigurationError

__all__ = ["check_device", "resolve_device", "device_memory_limit"]


def check_device(device) -> None:
    """``"cpu"``, or ``"cuda"``/``"cuda:K"`` on a machine where torch sees that CUDA device; anything else is a
    :class:`ConfigurationError` (one line in the CLI).  Torch is imported only for a CUDA device."""
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


def resolve_device(device):
    """The ``torch.device`` for ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:K"`` (a ``torch.device`` is
    accepted too).

    ``"auto"`` is CUDA when torch sees a CUDA device, else the CPU.  Every other name goes through
    :func:`check_device`: a CUDA device on a machine without it, or a name that is not a device, is a
    :class:`ConfigurationError` (one line in the CLI).
    """
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    check_device(device)
    return torch.device(device)


def device_memory_limit(device) -> int:
    """Bytes a run on ``device`` may plan to use: 90% of a GPU's memory, or on the CPU
    :func:`constellations.core.configuration.memory_limit` (half the physical memory)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return int(0.9 * torch.cuda.get_device_properties(device).total_memory)
    return configuration.memory_limit()

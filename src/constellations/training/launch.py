r"""How the optimiser steps of a batched training are launched (:data:`GRAPH_MODES`): eagerly, or one step
of all runs captured once in a CUDA graph and replayed, so that a step costs one launch instead of ~50
(see :mod:`constellations.training.trainer`).
"""
from __future__ import annotations

from constellations.core.errors import ConfigurationError

__all__ = ["GRAPH_MODES"]

#: How the optimiser steps are launched: "auto" (a CUDA graph on CUDA, eager on CPU), "off" (eager),
#: "cuda-graph" (capture one step in a CUDA graph and replay it; CUDA only).
GRAPH_MODES = ("auto", "off", "cuda-graph")


def _use_graph(mode: str, device) -> bool:
    """Whether the steps run as a captured CUDA graph (``mode`` from :data:`GRAPH_MODES`)."""
    if mode == "cuda-graph" and device.type != "cuda":
        raise ConfigurationError(f"graph mode 'cuda-graph' needs a CUDA device, got {str(device)!r}; "
                                 "use graph mode 'auto' or 'off'")
    return mode == "cuda-graph" or (mode == "auto" and device.type == "cuda")


def _capture_step(body, reset, device):
    """Capture ``body()`` (one optimiser step on static tensors) in a CUDA graph; returns its replay.

    The usual whole-step capture: three warm-up calls on a side stream (they let autograd and the
    optimiser allocate their state), then ``reset()`` puts the parameters, the optimiser state and the
    counters back to where they were, so the warm-up leaves no trace in the trajectory; capture does not
    execute the kernels.
    """
    import torch

    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(3):
            body()
    torch.cuda.current_stream(device).wait_stream(side)
    reset()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        body()
    return graph.replay

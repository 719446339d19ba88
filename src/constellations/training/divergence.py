r"""Divergence of a batched training: the device flags that keep, per run, the first step at which its loss,
t, bias or embeddings left the finite range (set without a host sync, inside a CUDA graph too), and
:class:`TrainingDiverged`, raised when the loop reads them.
"""
from __future__ import annotations

import numpy as np

from constellations.core.errors import ConfigurationError
from constellations.training.spec import TrainSpec

__all__ = ["TrainingDiverged"]


class TrainingDiverged(ConfigurationError):
    """The loss of some run became NaN or Inf (typically a learning rate far too large).

    Attributes ``step`` (first optimiser step at which a non-finite loss was seen) and ``seeds``.
    """

    def __init__(self, msg, step, seeds):
        super().__init__(msg)
        self.step = step
        self.seeds = tuple(seeds)


def _mark_bad(first_bad, bad, step) -> None:
    """Record ``step`` (int or 0-d device tensor) for the runs bad now and fine so far (no host sync)."""
    import torch

    first_bad.copy_(torch.where((first_bad < 0) & bad, step, first_bad))


def _raise_if_diverged(first_bad, seeds, spec: TrainSpec) -> None:
    """Raise TrainingDiverged when some run's loss, t, bias or embeddings left the finite range.

    Non-finite loss, bias or rows, t = exp(t') equal to 0 or Inf, or a row of norm 0 before renormalisation.
    """
    fb = first_bad.cpu().numpy()
    if (fb >= 0).any():
        step = int(fb[fb >= 0].min())
        which = [int(s) for s in np.asarray(seeds)[fb >= 0]]
        shown = ", ".join(map(str, which[:5])) + (", ..." if len(which) > 5 else "")
        raise TrainingDiverged(
            f"training diverged: the loss, t, the bias or the embeddings became NaN, Inf or 0 at step {step} "
            f"(seed {shown}) with learning rate {spec.lr:g}; try a smaller learning rate", step, which)

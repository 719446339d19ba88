r"""When a batched training writes its checkpoints and which one it resumes: the file, the period, and the
checkpoint to start from, checked to belong to this run.  The file format is
:mod:`constellations.training.checkpoint`; the state written is that of
:class:`constellations.training.run._Run`.
"""
from __future__ import annotations

import numpy as np

from constellations.core.errors import ConfigurationError
from constellations.io.files import check_writable
from constellations.training.checkpoint import check_resumable, read_checkpoint
from constellations.training.spec import HISTORY_COLUMNS, TrainSpec, spec_record

__all__ = []


class _Checkpoints:
    """Where :class:`_Run` writes its checkpoints, how often, and (``resume``) the one it starts from."""

    def __init__(self, path, every, resume: bool):
        if path is None and (every is not None or resume):
            raise ConfigurationError("checkpoint_every and resume need a checkpoint file (checkpoint=PATH)")
        if every is not None and (isinstance(every, bool) or not isinstance(every, (int, np.integer))
                                  or every < 1):
            raise ConfigurationError(f"checkpoint_every must be an integer >= 1, got {every!r}")
        self.path = None if path is None else check_writable(path, ".npz")
        self.every = None if every is None else int(every)
        self.step = None  # the step of the last checkpoint written

    def due(self, step: int, start: int) -> bool:
        """A periodic checkpoint at the top of ``step`` (not at the step just resumed from)."""
        return self.every is not None and step > start and step % self.every == 0

    def load(self, spec: TrainSpec, seeds, t0, bias0, digest):
        """(path, meta, arrays) of the checkpoint to resume, checked to belong to this run."""
        meta, arrays = read_checkpoint(self.path)
        check_resumable(self.path, meta, arrays, spec_record(spec), seeds, t0, bias0, digest)
        if meta["history_columns"] != list(HISTORY_COLUMNS):
            raise ConfigurationError(f"cannot resume from {self.path}: its history has the columns "
                                     f"{meta['history_columns']}, this version writes {list(HISTORY_COLUMNS)}")
        self.step = meta["step"]
        return self.path, meta, arrays

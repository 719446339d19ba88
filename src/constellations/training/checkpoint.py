"""Checkpoints of a training run: one ``.npz`` file of plain arrays, written atomically, read without pickle.

Format (version 1).  An uncompressed ``.npz`` archive (``numpy.savez``) of numeric arrays and 0-d unicode
arrays only, so that it loads with ``allow_pickle=False`` (:func:`constellations.io.files.load_arrays`,
which refuses object arrays before reading them):

- ``meta``: JSON text: ``format`` (:data:`FORMAT`), ``version``, ``spec`` (every field of the
  :class:`~constellations.training.trainer.TrainSpec`, the graph as its text), ``step`` (optimiser steps
  done, k), ``seconds`` (wall time of the loop so far), ``init`` (SHA-256 of the initial embeddings passed
  as ``init``, or null), ``history_columns``;
- ``seeds`` (S,) int64, ``t0`` and ``bias0`` (S,) float64: the run's identity;
- the state after k steps, at the training dtype: ``W`` (S, M, N, d), ``log_t``, ``bias`` (and ``x_delta``)
  (S,); the optimiser's state ``opt.<i>.<name>`` (Adam: ``step``, ``exp_avg``, ``exp_avg_sq`` of the i-th
  trained parameter; SGD without momentum has none); the divergence flags ``first_bad`` (S,) and
  ``step_t`` (); the minibatch sampler's key ``sampler_key`` (S,) uint64 (its counter is k: see
  :mod:`constellations.training.batches`);
- what was reported so far: ``loss_curve`` (k, S) (the loss after 0..k-1 steps), ``history_step`` (R,) and
  ``history.<column>`` (R, S) for the recorded steps before k.

Resuming (``train(..., resume=True)``) rebuilds the run from these arrays and continues at step k: the
result equals the uninterrupted run's bit for bit (on the same device, with the same torch thread
count).  A checkpoint written for another run (a different spec, seeds, t0, bias0 or ``init``) is
refused; only ``steps`` (not below k), ``device`` and ``graph_mode`` may change.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from constellations.core.errors import ConfigurationError, FileFormatError
from constellations.io.files import atomic_write, load_arrays, shown

__all__ = ["FORMAT", "VERSION", "RESUME_FREE", "write_checkpoint", "read_checkpoint", "check_resumable",
           "require_array", "bad_checkpoint"]

FORMAT = "constellations-train-checkpoint"
VERSION = 1
#: Spec fields a resumed run may change: the planned steps (not below the checkpoint's), where it runs.
RESUME_FREE = ("steps", "device", "graph_mode")


def write_checkpoint(path, meta: dict, arrays: dict) -> Path:
    """Write ``meta`` (JSON-able; ``format`` and ``version`` are added) and ``arrays`` to ``path`` atomically."""
    head = {"format": FORMAT, "version": VERSION, **meta}
    out = {"meta": np.array(json.dumps(head))}
    for name, a in arrays.items():
        a = np.asarray(a)
        if a.dtype.hasobject:  # never pickle: the reader refuses it anyway
            raise ConfigurationError(f"checkpoint array {name!r} holds Python objects")
        out[name] = a
    with atomic_write(path) as fh:
        np.savez(fh, **out)
    return Path(path)


def read_checkpoint(path) -> tuple[dict, dict]:
    """(meta, arrays) of the checkpoint at ``path``; :class:`FileFormatError` (one line) if it is missing,
    unreadable, corrupt or not a version-1 training checkpoint."""
    try:
        arrays = load_arrays(path)
    except FileFormatError as exc:
        raise FileFormatError(f"cannot resume from {shown(path)}: {exc}") from None
    if "meta" not in arrays or arrays["meta"].dtype.kind != "U" or arrays["meta"].ndim != 0:
        raise bad_checkpoint(path, "it is not a training checkpoint (no 'meta' text)")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except ValueError as exc:
        raise bad_checkpoint(path, f"its 'meta' is not JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise bad_checkpoint(path, f"it is not a training checkpoint (format {FORMAT!r} expected)")
    if meta.get("version") != VERSION:
        raise bad_checkpoint(path, f"checkpoint version {meta.get('version')!r}; this version reads {VERSION}")
    for key, kind in (("spec", dict), ("step", int), ("seconds", (int, float)), ("history_columns", list)):
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise bad_checkpoint(path, f"its meta lacks a valid {key!r}")
    if meta["step"] < 0:
        raise bad_checkpoint(path, f"negative step {meta['step']}")
    return meta, arrays


def require_array(path, arrays: dict, name: str, shape: tuple, dtype) -> np.ndarray:
    """``arrays[name]``, checked to have ``shape`` and ``dtype`` (FileFormatError otherwise)."""
    if name not in arrays:
        raise bad_checkpoint(path, f"the checkpoint lacks the array {name!r}")
    a = arrays[name]
    if a.shape != tuple(shape) or a.dtype != np.dtype(dtype):
        raise bad_checkpoint(path, f"checkpoint array {name!r} is {a.dtype}{list(a.shape)}, expected "
                         f"{np.dtype(dtype)}{list(shape)}")
    if a.dtype.kind == "f" and name != "loss_curve" and not name.startswith("history.") \
            and not np.isfinite(a).all():
        raise bad_checkpoint(path, f"checkpoint array {name!r} holds NaN or Inf")
    return a


def check_resumable(path, meta: dict, arrays: dict, spec: dict, seeds, t0, bias0, init_digest) -> None:
    """Refuse (ConfigurationError, one line) to resume a run that is not the checkpoint's.

    ``spec`` is the new run's spec as JSON data (the checkpoint's ``meta["spec"]`` form).  Every field but
    :data:`RESUME_FREE` must be equal, and the seeds, t0, bias0 and the ``init`` digest too; the planned
    steps must not be fewer than the checkpoint's step.
    """
    old = meta["spec"]
    diff = [f"{k} {old.get(k)!r} (checkpoint) != {spec.get(k)!r}" for k in sorted(set(old) | set(spec))
            if k not in RESUME_FREE and old.get(k) != spec.get(k)]
    S = len(seeds)
    for name, now in (("seeds", np.asarray(seeds, dtype=np.int64)), ("t0", np.asarray(t0, dtype=np.float64)),
                      ("bias0", np.asarray(bias0, dtype=np.float64))):
        if name not in arrays:
            raise bad_checkpoint(path, f"the checkpoint lacks the array {name!r}")
        was = arrays[name]
        if was.dtype != now.dtype or was.shape != (S,) or not np.array_equal(was, now):
            diff.append(f"{name} {_short(was)} (checkpoint) != {_short(now)}")
    if meta.get("init") != init_digest:
        diff.append("the initial embeddings (init) differ")
    if diff:
        raise ConfigurationError(f"cannot resume from {shown(path)}: it was written for another run: "
                                 + "; ".join(diff[:4]) + (f"; and {len(diff) - 4} more" if len(diff) > 4 else "")
                                 + " (resume with the options that wrote it)")
    if meta["step"] > spec["steps"]:
        raise ConfigurationError(f"cannot resume from {shown(path)}: it is at step {meta['step']}, beyond the "
                                 f"{spec['steps']} steps planned now")


def bad_checkpoint(path, what: str) -> FileFormatError:
    """The error for an unusable checkpoint: ``cannot resume from PATH: WHAT`` (one line)."""
    return FileFormatError(f"cannot resume from {shown(path)}: {what}")


def _short(a: np.ndarray) -> str:
    vals = ",".join(str(x) for x in a.ravel()[:4].tolist())
    return f"[{vals}{',...' if a.size > 4 else ''}]"

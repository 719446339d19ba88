r"""What a batched training does and the checks on it: :class:`TrainSpec` (the model, the optimiser, the
steps, what is recorded, the device) with its validation, its JSON record (:func:`spec_record`, carried
by checkpoints and results), and the memory model (:func:`train_memory_bytes`) by which batches of runs
too large are refused before anything is allocated.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from constellations.core.devices import device_memory_limit
from constellations.core.errors import ConfigurationError
from constellations.core.graphs import parse_graph
from constellations.core.results import jsonable
from constellations.objective.losses import PARAMS, REDUCTIONS
from constellations.training.batches import CHUNK_KEYS
from constellations.training.launch import GRAPH_MODES

__all__ = ["TrainSpec", "spec_record", "train_memory_bytes", "HISTORY_COLUMNS", "MAX_SEEDS"]

#: The history's columns: one float64 per run at each recorded step (``TrainResult.history``).
HISTORY_COLUMNS = ("loss", "t", "b_rel", "margin", "b_rel_star", "pos", "neg", "frac_separated", "delta")
OPTIMIZERS = ("adam", "sgd")

#: Most runs (seeds x settings) in one batch.  Each run holds E N^2 logits per step, its own optimiser
#: state, and its final margins are recomputed one run at a time in float64.
MAX_SEEDS = 10_000

#: Tensors of E N^2 entries alive at once per run in a step (logits/probabilities, the softplus temporary,
#: and at recorded steps the Gram matrix with its sign mask): the peak-memory model of
#: :func:`train_memory_bytes`.
_LIVE_GRAMS = 4

#: Bytes of Python objects per recorded step of the history (list entries, small arrays' headers).
_HISTORY_ROW_OVERHEAD = 200


@dataclass(frozen=True)
class TrainSpec:
    """What to train (everything but the seeds and the initial values, which may differ per run).

    Attributes
    ----------
    n, dim, modalities : int
        N items, dimension d, M modalities.
    graph : str or Graph, optional
        Synchronisation graph (default complete).
    param : {"relative", "absolute"}
    reduction : {"sum", "mean"}
    steps : int
        Optimiser steps.
    lr : float
    optimizer : {"adam", "sgd"}
    fix_t, fix_bias : bool
        Keep t (resp. the bias) at its initial value.
    frozen : int, optional
        Index of a modality whose embeddings stay fixed.
    adapter : bool
        Locked/trainable adapters (requires ``frozen``); delta = sigmoid(x) starts at ``delta0``.
    delta0 : float
    fix_delta : bool
    record_every : int
        History every this many steps (plus step 0 and the last step).
    loss_every : int, optional
        Evaluate the loss value (of all N items) every this many steps (and at every recorded step); in
        between, ``loss_curve`` holds NaN.  An optimiser step needs only sigmoid(z), not softplus(z), so
        ``loss_every=record_every`` saves about a fifth of a batched step at N = 100.  Default: 1, or
        ``record_every`` with minibatches (a value costs E N^2 terms, a minibatch step E B^2).
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``... or ``"auto"`` (CUDA when available).
    dtype : {"float32", "float64"}
        Training precision, float32 by default as in the CLI (the margins of the result are always
        recomputed in float64).
    graph_mode : {"auto", "off", "cuda-graph"}
        ``"cuda-graph"`` captures one optimiser step (forward without the loss value, backward, the
        Adam/SGD update, the row renormalisation and the divergence flags) for all runs in a
        ``torch.cuda.CUDAGraph`` and replays it, so a step costs one launch instead of ~50; the loss
        value is computed outside the graph at the steps of ``loss_every`` and ``record_every``, where
        divergence is checked.  The graph runs the same kernels on the same tensors as the eager loop,
        so the trajectory is the same.  ``"auto"``: the graph on CUDA, eager on CPU; ``"off"``: eager.
    batch_size : int, optional
        Items B per optimiser step, 2 <= B <= N (see :mod:`constellations.training.trainer`); None or N: the
        full batch.
    """

    n: int
    dim: int
    modalities: int = 2
    graph: object = None
    param: str = "relative"
    reduction: str = "sum"
    steps: int = 2000
    lr: float = 0.01
    optimizer: str = "adam"
    fix_t: bool = False
    fix_bias: bool = False
    frozen: int | None = None
    adapter: bool = False
    delta0: float = 0.5
    fix_delta: bool = False
    record_every: int = 10
    loss_every: int | None = None
    device: str = "cpu"
    dtype: str = "float32"
    graph_mode: str = "auto"
    batch_size: int | None = None

    def __post_init__(self):
        if self.loss_every is None:
            minibatch = self.batch_size is not None and self.batch_size != self.n
            object.__setattr__(self, "loss_every", self.record_every if minibatch else 1)
        for name in ("n", "dim", "modalities", "steps", "record_every", "loss_every", "batch_size"):
            v = getattr(self, name)
            if v is None and name == "batch_size":
                continue
            if isinstance(v, bool) or not isinstance(v, (int, np.integer, float)) or int(v) != v:
                raise ConfigurationError(f"{name} must be an integer, got {v!r}")
        if self.n < 2:
            raise ConfigurationError(f"need n >= 2 items, got {self.n}")
        if self.dim < 1:
            raise ConfigurationError(f"need dim >= 1, got {self.dim}")
        if self.steps < 0 or self.record_every < 1 or self.loss_every < 1:
            raise ConfigurationError("steps must be >= 0, record_every and loss_every >= 1")
        if self.batch_size is not None and not 2 <= self.batch_size <= self.n:
            raise ConfigurationError(f"batch size {self.batch_size} must lie in 2..N = {self.n} "
                                     "(B items of the N per step; N or none for the full batch)")
        if self.batch_size is not None:
            object.__setattr__(self, "batch_size", int(self.batch_size))
        object.__setattr__(self, "graph", parse_graph(self.graph, int(self.modalities)))
        if self.param not in PARAMS:
            raise ConfigurationError(f"unknown parameterisation {self.param!r}; use one of {PARAMS}")
        if self.reduction not in REDUCTIONS:
            raise ConfigurationError(f"unknown reduction {self.reduction!r}; use one of {REDUCTIONS}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigurationError(f"unknown optimizer {self.optimizer!r}; use one of {OPTIMIZERS}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigurationError(f"learning rate must be finite and > 0, got {self.lr}")
        if self.frozen is not None and not (0 <= self.frozen < self.modalities):
            raise ConfigurationError(f"frozen modality {self.frozen} outside 0..{self.modalities - 1}")
        if self.adapter and self.frozen is None:
            raise ConfigurationError("adapters need a frozen modality (frozen=K / --frozen K)")
        if not (0 < self.delta0 < 1):
            raise ConfigurationError(f"delta0 must lie in (0, 1), got {self.delta0}")
        if self.dtype not in ("float64", "float32"):
            raise ConfigurationError(f"dtype must be float64 or float32, got {self.dtype!r}")
        if self.graph_mode not in GRAPH_MODES:
            raise ConfigurationError(f"unknown graph mode {self.graph_mode!r}; use one of {GRAPH_MODES}")


def spec_record(spec: TrainSpec) -> dict:
    """``spec`` as JSON data: every field, the graph as its text (``Graph.spec``)."""
    out = {f.name: getattr(spec, f.name) for f in fields(spec)}
    out["graph"] = spec.graph.spec
    return jsonable(out)


def train_memory_bytes(spec: TrainSpec, runs: int) -> int:
    """Estimated peak memory of :func:`train` for ``runs`` runs, in bytes.

    Model: ``runs * E * N^2`` logits per step (E = number of edges), of which about four tensors are
    alive at once (see ``_LIVE_GRAMS``), plus the embeddings with their gradient and two Adam moments
    (4 copies of runs * M * N * d), all at the training dtype; plus the float64 copy of the final
    embeddings; plus what grows with the number of steps: the float64 loss curve (steps + 1) x runs
    and the history, one row of ``len(HISTORY_COLUMNS)`` float64 per run and about
    :data:`_HISTORY_ROW_OVERHEAD` bytes of Python objects per recorded step.
    """
    item = 8 if spec.dtype == "float64" else 4
    E = len(spec.graph.edges)
    grams = _LIVE_GRAMS * runs * E * spec.n ** 2 * item
    emb = runs * spec.modalities * spec.n * spec.dim
    recorded = spec.steps // spec.record_every + 2
    curve = 8 * (spec.steps + 1) * runs
    history = recorded * (8 * len(HISTORY_COLUMNS) * runs + _HISTORY_ROW_OVERHEAD)
    # minibatches: the N^2 terms above stay (the recorded steps see all N items); the sampler draws
    # up to max(CHUNK_KEYS, runs N) 64-bit keys at once, with their counters and argpartition's indices
    sampler = 3 * 8 * max(CHUNK_KEYS, runs * spec.n) if _minibatch(spec) else 0
    return int(grams + 4 * emb * item + emb * 8 + curve + history + sampler)


def _minibatch(spec: TrainSpec) -> bool:
    """Whether the steps use minibatches (B < N; B = N is the full-batch path)."""
    return spec.batch_size is not None and spec.batch_size < spec.n


def _check_memory(spec: TrainSpec, S: int, device, memory_limit) -> None:
    """Refuse S runs whose estimate (:func:`train_memory_bytes`) exceeds the limit, before allocating."""
    need = train_memory_bytes(spec, S)
    limit = device_memory_limit(device) if memory_limit is None else int(memory_limit)
    if need > limit:
        E = len(spec.graph.edges)
        raise ConfigurationError(
            f"N={spec.n}, {E} edge(s), {S} run(s), {spec.steps} steps: about {_gib(need)} for {S} x {E} x N^2 = "
            f"{S * E * spec.n ** 2:.3g} logits per step ({spec.dtype}, ~{_LIVE_GRAMS} copies alive) and the loss "
            f"curve and history, over the limit of {_gib(limit)} "
            f"({'90% of the GPU' if device.type == 'cuda' else 'half the RAM'}); "
            "use fewer items, seeds, edges or steps (or a larger --record-every)")


def _gib(b: float) -> str:
    return f"{b / 2 ** 30:.3g} GiB"

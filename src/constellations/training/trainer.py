r"""Batched sigmoid-loss training of free embeddings (torch; CPU or CUDA).

S independent runs (seeds and/or initial values of t and the bias) advance together in one tensor
program: the parameters are stacked along a leading run axis, the loss of run s depends only on the
parameters of run s, and the optimiser (Adam or SGD) is element-wise, so back-propagating the *sum* of the
S losses gives every run exactly the update it would get alone.  Run s is initialised from its own
``torch.Generator`` seeded with ``seeds[s]``, so a batched run and a single run with the same seed follow the
same trajectory (up to the summation order of the matrix products).

Model (docs/math.md sections 3-4).  Each run has embeddings W[k, i] in S^{d-1} for M modalities, t = exp(t')
with t' trainable (or t fixed), and a bias that is trainable or fixed:

- ``param="relative"``: logits t (<W[k,i], W[l,j]> - b_rel);
- ``param="absolute"``: logits t <W[k,i], W[l,j]> - b, reported as b_rel = b / t.

The loss is the sum over the graph's edges of the pair loss (``reduction="sum"``, or divided by N^2 per edge
with ``"mean"``), see :mod:`constellations.objective.losses`.  After every optimiser step each row is renormalised
to unit length.  A frozen modality K keeps its rows fixed (its gradient is zeroed and its rows restored).
With ``adapter=True`` (needs a frozen modality) the loss sees A_locked(x) = (delta x, +sqrt(1-delta^2)) for
the frozen modality and A_trainable(x) = (delta x, -sqrt(1-delta^2)) for the others, delta = sigmoid(x_delta)
with x_delta trainable unless ``fix_delta``.

The history records, per run: the loss, t, b_rel (b/t for the absolute bias), the margin m (HALF the gap)
and b*_rel of the embeddings W, and the fraction of the E N^2 logits with the correct sign (matched > 0,
non-matched < 0), "separated by the current (t, bias)".  The loss is also kept at every step.  The final
margins are recomputed in float64 with :func:`constellations.core.margins.margin_stats`.

Minibatches (``TrainSpec.batch_size`` = B < N).  Optimiser step k of run s takes the gradient of the loss
restricted to a batch I_{s,k} of B of the N items, drawn uniformly without replacement by a counter-based
sampler seeded from the run's seed (:mod:`constellations.training.batches`: the batch depends only on the
seed and k, not on the other runs nor on interruptions).  For every edge (k, l) the batch loss is SigLIP's:

    L_I = sum_{i in I} softplus(-z_ii) + sum_{i != j in I} softplus(z_ij),

its B matched pairs positive and its B(B - 1) other pairs negative (divided by B^2 with
``reduction="mean"``), with the run's shared t and bias, in either parameterisation.  Rows outside the
batch get a zero gradient (Adam still moves them by its momentum, as torch's Adam does).  Everything
reported is computed on ALL N items, at the recorded steps only (the loss curve at the steps of
``loss_every``, which defaults to ``record_every`` with minibatches): margins, b_rel, the loss, the
fraction separated.  B = N (or None) is the full-batch code path itself, so its trajectory is the
full-batch trajectory bit for bit.

Checkpoints (``train(checkpoint=PATH, checkpoint_every=K)``): the whole state after k steps (embeddings,
t', the bias, x_delta, the optimiser's moments, the divergence counters, the sampler's key, the loss curve
and history so far, the spec as JSON) goes into one ``.npz`` file of plain arrays, written atomically
every K steps, when a stop signal ends the loop and at the end (:mod:`constellations.training.checkpoint`).
``resume=True`` continues from it and reaches the final state of the uninterrupted run bit for bit.
During the loop SIGINT and SIGTERM only set the stop flag (:func:`constellations.core.interrupts.sigint_sets_flag`),
polled between steps, so an interrupted run always stops on a step boundary.

On CUDA the optimiser step of all runs is captured once in a CUDA graph and replayed
(``TrainSpec.graph_mode``): a step at N = 100 is ~50 tiny kernels, so the eager loop is bound by launch
latency, not arithmetic.  The loss value and the divergence check run outside the graph at the steps of
``loss_every``/``record_every``.  With minibatches the batch's item indices are an input of the graph,
copied into it before each replay.

This module is the entry point (:func:`train`) and re-exports the public names of the concept modules it
calls: :mod:`~constellations.training.spec` (the spec, its checks, the memory model),
:mod:`~constellations.training.run` (the loop), :mod:`~constellations.training.result`,
:mod:`~constellations.training.launch` (eager or CUDA graph), :mod:`~constellations.training.margins`
(batched margin statistics), :mod:`~constellations.training.divergence`,
:mod:`~constellations.training.embeddings` (initial embeddings), :mod:`~constellations.training.checkpointing`
(when to write, what to resume), :mod:`~constellations.training.checkpoint` (the file) and
:mod:`~constellations.training.batches` (the minibatch sampler).
"""
from __future__ import annotations

import numpy as np

from constellations.core.devices import resolve_device
from constellations.core.errors import ConfigurationError
from constellations.core.workers import resolve_count
# The concept modules of the training; every name once defined in this module stays importable from here.
from constellations.training.checkpointing import _Checkpoints
from constellations.training.divergence import TrainingDiverged, _mark_bad, _raise_if_diverged
from constellations.training.embeddings import _init_digest, _initial_embeddings
from constellations.training.launch import GRAPH_MODES, _capture_step, _use_graph
from constellations.training.margins import _stats_from_gram, margin_stats_torch
from constellations.training.result import TrainResult
from constellations.training.run import _Run
from constellations.training.spec import (_HISTORY_ROW_OVERHEAD, _LIVE_GRAMS, HISTORY_COLUMNS, MAX_SEEDS, OPTIMIZERS,
                                          TrainSpec, _check_memory, _gib, _minibatch, spec_record, train_memory_bytes)

__all__ = ["TrainSpec", "TrainResult", "train", "margin_stats_torch", "HISTORY_COLUMNS", "MAX_SEEDS",
           "TrainingDiverged", "train_memory_bytes", "GRAPH_MODES", "spec_record"]


def _per_run(value, S: int, name: str) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(S, float(a))
    if a.shape != (S,):
        raise ConfigurationError(f"{name} must be a scalar or have one value per run ({S}), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ConfigurationError(f"{name} must be finite")
    return a


def train(spec: TrainSpec, seeds=(0,), *, t0=10.0, bias0=0.0, init=None, progress=None,
          memory_limit: int | None = None, threads=1, checkpoint=None, checkpoint_every: int | None = None,
          resume: bool = False) -> TrainResult:
    """Train S = len(seeds) runs together (see the module docstring).

    ``threads`` (an int, or "auto" for every core available; at most that many) is torch's CPU
    thread count for the run, restored afterwards.  The default 1 is the fast setting: the
    per-step tensors are small, and more threads cost more in synchronisation than they gain
    (20-25x slower with torch's default on a 2-core machine, N = 50, d = 8; benchmarks/bench_train.py).
    The other parameters and the result are those of :func:`_train`.
    """
    count = resolve_count(threads, "threads")
    import torch

    kw = dict(t0=t0, bias0=bias0, init=init, progress=progress, memory_limit=memory_limit, checkpoint=checkpoint,
              checkpoint_every=checkpoint_every, resume=resume)
    if resolve_device(spec.device).type != "cpu":
        return _train(spec, seeds, **kw)
    old = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        return _train(spec, seeds, **kw)
    finally:
        torch.set_num_threads(old)


def _train(spec: TrainSpec, seeds=(0,), *, t0=10.0, bias0=0.0, init=None, progress=None,
           memory_limit: int | None = None, checkpoint=None, checkpoint_every: int | None = None,
           resume: bool = False) -> TrainResult:
    """Train S = len(seeds) runs together (see the module docstring).

    Parameters
    ----------
    spec : TrainSpec
    seeds : sequence of int
        One seed per run; it fixes that run's random initial embeddings.
    t0 : float or array (S,)
        Initial inverse temperature (t' = log t0).
    bias0 : float or array (S,)
        Initial b_rel (``param="relative"``) or b (``param="absolute"``).
    init : array (M, N, d) or (S, M, N, d), optional
        Initial embeddings instead of random ones (rows are normalised); e.g. a frozen modality to keep.
    progress : callable(step, loss_array), optional
        Called at each recorded step with the current per-run losses (NumPy).
    memory_limit : int, optional
        Bytes the run may plan to use (default :func:`constellations.core.devices.device_memory_limit`: half the RAM, 90% of a GPU).
        Runs whose estimate (:func:`train_memory_bytes`) exceeds it are refused before anything is
        allocated.
    checkpoint : path, optional
        A ``.npz`` file for the run's checkpoints (:mod:`constellations.training.checkpoint`), written
        atomically every ``checkpoint_every`` steps (if given), when a stop signal ends the loop, and
        at the end.  Its directory must exist; it is checked before any work.
    checkpoint_every : int, optional
        Steps between two checkpoints (>= 1; needs ``checkpoint``).
    resume : bool
        Continue from ``checkpoint`` (which must exist and belong to this run: same spec but for
        ``steps`` >= its step, ``device`` and ``graph_mode``; same seeds, t0, bias0 and ``init``).

    Returns
    -------
    TrainResult
        A stop signal (SIGINT, SIGTERM: it sets the stop flag) or a KeyboardInterrupt raised by
        ``progress`` stops the loop on a step boundary and returns the runs as they are, with
        ``interrupted=True`` (a checkpoint of that state is written first, if asked for).

    Raises
    ------
    ConfigurationError
        Bad parameters, more than :data:`MAX_SEEDS` runs, a memory estimate over the limit,
        ``graph_mode="cuda-graph"`` on a device that is not CUDA, or a checkpoint of another run.
    FileFormatError
        ``checkpoint`` cannot be written, or (``resume``) is missing, unreadable or corrupt.
    TrainingDiverged
        The loss of some run became NaN or Inf (checked at every step whose loss is evaluated, i.e.
        every step with ``loss_every=1``); the message names the step and suggests a smaller learning rate.
        The step of the damage is exact in both launch modes (a device counter inside the graph).
    """
    seeds = np.array([int(s) for s in seeds], dtype=np.int64)
    if seeds.size == 0:
        raise ConfigurationError("need at least one seed")
    S = len(seeds)
    if S > MAX_SEEDS:
        raise ConfigurationError(f"{S} runs is more than the limit of {MAX_SEEDS} in one batch; "
                                 "split the seeds over several runs")
    device = resolve_device(spec.device)
    _check_memory(spec, S, device, memory_limit)
    t0 = _per_run(t0, S, "t0")
    if (t0 <= 0).any():
        raise ConfigurationError("t0 must be > 0")
    bias0 = _per_run(bias0, S, "bias0")
    saver = _Checkpoints(checkpoint, checkpoint_every, resume)
    start = saver.load(spec, seeds, t0, bias0, _init_digest(init)) if resume else None
    # the launch functions of this module, looked up now: tests replace them here
    run = _Run(spec, seeds, t0, bias0, init, progress, device, saver, start, use_graph=_use_graph,
               capture=_capture_step)
    run.loop()
    return run.result()

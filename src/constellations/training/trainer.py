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
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field, fields

import numpy as np

from constellations.core import interrupts
from constellations.core.configuration import Configuration
from constellations.core.devices import device_memory_limit, resolve_device
from constellations.core.workers import resolve_count
from constellations.core.errors import ConfigurationError
from constellations.core.graphs import parse_graph
from constellations.objective.losses import PARAMS, REDUCTIONS, affine_pair_loss
from constellations.core.margins import margin_stats
from constellations.core.results import VOCABULARY, Result, Status, jsonable
from constellations.io.files import check_writable
from constellations.training.batches import CHUNK_KEYS, chunk_steps, sample_batches, stream_keys
from constellations.training.checkpoint import (bad_checkpoint, check_resumable, read_checkpoint, require_array,
                                                write_checkpoint)

__all__ = ["TrainSpec", "TrainResult", "train", "margin_stats_torch", "HISTORY_COLUMNS", "MAX_SEEDS",
           "TrainingDiverged", "train_memory_bytes", "GRAPH_MODES", "spec_record"]

HISTORY_COLUMNS = ("loss", "t", "b_rel", "margin", "b_rel_star", "pos", "neg", "frac_separated", "delta")
OPTIMIZERS = ("adam", "sgd")
#: How the optimiser steps are launched: "auto" (a CUDA graph on CUDA, eager on CPU), "off" (eager),
#: "cuda-graph" (capture one step in a CUDA graph and replay it; CUDA only).
GRAPH_MODES = ("auto", "off", "cuda-graph")

#: Most runs (seeds x settings) in one batch.  Each run holds E N^2 logits per step, its own optimiser
#: state, and its final margins are recomputed one run at a time in float64.
MAX_SEEDS = 10_000

#: Tensors of E N^2 entries alive at once per run in a step (logits/probabilities, the softplus temporary,
#: and at recorded steps the Gram matrix with its sign mask): the peak-memory model of
#: :func:`train_memory_bytes`.
_LIVE_GRAMS = 4

#: Bytes of Python objects per recorded step of the history (list entries, small arrays' headers).
_HISTORY_ROW_OVERHEAD = 200


class TrainingDiverged(ConfigurationError):
    """The loss of some run became NaN or Inf (typically a learning rate far too large).

    Attributes ``step`` (first optimiser step at which a non-finite loss was seen) and ``seeds``.
    """

    def __init__(self, msg, step, seeds):
        super().__init__(msg)
        self.step = step
        self.seeds = tuple(seeds)


def train_memory_bytes(spec: "TrainSpec", runs: int) -> int:
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


def _minibatch(spec: "TrainSpec") -> bool:
    """Whether the steps use minibatches (B < N; B = N is the full-batch path)."""
    return spec.batch_size is not None and spec.batch_size < spec.n




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
        Items B per optimiser step, 2 <= B <= N (see the module docstring); None or N: the full batch.
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


@dataclass(frozen=True)
class TrainResult(Result):
    """The outcome of :func:`train` for S runs (arrays have a leading run axis of length S).

    Attributes
    ----------
    spec : TrainSpec
    seeds : ndarray (S,)
    X : ndarray (S, M, N, d), float64
        Final unit embeddings W (raw, before any adapter).
    t, b_rel, bias : ndarray (S,)
        Final inverse temperature, relative bias (b/t for the absolute bias) and the trained bias in its
        own parameterisation (b_rel or b).
    delta : ndarray (S,) or None
        Final adapter delta.
    loss : ndarray (S,)
        Loss of the final parameters (after ``steps_done`` steps).
    margin, b_rel_star, pos, neg : ndarray (S,)
        Float64 margin statistics of the final X (``margin_stats``; m is half the gap).
    loss_curve : ndarray (steps_done + 1, S)
        Loss after 0, 1, ..., steps_done steps (NaN at steps skipped by ``spec.loss_every``).
    history : dict
        ``"step"`` (R,) and one (R, S) array per name in :data:`HISTORY_COLUMNS`.
    steps_done : int
        Fewer than ``spec.steps`` if interrupted.
    interrupted : bool
    seconds : float
        Wall time of the optimisation loop (``wall_s``, its old name, is a deprecated alias); for a
        resumed run, with the time before the checkpoint.
    device : str
    launch : {"eager", "cuda-graph"}
        How the steps ran (see ``TrainSpec.graph_mode``).
    checkpoint : str or None
        The checkpoint file last written (None if none was asked for, or none written).
    checkpoint_step : int or None
        The step of that checkpoint (``steps_done``, unless the run was interrupted inside a step).
    resumed_from : int or None
        The step the run was resumed from (None: started afresh).

    The result vocabulary (:mod:`constellations.core.results`) speaks of the best run (largest float64
    margin, ``best``): ``config`` is its configuration and ``to_dict()["margin"]`` its margin, while the
    attribute ``margin`` stays the per-run array; ``margin_certified`` is None (training certifies
    nothing: certify ``config`` with :func:`constellations.core.certify.certified_margin`).
    """

    spec: TrainSpec
    seeds: np.ndarray
    X: np.ndarray
    t: np.ndarray
    b_rel: np.ndarray
    bias: np.ndarray
    delta: np.ndarray | None
    loss: np.ndarray
    margin: np.ndarray
    b_rel_star: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    loss_curve: np.ndarray
    history: dict = field(repr=False)
    steps_done: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    device: str = "cpu"
    launch: str = "eager"
    checkpoint: str | None = None
    checkpoint_step: int | None = None
    resumed_from: int | None = None

    @property
    def S(self) -> int:
        return len(self.seeds)

    @property
    def wall_s(self) -> float:
        """Deprecated alias of ``seconds``."""
        return self.seconds

    @property
    def best(self) -> int:
        """Index of the run with the largest float64 margin (the first of equals)."""
        return int(np.argmax(self.margin))

    @property
    def config(self) -> Configuration:
        """The best run's final configuration (:meth:`configuration` of :attr:`best`)."""
        return self.configuration(self.best)

    @property
    def margin_certified(self) -> None:
        """None: training reports float64 margins, it certifies none."""
        return None

    @property
    def n(self) -> int:
        return self.spec.n

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def modalities(self) -> int:
        return self.spec.modalities

    @property
    def status(self) -> Status:
        """INTERRUPTED (stopped early), DIVERGED (a final loss is not finite) or COMPLETED."""
        if self.interrupted:
            return Status.INTERRUPTED
        if not np.isfinite(self.loss).all():
            return Status.DIVERGED
        return Status.COMPLETED

    @property
    def message(self) -> str:
        """One line: the best run's margin and loss, and how the training stopped."""
        b = self.best
        how = {Status.INTERRUPTED: f"interrupted after {self.steps_done} of {self.spec.steps} steps",
               Status.DIVERGED: "diverged (a final loss is not finite)",
               Status.COMPLETED: f"{self.steps_done} steps done"}[self.status]
        return (f"best of {self.S} run{'s' * (self.S != 1)}: seed {int(self.seeds[b])}, m = {self.margin[b]:.6g}, "
                f"loss {self.loss[b]:.6g}; {how}")

    def to_dict(self) -> dict:
        """The vocabulary (the best run's margin), then the spec, the run's figures and one dict per run."""
        out = {name: jsonable(getattr(self, name)) for name in VOCABULARY}
        out["margin"] = jsonable(self.margin[self.best])
        out.update(spec=spec_record(self.spec), steps_done=int(self.steps_done), interrupted=bool(self.interrupted),
                   device=self.device, launch=self.launch, best_run=self.best, checkpoint=self.checkpoint,
                   checkpoint_step=self.checkpoint_step, resumed_from=self.resumed_from)
        per_run = {"loss": self.loss, "t": self.t, "b_rel": self.b_rel, "bias": self.bias, "margin": self.margin,
                   "b_rel_star": self.b_rel_star, "pos": self.pos, "neg": self.neg}
        if self.delta is not None:
            per_run["delta"] = self.delta
        out["runs"] = [{"seed": int(seed), **{k: jsonable(v[s]) for k, v in per_run.items()}}
                       for s, seed in enumerate(self.seeds)]
        return out

    def steps_to(self, threshold: float) -> np.ndarray:
        """First evaluated step count k with loss(after k steps) < threshold, per run (NaN if never reached).

        Exact with ``loss_every=1``; otherwise the first multiple of ``loss_every`` (or recorded step).
        """
        below = self.loss_curve < threshold
        hit = below.any(axis=0)
        first = below.argmax(axis=0).astype(np.float64)
        first[~hit] = np.nan
        return first

    def loss_at(self, step: int) -> np.ndarray:
        """Loss after ``step`` steps, per run."""
        if not 0 <= step < self.loss_curve.shape[0]:
            raise ConfigurationError(f"step {step} outside 0..{self.loss_curve.shape[0] - 1}")
        if np.isnan(self.loss_curve[step]).all():
            raise ConfigurationError(f"the loss was not evaluated at step {step} "
                                     f"(loss_every={self.spec.loss_every}, record_every={self.spec.record_every})")
        return self.loss_curve[step].copy()

    def configuration(self, run: int = 0) -> Configuration:
        """Run ``run``'s final embeddings as a Configuration (meta holds t, b_rel, seed, margin...)."""
        meta = {"kind": "trained", "seed": int(self.seeds[run]), "param": self.spec.param,
                "t": float(self.t[run]), "b_rel_loss": float(self.b_rel[run]), "loss": float(self.loss[run]),
                "margin_trained": float(self.margin[run]), "b_rel_star": float(self.b_rel_star[run]),
                "steps": int(self.steps_done), "steps_planned": int(self.spec.steps),
                "interrupted": bool(self.interrupted), "reduction": self.spec.reduction}
        if self.delta is not None:
            meta["delta"] = float(self.delta[run])
        if self.spec.frozen is not None:
            meta["frozen"] = int(self.spec.frozen)
        return Configuration.from_array(self.X[run], self.spec.graph, meta, normalize=True)

    def history_rows(self):
        """The history in long form: one dict per (recorded step, run)."""
        steps = self.history["step"]
        for r, step in enumerate(steps):
            for s in range(self.S):
                row = {"step": int(step), "run": s, "seed": int(self.seeds[s])}
                for c in HISTORY_COLUMNS:
                    row[c] = float(self.history[c][r, s])
                yield row


def spec_record(spec: TrainSpec) -> dict:
    """``spec`` as JSON data: every field, the graph as its text (``Graph.spec``)."""
    out = {f.name: getattr(spec, f.name) for f in fields(spec)}
    out["graph"] = spec.graph.spec
    return jsonable(out)


def _per_run(value, S: int, name: str) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(S, float(a))
    if a.shape != (S,):
        raise ConfigurationError(f"{name} must be a scalar or have one value per run ({S}), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ConfigurationError(f"{name} must be finite")
    return a


def margin_stats_torch(W, edges):
    """Vectorised margin statistics of S configurations: W (S, M, N, d) -> (pos, neg, margin, b_rel_star), each (S,).

    pos = min over edges and i of <W[k,i], W[l,i]>, neg = max over edges and i != j of <W[k,i], W[l,j]>,
    margin = (pos - neg)/2 (half the gap), b_rel_star = (pos + neg)/2; as
    :func:`constellations.core.margins.margin_stats`, against which it is tested.
    """
    import torch

    ks = [k for k, _ in edges]
    ls = [l for _, l in edges]
    G = torch.matmul(W[:, ks], W[:, ls].transpose(-1, -2))  # (S, E, N, N)
    return _stats_from_gram(G)


def _stats_from_gram(G):
    import torch

    N = G.shape[-1]
    pos = torch.diagonal(G, dim1=-2, dim2=-1).amin(dim=(-2, -1))
    eye = torch.eye(N, dtype=torch.bool, device=G.device)
    neg = G.masked_fill(eye, -math.inf).amax(dim=(-3, -2, -1))
    return pos, neg, (pos - neg) / 2, (pos + neg) / 2


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


def _initial_embeddings(spec: TrainSpec, seeds, init, torch, dtype, device):
    S, M, N, d = len(seeds), spec.modalities, spec.n, spec.dim
    if init is not None:
        A = np.asarray(init, dtype=np.float64)
        if A.shape == (M, N, d):
            A = np.broadcast_to(A, (S, M, N, d))
        if A.shape != (S, M, N, d):
            raise ConfigurationError(f"init must have shape (M, N, d)=({M}, {N}, {d}) or (S, M, N, d), got {A.shape}")
        if not np.isfinite(A).all():
            raise ConfigurationError("init contains NaN or Inf")
        norms = np.linalg.norm(A, axis=-1, keepdims=True)
        if (norms == 0).any():
            raise ConfigurationError("init has a zero row")
        W = torch.tensor(A / norms, dtype=torch.float64)
    else:
        parts = []
        for s in seeds:
            g = torch.Generator().manual_seed(int(s))
            parts.append(torch.randn((M, N, d), generator=g, dtype=torch.float64))
        W = torch.stack(parts)
        W = W / W.norm(dim=-1, keepdim=True)
    return W.to(device=device, dtype=dtype).contiguous()


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


def _gib(b: float) -> str:
    return f"{b / 2 ** 30:.3g} GiB"


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
    run = _Run(spec, seeds, t0, bias0, init, progress, device, saver, start)
    run.loop()
    return run.result()


def _init_digest(init) -> str | None:
    """SHA-256 of the ``init`` array as float64 with its shape (None for random initial embeddings)."""
    if init is None:
        return None
    a = np.ascontiguousarray(np.asarray(init, dtype=np.float64))
    return hashlib.sha256(repr(a.shape).encode() + a.tobytes()).hexdigest()


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


class _Run:
    """One batched training (the body of :func:`_train`): the stacked parameters of the S runs, their
    optimiser, the loss and its affine form, one optimiser step (eager or a captured CUDA graph), the
    history, the divergence flags and the :class:`TrainResult`.

    Built with the initial state (``W``, ``log_t``, ``bias``, ``x_delta``), the optimiser and, on the
    graph path, the captured step; :meth:`loop` runs the steps; :meth:`result` recomputes the final
    figures.
    """

    def __init__(self, spec: TrainSpec, seeds, t0, bias0, init, progress, device, saver=None, start=None):
        import torch

        self.spec, self.seeds, self.progress, self.device = spec, seeds, progress, device
        self.t0, self.bias0, self.init_digest = t0, bias0, _init_digest(init)
        self.S = len(seeds)
        self.dtype = torch.float64 if spec.dtype == "float64" else torch.float32
        edges = spec.graph.edges
        self.E = len(edges)
        self.ks = [k for k, _ in edges]
        self.ls = [l for _, l in edges]
        self.simple = edges == ((0, 1),)
        self._initial_state(init, t0, bias0)
        self.use_graph = _use_graph(spec.graph_mode, device)
        self.opt = self._optimizer()
        self.loss_curve = torch.full((spec.steps + 1, self.S), float("nan"), dtype=torch.float64, device=device)
        self.hist = {c: [] for c in HISTORY_COLUMNS}
        self.hist_steps = []
        self.interrupted = False
        self.done = self.start = 0
        self.wall = self.seconds0 = 0.0
        self._t_loop = None
        self.resumed_from = None
        self.in_step = False  # between the start of an optimiser step and its end (no checkpoint then)
        # first step with a non-finite state, and the steps taken, on the device (graph-safe)
        self.first_bad = torch.full((self.S,), -1, dtype=torch.int64, device=device)
        self.step_t = torch.zeros((), dtype=torch.int64, device=device)
        self._batches(spec, device)
        self.saver = saver if saver is not None and saver.path is not None else None
        if start is not None:
            self._restore(*start)
        self.replay = None
        if self.use_graph and spec.steps > self.start:
            self._keep_start()
            self.replay = _capture_step(self._graph_body, self._reset, device)

    def _batches(self, spec, device) -> None:
        """The minibatch sampler's keys and the graph-static index tensor ``idx`` (S, B) (None: full batch)."""
        import torch

        self.minibatch = _minibatch(spec)
        self.keys = stream_keys(self.seeds)
        self.idx = None
        self._chunk, self._chunk_start = None, 0
        if self.minibatch:
            self.idx = torch.arange(spec.batch_size, device=device).repeat(self.S, 1)

    # -- the parameters -------------------------------------------------------------------------

    def _initial_state(self, init, t0, bias0) -> None:
        """W, t' = log t, the bias, the adapter's x_delta (and edge signs), the frozen rows; ``params``."""
        import torch

        spec, S, dtype, device = self.spec, self.S, self.dtype, self.device
        self.W = _initial_embeddings(spec, self.seeds, init, torch, dtype, device).requires_grad_(True)
        self.log_t = torch.tensor(np.log(t0), dtype=dtype, device=device).requires_grad_(not spec.fix_t)
        self.bias = torch.tensor(bias0, dtype=dtype, device=device).requires_grad_(not spec.fix_bias)
        self.params = [self.W] + [p for p in (self.log_t, self.bias) if p.requires_grad]
        self.x_delta = None
        self.sign_edge = None
        if spec.adapter:
            x0 = math.log(spec.delta0 / (1 - spec.delta0))
            self.x_delta = torch.full((S,), x0, dtype=dtype, device=device).requires_grad_(not spec.fix_delta)
            if self.x_delta.requires_grad:
                self.params.append(self.x_delta)
            s_mod = [1.0 if k == spec.frozen else -1.0 for k in range(spec.modalities)]
            self.sign_edge = torch.tensor([s_mod[k] * s_mod[l] for k, l in spec.graph.edges], dtype=dtype,
                                          device=device)
        self.W_frozen = self.W.detach()[:, spec.frozen].clone() if spec.frozen is not None else None

    def _state(self) -> tuple:
        """The tensors a fresh start restores: W, t', the bias (and x_delta)."""
        return (self.W, self.log_t, self.bias) + ((self.x_delta,) if self.x_delta is not None else ())

    def _optimizer(self):
        import torch

        if self.spec.optimizer == "adam":
            # capturable: the step count stays on the GPU (needed inside a graph; eager CUDA uses it too,
            # so the eager and graph trajectories run the same update kernel)
            kw = {"fused": True} if self.device.type in ("cpu", "cuda") else {}
            if self.device.type == "cuda":
                kw["capturable"] = True
            return torch.optim.Adam(self.params, lr=self.spec.lr, **kw)
        return torch.optim.SGD(self.params, lr=self.spec.lr)

    # -- the loss -------------------------------------------------------------------------------

    def gram(self):
        import torch

        W = self.W
        if self.simple:
            return torch.bmm(W[:, 0], W[:, 1].transpose(1, 2)).unsqueeze(1)  # (S, 1, N, N)
        return torch.matmul(W[:, self.ks], W[:, self.ls].transpose(-1, -2))  # (S, E, N, N)

    def affine(self):
        """Per (run, edge) alpha, beta with logits alpha <x, y> + beta (adapters included)."""
        import torch

        S, E, bias = self.S, self.E, self.bias
        relative = self.spec.param == "relative"
        t = torch.exp(self.log_t)
        if self.x_delta is None:
            alpha = t[:, None].expand(S, E)
            beta = (-t * bias if relative else -bias)[:, None].expand(S, E)
        else:
            d2 = torch.sigmoid(self.x_delta) ** 2
            c = (1 - d2)[:, None] * self.sign_edge[None, :]  # <A(x), A(y)> = d2 <x, y> + c
            alpha = (t * d2)[:, None].expand(S, E)
            if relative:
                beta = -t[:, None] * (bias[:, None] - c)
            else:
                beta = -(bias[:, None] - t[:, None] * c)
        return alpha.reshape(S * E), beta.reshape(S * E)

    def effective(self, G):
        """The Gram matrices the loss sees (the adapters' d2 G + c), from the raw ones ``G``."""
        import torch

        if self.x_delta is None:
            return G
        d2 = torch.sigmoid(self.x_delta) ** 2
        return d2[:, None, None, None] * G + (1 - d2)[:, None, None, None] * self.sign_edge[None, :, None, None]

    def loss_now(self, with_value=True, idx=None):
        """Per-run loss (S,); ``with_value=False`` skips the value (only the gradient is right).

        ``idx`` (S, B) int64: the loss of run s restricted to the items idx[s] (all modalities, all
        edges), i.e. the loss of the sub-configuration W[s][:, idx[s]]; None: all N items.
        """
        import torch

        spec, S, E, W = self.spec, self.S, self.E, self.W
        if idx is not None:  # the batch's rows of every modality: (S, M, B, d)
            W = torch.gather(W, 2, idx[:, None, :, None].expand(S, spec.modalities, idx.shape[1], spec.dim))
        n = W.shape[2]
        if self.simple:
            A, B = W[:, 0], W[:, 1]
        else:
            A = W[:, self.ks].reshape(S * E, n, spec.dim)
            B = W[:, self.ls].reshape(S * E, n, spec.dim)
        alpha, beta = self.affine()
        per = affine_pair_loss(A, B, alpha, beta, spec.reduction, with_value)
        return per if self.simple else per.reshape(S, E).sum(dim=1)

    # -- one step -------------------------------------------------------------------------------

    def update(self):
        """Backward of the current graph, the optimiser step, renormalisation, divergence flags."""
        import torch

        W, frozen = self.W, self.spec.frozen
        if frozen is not None:
            W.grad[:, frozen] = 0
        self.opt.step()
        with torch.no_grad():
            nrm = W.norm(dim=-1, keepdim=True)
            # a row of norm 0 or Inf (a huge step) would turn into zeros or NaN silently
            bad = ~(torch.isfinite(nrm) & (nrm > 0)).flatten(1).all(dim=1)
            t_now = torch.exp(self.log_t)  # t' out of range: t is 0 or Inf and every logit is 0 or NaN
            bad |= ~(torch.isfinite(t_now) & (t_now > 0) & torch.isfinite(self.bias))
            self.step_t.add_(1)
            _mark_bad(self.first_bad, bad, self.step_t)
            W.div_(nrm)
            if frozen is not None:
                W[:, frozen] = self.W_frozen

    def _graph_body(self):
        self.opt.zero_grad(set_to_none=True)  # Python-side only: backward then writes, not accumulates, the grads
        self.loss_now(False, self.idx).sum().backward()  # idx: the step's minibatch (None: all items)
        self.update()

    def _load_batch(self, step: int) -> None:
        """Copy the minibatch of ``step`` into ``idx`` (drawn on the host a chunk of steps at a time)."""
        import torch

        chunk = self._chunk
        if chunk is None or not self._chunk_start <= step < self._chunk_start + chunk.shape[0]:
            spec = self.spec
            count = chunk_steps(self.S, spec.n, spec.steps - step)
            host = sample_batches(self.keys, spec.n, spec.batch_size, step, count)
            self._chunk, self._chunk_start = torch.from_numpy(host).to(self.device), step
        self.idx.copy_(self._chunk[step - self._chunk_start])

    def _keep_start(self) -> None:
        """Copies of what the capture's warm-up changes: parameters, optimiser state (a resumed run's), counters."""
        import torch

        self._state0 = [p.detach().clone() for p in self._state()]
        self._opt0 = {p: {k: v.clone() for k, v in st.items() if torch.is_tensor(v)}
                      for p, st in self.opt.state.items()}
        self._counters0 = (self.first_bad.clone(), self.step_t.clone())

    def _reset(self):
        """Back to the starting state after the capture's warm-up: parameters, optimiser state, counters.

        Optimiser state that did not exist before the warm-up is zeroed (zero moments and step count =
        a fresh optimiser); a resumed run's is copied back."""
        import torch

        with torch.no_grad():
            for p, p0 in zip(self._state(), self._state0):
                p.copy_(p0)
            for p, st in self.opt.state.items():
                kept = self._opt0.get(p, {})
                for k, v in st.items():
                    if torch.is_tensor(v) and k in kept:
                        v.copy_(kept[k])
                    elif torch.is_tensor(v):
                        v.zero_()
            self.first_bad.copy_(self._counters0[0])
            self.step_t.copy_(self._counters0[1])
        self.opt.zero_grad(set_to_none=True)

    # -- the loop -------------------------------------------------------------------------------

    def recorded(self, step) -> bool:  # arithmetic, not a set: a run may plan billions of steps
        return step % self.spec.record_every == 0 or step == self.spec.steps

    def record(self, step, G, Geff, loss):
        """Append one history row (per run) at ``step`` and report it to ``progress``."""
        import torch

        with torch.no_grad():
            pos, neg, m, bs = _stats_from_gram(G)
            t = torch.exp(self.log_t)
            b_rel = self.bias if self.spec.param == "relative" else self.bias / t
            Z = t[:, None, None, None] * (Geff - b_rel[:, None, None, None])
            N = G.shape[-1]
            eye = torch.eye(N, dtype=torch.bool, device=G.device)
            good = torch.where(eye, Z > 0, Z < 0).to(torch.float64).mean(dim=(-3, -2, -1))
            x_delta = self.x_delta
            delta = torch.sigmoid(x_delta) if x_delta is not None else torch.full_like(t, float("nan"))
            row = torch.stack([loss.to(torch.float64), t.to(torch.float64), b_rel.to(torch.float64),
                               m.to(torch.float64), bs.to(torch.float64), pos.to(torch.float64),
                               neg.to(torch.float64), good, delta.to(torch.float64)]).cpu().numpy()
        self.hist_steps.append(step)
        for c, v in zip(HISTORY_COLUMNS, row):
            self.hist[c].append(v)
        if self.progress is not None:
            self.progress(step, row[0].copy())

    def check(self, step, loss) -> None:
        """Keep the loss at ``step``, flag the runs whose loss is not finite, raise if any run diverged."""
        import torch

        self.loss_curve[step] = loss.detach()
        _mark_bad(self.first_bad, ~torch.isfinite(loss.detach()), step)
        _raise_if_diverged(self.first_bad, self.seeds, self.spec)  # the one host sync for this check

    def loop(self) -> None:
        """Run the steps from ``start`` (eager, or replaying the captured one).

        A stop signal sets the stop flag, polled at the top of every step; a KeyboardInterrupt (from
        ``progress``) stops the loop too.  Either way the state is that after ``done`` steps, and the
        checkpoint (if asked for) is written: periodically, on a stop and at the end.
        """
        import torch

        device = self.device
        t_start = self._t_loop = time.perf_counter()
        with interrupts.sigint_sets_flag():  # a stop signal sets the flag, in the steps and while saving
            try:
                self._steps()
            except KeyboardInterrupt:
                self.interrupted = True
                if device.type == "cuda":
                    torch.cuda.synchronize(device)  # a replay may still be running
                if self.in_step:  # stopped inside a step: renormalise what is there (not a checkpoint)
                    with torch.no_grad():
                        self.W.div_(self.W.norm(dim=-1, keepdim=True))
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            self.wall = time.perf_counter() - t_start
            if self.saver is not None and not self.in_step:
                self.save()

    def _steps(self) -> None:
        """The loop proper: from ``start`` to ``spec.steps``, stopping on a step boundary at the stop flag."""
        steps = self.spec.steps
        for step in range(self.start, steps + 1):
            if interrupts.INTERRUPT.is_set():  # SIGINT/SIGTERM
                self.interrupted = True
                return
            if self.saver is not None and self.saver.due(step, self.start):
                self.save()
            loss = self._observe(step)
            if step == steps:
                return
            self.in_step = True
            self._advance(step, loss)
            self.in_step = False
            self.done = step + 1

    def _observe(self, step):
        """The loss value at the steps of ``loss_every``/``record_every`` (all N items) and the history row.

        Returns the loss: on the eager full-batch path it carries the graph the step back-propagates
        (its value only at those steps), elsewhere it is a value or None.
        """
        import torch

        spec = self.spec
        want = step % spec.loss_every == 0 or self.recorded(step)
        loss = None
        if self.replay is None and not self.minibatch:
            self.opt.zero_grad(set_to_none=True)
            loss = self.loss_now(want)
        elif want:
            with torch.no_grad():
                loss = self.loss_now(True)
        if want:
            self.check(step, loss)
        if self.recorded(step):
            with torch.no_grad():
                G = self.gram()
                self.record(step, G, self.effective(G), loss.detach())
        return loss

    def _advance(self, step, loss) -> None:
        """Optimiser step ``step`` (from the state after ``step`` steps to the next)."""
        if self.minibatch:
            self._load_batch(step)
        if self.replay is not None:
            self.replay()
        elif self.minibatch:
            self._graph_body()
        else:
            loss.sum().backward()
            self.update()

    # -- checkpoints ----------------------------------------------------------------------------

    def _arrays(self) -> dict:
        """The state after ``done`` steps and the figures reported before it, as NumPy arrays."""
        import torch

        done = self.done
        with torch.no_grad():
            out = {name: t.detach().cpu().numpy().copy() for name, t in self._named_state()}
            for i, st in self.opt.state_dict()["state"].items():
                out.update({f"opt.{i}.{k}": v.detach().cpu().numpy().copy() for k, v in st.items()
                            if torch.is_tensor(v)})
            out["first_bad"] = self.first_bad.cpu().numpy()
            out["step_t"] = self.step_t.cpu().numpy()
            out["loss_curve"] = self.loss_curve[:done].cpu().numpy()
        rows = sum(1 for st in self.hist_steps if st < done)  # the row of `done` is recorded on resuming
        out["history_step"] = np.array(self.hist_steps[:rows], dtype=np.int64)
        for c in HISTORY_COLUMNS:
            out[f"history.{c}"] = np.array(self.hist[c][:rows], dtype=np.float64).reshape(rows, self.S)
        return out

    def _named_state(self):
        return [("W", self.W), ("log_t", self.log_t), ("bias", self.bias)] + \
            ([("x_delta", self.x_delta)] if self.x_delta is not None else [])

    def save(self) -> None:
        """Write the checkpoint of the state after ``done`` steps (atomically)."""
        arrays = self._arrays()
        arrays.update(seeds=self.seeds, t0=self.t0, bias0=self.bias0, sampler_key=self.keys)
        meta = {"spec": spec_record(self.spec), "step": int(self.done), "init": self.init_digest,
                "seconds": self.seconds0 + (time.perf_counter() - self._t_loop if self._t_loop else 0.0),
                "history_columns": list(HISTORY_COLUMNS)}
        write_checkpoint(self.saver.path, meta, arrays)
        self.saver.step = self.done

    def _restore(self, path, meta, arrays) -> None:
        """Continue from a checkpoint: state, optimiser, counters, loss curve and history after k steps."""
        import torch

        spec, S, k = self.spec, self.S, meta["step"]
        dt = np.float64 if spec.dtype == "float64" else np.float32
        shapes = {"W": (S, spec.modalities, spec.n, spec.dim), "log_t": (S,), "bias": (S,), "x_delta": (S,)}
        with torch.no_grad():
            for name, t in self._named_state():
                t.copy_(torch.from_numpy(require_array(path, arrays, name, shapes[name], dt)))
            self.first_bad.copy_(torch.from_numpy(require_array(path, arrays, "first_bad", (S,), np.int64)))
            self.step_t.fill_(int(require_array(path, arrays, "step_t", (), np.int64)))
            self.loss_curve[:k] = torch.from_numpy(require_array(path, arrays, "loss_curve", (k, S), np.float64))
        if not np.array_equal(require_array(path, arrays, "sampler_key", (S,), np.uint64), self.keys):
            raise ConfigurationError(f"cannot resume from {path}: its minibatch sampler key is not this run's")
        if self.W_frozen is not None:
            self.W_frozen = self.W.detach()[:, spec.frozen].clone()
        self._restore_optimizer(path, arrays)
        steps = arrays.get("history_step")
        if steps is None or steps.ndim != 1 or steps.dtype != np.int64 or (steps >= k).any():
            raise bad_checkpoint(path, "its 'history_step' is missing or not the steps recorded before its step")
        R = len(steps)
        self.hist_steps = [int(x) for x in steps]
        for c in HISTORY_COLUMNS:
            self.hist[c] = list(require_array(path, arrays, f"history.{c}", (R, S), np.float64))
        self.done = self.start = self.resumed_from = k
        self.seconds0 = float(meta["seconds"])

    def _restore_optimizer(self, path, arrays) -> None:
        """Load the optimiser's state from the ``opt.<i>.<name>`` arrays (the param groups are this run's)."""
        import torch

        state = {}
        for name, a in arrays.items():
            if name.startswith("opt."):
                _, i, key = name.split(".", 2)
                if not i.isdigit() or int(i) >= len(self.params):
                    raise bad_checkpoint(path, f"unexpected checkpoint array {name!r}")
                state.setdefault(int(i), {})[key] = torch.from_numpy(a)
        if self.spec.optimizer == "adam" and int(self.step_t) > 0 and sorted(state) != list(range(len(self.params))):
            raise bad_checkpoint(path, f"it lacks Adam's moments after {int(self.step_t)} steps")
        for i, st in state.items():
            p = self.params[i]
            for key, v in st.items():
                if key != "step" and (v.shape != p.shape or v.dtype != p.dtype):
                    raise bad_checkpoint(path, f"optimiser state {key!r} of parameter {i} is {v.dtype}"
                                               f"{list(v.shape)}, expected {p.dtype}{list(p.shape)}")
        self.opt.load_state_dict({"state": state, "param_groups": self.opt.state_dict()["param_groups"]})

    # -- the result -----------------------------------------------------------------------------

    def _final(self):
        """Final loss, t, bias, delta and embeddings in float64 NumPy (raises if some run diverged)."""
        import torch

        with torch.no_grad():
            final = self.loss_now()
            _mark_bad(self.first_bad, ~torch.isfinite(final), self.done)
            _raise_if_diverged(self.first_bad, self.seeds, self.spec)
            final_loss = final.to(torch.float64).cpu().numpy()
            t_fin = torch.exp(self.log_t).to(torch.float64).cpu().numpy()
            b_fin = self.bias.detach().to(torch.float64).cpu().numpy()
            x_delta = self.x_delta
            d_fin = torch.sigmoid(x_delta).to(torch.float64).cpu().numpy() if x_delta is not None else None
            Xf = self.W.detach().to(torch.float64).cpu().numpy()
        Xn = Xf / np.linalg.norm(Xf, axis=-1, keepdims=True)
        if self.spec.frozen is not None:  # keep the frozen rows bit for bit
            Xn[:, self.spec.frozen] = Xf[:, self.spec.frozen]
        return final_loss, t_fin, b_fin, d_fin, Xn

    def result(self) -> TrainResult:
        """The :class:`TrainResult`: final figures, float64 margins, the loss curve and the history."""
        spec, S, done = self.spec, self.S, self.done
        final_loss, t_fin, b_fin, d_fin, Xf = self._final()
        b_rel_fin = b_fin if spec.param == "relative" else b_fin / t_fin
        stats = [margin_stats(Xf[s], spec.graph) for s in range(S)]
        curve = self.loss_curve[: done + 1].cpu().numpy()
        history = {"step": np.array(self.hist_steps, dtype=np.int64)}
        for c in HISTORY_COLUMNS:
            history[c] = np.array(self.hist[c]).reshape(len(self.hist_steps), S)
        return TrainResult(
            spec=spec, seeds=self.seeds, X=Xf, t=t_fin, b_rel=b_rel_fin, bias=b_fin, delta=d_fin, loss=final_loss,
            margin=np.array([s.margin for s in stats]), b_rel_star=np.array([s.b_rel for s in stats]),
            pos=np.array([s.pos for s in stats]), neg=np.array([s.neg for s in stats]),
            loss_curve=curve, history=history, steps_done=done, interrupted=self.interrupted,
            seconds=self.seconds0 + self.wall, device=str(self.device),
            launch="cuda-graph" if self.use_graph else "eager",
            checkpoint=None if self.saver is None or self.saver.step is None else str(self.saver.path),
            checkpoint_step=None if self.saver is None else self.saver.step,
            resumed_from=self.resumed_from)

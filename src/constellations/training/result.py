r"""The outcome of a batched training: :class:`TrainResult`, the final figures of the S runs with their
float64 margins, the loss curve and the history, speaking the result vocabulary
(:mod:`constellations.core.results`) for its best run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from constellations.core.configuration import Configuration
from constellations.core.errors import ConfigurationError
from constellations.core.results import VOCABULARY, Result, Status, jsonable
from constellations.training.spec import HISTORY_COLUMNS, TrainSpec, spec_record

__all__ = ["TrainResult"]


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

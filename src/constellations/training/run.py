r"""The loop of one batched training (:class:`_Run`): the stacked parameters of the S runs and their
optimiser, the loss in its affine form, one optimiser step (eager, or replayed from a CUDA graph), the
loss curve, history and divergence checks of the recorded steps, the checkpoint hooks (the state
written, the state restored) and the final :class:`~constellations.training.result.TrainResult`.
"""
from __future__ import annotations

import math
import time

import numpy as np

from constellations.core import interrupts
from constellations.core.errors import ConfigurationError
from constellations.core.margins import margin_stats
from constellations.objective.losses import affine_pair_loss
from constellations.training.batches import chunk_steps, sample_batches, stream_keys
from constellations.training.checkpoint import bad_checkpoint, require_array, write_checkpoint
from constellations.training.divergence import _mark_bad, _raise_if_diverged
from constellations.training.embeddings import _init_digest, _initial_embeddings
from constellations.training.launch import _capture_step, _use_graph
from constellations.training.margins import _stats_from_gram
from constellations.training.result import TrainResult
from constellations.training.spec import HISTORY_COLUMNS, TrainSpec, _minibatch, spec_record

__all__ = []


class _Run:
    """One batched training (the body of :func:`constellations.training.trainer._train`): the stacked
    parameters of the S runs, their optimiser, the loss and its affine form, one optimiser step (eager or
    a captured CUDA graph), the history, the divergence flags and the :class:`TrainResult`.

    Built with the initial state (``W``, ``log_t``, ``bias``, ``x_delta``), the optimiser and, on the
    graph path, the captured step; :meth:`loop` runs the steps; :meth:`result` recomputes the final
    figures.

    ``use_graph(mode, device)`` and ``capture(body, reset, device)`` decide and capture the CUDA-graph
    launch (:mod:`constellations.training.launch`); :func:`constellations.training.trainer.train` passes
    its own, which tests replace to run the graph path on the CPU.
    """

    def __init__(self, spec: TrainSpec, seeds, t0, bias0, init, progress, device, saver=None, start=None, *,
                 use_graph=_use_graph, capture=_capture_step):
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
        self.use_graph = use_graph(spec.graph_mode, device)
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
            self.replay = capture(self._graph_body, self._reset, device)

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
            self._check_moments(path, i, st)
        self.opt.load_state_dict({"state": state, "param_groups": self.opt.state_dict()["param_groups"]})

    def _check_moments(self, path, i: int, st: dict) -> None:
        """Adam's state of parameter ``i`` as Adam writes it, or a one-line refusal: exactly ``step``,
        ``exp_avg`` and ``exp_avg_sq``; ``step`` a float scalar equal to the checkpoint's step (a resumed
        run must equal the uninterrupted one); finite moments, ``exp_avg_sq >= 0``.  SGD keeps no state."""
        import torch

        if self.spec.optimizer != "adam":
            raise bad_checkpoint(path, f"optimiser state for parameter {i}, but {self.spec.optimizer} keeps none")
        keys = {"step", "exp_avg", "exp_avg_sq"}
        if set(st) != keys:
            raise bad_checkpoint(path, f"Adam's state of parameter {i} holds {sorted(st)}, expected {sorted(keys)}")
        step = st["step"]
        if step.ndim != 0 or not step.is_floating_point() or float(step) != float(int(self.step_t)):
            raise bad_checkpoint(path, f"Adam's step of parameter {i} is {step.tolist()!r}, expected the "
                                       f"checkpoint's step {int(self.step_t)}")
        if not (torch.isfinite(st["exp_avg"]).all() and torch.isfinite(st["exp_avg_sq"]).all()
                and (st["exp_avg_sq"] >= 0).all()):
            raise bad_checkpoint(path, f"Adam's moments of parameter {i} are not finite (or exp_avg_sq < 0)")

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

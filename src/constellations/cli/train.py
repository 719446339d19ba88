"""``constellations train``: sigmoid-loss training of free embeddings, S seeds in one batch."""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from constellations import io
from constellations.training.trainer import HISTORY_COLUMNS, TrainSpec, train

from constellations.cli.limits import threads_option
from constellations.cli.output import (INTEGER, checked_dir, checked_path, csv_text, echo_err, emit_json, fmt,
                                       output_option, progress_bar)
from constellations.cli.plots_train import plot_training
from constellations.cli.seeds import SEEDS_HELP, SeedsType

_history_path = checked_path(".csv")
_checkpoint_path = checked_path(".npz")
_plot_dir = checked_dir("loss_t.png")  # one of the files it will hold


@click.command("train")
@click.option("--n", "n", type=INTEGER, required=True, help="Items N per modality.")
@click.option("--dim", type=INTEGER, required=True, help="Dimension d.")
@click.option("--modalities", type=int, default=2, show_default=True, help="Number of modalities M.")
@click.option("--graph", default=None, help="complete (default), star, or edges like 0-1,1-2.")
@click.option("--param", type=click.Choice(["relative", "absolute"]), default="relative", show_default=True,
              help="Logits t(<u,v> - b_rel) (relative) or t<u,v> - b (absolute).")
@click.option("--t0", type=float, default=10.0, show_default=True, help="Initial inverse temperature t (t = exp(t')).")
@click.option("--b0", type=float, default=None, help="Initial absolute bias b (--param absolute; default t0 * b_rel0).")
@click.option("--b-rel0", "b_rel0", type=float, default=0.0, show_default=True, help="Initial relative bias b_rel.")
@click.option("--fix-t", is_flag=True, help="Keep t fixed at --t0.")
@click.option("--fix-bias", is_flag=True, help="Keep the bias fixed at its initial value.")
@click.option("--frozen", type=int, default=None, help="Index K of a modality whose embeddings stay fixed.")
@click.option("--adapter", is_flag=True, help="Locked/trainable adapters with delta = sigmoid(x) (needs --frozen).")
@click.option("--delta0", type=float, default=0.5, show_default=True, help="Initial adapter delta.")
@click.option("--init", "init_file", type=click.Path(dir_okay=False), default=None,
              help="Initial embeddings (.npz, shape (M, N, d)); e.g. the modality to freeze.")
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam", show_default=True)
@click.option("--lr", type=float, default=0.01, show_default=True, help="Learning rate.")
@click.option("--steps", type=INTEGER, default=2000, show_default=True, help="Optimiser steps.")
@click.option("--seeds", type=SeedsType(), default="1", show_default=True, help=SEEDS_HELP)
@click.option("--reduction", type=click.Choice(["sum", "mean"]), default="sum", show_default=True,
              help="Sum over the N^2 pairs (the theorems) or their mean (the paper's code).")
@click.option("--record-every", type=int, default=10, show_default=True, help="History every this many steps.")
@click.option("--loss-every", type=int, default=None,
              help="Evaluate the loss value (of all N items) every this many steps (and at recorded steps); "
                   "steps in between need only its gradient, about 20% cheaper.  [default: 1; --record-every "
                   "with --batch-size]")
@click.option("--batch-size", type=INTEGER, default=None, metavar="B",
              help="Minibatches: each step takes the gradient of the sigmoid loss of B of the N items (2 <= B <= N), "
                   "drawn uniformly without replacement from each seed's own stream; reported figures stay "
                   "computed on all N items at the recorded steps.  [default: N, the full batch]")
@click.option("--checkpoint", "checkpoint", default=None, metavar="FILE", callback=_checkpoint_path,
              help="Checkpoint file (.npz, plain arrays, written atomically): every --checkpoint-every steps, "
                   "on SIGINT/SIGTERM and at the end.")
@click.option("--checkpoint-every", type=INTEGER, default=None, metavar="K", help="Steps between two checkpoints.")
@click.option("--resume", is_flag=True,
              help="Continue from --checkpoint FILE (same options; --steps may grow); the result equals the "
                   "uninterrupted run's.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:K or auto.")
@click.option("--graph-mode", type=click.Choice(["auto", "off", "cuda-graph"]), default="auto", show_default=True,
              help="cuda-graph: capture one step of all seeds in a CUDA graph and replay it (no per-kernel launch "
                   "cost; same trajectory); auto: that on CUDA, eager on CPU; off: eager.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True,
              help="Training precision (final margins are always recomputed in float64).")
@threads_option("torch CPU threads, or auto (every core); at most the cores available (the per-step tensors "
                "are small; more threads rarely help on CPU).")
@output_option(".npz", help="Write the final configurations (.npz: X = the run with the largest margin, "
                            "X_runs = all); the directory must exist.")
@click.option("--history", "history_file", default=None, metavar="PATH", callback=_history_path,
              help="History CSV (default with -o: OUTPUT's name with .history.csv).")
@click.option("--plot", "plot_dir", default=None, metavar="DIR", callback=_plot_dir,
              help="Write PNG plots into DIR (an existing directory).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(n, dim, modalities, graph, param, t0, b0, b_rel0, fix_t, fix_bias, frozen, adapter, delta0, init_file,
            optimizer, lr, steps, seeds, reduction, record_every, loss_every, batch_size, checkpoint, checkpoint_every,
            resume, device, graph_mode, dtype, threads, output, history_file, plot_dir, quiet, as_json):
    """Train N x d free embeddings for M modalities with the sigmoid loss.

    All seeds advance together in one batched tensor program.  Rows are renormalised after
    every step.  The summary reports, per seed, the final loss, t, b_rel, and the margin m
    (HALF the gap between the smallest matched and the largest non-matched inner product,
    recomputed in float64) with b*_rel.  Runs whose memory estimate exceeds half the RAM (90% of a
    GPU) are refused before anything is allocated, as are more than 10,000 seeds.  A diverging run
    (NaN/Inf loss) stops with the step and a hint.  Exit status 0; 130 if interrupted (Ctrl-C: the
    state reached is still written and marked interrupted; 143 for SIGTERM, likewise); 2 on bad input.

    With --batch-size B each step uses B of the N items (SigLIP's minibatch loss: the B matched pairs
    positive, the B(B-1) others negative, per edge); B = N is the full-batch run bit for bit.  With
    --checkpoint FILE the whole state (embeddings, t, bias, optimiser, sampler, loss history, options)
    is saved every --checkpoint-every K steps, when SIGINT/SIGTERM stops the run, and at the end;
    the same command with --resume continues from it and ends where the uninterrupted run ends.
    """
    if b0 is not None and param != "absolute":
        raise click.UsageError("--b0 is the absolute bias: use --b-rel0 with --param relative")
    if checkpoint is None and (resume or checkpoint_every is not None):
        raise click.UsageError("--resume and --checkpoint-every need --checkpoint FILE")
    if checkpoint_every is not None and checkpoint_every < 1:
        raise click.BadParameter(f"must be >= 1, got {checkpoint_every}", param_hint="--checkpoint-every")
    bias0 = b_rel0 if param == "relative" else (b0 if b0 is not None else t0 * b_rel0)
    spec = TrainSpec(n=n, dim=dim, modalities=modalities, graph=graph, param=param, reduction=reduction, steps=steps,
                     lr=lr, optimizer=optimizer, fix_t=fix_t, fix_bias=fix_bias, frozen=frozen, adapter=adapter,
                     delta0=delta0, record_every=record_every, loss_every=loss_every, device=device, dtype=dtype,
                     graph_mode=graph_mode, batch_size=batch_size)
    init = None if init_file is None else _load_init(init_file, (modalities, n, dim))
    if history_file is None and output is not None:
        history_file = str(io.check_writable(str(_stem(output)) + ".history.csv", ".csv"))
    bar = progress_bar(quiet, as_json, total=steps, unit="step", desc=f"train S={len(seeds)}")

    def progress(step, loss):
        if bar is not None:
            bar.n = step
            bar.set_postfix(loss=f"{np.median(loss):.3g}")
            bar.refresh()

    res = train(spec, list(seeds), t0=t0, bias0=bias0, init=init, progress=progress, threads=threads,
                checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume)
    if bar is not None:
        bar.close()
    best = int(np.argmax(res.margin))
    files = _write_files(res, best, output, history_file, plot_dir)
    out = _summary(res, best, files)
    if as_json:
        emit_json(out)
    else:
        _report(out)
    if res.interrupted:
        echo_err(f"constellations: interrupted after {res.steps_done} of {steps} steps"
                 + ("; wrote the state reached" if files else "")
                 + (f"; checkpoint {res.checkpoint} at step {res.checkpoint_step} (continue with --resume)"
                    if res.checkpoint else ""))
        return 130
    return 0


def _load_init(path, shape) -> np.ndarray:
    """The initial embeddings of ``--init``, of shape (M, N, d)."""
    X = io.load(path, normalize=True).X
    if X.shape != shape:
        raise click.BadParameter(f"{path} holds shape {X.shape}, expected {shape}", param_hint="--init")
    return X


def _write_files(res, best, output, history_file, plot_dir) -> dict:
    """Write the result (.npz), its history (.csv) and the plots that were asked for; returns their paths."""
    files = {"checkpoint": res.checkpoint} if res.checkpoint else {}
    if output is not None:
        cfg = res.configuration(best).with_meta(run=best)
        extra = {"X_runs": res.X, "seeds": res.seeds, "t": res.t, "b_rel": res.b_rel, "loss": res.loss,
                 "margin": res.margin, "b_rel_star": res.b_rel_star}
        if res.delta is not None:
            extra["delta"] = res.delta
        files["output"] = str(io.save(output, cfg, extra=extra))
    if history_file is not None:
        rows = ([row["step"], row["run"], row["seed"]] + [repr(row[c]) for c in HISTORY_COLUMNS]
                for row in res.history_rows())
        io.atomic_write_text(history_file, csv_text(["step", "run", "seed", *HISTORY_COLUMNS], rows))
        files["history"] = history_file
    if plot_dir is not None:
        files["plots"] = plot_training(res, plot_dir, run=best)
    return files


def _summary(res, best, files) -> dict:
    """The report of a :class:`~constellations.training.trainer.TrainResult` (one JSON object)."""
    spec = res.spec
    return {
        "n": spec.n, "dim": spec.dim, "modalities": spec.modalities, "graph": spec.graph.spec, "param": spec.param,
        "reduction": spec.reduction, "steps": res.steps_done, "interrupted": res.interrupted, "device": res.device,
        "steps_planned": spec.steps, "dtype": spec.dtype, "launch": res.launch, "seconds": res.wall_s, "best_run": best,
        "batch_size": spec.batch_size, "resumed_from": res.resumed_from,
        "runs": [{"seed": int(res.seeds[s]), "loss": float(res.loss[s]), "t": float(res.t[s]),
                  "b_rel": float(res.b_rel[s]), "margin": float(res.margin[s]), "gap": float(2 * res.margin[s]),
                  "b_rel_star": float(res.b_rel_star[s]),
                  "steps_to_loss_1e-3": _nan_none(res.steps_to(1e-3)[s]),
                  **({"delta": float(res.delta[s])} if res.delta is not None else {})}
                 for s in range(res.S)],
        "files": files,
    }


def _nan_none(x):
    return None if not np.isfinite(x) else int(x)


def _stem(path) -> Path:
    p = Path(path)
    return p.with_suffix("") if p.suffix == ".npz" else p


def _report(o: dict) -> None:
    e = click.echo
    e(f"trained M={o['modalities']} x N={o['n']} in d={o['dim']}, graph {o['graph']}, {o['param']} bias, "
      f"{o['steps']} steps" + (f" of minibatches of {o['batch_size']}" if o["batch_size"] not in (None, o["n"]) else "")
      + (f" (resumed at step {o['resumed_from']})" if o["resumed_from"] is not None else "")
      + f", {len(o['runs'])} seed(s) in {o['seconds']:.1f} s on {o['device']} ({o['dtype']}"
      + (", CUDA graph" if o["launch"] == "cuda-graph" else "") + ")"
      + (f"  [INTERRUPTED after {o['steps']} of {o['steps_planned']} steps]" if o["interrupted"] else ""))
    e("  margin m is HALF the gap; 2m is the full gap (min matched - max non-matched)")
    e(f"  {'seed':>5} {'loss':>11} {'t':>9} {'b_rel':>9} {'m':>9} {'2m':>9} {'b*_rel':>9} {'steps<1e-3':>10}")
    for r in o["runs"]:
        st = "-" if r["steps_to_loss_1e-3"] is None else str(r["steps_to_loss_1e-3"])
        e(f"  {r['seed']:>5} {r['loss']:>11.4g} {r['t']:>9.4g} {r['b_rel']:>9.4f} {r['margin']:>9.4f} "
          f"{r['gap']:>9.4f} {r['b_rel_star']:>9.4f} {st:>10}")
    if "delta" in o["runs"][0]:
        e("  adapter delta: " + ", ".join(f"{r['delta']:.4f}" for r in o["runs"])
          + "  (m above is of the raw embeddings; the adapted pairs have delta^2 m on frozen-trainable edges)")
    ms = np.array([r["margin"] for r in o["runs"]])
    if len(ms) > 1:
        e(f"  margin over seeds: mean {fmt(ms.mean(), 6)}, std {fmt(ms.std(ddof=1), 3)}, "
          f"min {fmt(ms.min(), 6)}, max {fmt(ms.max(), 6)}; constellations: {int((ms > 0).sum())}/{len(ms)}")
    for k, v in o["files"].items():
        e(f"  wrote {k}: {v}")

"""PNG plots for ``constellations train`` (matplotlib, Agg backend; only the CLI imports this)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from constellations.core.errors import FileFormatError
from constellations.io.files import atomic_write


def _save(fig, path: Path) -> str:
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110, bbox_inches="tight")
    return str(path)


def plot_training(res, out_dir, run: int = 0) -> list[str]:
    """Write loss/t curves, the matched vs non-matched histogram and (d = 3) the constellation; returns paths.

    ``out_dir`` must exist (it is not created).
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    if not out.is_dir():  # never created: the shared rule for output locations
        raise FileFormatError(f"cannot write plots: directory {out} does not exist")
    written = []
    h = res.history
    steps = np.arange(res.loss_curve.shape[0])

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for s in range(res.S):
        a1.semilogy(steps, np.maximum(res.loss_curve[:, s], 1e-300), lw=0.8, alpha=0.7)
        a2.plot(h["step"], h["t"][:, s], lw=0.8, alpha=0.7)
    a1.set_xlabel("step"); a1.set_ylabel(f"loss ({res.spec.reduction})"); a1.set_title("loss")
    a2.set_xlabel("step"); a2.set_ylabel("t"); a2.set_title("inverse temperature t")
    fig.suptitle(f"{res.spec.param} bias, N={res.spec.n}, d={res.spec.dim}, {res.S} seed(s)"
                 + (f" - INTERRUPTED after {res.steps_done} of {res.spec.steps} steps" if res.interrupted else ""))
    written.append(_save(fig, out / "loss_t.png"))
    plt.close(fig)

    X = res.X[run]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    pos, neg = [], []
    N = X.shape[1]
    off = ~np.eye(N, dtype=bool)
    for k, l in res.spec.graph.edges:
        G = X[k] @ X[l].T
        pos.append(np.diag(G)); neg.append(G[off])
    pos, neg = np.concatenate(pos), np.concatenate(neg)
    bins = np.linspace(-1, 1, 121)
    ax.hist(neg, bins=bins, alpha=0.6, density=True, label="non-matched")
    ax.hist(pos, bins=bins, alpha=0.6, density=True, label="matched")
    ax.axvline(res.b_rel_star[run], color="k", ls="--", lw=0.8, label="b*_rel")
    ax.set_xlabel("inner product"); ax.legend()
    ax.set_title(f"seed {res.seeds[run]}: m = {res.margin[run]:.4f} (half gap), b*_rel = {res.b_rel_star[run]:.4f}")
    written.append(_save(fig, out / "inner_products.png"))
    plt.close(fig)

    if X.shape[2] == 3:
        fig = plt.figure(figsize=(5.5, 5.5))
        ax = fig.add_subplot(projection="3d")
        u, v = np.mgrid[0:2 * np.pi:30j, 0:np.pi:15j]
        ax.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v), color="0.85", lw=0.4)
        for k in range(X.shape[0]):
            ax.scatter(*X[k].T, s=14, label=f"modality {k}")
        for k, l in res.spec.graph.edges:
            for i in range(N):
                ax.plot(*np.stack([X[k, i], X[l, i]]).T, color="0.3", lw=0.6)
        ax.set_box_aspect((1, 1, 1)); ax.legend(loc="upper left", fontsize=7)
        ax.set_title(f"seed {res.seeds[run]}, m = {res.margin[run]:.4f}")
        written.append(_save(fig, out / "constellation3d.png"))
        plt.close(fig)
    return written

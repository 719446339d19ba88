r"""The initial embeddings of the S runs of a batched training: random unit rows drawn from each run's own
seed (so a batched run and a single run with the same seed start alike), or given ones, normalised; and
the digest that ties given ones to a checkpoint.
"""
from __future__ import annotations

import hashlib

import numpy as np

from constellations.core.errors import ConfigurationError
from constellations.training.spec import TrainSpec

__all__ = []


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


def _init_digest(init) -> str | None:
    """SHA-256 of the ``init`` array as float64 with its shape (None for random initial embeddings)."""
    if init is None:
        return None
    a = np.ascontiguousarray(np.asarray(init, dtype=np.float64))
    return hashlib.sha256(repr(a.shape).encode() + a.tobytes()).hexdigest()

"""The configuration model: M modalities of N unit vectors in R^d.

A configuration is an array ``X`` of shape (M, N, d), float64, with
``X[k, i]`` the unit vector of item i in modality k, plus a synchronisation
:class:`~constellations.core.graphs.Graph`.  The two-modality case is ``U = X[0]``,
``V = X[1]``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from constellations.core.errors import ConfigurationError
from constellations.core.graphs import Graph, parse_graph

__all__ = ["Configuration", "as_array", "tied", "UNIT_TOL", "memory_limit", "check_memory", "format_bytes"]

#: Largest accepted | |x| - 1 | for rows that must be unit (unless normalised explicitly).
UNIT_TOL = 1e-6


def memory_limit() -> int:
    """Bytes one operation may plan to allocate: half the physical memory (8 GiB if unknown)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")) // 2
    except (AttributeError, ValueError, OSError):
        return 8 << 30


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units, e.g. ``1.4 TiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.3g} EiB"  # pragma: no cover


def check_memory(nbytes: float, what: str, *, limit: int | None = None) -> None:
    """Refuse, before allocating, an operation estimated to need ``nbytes`` bytes.

    Raises :class:`ConfigurationError` naming ``what``, the estimate and the limit
    (default :func:`memory_limit`) when ``nbytes > limit``.  Sizes are plain Python numbers,
    so products like N * d * 8 never overflow.
    """
    why = " (half the physical memory)" if limit is None else ""
    limit = memory_limit() if limit is None else limit
    if nbytes > limit:
        raise ConfigurationError(
            f"{what} needs about {format_bytes(nbytes)} of memory, over the limit of {format_bytes(limit)}"
            f"{why}; use smaller sizes")


def as_array(X, *, normalize: bool = False, unit_tol: float = UNIT_TOL, require_unit: bool = True,
             min_modalities: int = 2) -> np.ndarray:
    """Validate and return ``X`` as a C-contiguous float64 array of shape (M, N, d).

    Parameters
    ----------
    X : array_like, shape (M, N, d), or a sequence of M arrays of shape (N, d)
    normalize : bool
        Divide every row by its Euclidean norm (rows of norm 0 are still refused).  Norms are
        taken of the row scaled by the power of two 2^e nearest above its largest absolute entry
        (an exact scaling), so rows of any magnitude from the smallest subnormal to the largest
        float normalise correctly.
    unit_tol : float
        Rows with ``| |x| - 1 | > unit_tol`` are refused unless ``normalize``.
    require_unit : bool
        If False, accept any nonzero rows as they are (analysis of raw embeddings).

    Raises
    ------
    ConfigurationError
        NaN/Inf, wrong rank, mismatched N or d across modalities, N < 2, M < min_modalities,
        d < 1, zero rows, or rows far from unit norm.
    """
    if isinstance(X, (list, tuple)):
        arrs = [np.asarray(a) for a in X]
        shapes = {a.shape for a in arrs}
        if any(a.ndim != 2 for a in arrs):
            raise ConfigurationError(
                f"each modality must be a 2-D array (N, d); got shapes {[a.shape for a in arrs]}")
        if len(shapes) > 1:
            ns = sorted({a.shape[0] for a in arrs})
            what = "N (items)" if len(ns) > 1 else "d (dimension)"
            raise ConfigurationError(f"modalities disagree in {what}: shapes {[a.shape for a in arrs]}")
        X = np.stack(arrs) if arrs else np.zeros((0, 0, 0))
    X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
        raise ConfigurationError(f"expected a real numeric array, got dtype {X.dtype}")
    if X.ndim != 3:
        raise ConfigurationError(f"expected an array of shape (M, N, d), got {X.ndim}-D shape {X.shape}")
    M, N, d = X.shape
    if M < min_modalities:
        raise ConfigurationError(f"need at least {min_modalities} modalities, got M={M}")
    if N < 2:
        raise ConfigurationError(f"need at least N=2 items, got N={N}")
    if d < 1:
        raise ConfigurationError(f"need dimension d >= 1, got d={d}")
    X = np.array(X, dtype=np.float64, order="C", copy=True)
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ConfigurationError(f"array contains NaN or Inf (first at index {tuple(int(b) for b in bad)})")
    # Norms of rows scaled by a power of two near their max-abs entry: exact scaling, so squares
    # neither overflow (rows near 1e200) nor underflow (rows near 1e-160).
    peak = np.abs(X).max(axis=2)
    if (peak == 0).any():
        k, i = np.argwhere(peak == 0)[0]
        raise ConfigurationError(f"row {i} of modality {k} is zero and has no direction")
    expo = np.frexp(peak)[1]
    snorms = np.empty((M, N))
    for k in range(M):  # one modality at a time: at most one extra (N, d) array
        S = np.ldexp(X[k], -expo[k][:, None])
        snorms[k] = np.sqrt(np.einsum("nd,nd->n", S, S))
        if normalize:
            np.divide(S, snorms[k][:, None], out=X[k])
    if not normalize and require_unit:
        norms = np.ldexp(snorms, expo)
        dev = np.abs(norms - 1.0)
        if dev.max() > unit_tol:
            k, i = np.unravel_index(np.argmax(dev), dev.shape)
            raise ConfigurationError(
                f"rows must be unit vectors: row {i} of modality {k} has norm {norms[k, i]:.6g} "
                f"(tolerance {unit_tol:g}); pass normalize=True (CLI: --normalize) to rescale them")
    X.setflags(write=False)
    return X


@dataclass(frozen=True)
class Configuration:
    """M modalities of N unit vectors in R^d with a synchronisation graph.

    Attributes
    ----------
    X : ndarray, shape (M, N, d), float64, read-only
    graph : Graph
        Complete graph on M modalities unless given.
    meta : dict
        Free-form metadata (construction name, known margin and b_rel, seed, ...).
        Constructions set ``meta["margin"]`` and ``meta["b_rel"]`` to their exact values.
    """

    X: np.ndarray
    graph: Graph = None
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        X = as_array(self.X)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "graph", parse_graph(self.graph, X.shape[0]))
        object.__setattr__(self, "meta", dict(self.meta or {}))

    @classmethod
    def from_array(cls, X, graph=None, meta: dict | None = None, *, normalize: bool = False,
                   unit_tol: float = UNIT_TOL) -> "Configuration":
        """Validate ``X`` (see :func:`as_array`) and wrap it."""
        return cls(as_array(X, normalize=normalize, unit_tol=unit_tol), graph, meta or {})

    @classmethod
    def from_pair(cls, U, V, meta: dict | None = None, *, normalize: bool = False) -> "Configuration":
        """Two modalities, U and V of shape (N, d)."""
        return cls.from_array([U, V], None, meta, normalize=normalize)

    @property
    def M(self) -> int:
        return self.X.shape[0]

    @property
    def N(self) -> int:
        return self.X.shape[1]

    @property
    def d(self) -> int:
        return self.X.shape[2]

    @property
    def U(self) -> np.ndarray:
        return self.X[0]

    @property
    def V(self) -> np.ndarray:
        return self.X[1]

    def with_meta(self, **kw: Any) -> "Configuration":
        return Configuration(self.X, self.graph, {**self.meta, **kw})


def tied(code, modalities: int = 2, graph=None, meta: dict | None = None) -> Configuration:
    """Use one spherical code (N, d) for every modality: X[k] = code for all k.

    If the code has maximal inner product c, this is a constellation with
    m = (1 - c)/2 and b_rel = (1 + c)/2 on any graph.
    """
    code = np.asarray(code, dtype=np.float64)
    if code.ndim != 2:
        raise ConfigurationError(f"a code must have shape (N, d), got {code.shape}")
    if modalities < 2:
        raise ConfigurationError(f"need at least 2 modalities, got {modalities}")
    return Configuration.from_array(np.broadcast_to(code, (modalities,) + code.shape), graph, meta)

"""The input of an analysis: M modalities of N rows in R^d, their labels, and the rows made unit.

Input is an array (M, N, d), a Configuration, or a pair (U, V), float32 or float64, not necessarily
unit-norm: every row is divided by its norm first (the raw norms are reported).  Rows are normalised in
float64 (scaled by a power of two first when the input is wider than float32, so 1e-200 and 1e200 rows
normalise correctly too); these float64 unit rows are the *reference* values of every product, and
:class:`Rows` also holds them at the precision of the Gram sweep on its torch device.

Optional integer ``labels`` of shape (N,) give the class of each item (several items per class).
"""
from __future__ import annotations

import numpy as np

from constellations.core.configuration import Configuration
from constellations.core.errors import ConfigurationError

__all__ = ["ROW_CHUNK", "PAIR_CHUNK", "Rows", "modalities", "validate_labels"]

ROW_CHUNK = 4096          # rows per float64 chunk when normalising or recomputing
PAIR_CHUNK = 1 << 14      # candidate pairs recomputed in float64 at once


def validate_labels(labels, N: int) -> np.ndarray:
    """``labels`` (N,) as class indices 0..C-1 (int64), or ConfigurationError."""
    lab = np.asarray(labels)
    if lab.shape != (N,):
        raise ConfigurationError(f"labels must have shape (N,)=({N},), got {lab.shape}")
    if lab.dtype.kind == "f":
        if not np.isfinite(lab).all() or (lab != np.round(lab)).any():
            raise ConfigurationError("labels must be integers")
    elif lab.dtype.kind not in "iub":
        raise ConfigurationError(f"labels must be integers, got dtype {lab.dtype}")
    _, inv = np.unique(lab, return_inverse=True)
    return inv.astype(np.int64).reshape(N)


def modalities(X) -> tuple[list, object]:
    """The raw modalities as a list of (N, d) arrays (no copies), and a graph from a Configuration."""
    if isinstance(X, Configuration):
        return [X.X[k] for k in range(X.M)], X.graph
    if isinstance(X, (tuple, list)):
        arrs = [np.asarray(a) for a in X]
    else:
        A = np.asarray(X)
        if A.ndim != 3:
            raise ConfigurationError(f"expected an array of shape (M, N, d), got {A.ndim}-D shape {A.shape}")
        arrs = [A[k] for k in range(A.shape[0])]
    _check_shapes(arrs)
    return arrs, None


def _check_shapes(arrs) -> None:
    if any(a.ndim != 2 for a in arrs):
        raise ConfigurationError(f"each modality must be a 2-D array (N, d); got shapes {[a.shape for a in arrs]}")
    for a in arrs:
        if a.dtype == object or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            raise ConfigurationError(f"expected a real numeric array, got dtype {a.dtype}")
    if len({a.shape for a in arrs}) > 1:
        ns = sorted({a.shape[0] for a in arrs})
        what = "N (items)" if len(ns) > 1 else "d (dimension)"
        raise ConfigurationError(f"modalities disagree in {what}: shapes {[a.shape for a in arrs]}")
    if len(arrs) < 2:
        raise ConfigurationError(f"need at least 2 modalities, got M={len(arrs)}")
    N, d = arrs[0].shape
    if N < 2:
        raise ConfigurationError(f"need at least N=2 items, got N={N}")
    if d < 1:
        raise ConfigurationError(f"need dimension d >= 1, got d={d}")


def _unit_chunk(raw: np.ndarray, k: int, a: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows raw[a:a+c] as float64 unit rows and their norms (power-of-two scaling, as as_array)."""
    x = np.asarray(raw, dtype=np.float64)
    if not np.isfinite(x).all():
        i, j = np.argwhere(~np.isfinite(x))[0]
        raise ConfigurationError(f"array contains NaN or Inf (first at index ({k}, {a + int(i)}, {int(j)}))")
    u, nrm = _unit(x, np.asarray(raw).dtype)
    if (nrm == 0).any():
        i = int(np.argmax(nrm == 0))
        raise ConfigurationError(f"row {a + i} of modality {k} is zero and has no direction")
    return u, nrm


def _unit(x: np.ndarray, src_dtype) -> tuple[np.ndarray, np.ndarray]:
    """Float64 rows x divided by their norms.  Squares of float32 (or narrower) entries can neither overflow
    nor underflow in float64; wider input is first scaled by the power of two nearest above its largest
    entry (exact), so 1e-200 and 1e200 rows normalise correctly too."""
    if np.dtype(src_dtype).itemsize <= 4 and np.dtype(src_dtype).kind == "f":
        n = np.sqrt(np.einsum("nd,nd->n", x, x))
        with np.errstate(invalid="ignore", divide="ignore"):
            return x / n[:, None], n
    peak = np.abs(x).max(axis=1)
    expo = np.frexp(peak)[1]
    s = np.ldexp(x, -expo[:, None])
    sn = np.sqrt(np.einsum("nd,nd->n", s, s))
    with np.errstate(invalid="ignore", divide="ignore"):
        return s / sn[:, None], np.ldexp(sn, expo)


class Rows:
    """The normalised rows: float64 on demand (from the raw input), at the sweep precision on the torch device.

    Attributes: ``raw`` (the input arrays), ``M, N, d``, ``norms`` (M, N) raw row norms, ``sums`` (M, d)
    sums of the float64 unit rows, ``dev`` the (M, N, d) tensor of unit rows at the sweep precision.
    """

    def __init__(self, arrs, torch, device, dtype: str):
        self.raw = arrs
        self.M = len(arrs)
        self.N, self.d = arrs[0].shape
        self.norms = np.empty((self.M, self.N))
        self.sums = np.zeros((self.M, self.d))
        self.is64 = dtype == "float64"
        np_dt = np.float64 if self.is64 else np.float32
        self.torch = torch
        self.dev = torch.empty((self.M, self.N, self.d), dtype=getattr(torch, dtype), device=device)
        for k, a in enumerate(arrs):
            for s in range(0, self.N, ROW_CHUNK):
                u, nrm = _unit_chunk(a[s:s + ROW_CHUNK], k, s)
                self.norms[k, s:s + len(u)] = nrm
                self.sums[k] += u.sum(axis=0)
                self.dev[k, s:s + len(u)] = torch.from_numpy(u.astype(np_dt, copy=False)).to(device)

    def f64(self, k: int, idx) -> np.ndarray:
        """Float64 unit rows idx of modality k (exactly the rows the float32 ones were rounded from)."""
        idx = np.asarray(idx)
        if self.is64:
            return self.dev[k][self.torch.from_numpy(idx.astype(np.int64)).to(self.dev.device)].cpu().numpy()
        return _unit(np.asarray(self.raw[k][idx], dtype=np.float64), self.raw[k].dtype)[0]

    def chunks(self, k: int):
        """(start, float64 unit rows) of modality k, ROW_CHUNK rows at a time."""
        for s in range(0, self.N, ROW_CHUNK):
            yield s, self.f64(k, np.arange(s, min(self.N, s + ROW_CHUNK)))

    def dots(self, k: int, l: int, i, j) -> np.ndarray:
        """Float64 <U_i, V_j> for index arrays i, j (in chunks)."""
        i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
        out = np.empty(i.size)
        for s in range(0, i.size, PAIR_CHUNK):
            ii, jj = i[s:s + PAIR_CHUNK], j[s:s + PAIR_CHUNK]
            if self.is64:  # gather on the device, no host copies of the rows
                t = self.torch
                A = self.dev[k][t.from_numpy(ii).to(self.dev.device)]
                B = self.dev[l][t.from_numpy(jj).to(self.dev.device)]
                out[s:s + ii.size] = (A * B).sum(dim=1).cpu().numpy()
            else:
                out[s:s + ii.size] = np.einsum("nd,nd->n", self.f64(k, ii), self.f64(l, jj))
        return out

    def full_rows(self, k: int, l: int, rows) -> np.ndarray:
        """Float64 products of rows ``rows`` of modality k with every row of modality l: shape (len, N)."""
        if self.is64:
            t = self.torch
            return (self.dev[k][t.from_numpy(np.asarray(rows, dtype=np.int64)).to(self.dev.device)]
                    @ self.dev[l].T).cpu().numpy()
        A = self.f64(k, rows)
        out = np.empty((len(rows), self.N))
        for s, B in self.chunks(l):
            out[:, s:s + len(B)] = A @ B.T
        return out

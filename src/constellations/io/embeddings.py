"""Reading paired embeddings for analysis: ``.npz``, ``.npy``, torch ``.pt`` and ``.safetensors`` files.

Accepted inputs (one path or two):

- ``.npz``: ``X`` (M, N, d), or ``U`` and ``V`` (N, d); optional ``labels`` (N,) and ``graph``;
- one ``.npy`` holding (M, N, d), e.g. (2, N, d); or two ``.npy`` files holding U and V (N, d) (memory-mapped,
  not read whole);
- ``.pt``/``.pth`` (``torch.load(weights_only=True)``: tensors only, never arbitrary pickled objects): a tensor
  (M, N, d), a dict with ``X`` or ``U``/``V`` (and optional ``labels``), or a pair of tensors; or two files
  with one (N, d) tensor each;
- ``.safetensors`` (only if the ``safetensors`` package is installed): tensors named as in ``.npz``.

Every problem (missing, unreadable, truncated or wrongly shaped file, unknown keys) raises
:class:`~constellations.core.errors.FileFormatError` with a one-line reason.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from constellations.core.errors import FileFormatError
from constellations.io.files import os_reason, require_file, shown

__all__ = ["PairsFile", "load_pairs", "SUFFIXES"]

SUFFIXES = (".npz", ".npy", ".pt", ".pth", ".safetensors")


@dataclass(frozen=True)
class PairsFile:
    """Embeddings read from disk: ``X`` is an (M, N, d) array or a list of M (N, d) arrays."""

    X: object
    labels: np.ndarray | None = None
    graph: str | None = None
    source: str = ""


def _check(path: Path) -> None:
    """Refuse, with one line, a path that is missing, a directory, of an unknown kind or unreadable."""
    require_file(path, "a file of embeddings")
    if path.suffix.lower() not in SUFFIXES:
        raise FileFormatError(f"{shown(path)}: unknown kind of file; use {', '.join(SUFFIXES)}")
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise FileFormatError(f"cannot read {shown(path)}: {os_reason(path, exc)}") from None


def _npy(path: Path) -> np.ndarray:
    try:
        a = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise FileFormatError(f"cannot read {path} as .npy: {_short(exc)}") from None
    if not isinstance(a, np.ndarray):
        raise FileFormatError(f"{path} is not a single .npy array")
    return a


def _short(exc) -> str:
    return " ".join(str(exc).split())[:200]


def _torch_obj(path: Path):
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or unsafe files
        raise FileFormatError(f"cannot read {path} as a torch tensor file (weights_only): {_short(exc)}") from None
    return obj


def _to_numpy(v, where: str):
    try:
        import torch
        if isinstance(v, torch.Tensor):
            if v.dtype in (torch.bfloat16, torch.float16):
                v = v.float()
            return v.detach().cpu().numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    if isinstance(v, np.ndarray):
        return v
    raise FileFormatError(f"{where}: expected tensors, found {type(v).__name__}")


def _from_mapping(d: dict, path: Path) -> PairsFile:
    d = {str(k): v for k, v in d.items()}
    if "X" in d:
        X = _to_numpy(d["X"], str(path))
    elif "U" in d and "V" in d:
        X = [_to_numpy(d["U"], str(path)), _to_numpy(d["V"], str(path))]
    else:
        raise FileFormatError(f"{path} holds {sorted(d)}; expected 'X' (M, N, d) or 'U' and 'V' (N, d)")
    labels = _to_numpy(d["labels"], str(path)) if "labels" in d else None
    graph = d.get("graph")
    if graph is not None and not isinstance(graph, str):
        graph = str(np.asarray(_to_numpy(graph, str(path))))
    return PairsFile(X, labels, graph, str(path))


def _one(path: Path) -> object:
    """The content of one file: a mapping, an array, or a list of arrays."""
    suf = path.suffix.lower()
    if suf == ".npz":
        with open(path, "rb") as fh:
            if fh.read(2) != b"PK":
                raise FileFormatError(f"{path} is not an .npz archive (no zip header)")
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
            raise FileFormatError(f"cannot read {path} as an .npz archive: {_short(exc)}") from None
    if suf == ".npy":
        return _npy(path)
    if suf == ".safetensors":
        try:
            from safetensors.numpy import load_file
        except ImportError:
            raise FileFormatError(f"{path}: reading .safetensors needs the 'safetensors' package "
                                  "(pip install safetensors), or save the arrays as .npz/.npy") from None
        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types
            raise FileFormatError(f"cannot read {path} as .safetensors: {_short(exc)}") from None
    obj = _torch_obj(path)
    if isinstance(obj, (list, tuple)):
        return [_to_numpy(v, str(path)) for v in obj]
    if isinstance(obj, dict):
        return obj
    return _to_numpy(obj, str(path))


def load_pairs(paths) -> PairsFile:
    """Read one file (X, or U and V) or two files (U, then V); see the module docstring."""
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not 1 <= len(paths) <= 2:
        raise FileFormatError(f"give one file (X or U and V) or two files (U and V), not {len(paths)}")
    for p in paths:
        _check(p)
    if len(paths) == 1:
        obj = _one(paths[0])
        if isinstance(obj, dict):
            return _from_mapping(obj, paths[0])
        if isinstance(obj, list):
            if len(obj) != 2:
                raise FileFormatError(f"{paths[0]} holds {len(obj)} tensors; expected U and V")
            return PairsFile(obj, None, None, str(paths[0]))
        if obj.ndim != 3:
            raise FileFormatError(f"{paths[0]} holds an array of shape {obj.shape}; expected (M, N, d) "
                                  "(or pass two files with U and V of shape (N, d))")
        return PairsFile(obj, None, None, str(paths[0]))
    parts = []
    for p in paths:
        obj = _one(p)
        if isinstance(obj, dict):
            if len(obj) != 1:
                raise FileFormatError(f"{p} holds {sorted(obj)}; with two files, each holds one (N, d) array")
            obj = _to_numpy(next(iter(obj.values())), str(p))
        if isinstance(obj, list) or np.ndim(obj) != 2:
            shape = getattr(obj, "shape", None)
            raise FileFormatError(f"{p} holds {'a list' if shape is None else f'shape {shape}'}; "
                                  "with two files, each holds one (N, d) array")
        parts.append(obj)
    return PairsFile(parts, None, None, " + ".join(map(str, paths)))

"""Files: configurations (.npz with X or U/V, .npy, torch .pt, .safetensors; plain-text coordinates to come),
paired embeddings for analysis, atomic writes and path checks that fail with one line.

- :mod:`.files`: load/save configurations, atomic writes, writable-path checks, JSON conversion;
- :mod:`.embeddings`: paired embeddings (rows of any norm, optional labels) for ``analyze``.
"""
from .embeddings import SUFFIXES, PairsFile, load_pairs
from .files import *  # noqa: F401,F403 - the module's __all__ is this package's face
from .files import __all__ as _files_all

__all__ = [*_files_all, "PairsFile", "load_pairs", "SUFFIXES"]

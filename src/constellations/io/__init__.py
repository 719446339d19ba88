"""Files: configurations (.npz with X or U/V; plain-text coordinates of one spherical code, one point per
line), paired embeddings for analysis (.npz, .npy, torch .pt, .safetensors), atomic writes and path checks
that fail with one line.

- :mod:`.files`: load/save configurations (by suffix: ``.npz``, or text ``.txt``/``.dat``/``.csv``), atomic
  writes, writable-path checks, JSON conversion;
- :mod:`.coordinates`: the text layouts of the code tables (rows, an index column, Lai et al.'s header,
  Sloane's one number per line), parsed strictly and written to read back bit for bit;
- :mod:`.embeddings`: paired embeddings (rows of any norm, optional labels) for ``analyze``.
"""
from .coordinates import CodeText, code_comments, code_geometry, format_code, name_shape, parse_code
from .embeddings import SUFFIXES, PairsFile, load_pairs
from .files import *  # noqa: F401,F403 - the module's __all__ is this package's face
from .files import __all__ as _files_all

__all__ = [*_files_all, "PairsFile", "load_pairs", "SUFFIXES", "CodeText", "parse_code", "format_code",
           "code_comments", "code_geometry", "name_shape"]

"""The cells of a margin table and their keys.

A **cell** is one independent search problem: N items in dimension d with M modalities
on a synchronisation graph, or the *tied* (spherical-code) case U = V = ... = a code,
whose margin is (1 - c)/2 for the code's max inner product c (docs/math.md section 2).

A cell is identified in the store by its **key** ``(n, dim, modalities, graph, tied)``.
The search effort (``restarts``, ``time_limit``) and the ``seed`` are *not* part of the
key: asking for more effort improves the existing cell instead of creating a new one.
Tied cells are always keyed with ``modalities=2`` and ``graph="complete"``: a tied code
is a constellation for every M and every graph, with the same margin.

Spec strings accepted by :func:`parse_int_list` (used for ``--n``, ``--dims`` and
``--modalities``): comma-separated items, each an integer ``7``, an inclusive range
``2:12`` or a stepped inclusive range ``8:128:8``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from constellations.core.configuration import check_memory
from constellations.core.errors import ConstellationsError
from constellations.core.graphs import parse_graph

__all__ = ["Cell", "CellKey", "TableGridError", "parse_int_list", "make_grid", "cell_seed"]

#: Largest cell size accepted (a guard against typos such as ``--n 1280000``).
MAX_N = 100_000
MAX_DIM = 10_000
MAX_MODALITIES = 64


class TableGridError(ConstellationsError, ValueError):
    """A grid specification (``--n``, ``--dims``, ``--modalities``, effort) is invalid."""


CellKey = tuple  # (n, dim, modalities, graph, tied)


@dataclass(frozen=True)
class Cell:
    """One cell of a margin table: what to compute and with how much effort.

    Attributes
    ----------
    n, dim, modalities : int
        N items, dimension d, M modalities.
    graph : str
        Graph spec (``"complete"``, ``"star"`` or an edge list); normalised by :func:`make_grid`.
    tied : bool
        The spherical-code case U = V (one code shared by all modalities).
    restarts : int
        Number of search restarts asked for.
    time_limit : float or None
        Seconds allowed to the search of this cell (None: no limit).
    seed : int
        Seed of the search, derived from the key and the run's base seed by :func:`cell_seed`.
    """

    n: int
    dim: int
    modalities: int = 2
    graph: str = "complete"
    tied: bool = False
    restarts: int = 8
    time_limit: float | None = None
    seed: int = 0

    @property
    def key(self) -> CellKey:
        """The store key ``(n, dim, modalities, graph, tied)``."""
        return (int(self.n), int(self.dim), int(self.modalities), str(self.graph), bool(self.tied))

    @property
    def label(self) -> str:
        """A short human-readable name, e.g. ``N=16 d=3 M=2`` or ``N=16 d=3 tied``."""
        what = "tied" if self.tied else f"M={self.modalities}" + ("" if self.graph == "complete" else f" {self.graph}")
        return f"N={self.n} d={self.dim} {what}"

    def with_effort(self, restarts: int | None = None, time_limit: float | None = None) -> "Cell":
        return replace(self, restarts=self.restarts if restarts is None else restarts,
                       time_limit=self.time_limit if time_limit is None else time_limit)


def cell_seed(key: CellKey, base_seed: int = 0) -> int:
    """A stable 31-bit seed for a cell, from its key and the run's base seed.

    Independent of the process, the Python hash seed and the order of the grid, so
    the in-process and Dask paths run every cell with the same seed.
    """
    text = repr((tuple(key), int(base_seed))).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "little") & 0x7FFFFFFF


def parse_int_list(spec, name: str = "value", minimum: int = 1, maximum: int | None = None) -> tuple[int, ...]:
    """Parse ``"8,16"``, ``"2:12"``, ``"8:128:8"`` (inclusive ranges) or an iterable of ints.

    Returns the sorted, de-duplicated tuple. Raises :class:`TableGridError` on bad input.
    """
    if spec is None:
        raise TableGridError(f"{name}: missing value")
    if isinstance(spec, int):
        items = [spec]
    elif isinstance(spec, str):
        items = []
        parts = [p.strip() for p in spec.split(",")]
        if not any(parts):
            raise TableGridError(f"{name}: empty list {spec!r}")
        for part in parts:
            if not part:
                raise TableGridError(f"{name}: empty item in {spec!r}")
            try:
                fields = [int(f) for f in part.split(":")]
            except ValueError:
                raise TableGridError(f"{name}: {part!r} is not an integer or a range a:b[:step]") from None
            if len(fields) == 1:
                items.append(fields[0])
            elif len(fields) in (2, 3):
                lo, hi = fields[0], fields[1]
                step = fields[2] if len(fields) == 3 else 1
                if step < 1:
                    raise TableGridError(f"{name}: step must be >= 1 in {part!r}")
                if hi < lo:
                    raise TableGridError(f"{name}: empty range {part!r} (end before start)")
                if (hi - lo) // step > 100_000:
                    raise TableGridError(f"{name}: range {part!r} is too long")
                items.extend(range(lo, hi + 1, step))
            else:
                raise TableGridError(f"{name}: {part!r} is not an integer or a range a:b[:step]")
    else:
        try:
            items = [int(v) for v in spec]
        except (TypeError, ValueError):
            raise TableGridError(f"{name}: expected integers, got {spec!r}") from None
    for v in items:
        if v < minimum:
            raise TableGridError(f"{name}: {v} is below the minimum {minimum}")
        if maximum is not None and v > maximum:
            raise TableGridError(f"{name}: {v} is above the maximum {maximum}")
    if not items:
        raise TableGridError(f"{name}: empty list")
    return tuple(sorted(set(items)))


def _norm_graph(graph, modalities: int) -> str:
    return parse_graph(graph, modalities).spec


def make_grid(n, dims, modalities=(2,), *, graph="complete", tied: bool = False, tied_only: bool = False,
              restarts: int = 8, time_limit: float | None = None, seed: int = 0) -> list[Cell]:
    """Build the cells of a table.

    Parameters
    ----------
    n, dims, modalities : spec string or iterable of int
        See :func:`parse_int_list`. N >= 2, d >= 1, M >= 2.
    graph : str
        ``complete``, ``star`` or an explicit edge list, applied to every M.
    tied : bool
        Also add the tied (spherical-code) cell of every (N, d).
    tied_only : bool
        Only the tied cells (``modalities`` is then ignored).
    restarts, time_limit, seed
        Effort and base seed; each cell gets its own seed from :func:`cell_seed`.

    Returns
    -------
    list of Cell, ordered by (N, d, tied, M), most expensive last within each N.

    Raises
    ------
    TableGridError
        Bad specs or effort.
    ConfigurationError
        The largest cell's configuration (8 N d (M + 2) bytes: M modalities and two working
        copies) exceeds :func:`constellations.core.configuration.memory_limit`; checked before
        anything is allocated.
    """
    ns = parse_int_list(n, "N", minimum=2, maximum=MAX_N)
    ds = parse_int_list(dims, "dims", minimum=1, maximum=MAX_DIM)
    ms = () if tied_only else parse_int_list(modalities, "modalities", minimum=2, maximum=MAX_MODALITIES)
    if int(restarts) != restarts or restarts < 1:
        raise TableGridError(f"restarts must be a positive integer, got {restarts}")
    if time_limit is not None and not (time_limit > 0 and time_limit < float("inf")):
        raise TableGridError(f"time per cell must be a positive number of seconds, got {time_limit}")
    if int(seed) != seed or seed < 0:
        raise TableGridError(f"seed must be a non-negative integer, got {seed}")
    # the largest cell, refused before any cell (or cluster) starts: its M (N, d) float64 modalities
    # and two working copies must fit (constellations.core.configuration.check_memory: half the memory)
    m_max = max(ms, default=2)
    check_memory(8 * max(ns) * max(ds) * (m_max + 2), f"the table cell N={max(ns)}, d={max(ds)}, M={m_max}")
    graphs = {}
    for m in ms:
        try:
            graphs[m] = _norm_graph(graph, m)
        except ConstellationsError as exc:
            raise TableGridError(f"graph {graph!r} with M={m}: {exc}") from None
    cells = []
    for nn in ns:
        for d in ds:
            specs = [(m, graphs[m], False) for m in ms]
            if tied or tied_only:
                specs.append((2, "complete", True))
            for m, g, t in specs:
                key = (nn, d, m, g, t)
                cells.append(Cell(nn, d, m, g, t, int(restarts), None if time_limit is None else float(time_limit),
                                  cell_seed(key, seed)))
    return cells

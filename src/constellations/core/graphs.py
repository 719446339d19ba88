"""Synchronisation graphs: which modality pairs (k, l) must be aligned.

A graph on M modalities is a set of undirected edges (k, l) with 0 <= k < l < M.
Item i of modality k is matched with item i of modality l for every edge (k, l);
every j != i is non-matched.  The inequalities of an (m, b_rel)-constellation are
symmetric in (k, l), so edges are stored with k < l.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import combinations
from numbers import Integral
from typing import Iterable

from constellations.core.errors import ConfigurationError

__all__ = ["Graph", "parse_graph"]


@dataclass(frozen=True)
class Graph:
    """An undirected graph on modalities ``0..M-1``.

    Attributes
    ----------
    M : int
        Number of modalities (>= 2).
    edges : tuple of (int, int)
        Sorted, de-duplicated edges with ``k < l``.
    kind : str
        ``"complete"``, ``"star"`` or ``"edges"`` (informative only).
    """

    M: int
    edges: tuple[tuple[int, int], ...]
    kind: str = "edges"

    def __post_init__(self):
        if not _is_int(self.M) or self.M < 2:
            raise ConfigurationError(f"a graph needs an integer M >= 2 modalities, got M={self.M!r}")
        object.__setattr__(self, "M", int(self.M))
        clean = set()
        for e in self.edges:
            try:
                pair = tuple(e)
            except TypeError:
                pair = (e,)
            # 0.5 or True would silently become modality 0 or 1
            if len(pair) != 2 or not all(_is_int(v) for v in pair):
                raise ConfigurationError(f"an edge must join two modalities (two integers), got {e!r}")
            k, l = int(pair[0]), int(pair[1])
            if k == l:
                raise ConfigurationError(f"self-loop ({k}, {l}) is not an edge")
            if not (0 <= k < self.M and 0 <= l < self.M):
                raise ConfigurationError(f"edge ({k}, {l}) outside modalities 0..{self.M - 1}")
            clean.add((min(k, l), max(k, l)))
        if not clean:
            raise ConfigurationError("a graph needs at least one edge")
        object.__setattr__(self, "edges", tuple(sorted(clean)))

    @classmethod
    def complete(cls, M: int) -> "Graph":
        """All M(M-1)/2 pairs."""
        return cls(M, tuple(combinations(range(M), 2)), "complete")

    @classmethod
    def star(cls, M: int, center: int = 0) -> "Graph":
        """Every modality aligned with ``center`` only (ImageBind-style)."""
        return cls(M, tuple((center, l) for l in range(M) if l != center), "star")

    @classmethod
    def from_edges(cls, M: int, edges: Iterable[Iterable[int]]) -> "Graph":
        return cls(M, tuple(edges), "edges")

    @property
    def spec(self) -> str:
        """A string that :func:`parse_graph` turns back into this graph."""
        if self == Graph.complete(self.M):
            return "complete"
        if self.kind == "star" and all(k == self.edges[0][0] for k, _ in self.edges) and self.edges[0][0] == 0:
            return "star"
        return ",".join(f"{k}-{l}" for k, l in self.edges)


def _is_int(v) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


_EDGES = re.compile(r"[0-9]{1,9}-[0-9]{1,9}(?:,[0-9]{1,9}-[0-9]{1,9})*")


def parse_graph(spec, M: int) -> Graph:
    """Turn ``None``, ``"complete"``, ``"star"``, ``"0-1,1-2"`` or a :class:`Graph` into a Graph on M modalities.

    Text is matched against a strict pattern (ASCII digits, ``k-l`` pairs separated by commas,
    spaces ignored); anything else, and edges that are not pairs of integers, raise
    ConfigurationError.
    """
    if isinstance(spec, Graph):
        if spec.M != M:
            raise ConfigurationError(f"graph has M={spec.M} modalities but the configuration has M={M}")
        return spec
    if spec is None or (isinstance(spec, str) and spec == "complete"):
        return Graph.complete(M)
    if isinstance(spec, str) and spec == "star":
        return Graph.star(M)
    if isinstance(spec, str):
        text = "".join(spec.split())
        if not _EDGES.fullmatch(text):
            shown = spec if len(spec) <= 60 else spec[:57] + "..."
            raise ConfigurationError(
                f"cannot read graph {shown!r}: use 'complete', 'star' or edges like '0-1,1-2'")
        return Graph.from_edges(M, [tuple(int(v) for v in part.split("-")) for part in text.split(",")])
    try:
        edges = list(spec)
    except TypeError:
        raise ConfigurationError(f"a graph is 'complete', 'star', edges like '0-1,1-2' or a list of pairs, "
                                 f"got {type(spec).__name__}") from None
    return Graph.from_edges(M, edges)

"""Synchronisation graphs: which modality pairs (k, l) must be aligned.

A graph on M modalities is a set of undirected edges (k, l) with 0 <= k < l < M.
Item i of modality k is matched with item i of modality l for every edge (k, l);
every j != i is non-matched.  The inequalities of an (m, b_rel)-constellation are
symmetric in (k, l), so edges are stored with k < l.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Iterable

from .errors import ConfigurationError

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
        if int(self.M) != self.M or self.M < 2:
            raise ConfigurationError(f"a graph needs M >= 2 modalities, got M={self.M}")
        clean = set()
        for e in self.edges:
            if len(e) != 2:
                raise ConfigurationError(f"an edge must join two modalities, got {e!r}")
            k, l = int(e[0]), int(e[1])
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
        return cls(M, tuple(tuple(e) for e in edges), "edges")

    @property
    def spec(self) -> str:
        """A string that :func:`parse_graph` turns back into this graph."""
        if self == Graph.complete(self.M):
            return "complete"
        if self.kind == "star" and all(k == self.edges[0][0] for k, _ in self.edges) and self.edges[0][0] == 0:
            return "star"
        return ",".join(f"{k}-{l}" for k, l in self.edges)


def parse_graph(spec, M: int) -> Graph:
    """Turn ``None``, ``"complete"``, ``"star"``, ``"0-1,1-2"`` or a :class:`Graph` into a Graph on M modalities."""
    if isinstance(spec, Graph):
        if spec.M != M:
            raise ConfigurationError(f"graph has M={spec.M} modalities but the configuration has M={M}")
        return spec
    if spec is None or spec == "complete":
        return Graph.complete(M)
    if spec == "star":
        return Graph.star(M)
    if isinstance(spec, str):
        edges = []
        for part in spec.replace(" ", "").split(","):
            try:
                k, l = part.split("-")
                edges.append((int(k), int(l)))
            except ValueError:
                raise ConfigurationError(
                    f"cannot read graph {spec!r}: use 'complete', 'star' or edges like '0-1,1-2'") from None
        return Graph.from_edges(M, edges)
    return Graph.from_edges(M, spec)

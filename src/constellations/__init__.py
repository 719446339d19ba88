"""constellations: the geometry of sigmoid contrastive learning and of spherical codes.

The package, one subpackage per concept, in layers that only point down (docs/architecture.md;
every public name is listed in docs/api.md):

- :mod:`constellations.core` -- configurations, graphs, margins and their certification, exact numbers,
  the result vocabulary (:mod:`~constellations.core.results`), stop signals, worker counts;
- :mod:`constellations.codes` -- polytopes, binary codes, lattices, the catalogue, constructions;
- :mod:`constellations.objective` -- the smoothed-margin kernels and the sigmoid losses;
- :mod:`constellations.analysis` -- real paired embeddings: margin forms, modality gap, retrieval;
- :mod:`constellations.io` -- files, atomic writes;
- :mod:`constellations.search` -- :func:`~constellations.search.search` for maximal-margin constellations;
- :mod:`constellations.bounds` -- certified ceilings and the one rule for "proved optimal";
- :mod:`constellations.tables` -- resumable margin tables, local or on Dask;
- :mod:`constellations.training` -- sigmoid-loss training, the frozen SOCP, the paper's studies;
- :mod:`constellations.cli` -- the ``constellations`` command.

At the top level, the core objects: :class:`Configuration`, :func:`margin_stats` (pos, neg, the margin
m* = half the gap, b*_rel), :func:`certified_margin` (a bound rounding cannot fake: float64 error
analysis or exact rational arithmetic), :func:`check_claim`, :func:`check_memory`, the errors.
"""
from constellations.core.certify import CertifiedMargin, certified_margin, check_claim
from constellations.core.configuration import Configuration, as_array, check_memory, tied
from constellations.core.errors import ConfigurationError, ConstellationsError, FileFormatError
from constellations.core.graphs import Graph, parse_graph
from constellations.core.margins import MarginStats, margin, margin_stats, retrieval_accuracy

__version__ = "0.1.0"

__all__ = [
    "Configuration", "as_array", "tied", "check_memory", "Graph", "parse_graph", "MarginStats", "margin", "margin_stats",
    "retrieval_accuracy", "CertifiedMargin", "certified_margin", "check_claim", "ConstellationsError",
    "ConfigurationError", "FileFormatError", "__version__",
]

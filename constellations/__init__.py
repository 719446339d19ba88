"""constellations: the geometry of sigmoid contrastive learning and of spherical codes.

Core objects and verification:

- :class:`~constellations.configuration.Configuration` -- M modalities of N unit vectors in R^d
  with a synchronisation graph;
- :func:`~constellations.margins.margin_stats` -- pos, neg, margin m* (half gap), b*_rel;
- :func:`~constellations.certify.certified_margin` -- bounds on the margin that rounding cannot fake
  (float64 error analysis, or exact rational arithmetic with the exact value as an expression);
- :func:`~constellations.configuration.check_memory` -- refuse sizes that cannot fit, before allocating;
- :mod:`~constellations.constructions` -- simplex, cross-polytope, polygons, polytopes, E8, lifts;
- :mod:`~constellations.io` -- atomic .npz load/save.
"""
from .certify import CertifiedMargin, certified_margin, check_claim
from .configuration import Configuration, as_array, check_memory, tied
from .errors import ConfigurationError, ConstellationsError, FileFormatError
from .graphs import Graph, parse_graph
from .margins import MarginStats, margin, margin_stats, retrieval_accuracy

__version__ = "0.1.0"

__all__ = [
    "Configuration", "as_array", "tied", "check_memory", "Graph", "parse_graph", "MarginStats", "margin", "margin_stats",
    "retrieval_accuracy", "CertifiedMargin", "certified_margin", "check_claim", "ConstellationsError",
    "ConfigurationError", "FileFormatError", "__version__",
]

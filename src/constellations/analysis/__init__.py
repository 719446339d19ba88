"""Analysis of real paired embeddings, one concept per module:

- :mod:`.rows`: the input (modalities, labels) and its unit rows, float64 and at the sweep precision;
- :mod:`.gram`: the blocked Gram sweep and its float error bound;
- :mod:`.order`: exact order statistics (extremes, percentiles) of the swept products;
- :mod:`.forms`: margin forms (min/max, percentile, mean) and b_rel;
- :mod:`.retrieval`: exact top-1 retrieval both ways;
- :mod:`.gap`: the modality-gap LPs (Theorem 3.6);
- :mod:`.paired`: :func:`analyze_pairs`, which puts them together, and its result.
"""
from .forms import MarginForm, check_percentiles
from .gap import GapTest, modality_gap
from .gram import float32_gram_error
from .order import numpy_percentile_index
from .paired import EdgeAnalysis, PairAnalysis, analyze_pairs

__all__ = ["MarginForm", "GapTest", "EdgeAnalysis", "PairAnalysis", "analyze_pairs", "modality_gap",
           "float32_gram_error", "numpy_percentile_index", "check_percentiles"]

"""Analysis of real paired embeddings, one concept per module:

- :mod:`.rows`: the input (modalities, labels) and its unit rows, float64 and at the sweep precision;
- :mod:`.gram`: the blocked Gram sweep and its float error bound;
- :mod:`.order`: exact order statistics (extremes, percentiles) of the swept products;
- :mod:`.forms`: margin forms (min/max, percentile, mean) and b_rel;
- :mod:`.retrieval`: exact top-1 retrieval and recall@K both ways;
- :mod:`.gap`: the modality-gap LPs (Theorem 3.6);
- :mod:`.pairsums`: fused per-pair sums of the Gram blocks (Numba, with a NumPy reference);
- :mod:`.logits`: a SigLIP model (t, b) against the embeddings: threshold, sigmoid loss, histograms;
- :mod:`.temperature`: the best (t*, b*) for the embeddings (exact damped Newton), or why there is none;
- :mod:`.calibration`: the reliability table and the expected calibration error;
- :mod:`.paired`: :func:`analyze_pairs`, which puts them together, and its result;
- :mod:`.report`: the self-contained HTML report of an analysis (:func:`~.report.html_report`).
"""
from .calibration import Reliability, reliability_table
from .forms import MarginForm, check_percentiles
from .gap import GapTest, modality_gap
from .gram import float32_gram_error
from .logits import Histograms, ModelCheck, SigmoidLoss, check_model
from .order import numpy_percentile_index
from .paired import EdgeAnalysis, PairAnalysis, analyze_pairs
from .report import html_report
from .retrieval import Recall
from .temperature import TemperatureFit, fit_scores

__all__ = ["MarginForm", "GapTest", "EdgeAnalysis", "PairAnalysis", "analyze_pairs", "modality_gap",
           "float32_gram_error", "numpy_percentile_index", "check_percentiles", "Recall", "Histograms", "ModelCheck",
           "SigmoidLoss", "check_model", "TemperatureFit", "fit_scores", "Reliability", "reliability_table", "html_report"]

"""Certified bounds for spherical codes and constellations (docs/math.md section 5).

* :func:`levenshtein_bound`, :func:`rankin_bound`, :func:`kissing_bound` -- A(n, s), exact arithmetic;
* :func:`delsarte_lp_bound` -- the Delsarte LP (HiGHS) with an exact certificate
  (:func:`verify_certificate`);
* :func:`margin_upper`, :func:`margin_lower`, :func:`dim_lower`, :func:`dim_upper` -- constellations
  (Theorem 3.4, the sandwich of docs/math.md 5.2, certified constructions; :func:`margin_upper` is
  the sandwich alone, :func:`margin_upper_free` the best ceiling);
* :func:`margin_upper_tied` -- tied constellations (codes) bounded in their own dimension, exact
  in the plane and at the Rankin and Levenshtein-sharp cases;
* :func:`margin_upper_free` -- the best certified ceiling on m*(N, d) (what ``constellations bounds``
  reports): the smallest of the sandwich and the one- and several-shell bounds (codes on S^{d-1};
  :func:`verify_shell_certificate` re-checks them), the exact optimum where a theorem gives it
  (:func:`free_optimum`), any N (:func:`margin_upper_large` above MAX_ITEMS), optionally at a fixed
  b_rel; :func:`midpoint_code` turns a free constellation into a code at least as good above
  :func:`code_regime_floor`;
* :func:`optimality` -- the one rule for "proved optimal": a theorem's exact optimum reached by a
  certified or exact margin, compared exactly (:class:`Optimality`);
* :func:`parse_exact` -- the strict grammar for numbers typed by users (never eval/sympify);
* :func:`sdp_margin`, :func:`sdp_bound` -- the dimension-free SDP (numerical);
* :func:`three_point_bound` -- the Bachoc-Vallentin three-point SDP on A(n, s) (numerical);
* :func:`exponent_lower`, :func:`exponent_upper`, :func:`kl_exponent` -- asymptotic reference curves;
* :func:`free_report`, :func:`tied_report`, :func:`dimension_report`, :func:`code_report` -- every bound on
  one question and the optimality verdict, each with ``to_dict()`` (what ``constellations bounds``
  prints; the table store and a search are added above, in ``constellations.tables.lower``).

Every result is a :class:`Bound` (value, method, certificate, details).
"""
from constellations.bounds.bound import Bound
from constellations.bounds.constellation import (code_bound, construction_candidates, dim_lower, dim_upper, exponent_lower,
                            exponent_upper, kl_exponent, margin_lower, margin_upper, theorem34_upper)
from constellations.bounds.delsarte import delsarte_lp_bound, verify_certificate
from constellations.core.exact import Quadratic, parse_exact, to_exact
from constellations.bounds.kissing import kissing_bound
from constellations.bounds.levenshtein import levenshtein_bound, levenshtein_float, rankin_bound
from constellations.bounds.sdp import SDPResult, sdp_bound, sdp_margin
from constellations.bounds.three_point import three_point_bound
from constellations.bounds.shell import (MidpointCode, code_regime_floor, free_optimum, margin_upper_free, margin_upper_large,
                    margin_upper_shell, midpoint_code, polygon_code_bound, shell_floor, verify_shell_certificate)
from constellations.bounds.tied import KNOWN_OPTIMAL, margin_upper_tied, tied_optimum
from constellations.bounds.optimality import Optimality, construction_margin, optimality
from constellations.bounds.report import (CodeReport, DimensionReport, FreeReport, TiedReport, code_report,
                                          dimension_report, free_report, tied_report)

__all__ = ["Bound", "levenshtein_bound", "levenshtein_float", "rankin_bound", "kissing_bound",
           "delsarte_lp_bound", "verify_certificate", "code_bound", "margin_upper", "margin_lower",
           "dim_lower", "dim_upper", "theorem34_upper", "construction_candidates", "exponent_lower",
           "exponent_upper", "kl_exponent", "sdp_margin", "sdp_bound", "SDPResult", "Quadratic", "to_exact",
           "parse_exact", "margin_upper_tied", "three_point_bound", "KNOWN_OPTIMAL", "margin_upper_free",
           "margin_upper_large", "margin_upper_shell", "verify_shell_certificate", "midpoint_code", "MidpointCode",
           "shell_floor", "code_regime_floor", "polygon_code_bound", "free_optimum", "tied_optimum", "Optimality",
           "optimality", "construction_margin", "FreeReport", "TiedReport", "DimensionReport", "CodeReport",
           "free_report", "tied_report", "dimension_report", "code_report"]

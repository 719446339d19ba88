"""Certified bounds for spherical codes and constellations (docs/math.md section 5).

* :func:`levenshtein_bound`, :func:`rankin_bound`, :func:`kissing_bound` -- A(n, s), exact arithmetic;
* :func:`delsarte_lp_bound` -- the Delsarte LP (HiGHS) with an exact certificate
  (:func:`verify_certificate`);
* :func:`margin_upper`, :func:`margin_lower`, :func:`dim_lower`, :func:`dim_upper` -- constellations
  (Theorem 3.4, the sandwich of docs/math.md 5.2, certified constructions);
* :func:`sdp_margin`, :func:`sdp_bound` -- the dimension-free SDP (numerical);
* :func:`exponent_lower`, :func:`exponent_upper`, :func:`kl_exponent` -- asymptotic reference curves.

Every result is a :class:`Bound` (value, method, certificate, details).
"""
from .bound import Bound
from .constellation import (code_bound, construction_candidates, dim_lower, dim_upper, exponent_lower,
                            exponent_upper, kl_exponent, margin_lower, margin_upper, theorem34_upper)
from .delsarte import delsarte_lp_bound, verify_certificate
from .exact import Quadratic, to_exact
from .levenshtein import kissing_bound, levenshtein_bound, levenshtein_float, rankin_bound
from .sdp import SDPResult, sdp_bound, sdp_margin

__all__ = ["Bound", "levenshtein_bound", "levenshtein_float", "rankin_bound", "kissing_bound",
           "delsarte_lp_bound", "verify_certificate", "code_bound", "margin_upper", "margin_lower",
           "dim_lower", "dim_upper", "theorem34_upper", "construction_candidates", "exponent_lower",
           "exponent_upper", "kl_exponent", "sdp_margin", "sdp_bound", "SDPResult", "Quadratic", "to_exact"]

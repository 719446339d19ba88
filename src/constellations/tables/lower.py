"""Lower bounds on m*(N, d) from what the toolkit has found, not only from constructions.

:func:`best_margin_lower` offers :func:`constellations.bounds.margin_lower` (constructions and the
catalogue) the configurations of a table store and of a short free search; each is re-certified
there, nothing stored or reported by the search is trusted.  :func:`free_bounds` is the report of
``constellations bounds --n N --dim D`` (:func:`constellations.bounds.report.free_report`) with this lower
bound.  Here, above the bounds, because the store and the search are (the bounds import neither).
"""
from __future__ import annotations

import functools
import math

import constellations.search
from constellations.bounds.bound import Bound
from constellations.bounds.constellation import MAX_ITEMS, margin_lower
from constellations.bounds.report import FreeReport, free_report
from constellations.core.errors import ConfigurationError
from constellations.core.exact import to_int

from constellations.tables.store import TableStore

__all__ = ["best_margin_lower", "free_bounds"]


def _store_items(store, N: int, d: int):
    """(labels, configurations, path) of the stored cells of a table store with N' >= N and d' <= d."""
    own = not isinstance(store, TableStore)
    st = TableStore(store, readonly=True) if own else store
    try:
        labels, items = [], []
        for r in st.cells():
            if r.n >= N and r.dim <= d:
                labels.append(f"store:N={r.n},d={r.dim},{'tied' if r.tied else f'M={r.modalities},{r.graph}'}")
                items.append(st.configuration(r.key))
        return labels, items, str(st.path)
    finally:
        if own:
            st.close()


def _search_item(N: int, d: int, seconds: float, seed: int):
    """One time-limited free search (M = 2, complete graph): (label, configuration)."""
    res = constellations.search.search(N, d, 2, restarts=None, time_limit=float(seconds), seed=int(seed))
    return f"search(M=2, seed {seed}, {seconds:g} s)", res.config


def best_margin_lower(n, dim, *, store=None, search_seconds=None, seed: int = 0) -> Bound:
    """Best certified lower bound on m*(N, d) from constructions, a table store and a quick search.

    Candidates (the largest certified value wins; :func:`constellations.bounds.margin_lower` decides):

    * the constructions and the catalogue of :func:`constellations.bounds.margin_lower`;
    * ``store``: a table store (path or :class:`~tables.store.TableStore`): every stored cell with
      N' >= N and d' <= d (label ``store:N=..,d=..,..``);
    * ``search_seconds``: one free search (M = 2, complete graph, seed ``seed``) with that time limit
      (:func:`constellations.search.search`).

    Each configuration is cut to its first N items, zero-padded to R^d and re-certified on its own graph
    (:func:`constellations.core.certify.certified_margin`).  When any was offered, ``details["store"]``
    (path, configurations) and ``details["search"]`` (seconds, seed) say where they came from.

    Raises
    ------
    ConfigurationError
        ``store`` or ``search_seconds`` with N > :data:`~constellations.bounds.constellation.MAX_ITEMS`
        (certifying costs ~N^2 d per configuration), before any work; a search time that is not a
        positive number of seconds; a store that cannot be read.
    """
    if store is None and search_seconds is None:
        return margin_lower(n, dim)
    N = to_int(n, "N (number of items)", 2, "need N >= 2 items, got N={}")
    d = to_int(dim, "dimension d", 1, "need dimension d >= 1, got d={}")
    if N > MAX_ITEMS:
        raise ConfigurationError(
            f"N={N} items is above the limit of {MAX_ITEMS} for certifying stored or searched configurations "
            "(~N^2 d multiply-adds each); the catalogue alone is used without --store and --search")
    if search_seconds is not None and not (0 < float(search_seconds) < math.inf):
        raise ConfigurationError(f"search time must be a positive number of seconds, got {search_seconds!r}")
    base = margin_lower(N, d)
    labels, items, sources = [], [], {}
    if store is not None:
        lab, its, path = _store_items(store, N, d)
        labels += lab
        items += its
        sources["store"] = {"path": path, "configurations": len(its)}
    if search_seconds is not None:
        lab, cfg = _search_item(N, d, float(search_seconds), seed)
        labels.append(lab)
        items.append(cfg)
        sources["search"] = {"seconds": float(search_seconds), "seed": int(seed)}
    if not items:
        return base
    b = margin_lower(N, d, items, labels=labels)
    return Bound(b.value, b.method, b.certificate, {**b.details, **sources})


def free_bounds(n, dim, *, b_rel=None, method: str = "levenshtein", store=None, search_seconds=None, seed: int = 0,
                sdp_modalities: int | None = None, sdp_graph=None) -> FreeReport:
    """:func:`constellations.bounds.report.free_report` with the lower bound of :func:`best_margin_lower`
    (``store``, ``search_seconds``, ``seed``): what ``constellations bounds --n N --dim D`` reports."""
    lower = functools.partial(best_margin_lower, store=store, search_seconds=search_seconds, seed=seed)
    return free_report(n, dim, b_rel=b_rel, method=method, lower=lower, sdp_modalities=sdp_modalities,
                       sdp_graph=sdp_graph)

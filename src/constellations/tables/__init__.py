"""Margin tables: grids of independent searches, an embedded resumable store, and their runner.

- :mod:`~tables.grid`: :class:`Cell`, :func:`make_grid` (cells and their store keys);
- :mod:`~tables.store`: :class:`TableStore` (SQLite, WAL, one transaction per cell,
  improve-never-worsen, corrupt files refused and left untouched);
- :mod:`~tables.runner`: :func:`run_table` (in-process, local ``dask.distributed``
  cluster, or an existing scheduler; only the client writes the store; Ctrl-C or SIGTERM stops it
  cleanly; :class:`TableProgress` reports it cell by cell; :func:`plan_workers`: at most the workers
  the machine runs at once),
  :func:`midpoint_pass` (tied cells from the midpoint codes of free cells) and :func:`ceilings`
  (the code and the free ceiling of a cell, issue 13);
- :mod:`~tables.verification`: :func:`~tables.verification.verify_store` (re-verify
  stored cells from their configurations) and :func:`~tables.verification.cell_optimality`
  ("proved optimal" from a theorem, never a tolerance); imported from its module;
- :mod:`~tables.lower`: :func:`~tables.lower.best_margin_lower` (the construction lower bound
  with the cells of a store and a short search, re-certified) and :func:`~tables.lower.free_bounds`
  (the report of ``constellations bounds --n N --dim D``); imported from its module;
- :mod:`~tables.worker_setup`: the local cluster's workers ignore Ctrl-C and SIGTERM (the
  client handles them) and exit when the client process is gone.

Formatting (Markdown, CSV, JSON, plots) is the CLI's job: ``src/constellations/cli/table.py``.
"""
from constellations.tables.grid import Cell, TableGridError, cell_seed, make_grid, parse_int_list
from constellations.tables.runner import (CELL_FUNCTIONS, CellInterrupted, Ceilings, TableProgress, RunnerError, RunSummary, ceilings,
                     construction_cell, default_workers, finish_cell, handdown_pass, midpoint_pass, plan_workers,
                     resolve_cell_function, run_table, search_cell, search_no_polish_cell, warm_start)
from constellations.tables.store import CellResult, StoredCell, StoreError, TableStore, default_store_path

__all__ = [
    "Cell", "TableGridError", "cell_seed", "make_grid", "parse_int_list", "CELL_FUNCTIONS", "CellInterrupted",
    "TableProgress", "RunnerError", "RunSummary", "construction_cell", "default_workers", "plan_workers", "finish_cell",
    "resolve_cell_function", "run_table", "search_cell", "search_no_polish_cell", "warm_start",
    "Ceilings", "ceilings", "midpoint_pass", "handdown_pass",
    "CellResult", "StoredCell", "StoreError", "TableStore", "default_store_path",
]

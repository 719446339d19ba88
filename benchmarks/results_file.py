"""The benchmarks' JSON results file: the ``--out`` option, its check before any work, and its atomic write."""
from __future__ import annotations

import json

from constellations.core.errors import ConstellationsError
from constellations.io.files import atomic_write_text, check_writable, to_jsonable


def add_out(ap, what="rows as JSON, rewritten atomically after every case"):
    """Add ``--out FILE.json`` to the argparse parser ``ap``."""
    ap.add_argument("--out", default=None, help=what)


def out_path(ap, args):
    """``args.out`` checked writable before any work (one line and exit 2 through ``ap.error`` if not), or None."""
    try:
        return check_writable(args.out, ".json") if args.out else None
    except ConstellationsError as exc:
        ap.error(str(exc))


def write_json(path, doc) -> None:
    """``doc`` as indented JSON, written atomically (numpy values made plain)."""
    atomic_write_text(path, json.dumps(to_jsonable(doc), indent=1) + "\n")

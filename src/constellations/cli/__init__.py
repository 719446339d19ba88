"""Command-line interface of the constellations toolkit (a thin layer over the library)."""

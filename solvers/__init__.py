"""Algorithms: search, polish, frozen-modality SOCP, training, certified bounds, tables."""

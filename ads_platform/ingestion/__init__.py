"""Plain-Python ingestion steps (no Dagster here): pull, shape, validate, write.

The Dagster assets in :mod:`ads_platform.assets` are thin wrappers around these
functions, so each step can be tested and benchmarked without an instance.
"""

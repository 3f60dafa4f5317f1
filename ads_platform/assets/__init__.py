"""Dagster software-defined assets: thin wrappers over :mod:`ads_platform.ingestion`."""

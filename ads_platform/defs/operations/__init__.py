"""The platform's own logs (ingestion attempts, alerts): observable sources of the marts."""

from __future__ import annotations

import dagster as dg

from ads_platform.assets.operations import operations_sources


def build() -> dg.Definitions:
    return dg.Definitions(assets=list(operations_sources))

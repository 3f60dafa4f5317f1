"""The dbt marts (built from the manifest when the definitions are built) and dbt."""

from __future__ import annotations

import dagster as dg

from ads_platform.assets.marts import build_marts_assets, dbt_resource
from ads_platform.settings import Settings


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[build_marts_assets(settings)], resources={"dbt": dbt_resource()})

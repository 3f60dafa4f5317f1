"""The platform's definitions as a test module builds them once, at import.

Built from the settings the environment points at when the test session imports it
(none: the defaults), as the code location would; runs then read each test's own
settings through the ``platform`` resource.
"""

from __future__ import annotations

import dagster as dg

from ads_platform.definitions import load_definitions

defs = load_definitions()

#: The dbt assets of those definitions.
marts_dbt_assets = next(
    a
    for a in defs.assets or []
    if isinstance(a, dg.AssetsDefinition) and a.node_def.name == "marts_dbt_assets"
)

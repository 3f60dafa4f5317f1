"""The platform's definitions with the automation wired in, as the daemon loads them.

Loaded by the daemon test through a code server, exactly like ``workspace.yaml`` loads
``ads_platform.definitions``.  Until ``definitions.py`` wires the automation itself,
it is merged in here; afterwards this module is the platform's ``defs`` unchanged.
"""

from __future__ import annotations

import dagster as dg

from ads_platform.automation import automation_definitions
from ads_platform.definitions import defs as platform_defs

_wired = any(getattr(s, "name", "") == "new_ad_accounts" for s in platform_defs.sensors or [])
defs = (
    platform_defs
    if _wired
    else dg.Definitions.merge(platform_defs, dg.Definitions(**automation_definitions()))
)

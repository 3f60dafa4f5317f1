"""The platform's definitions with the automation wired in, as the lead will wire it.

Loaded by the daemon test through a code server, exactly like ``workspace.yaml`` loads
``ads_platform.definitions``.
"""

from __future__ import annotations

import dagster as dg

from ads_platform.automation import automation_definitions
from ads_platform.definitions import defs as platform_defs

defs = dg.Definitions.merge(platform_defs, dg.Definitions(**automation_definitions()))

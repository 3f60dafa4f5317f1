"""The platform's definitions as the daemon loads them, through a code server.

Loaded by the daemon test exactly like ``workspace.yaml`` loads
``ads_platform.definitions``: built from the settings of the environment the code server
starts in (the test's).
"""

from __future__ import annotations

from ads_platform.definitions import load_definitions

defs = load_definitions()

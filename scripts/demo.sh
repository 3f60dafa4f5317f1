#!/usr/bin/env bash
# The README's main job: set up, then run the demo against the local Graph API sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
VENV="${ADS_PLATFORM_VENV:-.venv}"
exec "$VENV/bin/ads-platform" demo "$@"

#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install the pinned stack.
# Idempotent: a second run only checks that the lock is satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${ADS_PLATFORM_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-lock"
if [ ! -f "$stamp" ] || ! cmp -s requirements.lock "$stamp" || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> installing pinned dependencies (requirements.lock)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c requirements.lock -e ".[dev]"
  cp requirements.lock "$stamp"
fi

#!/usr/bin/env bash
# The README's test command: environment, lint, types, dbt manifest, tests with coverage.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
VENV="${ADS_PLATFORM_VENV:-.venv}"
export PATH="$PWD/$VENV/bin:$PATH"
echo "==> ruff"
ruff check ads_platform ads_platform_tests benchmarks
ruff format --check ads_platform ads_platform_tests benchmarks
echo "==> mypy"
mypy ads_platform
echo "==> dbt manifest"
python -m ads_platform.assets.marts
echo "==> dagster definitions validate"
ADS_PLATFORM_HOME="$(mktemp -d)" dagster definitions validate -w workspace.yaml
echo "==> pytest"
# Our own modules compiled once, here: with PYTHONDONTWRITEBYTECODE set (the CI
# machine sets it) every worker and subprocess would compile them again.
python -m compileall -q ads_platform ads_platform_tests benchmarks >/dev/null
# Three workers on the CI machine's two cores (ADS_PLATFORM_TEST_WORKERS=0 runs in one
# process): many tests wait (daemon intervals, servers starting, sandbox latency, dbt
# subprocesses), and a third worker uses the cores while they do.  --dist loadscope is
# ads_platform_tests/scheduling.py: a unit of work is a module, or a directory whose
# modules share a session world, heaviest first.
# Line coverage of ads_platform, failing under 85 % (ADS_PLATFORM_COVERAGE=0 leaves it
# out: on Python 3.11 its tracer slows every Python frame, 25 % on the marts tests);
# pytest-cov combines the workers' coverage.
cov_args=()
if [ "${ADS_PLATFORM_COVERAGE:-1}" = "1" ]; then
  cov_args=(--cov=ads_platform --cov-report=term --cov-fail-under=85)
fi
pytest -q -p no:cacheprovider -n "${ADS_PLATFORM_TEST_WORKERS:-3}" --dist loadscope \
  "${cov_args[@]}" "$@"

"""The soak: the whole matrix again and again on bigger worlds, outside CI.

``ADS_PLATFORM_SOAK=3 pytest -q ads_platform_tests/reliability/test_soak.py`` runs the
scenario 3 times, each on a world of another seed (other ids, time zones in another
order, other data), with a month of days (the daily pull re-reads the whole 28-day
lookback window), a 40-day backfill and async report runs that take as long as Meta's
(seconds to a minute each; a stuck one is given up after two minutes): the first pull
and the backfill go through them.  Every property of every case is judged each cycle,
like the CI matrix; nothing is written to ``docs/reliability.md`` (that file is the CI
matrix's).  A cycle takes about 10 minutes (2 cores, load 1-3).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from ads_platform_tests.reliability import scenario
from ads_platform_tests.reliability.matrix import CASES
from ads_platform_tests.reliability.properties import concurrency, judge

SOAK_ENV = "ADS_PLATFORM_SOAK"
CYCLES = int(os.environ.get(SOAK_ENV) or 0)
#: Insights ranges are pulled in chunks of at most 31 days, so only a threshold below 31
#: sends a chunk to async report runs: 28 keeps the 28-day daily pull synchronous and
#: sends the first pull (29+ days) and the backfill's 31-day chunk to report runs.
SOAK = scenario.Shape(
    seed=101,
    first_pull=-28,
    daily=(-28, -1),
    backfill=(-40, -1),
    async_threshold_days=28,
    async_delay_scale=1.0,
    async_poll_timeout_seconds=120.0,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CYCLES, reason=f"the soak runs when {SOAK_ENV}=<cycles> is set"),
]


@pytest.mark.parametrize("cycle", range(max(CYCLES, 1)))
def test_the_matrix_holds_cycle_after_cycle_on_bigger_worlds(cycle: int, tmp_path: Path) -> None:
    shape = dataclasses.replace(SOAK, seed=SOAK.seed + cycle)
    with pytest.MonkeyPatch.context() as monkeypatch:
        observed = scenario.run(tmp_path / "home", monkeypatch, shape)
    not_held: dict[str, dict[str, str]] = {}
    for case in CASES:
        failed = {k: v.observed for k, v in judge(observed, case).items() if v.held is False}
        if failed:
            not_held[case.name] = failed
    failed = {k: v.observed for k, v in concurrency(observed).items() if v.held is False}
    if failed:
        not_held["concurrency"] = failed
    print(f"cycle {cycle} (seed {shape.seed}): {observed.seconds}")
    assert not not_held, not_held

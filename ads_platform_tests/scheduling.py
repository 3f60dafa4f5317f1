"""How ``pytest -n 3 --dist loadscope`` splits the suite between its workers.

Why a scheduler of our own rather than xdist's: the expensive part of this suite is
not its tests but the worlds they share (a module-scoped lake with built marts, the
session-scoped dashboard world), and xdist builds a fixture once per worker that
needs it.  So a unit of work is what shares a world:

* a test module (its module-scoped fixtures are built once, on one worker);
* a whole directory whose modules share a session-scoped world
  (:data:`SHARED_WORLD_DIRS`): split over workers, it would be built on each.

And the units start heaviest first (:data:`HEAVIEST_FIRST`, measured with
``--durations``): the workers finish together only if the long units do not come
last.  A worker is given its next unit when it has at most one test left (xdist keeps
one test back to know which fixtures to tear down), not three as xdist does, so a
long unit never has a queue of others waiting behind it on a busy worker while the
other worker idles.

This module is a pytest plugin (the root conftest loads it); its hook replaces
``loadscope`` only, and only the order and the grouping change: every worker still
collects and runs the same tests with the same fixtures.
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

#: Directories whose modules share a session-scoped world: one unit each.
SHARED_WORLD_DIRS = ("ads_platform_tests/dashboard/",)

#: The units that take longest, longest first (the rest follow in collection order), from
#: a full ``-n 3`` run without coverage (``--durations=60`` summed per unit; two cores
#: under a load of 3 to 8): the incremental builds 166 s, the killed marts run 162 s, the
#: fault matrix 153 s, ... the dev UI 48 s.
HEAVIEST_FIRST = (
    "ads_platform_tests/marts/test_incremental_build.py",
    "ads_platform_tests/e2e/test_killed_marts_run.py",
    "ads_platform_tests/reliability/test_fault_matrix.py",
    "ads_platform_tests/marts/test_marts.py",
    "ads_platform_tests/e2e/test_demo_output.py",
    "ads_platform_tests/e2e/test_refresh_command.py",  # ~95 s since --no-wait's daemon tests
    "ads_platform_tests/e2e/test_marts_truth.py",
    "ads_platform_tests/breakdowns/test_breakdown_marts.py",
    "ads_platform_tests/e2e/test_backfill_command.py",
    "ads_platform_tests/creatives/test_creatives_marts.py",
    "ads_platform_tests/e2e/test_freshness_causes.py",
    "ads_platform_tests/dashboard/",
    "ads_platform_tests/ops/test_dg_cli.py",
    "ads_platform_tests/e2e/test_ingestion.py",
    "ads_platform_tests/e2e/test_day_grid.py",
    "ads_platform_tests/e2e/test_dev_ui.py",
    "ads_platform_tests/breakdowns/test_breakdown_runs.py",
    "ads_platform_tests/e2e/test_passthrough.py",
)


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its shared-world directory, else its module."""
    module = nodeid.split("::", 1)[0]
    for directory in SHARED_WORLD_DIRS:
        if module.startswith(directory):
            return directory
    return module


def rank(unit: str) -> int:
    """Position in :data:`HEAVIEST_FIRST`; every other unit after them, in order."""
    try:
        return HEAVIEST_FIRST.index(unit)
    except ValueError:
        return len(HEAVIEST_FIRST)


class SharedWorldScheduling(LoadScopeScheduling):  # type: ignore[misc]
    """xdist's ``loadscope`` with :func:`unit_of` as the scope, heaviest units first."""

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)

    def _assign_work_unit(self, node: Any) -> None:
        # min() keeps the first of equal ranks: collection order among the rest.
        heaviest = min(self.workqueue, key=rank)
        self.workqueue.move_to_end(heaviest, last=False)
        super()._assign_work_unit(node)

    def _reschedule(self, node: Any) -> None:
        if node.shutting_down:
            return
        if not self.workqueue:
            node.shutdown()
            return
        if self._pending_of(self.assigned_work[node]) > 1:
            return
        self._assign_work_unit(node)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope`` is :class:`SharedWorldScheduling`; other modes are xdist's."""
    if config.getvalue("dist") != "loadscope":
        return None
    return SharedWorldScheduling(config, log)

"""A pull turns pages into rows with the cycle collector paused, and always restores it.

The pause is process-wide and a run pulls accounts on threads, so what matters is that
the collector comes back exactly when the last pull leaves, never earlier and never
left off: after a failed pull, and in a process that had turned it off itself.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ads_platform.datasets import BREAKDOWNS
from ads_platform.gc_pause import paused_gc
from ads_platform.ingestion import insights as pull
from ads_platform.ingestion.breakdowns import pull_account_breakdown
from ads_platform.lake import Lake
from ads_platform.meta.client import GraphClient
from ads_platform.meta.errors import PermissionDeniedError
from ads_platform.sandbox import Sandbox
from ads_platform_tests.conftest import SANDBOX_TODAY

NOW = dt.datetime.combine(SANDBOX_TODAY, dt.time(12), tzinfo=dt.UTC)
DAYS = [SANDBOX_TODAY - dt.timedelta(days=i) for i in range(40, 0, -1)]  # two ranges


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()  # as before the test, whatever the test did


class Watching(GraphClient):
    """The real client, noting whether the collector ran while each insights row arrived."""

    seen: list[bool]

    def iter_insights(self, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for row in super().iter_insights(*args, **kwargs):
            self.seen.append(gc.isenabled())
            yield row


PULLS = ["unbroken", "placement"]


def _pull(
    sandbox: Sandbox, tmp_path: Path, kind: str, *, fail: bool = False
) -> tuple[Watching, pull.PullResult]:
    """The unbroken pull, or a breakdown's (after the unbroken days it reconciles with).

    ``fail``: the pull under test has its first page, then its account loses permission.
    """

    def under_test() -> None:
        client.seen = []
        if fail:
            sandbox.add_fault("permission_denied", account_id=account_id, after=1)

    account_id = sandbox.account_ids[0]
    client = Watching(base_url=sandbox.base_url, access_token="sandbox-token-gc")
    client.seen = []
    lake = Lake(tmp_path / "lake")
    with client:
        info = pull.AccountInfo.from_node(account_id, client.get_account(account_id))
        common: dict[str, Any] = {"run_id": "gc", "attribution_windows": ["1d_click"], "now": NOW}
        if kind == "unbroken":
            under_test()
        result = pull.pull_account_insights(client, lake, info, DAYS, **common)
        if kind != "unbroken":
            under_test()
            result = pull_account_breakdown(client, lake, info, DAYS, BREAKDOWNS[kind], **common)
    return client, result


@pytest.mark.parametrize("kind", PULLS)
def test_a_pull_parses_its_rows_with_the_collector_paused_and_leaves_it_running(
    fresh_sandbox: Sandbox, tmp_path: Path, collector_on: None, kind: str
) -> None:
    client, result = _pull(fresh_sandbox, tmp_path, kind)

    assert len(result.ranges) == 2 and all(o.ok for o in result.outcomes)
    assert client.seen and not any(client.seen)  # every row of both ranges: paused
    assert gc.isenabled()


@pytest.mark.parametrize("kind", PULLS)
def test_a_pull_that_fails_half_way_leaves_the_collector_running(
    fresh_sandbox: Sandbox, tmp_path: Path, collector_on: None, kind: str
) -> None:
    with pytest.raises(PermissionDeniedError):
        _pull(fresh_sandbox, tmp_path, kind, fail=True)

    assert gc.isenabled()


def test_the_collector_returns_when_the_last_of_overlapping_pauses_ends(collector_on: None) -> None:
    first, second = paused_gc(), paused_gc()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # another pull still parses
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_process_that_turned_the_collector_off_keeps_it_off(collector_on: None) -> None:
    gc.disable()
    with paused_gc():
        assert not gc.isenabled()
    assert not gc.isenabled()

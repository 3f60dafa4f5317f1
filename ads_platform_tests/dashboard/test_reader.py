"""The shared reader: many sessions, a publish in the middle, and nothing but reads."""

from __future__ import annotations

import hashlib
import shutil
import threading
from pathlib import Path

import duckdb
import pytest

from ads_platform.dashboard.reader import DashboardDataError, MartsReader
from ads_platform.warehouse import publish_marts
from ads_platform_tests.dashboard.conftest import DashboardWorld

SESSIONS = 20
COUNT = "select count(*) as n from rpt_account_daily"


def _published_copy(world: DashboardWorld, tmp_path: Path) -> Path:
    target = tmp_path / "marts.duckdb"
    shutil.copyfile(world.marts, target)
    return target


def _count(reader: MartsReader) -> int:
    return int(reader.frame(COUNT)["n"].iloc[0])


def test_a_publish_during_twenty_sessions_errors_none_and_is_read_after_it(
    dashboard_world: DashboardWorld, tmp_path: Path
) -> None:
    target = _published_copy(dashboard_world, tmp_path)
    reader = MartsReader(target)
    before = _count(reader)
    # The next build: the same marts without the quiet account's rows.
    build = tmp_path / "warehouse" / "marts.duckdb"
    build.parent.mkdir()
    shutil.copyfile(dashboard_world.marts, build)
    con = duckdb.connect(str(build))
    con.execute("delete from rpt_account_daily where account_id = ?", [dashboard_world.quiet])
    con.close()

    published = threading.Event()
    start = threading.Barrier(SESSIONS + 1)
    seen: list[list[int]] = [[] for _ in range(SESSIONS)]
    after: list[int | None] = [None] * SESSIONS
    errors: list[BaseException] = []

    def session(i: int) -> None:
        try:
            start.wait(timeout=30)
            for _ in range(200):  # bounded: until the publish, then one more read
                done = published.is_set()
                seen[i].append(_count(reader))
                reader.clear_cache()  # every read goes to DuckDB, the worst case
                if done:
                    after[i] = _count(reader)
                    return
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(SESSIONS)]
    for thread in threads:
        thread.start()
    start.wait(timeout=30)
    publish_marts(build, target)
    published.set()
    for thread in threads:
        thread.join(timeout=60)
    reader.close()
    assert not errors, errors[:3]
    expected = before - int(
        duckdb.connect(str(dashboard_world.marts), read_only=True)
        .execute(
            "select count(*) from rpt_account_daily where account_id = ?", [dashboard_world.quiet]
        )
        .fetchone()[0]  # type: ignore[index]
    )
    assert expected < before
    assert all(set(s) <= {before, expected} for s in seen)
    assert after == [expected] * SESSIONS
    assert len(set(reader.stats.versions)) == 2  # one connection per published version


def test_twenty_sessions_asking_the_same_query_run_it_once(
    dashboard_world: DashboardWorld, tmp_path: Path
) -> None:
    reader = MartsReader(_published_copy(dashboard_world, tmp_path))
    start = threading.Barrier(SESSIONS)
    results: list[int] = []

    def session() -> None:
        start.wait(timeout=30)
        results.append(_count(reader))

    threads = [threading.Thread(target=session) for _ in range(SESSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    reader.close()
    assert len(results) == SESSIONS and len(set(results)) == 1
    assert reader.stats.executed == 1 and reader.stats.opens == 1


def test_views_that_read_the_clock_are_cached_for_a_minute_only(
    dashboard_world: DashboardWorld, tmp_path: Path
) -> None:
    now = [1_000_000.0]
    reader = MartsReader(_published_copy(dashboard_world, tmp_path), clock=lambda: now[0])
    sql = "select account_id, account_today from data_freshness"
    reader.frame(sql)
    reader.frame(sql)
    assert reader.stats.executed == 1
    now[0] += 61  # "today" and "days left" are evaluated when asked: ask again
    reader.frame(sql)
    assert reader.stats.executed == 2
    reader.frame(COUNT)
    now[0] += 3600
    reader.frame(COUNT)  # a table: cached until the next publish
    assert reader.stats.executed == 3
    reader.close()


@pytest.mark.parametrize(
    "sql",
    [
        "create table main.x as select 1",
        "delete from rpt_account_daily",
        "select * from read_csv('/etc/passwd')",
        "copy rpt_account_daily to '/tmp/leak.csv'",
        "attach '/tmp/other.duckdb' as other",
        "set enable_external_access = true",
    ],
)
def test_the_dashboards_connection_cannot_write_or_reach_files(
    dashboard_world: DashboardWorld, tmp_path: Path, sql: str
) -> None:
    target = _published_copy(dashboard_world, tmp_path)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    reader = MartsReader(target)
    with pytest.raises(DashboardDataError):
        reader.frame(sql)
    reader.close()
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest
    assert not Path("/tmp/leak.csv").exists()


def test_a_missing_marts_file_says_what_to_do(tmp_path: Path) -> None:
    reader = MartsReader(tmp_path / "marts.duckdb")
    with pytest.raises(FileNotFoundError, match="run `ads-platform demo`"):
        reader.frame(COUNT)

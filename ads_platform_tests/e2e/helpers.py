"""Helpers for end-to-end tests: real Dagster runs against the sandbox over HTTP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb

from ads_platform.demo import materialize
from ads_platform.lake import Lake
from ads_platform.partitions import key_for, range_tags
from ads_platform.warehouse import open_marts_readonly, publish_marts
from ads_platform_tests.conftest import Platform
from ads_platform_tests.marts.lake_fixture import run_dbt
from ads_platform_tests.platform_defs import defs

#: The marts' additive video columns → the sandbox truth's video keys.
VIDEO_TRUTH_KEYS = {
    "video_plays": "plays",
    "video_p25_watched": "p25",
    "video_p50_watched": "p50",
    "video_p75_watched": "p75",
    "video_p95_watched": "p95",
    "video_p100_watched": "p100",
    "video_thruplays": "thruplays",
    "video_watch_seconds": "watch_seconds",
}


def setup_accounts(platform: Platform, entities: bool = True) -> None:
    result = materialize(defs, platform.instance, ["ad_accounts"])
    assert result.success
    if entities:
        first, last = platform.accounts[0], platform.accounts[-1]
        result = materialize(
            defs, platform.instance, ["campaigns", "ad_sets", "ads"], tags=range_tags(first, last)
        )
        assert result.success


def ingest(
    platform: Platform, account_id: str, since: dt.date, until: dt.date
) -> dg.ExecuteInProcessResult:
    return materialize(
        defs,
        platform.instance,
        ["ad_insights_daily"],
        tags=range_tags(str(key_for(account_id, since)), str(key_for(account_id, until))),
    )


def lake(platform: Platform) -> Lake:
    return Lake(platform.home / "lake")


def stored_daily_totals(platform: Platform, account_id: str) -> dict[str, dict[str, object]]:
    """Per day: spend, impressions, link clicks and conversions per action type from the lake."""
    glob = str(
        platform.home
        / "lake"
        / "ad_insights_daily"
        / f"account_id={account_id}"
        / "*"
        / "*.parquet"
    )
    con = duckdb.connect()
    rows = con.execute(
        f"""select date_day::varchar, sum(spend), sum(impressions)::bigint,
                   sum(coalesce(link_clicks, 0))::bigint, count(*)
            from read_parquet('{glob}') group by 1 order by 1"""
    ).fetchall()
    actions = con.execute(
        f"""select date_day::varchar, a.action_type, sum(a.value::decimal(38,6))
            from (select date_day, unnest(actions) as a from read_parquet('{glob}'))
            where a.stat = 'actions' and a."window" = 'value'
            group by 1, 2"""
    ).fetchall()
    out: dict[str, dict[str, object]] = {}
    for day, spend, impressions, clicks, n in rows:
        out[day] = {
            "spend": Decimal(spend),
            "impressions": impressions,
            "link_clicks": clicks,
            "rows": n,
            "conversions": {},
        }
    for day, action_type, value in actions:
        out[day]["conversions"][action_type] = Decimal(value)  # type: ignore[index]
    return out


def truth_daily(
    platform: Platform, account_id: str, since: dt.date, until: dt.date
) -> dict[str, dict[str, object]]:
    truth = platform.sandbox.truth(account_id, since, until)
    out: dict[str, dict[str, object]] = {}
    for day in truth["days"]:
        out[day["date"]] = {
            "spend": Decimal(str(day["spend"])).quantize(Decimal("0.01")),
            "impressions": int(day["impressions"]),
            "link_clicks": int(day["link_clicks"]),
            "conversions": {k: Decimal(str(v)) for k, v in day["conversions"].items() if v},
        }
    return out


def materialized_partitions(platform: Platform, asset: str = "ad_insights_daily") -> set[str]:
    return set(platform.instance.get_materialized_partitions(dg.AssetKey(asset)))


def check_evaluations(platform: Platform, run_id: str) -> list[dg.AssetCheckEvaluation]:
    records = platform.instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), limit=10_000
    )
    out = []
    for record in records:
        if record.run_id != run_id:
            continue
        event = record.event_log_entry.dagster_event
        assert event is not None
        out.append(event.event_specific_data)
    return out  # type: ignore[return-value]


def account_timezone(platform: Platform, account_id: str) -> ZoneInfo:
    info = platform.sandbox.info()
    return ZoneInfo(next(a["timezone_name"] for a in info["accounts"] if a["id"] == account_id))


def align_sandbox_clock(platform: Platform, account_id: str) -> dt.date:
    """Put the sandbox on the platform's calendar for one account; returns its local today.

    The platform judges "today" by the real clock, the sandbox by its own (a UTC date D,
    the instant D 12:00 UTC).  Tests about today and the days after it need both to
    agree on the account's local date: this picks the D whose instant falls on the
    account's real local today (D-1, D or D+1 depending on the zone).
    """
    tz = account_timezone(platform, account_id)
    today = dt.datetime.now(dt.UTC).astimezone(tz).date()
    for offset in (0, -1, 1):
        candidate = today + dt.timedelta(days=offset)
        if dt.datetime.combine(candidate, dt.time(12), dt.UTC).astimezone(tz).date() == today:
            platform.sandbox.set_today(candidate)
            return today
    raise AssertionError(f"no sandbox date puts {account_id} on {today}")


def attempts(platform: Platform, account_id: str) -> list[dict[str, object]]:
    """The account's ingestion attempts log, oldest first."""
    glob = str(
        platform.home / "lake" / "ingestion_attempts" / f"account_id={account_id}" / "*.parquet"
    )
    con = duckdb.connect()
    cursor = con.execute(
        f"""select dataset, date_day, attempted_at, run_id, status, error_kind, message
            from read_parquet('{glob}') order by attempted_at"""
    )
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def marts_rows(platform: Platform, sql: str) -> list[dict[str, object]]:
    """Rows of a query on the published marts (read-only, as a dashboard opens them)."""
    con = open_marts_readonly(platform.home / "marts.duckdb")
    try:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def build_freshness_marts(platform: Platform) -> None:
    """dbt builds data_freshness, token_health and what they are built from, then publishes.

    A real ``dbt build`` over the lake the Dagster runs wrote, in a subprocess like the
    marts asset runs it; only the freshness models are selected (and only the tests whose
    parents all are), so a test can rebuild after each step of a scenario in seconds.
    test_marts_truth covers the same models through the Dagster marts asset.
    """
    result = run_dbt(
        platform.home,
        "build",
        "--select",
        "+data_freshness",
        "+token_health",
        "--indirect-selection",
        "cautious",
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    publish_marts(platform.home / "warehouse" / "marts.duckdb", platform.home / "marts.duckdb")

"""Sandbox → entity and insights runs → dbt → marts: video, creatives and the URL report
equal the sandbox's truth.

One world for the module (CI time is tight): two accounts, entities pulled on two clock
days around a creative edit the sandbox makes on 2026-05-15 (so the ads' history holds
an ad that changed creative), six days of ad-level insights, one marts build.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest

from ads_platform.demo import materialize, materialize_marts, write_demo_settings
from ads_platform.partitions import range_tags
from ads_platform.run_errors import failure_lines
from ads_platform.sandbox import Sandbox
from ads_platform.warehouse import open_marts_readonly
from ads_platform_tests.conftest import Platform, in_memory_instance, reset_sandbox
from ads_platform_tests.e2e.helpers import VIDEO_TRUTH_KEYS, ingest
from ads_platform_tests.platform_defs import defs

pytestmark = pytest.mark.slow

FIRST_PULL = dt.date(2026, 5, 14)  # before the edit
SECOND_PULL = dt.date(2026, 5, 18)  # after it; insights pulled at this clock
SINCE, UNTIL = dt.date(2026, 5, 12), dt.date(2026, 5, 17)
ENTITIES = ["campaigns", "ad_sets", "ads", "creatives"]
VIDEO = VIDEO_TRUTH_KEYS


@dataclass
class World:
    platform: Platform
    accounts: list[str]
    entity_runs: list[dg.ExecuteInProcessResult]
    truth: dict[str, dict[str, Any]]
    creatives: dict[str, dict[str, Any]]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        con = open_marts_readonly(self.platform.home / "marts.duckdb")
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()


@pytest.fixture(scope="module")
def world(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("creatives") / "home"
    reset_sandbox(sandbox)
    config_path, tokens = write_demo_settings(
        home, sandbox.base_url, sandbox.account_ids, start_date=dt.date(2026, 1, 1)
    )
    with (
        pytest.MonkeyPatch.context() as mp,
        in_memory_instance(home.parent / "dagster") as instance,
    ):
        for key, value in {
            **tokens,
            "ADS_PLATFORM_CONFIG": str(config_path),
            "ADS_PLATFORM_HOME": str(home),
        }.items():
            mp.setenv(key, value)
        platform = Platform(sandbox, home, Path(config_path), instance, tokens)
        accounts = platform.accounts[:2]
        try:
            sandbox.set_today(FIRST_PULL)
            assert materialize(defs, instance, ["ad_accounts"]).success
            runs = [materialize(defs, instance, ENTITIES, tags=range_tags(*accounts))]
            sandbox.set_today(SECOND_PULL)
            runs.append(materialize(defs, instance, ENTITIES, tags=range_tags(*accounts)))
            for account_id in accounts:
                result = ingest(platform, account_id, SINCE, UNTIL)
                assert result.success, failure_lines(result.all_events)
            assert materialize_marts(defs, instance).success
            truth = {a: sandbox.truth(a, SINCE, UNTIL) for a in accounts}
            creatives = {a: sandbox.creative_truth(a) for a in accounts}
            yield World(platform, accounts, runs, truth, creatives)
        finally:
            reset_sandbox(sandbox)


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_creatives_are_pulled_in_the_entities_run_and_pass_their_schema_check(
    world: World,
) -> None:
    for run in world.entity_runs:
        assert run.success
        materialized = {
            (e.asset_key.path[-1], e.partition)
            for e in run.get_asset_materialization_events()
            if e.asset_key is not None
        }
        assert {("creatives", a) for a in world.accounts} <= materialized
        checks = {
            (c.asset_key.path[-1], c.check_name, c.passed)
            for c in run.get_asset_check_evaluations()
        }
        assert ("creatives", "schema", True) in checks


def test_two_pulls_keep_every_creative_and_the_ad_edited_between_them_has_two_versions(
    world: World,
) -> None:
    glob = world.platform.home / "lake" / "creatives" / "*" / "*.parquet"
    stored = (
        duckdb.connect()
        .execute(f"select creative_id, count(*) from read_parquet('{glob}') group by 1")
        .fetchall()
    )
    listed = {c["id"] for a in world.accounts for c in world.creatives[a]["creatives"]}
    assert {cid for cid, _ in stored} == listed
    assert all(n == 1 for _, n in stored)  # creatives do not change: one version each
    edited_between = {
        c["ad_id"]
        for a in world.accounts
        for c in world.creatives[a]["creatives"]
        if c["version"] > 0 and str(FIRST_PULL) < c["valid_from"][:10] <= str(SECOND_PULL)
    }
    assert edited_between
    versions = dict(
        world.query("select ad_id, count(distinct creative_id) from dim_ads_history group by 1")
    )
    assert all(versions[ad_id] == 2 for ad_id in edited_between)


def test_video_metrics_of_the_ad_day_facts_add_up_to_the_sandbox_truth(world: World) -> None:
    columns = ", ".join(f"coalesce(sum({c}), 0)" for c in VIDEO)
    got = {
        (r[0], r[1]): r[2:]
        for r in world.query(
            f"select account_id, date_day::varchar, {columns} from fct_ad_daily group by 1, 2"
        )
    }
    plays_seen = 0
    for account_id in world.accounts:
        for day in world.truth[account_id]["days"]:
            if not day["impressions"]:
                continue
            expected = tuple(day["video"][k] for k in VIDEO.values())
            assert tuple(int(v) for v in got[(account_id, day["date"])]) == expected
            plays_seen += day["video"]["plays"]
    assert plays_seen > 0
    # The average is recomputed from the sums at every grain (never averaged).
    for account_id, day_s, plays, seconds, avg in world.query(
        """select account_id, date_day::varchar, video_plays, video_watch_seconds,
                  video_avg_time_watched_seconds from rpt_account_daily"""
    ):
        video = next(d for d in world.truth[account_id]["days"] if d["date"] == day_s)["video"]
        assert (plays or 0, seconds or 0) == (video["plays"], video["watch_seconds"])
        if video["plays"]:
            assert avg == pytest.approx(video["watch_seconds"] / video["plays"])
    weekly = dict(
        world.query("select account_id, sum(video_plays) from rpt_account_weekly group by 1")
    )
    for account_id in world.accounts:
        assert weekly[account_id] == sum(
            d["video"]["plays"] for d in world.truth[account_id]["days"]
        )


def test_dim_creatives_holds_every_creative_the_sandbox_lists_as_served(world: World) -> None:
    got = {
        r[0]: r[1:]
        for r in world.query(
            """select creative_id, account_id, link_url, url_tags, title, body,
                      call_to_action_type, image_hash, video_id from dim_creatives"""
        )
    }
    expected = {
        c["id"]: (
            account_id,
            c["link_url"],
            c.get("url_tags"),
            c["title"],
            c["body"],
            c["call_to_action_type"],
            c.get("image_hash"),
            c.get("video_id"),
        )
        for account_id in world.accounts
        for c in world.creatives[account_id]["creatives"]
    }
    assert got == expected


def _truth_creative_days(world: World) -> dict[tuple[str, str], str]:
    """(ad_id, day) → the creative the sandbox says the ad carried at the end of the day."""
    out: dict[tuple[str, str], str] = {}
    for account_id in world.accounts:
        tz = ZoneInfo(world.truth[account_id]["timezone_name"])
        by_ad: dict[str, list[tuple[dt.datetime, str]]] = defaultdict(list)
        for c in world.creatives[account_id]["creatives"]:
            start = dt.datetime.fromisoformat(c["valid_from"].replace("+0000", "+00:00"))
            by_ad[c["ad_id"]].append((start, c["id"]))
        for ad_id, versions in by_ad.items():
            for offset in range((UNTIL - SINCE).days + 1):
                day = SINCE + dt.timedelta(days=offset)
                end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
                held = [cid for start, cid in sorted(versions) if start < end]
                if held:
                    out[(ad_id, day.isoformat())] = held[-1]
    return out


def test_each_ad_day_of_the_url_report_carries_the_creative_the_ad_had_that_day(
    world: World,
) -> None:
    expected = _truth_creative_days(world)
    got = {
        (ad, day): creative
        for ad, day, creative in world.query(
            "select ad_id, date_day::varchar, creative_id from rpt_url_daily"
        )
    }
    assert got and all(got[key] == expected[key] for key in got)
    current = dict(world.query("select ad_id, creative_id from dim_ads"))
    changed = [key for key, creative in got.items() if creative != current[key[0]]]
    assert changed, "no ad-day before a creative edit: the history path went untested"
    # Every ad-day of the facts is in the report once (every sandbox ad has a creative).
    assert world.query("select count(*) from fct_ad_daily") == [(len(got),)]


def test_url_report_spend_by_landing_url_and_utm_source_equals_the_sandbox_truth(
    world: World,
) -> None:
    creative_view = {c["id"]: c for a in world.accounts for c in world.creatives[a]["creatives"]}
    days = _truth_creative_days(world)
    expected: dict[tuple[str, str | None], Decimal] = defaultdict(Decimal)
    for ad_id, day, spend in world.query(
        "select ad_id, date_day::varchar, spend from fct_ad_daily"
    ):
        creative = creative_view[days[(ad_id, day)]]
        tags = dict(p.split("=", 1) for p in (creative.get("url_tags") or "").split("&") if p)
        expected[(creative["link_url"], tags.get("utm_source"))] += Decimal(spend)
    got = {
        (base_url, source): Decimal(spend)
        for base_url, source, spend in world.query(
            "select base_url, utm_source, sum(spend) from rpt_url_daily group by 1, 2"
        )
    }
    assert got == dict(expected)
    # And the URLs together spent what the sandbox says each account spent each day.
    per_day = dict(
        ((a, d), Decimal(s))
        for a, d, s in world.query(
            "select account_id, date_day::varchar, sum(spend) from rpt_url_daily group by 1, 2"
        )
    )
    for account_id in world.accounts:
        for day in world.truth[account_id]["days"]:
            if day["impressions"]:
                assert per_day[(account_id, day["date"])] == _money(day["spend"])


def _names_at_the_first_pull(world: World) -> dict[str, tuple[str, dt.datetime]]:
    """Every campaign's, ad set's and ad's name and created_time as the sandbox served them
    at the first entity pull.  The platform dates a change by the pull that first saw it
    (the second pull ran after every day of the range), so these are the names it holds
    for each day of the range."""
    from ads_platform.demo import demo_token_env
    from ads_platform.meta import GraphClient

    sandbox = world.platform.sandbox
    names: dict[str, tuple[str, dt.datetime]] = {}
    sandbox.set_today(FIRST_PULL)
    try:
        for account_id in world.accounts:
            token = world.platform.tokens[demo_token_env(account_id)]
            with GraphClient(base_url=sandbox.base_url, access_token=token) as client:
                for kind in ("campaigns", "adsets", "ads"):
                    for row in client.iter_entities(
                        account_id,
                        kind,  # type: ignore[arg-type]
                        fields=["id", "name", "created_time"],
                    ):
                        created = dt.datetime.strptime(row["created_time"], "%Y-%m-%dT%H:%M:%S%z")
                        names[row["id"]] = (row["name"], created)
    finally:
        sandbox.set_today(SECOND_PULL)
    return names


def test_url_report_fills_metas_dynamic_parameters_with_the_ids_and_names_of_each_ad_day(
    world: World,
) -> None:
    """utm_campaign={{campaign.name}} groups by the real campaign names; {{site_source_name}}
    (one per click) stays as written."""
    creative_view = {c["id"]: c for a in world.accounts for c in world.creatives[a]["creatives"]}
    days = _truth_creative_days(world)
    names = _names_at_the_first_pull(world)
    zones = {a: ZoneInfo(world.truth[a]["timezone_name"]) for a in world.accounts}
    utms = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"]
    rows = world.query(
        f"""select account_id, ad_id, ad_set_id, campaign_id, date_day::varchar,
                   {", ".join(f"{u}_filled" for u in utms)}
            from rpt_url_daily"""
    )
    filled_names = written_per_click = 0
    for account_id, ad_id, ad_set_id, campaign_id, day, *got in rows:
        tags = creative_view[days[(ad_id, day)]].get("url_tags") or ""
        day_end = dt.datetime.combine(
            dt.date.fromisoformat(day) + dt.timedelta(days=1), dt.time(), zones[account_id]
        )

        def name(entity: str, day_end: dt.datetime = day_end) -> str | None:
            known, created = names[entity]
            return known if created < day_end else None  # no version before it existed

        values = dict(p.split("=", 1) for p in tags.split("&") if p)
        expected = []
        for utm in utms:
            value = values.get(utm)
            if value is not None:
                for placeholder, actual in {
                    "{{ad.id}}": ad_id,
                    "{{adset.id}}": ad_set_id,
                    "{{campaign.id}}": campaign_id,
                    "{{ad.name}}": name(ad_id),
                    "{{adset.name}}": name(ad_set_id),
                    "{{campaign.name}}": name(campaign_id),
                }.items():
                    if actual is None:
                        continue  # stays as written
                    if placeholder in value and placeholder.endswith(".name}}"):
                        filled_names += 1
                    value = value.replace(placeholder, actual)
                written_per_click += "{{site_source_name}}" in value
            expected.append(value or None)
        assert got == expected, (ad_id, day, tags)
    assert filled_names and written_per_click, "no name or per-click parameter was exercised"

"""The ingestion schedules: closed days (+ lookback) daily, and today every N minutes.

Rule for the daily pull (one schedule, no per-time-zone copies): it ticks every hour at
minute 15 UTC, and at each tick it requests the accounts whose *local* clock reads 03:xx.
Each account is therefore pulled once a day, three hours after its own midnight, with
its own notion of "yesterday" (Asia/Tokyo at 18:15 UTC, America/Los_Angeles at 10:15 or
11:15 UTC depending on daylight saving), and a new time zone needs no new schedule.  A
missed tick (daemon down) is repaired the next day by the lookback window.

Per due account the schedule asks for ONE range run of ``ad_insights_daily`` over
``today-lookback .. yesterday`` (local), plus one run of the per-account assets
(entities, token health, reach) over adjacent due accounts, plus, at 00:15 UTC, one
``ad_accounts`` run (names, time zones, discovery).  The intraday schedule refreshes
every account's local today with as few runs as the ``account × date`` rectangles allow
(usually one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import dagster as dg

from ads_platform.automation import calendar
from ads_platform.automation.common import (
    account_assets_run,
    ad_accounts_run,
    enabled_accounts,
    insights_run,
    ordered_accounts,
    partition_days,
)
from ads_platform.automation.lakeview import account_timezones
from ads_platform.jobs import (
    ACCOUNT_ASSETS_JOB,
    INSIGHTS_JOB,
    REFRESH_AD_ACCOUNTS_JOB,
    ingestion_jobs,
    job_named,
)
from ads_platform.lake import Lake
from ads_platform.resources import PlatformResource
from ads_platform.settings import Settings

DAILY_CRON = "15 * * * *"
#: UTC hour at which the daily ``ad_accounts`` refresh is requested.
ACCOUNTS_REFRESH_UTC_HOUR = 0


def _order(instance: dg.DagsterInstance, accounts: Sequence[str]) -> list[str]:
    """Partition order of the enabled accounts that already are partitions."""
    wanted = set(accounts)
    return [a for a in ordered_accounts(instance) if a in wanted]


def daily_run_requests(
    now: dt.datetime,
    settings: Settings,
    order: Sequence[str],
    all_partitions: Sequence[str],
) -> list[dg.RunRequest]:
    """Run requests of the daily schedule at ``now`` (pure apart from the lake read).

    ``order`` lists the enabled accounts that are partitions, ``all_partitions`` every
    partition in Dagster's order (adjacency for multi-account runs is judged on it).
    """
    first_day, last_day = partition_days(settings, now)
    timezones = account_timezones(Lake(settings.lake_dir), order)
    due = calendar.daily_windows(
        now,
        timezones,
        lookback_days=settings.ingestion.lookback_days,
        first_day=first_day,
        last_day=last_day,
    )
    requests = [insights_run(w.start_key, w.end_key, "daily", settings=settings) for w in due]
    for accounts in calendar.account_ranges(all_partitions, [w.account_id for w in due]):
        requests.append(account_assets_run(accounts, "daily"))
    if now.astimezone(dt.UTC).hour == ACCOUNTS_REFRESH_UTC_HOUR:
        requests.append(ad_accounts_run("daily"))
    return requests


def intraday_run_requests(
    now: dt.datetime, settings: Settings, order: Sequence[str], all_partitions: Sequence[str]
) -> list[dg.RunRequest]:
    """Each account's local today, in as few rectangle runs as adjacency allows."""
    first_day, last_day = partition_days(settings, now)
    timezones = account_timezones(Lake(settings.lake_dir), order)
    return [
        insights_run(r.start_key, r.end_key, "intraday", settings=settings)
        for r in calendar.today_ranges(
            now, all_partitions, timezones, first_day=first_day, last_day=last_day
        )
    ]


def _tick_time(context: dg.ScheduleEvaluationContext) -> dt.datetime:
    scheduled = context.scheduled_execution_time
    if scheduled is None:
        return dt.datetime.now(dt.UTC)
    return scheduled if scheduled.tzinfo else scheduled.replace(tzinfo=dt.UTC)


#: The daily schedules: name, job, cron, description.  They share
#: :func:`daily_run_requests` (one plan per tick), each launching its own job's runs: a
#: schedule launches one job, and the pulls have three partitionings (:mod:`ads_platform.jobs`).
DAILY_SCHEDULES = (
    (
        "daily_ingestion",
        INSIGHTS_JOB,
        DAILY_CRON,
        "Hourly tick; each ad account is pulled at the tick where its local time is 03:xx: "
        "closed days + lookback as one range run per account (ad_insights_daily and the "
        "breakdowns switched on).",
    ),
    (
        "daily_account_assets",
        ACCOUNT_ASSETS_JOB,
        DAILY_CRON,
        "Hourly tick; at each account's local 03:xx, its entities, token health and reach "
        "(adjacent due accounts in one run).",
    ),
    (
        "daily_ad_accounts_refresh",
        REFRESH_AD_ACCOUNTS_JOB,
        f"15 {ACCOUNTS_REFRESH_UTC_HOUR} * * *",
        "ad_accounts (names, currencies, time zones, discovery) refreshed at 00:15 UTC.",
    ),
)


def build_daily_schedules(
    jobs: Sequence[dg.UnresolvedAssetJobDefinition] | None = None,
) -> list[dg.ScheduleDefinition]:
    """The daily pull as three schedules, one per job (see :data:`DAILY_SCHEDULES`)."""
    jobs = jobs or ingestion_jobs(None)
    return [
        _daily_schedule(name, job_named(jobs, job_name), description, cron)
        for name, job_name, cron, description in DAILY_SCHEDULES
    ]


def _daily_schedule(
    name: str, job: dg.UnresolvedAssetJobDefinition, description: str, cron: str
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=name,
        cron_schedule=cron,
        execution_timezone="UTC",
        target=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
    )
    def daily(
        context: dg.ScheduleEvaluationContext, platform: PlatformResource
    ) -> list[dg.RunRequest] | dg.SkipReason:
        settings = platform.settings()
        partitions = ordered_accounts(context.instance)
        order = _order(context.instance, enabled_accounts(settings))
        requests = [
            r
            for r in daily_run_requests(_tick_time(context), settings, order, partitions)
            if r.job_name == job.name
        ]
        return requests or dg.SkipReason(f"nothing of {job.name} is due at this tick")

    return daily


def build_intraday_schedule(
    minutes: int, jobs: Sequence[dg.UnresolvedAssetJobDefinition] | None = None
) -> dg.ScheduleDefinition:
    minutes = max(5, min(int(minutes), 60))
    job = job_named(jobs or ingestion_jobs(None), INSIGHTS_JOB)
    cron = f"*/{minutes} * * * *" if minutes < 60 else "45 * * * *"

    @dg.schedule(
        name="intraday_today_refresh",
        cron_schedule=cron,
        execution_timezone="UTC",
        target=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Every {minutes} minutes: each account's local today partition of "
        "ad_insights_daily, in as few runs as adjacent accounts with the same local date "
        "allow.",
    )
    def intraday_today_refresh(
        context: dg.ScheduleEvaluationContext, platform: PlatformResource
    ) -> list[dg.RunRequest] | dg.SkipReason:
        settings = platform.settings()
        partitions = ordered_accounts(context.instance)
        order = _order(context.instance, enabled_accounts(settings))
        requests = intraday_run_requests(_tick_time(context), settings, order, partitions)
        return requests or dg.SkipReason("no enabled account is a partition yet")

    return intraday_today_refresh


def build_schedules(
    settings: Settings, jobs: Sequence[dg.UnresolvedAssetJobDefinition]
) -> list[dg.ScheduleDefinition]:
    """The schedules, launching ``jobs`` (:func:`ads_platform.jobs.ingestion_jobs`)."""
    return [
        *build_daily_schedules(jobs),
        build_intraday_schedule(settings.ingestion.today_refresh_minutes, jobs),
    ]

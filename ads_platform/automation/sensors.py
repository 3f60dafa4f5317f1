"""Sensors: new accounts, recovered tokens, changed entities, declarative automation.

All state lives in the sensor cursor (JSON), which Dagster stores only when a tick
succeeds: a tick that raises re-does its work next time instead of half-recording it.
Run keys are not used for de-duplication: thousands of them load the run storage, and
the cursor already says what was requested.

The evaluation logic is in plain functions taking ``now``, the settings and the
instance, so tests can drive it at chosen instants without a daemon.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import dagster as dg

from ads_platform.automation import calendar, polling
from ads_platform.automation.common import (
    Clock,
    account_assets_run,
    ad_accounts_run,
    enabled_accounts,
    insights_run,
    iso_utc,
    log,
    ordered_accounts,
    parse_utc,
    partition_days,
    utcnow,
    without_run_keys,
)
from ads_platform.automation.lakeview import (
    account_timezones,
    attempts_since,
    token_rows_since,
)
from ads_platform.datasets import AD_INSIGHTS_DAILY
from ads_platform.days import days_between
from ads_platform.frames import ALL_EFFECTIVE_STATUSES
from ads_platform.jobs import (
    ACCOUNT_ASSETS_JOB,
    ENTITY_ASSETS,
    INSIGHTS,
    INSIGHTS_JOB,
    TOKEN_HEALTH,
    ingestion_jobs,
    job_named,
)
from ads_platform.lake import Lake
from ads_platform.meta.client import GraphClient
from ads_platform.meta.redaction import redact
from ads_platform.partitions import ad_accounts_partitions
from ads_platform.resources import Credential, PlatformResource
from ads_platform.settings import Settings

INSIGHTS_DATASET = AD_INSIGHTS_DAILY
#: Attempt error kinds that mean "the token (or its access) is the problem".
TOKEN_ERROR_KINDS = frozenset({"token_invalid", "permission", "auth", "settings"})
#: After a recovery re-request, a new incident of the same account waits this long before
#: it can trigger another one: a token that passes the probe but still fails the pulls
#: must not cause a run every tick.
RECOVERY_BACKOFF = dt.timedelta(hours=1)
#: Probing an account whose token is still broken costs two API calls: at most this often.
PROBE_EVERY = dt.timedelta(minutes=15)
RECOVERY_INTERVAL_SECONDS = 300
NEW_ACCOUNTS_INTERVAL_SECONDS = 60
#: New accounts backfilled per tick of ``new_ad_accounts``; the rest wait for the next
#: ticks (docs/scale.md, "onboard in batches"): 1,000 accounts added at once made one
#: tick of 2,001 run requests, and creating a run costs the daemon one to seven seconds.
MAX_NEW_ACCOUNTS_PER_TICK = 50


def _load_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
    except ValueError:
        log.warning("ignoring an unreadable sensor cursor")
        return {}
    return data if isinstance(data, dict) else {}


def _dump_cursor(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


# --------------------------------------------------------------------------- new accounts


@dataclasses.dataclass
class NewAccountsPlan:
    add: list[str]
    backfills: list[calendar.DayRange]
    run_requests: list[dg.RunRequest]
    handled: list[str]


def plan_new_accounts(
    now: dt.datetime, settings: Settings, instance: dg.DagsterInstance, handled: Iterable[str]
) -> NewAccountsPlan:
    """Enabled accounts not handled yet → partitions to add and backfills to request.

    Every enabled account that is not a partition of ``ad_accounts`` yet is added.  An
    account is *backfilled* when the lake holds no day of it yet, whether or not it was
    a partition already (the ``ad_accounts`` asset adds partitions too).  Accounts with
    data are only marked handled: installing the sensor on an existing deployment, or
    moving to a new Dagster instance over the same lake, does not re-pull history (the
    daily lookback refreshes the recent days).  At most :data:`MAX_NEW_ACCOUNTS_PER_TICK`
    accounts are backfilled per tick, in the settings' order; the others stay unhandled
    for the next ticks (their partitions are added at once: that is bookkeeping only).
    """
    done = set(handled)
    partitions = set(ordered_accounts(instance))
    lake = Lake(settings.lake_dir)
    first_day, last_day = partition_days(settings, now)
    add: list[str] = []
    new: list[str] = []
    for account_id in enabled_accounts(settings):
        if account_id not in partitions:  # even when handled: a deleted partition returns
            add.append(account_id)
        if account_id in done:
            continue
        if not lake.partition_days(INSIGHTS_DATASET, account_id):
            if len(new) == MAX_NEW_ACCOUNTS_PER_TICK:
                continue  # not handled: a later tick backfills it
            new.append(account_id)
        done.add(account_id)
    timezones = account_timezones(lake, new)
    backfills = []
    requests: list[dg.RunRequest] = []
    for account_id in new:
        today = calendar.local_today(now, timezones[account_id])
        window = calendar.clip(
            *calendar.backfill_window(today, settings.ingestion.new_account_backfill_days),
            first_day,
            last_day,
        )
        if window:
            backfill = calendar.DayRange(account_id, *window)
            backfills.append(backfill)
            requests.append(
                insights_run(backfill.start_key, backfill.end_key, "new_account", settings=settings)
            )
        requests.append(account_assets_run([account_id], "new_account"))
    if new:
        # Names, currencies and time zones of the new accounts (the schedules read them).
        requests.insert(0, ad_accounts_run("new_account"))
    return NewAccountsPlan(add, backfills, requests, sorted(done))


def build_new_accounts_sensor(
    clock: Clock = utcnow,
    minimum_interval_seconds: int = NEW_ACCOUNTS_INTERVAL_SECONDS,
    jobs: Sequence[dg.UnresolvedAssetJobDefinition] | None = None,
) -> dg.SensorDefinition:
    @dg.sensor(
        name="new_ad_accounts",
        jobs=list(jobs or ingestion_jobs(None)),
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="An enabled account that is not a partition yet (or has no data) is "
        "added to `ad_accounts` and backfilled: one range run of ad_insights_daily over "
        "ingestion.new_account_backfill_days, plus its entities, token health and reach.",
    )
    def new_ad_accounts(
        context: dg.SensorEvaluationContext, platform: PlatformResource
    ) -> dg.SensorResult:
        settings = platform.settings()
        cursor = _load_cursor(context.cursor)
        plan = plan_new_accounts(clock(), settings, context.instance, cursor.get("handled", []))
        dynamic = [ad_accounts_partitions.build_add_request(plan.add)] if plan.add else []
        for backfill in plan.backfills:
            context.log.info(
                f"new account {backfill.account_id}: backfilling {backfill.start}..{backfill.end}"
            )
        return dg.SensorResult(
            run_requests=without_run_keys(plan.run_requests),
            dynamic_partitions_requests=dynamic,
            cursor=_dump_cursor({"handled": plan.handled}),
            skip_reason=None if plan.run_requests else "no new account",
        )

    return new_ad_accounts


# --------------------------------------------------------------------------- token recovery

#: ``probe(settings, account_id) -> None``; raises when the token still cannot read it.
Probe = Callable[[Settings, str], None]


def platform_probe(platform: PlatformResource) -> Probe:
    """The account can be read with the token AND debug_token says it is valid.

    Both, because a token can be valid while it has lost access to one account
    (``permission``): only reading the account proves the pulls will work again.
    Two cheap calls, made only for accounts in an unhandled incident.
    """

    def probe(settings: Settings, account_id: str) -> None:
        quick = _quick(settings)

        def check(client: GraphClient, _: Credential) -> None:
            client.get_account(account_id, ("id",))
            data = client.debug_token()
            if not data.get("is_valid", False):
                raise RuntimeError("debug_token: is_valid=false")

        # The quick settings build the client; the token rule is the settings' own.
        platform.client_for(quick, account_id, check)

    return probe


def _quick(settings: Settings) -> Settings:
    """Settings for a sensor's API call: a tick must not wait minutes on retries."""
    meta = settings.meta.model_copy(
        update={"max_retries": 1, "retry_budget_seconds": 20.0, "read_timeout_seconds": 15.0}
    )
    return settings.model_copy(update={"meta": meta})


@dataclasses.dataclass(frozen=True)
class Incident:
    account_id: str
    at: dt.datetime
    kind: str


def latest_incident(
    attempts: Sequence[dict[str, Any]], token_rows: Sequence[dict[str, Any]], account_id: str
) -> Incident | None:
    """The newest sign that the account's token (or its access) was broken."""
    found: list[Incident] = [
        Incident(account_id, r["attempted_at"], str(r["error_kind"]))
        for r in attempts
        if r["status"] == "failed" and r.get("error_kind") in TOKEN_ERROR_KINDS
    ]
    found += [
        Incident(account_id, r["checked_at"], "token_invalid")
        for r in token_rows
        if r.get("is_valid") is False
    ]
    return max(found, key=lambda i: i.at) if found else None


def partitions_to_redo(
    instance: dg.DagsterInstance,
    account_id: str,
    window: tuple[dt.date, dt.date],
    attempts: Sequence[dict[str, Any]],
) -> list[dt.date]:
    """Days of the window that are missing, or whose latest attempt / Dagster event failed.

    Materialized-ness is asked per partition of the window
    (``get_latest_storage_id_by_partition``) rather than with
    ``get_materialized_partitions``, which returns every partition of the asset.
    """
    days = days_between(*window)
    keys = {f"{account_id}|{d.isoformat()}": d for d in days}
    materialized = instance.get_latest_storage_id_by_partition(
        INSIGHTS, dg.DagsterEventType.ASSET_MATERIALIZATION, set(keys)
    )
    failed_events = instance.get_latest_storage_id_by_partition(
        INSIGHTS, dg.DagsterEventType.ASSET_FAILED_TO_MATERIALIZE, set(keys)
    )
    latest: dict[dt.date, dict[str, Any]] = {}
    for row in attempts:
        if row["dataset"] == INSIGHTS_DATASET and row["date_day"] is not None:
            latest[row["date_day"]] = row  # oldest first: the last one wins
    redo = set()
    for key, day in keys.items():
        if (
            key not in materialized
            or failed_events.get(key, -1) > materialized[key]
            or (day in latest and latest[day]["status"] == "failed")
        ):
            redo.add(day)
    return sorted(redo)


def account_assets_to_redo(
    instance: dg.DagsterInstance, account_id: str, attempts: Sequence[dict[str, Any]]
) -> list[dg.AssetKey]:
    """Per-account assets missing for the account or whose latest attempt failed;
    token_health always, so the lake records that the token works again."""
    latest: dict[str, str] = {}
    for row in attempts:
        if row["date_day"] is None:
            latest[row["dataset"]] = row["status"]
    out = []
    for key in ENTITY_ASSETS:
        stored = instance.get_latest_storage_id_by_partition(
            key, dg.DagsterEventType.ASSET_MATERIALIZATION, {account_id}
        )
        if account_id not in stored or latest.get(key.path[-1]) == "failed":
            out.append(key)
    return [*out, TOKEN_HEALTH]


@dataclasses.dataclass
class RecoveryPlan:
    run_requests: list[dg.RunRequest]
    cursor: dict[str, Any]
    recovered: dict[str, list[calendar.DayRange]]


def plan_token_recovery(
    now: dt.datetime,
    settings: Settings,
    instance: dg.DagsterInstance,
    cursor: dict[str, Any],
    probe: Probe | None,
) -> RecoveryPlan:
    """Accounts whose token works again after an incident → re-request what it broke.

    Exactly once per incident: the cursor keeps, per account, the time of the incident
    already handled; a later failure is a new incident.  Evidence of recovery is a
    valid token_health row newer than a ``token_invalid`` incident, or the probe
    (debug_token + reading the account) for any kind of incident.
    """
    handled: dict[str, str] = dict(cursor.get("handled", {}))
    requested_at: dict[str, str] = dict(cursor.get("requested_at", {}))
    probed_at: dict[str, str] = dict(cursor.get("probed_at", {}))
    lake = Lake(settings.lake_dir)
    lookback = max(settings.ingestion.lookback_days, 1)
    since = now - dt.timedelta(days=lookback + 2)
    first_day, last_day = partition_days(settings, now)
    partitions = set(ordered_accounts(instance))
    requests: list[dg.RunRequest] = []
    recovered: dict[str, list[calendar.DayRange]] = {}
    for account_id in enabled_accounts(settings):
        if account_id not in partitions:
            continue
        attempts = attempts_since(lake, account_id, since)
        token_rows = token_rows_since(lake, account_id, since)
        incident = latest_incident(attempts, token_rows, account_id)
        if incident is None:
            continue
        done = parse_utc(handled.get(account_id))
        if done is not None and incident.at <= done:
            continue
        last_request = parse_utc(requested_at.get(account_id))
        if last_request is not None and now - last_request < RECOVERY_BACKOFF:
            continue
        healed = incident.kind == "token_invalid" and any(
            r.get("is_valid") is True and r["checked_at"] > incident.at for r in token_rows
        )
        if not healed and probe is not None:
            last_probe = parse_utc(probed_at.get(account_id))
            if last_probe is not None and now - last_probe < PROBE_EVERY:
                continue
            probed_at[account_id] = iso_utc(now)
            try:
                probe(settings, account_id)
                healed = True
            except Exception as exc:
                log.info("token of %s still not usable: %s", account_id, redact(str(exc))[:300])
        if not healed:
            continue
        tz = account_timezones(lake, [account_id])[account_id]
        window = calendar.clip(
            *calendar.closed_window(calendar.local_today(now, tz), lookback), first_day, last_day
        )
        ranges = (
            calendar.day_runs(
                account_id, partitions_to_redo(instance, account_id, window, attempts)
            )
            if window
            else []
        )
        extra = {"ads_platform/incident_at": iso_utc(incident.at)}
        requests += [
            insights_run(r.start_key, r.end_key, "token_recovery", extra, settings=settings)
            for r in ranges
        ]
        requests.append(
            account_assets_run(
                [account_id],
                "token_recovery",
                account_assets_to_redo(instance, account_id, attempts),
                extra,
            )
        )
        recovered[account_id] = ranges
        handled[account_id] = iso_utc(incident.at)
        requested_at[account_id] = iso_utc(now)
        probed_at.pop(account_id, None)
    return RecoveryPlan(
        requests,
        {"handled": handled, "requested_at": requested_at, "probed_at": probed_at},
        recovered,
    )


def build_token_recovery_sensor(
    clock: Clock = utcnow,
    probe_factory: Callable[[PlatformResource], Probe | None] = platform_probe,
    minimum_interval_seconds: int = RECOVERY_INTERVAL_SECONDS,
    jobs: Sequence[dg.UnresolvedAssetJobDefinition] | None = None,
) -> dg.SensorDefinition:
    jobs = jobs or ingestion_jobs(None)

    @dg.sensor(
        name="token_recovery",
        jobs=[job_named(jobs, INSIGHTS_JOB), job_named(jobs, ACCOUNT_ASSETS_JOB)],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="When an account's token works again after token_invalid/permission "
        "failures, re-requests (once) every partition of the lookback window that failed "
        "or is missing, as contiguous range runs.",
    )
    def token_recovery(
        context: dg.SensorEvaluationContext, platform: PlatformResource
    ) -> dg.SensorResult:
        settings = platform.settings()
        plan = plan_token_recovery(
            clock(),
            settings,
            context.instance,
            _load_cursor(context.cursor),
            probe_factory(platform),
        )
        for account_id, ranges in plan.recovered.items():
            spans = ", ".join(f"{r.start}..{r.end}" for r in ranges) or "nothing missing"
            context.log.info(f"{account_id}: token works again; re-requesting {spans}")
        return dg.SensorResult(
            run_requests=without_run_keys(plan.run_requests),
            cursor=_dump_cursor(plan.cursor),
            skip_reason=None if plan.run_requests else "no recovered token",
        )

    return token_recovery


# --------------------------------------------------------------------------- entity changes

#: ``poll(settings, account_id, since) -> changed?``
Poller = Callable[[Settings, str, dt.datetime], bool]
ENTITY_EDGES = ("campaigns", "adsets", "ads")


def platform_poller(platform: PlatformResource) -> Poller:
    """One cheap call per edge: ``updated_time > since``, two fields, stop at a hit."""

    def poll(settings: Settings, account_id: str, since: dt.datetime) -> bool:
        def changed(client: GraphClient, _: Credential) -> bool:
            for edge in ENTITY_EDGES:
                rows = client.iter_entities(
                    account_id,
                    edge,  # type: ignore[arg-type]
                    fields=("id", "updated_time"),
                    effective_status=ALL_EFFECTIVE_STATUSES,
                    updated_since=since,
                )
                for _row in rows:
                    return True
            return False

        return platform.client_for(_quick(settings), account_id, changed)

    return poll


def plan_entity_changes(
    now: dt.datetime,
    settings: Settings,
    instance: dg.DagsterInstance,
    cursor: dict[str, Any],
    poll: Poller,
    *,
    workers: int = polling.POLL_WORKERS,
    budget_seconds: float = polling.POLL_BUDGET_SECONDS,
    limit_seconds: float = polling.POLL_LIMIT_SECONDS,
    monotonic: Callable[[], float] = time.monotonic,
) -> tuple[list[dg.RunRequest], dict[str, Any], polling.PollRound]:
    """Poll each account since its last poll; refresh only accounts that changed.

    An account seen for the first time only starts its clock (its entities are pulled
    by the new-account sensor and the daily schedule).  A failed poll, or one the tick's
    budget did not reach, keeps the old time, so its next poll covers the gap; the
    oldest polls go first (:mod:`ads_platform.automation.polling`).
    """
    last: dict[str, str] = dict(cursor.get("polled", {}))
    order = ordered_accounts(instance)
    partitions = set(order)
    due: list[tuple[str, dt.datetime]] = []
    for account_id in enabled_accounts(settings):
        if account_id not in partitions:
            continue
        since = parse_utc(last.get(account_id))
        if since is None:
            last[account_id] = iso_utc(now)
            continue
        due.append((account_id, since))
    due.sort(key=lambda item: item[1])  # stable: the oldest poll first, ties as configured
    found = polling.poll_accounts(
        due,
        lambda account_id, since: poll(settings, account_id, since),
        workers=workers,
        budget_seconds=budget_seconds,
        limit_seconds=limit_seconds,
        monotonic=monotonic,
    )
    for account_id in found.polled:
        last[account_id] = iso_utc(now)
    requests = [
        account_assets_run(group, "entity_change", ENTITY_ASSETS)
        for group in calendar.account_ranges(order, found.changed)
    ]
    return requests, {"polled": last}, found


def build_entity_changes_sensor(
    minutes: int,
    clock: Clock = utcnow,
    poller_factory: Callable[[PlatformResource], Poller] = platform_poller,
    jobs: Sequence[dg.UnresolvedAssetJobDefinition] | None = None,
) -> dg.SensorDefinition:
    @dg.sensor(
        name="entity_changes",
        job=job_named(jobs or ingestion_jobs(None), ACCOUNT_ASSETS_JOB),
        minimum_interval_seconds=max(60, int(minutes) * 60),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Every {minutes} min: asks Meta for campaigns/ad sets/ads updated since "
        "the last poll (one cheap call per edge and account, a few accounts at once, oldest "
        "first, within the tick's budget) and refreshes the entity assets of the accounts "
        "that changed.",
    )
    def entity_changes(
        context: dg.SensorEvaluationContext, platform: PlatformResource
    ) -> dg.SensorResult:
        settings = platform.settings()
        requests, cursor, found = plan_entity_changes(
            clock(),
            settings,
            context.instance,
            _load_cursor(context.cursor),
            poller_factory(platform),
        )
        context.log.info(
            f"polled {len(found.polled) + len(found.failed)} account(s) in "
            f"{found.seconds:.1f} s ({len(found.failed)} failed); "
            f"{len(found.deferred)} left for the next tick, oldest first"
        )
        if found.changed:
            context.log.info(f"entities changed in {', '.join(found.changed)}")
        return dg.SensorResult(
            run_requests=without_run_keys(requests),
            cursor=_dump_cursor(cursor),
            skip_reason=None if requests else "no entity changed",
        )

    return entity_changes


# --------------------------------------------------------------------------- marts

AUTOMATION_SENSOR_NAME = "ads_platform_automation"


def build_automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """Evaluates every asset's ``automation_condition`` (the dbt marts declare
    ``eager()`` gated on upstream blocking checks), switched on by default.

    Targets all assets rather than the ``marts`` group so that a condition added to any
    asset later is evaluated too, and Dagster's implicit default sensor (STOPPED unless
    switched on in the UI) is never created.  Sources included: the platform's logs are
    observable sources observed hourly (:mod:`ads_platform.assets.operations`), and
    ``AssetSelection.all()`` alone leaves sources to that stopped default sensor.
    """
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR_NAME,
        target=dg.AssetSelection.all(include_sources=True),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=60,
        description="Declarative automation: rebuilds the marts once their upstream "
        "partitions are materialized and their blocking checks passed; observes the "
        "platform's logs hourly.",
    )


def build_sensors(
    settings: Settings, jobs: Sequence[dg.UnresolvedAssetJobDefinition]
) -> list[dg.SensorDefinition]:
    """The sensors, launching ``jobs`` (:func:`ads_platform.jobs.ingestion_jobs`)."""
    return [
        build_new_accounts_sensor(jobs=jobs),
        build_token_recovery_sensor(jobs=jobs),
        build_entity_changes_sensor(settings.ingestion.entity_poll_minutes, jobs=jobs),
        build_automation_sensor(),
    ]

"""Alerts: a failed check, a failed run, a token about to expire, an account gone stale.

Every alert goes three ways, none of which may break the sensor that raised it:

* a structured JSON log line on the ``ads_platform.alerts`` logger (always);
* a Slack-compatible webhook POST when ``alerts.webhook_url`` is set, retried a couple
  of times within ``alerts.timeout_seconds`` in total (a dead or slow receiver costs
  one sensor tick at most that long, never an exception);
* a row appended to ``lake/alerts/account_id=<id or _platform>/`` for the marts.

One alert per incident: alerts carry a key (kind + account + check/job); a key already
sent within ``alerts.realert_after_hours`` is suppressed.  The de-duplication state is
a small JSON file under the platform home, shared by all alert sensors (a run-failure
sensor has no cursor of its own to keep it in), guarded by a file lock because the
daemon may evaluate sensors in parallel.  Conditions that are re-evaluated as a whole
(token health, staleness) resolve their key when the condition clears, so the next
occurrence alerts at once.

Messages are redacted (:func:`ads_platform.meta.redaction.redact`) before they go
anywhere; the webhook URL (a secret for Slack) is never logged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pyarrow as pa

from ads_platform import atomic
from ads_platform.automation.common import (
    TRIGGER_TAG,
    Clock,
    enabled_accounts,
    iso_utc,
    parse_utc,
    utcnow,
)
from ads_platform.automation.lakeview import known_accounts, last_success, latest_token_row
from ads_platform.lake import Lake
from ads_platform.meta.redaction import install_log_redaction, redact
from ads_platform.resources import PlatformResource
from ads_platform.settings import Settings

alert_log = logging.getLogger("ads_platform.alerts")

DATASET = "alerts"
PLATFORM_ACCOUNT = "_platform"
MAX_MESSAGE = 2000
WEBHOOK_ATTEMPTS = 3
#: Keys not re-sent for this long after their re-alert window are forgotten.
FORGET_AFTER = dt.timedelta(days=7)

ALERTS_ARROW = pa.schema(
    [
        ("alert_key", pa.string()),
        ("kind", pa.string()),
        ("account_id", pa.string()),
        ("severity", pa.string()),  # "error" | "warning"
        ("message", pa.string()),
        ("first_seen_at", pa.timestamp("us", tz="UTC")),
        ("last_sent_at", pa.timestamp("us", tz="UTC")),
    ]
)

#: Kinds the health sensor owns (it resolves them when their condition clears).
HEALTH_KINDS = ("token_invalid", "token_expiring", "stale")


@dataclasses.dataclass(frozen=True)
class Alert:
    key: str
    kind: str
    severity: str
    title: str
    message: str
    account_id: str | None = None

    def clean(self) -> Alert:
        return dataclasses.replace(
            self,
            title=redact(self.title)[:200],
            message=redact(self.message)[:MAX_MESSAGE],
        )


@dataclasses.dataclass(frozen=True)
class Delivery:
    alert: Alert
    sent: bool  # False: suppressed as a duplicate
    webhook: str  # "off" | "ok" | "failed: …" | "-" (suppressed)
    first_seen_at: dt.datetime
    last_sent_at: dt.datetime | None


# --------------------------------------------------------------------------- webhook


def slack_payload(alert: Alert, first_seen_at: dt.datetime) -> dict[str, Any]:
    """Slack ``text`` + ``blocks``; other receivers (Teams via a bridge, Mattermost,
    a plain HTTP endpoint) read ``text``."""
    icon = ":red_circle:" if alert.severity == "error" else ":large_yellow_circle:"
    text = f"{icon} [{alert.severity.upper()}] {alert.title}"
    return {
        "text": f"{text}\n{alert.message}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": alert.message[:2900]}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"kind `{alert.kind}` · account `{alert.account_id or '-'}` · "
                        f"key `{alert.key}` · first seen {first_seen_at:%Y-%m-%d %H:%M} UTC",
                    }
                ],
            },
        ],
    }


def post_webhook(
    url: str, payload: Mapping[str, Any], timeout_seconds: float, attempts: int = WEBHOOK_ATTEMPTS
) -> tuple[bool, str]:
    """POST with retries inside one overall time budget; never raises.

    4xx other than 429 is not retried (the payload or URL is wrong, retrying cannot
    help).  Returns ``(delivered, detail)``; the detail never contains the URL.
    """
    deadline = time.monotonic() + timeout_seconds
    detail = "not attempted"
    for attempt in range(attempts):
        remaining = deadline - time.monotonic()
        if remaining <= 0.01:
            detail = f"{detail} (time budget of {timeout_seconds:g}s used up)"
            break
        try:
            response = httpx.post(url, json=dict(payload), timeout=httpx.Timeout(remaining))
        except Exception as exc:  # any transport problem: timeout, refused, TLS, bad URL
            detail = f"{type(exc).__name__}: {exc}".replace(url, "<webhook>")
        else:
            if response.status_code < 300:
                return True, f"HTTP {response.status_code}"
            detail = f"HTTP {response.status_code}"
            if 400 <= response.status_code < 500 and response.status_code != 429:
                break
        if attempt + 1 < attempts:
            pause = min(0.1 * 2**attempt, max(deadline - time.monotonic(), 0))
            time.sleep(pause)
    return False, redact(detail)[:300]


# --------------------------------------------------------------------------- state


class AlertState:
    """``{key: {kind, account_id, first_seen_at, last_sent_at}}`` in a locked JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_settings(cls, settings: Settings) -> AlertState:
        return cls(settings.home / "state" / "alerts.json")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict[str, dict[str, Any]]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                data = self._read()
                yield data
                self._write(data)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def read(self) -> dict[str, dict[str, Any]]:
        return self._read()

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: Mapping[str, Any]) -> None:
        text = json.dumps(data, sort_keys=True, indent=1)
        atomic.write_bytes(self.path, text.encode("utf-8"))


# --------------------------------------------------------------------------- alerter

Poster = Callable[[str, Mapping[str, Any], float], tuple[bool, str]]


class Alerter:
    """De-duplicates, then logs, posts and records each alert."""

    def __init__(
        self, settings: Settings, clock: Clock = utcnow, poster: Poster = post_webhook
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.poster = poster
        self.state = AlertState.for_settings(settings)
        self.lake = Lake(settings.lake_dir)
        install_log_redaction([alert_log.name])

    def emit(self, alerts: Sequence[Alert]) -> list[Delivery]:
        now = self.clock()
        window = dt.timedelta(hours=self.settings.alerts.realert_after_hours)
        to_send: list[tuple[Alert, dt.datetime]] = []
        deliveries: list[Delivery] = []
        with self.state.transaction() as state:
            self._forget_old(state, now, window)
            for alert in (a.clean() for a in alerts):
                record = state.get(alert.key)
                last = parse_utc(record.get("last_sent_at")) if record else None
                first = (parse_utc(record.get("first_seen_at")) if record else None) or now
                if last is not None and now - last < window:
                    record["last_seen_at"] = iso_utc(now)  # type: ignore[index]
                    deliveries.append(Delivery(alert, False, "-", first, last))
                    continue
                state[alert.key] = {
                    "kind": alert.kind,
                    "account_id": alert.account_id,
                    "first_seen_at": iso_utc(first),
                    "last_sent_at": iso_utc(now),
                    "last_seen_at": iso_utc(now),
                }
                to_send.append((alert, first))
        for alert, first in to_send:
            deliveries.append(self._deliver(alert, first, now))
        return deliveries

    def resolve(self, keys: Sequence[str]) -> list[str]:
        """Forget keys whose condition cleared; the next occurrence alerts at once."""
        if not keys:
            return []
        resolved = []
        with self.state.transaction() as state:
            for key in keys:
                if state.pop(key, None) is not None:
                    resolved.append(key)
        for key in resolved:
            alert_log.info(json.dumps({"event": "alert_resolved", "alert_key": key}))
        return resolved

    def active_keys(self, kinds: Sequence[str]) -> list[str]:
        return [k for k, v in self.state.read().items() if v.get("kind") in kinds]

    @staticmethod
    def _forget_old(
        state: dict[str, dict[str, Any]], now: dt.datetime, window: dt.timedelta
    ) -> None:
        for key in list(state):
            last = parse_utc(state[key].get("last_sent_at"))
            if last is None or now - last > window + FORGET_AFTER:
                del state[key]

    def _deliver(self, alert: Alert, first_seen: dt.datetime, now: dt.datetime) -> Delivery:
        webhook = "off"
        try:
            url = self.settings.alerts.webhook_url
            if url:
                ok, detail = self.poster(
                    url, slack_payload(alert, first_seen), self.settings.alerts.timeout_seconds
                )
                webhook = "ok" if ok else f"failed: {detail}"
        except Exception as exc:  # a custom poster must not break the sensor either
            webhook = f"failed: {redact(str(exc))[:200]}"
        finally:
            record = {
                "event": "alert",
                "alert_key": alert.key,
                "kind": alert.kind,
                "severity": alert.severity,
                "account_id": alert.account_id,
                "title": alert.title,
                "message": alert.message,
                "first_seen_at": iso_utc(first_seen),
                "sent_at": iso_utc(now),
                "webhook": webhook,
            }
            level = logging.ERROR if alert.severity == "error" else logging.WARNING
            alert_log.log(level, json.dumps(record, sort_keys=True))
        try:
            table = pa.Table.from_pylist(
                [
                    {
                        "alert_key": alert.key,
                        "kind": alert.kind,
                        "account_id": alert.account_id,
                        "severity": alert.severity,
                        "message": f"{alert.title}: {alert.message}",
                        "first_seen_at": first_seen,
                        "last_sent_at": now,
                    }
                ],
                schema=ALERTS_ARROW,
            )
            self.lake.append_file(
                DATASET, alert.account_id or PLATFORM_ACCOUNT, table, tag=alert.kind
            )
        except Exception as exc:
            alert_log.warning(
                json.dumps(
                    {
                        "event": "alert_not_recorded",
                        "alert_key": alert.key,
                        "error": redact(str(exc))[:300],
                    }
                )
            )
        return Delivery(alert, True, webhook, first_seen, now)


# --------------------------------------------------------------------------- asset checks


def _account_of(partition: str | None) -> str | None:
    if not partition:
        return None
    head = partition.split("|", 1)[0]
    return head if head.startswith("act_") else None


def check_alerts(records: Sequence[Any]) -> list[Alert]:
    """Failed check evaluations → one alert per (asset, check, account).

    A range run logs one evaluation per partition and a summary evaluation without a
    partition; the summary is dropped when the same run has per-partition ones, and
    the partitions of one account are gathered into one alert.
    """
    evaluations = []
    partitioned_runs: set[tuple[str, str, str]] = set()
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        evaluation = event.event_specific_data
        if not isinstance(evaluation, dg.AssetCheckEvaluation):
            continue
        asset = evaluation.asset_key.to_user_string()
        if evaluation.partition:
            partitioned_runs.add((record.run_id, asset, evaluation.check_name))
        evaluations.append((record.run_id, asset, evaluation))
    grouped: dict[tuple[str, str, str | None], list[dg.AssetCheckEvaluation]] = {}
    for run_id, asset, evaluation in evaluations:
        if evaluation.passed:
            continue
        if not evaluation.partition and (run_id, asset, evaluation.check_name) in partitioned_runs:
            continue
        account = _account_of(evaluation.partition)
        grouped.setdefault((asset, evaluation.check_name, account), []).append(evaluation)
    alerts = []
    for (asset, check, account), items in sorted(grouped.items(), key=lambda kv: str(kv[0])):
        partitions = sorted({e.partition for e in items if e.partition})
        blocking = any(e.blocking for e in items)
        error = blocking or any(e.severity == dg.AssetCheckSeverity.ERROR for e in items)
        where = ""
        if partitions:
            days = [p.split("|", 1)[-1] for p in partitions]
            where = f" on {len(partitions)} partition(s) ({days[0]}..{days[-1]})"
        reasons = sorted({e.description for e in items if e.description})
        message = f"{asset} check `{check}`{' (blocking)' if blocking else ''} failed{where}."
        if reasons:
            message += " " + " | ".join(reasons[:3])
        alerts.append(
            Alert(
                key=f"check_failed:{asset}:{check}:{account or '-'}",
                kind="check_failed",
                severity="error" if error else "warning",
                title=f"Check failed: {asset}.{check}" + (f" ({account})" if account else ""),
                message=message,
                account_id=account,
            )
        )
    return alerts


#: Run-sharded SQLite only: how far behind the newest seen evaluation each scan starts
#: again, for events stored a little after later-stamped ones of another run.
SHARDED_OVERLAP_SECONDS = 120.0


def scan_check_evaluations(
    instance: dg.DagsterInstance, cursor: str | None, first_since: dt.datetime, batch: int
) -> tuple[list[Any], str | None]:
    """New ``ASSET_CHECK_EVALUATION`` records since the cursor, and the next cursor.

    PostgreSQL (and consolidated SQLite) storage ids are global: the cursor is the last
    storage id seen and each tick asks ``after_cursor`` for it.  The default SQLite
    storage of ``dagster.yaml`` is *run-sharded*: ids restart in every run's database
    and Dagster refuses a plain id cursor there, so the cursor becomes a timestamp
    watermark plus the ``run_id:storage_id`` pairs seen within a short overlap, and the
    query only opens the shards of runs updated since the watermark.
    """
    try:
        state = json.loads(cursor) if cursor else {}
    except ValueError:
        state = {}
    if not isinstance(state, dict):
        state = {}
    event_type = dg.DagsterEventType.ASSET_CHECK_EVALUATION
    if not instance.event_log_storage.is_run_sharded:
        after = state.get("id")
        records_filter = (
            dg.EventRecordsFilter(event_type=event_type, after_cursor=int(after))
            if isinstance(after, int)
            else dg.EventRecordsFilter(
                event_type=event_type, after_timestamp=first_since.timestamp()
            )
        )
        records = list(instance.get_event_records(records_filter, limit=batch, ascending=True))
        if records:
            state = {"id": records[-1].storage_id}
        return records, json.dumps(state) if state else None

    from dagster._core.event_api import RunShardedEventsCursor

    watermark = state.get("ts")
    since = (
        float(watermark) - SHARDED_OVERLAP_SECONDS
        if isinstance(watermark, int | float)
        else first_since.timestamp()
    )
    records = list(
        instance.get_event_records(
            dg.EventRecordsFilter(
                event_type=event_type,
                after_timestamp=since,
                after_cursor=RunShardedEventsCursor(
                    id=0, run_updated_after=dt.datetime.fromtimestamp(since, dt.UTC)
                ),
            ),
            ascending=True,
        )
    )
    seen = set(state.get("seen", []))

    def ident(record: Any) -> str:
        return f"{record.run_id}:{record.storage_id}"

    new = [r for r in records if ident(r) not in seen]
    newest = max([r.event_log_entry.timestamp for r in records], default=None)
    mark = max(newest or since, float(watermark) if isinstance(watermark, int | float) else since)
    keep = sorted(
        ident(r) for r in records if r.event_log_entry.timestamp > mark - SHARDED_OVERLAP_SECONDS
    )
    return new, json.dumps({"ts": mark, "seen": keep})


def build_check_alerts_sensor(
    clock: Clock = utcnow, poster: Poster = post_webhook, batch: int = 1000
) -> dg.SensorDefinition:
    @dg.sensor(
        name="asset_check_alerts",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Alerts on failed asset checks (blocking or not): scans check "
        "evaluations after the last one seen (the cursor).",
    )
    def asset_check_alerts(
        context: dg.SensorEvaluationContext, platform: PlatformResource
    ) -> dg.SensorResult:
        settings = platform.settings()
        # First tick: look back one re-alert window, not the whole history.
        first_since = clock() - dt.timedelta(hours=settings.alerts.realert_after_hours)
        records, cursor = scan_check_evaluations(
            context.instance, context.cursor, first_since, batch
        )
        deliveries = Alerter(settings, clock, poster).emit(check_alerts(records))
        _log_deliveries(context, deliveries)
        return dg.SensorResult(
            cursor=cursor,
            skip_reason=None if deliveries else f"{len(records)} new check evaluation(s)",
        )

    return asset_check_alerts


# --------------------------------------------------------------------------- failed runs


def run_scope(tags: Mapping[str, str]) -> str | None:
    """The account(s) a run covered, from its partition or range tags."""
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
        PARTITION_NAME_TAG,
    )

    if PARTITION_NAME_TAG in tags:
        return _account_of(tags[PARTITION_NAME_TAG])
    start = _account_of(tags.get(ASSET_PARTITION_RANGE_START_TAG))
    end = _account_of(tags.get(ASSET_PARTITION_RANGE_END_TAG))
    if start and end and start != end:
        return f"{start}..{end}"
    return start or end


def run_failure_alert(
    run: dg.DagsterRun, failure_message: str | None, step_messages: Sequence[str]
) -> Alert:
    tags = run.tags
    scope = run_scope(tags)
    assets = sorted(k.to_user_string() for k in (run.asset_selection or []))
    what = ",".join(assets) if assets else run.job_name
    account = scope if scope and ".." not in scope else None
    lines = [f"Run {run.run_id} ({what}) failed."]
    if tags.get(TRIGGER_TAG):
        lines.append(f"Triggered by: {tags[TRIGGER_TAG]}.")
    if scope:
        lines.append(f"Accounts: {scope}.")
    details = list(step_messages) or ([failure_message] if failure_message else [])
    lines += [d.strip() for d in details[:3] if d and d.strip()]
    return Alert(
        key=f"run_failed:{scope or '-'}:{what}",
        kind="run_failed",
        severity="error",
        title=f"Run failed: {what}" + (f" ({scope})" if scope else ""),
        message="\n".join(lines),
        account_id=account,
    )


def build_run_failure_sensor(
    clock: Clock = utcnow, poster: Poster = post_webhook
) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="run_failure_alerts",
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description="Alerts on every failed run (de-duplicated per accounts + assets).",
    )
    def run_failure_alerts(context: dg.RunFailureSensorContext, platform: PlatformResource) -> None:
        steps = []
        with contextlib.suppress(Exception):
            for event in context.get_step_failure_events():
                error = event.step_failure_data.error if event.step_failure_data else None
                if error is not None:
                    steps.append(error.message)
        alert = run_failure_alert(context.dagster_run, context.failure_event.message, steps)
        deliveries = Alerter(platform.settings(), clock, poster).emit([alert])
        _log_deliveries(context, deliveries)

    return run_failure_alerts


# --------------------------------------------------------------------------- health


def health_alerts(now: dt.datetime, settings: Settings) -> list[Alert]:
    """Token invalid / expiring and stale accounts, from the lake (no API call)."""
    lake = Lake(settings.lake_dir)
    known = known_accounts(lake)
    stale_after = dt.timedelta(hours=settings.alerts.stale_after_hours)
    warn_days = settings.tokens.warn_within_days
    alerts = []
    for account in settings.enabled_accounts:
        account_id = account.id
        row = latest_token_row(lake, account_id)
        if row is not None and row.get("is_valid") is False:
            reason = row.get("last_error_message") or "debug_token says is_valid=false"
            alerts.append(
                Alert(
                    key=f"token_invalid:{account_id}",
                    kind="token_invalid",
                    severity="error",
                    title=f"Token invalid: {account_id}",
                    message=f"The token in environment variable {account.token_env} cannot be "
                    f"used for {account_id} (checked {row['checked_at']:%Y-%m-%d %H:%M} UTC): "
                    f"{reason}. Issue a new token and set it; the failed days are re-pulled "
                    "automatically once it works.",
                    account_id=account_id,
                )
            )
        elif row is not None and row.get("is_valid"):
            left = _days_left(row, now)
            if left is not None and left < warn_days:
                alerts.append(
                    Alert(
                        key=f"token_expiring:{account_id}",
                        kind="token_expiring",
                        severity="error" if left < 2 else "warning",
                        title=f"Token expires in {max(left, 0):.1f} day(s): {account_id}",
                        message=f"The token in environment variable {account.token_env} for "
                        f"{account_id} expires in {max(left, 0):.1f} day(s) (warning threshold "
                        f"{warn_days} days). Refresh or replace it before it stops the pulls.",
                        account_id=account_id,
                    )
                )
        last = last_success(lake, account_id, "ad_insights_daily")
        reference = last or (known[account_id].first_seen_at if account_id in known else None)
        if reference is not None and now - reference > stale_after:
            hours = (now - reference).total_seconds() / 3600
            since = f"since {last:%Y-%m-%d %H:%M} UTC" if last else "ever"
            alerts.append(
                Alert(
                    key=f"stale:{account_id}",
                    kind="stale",
                    severity="error",
                    title=f"Account stale: {account_id}",
                    message=f"No successful ad_insights_daily pull for {account_id} {since} "
                    f"({hours:.0f} h; threshold {settings.alerts.stale_after_hours:g} h). "
                    "Look at the latest failed run or alert for the cause.",
                    account_id=account_id,
                )
            )
    return alerts


def _days_left(row: Mapping[str, Any], now: dt.datetime) -> float | None:
    expires = row.get("expires_at")
    if isinstance(expires, dt.datetime):
        return (expires - now).total_seconds() / 86400
    days_left = row.get("days_left")
    checked = row.get("checked_at")
    if isinstance(days_left, int | float) and isinstance(checked, dt.datetime):
        return float(days_left) - (now - checked).total_seconds() / 86400
    return None


def build_health_alerts_sensor(
    clock: Clock = utcnow, poster: Poster = post_webhook, minimum_interval_seconds: int = 900
) -> dg.SensorDefinition:
    @dg.sensor(
        name="ingestion_health_alerts",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Alerts on invalid or soon-expiring tokens (token_health) and on "
        "accounts without a successful pull for alerts.stale_after_hours.",
    )
    def ingestion_health_alerts(
        context: dg.SensorEvaluationContext, platform: PlatformResource
    ) -> dg.SkipReason:
        settings = platform.settings()
        alerter = Alerter(settings, clock, poster)
        alerts = health_alerts(clock(), settings)
        active = {a.key for a in alerts}
        resolved = alerter.resolve(
            [k for k in alerter.active_keys(HEALTH_KINDS) if k not in active]
        )
        deliveries = alerter.emit(alerts)
        _log_deliveries(context, deliveries)
        accounts = len(enabled_accounts(settings))
        return dg.SkipReason(
            f"{accounts} account(s): {len(alerts)} open condition(s), "
            f"{sum(d.sent for d in deliveries)} alert(s) sent, {len(resolved)} resolved"
        )

    return ingestion_health_alerts


def _log_deliveries(context: Any, deliveries: Sequence[Delivery]) -> None:
    for d in deliveries:
        if d.sent:
            context.log.warning(f"alert {d.alert.key} sent (webhook: {d.webhook})")
        else:
            context.log.info(f"alert {d.alert.key} suppressed (sent {d.last_sent_at:%H:%M})")


def build_alert_sensors(
    clock: Clock = utcnow, poster: Poster = post_webhook
) -> list[dg.SensorDefinition]:
    return [
        build_check_alerts_sensor(clock, poster),
        build_run_failure_sensor(clock, poster),
        build_health_alerts_sensor(clock, poster),
    ]

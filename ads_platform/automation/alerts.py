"""Alerts: one per (account, cause) — whatever raised it — and one "resolved" when it clears.

Every alert goes three ways, none of which may break the sensor that raised it:

* a structured JSON log line on the ``ads_platform.alerts`` logger (always);
* a Slack-compatible webhook POST when ``alerts.webhook_url`` is set, retried a couple
  of times within ``alerts.timeout_seconds`` in total (a dead or slow receiver costs
  one sensor tick at most that long, never an exception);
* a row appended to ``lake/alerts/account_id=<id or _platform>/`` for the marts.

What a person acts on is an *incident*: an account and a cause
(:mod:`ads_platform.ingestion.causes`: token, permission, zero guard …), keyed
``incident:<account>:<cause>``.  A failed run raises one per (account, cause) found in
the failed or blocked attempts it recorded (the attempts log, read by run id), a
failed check one per (account, cause) of the attempts it blocked, the health sensor
one per invalid token or stale account (with the cause of its latest failures).  The
same key from any of them is the same incident: the first sends, the others are
suppressed.  Only what has no account or no recorded cause keeps a key of its own
(``run_failed:<job or assets>``: the marts run, a crash before any attempt).

An incident is sent again after ``alerts.realert_after_hours`` while it lasts.  It
*resolves* when the lake shows the cause cleared: the newest run that attempted the
account's affected datasets since the incident stored something and hit the cause no
more (for a token: and no invalid token row came after it).  The health sensor checks
open incidents every tick; a resolved incident is said once (log line, webhook, a
``resolved`` row), and its next occurrence alerts at once.  Conditions the health
sensor re-evaluates as a whole (token expiring, an account nobody pulls) resolve when
the condition is gone.

The de-duplication state is a small JSON file under the platform home, shared by all
alert sensors (a run-failure sensor has no cursor of its own to keep it in), guarded
by a file lock because the daemon may evaluate sensors in parallel.  Messages are
redacted (:func:`ads_platform.meta.redaction.redact`) before they go anywhere; the
webhook URL (a secret for Slack) is never logged.
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

from ads_platform import atomic
from ads_platform.automation.common import (
    TRIGGER_TAG,
    Clock,
    enabled_accounts,
    iso_utc,
    parse_utc,
    utcnow,
)
from ads_platform.automation.lakeview import (
    ATTEMPTS,
    attempts_of_run,
    attempts_since,
    known_accounts,
    last_success,
    latest_token_row,
    read_rows,
    recent_files,
    token_rows_since,
)
from ads_platform.datasets import AD_INSIGHTS, ALERT_LOG, TOKEN_CHECKS
from ads_platform.ingestion.causes import CAUSE_TEXT, Cause, cause_of
from ads_platform.lake import Lake
from ads_platform.meta.redaction import install_log_redaction, redact, register_secret
from ads_platform.resources import PlatformResource
from ads_platform.settings import Settings

alert_log = logging.getLogger("ads_platform.alerts")

DATASET = ALERT_LOG.name
PLATFORM_ACCOUNT = "_platform"
MAX_MESSAGE = 2000
WEBHOOK_ATTEMPTS = 3
#: Keys not re-sent for this long after their re-alert window are forgotten.
FORGET_AFTER = dt.timedelta(days=7)
INSIGHTS = AD_INSIGHTS.name

#: Kind of every (account, cause) alert; it resolves when the lake shows the cause cleared.
INCIDENT = "incident"
#: Conditions the health sensor re-evaluates as a whole: resolved when no longer raised.
CONDITION_KINDS = ("token_expiring", "stale")
#: Checks whose condition the health sensor already alerts on from the same lake rows.
HEALTH_OWNED_CHECKS = frozenset({(TOKEN_CHECKS.name, "token_valid")})
#: Attempt statuses that carry a cause.
FAILED_STATUSES = ("failed", "blocked")
#: How far before an incident's evidence the lake is read to judge whether it cleared.
EVIDENCE_MARGIN = dt.timedelta(hours=1)
#: Open incidents are judged on at most this much recent lake: the health sensor ticks
#: every few minutes, so a clearing run is seen long before it leaves this window, and an
#: incident open for weeks does not make every tick read weeks of files.
RESOLUTION_LOOKBACK = dt.timedelta(days=2)


@dataclasses.dataclass(frozen=True)
class Alert:
    key: str
    kind: str
    severity: str
    title: str
    message: str
    account_id: str | None = None
    cause: str | None = None
    #: Newest lake time (attempt, token check) behind the alert: a run that clears the
    #: cause must come after it.
    evidence_at: dt.datetime | None = None
    #: Datasets the cause hit (the clearing run must attempt one of them); empty: any.
    datasets: tuple[str, ...] = ()

    def clean(self) -> Alert:
        return dataclasses.replace(
            self, title=redact(self.title)[:200], message=_fit(redact(self.message))
        )


def _fit(message: str) -> str:
    """At most MAX_MESSAGE characters, keeping the last line (what to do) whole."""
    if len(message) <= MAX_MESSAGE:
        return message
    head, _, last = message.rpartition("\n")
    last = last[: MAX_MESSAGE // 2]
    return f"{head[: MAX_MESSAGE - len(last) - 2]}…\n{last}" if head else last


@dataclasses.dataclass(frozen=True)
class Delivery:
    alert: Alert
    sent: bool  # False: suppressed as a duplicate
    webhook: str  # "off" | "ok" | "failed: …" | "-" (suppressed)
    first_seen_at: dt.datetime
    last_sent_at: dt.datetime | None
    resolved: bool = False


# --------------------------------------------------------------------------- incidents


def incident_key(account_id: str, cause: Cause) -> str:
    return f"{INCIDENT}:{account_id}:{cause.value}"


def account_name(settings: Settings | None, account_id: str) -> str:
    """``act_1 (Shop EU)`` with the account's label from the settings, else the id."""
    label = None
    if settings is not None:
        with contextlib.suppress(KeyError):
            label = settings.account(account_id).label
    return f"{account_id} ({label})" if label else account_id


def incident_alert(
    settings: Settings | None,
    account_id: str,
    cause: Cause,
    what: Sequence[str],
    specific: Sequence[str],
    *,
    severity: str = "error",
    evidence_at: dt.datetime | None = None,
    datasets: Sequence[str] = (),
) -> Alert:
    """The one shape of an (account, cause) alert, whoever raises it.

    Title: the account (and its label) and the cause's label.  Message: what happened
    (``what``), then the cause's action and the most recent specific message
    (``specific``, newest first): "What to do: re-authorize. token for act_1 expired…".
    """
    text = CAUSE_TEXT[cause]
    details = list(dict.fromkeys(m.strip()[:600] for m in specific if m and m.strip()))
    todo = f"What to do: {text.action}." + (f" {details[0]}" if details else "")
    lines = [*what, *(f"Also: {d}" for d in details[1:3]), todo]
    return Alert(
        key=incident_key(account_id, cause),
        kind=INCIDENT,
        severity=severity,
        title=f"{account_name(settings, account_id)}: {text.label}",
        message="\n".join(lines),
        account_id=account_id,
        cause=cause.value,
        evidence_at=evidence_at,
        datasets=tuple(sorted(set(datasets))),
    )


def _days(rows: Sequence[Mapping[str, Any]]) -> str:
    days = sorted({r["date_day"] for r in rows if r.get("date_day") is not None})
    if not days:
        return ""
    return f" on {len(days)} day(s) ({days[0]}..{days[-1]})"


def _newest(rows: Sequence[Mapping[str, Any]], column: str) -> dt.datetime | None:
    return max((r[column] for r in rows if r.get(column) is not None), default=None)


def incident_cleared(
    lake: Lake,
    account_id: str,
    cause: Cause,
    evidence_at: dt.datetime | None,
    datasets: Sequence[str] = (),
    since: dt.datetime | None = None,
) -> dt.datetime | None:
    """When the lake shows ``cause`` cleared for the account, else ``None``.

    Cleared: the newest run that attempted the account's affected datasets (any
    dataset for a token) came after the evidence, stored something and hit the cause
    no more; for a token also no invalid token_health row after that success (a valid
    token alone is not enough: a pull has to succeed with it).  Runs, not single
    attempts, are compared: one run can store Monday and block Tuesday.
    """
    since = since or (evidence_at - EVIDENCE_MARGIN if evidence_at else None)
    if since is None:
        return None
    rows = [
        r
        for r in attempts_since(lake, account_id, since)
        if r["status"] in ("success", *FAILED_STATUSES)
        and (cause is Cause.TOKEN or not datasets or r["dataset"] in datasets)
    ]
    runs: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        runs.setdefault(str(row["run_id"]), []).append(row)
    if not runs:
        return None
    latest = max(runs.values(), key=lambda items: _newest(items, "attempted_at") or since)
    newest = _newest(latest, "attempted_at")
    if newest is None or (evidence_at is not None and newest <= evidence_at):
        return None
    if any(r["status"] in FAILED_STATUSES and cause_of(r["error_kind"]) is cause for r in latest):
        return None
    stored = _newest([r for r in latest if r["status"] == "success"], "attempted_at")
    if stored is None:
        return None
    if cause is Cause.TOKEN and any(
        t.get("is_valid") is False and t["checked_at"] > stored
        for t in token_rows_since(lake, account_id, since)
    ):
        return None
    return stored


def still_open(lake: Lake, alerts: Sequence[Alert]) -> list[Alert]:
    """Drop incidents the lake already shows cleared: a sensor that sees a failure late
    (a busy daemon, a backlog of failed runs) must not re-open what a later pull fixed."""
    return [
        a
        for a in alerts
        if a.kind != INCIDENT
        or a.account_id is None
        or a.cause is None
        or incident_cleared(lake, a.account_id, Cause(a.cause), a.evidence_at, a.datasets) is None
    ]


def open_cause(
    lake: Lake, account_id: str, after: dt.datetime
) -> tuple[Cause, dt.datetime, str, str] | None:
    """``(cause, when, message, dataset)`` of the account's newest failed or blocked
    attempt after ``after`` (its last success), or of its latest token check if that
    is newer and invalid.  Files are read newest first and only until one holds a
    failure: an account broken for weeks has many."""
    found: list[tuple[Cause, dt.datetime, str, str]] = []
    for path in recent_files(lake, ATTEMPTS, account_id, after):
        found = [
            (cause_of(r["error_kind"]), r["attempted_at"], str(r["message"] or ""), r["dataset"])
            for r in read_rows([path])
            if r["status"] in FAILED_STATUSES and r["attempted_at"] and r["attempted_at"] > after
        ]
        if found:
            break
    token = latest_token_row(lake, account_id)
    if token is not None and token.get("is_valid") is False and token["checked_at"] > after:
        found.append(
            (Cause.TOKEN, token["checked_at"], str(token.get("last_error_message") or ""), INSIGHTS)
        )
    return max(found, key=lambda f: f[1]) if found else None


# --------------------------------------------------------------------------- webhook


def slack_payload(
    alert: Alert, first_seen_at: dt.datetime, resolved: bool = False
) -> dict[str, Any]:
    """Slack ``text`` + ``blocks``; other receivers (Teams via a bridge, Mattermost,
    a plain HTTP endpoint) read ``text``."""
    if resolved:
        icon, label = ":white_check_mark:", "RESOLVED"
    else:
        icon = ":red_circle:" if alert.severity == "error" else ":large_yellow_circle:"
        label = alert.severity.upper()
    text = f"{icon} [{label}] {alert.title}"
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

    The URL is a credential (Slack puts it in the path) and httpx logs every request's
    URL at INFO: it is registered as a secret and httpx's loggers are redacted before the
    first request, whatever the log level a host application set.
    """
    register_secret(url)
    install_log_redaction()
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
    """De-duplicates, then logs, posts and records each alert; says each resolution once."""

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
                evidence = _later(parse_utc(record.get("evidence_at")) if record else None, alert)
                datasets = sorted({*(record or {}).get("datasets", []), *alert.datasets})
                if record is not None and last is not None and now - last < window:
                    record.update(
                        last_seen_at=iso_utc(now),
                        evidence_at=iso_utc(evidence) if evidence else None,
                        datasets=datasets,
                    )
                    deliveries.append(Delivery(alert, False, "-", first, last))
                    continue
                state[alert.key] = {
                    "kind": alert.kind,
                    "account_id": alert.account_id,
                    "cause": alert.cause,
                    "severity": alert.severity,
                    "title": alert.title,
                    "first_seen_at": iso_utc(first),
                    "last_sent_at": iso_utc(now),
                    "last_seen_at": iso_utc(now),
                    "evidence_at": iso_utc(evidence) if evidence else None,
                    "datasets": datasets,
                }
                to_send.append((alert, first))
        for alert, first in to_send:
            deliveries.append(self._deliver(alert, first, now))
        return deliveries

    def resolve(self, reasons: Mapping[str, str]) -> list[Delivery]:
        """Close the incidents ``{key: why it cleared}`` that are still open, and say
        so once per incident (two sensors resolving at once: the state lock lets one)."""
        if not reasons:
            return []
        now = self.clock()
        closed: list[tuple[str, dict[str, Any]]] = []
        with self.state.transaction() as state:
            for key, _ in sorted(reasons.items()):
                record = state.pop(key, None)
                if record is not None:
                    closed.append((key, record))
        return [self._deliver_resolved(key, record, reasons[key], now) for key, record in closed]

    def open_alerts(self, kinds: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.state.read().items() if v.get("kind") in kinds}

    @staticmethod
    def _forget_old(
        state: dict[str, dict[str, Any]], now: dt.datetime, window: dt.timedelta
    ) -> None:
        for key in list(state):
            last = parse_utc(state[key].get("last_sent_at"))
            if last is None or now - last > window + FORGET_AFTER:
                del state[key]

    def _post(self, alert: Alert, first_seen: dt.datetime, resolved: bool) -> str:
        """The webhook outcome in words; never raises (a custom poster may)."""
        try:
            url = self.settings.alerts.webhook_url
            if not url:
                return "off"
            ok, detail = self.poster(
                url,
                slack_payload(alert, first_seen, resolved),
                self.settings.alerts.timeout_seconds,
            )
            return "ok" if ok else f"failed: {detail}"
        except Exception as exc:
            return f"failed: {redact(str(exc))[:200]}"

    def _record(
        self,
        alert: Alert,
        first_seen: dt.datetime,
        last_sent: dt.datetime,
        resolved_at: dt.datetime | None,
    ) -> None:
        """One row for the ``alerts`` mart; a failed write is logged, never raised."""
        try:
            table = ALERT_LOG.table(
                [
                    {
                        "alert_key": alert.key,
                        "kind": alert.kind,
                        "account_id": alert.account_id,
                        "severity": alert.severity,
                        "message": f"{alert.title}: {alert.message}",
                        "first_seen_at": first_seen,
                        "last_sent_at": last_sent,
                        "title": alert.title,
                        "cause": alert.cause,
                        "status": "resolved" if resolved_at else "open",
                        "resolved_at": resolved_at,
                    }
                ]
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

    def _deliver(self, alert: Alert, first_seen: dt.datetime, now: dt.datetime) -> Delivery:
        webhook = self._post(alert, first_seen, resolved=False)
        record = {
            "event": "alert",
            "alert_key": alert.key,
            "kind": alert.kind,
            "severity": alert.severity,
            "account_id": alert.account_id,
            "cause": alert.cause,
            "title": alert.title,
            "message": alert.message,
            "first_seen_at": iso_utc(first_seen),
            "sent_at": iso_utc(now),
            "webhook": webhook,
        }
        level = logging.ERROR if alert.severity == "error" else logging.WARNING
        alert_log.log(level, json.dumps(record, sort_keys=True))
        self._record(alert, first_seen, now, None)
        return Delivery(alert, True, webhook, first_seen, now)

    def _deliver_resolved(
        self, key: str, record: Mapping[str, Any], reason: str, now: dt.datetime
    ) -> Delivery:
        title = str(record.get("title") or key)
        alert = Alert(
            key=key,
            kind=str(record.get("kind") or INCIDENT),
            severity=str(record.get("severity") or "error"),
            title=f"Resolved: {title}",
            message=reason,
            account_id=record.get("account_id"),
            cause=record.get("cause"),
        ).clean()
        first_seen = parse_utc(record.get("first_seen_at")) or now
        last_sent = parse_utc(record.get("last_sent_at")) or now
        webhook = self._post(alert, first_seen, resolved=True)
        alert_log.info(
            json.dumps(
                {
                    "event": "alert_resolved",
                    "alert_key": key,
                    "kind": alert.kind,
                    "account_id": alert.account_id,
                    "cause": alert.cause,
                    "title": alert.title,
                    "message": alert.message,
                    "first_seen_at": iso_utc(first_seen),
                    "resolved_at": iso_utc(now),
                    "webhook": webhook,
                },
                sort_keys=True,
            )
        )
        self._record(dataclasses.replace(alert, title=title), first_seen, last_sent, now)
        return Delivery(alert, True, webhook, first_seen, now, resolved=True)


def _later(previous: dt.datetime | None, alert: Alert) -> dt.datetime | None:
    candidates = [t for t in (previous, alert.evidence_at) if t is not None]
    return max(candidates) if candidates else None


# --------------------------------------------------------------------------- asset checks


def _account_of(partition: str | None) -> str | None:
    if not partition:
        return None
    head = partition.split("|", 1)[0]
    return head if head.startswith("act_") else None


def _day_of(partition: str | None) -> str | None:
    if not partition or "|" not in partition:
        return None
    return partition.split("|", 1)[1]


#: ``attempts_of(run_id) -> rows``: what a run recorded in the attempts log.
RunAttempts = Callable[[str], Sequence[Mapping[str, Any]]]


def check_alerts(
    records: Sequence[Any],
    run_attempts: RunAttempts | None = None,
    settings: Settings | None = None,
) -> list[Alert]:
    """Failed check evaluations → one alert per (account, cause), else per (asset, check,
    account).

    A blocking check that kept a partition out recorded a blocked attempt for it in
    the same run (``zero_guard``, ``validation`` …): its cause makes the alert the same
    incident the failed run raises.  A range run logs one evaluation per partition and
    a summary evaluation without a partition; the summary is dropped when the same run
    has per-partition ones, and the partitions of one account are gathered into one
    alert.  Token checks are left to the health sensor (same facts, one alert).
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
        if (asset, evaluation.check_name) in HEALTH_OWNED_CHECKS:
            continue
        if evaluation.partition:
            partitioned_runs.add((record.run_id, asset, evaluation.check_name))
        evaluations.append((record.run_id, asset, evaluation))
    blocked = _BlockedAttempts(run_attempts)
    grouped: dict[tuple[str, str, str | None, Cause | None], list[Any]] = {}
    for run_id, asset, evaluation in evaluations:
        if evaluation.passed:
            continue
        if not evaluation.partition and (run_id, asset, evaluation.check_name) in partitioned_runs:
            continue
        account = _account_of(evaluation.partition)
        attempt = blocked.get(run_id, asset, account, _day_of(evaluation.partition))
        cause = cause_of(attempt["error_kind"]) if attempt is not None else None
        grouped.setdefault((asset, evaluation.check_name, account, cause), []).append(
            (evaluation, attempt)
        )
    alerts: dict[str, Alert] = {}
    for (asset, check, account, cause), items in sorted(grouped.items(), key=lambda kv: str(kv[0])):
        alert = _check_alert(settings, asset, check, account, cause, items)
        if alert.key in alerts:  # two checks, one cause: one incident
            first = alerts[alert.key]
            alert = dataclasses.replace(
                first,
                message=alert.message.rsplit("\n", 1)[0] + "\n" + first.message,
                evidence_at=_later(first.evidence_at, alert),
                datasets=tuple(sorted({*first.datasets, *alert.datasets})),
            )
        alerts[alert.key] = alert
    return list(alerts.values())


def _check_alert(
    settings: Settings | None,
    asset: str,
    check: str,
    account: str | None,
    cause: Cause | None,
    items: Sequence[tuple[dg.AssetCheckEvaluation, Mapping[str, Any] | None]],
) -> Alert:
    evaluations = [e for e, _ in items]
    partitions = sorted({e.partition for e in evaluations if e.partition})
    blocking = any(e.blocking for e in evaluations)
    error = blocking or any(e.severity == dg.AssetCheckSeverity.ERROR for e in evaluations)
    where = ""
    if partitions:
        days = [p.split("|", 1)[-1] for p in partitions]
        where = f" on {len(partitions)} partition(s) ({days[0]}..{days[-1]})"
    reasons = sorted({e.description for e in evaluations if e.description})
    message = f"{asset} check `{check}`{' (blocking)' if blocking else ''} failed{where}."
    if account is not None and cause is not None:
        attempts = [a for _, a in items if a is not None]
        newest_first = sorted(attempts, key=lambda a: a["attempted_at"], reverse=True)
        return incident_alert(
            settings,
            account,
            cause,
            [message],
            [str(a.get("message") or "") for a in newest_first] + reasons,
            severity="error" if error else "warning",
            evidence_at=_newest(attempts, "attempted_at"),
            datasets=[asset],
        )
    if reasons:
        message += " " + " | ".join(reasons[:3])
    return Alert(
        key=f"check_failed:{asset}:{check}:{account or '-'}",
        kind="check_failed",
        severity="error" if error else "warning",
        title=f"Check failed: {asset}.{check}"
        + (f" ({account_name(settings, account)})" if account else ""),
        message=message,
        account_id=account,
    )


class _BlockedAttempts:
    """The blocked/failed attempt rows of each run, read once per run and indexed by
    (dataset, account, day)."""

    def __init__(self, run_attempts: RunAttempts | None) -> None:
        self.run_attempts = run_attempts
        self.by_run: dict[str, dict[tuple[str, str, str | None], Mapping[str, Any]]] = {}

    def get(
        self, run_id: str, dataset: str, account: str | None, day: str | None
    ) -> Mapping[str, Any] | None:
        if account is None or self.run_attempts is None:
            return None
        if run_id not in self.by_run:
            index: dict[tuple[str, str, str | None], Mapping[str, Any]] = {}
            for row in self.run_attempts(run_id):
                if row.get("status") in FAILED_STATUSES:
                    when = row.get("date_day")
                    index[(row["dataset"], row["account_id"], str(when) if when else None)] = row
            self.by_run[run_id] = index
        return self.by_run[run_id].get((dataset, account, day))


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
        description="Alerts on failed asset checks (blocking or not), one per (account, "
        "cause) when the check blocked a partition: scans check evaluations after the "
        "last one seen (the cursor).",
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
        lake = Lake(settings.lake_dir)
        oldest = min((r.event_log_entry.timestamp for r in records), default=None)
        since = (
            dt.datetime.fromtimestamp(oldest, dt.UTC) - dt.timedelta(days=1)
            if oldest is not None
            else None
        )
        alerts = check_alerts(
            records, lambda run_id: attempts_of_run(lake, run_id, since), settings
        )
        deliveries = Alerter(settings, clock, poster).emit(still_open(lake, alerts))
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


def _run_what(run: dg.DagsterRun) -> str:
    assets = sorted(k.to_user_string() for k in (run.asset_selection or []))
    return ",".join(assets) if assets else run.job_name


def run_failure_alerts(
    run: dg.DagsterRun,
    failure_message: str | None,
    step_messages: Sequence[str],
    attempts: Sequence[Mapping[str, Any]],
    settings: Settings | None = None,
) -> list[Alert]:
    """A failed run → one alert per (account, cause) among the attempts it failed or
    blocked (``attempts``: what the run recorded in the attempts log); a run that
    recorded none (the marts, a crash before any attempt) → one alert for the run."""
    what = _run_what(run)
    trigger = run.tags.get(TRIGGER_TAG)
    grouped: dict[tuple[str, Cause], list[Mapping[str, Any]]] = {}
    for row in attempts:
        if row.get("status") in FAILED_STATUSES and row.get("account_id"):
            key = (str(row["account_id"]), cause_of(row.get("error_kind")))
            grouped.setdefault(key, []).append(row)
    if not grouped:
        return [run_failure_alert(run, failure_message, step_messages)]
    alerts = []
    for (account_id, cause), rows in sorted(grouped.items()):
        datasets = sorted({str(r["dataset"]) for r in rows})
        verb = "blocked" if all(r["status"] == "blocked" for r in rows) else "not stored"
        lines = [f"Run {run.run_id} ({what}) failed: {', '.join(datasets)} {verb}{_days(rows)}."]
        if trigger:
            lines.append(f"Triggered by: {trigger}.")
        newest_first = sorted(rows, key=lambda r: r["attempted_at"], reverse=True)
        alerts.append(
            incident_alert(
                settings,
                account_id,
                cause,
                lines,
                [str(r.get("message") or "") for r in newest_first],
                evidence_at=_newest(rows, "attempted_at"),
                datasets=datasets,
            )
        )
    return alerts


def run_failure_alert(
    run: dg.DagsterRun, failure_message: str | None, step_messages: Sequence[str]
) -> Alert:
    """A failed run without per-account attempts: one alert keyed by job/assets (and
    the account of a one-account run), pointing at the run's logs."""
    tags = run.tags
    scope = run_scope(tags)
    what = _run_what(run)
    account = scope if scope and ".." not in scope else None
    lines = [f"Run {run.run_id} ({what}) failed."]
    if tags.get(TRIGGER_TAG):
        lines.append(f"Triggered by: {tags[TRIGGER_TAG]}.")
    if scope:
        lines.append(f"Accounts: {scope}.")
    details = list(step_messages) or ([failure_message] if failure_message else [])
    lines += [d.strip() for d in details[:3] if d and d.strip()]
    lines.append(f"What to do: {CAUSE_TEXT[Cause.INTERNAL].action}.")
    return Alert(
        key=f"run_failed:{what}" + (f":{account}" if account else ""),
        kind="run_failed",
        severity="error",
        title=f"Run failed: {what}" + (f" ({account})" if account else ""),
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
        description="Alerts on every failed run: one alert per (account, cause) of the "
        "partitions it failed or blocked (from the attempts log), else one per job.",
    )
    def run_failure_alerts_sensor(
        context: dg.RunFailureSensorContext, platform: PlatformResource
    ) -> None:
        settings = platform.settings()
        run = context.dagster_run
        steps = []
        with contextlib.suppress(Exception):
            for event in context.get_step_failure_events():
                error = event.step_failure_data.error if event.step_failure_data else None
                if error is not None:
                    steps.append(error.message)
        since = None
        with contextlib.suppress(Exception):
            record = context.instance.get_run_record_by_id(run.run_id)
            if record is not None:
                since = record.create_timestamp - dt.timedelta(minutes=5)
        lake = Lake(settings.lake_dir)
        attempts = attempts_of_run(lake, run.run_id, since)
        alerts = run_failure_alerts(run, context.failure_event.message, steps, attempts, settings)
        deliveries = Alerter(settings, clock, poster).emit(still_open(lake, alerts))
        _log_deliveries(context, deliveries)

    return run_failure_alerts_sensor


# --------------------------------------------------------------------------- health


def health_alerts(now: dt.datetime, settings: Settings) -> list[Alert]:
    """Invalid token, token expiring, stale account: from the lake (no API call).

    An invalid token and a stale account whose latest failures have a cause are
    (account, cause) incidents: the same ones failed runs and checks raise.
    """
    lake = Lake(settings.lake_dir)
    known = known_accounts(lake)
    stale_after = dt.timedelta(hours=settings.alerts.stale_after_hours)
    warn_days = settings.tokens.warn_within_days
    alerts: dict[str, Alert] = {}

    def add(alert: Alert) -> None:
        if alert.key in alerts:  # stale because of the token it is already about
            first = alerts[alert.key]
            lines = first.message.split("\n")
            alert = dataclasses.replace(
                first,
                message="\n".join([*lines[:-1], alert.message.split("\n")[0], lines[-1]]),
                evidence_at=_later(first.evidence_at, alert),
                datasets=tuple(sorted({*first.datasets, *alert.datasets})),
            )
        alerts[alert.key] = alert

    for account in settings.enabled_accounts:
        account_id = account.id
        row = latest_token_row(lake, account_id)
        if (
            row is not None
            and row.get("is_valid") is False
            and incident_cleared(lake, account_id, Cause.TOKEN, row["checked_at"]) is None
        ):
            reason = row.get("last_error_message") or "debug_token says is_valid=false"
            add(
                incident_alert(
                    settings,
                    account_id,
                    Cause.TOKEN,
                    [
                        f"The token for {account_id} was rejected "
                        f"(checked {row['checked_at']:%Y-%m-%d %H:%M} UTC): {reason}."
                    ],
                    [
                        f"Re-authorize the Meta user and set the new token in environment "
                        f"variable {account.token_env}; the next pull uses it (it replaces "
                        "a token the platform refreshed), and the failed days are re-pulled "
                        "automatically."
                    ],
                    evidence_at=row["checked_at"],
                )
            )
        elif row is not None and row.get("is_valid"):
            left = _days_left(row, now)
            if left is not None and left < warn_days:
                add(
                    Alert(
                        key=f"token_expiring:{account_id}",
                        kind="token_expiring",
                        severity="error" if left < 2 else "warning",
                        title=f"Token expires in {max(left, 0):.1f} day(s): "
                        f"{account_name(settings, account_id)}",
                        message=f"The token for {account_id} (environment variable "
                        f"{account.token_env}) expires in {max(left, 0):.1f} day(s) (warning "
                        f"threshold {warn_days} days). Refresh or replace it before it stops "
                        "the pulls.",
                        account_id=account_id,
                    )
                )
        stale = _stale_alert(lake, settings, account_id, now, stale_after, known)
        if stale is not None:
            add(stale)
    return list(alerts.values())


def _stale_alert(
    lake: Lake,
    settings: Settings,
    account_id: str,
    now: dt.datetime,
    stale_after: dt.timedelta,
    known: Mapping[str, Any],
) -> Alert | None:
    last = last_success(lake, account_id, INSIGHTS)
    reference = last or (known[account_id].first_seen_at if account_id in known else None)
    if reference is None or now - reference <= stale_after:
        return None
    hours = (now - reference).total_seconds() / 3600
    since = f"since {last:%Y-%m-%d %H:%M} UTC" if last else "ever"
    line = (
        f"No successful {INSIGHTS} pull for {account_id} {since} ({hours:.0f} h; "
        f"threshold {settings.alerts.stale_after_hours:g} h)."
    )
    found = open_cause(lake, account_id, reference)
    if found is not None:
        cause, when, message, dataset = found
        if incident_cleared(lake, account_id, cause, when, [dataset]) is None:
            return incident_alert(
                settings, account_id, cause, [line], [message], evidence_at=when, datasets=[dataset]
            )
    if last is None:
        return incident_alert(
            settings,
            account_id,
            Cause.NEVER_PULLED,
            [line],
            [],
            evidence_at=now,
            datasets=[INSIGHTS],
        )
    return Alert(
        key=f"stale:{account_id}",
        kind="stale",
        severity="error",
        title=f"Account stale: {account_name(settings, account_id)}",
        message=f"{line} No failed pull recorded since: check that the schedules and the "
        "Dagster daemon run.",
        account_id=account_id,
    )


def _days_left(row: Mapping[str, Any], now: dt.datetime) -> float | None:
    expires = row.get("expires_at")
    if isinstance(expires, dt.datetime):
        return (expires - now).total_seconds() / 86400
    days_left = row.get("days_left")
    checked = row.get("checked_at")
    if isinstance(days_left, int | float) and isinstance(checked, dt.datetime):
        return float(days_left) - (now - checked).total_seconds() / 86400
    return None


def resolutions(alerter: Alerter, lake: Lake, active: set[str], now: dt.datetime) -> dict[str, str]:
    """``{key: why}`` of the open alerts that cleared: incidents whose cause the lake
    shows cleared, conditions the health sensor no longer raises."""
    out: dict[str, str] = {}
    for key, record in alerter.open_alerts((INCIDENT, *CONDITION_KINDS)).items():
        title = str(record.get("title") or key)
        if record.get("kind") in CONDITION_KINDS:
            if key not in active:
                out[key] = f"{title}: no longer the case as of {now:%Y-%m-%d %H:%M} UTC."
            continue
        account_id, cause = record.get("account_id"), record.get("cause")
        if not account_id or cause not in {c.value for c in Cause}:
            continue
        evidence = parse_utc(record.get("evidence_at")) or parse_utc(record.get("first_seen_at"))
        since = max(evidence - EVIDENCE_MARGIN, now - RESOLUTION_LOOKBACK) if evidence else None
        cleared = incident_cleared(
            lake, str(account_id), Cause(str(cause)), evidence, record.get("datasets") or (), since
        )
        if cleared is not None:
            out[key] = (
                f"{title}: cleared. A pull stored data at {cleared:%Y-%m-%d %H:%M} UTC "
                f"without hitting the cause again (first seen "
                f"{parse_utc(record.get('first_seen_at')) or now:%Y-%m-%d %H:%M} UTC)."
            )
    return out


def build_health_alerts_sensor(
    clock: Clock = utcnow, poster: Poster = post_webhook, minimum_interval_seconds: int = 900
) -> dg.SensorDefinition:
    @dg.sensor(
        name="ingestion_health_alerts",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Alerts on invalid or soon-expiring tokens (token_health) and on "
        "accounts without a successful pull for alerts.stale_after_hours; resolves open "
        "incidents whose cause a later pull cleared (one 'resolved' message each).",
    )
    def ingestion_health_alerts(
        context: dg.SensorEvaluationContext, platform: PlatformResource
    ) -> dg.SkipReason:
        settings = platform.settings()
        now = clock()
        alerter = Alerter(settings, clock, poster)
        alerts = health_alerts(now, settings)
        cleared = resolutions(alerter, Lake(settings.lake_dir), {a.key for a in alerts}, now)
        resolved = alerter.resolve(cleared)
        deliveries = alerter.emit([a for a in alerts if a.key not in cleared])
        _log_deliveries(context, [*resolved, *deliveries])
        accounts = len(enabled_accounts(settings))
        return dg.SkipReason(
            f"{accounts} account(s): {len(alerts)} open condition(s), "
            f"{sum(d.sent for d in deliveries)} alert(s) sent, {len(resolved)} resolved"
        )

    return ingestion_health_alerts


def _log_deliveries(context: Any, deliveries: Sequence[Delivery]) -> None:
    for d in deliveries:
        if d.resolved:
            context.log.info(f"alert {d.alert.key} resolved (webhook: {d.webhook})")
        elif d.sent:
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

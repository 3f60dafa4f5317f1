"""``ads-platform backfill``: a real Dagster backfill on the user's own instance.

Why a Dagster backfill and not runs of our own: it appears in the UI's backfill list
like one launched there, Dagster's backfill policy groups the partitions into few
range runs, and the daemon (``ads-platform dev``, or ``dagster-daemon`` in production)
executes it.  Why it can also execute it itself: a laptop without a daemon and a cron
job must get the same result from the same command.  With ``--wait`` and no live
backfill daemon, this process drives Dagster's own backfill loop (the code the daemon
runs) against the same instance, executing the runs itself, several at once, each in a
process forked from this one (:mod:`ads_platform.run_launcher`).

The instance is ``$DAGSTER_HOME``, else ``$ADS_PLATFORM_HOME/dagster`` with the shipped
``dagster.yaml`` (what ``ads-platform dev`` and ``demo`` use), so the UI, the daemon and
this command see the same runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from ads_platform.datasets import AD_INSIGHTS_DAILY
from ads_platform.days import days_between
from ads_platform.launching import INTERRUPTS, POLL_SECONDS, interrupts_on_sigterm
from ads_platform.settings import Settings

#: The ingestion asset a backfill fills by default (day × account partitions).
DEFAULT_ASSETS = (AD_INSIGHTS_DAILY,)
#: At most this many accounts in one Dagster backfill (docs/scale.md, "backfills of many
#: accounts in groups"): the backfill daemon's first iteration over 300 accounts had not
#: ended after 5 minutes, and the schedules' runs wait behind an iteration.
MAX_ACCOUNTS_PER_BACKFILL = 50
#: The exit code of a command stopped by Ctrl-C or SIGTERM (128 + SIGINT, as a shell's).
INTERRUPTED = 130
#: A window of fewer days stays cut per day (:func:`account_groups`).
MIN_DAYS_FOR_ACCOUNT_RUNS = 4
#: A backfill daemon heartbeat younger than this means a daemon will execute the backfill.
DAEMON_FRESH_SECONDS = 60.0
#: UTC-12 (IANA's sign is POSIX's): a day started here has started in every zone.
WESTERNMOST_ZONE = "Etc/GMT+12"


class BackfillError(RuntimeError):
    """The backfill could not be submitted; the message says why and what to do."""


@dataclass
class AccountProgress:
    account_id: str
    requested: int = 0
    materialized: int = 0
    failed_days: list[dt.date] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)


@dataclass
class BackfillReport:
    backfill_id: str
    status: str
    executed_by: str
    accounts: dict[str, AccountProgress]
    seconds: float
    #: Why Dagster's backfill loop itself failed (not a run: the request), first line.
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED_SUCCESS" and not any(
            a.failed_days or a.materialized < a.requested for a in self.accounts.values()
        )

    def table(self) -> str:
        rows = [("account", "days", "materialized", "failed")]
        rows += [
            (a.account_id, str(a.requested), str(a.materialized), str(len(a.failed_days)))
            for a in self.accounts.values()
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        for a in self.accounts.values():
            if a.failed_days:
                days = ", ".join(d.isoformat() for d in a.failed_days)
                why = "; ".join(dict.fromkeys(a.causes)) or "see the run in the UI"
                lines.append(f"FAILED {a.account_id} {days}: {why}")
        if self.error:
            lines.append(f"backfill error: {self.error}")
        return "\n".join(lines)


def partition_keys(accounts: Sequence[str], since: dt.date, until: dt.date) -> list[str]:
    from ads_platform.partitions import key_for

    return [str(key_for(a, d)) for a in accounts for d in days_between(since, until)]


def started_keys(
    accounts: Sequence[str],
    since: dt.date,
    until: dt.date,
    zones: Mapping[str, str],
    now: dt.datetime,
    unknown_zone: str | None = None,
) -> tuple[list[str], list[tuple[str, dt.date]]]:
    """The account-days that have started in each account's own time zone, and the rest.

    Why: the grid (and so the refresh window) ends at the easternmost account's today,
    which has not begun yet for the accounts to the west.  Their runs skip such a day
    (there is nothing to pull), and counting it as missing made ``refresh --wait`` exit
    1 every evening (UTC) for accounts on both sides of a date change.  An account whose
    zone is not known yet keeps every day that has started anywhere, or, with
    ``unknown_zone``, the days started there (:data:`WESTERNMOST_ZONE`: every zone's).
    """
    from ads_platform.ingestion.insights import split_started
    from ads_platform.partitions import key_for

    keys: list[str] = []
    later: list[tuple[str, dt.date]] = []
    for account in accounts:
        zone = zones.get(account, unknown_zone)
        started, not_yet = split_started(days_between(since, until), zone, now)
        keys += [str(key_for(account, day)) for day in started]
        later += [(account, day) for day in not_yet]
    return keys, later


def account_groups(keys: Sequence[str], order: Sequence[str] = ()) -> list[list[str]]:
    """``keys`` split into the Dagster backfills that ``ads-platform backfill`` submits.

    Why groups: Dagster's single-run backfill policy cuts a day × account backfill along
    the dimension with fewer distinct keys (``DefaultPartitionsSubset.
    get_partition_key_ranges``; days win a tie).  A refresh of 50 accounts × 29 days was
    cut into 29 runs of one day over every account, so each account's 29 days were
    pulled a day at a time: 293 insights calls per account instead of a few ranged ones
    (``benchmarks/daily_run.py``, issue 13).  So a group holds fewer accounts than it has
    days, and Dagster runs each account's days as one range; and at most
    :data:`MAX_ACCOUNTS_PER_BACKFILL` accounts, so no daemon iteration grows with the
    number of accounts.

    A window of fewer than :data:`MIN_DAYS_FOR_ACCOUNT_RUNS` days is left cut per day: a
    run per account would then save at most two requests per account and cost a run
    each (one to seven seconds of run creation apiece, docs/scale.md).  Accounts follow
    ``order`` (the ``ad_accounts`` partitions), so the accounts of a per-day run are
    adjacent partitions and form one range; the rest follow, sorted.
    """
    from ads_platform.partitions import KEY_DELIMITER, split_keys

    by_account = split_keys(list(keys))
    ranked = [a for a in order if a in by_account]
    ranked += sorted(set(by_account) - set(ranked))
    all_days = {day for days in by_account.values() for day in days}
    per_account = len(all_days) >= MIN_DAYS_FOR_ACCOUNT_RUNS
    groups: list[list[str]] = []
    group: list[str] = []
    days: set[dt.date] = set()
    for account in ranked:
        wider = days | set(by_account[account])
        too_many = len(group) + 1 > MAX_ACCOUNTS_PER_BACKFILL or (
            per_account and len(group) + 1 >= len(wider)
        )
        if group and too_many:
            groups.append(group)
            group, wider = [], set(by_account[account])
        group.append(account)
        days = wider
    if group:
        groups.append(group)
    wanted = [set(g) for g in groups]
    return [[k for k in keys if k.partition(KEY_DELIMITER)[0] in accounts] for accounts in wanted]


def daemon_is_running(instance: dg.DagsterInstance) -> bool:
    """A backfill daemon heartbeat from the last minute."""
    heartbeats = instance.get_daemon_heartbeats()
    beat = heartbeats.get("BACKFILL")
    return beat is not None and time.time() - beat.timestamp < DAEMON_FRESH_SECONDS


def launching_instance(dagster_home: Path) -> dg.DagsterInstance:
    """The instance at ``dagster_home``, with the runs it launches executed by this
    process: each in a forked child, several at once (:data:`PARALLEL_LAUNCH_OVERRIDES`),
    for a command that waits and has no daemon to hand them to."""
    from dagster._core.instance.ref import InstanceRef

    from ads_platform.launching import PARALLEL_LAUNCH_OVERRIDES

    ref = InstanceRef.from_dir(str(dagster_home), overrides=PARALLEL_LAUNCH_OVERRIDES)
    return dg.DagsterInstance.from_ref(ref)


def _progress(
    instance: dg.DagsterInstance, assets: Sequence[str], keys: Sequence[str]
) -> dict[str, AccountProgress]:
    """Per account: partitions requested and materialized so far, failed ones with causes."""
    from ads_platform.partitions import split_keys

    wanted = split_keys(list(keys))
    done: set[str] = set(keys)
    for asset in assets:
        done &= set(instance.get_materialized_partitions(dg.AssetKey(asset)))
    by_account = {a: AccountProgress(a, requested=len(days)) for a, days in wanted.items()}
    for account, days in split_keys(sorted(done)).items():
        by_account[account].materialized = len(days)
    return by_account


def _failures(
    instance: dg.DagsterInstance, backfill_id: str, progress: dict[str, AccountProgress]
) -> None:
    """Failed runs of the backfill: per account, its failed days and the reasons.

    A range run covers several accounts, and one account failing (its token expired)
    fails the run while the others' days are stored.  So the days and reasons come from
    what the failed step itself says per account (:func:`~ads_platform.run_errors.failed_accounts`,
    the metadata the ingestion assets attach to their ``dg.Failure``): a healthy account
    of the same run is not blamed.  Only a step failure without it (an exception the
    platform did not expect) or a run that failed without a failed step (killed, its
    process lost) falls back to the run's range: every account it covers, the whole day
    span of its tags, the one-line reason of :mod:`ads_platform.run_errors`.  Nothing
    better is known then, and saying too much beats hiding a failure; the days that were
    stored anyway are still counted as materialized in the table.
    """
    from ads_platform.run_errors import failed_accounts, failure_lines, step_failures

    runs = instance.get_runs(
        filters=dg.RunsFilter(
            tags={"dagster/backfill": backfill_id}, statuses=[dg.DagsterRunStatus.FAILURE]
        )
    )
    for run in runs:
        events = step_failures(instance, run.run_id)
        unexplained = []
        for event in events:
            per_account = failed_accounts(event)
            if per_account is None:
                unexplained.append(event)
                continue
            for account, failure in per_account.items():
                if account in progress:
                    progress[account].causes.extend(failure.reasons)
                    progress[account].failed_days.extend(failure.days)
        if unexplained or not events:
            reasons = [line.split(": ", 1)[-1] for line in failure_lines(unexplained)]
            _blame_the_range(instance, run, progress, reasons)


def _blame_the_range(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    progress: dict[str, AccountProgress],
    reasons: Sequence[str],
) -> None:
    """Every account of ``run``'s partition tags: the whole span of its days, ``reasons``.

    A range ``act_a|d1..act_c|d2`` is a box: the accounts from ``act_a`` to ``act_c`` in
    the order of the ``ad_accounts`` partitions (so ``act_b`` between them too), and every
    day from ``d1`` to ``d2``.
    """
    from ads_platform.partitions import KEY_DELIMITER, ad_accounts_partitions, split_keys

    start = run.tags.get("dagster/asset_partition_range_start")
    end = run.tags.get("dagster/asset_partition_range_end")
    single = run.tags.get("dagster/partition")
    keys = [k for k in (start, end, single) if k]
    by_account = split_keys(keys) if keys else {}
    accounts = set(by_account) if by_account else set(progress)
    if start and end:
        order = list(instance.get_dynamic_partitions(ad_accounts_partitions.name or ""))
        first, last = (key.partition(KEY_DELIMITER)[0] for key in (start, end))
        if first in order and last in order:
            accounts |= set(order[order.index(first) : order.index(last) + 1])
    span = [d for days in by_account.values() for d in days]
    failed_days = days_between(min(span), max(span)) if span else []
    for account in accounts & set(progress):
        progress[account].causes.extend(reasons)
        progress[account].failed_days.extend(failed_days)


def partition_backfill(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    *,
    backfill_id: str,
    keys: Sequence[str],
    assets: Sequence[str],
    title: str,
    description: str,
    trigger: str,
    run_config: dict[str, Any] | None = None,
) -> Any:
    """The Dagster backfill of ``keys`` of ``assets``, not yet submitted.

    Its own function so that ``benchmarks/partition_scale.py`` times the construction
    ``ads-platform backfill`` performs, not a copy of it.
    """
    from dagster._core.execution.backfill import PartitionBackfill

    from ads_platform.backfill_accounts import TRIGGER_TAG

    return PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id,
        asset_graph=defs.resolve_asset_graph(),
        partition_names=list(keys),
        asset_selection=[dg.AssetKey(a) for a in assets],
        backfill_timestamp=time.time(),
        tags={TRIGGER_TAG: trigger},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=title,
        description=description,
        run_config=run_config,
    )


def run_backfill(
    instance: dg.DagsterInstance,
    *,
    accounts: Sequence[str],
    since: dt.date,
    until: dt.date,
    assets: Sequence[str] = DEFAULT_ASSETS,
    wait: bool = True,
    echo: Callable[[str], None] = print,
    log_level: str = "CRITICAL",
    command: str = "backfill",
    zones: Mapping[str, str] | None = None,
) -> BackfillReport | None:
    """Submit the backfill; with ``wait``, see it through (daemon or this process).

    ``command`` (``backfill``, ``refresh``) names it in the UI and in its trigger tag.
    With the accounts' time ``zones``, a day not yet started for an account is left out
    (:func:`started_keys`) and said.
    """
    from dagster._core.execution.backfill import BulkActionStatus

    from ads_platform.definitions import load_definitions
    from ads_platform.partitions import ad_accounts_partitions, split_keys
    from ads_platform.run_errors import console_run_config

    defs = load_definitions()

    if zones is None:
        keys = partition_keys(accounts, since, until)
    else:
        # Submitted only, an account not described yet keeps the days started everywhere:
        # its queued ad_accounts run will narrow the grid to the accounts' zones before the
        # daemon reads the backfill, and Dagster fails a backfill whose partitions left the
        # grid ("Targeted partitions … have been removed").  Executed here or waited for,
        # the zones are as known as they will be.
        unknown = None if wait else WESTERNMOST_ZONE
        now = dt.datetime.now(dt.UTC)
        keys, later = started_keys(accounts, since, until, zones, now, unknown)
        for account_id, day in later:
            if account_id in zones:
                echo(f"    {account_id} {day}: not started in {zones[account_id]} yet, left out")
            else:
                echo(
                    f"    {account_id} {day}: its time zone is not known yet (ad_accounts has "
                    "not described it) and the day has not started everywhere, left out"
                )
    base_id = f"ads-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    order = instance.get_dynamic_partitions(ad_accounts_partitions.name or "")
    groups = account_groups(keys, order)
    daemon = daemon_is_running(instance)
    # Runs this process executes print nothing of Dagster's own (the progress lines and
    # the summary say it); runs the daemon executes keep their full compute logs.
    here = wait and not daemon
    backfills = [
        partition_backfill(
            defs,
            instance,
            backfill_id=base_id if len(groups) == 1 else f"{base_id}-{i + 1}",
            keys=group,
            assets=assets,
            title=f"ads-platform {command} {since}..{until}"
            + (f" (group {i + 1} of {len(groups)})" if len(groups) > 1 else ""),
            description=f"{len(split_keys(group))} of {len(accounts)} account(s) × "
            f"{len(days_between(since, until))} day(s)",
            trigger=f"cli-{command}",
            run_config=console_run_config(log_level) if here else None,
        )
        for i, group in enumerate(groups)
    ]
    backfill_ids = [b.backfill_id for b in backfills]
    started = time.monotonic()
    echo(
        f"==> backfill {', '.join(backfill_ids)}: {len(keys)} partition(s) of "
        f"{', '.join(assets)} ({len(accounts)} account(s) × "
        f"{len(days_between(since, until))} day(s))"
    )
    if len(groups) > 1:
        echo(
            f"    {len(groups)} backfills of at most {max(len(split_keys(g)) for g in groups)} "
            "account(s), so that Dagster runs each account's days as one range"
        )
    if not wait:
        for backfill in backfills:
            instance.add_backfill(backfill)
        echo(
            "    submitted; the Dagster daemon executes it"
            if daemon
            else "    submitted, but no Dagster daemon is running: start `ads-platform dev` "
            "(or dagster-daemon), or run again with --wait to execute it here"
        )
        return None
    if not here:
        for backfill in backfills:
            instance.add_backfill(backfill)
        try:
            status = _follow(instance, backfill_ids, assets, keys, echo)
        except KeyboardInterrupt:
            echo("    stopped waiting: the Dagster daemon goes on with the backfill (see the UI)")
            raise
        executed_by = "the Dagster daemon"
    else:
        try:
            status = _drive(instance, backfills, assets, keys, echo)
        except INTERRUPTS:
            echo("    stopped: the runs in flight ended FAILURE and the backfill is cancelled")
            raise
        executed_by = "this process (no Dagster daemon running)"
    progress = _progress(instance, assets, keys)
    for backfill_id in backfill_ids:
        _failures(instance, backfill_id, progress)
    missing = _missing(instance, assets, keys)
    for account in progress.values():
        # Days of failed runs (a re-pull that failed over days stored before) and days
        # still without a materialization.
        account.failed_days = sorted({*account.failed_days, *missing.get(account.account_id, [])})
    errors = [
        stored.error.message.strip().splitlines()[0]
        for stored in map(instance.get_backfill, backfill_ids)
        if stored and stored.error
    ]
    return BackfillReport(
        ", ".join(backfill_ids),
        status.value if isinstance(status, BulkActionStatus) else str(status),
        executed_by,
        progress,
        time.monotonic() - started,
        "; ".join(errors) or None,
    )


def _missing(
    instance: dg.DagsterInstance, assets: Sequence[str], keys: Sequence[str]
) -> dict[str, list[dt.date]]:
    from ads_platform.partitions import split_keys

    done: set[str] = set(keys)
    for asset in assets:
        done &= set(instance.get_materialized_partitions(dg.AssetKey(asset)))
    return split_keys(sorted(set(keys) - done))


def _line(progress: dict[str, AccountProgress], began: float) -> str:
    total = sum(p.requested for p in progress.values())
    done = sum(p.materialized for p in progress.values())
    elapsed = time.monotonic() - began
    eta = f", ETA {elapsed / done * (total - done):.0f}s" if 0 < done < total else ""
    return f"    {done}/{total} partitions materialized ({elapsed:.0f}s{eta})"


def _follow(
    instance: dg.DagsterInstance,
    backfill_ids: Sequence[str],
    assets: Sequence[str],
    keys: Sequence[str],
    echo: Callable[[str], None],
) -> Any:
    from ads_platform.launching import combined_status, pending_backfills

    began = time.monotonic()
    last = ""
    while True:
        line = _line(_progress(instance, assets, keys), began)
        if line != last:
            echo(line)
            last = line
        if not pending_backfills(instance, backfill_ids):
            return combined_status(instance, backfill_ids)
        time.sleep(POLL_SECONDS)


def _drive(
    instance: dg.DagsterInstance,
    backfills: Sequence[Any],
    assets: Sequence[str],
    keys: Sequence[str],
    echo: Callable[[str], None],
) -> Any:
    """Dagster's backfill daemon loop, here, until the backfills are done."""
    from ads_platform.launching import daemon_workspace, drive_backfill

    began = time.monotonic()
    logging.getLogger("ads_platform.backfill").setLevel(logging.WARNING)
    last = [""]

    def say_progress() -> None:
        line = _line(_progress(instance, assets, keys), began)
        if line != last[0]:
            echo(line)
            last[0] = line

    with daemon_workspace(instance, in_process=True) as workspace:
        return drive_backfill(
            workspace,
            instance,
            [b.backfill_id for b in backfills],
            adding=backfills,
            on_iteration=say_progress,
        )


def backfill_command(
    *,
    config_path: str | None,
    since: dt.date,
    until: dt.date,
    accounts: Sequence[str] | None,
    assets: Sequence[str] | None,
    wait: bool,
    with_marts: bool,
    debug: bool,
    echo: Callable[[str], None] = print,
) -> int:
    """The ``ads-platform backfill`` command; returns its exit code (module docstring)."""
    settings = _settings_or_none(config_path, echo)
    if settings is None:
        return 2
    return backfill_settings(
        settings,
        since=since,
        until=until,
        accounts=accounts,
        assets=assets,
        wait=wait,
        with_marts=with_marts,
        debug=debug,
        echo=echo,
    )


def _settings_or_none(config_path: str | None, echo: Callable[[str], None]) -> Settings | None:
    """The settings both commands run on, or None after saying in one line why not."""
    from ads_platform.settings import SettingsError, load_settings

    try:
        return load_settings(config_path, require_tokens=False)
    except SettingsError as exc:
        echo(f"error: {exc}")
        return None


def refresh_window(settings: Settings, now: dt.datetime) -> tuple[dt.date, dt.date]:
    """Today and the lookback before it: the grid's last day (the easternmost account's
    today, as the schedules see it) back ``ingestion.lookback_days``, from the start date
    at the earliest.  A day that has not started in an account's own zone is skipped
    by the pull (nothing is stored for it), as in the schedules' runs."""
    from ads_platform.automation.common import partition_days

    first, last = partition_days(settings, now)
    until = last or now.date()
    return max(first, until - dt.timedelta(days=settings.ingestion.lookback_days)), until


def refresh_command(
    *,
    config_path: str | None,
    wait: bool,
    with_marts: bool,
    debug: bool,
    echo: Callable[[str], None] = print,
) -> int:
    """``ads-platform refresh``: :func:`backfill_settings` over :func:`refresh_window` for
    every enabled account; the same output and exit codes as ``backfill``."""
    settings = _settings_or_none(config_path, echo)
    if settings is None:
        return 2
    return backfill_settings(
        settings,
        since=None,
        until=None,
        accounts=None,
        assets=None,
        wait=wait,
        with_marts=with_marts,
        debug=debug,
        echo=echo,
        command="refresh",
    )


def backfill_settings(
    settings: Settings,
    *,
    since: dt.date | None,
    until: dt.date | None,
    accounts: Sequence[str] | None,
    assets: Sequence[str] | None,
    wait: bool,
    with_marts: bool,
    debug: bool,
    echo: Callable[[str], None] = print,
    command: str = "backfill",
) -> int:
    """A backfill of ``since..until`` with loaded settings; the exit code.

    ``since`` and ``until`` None: :func:`refresh_window`, decided once the accounts (and
    their time zones) have been read.
    """
    from ads_platform.demo import prepare_dagster_home
    from ads_platform.run_errors import console_log_level
    from ads_platform.settings import settings_environ

    enabled = [a.id for a in settings.enabled_accounts]
    chosen = list(accounts) if accounts else enabled
    unknown = sorted(set(chosen) - set(enabled))
    if not chosen or unknown:
        where = settings.source or "the settings (no settings file found)"
        what = f"{', '.join(unknown)} not enabled" if unknown else "no enabled account"
        echo(f"error: {what} in {where}: add them under `accounts:` (ads-platform settings)")
        return 2
    if not assets:
        from ads_platform.jobs import insights_keys

        assets = [key.to_user_string() for key in insights_keys(settings)]
    if since is not None and until is not None and until < since:
        echo(f"error: --to {until} is before --from {since}")
        return 2
    home = settings.home.resolve()
    env = {"ADS_PLATFORM_HOME": str(home)}
    if settings.source:
        env["ADS_PLATFORM_CONFIG"] = str(Path(settings.source).resolve())
    with settings_environ(env):
        env["DAGSTER_HOME"] = str(prepare_dagster_home(home))
        os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
        log_path = home / "logs" / f"backfill-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.log"
        with contextlib.ExitStack() as stack:
            if not debug:
                echo = stack.enter_context(_output_to(log_path))
            stack.enter_context(interrupts_on_sigterm())
            try:
                return _backfill_in_env(
                    settings_source=str(settings.source or ""),
                    accounts=sorted(chosen),
                    since=since,
                    until=until,
                    assets=assets,
                    wait=wait,
                    with_marts=with_marts,
                    log_level=console_log_level(debug),
                    echo=echo,
                    dagster_home=Path(env["DAGSTER_HOME"]),
                    command=command,
                )
            except INTERRUPTS:
                echo(
                    f"interrupted: the days already stored stay as they are; run the same "
                    f"{command} again for the rest (it re-pulls each day whole)."
                )
                return INTERRUPTED


def _backfill_in_env(
    *,
    settings_source: str,
    accounts: Sequence[str],
    since: dt.date | None,
    until: dt.date | None,
    assets: Sequence[str],
    wait: bool,
    with_marts: bool,
    log_level: str,
    echo: Callable[[str], None],
    dagster_home: Path,
    command: str,
) -> int:
    from ads_platform import backfill_accounts as accounts_step
    from ads_platform.day_grid import grid_timezone, lake_timezones
    from ads_platform.dbt_output import quiet_dbt_output
    from ads_platform.definitions import load_definitions
    from ads_platform.demo import materialize_marts
    from ads_platform.lake import Lake
    from ads_platform.partitions import daily_partitions
    from ads_platform.run_errors import failure_lines
    from ads_platform.settings import definition_settings

    settings = definition_settings()
    defs = load_definitions()

    echo(f"settings: {settings_source or '(defaults)'}  instance: {dagster_home}")
    with dg.DagsterInstance.get() as probe:
        daemon = daemon_is_running(probe)
    # Launching synchronously here only when this process executes the runs; otherwise
    # the shipped instance's queued run coordinator (ads_platform.backfill_accounts).
    instance = launching_instance(dagster_home) if wait and not daemon else dg.DagsterInstance.get()
    with instance, _runs_stopped_if_interrupted(instance):
        beside = accounts_step.pull_accounts(
            defs,
            instance,
            accounts=accounts,
            enabled=[a.id for a in settings.enabled_accounts],
            trigger=f"cli-{command}",
            wait=wait,
            daemon=daemon,
            log_level=log_level,
            echo=echo,
            describe=command == "refresh",
        )
        # The date grid ends at the accounts' today in their zones, read from the accounts
        # just pulled (with --no-wait: as the lake knew them, and an account not described
        # yet keeps only the days started everywhere, run_backfill): the code location
        # that executes the backfill sees that grid, so the days are judged against it.
        if since is None or until is None:
            since, until = refresh_window(settings, dt.datetime.now(dt.UTC))
            echo(
                f"==> refresh: {until} (the accounts' today) and "
                f"{(until - since).days} day(s) of lookback, from {since}"
            )
        grid = daily_partitions(settings.ingestion.start_date, grid_timezone(settings))
        last = grid.get_last_partition_key()
        if last and until > dt.date.fromisoformat(last):
            echo(f"error: {until} has not started in any account's time zone yet (last day {last})")
            return 2
        report = run_backfill(
            instance,
            accounts=accounts,
            since=since,
            until=until,
            assets=assets,
            wait=wait,
            echo=echo,
            log_level=log_level,
            command=command,
            zones=lake_timezones(Lake(settings.lake_dir)),
        )
        if report is None:
            return 0
        echo(
            f"    backfill {report.backfill_id} {report.status} in {report.seconds:.1f}s, "
            f"executed by {report.executed_by}"
        )
        if beside:  # the per-account runs forked beside the backfill (ended by now)
            accounts_step.wait_for(instance, beside, echo)
        marts_ok = True
        if with_marts and any(a.materialized for a in report.accounts.values()):
            echo("==> marts (dbt build → publish marts.duckdb)")
            with quiet_dbt_output():
                marts = materialize_marts(defs, instance, log_level=log_level)
            marts_ok = bool(marts.success)
            for line in failure_lines(marts.all_events):
                echo("    " + line)
        echo("")
        echo(report.table())
        return 0 if report.ok and marts_ok else 1


@contextlib.contextmanager
def _runs_stopped_if_interrupted(instance: dg.DagsterInstance) -> Iterator[None]:
    """On Ctrl-C or SIGTERM, the runs this process forked are stopped (FAILURE), whatever
    step the command was at: the per-account runs start before the backfill loop, which
    stops its own (:func:`ads_platform.launching.drive_backfill`)."""
    from ads_platform.run_launcher import ForkingRunLauncher

    try:
        yield
    except INTERRUPTS:
        if isinstance(instance.run_launcher, ForkingRunLauncher):
            instance.run_launcher.stop_all()
        raise


@contextlib.contextmanager
def _output_to(log_path: Path) -> Iterator[Callable[[str], None]]:
    """Send everything this process and its children print to ``log_path``; yield an
    ``echo`` that still reaches the terminal.

    Why at the file-descriptor level: the code server that Dagster's backfill loop starts
    (a child process) and Dagster's own loggers write straight to stdout and stderr:
    start-up lines, beta warnings, INFO lines of every run.  The terminal gets the
    progress and the summary; the log file keeps the rest (``--debug`` shows it live).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    terminal = os.fdopen(os.dup(saved[1]), "w", buffering=1)

    def to_terminal(line: str) -> None:
        terminal.write(line + "\n")
        terminal.flush()

    with open(log_path, "ab") as log:
        for fd in (1, 2):
            os.dup2(log.fileno(), fd)
        try:
            yield to_terminal
            to_terminal(f"(Dagster's and dbt's own output of this command: {log_path})")
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            terminal.close()

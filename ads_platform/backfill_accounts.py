"""The account-level runs ``ads-platform backfill`` and ``refresh`` start before the backfill.

The facts are joined with the entities (names, statuses), so the command pulls
``ad_accounts`` (when an account is not a partition yet) and the per-account assets
(:data:`~ads_platform.jobs.ACCOUNT_ASSETS`) of the chosen accounts first, one run per
group of adjacent accounts, as the schedules do.

Who executes them follows who executes the backfill (:mod:`ads_platform.backfill`):

* ``--wait`` and no daemon: this process, one run after the other (the backfill too).
* otherwise: they are *submitted* to the instance like the backfill: queued runs in the
  UI, executed by the daemon's run queue.  With ``--no-wait`` the command returns at
  once and makes no API call; with ``--wait`` it waits for them (the refresh window is
  judged on the time zones ``ad_accounts`` just read) before it submits the backfill.

Why new accounts are added to the ``ad_accounts`` partitions here when submitting: the
backfill is created now, over partitions that must exist now, and the queued
``ad_accounts`` run that would add them has not run yet.  It is bookkeeping (what the
``new_ad_accounts`` sensor does as well), not an API call; ``ad_accounts`` adds the
same keys in the same (sorted) order, so it finds nothing left to add.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from ads_platform.datasets import AD_ACCOUNTS
from ads_platform.jobs import ACCOUNT_ASSETS
from ads_platform.launching import POLL_SECONDS
from ads_platform.partitions import ad_accounts_partitions, range_tags

#: The tag that says which command started a run or backfill (``cli-backfill``, ``cli-refresh``).
TRIGGER_TAG = "ads_platform/trigger"


@dataclass(frozen=True)
class AccountRun:
    """One run of account-level assets: what it materializes, its tags, how it is said."""

    assets: tuple[str, ...]
    tags: dict[str, str]
    label: str

    def request(self, run_config: dict[str, Any] | None = None) -> dg.RunRequest:
        return dg.RunRequest(
            asset_selection=[dg.AssetKey(a) for a in self.assets],
            tags=self.tags,
            run_config=run_config or {},
        )


def pull_accounts(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    *,
    accounts: Sequence[str],
    enabled: Sequence[str],
    trigger: str,
    wait: bool,
    daemon: bool,
    log_level: str,
    echo: Callable[[str], None],
    describe: bool = False,
) -> list[str]:
    """``ad_accounts`` when one of ``accounts`` is new or with ``describe``, then the
    per-account runs: executed here (``wait`` and no ``daemon``) or submitted, and with
    ``wait`` waited for; the ids of the runs still going when it returns.

    Executed here, ``ad_accounts`` runs first and to its end (the backfill's days are
    judged on the time zones it reads), and the per-account runs are then forked beside
    the insights backfill (the instance's :class:`~ads_platform.run_launcher.
    ForkingRunLauncher`) rather than before it: the insights do not read the entities,
    only the marts join them, and the marts are built once every run has ended.  Their
    23 s at 50 accounts ran alone before (``benchmarks/daily_run.py``).

    ``describe`` is ``refresh``'s: it stands in for the daily runs, which re-read every
    account's name, currency, status and time zone each day (``daily_ad_accounts_refresh``);
    without it a refresh read them only on an account's first day.  A backfill of past
    days needs them only for new accounts.
    """
    from ads_platform.demo import materialize
    from ads_platform.run_errors import console_run_config, failure_lines

    new = new_accounts(instance, accounts)
    names = ", ".join(a.to_user_string() for a in ACCOUNT_ASSETS)
    if wait and not daemon:
        if new or describe:
            echo(
                "==> ad_accounts (new accounts become partitions)"
                if new
                else "==> ad_accounts (names, currencies, time zones)"
            )
            done = materialize(
                defs, instance, [AD_ACCOUNTS], tags={TRIGGER_TAG: trigger}, log_level=log_level
            )
            for line in failure_lines(done.all_events):
                echo("    " + line)
        runs = account_runs(instance, accounts, trigger)
        echo(f"==> {names} (per account): {len(runs)} run(s) beside the insights")
        quiet = console_run_config(log_level)
        forked = submit(instance, runs, echo, run_config=quiet, in_process=True)
        return [run.run_id for run in forked]
    planned = []
    if new:
        added = add_account_partitions(instance, enabled)
        echo(
            f"==> ad_accounts partitions: {', '.join(added) or 'none'} added "
            "(the ad_accounts run below describes them)"
        )
    if new or describe:
        planned.append(ad_accounts_run(trigger))
    planned += account_runs(instance, accounts, trigger)
    who = "the Dagster daemon" if daemon else "a Dagster daemon (none is running)"
    echo(f"==> {names} (per account): {len(planned)} run(s) submitted for {who}")
    submitted = submit(instance, planned, echo)
    if wait:
        wait_for(instance, [r.run_id for r in submitted], echo)
    return []


def new_accounts(instance: dg.DagsterInstance, accounts: Sequence[str]) -> bool:
    """Whether any of ``accounts`` is not an ``ad_accounts`` partition yet."""
    return bool(set(accounts) - set(instance.get_dynamic_partitions(_PARTITIONS)))


def add_account_partitions(instance: dg.DagsterInstance, enabled: Sequence[str]) -> list[str]:
    """Add the ``enabled`` accounts that are not partitions yet, as ``ad_accounts`` would."""
    new = sorted(set(enabled) - set(instance.get_dynamic_partitions(_PARTITIONS)))
    if new:
        instance.add_dynamic_partitions(_PARTITIONS, new)
    return new


def account_runs(
    instance: dg.DagsterInstance, accounts: Sequence[str], trigger: str
) -> list[AccountRun]:
    """The per-account runs of ``accounts``: one per group of adjacent partitions, with the
    range tags of the group (as the schedules' requests) and the command's trigger tag."""
    from ads_platform.automation.calendar import account_ranges

    order = list(instance.get_dynamic_partitions(_PARTITIONS))
    chosen = set(accounts)
    names = tuple(a.to_user_string() for a in ACCOUNT_ASSETS)
    return [
        AccountRun(
            names,
            {**range_tags(group[0], group[-1]), TRIGGER_TAG: trigger},
            f"{group[0]}..{group[-1]}" if len(group) > 1 else group[0],
        )
        for group in account_ranges(order, [a for a in order if a in chosen])
    ]


def ad_accounts_run(trigger: str) -> AccountRun:
    return AccountRun((AD_ACCOUNTS,), {TRIGGER_TAG: trigger}, "every enabled account")


def submit(
    instance: dg.DagsterInstance,
    runs: Sequence[AccountRun],
    echo: Callable[[str], None],
    *,
    run_config: dict[str, Any] | None = None,
    in_process: bool = False,
) -> list[dg.DagsterRun]:
    """Submit ``runs`` to the instance (queued for the daemon, or launched at once by the
    instance's launcher), each said with its id."""
    from ads_platform.launching import submit_asset_runs

    submitted = submit_asset_runs(
        instance, [run.request(run_config) for run in runs], in_process=in_process
    )
    for run, created in zip(runs, submitted, strict=True):
        stored = instance.get_run_by_id(created.run_id) or created  # QUEUED once submitted
        echo(
            f"    submitted run {created.run_id} ({stored.status.value}): "
            f"{', '.join(run.assets)} of {run.label}"
        )
    return submitted


def wait_for(
    instance: dg.DagsterInstance, run_ids: Sequence[str], echo: Callable[[str], None]
) -> None:
    """Until every run of ``run_ids`` has ended; the failed steps of each, said."""
    from ads_platform.run_errors import failure_lines, step_failures

    pending = list(run_ids)
    while pending:
        runs = {r.run_id: r for r in instance.get_runs(filters=dg.RunsFilter(run_ids=pending))}
        ended = [i for i in pending if i not in runs or runs[i].is_finished]
        for run_id in ended:
            run = runs.get(run_id)
            if run is None:
                echo(f"    run {run_id} is gone (deleted from the instance)")
                continue
            echo(f"    run {run_id} {run.status.value}")
            for line in failure_lines(step_failures(instance, run_id)):
                echo("    " + line)
        pending = [i for i in pending if i not in ended]
        if pending:
            time.sleep(POLL_SECONDS)


_PARTITIONS = ad_accounts_partitions.name or ""

"""How ``ads-platform backfill`` and ``refresh`` split their keys into Dagster backfills.

The property that matters is Dagster's, not ours: each group, cut into runs by Dagster's
own single-run backfill policy, must give one run per account over its days (one ranged
request per account) rather than one run per day over every account (one request per
account and day).  So these tests hand every group to Dagster's partition subset over
the platform's own day × account partitions and read back the runs it would make.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import dagster as dg
import pytest

from ads_platform.backfill import (
    MAX_ACCOUNTS_PER_BACKFILL,
    MIN_DAYS_FOR_ACCOUNT_RUNS,
    account_groups,
    partition_keys,
)
from ads_platform.partitions import account_day_partitions, split_keys

START = dt.date(2026, 1, 1)
UNTIL = dt.date(2026, 11, 28)


def accounts(n: int) -> list[str]:
    return [f"act_{1000 + i}" for i in range(n)]


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    """Every test's accounts as ``ad_accounts`` partitions, in :func:`accounts` order."""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("ad_accounts", accounts(4 * MAX_ACCOUNTS_PER_BACKFILL))
        yield instance


def dagster_runs(instance: dg.DagsterInstance, keys: Sequence[str]) -> list[dg.PartitionKeyRange]:
    """The ranges Dagster's single-run policy makes one run each of, for one backfill."""
    partitions = account_day_partitions(START)
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        subset = partitions.empty_subset().with_partition_keys(keys)
        return list(subset.get_partition_key_ranges(partitions))


def test_a_refresh_of_fifty_accounts_is_one_run_per_account_not_one_per_day(
    instance: dg.DagsterInstance,
) -> None:
    names = accounts(50)
    since = UNTIL - dt.timedelta(days=28)
    keys = partition_keys(names, since, UNTIL)
    assert len(dagster_runs(instance, keys)) == 29  # one backfill: a run per day, every account

    groups = account_groups(keys, names)

    assert sorted(k for g in groups for k in g) == sorted(keys)  # every key, once
    runs = [r for group in groups for r in dagster_runs(instance, group)]
    assert len(runs) == 50
    for run in runs:
        ((account, days),) = split_keys([run.start, run.end]).items()
        assert days == [since, UNTIL], f"{account}: not one range of the whole window"


def test_a_group_never_holds_more_accounts_than_the_cap() -> None:
    names = accounts(3 * MAX_ACCOUNTS_PER_BACKFILL + 7)
    keys = partition_keys(names, UNTIL - dt.timedelta(days=364), UNTIL)

    groups = account_groups(keys, names)

    assert [len(split_keys(g)) for g in groups] == [MAX_ACCOUNTS_PER_BACKFILL] * 3 + [7]


def test_accounts_with_fewer_days_than_others_still_run_one_range_each(
    instance: dg.DagsterInstance,
) -> None:
    # The refresh leaves out today for accounts west of the date line's day change.
    names = accounts(12)
    since = UNTIL - dt.timedelta(days=4)
    keys = [
        k
        for k in partition_keys(names, since, UNTIL)
        if not (k.endswith(UNTIL.isoformat()) and names.index(k.split("|")[0]) % 2)
    ]

    groups = account_groups(keys, names)

    runs = [r for group in groups for r in dagster_runs(instance, group)]
    assert len(runs) == 12


@pytest.mark.parametrize("days", range(1, MIN_DAYS_FOR_ACCOUNT_RUNS))
def test_a_short_window_stays_one_backfill_of_one_run_per_day(
    days: int, instance: dg.DagsterInstance
) -> None:
    names = accounts(30)
    keys = partition_keys(names, UNTIL - dt.timedelta(days=days - 1), UNTIL)

    groups = account_groups(keys, names)

    assert groups == [keys]
    assert len(dagster_runs(instance, keys)) == days


def test_the_accounts_of_a_group_follow_the_partition_order(instance: dg.DagsterInstance) -> None:
    # Per-day runs span adjacent partitions: a group of the partitions' neighbours is one
    # range a day, whatever order the command was given the accounts in.
    order = accounts(2 * MAX_ACCOUNTS_PER_BACKFILL)
    chosen = order[::-1]
    keys = partition_keys(chosen, UNTIL, UNTIL)

    groups = account_groups(keys, order)

    assert [sorted(split_keys(g)) for g in groups] == [
        order[:MAX_ACCOUNTS_PER_BACKFILL],
        order[MAX_ACCOUNTS_PER_BACKFILL:],
    ]
    assert all(len(dagster_runs(instance, g)) == 1 for g in groups)


def test_a_few_accounts_over_a_long_window_stay_one_backfill() -> None:
    names = accounts(10)
    keys = partition_keys(names, UNTIL - dt.timedelta(days=89), UNTIL)

    assert account_groups(keys, names) == [keys]

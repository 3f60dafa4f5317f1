"""Which accounts a failed backfill run blames, and for which days.

A range run covers several accounts; one account failing fails the run.  The ingestion
assets say in their ``dg.Failure`` metadata which accounts failed on which days, and the
backfill summary reads that back from the run's event log (``ads-platform backfill``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import dagster as dg
import pytest

from ads_platform.assets.reporting import failure_metadata, summarize_failures
from ads_platform.backfill import AccountProgress, _failures
from ads_platform.ingestion.outcomes import PartitionOutcome
from ads_platform.run_errors import AccountFailure, failed_accounts

DAY = dt.date(2026, 11, 1)
EXPIRED = "token for act_2 expired: re-authorize and set ACME_TOKEN_2"
FAILED = [
    PartitionOutcome(
        "ad_insights_daily",
        "act_2",
        DAY + dt.timedelta(days=i),
        "failed",
        message=EXPIRED,
        error_kind="token_expired",
    )
    for i in range(2)
] + [
    PartitionOutcome(
        "ad_insights_daily",
        "act_3",
        DAY,
        "blocked",
        message=f"act_3 {DAY}: blocked: all zeros",
        error_kind="zero_guard",
    )
]


@dg.asset
def told() -> None:
    """Fails the way the ingestion assets do (assets/reporting.py)."""
    raise dg.Failure(description=summarize_failures(FAILED), metadata=failure_metadata(FAILED))


@dg.asset
def crashed() -> None:
    raise RuntimeError("the lake directory is not writable: /srv/lake")


def _step_failures(assets: Sequence[dg.AssetsDefinition]) -> list[dg.DagsterEvent]:
    result = dg.materialize(assets, raise_on_error=False)
    return [e for e in result.all_events if e.is_step_failure]


def test_a_failure_names_each_account_with_its_failed_days_and_reasons_in_the_event_log() -> None:
    (event,) = _step_failures([told])
    # As stored and read back by another process (the backfill command, the daemon).
    stored = dg.deserialize_value(dg.serialize_value(event), dg.DagsterEvent)
    assert failed_accounts(stored) == {
        "act_2": AccountFailure(
            days=(DAY, DAY + dt.timedelta(days=1)),
            reasons=(EXPIRED,),
            error_kinds=("token_expired",),
        ),
        "act_3": AccountFailure(
            days=(DAY,), reasons=("blocked: all zeros",), error_kinds=("zero_guard",)
        ),
    }
    user = stored.step_failure_data.user_failure_data
    assert user is not None and user.description == summarize_failures(FAILED)  # as before


def test_an_unexpected_exception_names_no_account() -> None:
    (event,) = _step_failures([crashed])
    assert failed_accounts(event) is None


def _failed_backfill_run(
    instance: dg.DagsterInstance, assets: Sequence[dg.AssetsDefinition]
) -> dict[str, AccountProgress]:
    """A failed run of backfill ``b1`` whose range covers act_1..act_3 on DAY..DAY+1."""
    tags = {
        "dagster/backfill": "b1",
        "dagster/asset_partition_range_start": f"act_1|{DAY}",
        "dagster/asset_partition_range_end": f"act_3|{DAY + dt.timedelta(days=1)}",
    }
    result = dg.materialize(assets, instance=instance, tags=tags, raise_on_error=False)
    assert not result.success
    progress = {a: AccountProgress(a, requested=2) for a in ("act_1", "act_2", "act_3")}
    _failures(instance, "b1", progress)
    return progress


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("ad_accounts", ["act_1", "act_2", "act_3"])
        yield instance


def test_a_run_over_three_accounts_blames_only_those_its_failure_names(
    instance: dg.DagsterInstance,
) -> None:
    progress = _failed_backfill_run(instance, [told])
    assert progress["act_1"].failed_days == [] and progress["act_1"].causes == []
    assert progress["act_2"].failed_days == [DAY, DAY + dt.timedelta(days=1)]
    assert progress["act_2"].causes == [EXPIRED]
    assert progress["act_3"].failed_days == [DAY]
    assert progress["act_3"].causes == ["blocked: all zeros"]


def test_a_step_that_says_no_account_blames_every_account_of_the_range_with_its_reason(
    instance: dg.DagsterInstance,
) -> None:
    progress = _failed_backfill_run(instance, [told, crashed])
    crash = "the lake directory is not writable: /srv/lake"
    span = [DAY, DAY + dt.timedelta(days=1)]
    # Nothing better is known of the crashed step: the range's accounts and whole span.
    assert progress["act_1"].failed_days == span and progress["act_1"].causes == [crash]
    # act_2 is inside the range (between act_1 and act_3 in the accounts' partitions);
    # what the other step said of it is kept as said.
    assert set(progress["act_2"].failed_days) == set(span)
    assert set(progress["act_2"].causes) == {EXPIRED, crash}
    assert set(progress["act_3"].causes) == {"blocked: all zeros", crash}
    assert set(progress["act_3"].failed_days) == set(span)


def test_a_run_that_failed_without_a_failed_step_blames_every_account_of_the_range(
    instance: dg.DagsterInstance,
) -> None:
    """A killed run, a lost process: no step said anything."""
    tags = {
        "dagster/backfill": "b1",
        "dagster/asset_partition_range_start": f"act_2|{DAY}",
        "dagster/asset_partition_range_end": f"act_3|{DAY}",
    }
    instance.add_run(
        dg.DagsterRun(job_name="j", run_id="r1", status=dg.DagsterRunStatus.FAILURE, tags=tags)
    )
    progress = {a: AccountProgress(a, requested=1) for a in ("act_1", "act_2", "act_3")}
    _failures(instance, "b1", progress)
    assert progress["act_1"].failed_days == []
    assert progress["act_2"].failed_days == progress["act_3"].failed_days == [DAY]

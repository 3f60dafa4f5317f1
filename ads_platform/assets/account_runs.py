"""Per-account assets: one builder, and the runner that pulls several accounts at once.

A run can cover many accounts (a daily schedule asks for yesterday of every account).
Each account gets its own client (its own token), runs in a worker thread (the work is
HTTP-bound), and its failure — expired token, lost permission, throttled past the
budget — becomes outcomes for that account only; the other accounts carry on.

:func:`account_asset` is the skeleton every per-account pull shares (settings and lake
of the run, jobs from the partition keys, :func:`run_accounts`, the attempts log, one
report per partition), so an asset module is its declaration plus its work function.
"""

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import dagster as dg

from ads_platform.assets.reporting import report
from ads_platform.datasets import Dataset
from ads_platform.ingestion import insights, token_health
from ads_platform.ingestion.accounts import known_account
from ads_platform.ingestion.failures import describe
from ads_platform.ingestion.outcomes import PartitionOutcome, record_attempts
from ads_platform.lake import Lake
from ads_platform.meta.client import GraphClient
from ads_platform.meta.errors import TokenInvalidError
from ads_platform.meta.stats import CallStats
from ads_platform.meta.tokens import TokenStore
from ads_platform.partitions import key_for, split_keys
from ads_platform.resources import Credential, PlatformResource
from ads_platform.settings import Settings, SettingsError

MAX_PARALLEL_ACCOUNTS = 4


@dataclass
class AccountJob:
    account_id: str
    days: Sequence[Any] = field(default_factory=list)
    #: The token this attempt uses and its variable (set by :func:`run_accounts`).
    token: str | None = field(default=None, repr=False)
    token_env: str | None = None


@dataclass
class AccountResult:
    account_id: str
    outcomes: list[PartitionOutcome]
    #: Shown in the account's materialization metadata.
    extra: dict[str, Any] = field(default_factory=dict)


Work = Callable[[GraphClient, AccountJob], AccountResult]
OnError = Callable[[AccountJob, str, str], list[PartitionOutcome]]


@dataclass
class AccountRun:
    """What one run of a per-account asset shares across its accounts."""

    context: dg.AssetExecutionContext
    platform: PlatformResource
    settings: Settings
    lake: Lake
    stats: CallStats
    #: Rows the work of every attempt leaves for ``record`` (written once at the end).
    records: list[dict[str, Any]] = field(default_factory=list)

    @cached_property
    def token_store(self) -> TokenStore | None:
        return self.platform.token_store(self.settings)


#: ``work(run, client, job)``: pull one account with its client.
RunWork = Callable[[AccountRun, GraphClient, AccountJob], AccountResult]
#: ``on_error(run, job, error kind, message)``: the outcomes of an account that failed.
RunOnError = Callable[[AccountRun, AccountJob, str, str], list[PartitionOutcome]]
#: ``record(run, results)``: what the run writes once every account is done.
Record = Callable[[AccountRun, Sequence[AccountResult]], None]


def record_attempts_of(run: AccountRun, results: Sequence[AccountResult]) -> None:
    """The default ``record``: every outcome in the ingestion attempts log."""
    record_attempts(run.lake, [o for r in results for o in r.outcomes], run.context.run_id)


def run_accounts(
    context: dg.AssetExecutionContext,
    platform: PlatformResource,
    settings: Settings,
    jobs: Sequence[AccountJob],
    work: Work,
    on_error: OnError,
    stats: CallStats,
    rejected: Callable[[AccountResult], bool] | None = None,
) -> list[AccountResult]:
    """Run ``work`` per account (bounded parallelism); never raises for one account.

    The client comes from :meth:`PlatformResource.client_for` (the one token path): a
    stored token Meta rejects (a 190, or ``rejected(result)``) is retried once with the
    variable's.
    """
    lake = platform.lake(settings)
    pullable = platform.pullable_accounts(settings)

    def one(job: AccountJob) -> AccountResult:
        token_env: str | None = None
        token: str | None = None
        try:
            if job.account_id not in pullable:
                raise SettingsError(
                    f"{job.account_id} is not an enabled account in the settings "
                    f"({settings.source or 'defaults'}) nor a discovered one; add it back "
                    "to pull it, its history is kept"
                )

            def attempt(client: GraphClient, credential: Credential) -> AccountResult:
                nonlocal token, token_env
                token, token_env = credential.token, credential.token_env
                result = work(client, replace(job, token=token, token_env=token_env))
                _note_token_works(context, lake, job.account_id, token_env, token)
                return result

            return platform.client_for(
                settings, job.account_id, attempt, stats=stats, rejected=rejected
            )
        except Exception as exc:
            kind, message = describe(exc, account_id=job.account_id, token_env=token_env)
            if isinstance(exc, TokenInvalidError) and token and token_env:
                token_health.record_runtime_error(
                    lake, job.account_id, token_env, token, exc, tag=context.run_id
                )
            context.log.error(message)
            return AccountResult(job.account_id, on_error(job, kind, message))

    workers = max(1, min(MAX_PARALLEL_ACCOUNTS, len(jobs)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="account") as pool:
        return list(pool.map(one, jobs))


def _note_token_works(
    context: dg.AssetExecutionContext, lake: Lake, account_id: str, token_env: str, token: str
) -> None:
    """The pull worked: a 190 a pull recorded earlier is no longer the news.

    Bookkeeping only: if it cannot be written, the pull's results still stand (the
    next successful pull tries again).
    """
    try:
        if token_health.record_runtime_success(
            lake, account_id, token_env, token, tag=context.run_id
        ):
            context.log.info(f"{account_id}: the token works again (recorded in token_health)")
    except Exception as exc:
        context.log.warning(f"{account_id}: could not record that the token works: {exc}")


def api_metadata(stats: CallStats, account_id: str | None) -> Mapping[str, Any]:
    """API use of one account (``None``: of every account) for an asset's metadata.

    ``throttle_waits``/``throttle_seconds`` are the pacing and throttle waits the calls
    of that account sat through, so a slow run says which account was held back.
    """
    totals = (stats.snapshot() if account_id is None else stats.for_account(account_id))["totals"]
    return {
        "api_calls": int(totals.get("calls", 0)),
        "api_pages": int(totals.get("pages", 0)),
        "api_retries": int(totals.get("retries", 0)),
        "throttle_waits": int(totals.get("throttle_waits", 0)),
        "throttle_seconds": float(totals.get("throttle_seconds", 0.0)),
    }


def account_asset(
    dataset: Dataset,
    *,
    partitions_def: dg.PartitionsDefinition[Any],
    check_specs: Sequence[dg.AssetCheckSpec],
    work: RunWork,
    on_error: RunOnError,
    description: str,
    rejected: Callable[[AccountResult], bool] | None = None,
    record: Record = record_attempts_of,
    op_tags: Mapping[str, str] | None = None,
) -> dg.AssetsDefinition:
    """The Dagster asset of a per-account pull of ``dataset``.

    ``partitions_def`` is the account set (one partition per account) or the day ×
    account grid (one partition per account-day; a run's days are grouped per account
    and passing checks are reported per partition when the settings ask for it).  Every
    run covers all its partitions in one step (``BackfillPolicy.single_run``) and logs
    one materialization per stored partition (see :mod:`ads_platform.assets.reporting`).
    """
    key = dg.AssetKey(dataset.name)
    per_day = isinstance(partitions_def, dg.MultiPartitionsDefinition)

    @dg.asset(
        key=key,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        output_required=False,
        check_specs=list(check_specs),
        group_name="meta_ads",
        kinds={"python", "parquet"},
        description=description,
        op_tags=dict(op_tags) if op_tags else None,
    )
    def _account_asset(context: dg.AssetExecutionContext, platform: PlatformResource):  # type: ignore[no-untyped-def]  # Dagster reads check outputs from it
        settings = platform.settings()
        run = AccountRun(context, platform, settings, platform.lake(settings), CallStats())
        if per_day:
            by_account = split_keys(list(context.partition_keys))
            jobs = [AccountJob(account, days) for account, days in sorted(by_account.items())]
            partitions = sum(len(days) for days in by_account.values())
            context.log.info(f"{partitions} partition(s) over {len(by_account)} account(s)")
        else:
            jobs = [AccountJob(account) for account in sorted(context.partition_keys)]
        results = run_accounts(
            context,
            platform,
            settings,
            jobs,
            lambda client, job: work(run, client, job),
            lambda job, kind, message: on_error(run, job, kind, message),
            run.stats,
            rejected=rejected,
        )
        record(run, results)
        extra = {
            r.account_id: {**api_metadata(run.stats, r.account_id), **r.extra} for r in results
        }
        yield from report(
            context,
            key,
            [o for r in results for o in r.outcomes],
            _partition_of_day if per_day else _partition_of_account,
            lambda o: extra.get(o.account_id, {}),
            passing_checks_per_partition=per_day
            and settings.ingestion.passing_checks_per_partition,
        )

    return _account_asset


def _partition_of_account(outcome: PartitionOutcome) -> str:
    return outcome.account_id


def _partition_of_day(outcome: PartitionOutcome) -> str:
    assert outcome.day is not None
    return str(key_for(outcome.account_id, outcome.day))


def failed_days(dataset: str) -> RunOnError:
    """``on_error`` of a day × account dataset: the account's days that have started in
    its time zone (as last stored: the API could not be asked) failed; the others are
    skipped, not failed.
    """

    def on_error(
        run: AccountRun, job: AccountJob, kind: str, message: str
    ) -> list[PartitionOutcome]:
        known = known_account(run.lake, job.account_id)
        zone = known.timezone_name if known else None
        started, not_started = insights.split_started(job.days, zone)
        return [
            PartitionOutcome(
                dataset, job.account_id, day, "failed", message=message, error_kind=kind
            )
            for day in started
        ] + [
            replace(insights.not_started(job.account_id, day, zone), dataset=dataset)
            for day in not_started
        ]

    return on_error


def failed_account(dataset: str) -> RunOnError:
    """``on_error`` of a per-account dataset: the account's one partition failed."""

    def on_error(
        run: AccountRun, job: AccountJob, kind: str, message: str
    ) -> list[PartitionOutcome]:
        del run
        return [
            PartitionOutcome(
                dataset, job.account_id, None, "failed", message=message, error_kind=kind
            )
        ]

    return on_error

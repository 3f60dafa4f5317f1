"""Run one pull per ad account, several accounts at once, failures kept per account.

A run can cover many accounts (a daily schedule asks for yesterday of every account).
Each account gets its own client (its own token), runs in a worker thread (the work is
HTTP-bound), and its failure — expired token, lost permission, throttled past the
budget — becomes outcomes for that account only; the other accounts carry on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import dagster as dg

from ads_platform.ingestion import token_health
from ads_platform.ingestion.failures import describe
from ads_platform.ingestion.outcomes import PartitionOutcome
from ads_platform.lake import Lake
from ads_platform.meta.client import GraphClient
from ads_platform.meta.errors import TokenInvalidError
from ads_platform.meta.stats import CallStats
from ads_platform.resources import PlatformResource
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
    extra: dict[str, Any] = field(default_factory=dict)


Work = Callable[[GraphClient, AccountJob], AccountResult]
OnError = Callable[[AccountJob, str, str], list[PartitionOutcome]]


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

    The token comes from :meth:`PlatformResource.with_token`: a stored token Meta
    rejects (a 190, or ``rejected(result)``) is retried once with the variable's.
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

            def attempt(use_token: str, use_env: str) -> AccountResult:
                nonlocal token, token_env
                token, token_env = use_token, use_env
                with platform.client(settings, use_token, stats) as client:
                    result = work(client, replace(job, token=use_token, token_env=use_env))
                _note_token_works(context, lake, job.account_id, use_env, use_token)
                return result

            return platform.with_token(settings, job.account_id, attempt, rejected)
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

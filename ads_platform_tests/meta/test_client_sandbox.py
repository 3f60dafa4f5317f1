"""GraphClient against the local Graph API sandbox over real loopback HTTP.

No httpx mocks: every happy path and fault goes through sockets to the sandbox, with
the client's sleeps injected (FakeTime) so waits are counted, not slept.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from ads_platform.meta import (
    AsyncJobError,
    CallStats,
    GraphClient,
    InvalidParameterError,
    MalformedResponseError,
    MetaApiError,
    PermissionDeniedError,
    ThrottledError,
    TokenInfo,
    TokenInvalidError,
    TooMuchDataError,
    appsecret_proof,
    diff,
)

from .helpers import FakeTime

sandbox_module = pytest.importorskip("ads_platform.sandbox")
Sandbox = sandbox_module.Sandbox

TOKEN = "EAAsandboxTOKEN" + "t" * 60
APP_SECRET = "sandbox-app-secret-value"
PROOF = appsecret_proof(TOKEN, APP_SECRET)
TODAY = dt.date(2026, 3, 15)


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    # The client's sleeps are fake (no wall time passes), so async runs complete at once.
    with Sandbox(
        seed=7, accounts=3, latency_ms=0, app_secret=APP_SECRET, async_delay_scale=0
    ) as sandbox:
        sandbox.set_today(TODAY)
        yield sandbox


@pytest.fixture(autouse=True)
def _clean_faults(sb: Any) -> Iterator[None]:
    sb.clear_faults()
    yield
    sb.clear_faults()


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


def make_client(sb: Any, clock: FakeTime, **kwargs: Any) -> GraphClient:
    kwargs.setdefault("access_token", TOKEN)
    kwargs.setdefault("read_timeout", 1.0)
    kwargs.setdefault("connect_timeout", 1.0)
    return GraphClient(base_url=sb.base_url, sleep=clock.sleep, clock=clock.monotonic, **kwargs)


@pytest.fixture
def client(sb: Any, clock: FakeTime) -> Iterator[GraphClient]:
    with make_client(sb, clock) as graph:
        yield graph


def ad_rows_by_day(rows: list[dict[str, Any]]) -> dict[str, dict[str, Decimal]]:
    days: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        assert row["date_start"] == row["date_stop"]
        day = days.setdefault(row["date_start"], {"spend": Decimal(0), "impressions": Decimal(0)})
        day["spend"] += Decimal(row["spend"])
        day["impressions"] += Decimal(row["impressions"])
    return days


def truth_by_day(sb: Any, account_id: str, since: dt.date, until: dt.date) -> dict[str, Any]:
    truth = sb.truth(account_id, since, until)
    return {d["date"]: d for d in truth["days"] if d["impressions"] or Decimal(str(d["spend"]))}


def assert_rows_match_truth(
    sb: Any, account_id: str, since: dt.date, until: dt.date, rows: list[dict[str, Any]]
) -> None:
    keys = [(r["ad_id"], r["date_start"]) for r in rows]
    assert len(keys) == len(set(keys)), "a row was yielded twice"
    got = ad_rows_by_day(rows)
    expected = truth_by_day(sb, account_id, since, until)
    assert set(got) == set(expected)
    for day, values in expected.items():
        assert got[day]["impressions"] == values["impressions"], day
        assert got[day]["spend"] == Decimal(str(values["spend"])), day


# ---------------------------------------------------------------- happy paths


def test_accounts_and_entities_page_fully(sb: Any, clock: FakeTime) -> None:
    account = sb.account_ids[0]
    with make_client(sb, clock, page_limit=7) as small, make_client(sb, clock) as large:
        reachable = {a["id"] for a in large.list_ad_accounts()}
        assert set(sb.account_ids) <= reachable
        info = large.get_account(account)
        assert info["id"] == account
        assert info["currency"]
        for kind in ("campaigns", "adsets", "ads"):
            paged = [e["id"] for e in small.iter_entities(account, kind)]
            whole = [e["id"] for e in large.iter_entities(account, kind)]
            assert paged, kind
            assert len(paged) == len(set(paged)), kind
            assert sorted(paged) == sorted(whole), kind
        stats = small.stats.for_account(account)["by_endpoint"]
        assert stats["act/ads"]["pages"] > 1
        assert stats["act/ads"]["rows"] == len(whole)


def test_entity_filters(sb: Any, client: GraphClient) -> None:
    account = sb.account_ids[0]
    everything = list(
        client.iter_entities(
            account,
            "campaigns",
            effective_status=["ACTIVE", "PAUSED", "ARCHIVED", "DELETED"],
        )
    )
    active = list(client.iter_entities(account, "campaigns", effective_status=["ACTIVE"]))
    assert {c["effective_status"] for c in active} <= {"ACTIVE"}
    assert len(active) <= len(everything)
    future = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    assert list(client.iter_entities(account, "ads", updated_since=future)) == []


def test_sync_insights_match_truth(sb: Any, client: GraphClient) -> None:
    account = sb.account_ids[1]
    since, until = TODAY - dt.timedelta(days=13), TODAY - dt.timedelta(days=1)
    rows = list(
        client.iter_insights(
            account, since, until, action_attribution_windows=["7d_click", "1d_view"]
        )
    )
    assert rows
    assert_rows_match_truth(sb, account, since, until, rows)
    used = client.stats.for_account(account)["by_endpoint"]
    assert set(used) == {"act/insights"}  # sync: no report runs


def test_async_insights_match_sync(sb: Any, client: GraphClient) -> None:
    account = sb.account_ids[2]
    since, until = TODAY - dt.timedelta(days=9), TODAY - dt.timedelta(days=1)
    sync_rows = list(client.iter_insights(account, since, until, mode="sync"))
    async_rows = list(client.iter_insights(account, since, until, mode="async"))
    key = lambda r: (r["date_start"], r["ad_id"])  # noqa: E731
    assert sorted(sync_rows, key=key) == sorted(async_rows, key=key)
    endpoints = client.stats.for_account(account)["by_endpoint"]
    assert endpoints["report_run"]["calls"] >= 1
    assert endpoints["report_run/insights"]["rows"] == len(async_rows)


def test_long_range_goes_async_in_auto_mode(sb: Any, client: GraphClient) -> None:
    account = sb.account_ids[0]
    since, until = TODAY - dt.timedelta(days=40), TODAY - dt.timedelta(days=1)
    rows = list(client.iter_insights(account, since, until))
    assert_rows_match_truth(sb, account, since, until, rows)
    assert "report_run" in client.stats.for_account(account)["by_endpoint"]


def test_a_range_too_large_for_one_request_is_pulled_as_two_synchronous_halves(
    sb: Any, clock: FakeTime
) -> None:
    account = sb.account_ids[0]
    since, until = TODAY - dt.timedelta(days=100), TODAY - dt.timedelta(days=1)
    with make_client(sb, clock, async_threshold_days=365) as client:
        with pytest.raises(TooMuchDataError) as info:
            next(client.iter_insights(account, since, until, mode="sync"))
        assert (info.value.code, info.value.subcode) == (100, 1504018)
        rows = list(client.iter_insights(account, since, until))
        assert_rows_match_truth(sb, account, since, until, rows)
        endpoints = client.stats.for_account(account)["by_endpoint"]
        assert endpoints["act/insights"]["errors"] == 2  # the two refused whole ranges
        assert "report_run" not in endpoints  # 50 days each: no report run to wait for


def test_halves_still_too_large_are_pulled_by_async_report_runs(sb: Any, clock: FakeTime) -> None:
    account = sb.account_ids[0]
    since, until = TODAY - dt.timedelta(days=200), TODAY - dt.timedelta(days=1)
    with make_client(sb, clock, async_threshold_days=365) as client:
        rows = list(client.iter_insights(account, since, until))
        assert_rows_match_truth(sb, account, since, until, rows)
        endpoints = client.stats.for_account(account)["by_endpoint"]
        assert endpoints["act/insights"]["errors"] == 3  # the range and both 100-day halves
        assert endpoints["report_run/insights"]["rows"] == len(rows)


def test_app_secret_proof_is_accepted(sb: Any, clock: FakeTime) -> None:
    with make_client(sb, clock, app_secret=APP_SECRET, token_in_query=True) as client:
        assert client.get_account(sb.account_ids[0])["id"] == sb.account_ids[0]


def test_debug_token(sb: Any, client: GraphClient) -> None:
    data = client.debug_token()
    assert data["is_valid"] is True
    assert "ads_read" in data["scopes"]
    sandbox_now = dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)
    info = TokenInfo.from_debug_token(data, now=sandbox_now)
    assert info.healthy
    assert info.missing_scopes == ()


def test_token_lifecycle(sb: Any, clock: FakeTime) -> None:
    account = sb.account_ids[2]
    short_lived = "EAAshortlived" + "u" * 40
    with make_client(sb, clock, access_token=short_lived) as client:
        with pytest.raises(InvalidParameterError):
            client.exchange_token("123", "not-the-app-secret", short_lived)
        assert client.stats.snapshot()["totals"]["retries"] == 0
        exchanged = client.exchange_token("123", APP_SECRET, short_lived)
        assert exchanged["expires_in"] == 60 * 86400
    new_token = exchanged["access_token"]
    with make_client(sb, clock, access_token=new_token) as client:
        client.get_account(account)  # ties the token to the account
        now = dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)
        info = TokenInfo.from_debug_token(client.debug_token(), now=now)
        assert info.days_left == pytest.approx(60, abs=1)
        sb.set_token_expiry(account, now + dt.timedelta(days=3))
        soon = TokenInfo.from_debug_token(client.debug_token(), now=now)
        assert soon.days_left == pytest.approx(3, abs=0.01)
        sb.add_fault("token_expired", account_id=account)
        dead = TokenInfo.from_debug_token(client.debug_token(), now=now)
        assert not dead.is_valid
        assert dead.error_subcode == 463
        assert not dead.healthy
        sb.set_token_expiry(account, None)


# ---------------------------------------------------------------- faults


def test_server_errors_then_success(sb: Any, client: GraphClient, clock: FakeTime) -> None:
    account = sb.account_ids[0]
    sb.add_fault("server_error", account_id=account, count=3)
    assert client.get_account(account)["id"] == account
    totals = client.stats.for_account(account)["totals"]
    assert totals["calls"] == 4
    assert totals["retries"] == 3
    assert totals["errors"] == 3
    assert len(clock.sleeps) == 3


def test_server_errors_exhaust_retries(sb: Any, clock: FakeTime) -> None:
    account = sb.account_ids[0]
    sb.add_fault("server_error", account_id=account)
    with make_client(sb, clock, max_retries=2) as client:
        with pytest.raises(MetaApiError) as info:
            client.get_account(account)
        assert info.value.is_transient
        assert info.value.retries == 2
        assert client.stats.for_account(account)["totals"]["calls"] == 3


def test_throttled_then_success(sb: Any, client: GraphClient, clock: FakeTime) -> None:
    account = sb.account_ids[1]
    sb.add_fault("throttled", account_id=account, count=2)
    rows = list(client.iter_entities(account, "campaigns"))
    assert rows
    totals = client.stats.for_account(account)["totals"]
    assert totals["retries"] == 2
    assert totals["throttle_waits"] == 2
    assert totals["throttle_seconds"] > 0
    assert clock.slept == pytest.approx(totals["throttle_seconds"])


def test_a_throttle_on_one_account_past_the_budget_does_not_fail_the_others(
    sb: Any, clock: FakeTime
) -> None:
    """The reported incident: act_1 throttled for longer than the retry budget made a
    healthy account fail with "usage limits require waiting 60s, beyond the retry
    budget of 30s"."""
    throttled, *healthy = sb.account_ids
    sb.add_fault("throttled", account_id=throttled, regain_seconds=90)
    with make_client(sb, clock, retry_budget_seconds=30) as client:
        with pytest.raises(ThrottledError):
            client.get_account(throttled)
        for account in healthy:
            assert client.get_account(account)["id"] == account
            assert list(client.iter_entities(account, "campaigns"))
            totals = client.stats.for_account(account)["totals"]
            assert (totals["throttle_waits"], totals["retries"], totals["errors"]) == (0, 0, 0)
    assert clock.sleeps == []


def test_throttle_codes_17_80000_613_are_waited_out_by_that_account_alone(
    sb: Any, clock: FakeTime
) -> None:
    throttled, *healthy = sb.account_ids
    sb.add_fault("throttled", account_id=throttled, count=3, regain_seconds=2)
    with make_client(sb, clock, retry_budget_seconds=30) as client:
        with ThreadPoolExecutor(max_workers=3) as pool:
            nodes = list(pool.map(client.get_account, sb.account_ids))
        assert [n["id"] for n in nodes] == sb.account_ids
        mine = client.stats.for_account(throttled)["totals"]
        assert (mine["retries"], mine["throttle_waits"]) == (3, 3)
        # Meta's 2 s estimate (sent in minutes, 4 decimals), 3 times
        assert mine["throttle_seconds"] == pytest.approx(6, abs=0.05)
        for account in healthy:
            totals = client.stats.for_account(account)["totals"]
            assert (totals["throttle_waits"], totals["throttle_seconds"]) == (0, 0)
    assert sb.faults() == []


def test_throttled_with_regain_estimate_beyond_budget(sb: Any, clock: FakeTime) -> None:
    account = sb.account_ids[1]
    sb.add_fault("throttled", account_id=account, regain_seconds=3600)
    with make_client(sb, clock, retry_budget_seconds=300) as client:
        with pytest.raises(ThrottledError) as info:
            client.get_account(account)
        assert info.value.wait_seconds == pytest.approx(3600)
        assert clock.sleeps == []


def test_timeout_then_success(sb: Any, clock: FakeTime) -> None:
    account = sb.account_ids[0]
    sb.add_fault("timeout", account_id=account, count=1, seconds=2)
    with make_client(sb, clock, read_timeout=0.3) as client:
        assert client.get_account(account)["id"] == account
        totals = client.stats.for_account(account)["totals"]
        assert totals["retries"] == 1
        assert totals["calls"] == 2


def test_token_expired_fails_fast_and_names_account(sb: Any, client: GraphClient) -> None:
    account = sb.account_ids[2]
    sb.add_fault("token_expired", account_id=account)
    with pytest.raises(TokenInvalidError) as info:
        list(client.iter_insights(account, TODAY - dt.timedelta(days=3), TODAY))
    error = info.value
    assert error.retries == 0
    assert error.subcode == 463
    assert account in str(error)
    assert "expired" in str(error)
    error.hint = "META_TOKEN_ACME"
    assert "META_TOKEN_ACME" in error.user_action
    assert client.stats.for_account(account)["totals"]["calls"] == 1
    # Other accounts of the same token are not failed by it.
    other = sb.account_ids[0]
    assert client.get_account(other)["id"] == other


def test_token_revoked(sb: Any, client: GraphClient) -> None:
    account = sb.account_ids[2]
    sb.add_fault("token_revoked", account_id=account)
    with pytest.raises(TokenInvalidError) as info:
        client.get_account(account)
    assert info.value.subcode == 460
    assert info.value.retries == 0
    assert not info.value.is_expired


def test_permission_denied(sb: Any, client: GraphClient) -> None:
    account = sb.account_ids[1]
    sb.add_fault("permission_denied", account_id=account)
    with pytest.raises(PermissionDeniedError) as info:
        list(client.iter_entities(account, "ads"))
    assert info.value.http_status == 403
    assert info.value.retries == 0


def test_malformed_json_is_an_error_not_empty_data(sb: Any, client: GraphClient) -> None:
    account = sb.account_ids[0]
    sb.add_fault("malformed_json", account_id=account)
    with pytest.raises(MalformedResponseError) as info:
        list(client.iter_entities(account, "campaigns"))
    assert info.value.is_transient
    assert client.stats.for_account(account)["totals"]["calls"] == 3  # 1 + 2 retries
    sb.clear_faults()
    sb.add_fault("malformed_json", account_id=account, count=1)
    assert list(client.iter_entities(account, "campaigns"))


def test_truncated_page_is_an_error_not_empty_data(sb: Any, client: GraphClient) -> None:
    account = sb.account_ids[0]
    sb.add_fault("truncated_page", account_id=account)
    with pytest.raises(MetaApiError) as info:
        list(client.iter_entities(account, "ads"))
    assert info.value.is_transient
    sb.clear_faults()
    sb.add_fault("truncated_page", account_id=account, count=1)
    with_fault = [a["id"] for a in client.iter_entities(account, "ads")]
    assert sorted(with_fault) == sorted(a["id"] for a in client.iter_entities(account, "ads"))


def test_looping_next_detected(sb: Any, clock: FakeTime) -> None:
    account = sb.account_ids[0]
    sb.add_fault("looping_next", account_id=account)
    with make_client(sb, clock, page_limit=5) as client:
        with pytest.raises(MalformedResponseError) as info:
            list(client.iter_entities(account, "ads"))
        assert info.value.reason == "looping_next"
        assert client.stats.for_account(account)["totals"]["calls"] < 50


def test_async_job_failed_splits_range(sb: Any, client: GraphClient) -> None:
    account = sb.account_ids[1]
    since, until = TODAY - dt.timedelta(days=8), TODAY - dt.timedelta(days=1)
    sb.add_fault("async_job_failed", account_id=account, count=1)
    rows = list(client.iter_insights(account, since, until, mode="async"))
    assert_rows_match_truth(sb, account, since, until, rows)
    # one failed run + two halves
    assert client.stats.for_account(account)["by_endpoint"]["act/insights"]["calls"] == 3


def test_async_job_stuck_is_bounded_then_split(sb: Any, clock: FakeTime) -> None:
    account = sb.account_ids[1]
    since, until = TODAY - dt.timedelta(days=4), TODAY - dt.timedelta(days=1)
    sb.add_fault("async_job_stuck", account_id=account, count=1)
    with make_client(sb, clock, async_poll_timeout=30, async_poll_interval=1) as client:
        rows = list(client.iter_insights(account, since, until, mode="async"))
        assert_rows_match_truth(sb, account, since, until, rows)
        assert clock.slept <= 30 * 3  # the stuck run's polling was bounded


def test_async_single_day_that_keeps_failing_raises(sb: Any, clock: FakeTime) -> None:
    account = sb.account_ids[1]
    day = TODAY - dt.timedelta(days=2)
    sb.add_fault("async_job_stuck", account_id=account)
    with make_client(sb, clock, async_poll_timeout=20, async_poll_interval=1) as client:
        with pytest.raises(AsyncJobError) as info:
            list(client.iter_insights(account, day - dt.timedelta(days=1), day, mode="async"))
        assert info.value.reason in ("stuck", "timed_out")
        assert info.value.since == info.value.until  # split down to one day
    sb.clear_faults()
    sb.add_fault("async_job_failed", account_id=account)
    with make_client(sb, clock) as client:
        with pytest.raises(AsyncJobError) as failed:
            list(client.iter_insights(account, day, day, mode="async"))
        assert failed.value.reason == "failed"


def test_stats_diff_per_asset(sb: Any, clock: FakeTime) -> None:
    shared = CallStats()
    account = sb.account_ids[2]
    with make_client(sb, clock, stats=shared) as client:
        client.get_account(account)
        before = shared.snapshot()
        list(client.iter_entities(account, "campaigns"))
        used = diff(before, shared.snapshot())
    assert set(used["by_account"]) == {account}
    assert set(used["by_account"][account]["by_endpoint"]) == {"act/campaigns"}
    assert used["totals"]["calls"] == used["totals"]["pages"]


# ---------------------------------------------------------------- redaction


FAULT_MATRIX = [
    ("token_expired", {}),
    ("token_revoked", {}),
    ("permission_denied", {}),
    ("throttled", {"count": 1}),
    ("throttled", {"regain_seconds": 7200}),
    ("server_error", {"count": 2}),
    ("server_error", {}),
    ("timeout", {"count": 1, "seconds": 1}),
    ("malformed_json", {}),
    ("truncated_page", {}),
    ("looping_next", {}),
    ("async_job_failed", {"count": 1}),
    ("async_job_stuck", {"count": 1}),
    ("zeros", {}),
]


@pytest.mark.parametrize("token_in_query", [False, True])
def test_no_secret_in_logs_or_exceptions_across_faults(
    sb: Any, clock: FakeTime, caplog: pytest.LogCaptureFixture, token_in_query: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "ads_platform"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    account = sb.account_ids[0]
    texts: list[str] = []
    raised: Counter[str] = Counter()
    since, until = TODAY - dt.timedelta(days=3), TODAY - dt.timedelta(days=1)
    for fault, options in FAULT_MATRIX:
        sb.clear_faults()
        sb.add_fault(fault, account_id=account, **options)
        # A fresh client per fault: a throttle with a long regain estimate rightly
        # keeps the same client away from the account for the rest of the hour.
        with make_client(
            sb,
            clock,
            app_secret=APP_SECRET,
            token_in_query=token_in_query,
            page_limit=5,
            read_timeout=0.3,
            async_poll_timeout=10,
        ) as client:
            for call in (
                lambda: client.get_account(account),
                lambda: list(client.iter_entities(account, "ads")),
                lambda: list(client.iter_insights(account, since, until, mode="sync")),
                lambda: list(client.iter_insights(account, since, until, mode="async")),
                lambda: client.debug_token(),
            ):
                try:
                    call()
                except MetaApiError as exc:
                    texts += [str(exc), repr(exc), str(exc.to_dict()), str(exc.args)]
                    texts += traceback.format_exception(exc)  # what Dagster shows
                    raised[type(exc).__name__] += 1
            texts.append(repr(client))
    assert any(r.name == "httpx" for r in caplog.records)  # httpx's own logger was captured
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    # The matrix really produced the error classes whose messages could leak.
    assert {"TokenInvalidError", "PermissionDeniedError", "ThrottledError"} <= set(raised)
    assert {"MalformedResponseError", "TransientError"} <= set(raised)
    if token_in_query:
        assert "access_token=***REDACTED***" in caplog.text  # the risky URLs were logged
    haystack = "\n".join(
        [caplog.text, *texts]
        + [r.getMessage() for r in caplog.records]
        + [str(r.args) for r in caplog.records]
        + [r.exc_text or "" for r in caplog.records]
    )
    for secret in (TOKEN, PROOF, APP_SECRET):
        assert secret not in haystack


def test_parallel_accounts_share_one_client(sb: Any, client: GraphClient) -> None:
    """Dagster may pull several accounts at once through one client (one token)."""
    since, until = TODAY - dt.timedelta(days=6), TODAY - dt.timedelta(days=1)

    def pull(account: str) -> int:
        return len(list(client.iter_insights(account, since, until)))

    with ThreadPoolExecutor(max_workers=3) as pool:
        counts = dict(zip(sb.account_ids, pool.map(pull, sb.account_ids), strict=True))
    for account, rows in counts.items():
        stats = client.stats.for_account(account)["by_endpoint"]["act/insights"]
        assert stats["rows"] == rows
        assert stats["calls"] == stats["pages"]


def test_a_month_of_age_and_gender_for_100_ads_refused_whole_comes_in_two_synchronous_halves(
    clock: FakeTime,
) -> None:
    """The daily run's case: yesterday and the 28-day lookback, broken down, at agency size."""
    since, until = TODAY - dt.timedelta(days=29), TODAY - dt.timedelta(days=1)
    with Sandbox(seed=7, accounts=1, ads_per_account=100, async_delay_scale=0) as big:
        big.set_today(TODAY)
        account = big.account_ids[0]
        with make_client(big, clock) as client:
            rows = list(client.iter_insights(account, since, until, breakdowns=["age", "gender"]))
            endpoints = client.stats.for_account(account)["by_endpoint"]
            assert endpoints["act/insights"]["errors"] == 1  # the whole month, refused
            assert "report_run" not in endpoints
        with make_client(big, clock) as client:
            by_report = list(
                client.iter_insights(
                    account, since, until, breakdowns=["age", "gender"], mode="async"
                )
            )

    def key(row: dict[str, Any]) -> tuple[str, ...]:
        return (row["date_start"], row["ad_id"], row["age"], row["gender"])

    assert len(rows) > 25_000
    assert sorted(rows, key=key) == sorted(by_report, key=key)

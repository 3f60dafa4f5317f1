"""Pacing decisions and the Pacer's bookkeeping, with a fake clock."""

from __future__ import annotations

import json
import threading

import pytest

from ads_platform.meta.pacing import (
    DEFAULT_POLICY,
    Pacer,
    PacingPolicy,
    decide_wait,
    parse_usage_headers,
)

from .helpers import FakeTime


@pytest.mark.parametrize(
    ("pct", "expected"),
    [
        (0, 0.0),
        (74, 0.0),
        (75, DEFAULT_POLICY.short_wait),
        (76, DEFAULT_POLICY.short_wait),
        (89.9, DEFAULT_POLICY.short_wait),
        (90, DEFAULT_POLICY.long_wait),
        (91, DEFAULT_POLICY.long_wait),
        (99.9, DEFAULT_POLICY.long_wait),
        (100, DEFAULT_POLICY.full_wait),
        (130, DEFAULT_POLICY.full_wait),
    ],
)
def test_decide_wait_thresholds(pct: float, expected: float) -> None:
    assert decide_wait(pct) == expected


def test_regain_estimate_wins() -> None:
    assert decide_wait(10, regain_seconds=300) == 300
    assert decide_wait(100, regain_seconds=120) == 120
    assert decide_wait(100, reset_seconds=45) == 45
    assert decide_wait(100, regain_seconds=10**9) == DEFAULT_POLICY.max_wait
    policy = PacingPolicy(short_wait=1, long_wait=5)
    assert decide_wait(80, policy=policy) == 1
    assert decide_wait(95, policy=policy) == 5


def buc(pct: float, regain_minutes: float = 0, key: str = "123") -> dict[str, str]:
    entry = {
        "type": "ads_insights",
        "call_count": pct,
        "total_cputime": 1,
        "total_time": 1,
        "estimated_time_to_regain_access": regain_minutes,
    }
    return {"X-Business-Use-Case-Usage": json.dumps({key: [entry]})}


def test_parse_all_headers() -> None:
    headers = {
        "x-app-usage": json.dumps({"call_count": 12, "total_cputime": 40, "total_time": 3}),
        "X-Ad-Account-Usage": json.dumps(
            {"acc_id_util_pct": 55.5, "reset_time_duration": 120, "ads_api_access_tier": "x"}
        ),
        "X-FB-Ads-Insights-Throttle": json.dumps({"app_id_util_pct": 41, "acc_id_util_pct": 60}),
        **buc(30, regain_minutes=2),
    }
    report = parse_usage_headers(headers)
    assert report.app_pct == 41
    assert report.account_pct == 60
    assert report.regain_seconds == 120
    assert report.reset_seconds == 120
    assert report.by_use_case == {"ads_insights": 30}
    assert report.account_seen
    assert report.app_seen


@pytest.mark.parametrize(
    "value",
    ["", "not json", "[]", "null", '{"a": "b"}', '{"1": [{"call_count": "NaN"}]}', '{"1": 5}'],
)
def test_garbage_headers_are_tolerated(value: str) -> None:
    report = parse_usage_headers(
        {
            "X-Business-Use-Case-Usage": value,
            "X-App-Usage": value,
            "X-Ad-Account-Usage": value,
            "X-FB-Ads-Insights-Throttle": value,
        }
    )
    assert report.account_pct == 0
    assert report.app_pct == 0
    assert report.regain_seconds == 0


def test_string_numbers_are_read() -> None:
    report = parse_usage_headers({"X-App-Usage": '{"call_count": "88", "total_time": "7%"}'})
    assert report.app_pct == 88


@pytest.mark.parametrize(
    ("pct", "expected"),
    [(0, 0.0), (74, 0.0), (76, 2.0), (91, 10.0), (100, 60.0)],
)
def test_pacer_waits_per_account(pct: float, expected: float) -> None:
    clock = FakeTime()
    pacer = Pacer(clock=clock.monotonic, sleep=clock.sleep)
    pacer.observe("act_1", buc(pct))
    assert pacer.pending_wait("act_1") == expected
    assert pacer.pending_wait("act_2") == 0  # other accounts are unaffected
    assert pacer.wait("act_1") == expected
    assert pacer.pending_wait("act_1") == 0
    assert pacer.wait("act_1") == 0  # one wait per observation
    assert pacer.totals() == {
        "throttle_waits": 1 if expected else 0,
        "throttle_seconds": expected,
    }


def test_pacer_regain_estimate_and_elapsed_time() -> None:
    clock = FakeTime()
    pacer = Pacer(clock=clock.monotonic, sleep=clock.sleep)
    pacer.observe("123", buc(20, regain_minutes=5))  # key normalized to act_123
    assert pacer.pending_wait("act_123") == 300
    clock.now += 100  # time spent elsewhere counts
    assert pacer.wait("act_123") == 200
    assert clock.sleeps == [200]


def test_app_usage_paces_every_account() -> None:
    clock = FakeTime()
    pacer = Pacer(clock=clock.monotonic, sleep=clock.sleep)
    pacer.observe("act_1", {"X-App-Usage": '{"call_count": 95}'})
    assert pacer.pending_wait("act_2") == DEFAULT_POLICY.long_wait
    assert pacer.pending_wait(None) == DEFAULT_POLICY.long_wait


def test_responses_without_headers_keep_state() -> None:
    clock = FakeTime()
    pacer = Pacer(clock=clock.monotonic, sleep=clock.sleep)
    pacer.observe("act_1", buc(95))
    pacer.observe("act_1", {})
    assert pacer.pending_wait("act_1") == DEFAULT_POLICY.long_wait
    usage = pacer.usage("act_1")
    assert usage is not None
    assert usage.account_pct == 95


def test_newer_lower_usage_replaces_pacing_but_not_blocks() -> None:
    clock = FakeTime()
    pacer = Pacer(clock=clock.monotonic, sleep=clock.sleep)
    pacer.observe("act_1", buc(95))
    pacer.observe("act_1", buc(10))
    assert pacer.pending_wait("act_1") == 0
    pacer.block("act_1", 30)
    pacer.observe("act_1", buc(10))
    assert pacer.pending_wait("act_1") == 30


def test_pacer_is_thread_safe() -> None:
    clock = FakeTime()
    pacer = Pacer(clock=clock.monotonic, sleep=clock.sleep)

    def work(i: int) -> None:
        for _ in range(200):
            pacer.observe(f"act_{i}", buc(50))
            pacer.wait(f"act_{i}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert pacer.totals()["throttle_waits"] == 0


def test_account_regain_does_not_block_other_accounts() -> None:
    clock = FakeTime()
    pacer = Pacer(clock=clock.monotonic, sleep=clock.sleep)
    saturated = {**buc(100, regain_minutes=30), "X-App-Usage": '{"call_count": 100}'}
    pacer.observe("act_1", saturated)
    assert pacer.pending_wait("act_1") == 1800
    assert pacer.pending_wait("act_2") == DEFAULT_POLICY.full_wait  # app at 100 %
    pacer.observe("act_3", {**buc(100, regain_minutes=0.05), "X-App-Usage": '{"call_count": 100}'})
    # An account's estimate is about that account: it neither lengthens nor shortens the
    # app-wide wait, which follows X-App-Usage alone.
    assert pacer.pending_wait("act_2") == DEFAULT_POLICY.full_wait


def account_headers(digits: str, pct: float, regain_minutes: float = 0) -> dict[str, str]:
    """The headers Meta sends for one ad account's call: every figure but the app's."""
    return {
        **buc(pct, regain_minutes, key=digits),
        "X-Ad-Account-Usage": json.dumps({"acc_id_util_pct": pct, "reset_time_duration": 30}),
        "X-FB-Ads-Insights-Throttle": json.dumps({"app_id_util_pct": 1, "acc_id_util_pct": pct}),
        "X-App-Usage": json.dumps({"call_count": 1, "total_cputime": 1, "total_time": 1}),
    }


@pytest.mark.parametrize("regain_minutes", [0, 2])
def test_an_account_at_100_percent_waits_alone(regain_minutes: float) -> None:
    clock = FakeTime()
    pacer = Pacer(clock=clock.monotonic, sleep=clock.sleep)
    pacer.observe("act_1", account_headers("1", 100, regain_minutes))
    pacer.observe("act_2", account_headers("2", 5))
    expected = regain_minutes * 60 or 30  # Meta's estimate, else the account's reset time
    assert pacer.pending_wait("act_1") == expected
    assert pacer.pending_wait("act_2") == 0
    assert pacer.pending_wait(None) == 0
    assert pacer.wait("act_2") == 0
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "app_header",
    [
        {"X-App-Usage": json.dumps({"call_count": 100, "total_cputime": 5, "total_time": 5})},
        {"X-FB-Ads-Insights-Throttle": json.dumps({"app_id_util_pct": 100, "acc_id_util_pct": 1})},
    ],
)
def test_app_usage_at_100_percent_slows_every_account(app_header: dict[str, str]) -> None:
    clock = FakeTime()
    pacer = Pacer(clock=clock.monotonic, sleep=clock.sleep)
    pacer.observe("act_1", app_header)
    for account in ("act_1", "act_2", "act_3", None):
        assert pacer.pending_wait(account) == DEFAULT_POLICY.full_wait, account


def test_business_usage_paces_the_accounts_that_reported_that_business_only() -> None:
    clock = FakeTime()
    pacer = Pacer(clock=clock.monotonic, sleep=clock.sleep)
    pacer.observe("act_1", buc(10, key="900"))  # act_1 and act_3 belong to business 900
    pacer.observe("act_3", buc(10, key="900"))
    pacer.observe("act_2", buc(10, key="2"))  # act_2 is counted on its own
    pacer.observe("act_1", buc(100, regain_minutes=5, key="900"))
    assert pacer.pending_wait("act_1") == 300
    assert pacer.pending_wait("act_3") == 300
    assert pacer.pending_wait("act_2") == 0
    assert pacer.pending_wait(None) == 0


def test_a_throttle_wait_does_not_hold_up_other_accounts_threads() -> None:
    """While act_1's thread sleeps out its throttle, act_2's thread observes, asks and
    waits through the same pacer without blocking (no lock is held during the sleep)."""
    clock = FakeTime()
    asleep, release = threading.Event(), threading.Event()

    def sleep(seconds: float) -> None:
        if threading.current_thread().name == "act_1":
            asleep.set()
            assert release.wait(timeout=30), "act_1 was never released"
        clock.sleep(seconds)

    pacer = Pacer(clock=clock.monotonic, sleep=sleep)
    pacer.observe("act_1", account_headers("1", 100, regain_minutes=10))
    pacer.block("act_1", 600)
    waiter = threading.Thread(target=pacer.wait, args=("act_1",), name="act_1")
    waiter.start()
    try:
        assert asleep.wait(timeout=30)
        done = threading.Event()

        def other_account() -> None:
            pacer.observe("act_2", account_headers("2", 80))
            assert pacer.pending_wait("act_2") == DEFAULT_POLICY.short_wait
            assert pacer.wait("act_2") == DEFAULT_POLICY.short_wait
            pacer.usage("act_2")
            pacer.totals()
            done.set()

        other = threading.Thread(target=other_account, name="act_2")
        other.start()
        other.join(timeout=30)
        assert done.is_set(), "act_2's thread was blocked by act_1's throttle wait"
        assert waiter.is_alive()  # act_1 is still sleeping out its own throttle
    finally:
        release.set()
        waiter.join(timeout=30)
    assert clock.sleeps == [DEFAULT_POLICY.short_wait, 600]

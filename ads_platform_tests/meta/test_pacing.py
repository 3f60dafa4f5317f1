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
    assert pacer.pending_wait("act_2") == pytest.approx(3)  # a shorter estimate wins

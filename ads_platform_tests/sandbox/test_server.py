"""The server as a whole: subprocess mode, clock, stats, usage headers, latency, CLI."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from ads_platform.sandbox import Sandbox
from ads_platform.sandbox.cli import build_parser

from .conftest import TODAY, TOKEN
from .helpers import VERSION, insights, ok

ALL_STATUSES = json.dumps(
    ["ACTIVE", "PAUSED", "CAMPAIGN_PAUSED", "ADSET_PAUSED", "ARCHIVED", "DELETED"]
)


def test_subprocess_mode_serves_the_same_world(sb: Sandbox, client: httpx.Client) -> None:
    day = TODAY - dt.timedelta(days=1)
    expected = insights(client, sb.account_ids[0], day, day)
    with Sandbox(seed=7, accounts=3, subprocess=True, today=TODAY) as child:
        assert child.account_ids == sb.account_ids
        assert child.base_url.startswith("http://127.0.0.1:") and child.base_url != sb.base_url
        assert child.today() == TODAY
        with httpx.Client(
            base_url=child.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, trust_env=False
        ) as c:
            assert insights(c, child.account_ids[0], day, day) == expected
            child.add_fault("server_error", count=1)
            assert c.get(f"/{VERSION}/me").status_code == 500
            assert c.get(f"/{VERSION}/me").status_code == 200
        assert child.truth(child.account_ids[0], day, day) == sb.truth(sb.account_ids[0], day, day)
        assert child.stats()["total"] == 3


def test_clock_control(sb: Sandbox, client: httpx.Client) -> None:
    assert sb.today() == TODAY
    sb.set_today(dt.date(2026, 7, 1))
    assert sb.today() == dt.date(2026, 7, 1)
    clock = client.get("/__sandbox/clock").json()
    assert clock == {"today": "2026-07-01", "instant": "2026-07-01T12:00:00+00:00", "fixed": True}
    resp = client.post("/__sandbox/clock", json={"today": None})
    assert resp.json()["today"] == dt.datetime.now(dt.UTC).date().isoformat()
    assert client.post("/__sandbox/clock", json={"today": "July"}).status_code == 400


def test_stats_normalize_paths(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[1]
    sb.reset_stats()
    client.get(f"/v25.0/{account}/insights")
    client.get(f"/v19.0/{account}/insights")
    client.get(f"/{account}/campaigns")
    client.get("/__sandbox/health")
    stats = sb.stats()
    assert stats["total"] == 3
    assert stats["by_path"] == {f"/{account}/insights": 2, f"/{account}/campaigns": 1}
    assert stats["by_account"] == {account: 3}
    assert stats["by_status"] == {"200": 3}
    sb.reset_stats()
    assert sb.stats()["total"] == 0


def test_usage_headers_rise_with_calls(sb: Sandbox, client: httpx.Client) -> None:
    with Sandbox(seed=5, accounts=2, today=TODAY) as fresh:
        account, other = fresh.account_ids
        with httpx.Client(
            base_url=fresh.base_url, headers={"Authorization": "Bearer t"}, trust_env=False
        ) as c:
            pcts = []
            for _ in range(30):
                resp = c.get(f"/{VERSION}/{account}/insights")
                pcts.append(json.loads(resp.headers["X-Ad-Account-Usage"])["acc_id_util_pct"])
                throttle = json.loads(resp.headers["X-FB-Ads-Insights-Throttle"])
                assert set(throttle) == {"app_id_util_pct", "acc_id_util_pct"}
            assert pcts == sorted(pcts) and pcts[-1] == pytest.approx(3.0)
            buc = json.loads(resp.headers["X-Business-Use-Case-Usage"])
            entry = buc[account.removeprefix("act_")][0]
            assert entry["type"] == "ads_insights" and entry["call_count"] == 3
            assert entry["ads_api_access_tier"] == "standard_access"
            assert "call_count" in json.loads(resp.headers["X-App-Usage"])
            quiet = c.get(f"/{VERSION}/{other}")
            assert json.loads(quiet.headers["X-Ad-Account-Usage"])[
                "acc_id_util_pct"
            ] == pytest.approx(0.1)
            assert "X-FB-Ads-Insights-Throttle" not in quiet.headers
            me = c.get(f"/{VERSION}/me")
            assert me.headers["X-Business-Use-Case-Usage"] == "{}"
            fresh.set_usage_factor(2.0)
            hot = c.get(f"/{VERSION}/{account}")
            assert json.loads(hot.headers["X-Ad-Account-Usage"])[
                "acc_id_util_pct"
            ] == pytest.approx(62.0)


def test_latency_is_per_request_and_concurrent() -> None:
    """Requests overlap in time (served in parallel) and control paths skip the delay.

    Asserted on the overlap of the four requests' intervals, not on a wall-time
    budget, so a loaded machine cannot fail it.
    """
    latency = 0.4
    with Sandbox(seed=2, accounts=1, latency_ms=int(latency * 1000), today=TODAY) as sb:
        url = f"{sb.base_url}/{VERSION}/{sb.account_ids[0]}"
        ready = threading.Barrier(4)

        def one(_: int) -> tuple[float, float]:
            with httpx.Client(trust_env=False) as c:
                ready.wait()
                start = time.perf_counter()
                assert c.get(url, headers={"Authorization": "Bearer t"}).status_code == 200
                return start, time.perf_counter()

        with ThreadPoolExecutor(max_workers=4) as pool:
            intervals = list(pool.map(one, range(4)))
        assert min(end - start for start, end in intervals) >= latency
        # Served in parallel: every request started before any of them finished.
        assert max(start for start, _ in intervals) < min(end for _, end in intervals)
        health = time.perf_counter()
        with httpx.Client(trust_env=False) as c:
            c.get(f"{sb.base_url}/__sandbox/health")
        assert time.perf_counter() - health < latency  # control paths are not delayed


def test_scale_option_and_info(sb: Sandbox) -> None:
    with Sandbox(seed=9, accounts=2, ads_per_account=120, today=TODAY) as big:
        info = big.info()
        assert [a["ads"] for a in info["accounts"]] == [120, 120]
        with httpx.Client(
            base_url=big.base_url, headers={"Authorization": "Bearer t"}, trust_env=False
        ) as c:
            ads = ok(
                c.get(
                    f"/{VERSION}/{big.account_ids[0]}/ads",
                    params={
                        "limit": 500,
                        "effective_status": ALL_STATUSES,
                    },
                )
            )
            assert len(ads["data"]) == 120
    default_counts = [a["ads"] for a in sb.accounts]
    assert all(20 <= n <= 40 for n in default_counts)


def test_cli_parser_defaults() -> None:
    args = build_parser().parse_args(
        ["--port", "0", "--seed", "4", "--accounts", "2", "--ads", "50"]
    )
    assert (args.port, args.seed, args.accounts, args.latency_ms, args.ads) == (0, 4, 2, 0, 50)
    assert args.today is None
    assert args.async_delay_scale == 1.0  # realistic unless asked otherwise
    fast = build_parser().parse_args(["--async-delay-scale", "0.01"])
    assert fast.async_delay_scale == 0.01


def test_async_delay_scale_must_be_a_sane_factor() -> None:
    for bad in (-0.5, 1000.0):
        with pytest.raises(ValueError, match="async_delay_scale"):
            Sandbox(async_delay_scale=bad)


def test_max_in_flight_counts_requests_that_overlap_while_they_wait_out_the_latency() -> None:
    """Two requests sent together at 300 ms latency overlap by ~300 ms: the stat must say 2
    (it once counted only the handling, milliseconds, and said 1 whatever the client did)."""
    with Sandbox(seed=7, accounts=1, latency_ms=300, today=TODAY) as sandbox:
        together = threading.Barrier(2, timeout=10)

        def get() -> int:
            with httpx.Client(
                base_url=sandbox.base_url, headers={"Authorization": f"Bearer {TOKEN}"}
            ) as client:
                together.wait()
                return client.get(f"/{VERSION}/{sandbox.account_ids[0]}").status_code

        with ThreadPoolExecutor(max_workers=2) as pool:
            assert list(pool.map(lambda _: get(), range(2))) == [200, 200]
        assert sandbox.stats()["max_in_flight"] == 2

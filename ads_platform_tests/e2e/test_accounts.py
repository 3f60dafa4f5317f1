"""Accounts: discovery through me/adaccounts, and removal that keeps history."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
import yaml

from ads_platform.demo import materialize
from ads_platform_tests.conftest import SANDBOX_TODAY, Platform
from ads_platform_tests.e2e.helpers import ingest, lake, materialized_partitions, setup_accounts
from ads_platform_tests.platform_defs import defs

DAY = SANDBOX_TODAY - dt.timedelta(days=2)


def rewrite_settings(platform: Platform, **changes: object) -> None:
    data = yaml.safe_load(platform.config_path.read_text())
    data.update(changes)
    platform.config_path.write_text(yaml.safe_dump(data))


def test_discovered_accounts_become_partitions_and_are_pulled(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured, *others = platform.accounts
    data = yaml.safe_load(platform.config_path.read_text())
    rewrite_settings(
        platform,
        accounts=[a for a in data["accounts"] if a["id"] == configured],
        discovery={"enabled": True, "token_env": "AGENCY_TOKEN"},
    )
    monkeypatch.setenv("AGENCY_TOKEN", "agency-token-0123456789")
    assert materialize(defs, platform.instance, ["ad_accounts"]).success
    partitions = set(platform.instance.get_dynamic_partitions("ad_accounts"))
    assert set(platform.accounts) <= partitions
    frame = lake(platform).read(lake(platform).partition_path("ad_accounts"))
    assert frame is not None
    sources = dict(zip(frame["account_id"], frame["source"], strict=True))
    assert sources[configured] == "settings"
    assert all(sources[a] == "discovered" for a in others)
    assert ingest(platform, others[0], DAY, DAY).success
    assert f"{others[0]}|{DAY}" in materialized_partitions(platform)


def test_removed_account_keeps_history_and_is_not_pulled(platform: Platform) -> None:
    setup_accounts(platform, entities=False)
    removed = platform.accounts[0]
    assert ingest(platform, removed, DAY, DAY).success
    path = lake(platform).partition_path("ad_insights_daily", removed, DAY)
    before = path.read_bytes()
    data = yaml.safe_load(platform.config_path.read_text())
    rewrite_settings(platform, accounts=[a for a in data["accounts"] if a["id"] != removed])
    assert materialize(defs, platform.instance, ["ad_accounts"]).success
    frame = lake(platform).read(lake(platform).partition_path("ad_accounts"))
    assert frame is not None
    active = dict(zip(frame["account_id"], frame["is_active"], strict=True))
    assert not bool(active[removed])
    result = ingest(platform, removed, DAY, DAY)
    assert not result.success
    message = next(
        e for e in result.all_events if e.is_step_failure
    ).step_failure_data.error.message  # type: ignore[union-attr]
    assert "not an enabled account" in message
    assert path.read_bytes() == before  # history kept


def test_ad_accounts_reads_accounts_in_parallel_and_records_each_accounts_throttle_waits(
    platform: Platform,
) -> None:
    order = [a["id"] for a in yaml.safe_load(platform.config_path.read_text())["accounts"]]
    throttled, *healthy = order  # read first when accounts are read one after the other
    platform.sandbox.add_fault("throttled", account_id=throttled, count=2, regain_seconds=2)
    result = materialize(defs, platform.instance, ["ad_accounts"])
    assert result.success
    (event,) = result.get_asset_materialization_events()
    meta = {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
    assert meta["problems"] == "none"
    assert meta["accounts"] == 3
    per_account = meta["api_by_account"]
    assert isinstance(per_account, dict)
    assert (per_account[throttled]["throttle_waits"], per_account[throttled]["api_retries"]) == (
        2,
        2,
    )
    assert per_account[throttled]["throttle_seconds"] > 0
    for account in healthy:
        assert per_account[account]["throttle_waits"] == 0, account
        assert per_account[account]["throttle_seconds"] == 0, account
    assert meta["throttle_waits"] == 2
    assert meta["throttle_seconds"] == per_account[throttled]["throttle_seconds"]
    # In parallel, the healthy accounts are read while the throttled one waits out Meta's
    # estimate (2 x 2 s); one after the other, the throttled one would come first.
    logs = [
        record.user_message
        for record in platform.instance.all_logs(result.run_id)
        if record.user_message.endswith(")") and ": read (" in record.user_message
    ]
    read = [message.split(":", 1)[0] for message in logs]
    assert sorted(read) == sorted(order)
    assert read[-1] == throttled, read


def _failure_descriptions(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        e.step_failure_data.user_failure_data.description or ""
        for e in result.all_events
        if e.is_step_failure and e.step_failure_data.user_failure_data
    ]


def test_ad_accounts_fails_naming_each_account_when_no_account_could_be_read(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = yaml.safe_load(platform.config_path.read_text())
    for account in data["accounts"]:
        monkeypatch.delenv(account["token_env"])
    result = materialize(defs, platform.instance, ["ad_accounts"], log_level="CRITICAL")
    assert not result.success  # red in the UI, not green with "accounts 0"
    (description,) = _failure_descriptions(result)
    assert description.startswith("no ad account could be read: ")
    for account in data["accounts"]:
        assert account["id"] in description and account["token_env"] in description
    assert "Traceback" not in description and "\n" not in description
    # The partitions are there all the same: each account's runs say the same cause.
    assert set(platform.accounts) <= set(platform.instance.get_dynamic_partitions("ad_accounts"))


def test_ad_accounts_fails_with_the_network_cause_when_the_graph_api_host_does_not_resolve(
    platform: Platform,
) -> None:
    data = yaml.safe_load(platform.config_path.read_text())
    data["meta"].update({"graph_base_url": "https://graph.facebook.invalid", "max_retries": 0})
    platform.config_path.write_text(yaml.safe_dump(data))
    result = materialize(defs, platform.instance, ["ad_accounts"], log_level="CRITICAL")
    assert not result.success
    (description,) = _failure_descriptions(result)
    assert "DNS / network" in description
    assert all(a in description for a in platform.accounts)


def test_an_account_that_cannot_be_read_fails_the_check_and_the_others_are_read(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = yaml.safe_load(platform.config_path.read_text())
    broken = data["accounts"][0]
    monkeypatch.delenv(broken["token_env"])
    result = materialize(defs, platform.instance, ["ad_accounts"], log_level="CRITICAL")
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "every_account_read" and not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert check.description and broken["id"] in check.description
    assert broken["token_env"] in check.description
    frame = lake(platform).read(lake(platform).partition_path("ad_accounts"))
    assert frame is not None
    assert set(frame["account_id"]) == {a["id"] for a in data["accounts"][1:]}
    # Healthy again: the check passes.
    monkeypatch.setenv(broken["token_env"], platform.tokens[broken["token_env"]])
    again = materialize(defs, platform.instance, ["ad_accounts"], log_level="CRITICAL")
    assert [c.passed for c in again.get_asset_check_evaluations()] == [True]

"""Offline fixtures for the automation tests: settings, lake rows, instance events.

The sensors read the lake (attempts log, token health, accounts table) and the
instance; these helpers write exactly those, so the sensor logic is tested at chosen
instants without the sandbox.  End-to-end tests against the sandbox live beside them.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import yaml

from ads_platform import datasets as ds
from ads_platform.lake import Lake
from ads_platform.resources import PlatformResource
from ads_platform.settings import Settings, load_settings

TOKYO = "act_101"
LOS_ANGELES = "act_202"
TIMEZONES = {TOKYO: "Asia/Tokyo", LOS_ANGELES: "America/Los_Angeles"}
SECRET = "EAAB" + "x" * 40  # shaped like a Meta token: must never reach an alert


#: The asset selection of an insights range run, as :func:`tags_of` spells it: the
#: unbroken insights and every breakdown (the defaults switch them all on).
INSIGHTS_RUN = ",".join(sorted([ds.AD_INSIGHTS_DAILY, *(b.name for b in ds.BREAKDOWNS.values())]))


@dataclass
class Env:
    home: Path
    config_path: Path
    instance: dg.DagsterInstance

    @property
    def settings(self) -> Settings:
        return load_settings(self.config_path, require_tokens=False)

    @property
    def lake(self) -> Lake:
        return Lake(self.home / "lake")

    @property
    def resources(self) -> dict[str, object]:
        return {"platform": PlatformResource(config_path=str(self.config_path))}


def token_env(account_id: str) -> str:
    return f"TEST_TOKEN_{account_id.upper()}"


def write_settings(
    home: Path, accounts: Sequence[str], extra: Mapping[str, Any] | None = None
) -> Path:
    data: dict[str, Any] = {
        "home": str(home),
        "accounts": [{"id": a, "token_env": token_env(a)} for a in accounts],
    }
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    home.mkdir(parents=True, exist_ok=True)
    path = home / "ads_platform.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def write_accounts_table(lake: Lake, timezones: Mapping[str, str], seen: dt.datetime) -> None:
    rows = [
        {
            "account_id": account_id,
            "name": f"test {account_id}",
            "currency": "USD",
            "timezone_name": tz,
            "account_status": 1,
            "source": "settings",
            "is_active": True,
            "first_seen_at": seen,
            "last_seen_at": seen,
        }
        for account_id, tz in timezones.items()
    ]
    lake.write(
        lake.partition_path("ad_accounts"), pa.Table.from_pylist(rows, schema=ds.ACCOUNTS.arrow)
    )


def write_attempts(
    lake: Lake,
    account_id: str,
    days: Iterable[dt.date | None],
    *,
    status: str,
    at: dt.datetime,
    error_kind: str | None = None,
    dataset: str = "ad_insights_daily",
    message: str = "",
    run_id: str = "test-run",
) -> None:
    rows = [
        {
            "account_id": account_id,
            "dataset": dataset,
            "date_day": day,
            "attempted_at": at,
            "run_id": run_id,
            "status": status,
            "error_kind": error_kind,
            "message": message,
            "rows": 0,
        }
        for day in days
    ]
    path = (
        lake.dataset_dir("ingestion_attempts")
        / f"account_id={account_id}"
        / f"{at.astimezone(dt.UTC):%Y%m%dT%H%M%S%f}-{run_id}-{len(rows)}{status}.parquet"
    )
    lake.write(path, pa.Table.from_pylist(rows, schema=ds.ATTEMPTS.arrow))


def write_token_row(
    lake: Lake,
    account_id: str,
    *,
    at: dt.datetime,
    is_valid: bool,
    expires_at: dt.datetime | None = None,
    message: str | None = None,
) -> None:
    row = {name: None for name in ds.TOKEN_CHECKS.arrow.names} | {
        "account_id": account_id,
        "checked_at": at,
        "token_env": token_env(account_id),
        "token_fingerprint": "abc",
        "is_valid": is_valid,
        "expires_at": expires_at,
        "days_left": None if expires_at is None else (expires_at - at).total_seconds() / 86400,
        "last_error_message": message,
        "refreshed": False,
    }
    path = (
        lake.dataset_dir("token_health")
        / f"account_id={account_id}"
        / f"{at.astimezone(dt.UTC):%Y%m%dT%H%M%S%f}-test-{int(is_valid)}.parquet"
    )
    lake.write(path, pa.Table.from_pylist([row], schema=ds.TOKEN_CHECKS.arrow))


def mark_materialized(
    instance: dg.DagsterInstance, account_id: str, days: Iterable[dt.date]
) -> None:
    for day in days:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key="ad_insights_daily", partition=f"{account_id}|{day.isoformat()}"
            )
        )


def add_lake_day(lake: Lake, account_id: str, day: dt.date) -> None:
    """Just enough of an insights partition for "this account has data"."""
    path = lake.partition_path("ad_insights_daily", account_id, day)
    lake.write(path, pa.table({"x": [1]}))


def repository(
    schedules: Sequence[dg.ScheduleDefinition] = (), sensors: Sequence[dg.SensorDefinition] = ()
) -> dg.RepositoryDefinition:
    """The platform's definitions plus the automation under test (Dagster resolves run
    requests against the repository: jobs, partitions, dynamic partitions)."""
    from ads_platform_tests.platform_defs import defs

    # Only the assets and resources of the platform: once definitions.py wires the
    # automation, its own sensors would clash by name with the ones under test.
    return dg.Definitions(
        assets=list(defs.assets or []),
        asset_checks=list(defs.asset_checks or []),
        resources=dict(defs.resources or {}),
        schedules=list(schedules),
        sensors=list(sensors),
    ).get_repository_def()


def evaluate(sensor: dg.SensorDefinition, env: Env, cursor: str | None = None) -> Any:
    """One sensor tick as the daemon runs it: run requests resolved, cursor returned."""
    with dg.build_sensor_context(
        instance=env.instance,
        instance_ref=env.instance.get_ref(),
        cursor=cursor,
        repository_def=repository(sensors=[sensor]),
        resources=env.resources,
    ) as context:
        return sensor.evaluate_tick(context)


def tags_of(requests: Sequence[dg.RunRequest]) -> list[tuple[str, str, str]]:
    """``(assets, start, end)`` of each request, from its range or partition tags."""
    out = []
    for r in requests:
        assets = ",".join(sorted(k.to_user_string() for k in r.asset_selection or []))
        start = r.tags.get("dagster/asset_partition_range_start") or r.partition_key or ""
        end = r.tags.get("dagster/asset_partition_range_end") or r.partition_key or ""
        out.append((assets, start, end))
    return out


class Clock:
    """An injectable clock the tests move by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


class Receiver:
    """A webhook receiver on loopback: answers 200, 500, or hangs, and records bodies.

    A hang lasts :data:`HANG_SECONDS` (or until :meth:`close`): far longer than any
    poster's time budget, so a test can tell "bounded by the budget" from "waited for
    the receiver" with a wide margin on a loaded machine.
    """

    HANG_SECONDS = 60.0

    def __init__(self) -> None:
        self.mode = "ok"
        self.released = threading.Event()
        self.bodies: list[dict[str, Any]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                if receiver.mode == "hang":
                    receiver.released.wait(receiver.HANG_SECONDS)
                code = 500 if receiver.mode == "fail" else 200
                try:
                    self.send_response(code)
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/SECRET-PATH"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

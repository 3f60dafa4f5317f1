"""`ads-platform dev` with a user's settings file: `dagster dev` serves the UI with every
asset, on the instance under the settings' home (the one `backfill` and `doctor` use)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from ads_platform.partitions import DATE_DIM
from ads_platform.sandbox import Sandbox

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _user_settings(tmp_path: Path, sandbox: Sandbox) -> Path:
    config = tmp_path / "me" / "ads_platform.yaml"
    config.parent.mkdir()
    config.write_text(
        yaml.safe_dump(
            {
                "home": "adsdata",  # relative to the file
                "meta": {"graph_base_url": sandbox.base_url},
                "accounts": [
                    {"id": a, "token_env": "ACME_TOKEN"} for a in sorted(sandbox.account_ids)[:2]
                ],
                "ingestion": {"start_date": "2026-10-01"},
            }
        )
    )
    return config


def _graphql(ui_port: int, query: str) -> dict[str, object]:
    response = httpx.post(f"http://127.0.0.1:{ui_port}/graphql", json={"query": query}, timeout=5)
    return response.json()  # type: ignore[no-any-return]


def test_dev_serves_the_ui_on_the_users_settings_and_instance(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    config = _user_settings(tmp_path, sandbox)
    ui_port = _free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ADS_PLATFORM", "DAGSTER_HOME"))
    }
    env["ACME_TOKEN"] = "sandbox-token-acme"
    cli = Path(sys.executable).with_name("ads-platform")
    proc = subprocess.Popen(
        [str(cli), "dev", "--ui-port", str(ui_port), "--dashboard-port", "0"],
        env=env,
        cwd=config.parent,  # ./ads_platform.yaml, as a user runs it
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # Generous: on a loaded CI machine the code server alone can take two minutes.
        deadline = time.monotonic() + 300
        body: dict[str, object] = {}
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                body = _graphql(ui_port, "{ assetNodes { assetKey { path } } }")
                if (body.get("data") or {}).get("assetNodes"):  # type: ignore[union-attr]
                    break  # the code location has loaded
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(1)
        assert body.get("data"), f"the UI never listed the assets: {body}"
        keys = {"/".join(n["assetKey"]["path"]) for n in body["data"]["assetNodes"]}  # type: ignore[index]
        assert {
            "ad_accounts",
            "ad_insights_daily",
            "campaigns",
            "token_health",
            "marts/rpt_account_daily",
        } <= keys
        dagster_home = config.parent / "adsdata" / "dagster"
        assert (dagster_home / "dagster.yaml").exists()  # the shipped instance config
        info = _graphql(ui_port, "{ instance { info } }")
        assert str(dagster_home) in str(info)  # the UI's instance is that one
        # The code location read the user's file: its day grid starts at their start date.
        grid = _graphql(
            ui_port,
            '{ assetNodeOrError(assetKey: {path: ["ad_insights_daily"]}) '
            "{ ... on AssetNode { partitionKeysByDimension { name partitionKeys } } } }",
        )
        dimensions = grid["data"]["assetNodeOrError"]["partitionKeysByDimension"]  # type: ignore[index]
        days = next(d["partitionKeys"] for d in dimensions if d["name"] == DATE_DIM)
        assert days[0] == "2026-10-01"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)

"""`ads-platform dev`: the sandbox plus `dagster dev` serve the UI with every asset."""

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

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dev_serves_the_ui_with_the_assets(tmp_path: Path) -> None:
    ui_port, sandbox_port = _free_port(), _free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ADS_PLATFORM", "DAGSTER_HOME"))
    }
    cli = Path(sys.executable).with_name("ads-platform")
    proc = subprocess.Popen(
        [
            str(cli),
            "dev",
            "--port",
            str(sandbox_port),
            "--ui-port",
            str(ui_port),
            "--home",
            str(tmp_path / "home"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        body: dict[str, object] = {}
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{ui_port}/graphql",
                    json={"query": "{ assetNodes { assetKey { path } } }"},
                    timeout=5,
                )
                body = response.json()
                if (body.get("data") or {}).get("assetNodes"):  # type: ignore[union-attr]
                    break  # the code location has loaded
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(1)
        keys = {"/".join(n["assetKey"]["path"]) for n in body["data"]["assetNodes"]}  # type: ignore[index]
        assert {
            "ad_accounts",
            "ad_insights_daily",
            "campaigns",
            "token_health",
            "marts/rpt_account_daily",
        } <= keys
        assert httpx.get(f"http://127.0.0.1:{ui_port}/server_info", timeout=5).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)

"""``Sandbox``: start a sandbox (thread or subprocess) and steer it from Python.

Every control method goes through the HTTP control endpoints, so a sandbox in a
thread and one in a child process behave the same, and a test can hand
``base_url`` to code under test exactly as it would a real Graph host.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import subprocess as sp
import sys
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import IO, Any

import httpx

from .config import DEFAULT_ACCOUNTS, DEFAULT_SEED, SandboxConfig
from .server import SandboxServer

_URL_RE = re.compile(r"(http://[0-9A-Za-z.\-\[\]:]+:\d+)")
START_TIMEOUT_S = 20.0


def _drain(stream: IO[str]) -> None:
    with contextlib.suppress(ValueError, OSError):
        for _ in stream:
            pass


class Sandbox:
    """A local Graph API sandbox, usable as a context manager.

    >>> with Sandbox(seed=7, accounts=3) as sb:            # doctest: +SKIP
    ...     httpx.get(f"{sb.base_url}/v25.0/{sb.account_ids[0]}",
    ...               headers={"Authorization": "Bearer t"})

    ``subprocess=True`` runs ``python -m ads_platform.sandbox`` in a child process
    and waits until it answers; otherwise the server runs in a daemon thread.
    ``today`` fixes the clock's UTC date (``None``: the real date). ``port=0``
    picks a free port. ``async_delay_scale`` multiplies how long async report runs
    take (1.0: realistic, like Meta's; tests and the demo pass a small value; 0
    completes runs at creation). ``quiet_accounts`` are the indexes of accounts that
    paused everything (no delivery from 2025 on, nothing active).
    ``breakdown_drift_per_mille`` makes breakdown rows differ from the totals by up to
    that many per mille, as Meta's can (0, the default: they sum exactly).
    """

    def __init__(
        self,
        seed: int = DEFAULT_SEED,
        accounts: int = DEFAULT_ACCOUNTS,
        latency_ms: int = 0,
        subprocess: bool = False,
        today: dt.date | None = None,
        *,
        ads_per_account: int | None = None,
        app_secret: str | None = None,
        usage_pct_per_call: float = 0.1,
        async_delay_scale: float = 1.0,
        quiet_accounts: tuple[int, ...] = (),
        breakdown_drift_per_mille: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.config = SandboxConfig(
            seed=seed,
            accounts=accounts,
            latency_ms=latency_ms,
            ads_per_account=ads_per_account,
            today=today,
            app_secret=app_secret,
            usage_pct_per_call=usage_pct_per_call,
            async_delay_scale=async_delay_scale,
            quiet_accounts=quiet_accounts,
            breakdown_drift_per_mille=breakdown_drift_per_mille,
        )
        self.use_subprocess = subprocess
        self.host = host
        self.port = port
        self.base_url = ""
        self.account_ids: list[str] = []
        self.accounts: list[dict[str, Any]] = []
        self._server: SandboxServer | None = None
        self._proc: sp.Popen[str] | None = None
        self._http: httpx.Client | None = None

    @property
    def pid(self) -> int | None:
        """The server's process id when it runs as a subprocess (its CPU is then its own)."""
        return None if self._proc is None else self._proc.pid

    # -- lifecycle -----------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Sandbox:
        if self.use_subprocess:
            self._start_subprocess()
        else:
            self._server = SandboxServer(self.config, self.host, self.port)
            self._server.start()
            self.base_url = self._server.base_url
        self._http = httpx.Client(base_url=self.base_url, timeout=60.0, trust_env=False)
        self._wait_healthy()
        info = self._get("/__sandbox/info")
        self.accounts = list(info["accounts"])
        self.account_ids = [a["id"] for a in self.accounts]
        return self

    def _start_subprocess(self) -> None:
        cfg = self.config
        cmd = [
            sys.executable,
            "-m",
            "ads_platform.sandbox",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--seed",
            str(cfg.seed),
            "--accounts",
            str(cfg.accounts),
            "--latency-ms",
            str(cfg.latency_ms),
            "--usage-pct-per-call",
            str(cfg.usage_pct_per_call),
            "--async-delay-scale",
            str(cfg.async_delay_scale),
        ]
        if cfg.ads_per_account is not None:
            cmd += ["--ads", str(cfg.ads_per_account)]
        if cfg.today is not None:
            cmd += ["--today", cfg.today.isoformat()]
        if cfg.breakdown_drift_per_mille:
            cmd += ["--breakdown-drift", str(cfg.breakdown_drift_per_mille)]
        if cfg.quiet_accounts:
            cmd += ["--quiet-accounts", ",".join(str(i) for i in cfg.quiet_accounts)]
        env = dict(os.environ)
        if cfg.app_secret is not None:
            env["ADS_PLATFORM_SANDBOX_APP_SECRET"] = cfg.app_secret
        env["PYTHONUNBUFFERED"] = "1"
        self._proc = sp.Popen(cmd, stdout=sp.PIPE, text=True, env=env)
        assert self._proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline()
            if not line:
                code = self._proc.wait(timeout=5)
                raise RuntimeError(f"sandbox subprocess exited with code {code} before serving")
            match = _URL_RE.search(line)
            if match:
                self.base_url = match.group(1)
                # Keep reading so a long account listing can never fill the pipe and block
                # the child.
                threading.Thread(target=_drain, args=(self._proc.stdout,), daemon=True).start()
                return
        self._proc.kill()
        raise RuntimeError("sandbox subprocess did not print its URL in time")

    def _wait_healthy(self) -> None:
        assert self._http is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if self._http.get("/__sandbox/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"sandbox at {self.base_url} did not answer")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except sp.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None

    # -- control calls -----------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._http is None:
            raise RuntimeError("sandbox is not running (use it as a context manager)")
        resp = self._http.request(method, path, **kwargs)
        if resp.status_code >= 400:
            raise ValueError(f"sandbox control {method} {path} failed: {resp.text}")
        return resp.json()

    def _get(self, path: str, **params: str) -> Any:
        return self._call("GET", path, params=params or None)

    def set_today(self, today: dt.date | None) -> None:
        """Set the clock's UTC date (the instant is that date at 12:00 UTC); None = real date."""
        self._call(
            "POST", "/__sandbox/clock", json={"today": None if today is None else today.isoformat()}
        )

    def today(self) -> dt.date:
        """The clock's UTC date."""
        return dt.date.fromisoformat(self._get("/__sandbox/clock")["today"])

    def add_fault(
        self,
        fault: str,
        account_id: str | None = None,
        count: int | None = None,
        *,
        seconds: float | None = None,
        regain_seconds: float | None = None,
        drop: bool = False,
        field: str | None = None,
        after: int | None = None,
    ) -> dict[str, Any]:
        """Activate a fault (see ``FAULT_NAMES``); returns its description with its id.

        ``field`` names the field a ``drop_field`` fault removes from answers; ``after``
        lets that many of the requests the fault applies to through first (a fault in
        the middle of a run).
        """
        body: dict[str, Any] = {
            "fault": fault,
            "account_id": account_id,
            "count": count,
            "drop": drop,
        }
        if seconds is not None:
            body["seconds"] = seconds
        if regain_seconds is not None:
            body["regain_seconds"] = regain_seconds
        if field is not None:
            body["field"] = field
        if after is not None:
            body["after"] = after
        result: dict[str, Any] = self._call("POST", "/__sandbox/faults", json=body)
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "/__sandbox/faults")

    def faults(self) -> list[dict[str, Any]]:
        return list(self._get("/__sandbox/faults")["faults"])

    def set_token_expiry(self, account_id: str, expires_at: dt.datetime | None) -> None:
        """Tokens used with ``account_id`` expire at ``expires_at`` (None = default rule).

        A naive datetime is taken as UTC.
        """
        if expires_at is not None and expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=dt.UTC)
        value = None if expires_at is None else int(expires_at.timestamp())
        self._call(
            "POST", "/__sandbox/token_expiry", json={"account_id": account_id, "expires_at": value}
        )

    def _range_truth(
        self, path: str, account_id: str, since: dt.date, until: dt.date, **extra: str
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._get(
            path, account_id=account_id, since=since.isoformat(), until=until.isoformat(), **extra
        )
        return result

    def truth(self, account_id: str, since: dt.date, until: dt.date) -> dict[str, Any]:
        """Ground truth per account-local day at the current clock (see ``truth.py``)."""
        return self._range_truth("/__sandbox/truth", account_id, since, until)

    def breakdown_truth(
        self, account_id: str, since: dt.date, until: dt.date, breakdowns: Sequence[str]
    ) -> dict[str, Any]:
        """Per breakdown value and day, beside the unbroken day (see ``truth.py``)."""
        return self._range_truth(
            "/__sandbox/truth/breakdowns", account_id, since, until, breakdowns=",".join(breakdowns)
        )

    def passthrough_truth(
        self, account_id: str, since: dt.date, until: dt.date, fields: Sequence[str]
    ) -> dict[str, Any]:
        """Extra fields of every ad-day row served, per day and ad (see ``truth.py``)."""
        return self._range_truth(
            "/__sandbox/truth/passthrough", account_id, since, until, fields=",".join(fields)
        )

    def reach_truth(
        self, account_id: str, since: dt.date, until: dt.date, level: str = "account"
    ) -> dict[str, Any]:
        """Reach over the whole range per entity of ``level``, and per day (see ``truth.py``)."""
        return self._range_truth("/__sandbox/truth/reach", account_id, since, until, level=level)

    def creative_truth(self, account_id: str) -> dict[str, Any]:
        """Every creative at the clock: ad, validity, content (see ``creatives.truth``)."""
        result: dict[str, Any] = self._get("/__sandbox/truth/creatives", account_id=account_id)
        return result

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("/__sandbox/stats")
        return result

    def reset_stats(self) -> None:
        self._call("POST", "/__sandbox/stats/reset")

    def set_usage_factor(self, pct_per_call: float) -> None:
        """Usage percentage points one call adds for 60 s (default 0.1)."""
        self._call("POST", "/__sandbox/usage", json={"pct_per_call": pct_per_call})

    def info(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("/__sandbox/info")
        return result

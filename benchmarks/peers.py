"""Peers: one backfill through Airbyte's Meta connector, singer-io's tap-facebook and
this platform, side by side, against one Graph API sandbox, in one run.

Why: issue 13 asks how the platform compares with what people use instead.  A figure
quoted from someone else's machine or data says nothing; the same accounts and days,
served by the same sandbox (real HTTP on loopback, 50 ms a request, Meta-like async
report runs) in the same hour on the same machine, do.

* Each peer is installed from the package registry into its own venv under
  ``/tmp/ads_peers/<tool>-<version>`` (kept between runs; install time is printed apart
  from run time) and started through a small launcher that points Meta's Business SDK
  at the sandbox (``FacebookSession.GRAPH``; the SDK's crash reporter is switched off so
  nothing is posted anywhere) before calling the peer's own console script.
* Airbyte (``source-facebook-marketing read``) reads the ``ads_insights`` stream of every
  account in one process; tap-facebook takes one account per process (its config has one
  ``account_id``), so one tap per account runs at once, as one would schedule them.
  Both are run with their defaults (page size, action breakdowns, polling) except what
  the range needs: the tap's ``insights_buffer_days=1`` with a start date one day late,
  since it always starts that many days before ``start_date``.
* A peer still running at ``--time-limit`` is stopped; its row says so and what it had
  read by then (rows, account-days covered).
* Rows and spend are counted from each peer's RECORD messages and, for the platform,
  from its lake, against the sandbox's truth for the same accounts and days.
* API calls are the sandbox's own counters between a reset and the peer's end, by what
  the sandbox's router made of each call (a synchronous insights read and an async
  report run's creation share one path).

    .venv/bin/python benchmarks/peers.py [--accounts 2 --days 14 --ads 50 --latency-ms 50
        --time-limit 120 --tools project,airbyte,tap-facebook --json /tmp/peers.json]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Figure, write_json

PEERS_HOME = Path("/tmp/ads_peers")
TOKEN = "sandbox-token-peers"

# What the sandbox's router calls each Graph call (``Stats.by_op``), in the table's classes.
PATH_CLASSES: dict[str, str] = {
    "insights": "insights sync",
    "report_create": "async create",
    "report": "async poll",
    "report_insights": "async results",
}
CLASS_ORDER = ("insights sync", "async create", "async poll", "async results", "other")

# Run before the peer's console script, in the peer's venv: point Meta's SDK at the
# sandbox and keep its crash reporter (which posts tracebacks to Meta) off.
LAUNCHER = """\
import os, sys
from importlib.metadata import entry_points
from facebook_business.session import FacebookSession
FacebookSession.GRAPH = os.environ["ADS_PEERS_GRAPH_URL"]
try:
    from facebook_business.crashreporter import CrashReporter
    CrashReporter.enable = classmethod(lambda cls: None)
except ImportError:
    pass
script = sys.argv[1]
sys.argv = [script] + sys.argv[2:]
(ep,) = [e for e in entry_points(group="console_scripts") if e.name == script]
sys.exit(ep.load()())
"""


@dataclass(frozen=True)
class Peer:
    tool: str
    package: str
    version: str
    script: str

    @property
    def venv(self) -> Path:
        return PEERS_HOME / f"{self.tool}-{self.version}"


PEERS = {
    "airbyte": Peer(
        "airbyte", "airbyte-source-facebook-marketing", "6.1.9", "source-facebook-marketing"
    ),
    "tap-facebook": Peer("tap-facebook", "tap-facebook", "1.26.0", "tap-facebook"),
}


Day = tuple[str, str]  # (account id without ``act_``, ISO date)


@dataclass
class Tally:
    """Rows and spend read, per account-day."""

    rows: Counter[Day] = field(default_factory=Counter)
    spend: dict[Day, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def add(self, record: Mapping[str, Any]) -> None:
        day = (
            str(record.get("account_id", "?")).removeprefix("act_"),
            str(record.get("date_start", "?"))[:10],
        )
        self.rows[day] += 1
        with contextlib.suppress(InvalidOperation, TypeError):
            self.spend[day] += Decimal(str(record.get("spend") or 0))

    def merge(self, other: Tally) -> None:
        self.rows.update(other.rows)
        for day, spend in other.spend.items():
            self.spend[day] += spend


@dataclass
class Result:
    """One tool's run, or why it could not run (``error``)."""

    tool: str
    version: str
    install_s: float | None = None
    wall_s: float | None = None
    by_op: dict[str, int] = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)
    stopped: bool = False
    error: str = ""


def classify_calls(by_op: Mapping[str, int]) -> dict[str, int]:
    """Graph calls by class (``CLASS_ORDER``), plus ``total`` and ``async jobs``.

    A batch counts once as ``other`` and each of its items again under its own op, as
    the sandbox counts them; ``async jobs`` are the report runs created.
    """
    out = dict.fromkeys(CLASS_ORDER, 0)
    for op, n in by_op.items():
        out[PATH_CLASSES.get(op, "other")] += n
    out["total"] = sum(by_op.values())
    out["async jobs"] = by_op.get("report_create", 0)
    return out


def spend_verdict(read: Tally, truth: Tally, *, stopped: bool = False) -> str:
    """``equal`` when the spend of every account-day with delivery is the truth's, else
    the summed gap (a day not read counts in full).

    A tool stopped at the time limit is judged on the account-days it read in full
    (every row of the day): the day it was reading when stopped is cut, not wrong.
    """
    days = set(truth.rows)
    where = ""
    if stopped:
        full = {d for d in days if read.rows.get(d, 0) >= truth.rows[d]}
        cut = sum(1 for d in days - full if read.rows.get(d, 0))
        days = full
        where = f" on the {len(full)} read in full" + (f" (+{cut} cut)" if cut else "")
    gap = sum((read.spend.get(d, Decimal(0)) - truth.spend[d] for d in days), Decimal(0))
    wrong = sum(1 for d in days if read.spend.get(d, Decimal(0)) != truth.spend[d])
    if not wrong:
        return f"equal{where}"
    return f"off by {gap:+,.2f} ({wrong} acct-days){where}"


def format_table(results: Sequence[Result], truth: Tally) -> str:
    """The one table: a row per tool; a tool that could not run says why in its row."""
    head = [
        "tool",
        "version",
        "wall s",
        "calls",
        *CLASS_ORDER,
        "async jobs",
        "rows",
        "acct-days",
        "spend vs truth",
        "stopped at limit",
    ]
    lines = [head]
    for r in results:
        if r.wall_s is None:
            lines.append([r.tool, r.version, "-", *["-"] * 7, "-", "-", "-", f"not run: {r.error}"])
            continue
        calls = classify_calls(r.by_op)
        days = len(set(r.tally.rows) & set(truth.rows))
        rows = sum(r.tally.rows.values())
        lines.append(
            [
                r.tool,
                r.version,
                f"{r.wall_s:.1f}",
                str(calls["total"]),
                *(str(calls[c]) for c in CLASS_ORDER),
                str(calls["async jobs"]),
                f"{rows}/{sum(truth.rows.values())}",
                f"{days}/{len(truth.rows)}",
                spend_verdict(r.tally, truth, stopped=r.stopped),
                "yes" if r.stopped else ("no" + (f" ({r.error})" if r.error else "")),
            ]
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


# -- installing ---------------------------------------------------------------------------


def ensure_venv(peer: Peer, python: str) -> tuple[float, str]:
    """The peer's venv, installed once (``.installed`` marks a finished install).

    Returns (install seconds, 0 when cached; error text, empty when it worked).
    """
    marker = peer.venv / ".installed"
    if marker.exists():
        (peer.venv / "launch.py").write_text(LAUNCHER)
        return 0.0, ""
    started = time.monotonic()
    peer.venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [python, "-m", "venv", "--clear", str(peer.venv)],
        [str(peer.venv / "bin" / "pip"), "install", "-q", f"{peer.package}=={peer.version}"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if "is ignored" not in ln]
            errors = [ln for ln in lines if ln.startswith("ERROR:")][-1:] or lines[-3:]
            return time.monotonic() - started, (" ".join(errors) or "failed")[-300:]
    (peer.venv / "launch.py").write_text(LAUNCHER)
    marker.write_text(peer.version)
    return time.monotonic() - started, ""


def peer_command(peer: Peer, *args: str) -> list[str]:
    return [str(peer.venv / "bin" / "python"), str(peer.venv / "launch.py"), peer.script, *args]


def peer_env(base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADS_PLATFORM", "DAGSTER"))}
    env["ADS_PEERS_GRAPH_URL"] = base_url
    env.pop("PYTHONPATH", None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


# -- running ------------------------------------------------------------------------------


def records(lines: Iterable[str], tally: Tally, errors: list[str]) -> None:
    """Count the insights RECORD messages of an Airbyte or Singer stream of JSON lines."""
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        kind = msg.get("type")
        if kind == "RECORD":
            if "stream" in msg:  # Singer: {"type", "stream", "record"}
                if msg["stream"] == "ads_insights":
                    tally.add(msg["record"])
            elif msg.get("record", {}).get("stream") == "ads_insights":  # Airbyte
                tally.add(msg["record"]["data"])
        elif kind == "TRACE" and msg.get("trace", {}).get("type") == "ERROR":
            errors.append(str(msg["trace"]["error"].get("message", ""))[:200])


def run_processes(
    commands: Sequence[list[str]], env: Mapping[str, str], logs: Path, time_limit: float
) -> tuple[float, Tally, bool, str]:
    """Run the commands at once, count their records; stop whatever is left at the limit.

    Returns (wall seconds, tally, stopped at limit, error text from non-zero exits).
    """
    tally, errors, lock = Tally(), [], threading.Lock()
    procs: list[subprocess.Popen[str]] = []
    threads, logs_open = [], []
    started = time.monotonic()
    for i, cmd in enumerate(commands):
        err = open(logs / f"stderr-{i}.log", "w")  # noqa: SIM115 (closed below)
        logs_open.append(err)
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=dict(env),
            start_new_session=True,
        )
        procs.append(proc)
        own = Tally()

        def read(p: subprocess.Popen[str] = proc, t: Tally = own) -> None:
            assert p.stdout is not None
            local: list[str] = []
            records(p.stdout, t, local)
            with lock:
                tally.merge(t)
                errors.extend(local)

        th = threading.Thread(target=read, daemon=True)
        th.start()
        threads.append(th)
    deadline = started + time_limit
    stopped = False
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            stopped = True
            break
    if stopped:
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    wall = min(time.monotonic() - started, time_limit) if stopped else time.monotonic() - started
    for th in threads:
        th.join(timeout=10)
    for err in logs_open:
        err.close()
    if not stopped:
        codes = [p.returncode for p in procs if p.returncode]
        if codes:
            tail = errors[-1] if errors else last_error_line(logs)
            errors = [f"exit {codes[0]}: {tail}"]
        else:
            errors = []
    return wall, tally, stopped, "; ".join(errors[:1])


def last_error_line(logs: Path) -> str:
    for log in sorted(logs.glob("stderr-*.log")):
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        bad = [ln for ln in lines if "CRITICAL" in ln or "Error" in ln]
        if bad or lines:
            return (bad or lines)[-1][-200:]
    return ""


def airbyte_commands(
    peer: Peer,
    work: Path,
    env: Mapping[str, str],
    accounts: Sequence[str],
    since: dt.date,
    until: dt.date,
) -> list[list[str]]:
    config = {
        "account_ids": [a.removeprefix("act_") for a in accounts],
        "credentials": {"auth_type": "Service", "access_token": TOKEN},
        "start_date": f"{since.isoformat()}T00:00:00Z",
        "end_date": f"{until.isoformat()}T00:00:00Z",
    }
    (work / "config.json").write_text(json.dumps(config))
    catalog_path = peer.venv / "catalog.json"
    if not catalog_path.exists():
        out = subprocess.run(
            peer_command(peer, "discover", "--config", str(work / "config.json")),
            capture_output=True,
            text=True,
            env=dict(env),
            timeout=300,
        )
        streams = [
            json.loads(ln)["catalog"]["streams"]
            for ln in out.stdout.splitlines()
            if ln.startswith("{") and '"CATALOG"' in ln
        ]
        if not streams:
            raise RuntimeError(
                f"discover gave no catalog: {out.stderr[-300:] or out.stdout[-300:]}"
            )
        (stream,) = [s for s in streams[0] if s["name"] == "ads_insights"]
        catalog_path.write_text(json.dumps(stream))
    stream = json.loads(catalog_path.read_text())
    configured = {
        "streams": [
            {
                "stream": stream,
                "sync_mode": "incremental",
                "cursor_field": stream.get("default_cursor_field") or ["date_start"],
                "destination_sync_mode": "append",
            }
        ]
    }
    (work / "catalog.json").write_text(json.dumps(configured))
    return [
        peer_command(
            peer,
            "read",
            "--config",
            str(work / "config.json"),
            "--catalog",
            str(work / "catalog.json"),
        )
    ]


def tap_commands(
    peer: Peer,
    work: Path,
    env: Mapping[str, str],
    accounts: Sequence[str],
    since: dt.date,
    until: dt.date,
) -> list[list[str]]:
    commands = []
    catalog_path = peer.venv / "catalog.json"
    for account in accounts:
        digits = account.removeprefix("act_")
        config = {
            "account_id": digits,
            "access_token": TOKEN,
            # The tap starts insights_buffer_days before start_date (1, 7 or 28 only).
            "start_date": f"{(since + dt.timedelta(days=1)).isoformat()}T00:00:00Z",
            "end_date": f"{until.isoformat()}T00:00:00Z",
            "insights_buffer_days": 1,
        }
        path = work / f"config-{digits}.json"
        path.write_text(json.dumps(config))
        if not catalog_path.exists():
            out = subprocess.run(
                peer_command(peer, "--config", str(path), "--discover"),
                capture_output=True,
                text=True,
                env=dict(env),
                timeout=300,
            )
            if out.returncode != 0:
                raise RuntimeError(f"discover failed: {out.stderr.strip().splitlines()[-1:]}")
            (stream,) = [
                s for s in json.loads(out.stdout)["streams"] if s["stream"] == "ads_insights"
            ]
            for entry in stream["metadata"]:
                entry["metadata"]["selected"] = True
            catalog_path.write_text(json.dumps({"streams": [stream]}))
        commands.append(
            peer_command(peer, "--config", str(path), "--properties", str(catalog_path))
        )
    return commands


def run_peer(
    peer: Peer, sandbox: Any, python: str, since: dt.date, until: dt.date, time_limit: float
) -> Result:
    result = Result(peer.tool, peer.version)
    result.install_s, result.error = ensure_venv(peer, python)
    if result.error:
        result.error = f"install failed: {result.error}"
        return result
    work = Path(tempfile.mkdtemp(prefix=f"{peer.tool}-", dir=PEERS_HOME))
    env = peer_env(sandbox.base_url)
    build = airbyte_commands if peer.tool == "airbyte" else tap_commands
    try:
        commands = build(peer, work, env, sorted(sandbox.account_ids), since, until)
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
        result.error = str(exc)[:300]
        return result
    sandbox.reset_stats()
    wall, tally, stopped, error = run_processes(commands, env, work, time_limit)
    result.wall_s, result.tally, result.stopped, result.error = wall, tally, stopped, error
    result.by_op = sandbox.stats().get("by_op", {})
    print(f"  {peer.tool}: logs in {work}", flush=True)
    return result


def run_project(sandbox: Any, since: dt.date, days: int) -> Result:
    """The platform's own backfill (``backfill_benchmark.run_backfill``), read from its lake."""
    from benchmarks.backfill_benchmark import run_backfill

    version = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
        or "?"
    )
    home = Path(tempfile.mkdtemp(prefix="ads_bench_peers_"))
    b = run_backfill(sandbox, home, since=since, days=days)
    tally = Tally()
    glob = str(home / "lake" / "ad_insights_daily" / "**" / "*.parquet")
    for account, day, n, spend in duckdb.sql(
        f"select account_id, date_day, count(*), sum(spend) "
        f"from read_parquet('{glob}', hive_partitioning=false) group by 1, 2"
    ).fetchall():
        key = (str(account).removeprefix("act_"), day.isoformat())
        tally.rows[key] = int(n)
        tally.spend[key] = Decimal(str(spend or 0))
    error = "" if b.succeeded else f"backfill {b.status}"
    by_op = b.stats.get("by_op", {})
    return Result("project", version, 0.0, b.wall, by_op, tally, False, error)


def sandbox_truth(sandbox: Any, since: dt.date, until: dt.date) -> Tally:
    """Ad-day rows and spend per account-day with delivery, as the sandbox serves them."""
    truth = Tally()
    for account in sandbox.account_ids:
        digits = account.removeprefix("act_")
        spend = {d["date"]: d["spend"] for d in sandbox.truth(account, since, until)["days"]}
        served = sandbox.passthrough_truth(account, since, until, ["unique_clicks"])["days"]
        for day in served:
            if day["ads"]:
                truth.rows[(digits, day["date"])] = len(day["ads"])
                truth.spend[(digits, day["date"])] = Decimal(str(spend[day["date"]]))
    return truth


def figures(results: Sequence[Result], truth: Tally, size: str) -> list[Figure]:
    project = next((r for r in results if r.tool == "project" and r.wall_s), None)
    project_wall = project.wall_s if project is not None and project.wall_s else 1.0
    out: list[Figure] = []
    for r in results:
        label = f"peers: {r.tool}"
        if r.wall_s is None:
            note = f"{r.tool} {r.version}, {size}; {r.error}"
            out.append(Figure(f"{label} backfill wall s", "not run", note=note))
            continue
        calls = classify_calls(r.by_op)
        rows = sum(r.tally.rows.values())
        verdict = spend_verdict(r.tally, truth, stopped=r.stopped)
        note = (
            f"{r.tool} {r.version}, {size}; rows {rows}/{sum(truth.rows.values())}; "
            f"spend {verdict}"
            + ("; stopped at time limit" if r.stopped else "")
            + (f"; {r.error}" if r.error else "")
        )
        out.append(Figure(f"{label} backfill wall s", f"{r.wall_s:.1f}", note=note))
        out.append(Figure(f"{label} API calls", str(calls["total"]), note=note))
        if project is not None and r is not project:
            # A peer stopped at the limit had not finished: its ratios are floors.
            at_least = ">= " if r.stopped else ""
            out.append(
                Figure(
                    f"peers: {r.tool} wall / project wall",
                    f"{at_least}{r.wall_s / project_wall:.1f}x",
                    note=note,
                )
            )
            pc = classify_calls(project.by_op)["total"]
            out.append(
                Figure(
                    f"peers: {r.tool} API calls / project API calls",
                    f"{at_least}{calls['total'] / max(pc, 1):.1f}x",
                    note=note,
                )
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=2)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--ads", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument(
        "--async-delay-scale",
        type=float,
        default=1.0,
        help="the sandbox's async report run durations (1: Meta-like)",
    )
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per peer")
    parser.add_argument("--tools", default="project,airbyte,tap-facebook")
    parser.add_argument("--python", default=sys.executable, help="python for the peers' venvs")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]

    from benchmarks.backfill_benchmark import bench_sandbox, closed_window

    size = f"{args.accounts} accounts x {args.days} days x {args.ads} ads, {args.latency_ms} ms"
    results: list[Result] = []
    with bench_sandbox(
        args.accounts, args.ads, args.latency_ms, async_delay_scale=args.async_delay_scale
    ) as sandbox:
        since, until = closed_window(sandbox, args.days)
        print(f"{size}: {since} .. {until}, time limit {args.time_limit:.0f} s a peer", flush=True)
        for tool in tools:
            print(f"running {tool} ...", flush=True)
            if tool == "project":
                results.append(run_project(sandbox, since, args.days))
            else:
                results.append(
                    run_peer(PEERS[tool], sandbox, args.python, since, until, args.time_limit)
                )
        truth = sandbox_truth(sandbox, since, until)

    print()
    for r in results:
        if r.install_s:
            print(f"install {r.tool} {r.version}: {r.install_s:.1f} s (cached in {PEERS_HOME})")
    rows, days = sum(truth.rows.values()), len(truth.rows)
    print(f"truth: {rows} ad-day rows, {days} account-days with delivery")
    print(format_table(results, truth))
    print("\ncalls by the sandbox's route (op):")
    for r in results:
        if r.by_op:
            ops = ", ".join(f"{op} {n}" for op, n in sorted(r.by_op.items(), key=lambda x: -x[1]))
            print(f"  {r.tool}: {ops}")
    write_json(args.json, figures(results, truth, size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

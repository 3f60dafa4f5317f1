"""The demo's marts step against dbt's own build time (issue 10: within 2× of dbt).

Runs ``ads-platform demo`` in a fresh home (sandbox, real Dagster runs, real dbt),
then reads the marts run's event log and prints where the step's time went:

* planning: run created → run started (Dagster writes the planned materializations
  and checks of every dbt node),
* before dbt: step started → dbt launched (dagster-dbt's selection and in-process
  adapter),
* dbt: launched → dbt's own "Finished running … (N s)" plus its start-up and parse,
* metadata: dbt finished → first event yielded (row counts, column schemas; the
  ``duckdb_writer`` slot is still held),
* events: first event → step success (writing ~270 materializations and checks),

and the step's total next to dbt's reported time.  Say the machine's load with the
figures (``uptime``): the machine is shared.

    PYTHONPATH=. .venv/bin/python benchmarks/demo_marts_step.py [--days 14] [--accounts 3]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Figure, write_json


def step_marks(instance: Any, run_id: str) -> dict[str, float]:
    """Seconds from the run's first event to each phase mark (see the module)."""
    marks: dict[str, float] = {}
    t0 = None
    for record in instance.all_logs(run_id):
        t0 = record.timestamp if t0 is None else t0
        at = record.timestamp - t0
        kind = record.dagster_event.event_type_value if record.dagster_event else ""
        message = record.user_message or ""
        if kind == "PIPELINE_START":
            marks["run started"] = at
        elif kind == "STEP_START":
            marks["step started"] = at
        elif message.startswith("Running dbt command"):
            marks["dbt launched"] = at
        elif message.startswith("Finished dbt command"):
            marks["dbt finished"] = at
        elif kind == "STEP_OUTPUT" and "first event" not in marks:
            marks["first event"] = at
        elif kind == "STEP_SUCCESS":
            marks["step success"] = at
    return marks


def print_marks(marks: dict[str, float]) -> None:
    for name, at in marks.items():
        print(f"  {at:7.1f} s  {name}")


def rebuild_after_one_changed_day(home: Path) -> tuple[float, dict[str, float], bool]:
    """Rewrite one account-day of ``ad_insights_daily`` (as a re-pull does) and build the
    marts through the Dagster asset again, as the demo does; its wall seconds, marks and
    success."""
    import time

    import dagster as dg
    import pyarrow.parquet as pq

    from ads_platform.definitions import load_definitions
    from ads_platform.demo import demo_token_env, materialize_marts
    from ads_platform.lake import Lake
    from ads_platform.settings import settings_environ

    lake = Lake(home / "lake")
    day_file = sorted((home / "lake" / "ad_insights_daily").glob("*/*/*.parquet"))[-1]
    lake.write(day_file, pq.read_table(day_file))
    accounts = [p.name.split("=", 1)[1] for p in (home / "lake" / "ad_insights_daily").iterdir()]
    env = {
        **{demo_token_env(a): f"sandbox-token-{a}" for a in accounts},
        "ADS_PLATFORM_CONFIG": str(home / "demo" / "ads_platform.yaml"),
        "ADS_PLATFORM_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
    }
    with settings_environ(env), dg.DagsterInstance.get() as instance:
        started = time.perf_counter()
        result = materialize_marts(
            load_definitions(), instance, downstream_of=["ad_insights_daily"]
        )
        seconds = time.perf_counter() - started
        return seconds, step_marks(instance, result.run_id), bool(result.success)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()

    import dagster as dg

    from ads_platform.demo import run_demo

    home = Path(tempfile.mkdtemp(prefix="demo-marts-"))
    lines: list[str] = []

    def echo(line: str) -> None:
        lines.append(line)

    for name in [k for k in os.environ if k.startswith(("ADS_PLATFORM_", "DAGSTER_HOME"))]:
        del os.environ[name]
    code = run_demo(home=home, days=args.days, accounts=args.accounts, echo=echo)
    text = "\n".join(lines)
    step = re.search(r"ok\s+marts \(dbt build → publish marts\.duckdb\) \(([\d.]+)s\)", text)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        marks = step_marks(instance, run.run_id)
    del os.environ["DAGSTER_HOME"]
    dbt_log = (home / "warehouse" / "dbt_target" / "dbt.log").read_text(errors="replace")
    reported = re.findall(r"Finished running .*? \(([\d.]+)s\)", dbt_log)
    print(f"demo exit code {code}; home {home}")
    print_marks(marks)
    figures: list[Figure] = []
    if step and reported:
        total, dbt_seconds = float(step.group(1)), float(reported[-1])
        ratio = total / dbt_seconds
        print(f"marts step {total:.1f} s; dbt reported {dbt_seconds:.1f} s; ratio {ratio:.1f}×")
        figures.append(
            Figure(
                "demo marts step / dbt's own build time",
                f"{ratio:.1f}×",
                "≤ 2×",
                ratio <= 2,
                f"{total:.1f} s against dbt's {dbt_seconds:.1f} s",
            )
        )
    seconds, again, ok = rebuild_after_one_changed_day(home)
    dbt_log = (home / "warehouse" / "dbt_target" / "dbt.log").read_text(errors="replace")
    dbt_own = float(re.findall(r"Finished running .*? \(([\d.]+)s\)", dbt_log)[-1])
    print(f"incremental rebuild through the asset after one changed day: {seconds:.1f} s (ok={ok})")
    print_marks(again)
    dbt_share = again.get("dbt finished", 0.0) - again.get("dbt launched", 0.0)
    figures.append(
        Figure(
            "marts incremental rebuild s after one re-pulled day, through the Dagster asset",
            f"{seconds:.1f}",
            "< 10 s",
            ok and seconds < 10,
            f"dbt launched → finished {dbt_share:.1f} s of it, of which dbt's own build "
            f"{dbt_own:.1f} s (the rest: dbt's start-up and parse); "
            f"run start {again.get('run started', 0.0):.1f} s; "
            f"after dbt {again.get('step success', 0.0) - again.get('dbt finished', 0.0):.1f} s "
            f"({args.accounts} accounts × {args.days} days demo lake)",
        )
    )
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    write_json(args.json, figures)


if __name__ == "__main__":
    main()

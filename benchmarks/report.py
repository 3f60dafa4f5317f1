"""``make bench``: run the benchmarks and write the one table of their figures.

Why one command: issue 13 asks for every speed and scale figure in one table (value,
target, the command, the date and the machine), regenerated rather than edited by
hand.  Each benchmark writes its figures with ``--json`` (:mod:`benchmarks.figures`);
this script runs them one after another (never side by side: the machine is small and
each figure is quoted with its load), keeps the latest figures of every benchmark in
``benchmarks/results.json`` and renders the table into ``benchmarks/README.md``
between its markers.  A benchmark not run this time keeps its last figures, with their
own date, so the table says how old each figure is.

    .venv/bin/python benchmarks/report.py [--only backfill,ingest] [--with-slow] [--list]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Figure, load_average, read_json

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
README = HERE / "README.md"
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


@dataclass(frozen=True)
class Bench:
    """One benchmark run: its name in the table, the issue-13 item it answers, its
    script and arguments, and whether it only runs with ``--with-slow``."""

    name: str
    item: str
    script: str
    args: tuple[str, ...] = ()
    slow: bool = False
    timeout_s: int = 1800

    @property
    def command(self) -> str:
        return " ".join([".venv/bin/python", f"benchmarks/{self.script}", *self.args])


BENCHES: tuple[Bench, ...] = (
    Bench("backfill", "1", "backfill_benchmark.py"),
    Bench("daily", "2", "daily_run.py", slow=True, timeout_s=3600),
    Bench("daily-10", "2", "daily_run.py", ("--accounts", "10")),
    Bench("daily-plain", "2", "daily_run.py", ("--breakdowns", "none"), slow=True),
    Bench("ingest", "3", "ingest_throughput.py"),
    Bench(
        "backfill-0ms",
        "3",
        "backfill_benchmark.py",
        ("--latency-ms", "0", "--ads", "300"),
    ),
    Bench(
        "backfill-0ms-pg",
        "3",
        "backfill_benchmark.py",
        ("--latency-ms", "0", "--ads", "300", "--instance", "postgres"),
    ),
    Bench("marts-step", "4", "demo_marts_step.py"),
    Bench("marts", "4", "marts_benchmark.py", ("--no-verification",)),
    Bench("peers", "5", "peers.py"),
    Bench(
        "scale",
        "6",
        "partition_scale.py",
        ("--accounts", "1000", "--instances", "sqlite,postgres", "--timeout", "120"),
        slow=True,
        timeout_s=5400,
    ),
    Bench("entity-poll", "6", "entity_poll.py", ("--accounts", "999", "--latency-ms", "50")),
)


def run(bench: Bench) -> dict[str, object]:
    """Run one benchmark; its entry for ``results.json`` (figures, or why there are none)."""
    print(f"==> {bench.name}: {bench.command}  ({load_average()})", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "figures.json"
        log = Path(tmp) / "output.log"
        began = time.monotonic()
        with log.open("w") as sink:
            try:
                code = subprocess.run(
                    [sys.executable, str(HERE / bench.script), *bench.args, "--json", str(out)],
                    cwd=HERE.parent,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    timeout=bench.timeout_s,
                    env={**os.environ, "PYTHONPATH": str(HERE.parent)},
                ).returncode
            except subprocess.TimeoutExpired:
                code = -1
        seconds = time.monotonic() - began
        tail = log.read_text(errors="replace").splitlines()[-12:]
        if out.exists():
            figures, machine = read_json(out)
        else:
            figures, machine = [], load_average()
            why = "timed out" if code == -1 else f"exit code {code}"
            figures = [Figure("(no figures)", "", note=f"{why}: " + " / ".join(tail[-3:]))]
    print("\n".join(f"    {line}" for line in tail), flush=True)
    print(f"    ({seconds:.0f} s, exit {code})", flush=True)
    return {
        "item": bench.item,
        "command": bench.command,
        "date": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "machine": machine,
        "seconds": round(seconds),
        "figures": [asdict(f) for f in figures],
    }


def render(results: dict[str, dict[str, object]]) -> str:
    """The table, in issue-13 item order, then benchmark order."""
    order = {b.name: i for i, b in enumerate(BENCHES)}
    lines = [
        "| item | figure | value | target | met | command | date, machine |",
        "| --- | --- | ---: | --- | --- | --- | --- |",
    ]
    for name in sorted(results, key=lambda n: (results[n]["item"], order.get(n, 99))):
        entry = results[name]
        for raw in entry["figures"]:  # type: ignore[attr-defined]
            figure = Figure(**raw)
            met = {True: "yes", False: "**no**", None: ""}[figure.met]
            label = figure.name + (f"<br>_{figure.note}_" if figure.note else "")
            lines.append(
                f"| {entry['item']} | {label} | {figure.value} | {figure.target} | {met} "
                f"| `{entry['command']}` | {entry['date']}, {entry['machine']} |"
            )
    return "\n".join(lines)


def write_table(results: dict[str, dict[str, object]]) -> None:
    text = README.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    README.write_text(f"{head}{START}\n{render(results)}\n{END}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--with-slow", action="store_true", help="also the slow ones (scale)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite the table from results.json"
    )
    args = parser.parse_args()
    if args.list:
        for bench in BENCHES:
            slow = "  (slow)" if bench.slow else ""
            print(f"{bench.name:<14} item {bench.item}  {bench.command}{slow}")
        return 0
    results: dict[str, dict[str, object]] = (
        json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    )
    only = {n for n in args.only.split(",") if n}
    unknown = only - {b.name for b in BENCHES}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    if not args.render_only:
        for bench in BENCHES:
            if (only and bench.name not in only) or (
                bench.slow and not args.with_slow and not only
            ):
                continue
            results[bench.name] = run(bench)
            RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    write_table(results)
    print(f"table written to {README.relative_to(HERE.parent)} ({len(results)} benchmarks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

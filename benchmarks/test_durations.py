"""Where the test suite's time goes, from the JUnit XML of a run: per test and per unit.

Why from a report rather than timed tests: a test suite's speed is a budget for CI
(15 minutes for the whole of ``.ci/run``), not a property of the code, and two cores
shared with other work make every figure noisy.  This prints the figures a person needs
to keep the budget: the slowest tests, and the time of each unit of work that
``pytest -n 2 --dist loadscope`` hands a worker (``ads_platform_tests/scheduling.py``),
so ``HEAVIEST_FIRST`` can follow what is really slow.  A test's time in the report
includes its setup: the first test of a module pays for the module's world.

    pytest -n 2 --dist loadscope --junitxml=/tmp/tests.xml
    python benchmarks/test_durations.py /tmp/tests.xml [--top 15]
"""

from __future__ import annotations

import argparse
import os
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ads_platform_tests.scheduling import HEAVIEST_FIRST, unit_of


def nodeid(case: ET.Element) -> str:
    """``classname="ads_platform_tests.e2e.test_x"`` + ``name`` → the pytest node id."""
    parts = case.get("classname", "").split(".")
    # a test class shows up as the last dotted part, capitalised
    cls = parts.pop() if parts and parts[-1][:1].isupper() else None
    module = "/".join(parts) + ".py"
    return "::".join([module, *([cls] if cls else []), case.get("name", "")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="the --junitxml file of a run")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    root = ET.parse(args.report).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    cases = [(nodeid(c), float(c.get("time", 0))) for s in suites for c in s.iter("testcase")]
    wall = sum(float(s.get("time", 0)) for s in suites)
    total = sum(t for _, t in cases)
    per_unit: dict[str, float] = defaultdict(float)
    for node, seconds in cases:
        per_unit[unit_of(node)] += seconds
    print(f"tests: {len(cases)}  wall: {wall:.0f} s  sum of test times: {total:.0f} s")
    print(f"load now (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\nslowest {args.top} tests (setup + call + teardown):")
    for node, seconds in sorted(cases, key=lambda c: -c[1])[: args.top]:
        print(f"  {seconds:7.1f} s  {node}")
    print(f"\nslowest {args.top} units of work (HEAVIEST_FIRST rank in brackets):")
    for unit, seconds in sorted(per_unit.items(), key=lambda u: -u[1])[: args.top]:
        rank = HEAVIEST_FIRST.index(unit) if unit in HEAVIEST_FIRST else "-"
        print(f"  {seconds:7.1f} s  [{rank}] {unit}")


if __name__ == "__main__":
    main()

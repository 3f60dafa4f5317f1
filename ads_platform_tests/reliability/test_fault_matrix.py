"""The fault matrix: every case of ``matrix.CASES`` judged on every property, one test body.

The world is run once for the module (``scenario.run``: the phases are in its docstring);
each case's test judges its properties (``properties.judge``), records every verdict
in the ``reliability`` recorder first, then fails on the ones that did not hold.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest

from ads_platform_tests.reliability import scenario
from ads_platform_tests.reliability.matrix import CASES, CONCURRENCY, Case
from ads_platform_tests.reliability.properties import concurrency, judge, observed_outcome
from ads_platform_tests.reliability.recorder import Recorder, Verdict

pytestmark = pytest.mark.slow


def _load() -> str:
    try:
        with open("/proc/loadavg", encoding="ascii") as handle:
            return " ".join(handle.read().split()[:3])
    except OSError:
        return "unknown"


@pytest.fixture(scope="module")
def observations(
    tmp_path_factory: pytest.TempPathFactory, reliability: Recorder
) -> scenario.Observations:
    load_before = _load()
    with pytest.MonkeyPatch.context() as monkeypatch:
        observed = scenario.run(tmp_path_factory.mktemp("matrix") / "home", monkeypatch)
    total = sum(observed.seconds.values())
    phases = ", ".join(f"{name} {secs:.0f} s" for name, secs in observed.seconds.items())
    reliability.note(
        "World",
        f"{len(observed.members)} accounts (seed {scenario.CI.seed}), sandbox date "
        f"{observed.sandbox_today}",
    )
    reliability.note("Matrix scenario", f"{total:.0f} s ({phases})")
    reliability.note(
        "Load average (1, 5, 15 min)",
        f"{load_before} before, {_load()} after, {os.cpu_count()} CPUs",
    )
    return observed


def _failures(verdicts: Mapping[str, Verdict]) -> dict[str, str]:
    return {name: v.observed for name, v in verdicts.items() if v.held is False}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_every_fault_leaves_the_truth_or_says_why_and_recovers(
    case: Case, observations: scenario.Observations, reliability: Recorder
) -> None:
    verdicts = judge(observations, case)
    reliability.record(case.name, verdicts, observed_outcome(observations, case))
    assert not _failures(verdicts), f"{case.name}: not held: {_failures(verdicts)}"


def test_overlapping_runs_and_a_reader_end_without_errors_on_the_truth(
    observations: scenario.Observations, reliability: Recorder
) -> None:
    verdicts = concurrency(observations)
    c = observations.concurrency
    observed = "0 errors" if not _failures(verdicts) else "errors"
    reliability.record(CONCURRENCY, verdicts, f"{observed} ({len(c.runs)} runs)")
    assert not _failures(verdicts), f"not held: {_failures(verdicts)}"

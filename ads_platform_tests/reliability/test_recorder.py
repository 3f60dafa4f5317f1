"""The reliability table: written only after a full run, from verdicts, honest in CI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ads_platform_tests.reliability import render
from ads_platform_tests.reliability.matrix import (
    CASES,
    EXTERNAL_ROWS,
    FAULT_PROPERTIES,
    KILLED_MARTS_TEST,
)
from ads_platform_tests.reliability.recorder import (
    DOC_ENV,
    Recorder,
    RowSpec,
    Verdict,
    expected_rows,
    finish,
)

HEADER = {"date": "2026-11-29 08:00 UTC", "commit": "abc", "command": "pytest"}
OWNER = "ads_platform_tests/x.py::test_x"


def _specs() -> list[RowSpec]:
    props = {"truth": "data = truth", "alert": "one alert"}
    return [
        RowSpec("faults", "5xx", "server_error", "truth", props, OWNER),
        RowSpec("crashes", "kill", "SIGKILL", "recovers", {"recovered": "ends"}, "other::test"),
    ]


def _full(recorder: Recorder) -> None:
    recorder.record("5xx", {"truth": Verdict(True), "alert": Verdict(True)}, "truth")
    recorder.record("kill", {"recovered": Verdict(True)}, "recovered")


def test_every_case_and_external_line_is_expected_once_with_its_owner() -> None:
    rows = expected_rows()
    names = [r.name for r in rows]
    assert len(names) == len(set(names)) == len(CASES) + len(EXTERNAL_ROWS)
    assert len({c.id for c in CASES}) == len(CASES)
    for row in rows[: len(CASES)]:
        assert row.properties == FAULT_PROPERTIES
        assert row.owner.startswith("ads_platform_tests/reliability/test_fault_matrix.py::")
    for case in CASES:
        assert case.expect.value == "truth" or (case.cause is not None and case.says)
        assert case.alerts == (0 if case.expect.value == "truth" else 1)


def test_a_partial_run_leaves_the_file_alone(tmp_path: Path) -> None:
    doc = tmp_path / "reliability.md"
    doc.write_text("committed\n")
    recorder = Recorder(_specs())
    recorder.record("5xx", {"truth": Verdict(True), "alert": Verdict(True)})
    said, fail = finish(recorder, doc, HEADER, ci=True)
    assert "not written: partial run (1 of 2 lines missing, e.g. 'kill')" in said
    assert not fail
    assert doc.read_text() == "committed\n"


def test_the_table_says_what_held_and_what_was_observed_when_not(tmp_path: Path) -> None:
    doc = tmp_path / "reliability.md"
    recorder = Recorder(_specs())
    _full(recorder)
    recorder.record("5xx", {"alert": Verdict(False, "2 alert(s) | both token")})
    recorder.note("Matrix scenario", "95 s")
    said, fail = finish(recorder, doc, HEADER, ci=False)
    assert said.endswith("written: 1 of 2 lines held") and not fail
    text = doc.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| 5xx |"))
    assert row.split(" | ")[4:] == [
        "held",
        "**not held**: 2 alert(s) \\| both token",
        "**NOT HELD** |",
    ]
    assert "**1 of 2 lines held.** Not held: 5xx." in text
    assert "- Matrix scenario: 95 s" in text
    assert "95 s" not in render.table_part(text)  # timings stay out of the compared part


def test_a_property_its_failing_test_never_reached_is_not_held() -> None:
    recorder = Recorder(_specs())
    recorder.record("5xx", {"truth": Verdict(True)})
    recorder.owner_finished(OWNER, "AssertionError: the scenario failed")
    row = recorder.rows["5xx"]
    assert row.verdicts["truth"].held is True
    assert row.verdicts["alert"] == Verdict(
        False, "not reached: AssertionError: the scenario failed"
    )
    assert row.observed == "not reached" and not row.held


def test_check_records_the_assertion_and_lets_it_fail() -> None:
    recorder = Recorder(_specs())
    with recorder.check("kill", "recovered"):
        pass
    assert recorder.rows["kill"].verdicts["recovered"] == Verdict(True)
    with pytest.raises(AssertionError), recorder.check("kill", "recovered"):
        raise AssertionError("timed out after 150s waiting for the slot\nmore")
    assert recorder.rows["kill"].verdicts["recovered"] == Verdict(
        False, "timed out after 150s waiting for the slot"
    )
    with pytest.raises(KeyError, match="not a row of the reliability table"):
        recorder.record("nope", {})


def test_ci_fails_when_the_tables_differ_from_the_committed_file(tmp_path: Path) -> None:
    doc = tmp_path / "reliability.md"
    first = Recorder(_specs())
    _full(first)
    finish(first, doc, HEADER, ci=True)
    # Same verdicts, another date and commit: only the header changes.
    again = Recorder(_specs())
    _full(again)
    assert finish(again, doc, {**HEADER, "date": "tomorrow", "commit": "def"}, ci=True)[1] is False
    worse = Recorder(_specs())
    _full(worse)
    worse.record("kill", {"recovered": Verdict(False, "still STARTED")})
    said, fail = finish(worse, doc, HEADER, ci=True)
    assert fail and "differ from the committed ones" in said
    assert "still STARTED" in doc.read_text()  # written anyway: the diff shows what changed
    assert finish(worse, doc, HEADER, ci=False)[1] is False  # locally: just rewritten


def test_not_applicable_properties_are_footnoted_not_held(tmp_path: Path) -> None:
    recorder = Recorder(_specs())
    _full(recorder)
    recorder.record("5xx", {"alert": Verdict(None, "no incident to alert on")})
    text = render.document(recorder.rows.values(), HEADER, {})
    assert "| n/a [1] |" in text
    assert "1. no incident to alert on" in text
    assert recorder.rows["5xx"].held


def _through_execnet(state: dict[str, object]) -> dict[str, object]:
    """What the controller receives: execnet carries builtins only (JSON is stricter)."""
    return json.loads(json.dumps(state))


def test_verdicts_recorded_by_two_workers_merge_into_the_table_one_process_writes(
    tmp_path: Path,
) -> None:
    single = Recorder(_specs())
    _full(single)
    single.record("5xx", {"alert": Verdict(False, "2 alert(s)")}, "truth")
    single.note("Matrix scenario", "95 s")
    single.owner_finished(OWNER, None)
    one_process = tmp_path / "one.md"
    finish(single, one_process, HEADER, ci=False)

    first, second = Recorder(_specs()), Recorder(_specs())
    first.record("5xx", {"truth": Verdict(True), "alert": Verdict(False, "2 alert(s)")}, "truth")
    first.note("Matrix scenario", "95 s")
    first.owner_finished(OWNER, None)
    second.record("kill", {"recovered": Verdict(True)}, "recovered")
    controller = Recorder(_specs())
    assert not controller.touched
    controller.merge(_through_execnet(first.state()))
    assert controller.missing() == ["kill"]  # one worker's verdicts are a partial run
    controller.merge(_through_execnet(second.state()))
    merged = tmp_path / "merged.md"
    said, fail = finish(controller, merged, HEADER, ci=False)
    assert said.endswith("written: 1 of 2 lines held") and not fail
    assert merged.read_text() == one_process.read_text()
    assert controller.owners_run == {OWNER}


def test_a_merge_never_turns_a_property_that_did_not_hold_into_one_that_did() -> None:
    failed, passed = Recorder(_specs()), Recorder(_specs())
    failed.record("kill", {"recovered": Verdict(False, "still STARTED")})
    passed.record("kill", {"recovered": Verdict(True)})
    for order in ((failed, passed), (passed, failed)):
        controller = Recorder(_specs())
        for worker in order:
            controller.merge(_through_execnet(worker.state()))
        assert controller.rows["kill"].verdicts["recovered"] == Verdict(False, "still STARTED")


_FAKE_MATRIX = """
import os
import pytest
from ads_platform_tests.reliability.matrix import CASES, CONCURRENCY, CONCURRENCY_PROPERTIES
from ads_platform_tests.reliability.matrix import FAULT_PROPERTIES
from ads_platform_tests.reliability.recorder import Verdict

@pytest.fixture(scope="module", autouse=True)
def _log_worker():
    with open(os.environ["WORKER_LOG"], "a") as log:
        log.write(os.environ.get("PYTEST_XDIST_WORKER", "none") + " matrix\\n")

@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_every_fault_leaves_the_truth_or_says_why_and_recovers(case, reliability):
    reliability.record(case.name, {p: Verdict(True) for p in FAULT_PROPERTIES}, "truth")

def test_overlapping_runs_and_a_reader_end_without_errors_on_the_truth(reliability):
    reliability.record(CONCURRENCY, {p: Verdict(True) for p in CONCURRENCY_PROPERTIES}, "0")
"""

_FAKE_KILLED = """
import os
from ads_platform_tests.reliability.matrix import KILLED_DBT, KILLED_DBT_PROPERTIES
from ads_platform_tests.reliability.matrix import KILLED_PUBLISH, KILLED_PUBLISH_PROPERTIES

def test_a_killed_marts_run_frees_the_writer_slot_and_the_next_build_completes(reliability):
    with open(os.environ["WORKER_LOG"], "a") as log:
        log.write(os.environ.get("PYTEST_XDIST_WORKER", "none") + " killed\\n")
    for prop in KILLED_DBT_PROPERTIES:
        with reliability.check(KILLED_DBT, prop):
            pass
    reliability.record(KILLED_DBT, {}, "recovered by itself")
    for prop in KILLED_PUBLISH_PROPERTIES:
        with reliability.check(KILLED_PUBLISH, prop):
            assert prop != os.environ.get("FAIL_PROPERTY"), "the marts differ from the truth"
    reliability.record(KILLED_PUBLISH, {}, "recovered by itself")
"""


@pytest.fixture
def owners(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """Stand-ins for the two owner files at the paths (node ids) the table's rows name."""
    repo = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("WORKER_LOG", str(pytester.path / "workers.log"))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("FAIL_PROPERTY", raising=False)
    # Under -n 2 this test runs in a worker: its pytest must not look like one.
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    for folder, name, text in (
        ("reliability", "test_fault_matrix.py", _FAKE_MATRIX),
        ("e2e", "test_killed_marts_run.py", _FAKE_KILLED),
    ):
        (pytester.path / "ads_platform_tests" / folder).mkdir(parents=True, exist_ok=True)
        (pytester.path / "ads_platform_tests" / folder / name).write_text(text)
    return pytester


def _run(
    owners: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, doc: Path, *args: str
) -> pytest.RunResult:
    monkeypatch.setenv(DOC_ENV, str(doc))
    (owners.path / "workers.log").unlink(missing_ok=True)
    return owners.runpytest_subprocess(
        "-p",
        "ads_platform_tests.reliability.recorder",
        "-p",
        "no:cacheprovider",
        "--import-mode=importlib",
        "--rootdir",
        str(owners.path),
        *args,
    )


def _workers(owners: pytest.Pytester) -> dict[str, str]:
    lines = (owners.path / "workers.log").read_text().split()
    return dict(zip(lines[1::2], lines[::2], strict=True))


@pytest.mark.slow
def test_under_xdist_the_owners_run_in_two_workers_and_the_controller_writes_the_whole_table(
    owners: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    alone = _run(owners, monkeypatch, tmp_path / "alone.md")
    alone.assert_outcomes(passed=len(CASES) + 2)
    assert _workers(owners) == {"matrix": "none", "killed": "none"}

    parallel = _run(owners, monkeypatch, tmp_path / "parallel.md", "-n", "2", "--dist", "loadfile")
    parallel.assert_outcomes(passed=len(CASES) + 2)
    where = _workers(owners)
    assert where["matrix"] != where["killed"]  # the rows were judged in two processes
    rows = len(CASES) + len(EXTERNAL_ROWS)
    parallel.stdout.fnmatch_lines([f"*reliability: * written: {rows} of {rows} lines held"])
    alone_text = (tmp_path / "alone.md").read_text()
    parallel_text = (tmp_path / "parallel.md").read_text()
    assert render.table_part(parallel_text) == render.table_part(alone_text)
    assert "not recorded" not in parallel_text and "not reached" not in parallel_text
    owner_line = f"- `{KILLED_MARTS_TEST.rsplit('::', 1)[-1]}`: "
    assert owner_line in alone_text and owner_line in parallel_text


@pytest.mark.slow
def test_under_xdist_a_property_that_failed_in_a_worker_fails_ci_against_the_committed_table(
    owners: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    committed = tmp_path / "reliability.md"
    first = _run(owners, monkeypatch, committed, "-n", "2", "--dist", "loadfile")
    first.assert_outcomes(passed=len(CASES) + 2)
    monkeypatch.setenv("FAIL_PROPERTY", "truth")
    monkeypatch.setenv("CI", "true")
    result = _run(owners, monkeypatch, committed, "-n", "2", "--dist", "loadfile")
    result.assert_outcomes(passed=len(CASES) + 1, failed=1)
    result.stdout.fnmatch_lines(["*its tables differ from the committed ones*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "the marts differ from the truth" in committed.read_text()

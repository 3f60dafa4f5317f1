"""The reliability table: written only after a full run, from verdicts, honest in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from ads_platform_tests.reliability import render
from ads_platform_tests.reliability.matrix import CASES, EXTERNAL_ROWS, FAULT_PROPERTIES
from ads_platform_tests.reliability.recorder import (
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

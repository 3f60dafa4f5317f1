"""The benchmark table ``make bench`` writes (benchmarks/report.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import report
from benchmarks.figures import Figure, read_json, write_json


def entry(item: str, date: str, *figures: Figure) -> dict[str, object]:
    return {
        "item": item,
        "command": "cmd",
        "date": date,
        "machine": "load 1.0 on 2 cores",
        "figures": [f.__dict__ for f in figures],
    }


def test_a_missed_target_is_said_in_bold_with_what_stands_in_the_way() -> None:
    table = report.render(
        {"backfill": entry("1", "2026-11-29", Figure("wall s", "31.9", "< 15 s", False, "CPU"))}
    )
    row = table.splitlines()[2]
    assert "| **no** |" in row and "_CPU_" in row and "31.9" in row


def test_each_benchmark_keeps_its_own_date_and_items_come_in_order() -> None:
    table = report.render(
        {
            "peers": entry("5", "2026-11-28", Figure("airbyte wall s", "900")),
            "backfill": entry("1", "2026-11-29", Figure("wall s", "12", "< 15 s", True)),
        }
    )
    rows = table.splitlines()[2:]
    assert rows[0].startswith("| 1 |") and "2026-11-29" in rows[0] and "| yes |" in rows[0]
    assert rows[1].startswith("| 5 |") and "2026-11-28" in rows[1]


def test_the_table_replaces_only_the_text_between_its_markers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.START}\nold\n{report.END}\nafter\n")
    monkeypatch.setattr(report, "README", readme)
    report.write_table({"ingest": entry("3", "d", Figure("rows/s", "7,307", "≥ 100,000", False))})
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("after\n") and "old" not in text
    assert "7,307" in text


def test_figures_survive_the_json_a_benchmark_writes(tmp_path: Path) -> None:
    figures = [Figure("wall s", "1.0", "< 2", True, "note"), Figure("calls", "3")]
    write_json(tmp_path / "f.json", figures)
    assert read_json(tmp_path / "f.json")[0] == figures

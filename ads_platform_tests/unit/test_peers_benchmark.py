"""``benchmarks/peers.py``'s pure parts: reading peers' messages, classing calls, the table.

Why a test for a benchmark: the table is the comparison's only output, and a wrongly
read message or a wrongly classed call would make every figure in it wrong silently.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def peers() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "peers.py"
    spec = importlib.util.spec_from_file_location("benchmarks_peers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _airbyte(data: dict[str, object], stream: str = "ads_insights") -> str:
    return json.dumps({"type": "RECORD", "record": {"stream": stream, "data": data}})


def _singer(record: dict[str, object], stream: str = "ads_insights") -> str:
    return json.dumps({"type": "RECORD", "stream": stream, "record": record})


def test_records_of_both_protocols_are_counted_per_account_day(peers: ModuleType) -> None:
    lines = [
        _airbyte({"account_id": "11", "date_start": "2026-11-01", "spend": 1.25}),
        _airbyte({"account_id": "11", "date_start": "2026-11-01", "spend": "2.50"}),
        _airbyte({"account_id": "11", "date_start": "2026-11-01", "spend": 9}, stream="ads"),
        _singer({"account_id": "22", "date_start": "2026-11-02T00:00:00.000000Z", "spend": 3}),
        '{"type": "STATE", "value": {}}',
        "INFO not json",
        json.dumps({"type": "TRACE", "trace": {"type": "ERROR", "error": {"message": "boom"}}}),
    ]
    tally, errors = peers.Tally(), []
    peers.records(lines, tally, errors)
    assert dict(tally.rows) == {("11", "2026-11-01"): 2, ("22", "2026-11-02"): 1}
    assert tally.spend[("11", "2026-11-01")] == Decimal("3.75")
    assert errors == ["boom"]


def test_calls_are_classed_by_what_the_sandbox_routed_them_to(peers: ModuleType) -> None:
    calls = peers.classify_calls(
        {"insights": 3, "report_create": 2, "report": 5, "report_insights": 2, "me": 1, "batch": 1}
    )
    assert calls == {
        "insights sync": 3,
        "async create": 2,
        "async poll": 5,
        "async results": 2,
        "other": 2,
        "total": 14,
        "async jobs": 2,
    }


def test_a_tool_stopped_halfway_is_judged_on_the_days_it_read_in_full(peers: ModuleType) -> None:
    truth = peers.Tally()
    for day, spend in (("2026-11-01", "10.00"), ("2026-11-02", "5.00")):
        truth.rows[("11", day)] = 4
        truth.spend[("11", day)] = Decimal(spend)
    half = peers.Tally()
    half.rows[("11", "2026-11-01")] = 4
    half.spend[("11", "2026-11-01")] = Decimal("10.00")
    assert peers.spend_verdict(half, truth, stopped=True) == "equal on the 1 read in full"
    assert peers.spend_verdict(half, truth) == "off by -5.00 (1 acct-days)"
    assert peers.spend_verdict(truth, truth) == "equal"
    cut = peers.Tally()
    cut.rows.update({("11", "2026-11-01"): 4, ("11", "2026-11-02"): 1})
    cut.spend.update({("11", "2026-11-01"): Decimal(10), ("11", "2026-11-02"): Decimal(1)})
    assert peers.spend_verdict(cut, truth, stopped=True) == "equal on the 1 read in full (+1 cut)"
    short = peers.Tally()
    short.rows.update(truth.rows)
    short.spend.update({("11", "2026-11-01"): Decimal("9.50"), ("11", "2026-11-02"): Decimal(5)})
    assert peers.spend_verdict(short, truth) == "off by -0.50 (1 acct-days)"

    stopped = peers.Result("tap", "1.0", wall_s=120.0, tally=half, stopped=True)
    broken = peers.Result("airbyte", "6.1.9", error="install failed: no wheel")
    table = peers.format_table([stopped, broken], truth).splitlines()
    assert "  4/8  " in table[2] and "  1/2  " in table[2]
    assert table[2].rstrip().endswith("equal on the 1 read in full  yes")
    assert table[3].rstrip().endswith("not run: install failed: no wheel")

"""Extra insights fields (what the platform's passthrough settings ask for): served as
Meta serves them (numbers as strings), deterministic, consistent with the other
metrics, and equal to the passthrough truth."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from ads_platform.insights_fields import INSIGHT_FIELDS, FieldKind
from ads_platform.sandbox import Sandbox
from ads_platform.sandbox.rows import EXTRA_FIELDS

from .conftest import TODAY
from .helpers import insights

SINCE = TODAY - dt.timedelta(days=3)
UNTIL = TODAY - dt.timedelta(days=1)
EXTRA = ",".join(EXTRA_FIELDS)
FIELDS = f"ad_id,spend,reach,clicks,inline_link_clicks,{EXTRA}"


def _rows(client: httpx.Client, account: str, fields: str = FIELDS) -> list[dict[str, Any]]:
    return insights(client, account, SINCE, UNTIL, fields=fields)


def test_every_extra_field_is_a_scalar_insights_field_of_the_kind_the_truth_reads() -> None:
    for name, kind in EXTRA_FIELDS.items():
        declared = INSIGHT_FIELDS[name]
        assert declared in (FieldKind.COUNT, FieldKind.NUMBER, FieldKind.TEXT), name
        assert kind == declared.value, name


def test_extra_fields_are_strings_deterministic_and_consistent(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[0]
    rows = _rows(client, account)
    assert rows and rows == _rows(client, account)
    with_cpp = 0
    for row in rows:
        for name in EXTRA_FIELDS:
            if name in row:
                assert isinstance(row[name], str), (name, row[name])
        clicks, unique = int(row["clicks"]), int(row["unique_clicks"])
        assert unique <= clicks and (unique > 0) == (clicks > 0)
        assert int(row["unique_inline_link_clicks"]) <= int(row["inline_link_clicks"])
        assert row["quality_ranking"] in ("ABOVE_AVERAGE", "AVERAGE") or row[
            "quality_ranking"
        ].startswith("BELOW_AVERAGE_")
        if "reach" in row and int(row["reach"]):
            with_cpp += 1
            expected = float(row["spend"]) * 1000 / int(row["reach"])
            assert abs(float(row["cpp"]) - expected) < 1e-5
        else:
            assert "cpp" not in row  # no reach served: no cost per 1,000 reached
    assert with_cpp


def test_a_valid_field_the_sandbox_does_not_model_is_accepted_and_omitted(
    sb: Sandbox, client: httpx.Client
) -> None:
    rows = _rows(client, sb.account_ids[0], fields="ad_id,spend,full_view_reach")
    assert rows and all("full_view_reach" not in row for row in rows)


def test_the_passthrough_truth_is_what_the_ad_rows_served(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[1]
    fields = ["cpp", "unique_clicks", "quality_ranking"]
    truth = sb.passthrough_truth(account, SINCE, UNTIL, fields)
    served = {
        (row["date_start"], row["ad_id"]): row
        for row in _rows(client, account, fields=f"ad_id,{','.join(fields)}")
    }
    expected = {
        (day["date"], ad): values for day in truth["days"] for ad, values in day["ads"].items()
    }
    assert expected.keys() == served.keys()
    for key, values in expected.items():
        row = served[key]
        want: dict[str, Any] = {
            "unique_clicks": int(row["unique_clicks"]),
            "quality_ranking": row["quality_ranking"],
        }
        if "cpp" in row:
            want["cpp"] = float(row["cpp"])
        assert values == want, key

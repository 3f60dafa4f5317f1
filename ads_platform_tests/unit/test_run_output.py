"""What a command that runs Dagster in its own process prints: reasons, not internals."""

from __future__ import annotations

import io
import sys

import pytest
import yaml

from ads_platform.dbt_output import is_noise, quiet_dbt_output
from ads_platform.demo import materialize
from ads_platform.run_errors import console_log_level, failure_lines
from ads_platform_tests.conftest import Platform
from ads_platform_tests.platform_defs import defs

# As dbt 1.11 prints them through dagster-dbt (colour codes included).
DBT_RUN = "\n".join(
    [
        "Running with dbt=1.11.16",
        "Registered adapter: duckdb=1.11.1",
        "Unable to do partial parsing because profile has changed",
        "Found 32 models, 104 data tests, 1 operation, 11 sources, 553 macros",
        "",
        "Concurrency: 2 threads (target='dev')",
        "",
        "1 of 1 START hook: ads_platform.on-run-start.0 ................................. [RUN]",
        "1 of 1 OK hook: ads_platform.on-run-start.0 .........."
        ".......................... [\x1b[32mOK\x1b[0m in 0.62s]",
        "",
        "1 of 136 START sql incremental model staging.stg_account_insights_daily ........ [RUN]",
        "2 of 136 OK created sql view model staging.stg_ad_acco"
        "unts ..................... [\x1b[32mOK\x1b[0m in 0.67s]",
        "30 of 136 PASS accepted_values_alerts_severity__info__w"
        "arning__error__critical . [\x1b[32mPASS\x1b[0m in 0.09s]",
        "31 of 136 WARN 2 relationships_fct_ad_daily_ad_id__ad_id"
        "__ref_dim_ads_ ......... [\x1b[33mWARN 2\x1b[0m in 0.1s]",
        "32 of 136 FAIL 1 assert_fct_ad_daily_matches_lake ....."
        "....................... [\x1b[31mFAIL 1\x1b[0m in 0.2s]",
        "33 of 136 ERROR creating sql table model main.fct_ad_dai"
        "ly ...................... [\x1b[31mERROR\x1b[0m in 0.3s]",
        "34 of 136 SKIP relation main.rpt_account_daily ....."
        ".............................. [\x1b[33mSKIP\x1b[0m]",
        "",
        "Finished running 5 incremental models, 1 project hook, 11 table models, 104"
        " data tests, 16 view models in 0 hours 0 minutes and 16.57 seconds (16.57s).",
        "",
        "\x1b[31mCompleted with 1 error, 0 partial successes, and 1 warning:\x1b[0m",
        "Failure in test assert_fct_ad_daily_matches_la"
        "ke (tests/assert_fct_ad_daily_matches_lake.sql)",
        "Done. PASS=133 WARN=1 ERROR=1 SKIP=1 NO-OP=0 TOTAL=137",
        "",
    ]
)


def test_dbt_per_node_lines_stay_out_of_the_terminal_and_problems_and_the_summary_stay_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = io.StringIO()
    monkeypatch.setattr(sys, "stdout", terminal)
    with quiet_dbt_output():
        for line in DBT_RUN.splitlines(keepends=True):
            sys.stdout.write(line)
        sys.stdout.write("Done. without a newline")
    shown = terminal.getvalue().splitlines()
    assert shown == [
        "31 of 136 WARN 2 relationships_fct_ad_daily_ad_id__ad_id__ref_dim_ads_ ......... "
        "[\x1b[33mWARN 2\x1b[0m in 0.1s]",
        "32 of 136 FAIL 1 assert_fct_ad_daily_matches_lake ............................ "
        "[\x1b[31mFAIL 1\x1b[0m in 0.2s]",
        "33 of 136 ERROR creating sql table model main.fct_ad_daily ...................... "
        "[\x1b[31mERROR\x1b[0m in 0.3s]",
        "Finished running 5 incremental models, 1 project hook, 11 table models, 104 data "
        "tests, 16 view models in 0 hours 0 minutes and 16.57 seconds (16.57s).",
        "\x1b[31mCompleted with 1 error, 0 partial successes, and 1 warning:\x1b[0m",
        "Failure in test assert_fct_ad_daily_matches_lake "
        "(tests/assert_fct_ad_daily_matches_lake.sql)",
        "Done. PASS=133 WARN=1 ERROR=1 SKIP=1 NO-OP=0 TOTAL=137",
        "Done. without a newline",
    ]


def test_verbose_shows_every_dbt_line(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = io.StringIO()
    monkeypatch.setattr(sys, "stdout", terminal)
    with quiet_dbt_output(verbose=True):
        sys.stdout.write(DBT_RUN)
    assert terminal.getvalue() == DBT_RUN
    assert sum(is_noise(line) for line in DBT_RUN.splitlines()) > 10


def test_a_failed_run_prints_its_reason_on_one_line_and_a_stack_trace_only_with_debug(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load(platform.config_path.read_text())
    for account in data["accounts"]:
        monkeypatch.delenv(account["token_env"])
    result = materialize(
        defs, platform.instance, ["ad_accounts"], log_level=console_log_level(debug=False)
    )
    assert not result.success
    printed = capfd.readouterr()
    assert "Stack Trace" not in printed.out + printed.err
    assert "Traceback" not in printed.out + printed.err
    (line,) = failure_lines(result.all_events)
    assert line.startswith("ad_accounts: no ad account could be read: ")
    assert all(a["token_env"] in line for a in data["accounts"])
    assert "\n" not in line and "dagster._core" not in line
    debug = failure_lines(result.all_events, debug=True)
    assert debug[0] == line and "Stack Trace:" in debug[1]
    # --debug leaves Dagster's own error block on the console.
    again = materialize(
        defs, platform.instance, ["ad_accounts"], log_level=console_log_level(debug=True)
    )
    assert not again.success
    printed = capfd.readouterr()
    assert "Stack Trace" in printed.out + printed.err


def test_an_unexpected_exception_is_shown_by_its_own_message() -> None:
    import dagster as dg

    @dg.asset
    def broken() -> None:
        raise RuntimeError("the lake directory is not writable: /srv/lake")

    result = dg.materialize([broken], raise_on_error=False)
    assert failure_lines(result.all_events) == [
        "broken: the lake directory is not writable: /srv/lake"
    ]

"""The fault matrix as data: one entry per fault, what is injected and what must happen.

Adding a fault is adding a ``Case`` to ``CASES``: the scenario gives it an account of its
own (or, for a global fault, every account), injects it, pulls, builds the marts,
evaluates the alert sensors, clears it and recovers, and ``test_fault_matrix`` judges
every property of ``FAULT_PROPERTIES`` for it.  Nothing about a case is written
anywhere else.

What a case says:

* ``inject``: the sandbox faults (``ads_platform.sandbox.FAULT_NAMES``) put on the case's
  account just before its pull; ``after`` makes one start in the middle of the run.
  A global case changes the settings instead (``settings``: ``(section, key, value)``)
  and gets a phase of its own, every account pulled.
* ``pull``: which of the fault phase's runs pulls the account (as the schedules do: a
  daily run of closed days, an intraday run of today, a backfill of async report runs).
* ``expect``: ``truth`` (the platform recovers by itself and stores exactly what the API
  serves), ``failed`` (nothing stored, the run says why) or ``blocked`` (a check refused
  what the API answered).
* ``cause``: what ``data_freshness.stale_cause`` and the alert must name
  (:mod:`ads_platform.ingestion.causes`); ``None`` for ``truth``: nothing is stale.
* ``says``: fragments the failure message must contain: what happened and what to do.
* ``alerts``: how many alerts the incident may raise (1 for a failure, 0 otherwise).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ads_platform.ingestion.causes import Cause


class Expect(enum.StrEnum):
    TRUTH = "truth"
    FAILED = "failed"
    BLOCKED = "blocked"


class Pull(enum.StrEnum):
    """The fault phase's runs, several accounts each, shaped like the schedules' runs."""

    DAILY = "daily"  # the closed days of the lookback window, synchronous requests
    INTRADAY = "intraday"  # the account's local today (partial)
    BACKFILL = "backfill"  # a range longer than async_threshold_days: async report runs


class Scope(enum.StrEnum):
    ACCOUNT = "account"  # injected on the case's own account, next to healthy ones
    GLOBAL = "global"  # injected on every account at once (its own phase)
    QUIET = "quiet"  # not a fault: an account that paused everything (a world option)
    CRASH = "crash"  # the account's run is killed with SIGKILL in the middle of a write


@dataclass(frozen=True)
class Inject:
    """One sandbox fault (``Sandbox.add_fault`` arguments)."""

    fault: str
    count: int | None = None
    after: int | None = None
    seconds: float | None = None
    regain_seconds: float | None = None

    def describe(self) -> str:
        parts = [self.fault]
        if self.count is not None:
            parts.append(f"×{self.count}")
        if self.seconds is not None:
            parts.append(f"{self.seconds:g} s")
        if self.regain_seconds is not None:
            parts.append(f"regain {self.regain_seconds:g} s")
        when = f"after {self.after} request(s)" if self.after else "from the first request"
        return f"{' '.join(parts)}, {when}"


@dataclass(frozen=True)
class Case:
    name: str
    inject: tuple[Inject, ...]
    expect: Expect
    cause: Cause | None = None
    says: tuple[str, ...] = ()
    alerts: int = 0
    pull: Pull = Pull.DAILY
    scope: Scope = Scope.ACCOUNT
    #: ``(property, why)`` for the properties that do not apply to this case.
    not_applicable: tuple[tuple[str, str], ...] = ()
    #: A global case's settings change: ``(section, key, value)`` of ads_platform.yaml.
    settings: tuple[tuple[str, str, str], ...] = ()

    @property
    def id(self) -> str:
        return "".join(c if c.isalnum() else "_" for c in self.name.lower()).strip("_")

    def injected(self) -> str:
        if self.scope is Scope.QUIET:
            return "none: every campaign paused since 2025 (sandbox quiet account)"
        if self.scope is Scope.CRASH:
            return "SIGKILL to the run worker half-way through a partition write"
        if self.scope is Scope.GLOBAL:
            changes = "; ".join(
                f"{section}.{key} = {value}" for section, key, value in self.settings
            )
            return f"{changes} (every account, a {self.pull.value} pull)"
        faults = "; ".join(i.describe() for i in self.inject)
        return f"{faults} (its account, {self.pull.value} pull)"

    def expected(self) -> str:
        if self.expect is Expect.TRUTH:
            return "truth"
        return f"{self.expect.value} with cause {self.cause}"


#: The marts the matrix builds (and their parents and tests) after each phase.
DBT_SELECT = ("+fct_ad_daily", "+data_freshness", "+token_health", "+alerts")
#: Settings the scenario runs with (``meta``): the faults are sized against them.
READ_TIMEOUT_SECONDS = 1.0
RETRY_BUDGET_SECONDS = 15.0
#: A read timeout answers after this long: well past the client's read timeout.
SLOW_ANSWER_SECONDS = READ_TIMEOUT_SECONDS + 1.5
#: A Graph API host that never resolves (RFC 2606 reserves ``.invalid``).
UNRESOLVABLE = "https://graph.facebook.invalid"
#: Longer than the retry budget: a throttle the client must give up on, not wait out.
LONG_REGAIN_SECONDS = 60 * RETRY_BUDGET_SECONDS

#: Why the crash case has no alert to count here.
KILLED_RUN_ALERT = (
    "nothing in this scenario can see the killed run die: it runs outside a run launcher; "
    "launched by Dagster, its run is failed by the run_worker_guard sensor and alerted on "
    "like any failed run (proven for a killed marts run by test_killed_marts_run)"
)

CASES: tuple[Case, ...] = (
    Case("5xx burst, recovering", (Inject("server_error", count=2, after=1),), Expect.TRUTH),
    Case(
        "5xx, persistent",
        (Inject("server_error"),),
        Expect.FAILED,
        Cause.API_ERRORS,
        ("temporary Meta error", "http=500", "retried automatically"),
        alerts=1,
    ),
    Case(
        "read timeout",
        (Inject("timeout", count=1, after=1, seconds=SLOW_ANSWER_SECONDS),),
        Expect.TRUTH,
    ),
    Case("connection reset", (Inject("connection_reset", count=1, after=1),), Expect.TRUTH),
    Case(
        "throttled (17, 80000, 613 in turn) with a regain time",
        (Inject("throttled", count=3, after=1, regain_seconds=1.0),),
        Expect.TRUTH,
    ),
    Case(
        "throttled beyond the retry budget",
        (Inject("throttled", regain_seconds=LONG_REGAIN_SECONDS),),
        Expect.FAILED,
        Cause.THROTTLED,
        ("rate limit", "retried on the next schedule"),
        alerts=1,
    ),
    Case(
        "token expired before the run",
        (Inject("token_expired"),),
        Expect.FAILED,
        Cause.TOKEN,
        ("expired", "re-authorize"),
        alerts=1,
    ),
    Case(
        "token expired in the middle of the run",
        (Inject("token_expired", after=2),),
        Expect.FAILED,
        Cause.TOKEN,
        ("expired", "re-authorize"),
        alerts=1,
    ),
    Case(
        "token revoked",
        (Inject("token_revoked"),),
        Expect.FAILED,
        Cause.TOKEN,
        ("revoked", "re-authorize"),
        alerts=1,
    ),
    Case(
        "permission lost",
        (Inject("permission_denied"),),
        Expect.FAILED,
        Cause.PERMISSION,
        ("lost access", "grant ads_read"),
        alerts=1,
    ),
    Case(
        "malformed JSON",
        (Inject("malformed_json"),),
        Expect.FAILED,
        Cause.API_ERRORS,
        ("non-JSON body", "retried automatically"),
        alerts=1,
    ),
    Case("truncated page", (Inject("truncated_page", count=1, after=1),), Expect.TRUTH),
    Case(
        "looping next",
        (Inject("looping_next"),),
        Expect.FAILED,
        Cause.API_ERRORS,
        ("loops back", "retried automatically"),
        alerts=1,
    ),
    Case(
        "async job failed once",
        (Inject("async_job_failed", count=1),),
        Expect.TRUTH,
        pull=Pull.BACKFILL,
    ),
    Case(
        "async job stuck once",
        (Inject("async_job_stuck", count=1),),
        Expect.TRUTH,
        pull=Pull.BACKFILL,
    ),
    Case(
        "async job failing every time",
        (Inject("async_job_failed"),),
        Expect.FAILED,
        Cause.API_ERRORS,
        ("report job did not complete", "retried automatically"),
        alerts=1,
        pull=Pull.BACKFILL,
    ),
    Case(
        "errors as zeros on closed days",
        (Inject("zeros"),),
        Expect.BLOCKED,
        Cause.ZERO_GUARD,
        ("reported as zeros", "previous data for this day stays in place"),
        alerts=1,
    ),
    Case(
        "errors as zeros on today",
        (Inject("zeros"),),
        Expect.BLOCKED,
        Cause.ZERO_GUARD,
        ("lower than what is already stored", "previous data for today stays in place"),
        alerts=1,
        pull=Pull.INTRADAY,
    ),
    Case("quiet account", (), Expect.TRUTH, scope=Scope.QUIET),
    Case(
        "kill -9 during partition writes",
        (),
        Expect.TRUTH,
        scope=Scope.CRASH,
        not_applicable=(("alert", KILLED_RUN_ALERT),),
    ),
    Case(
        "DNS failure",
        (),
        Expect.FAILED,
        Cause.NETWORK,
        ("cannot reach graph.facebook.invalid (DNS / network)", "check the network and DNS"),
        alerts=1,
        scope=Scope.GLOBAL,
        settings=(("meta", "graph_base_url", UNRESOLVABLE),),
        not_applicable=(("others", "every account has the fault"),),
    ),
)

#: Healthy accounts in every run of the fault phase, one per pull kind.
CONTROLS: tuple[Pull, ...] = (Pull.DAILY, Pull.INTRADAY, Pull.BACKFILL)

#: Properties judged for every case, in the order of the table's columns.
FAULT_PROPERTIES: dict[str, str] = {
    "others": "the other accounts of its runs completed as expected",
    "outcome": "its data equals the truth, or its failure message says what happened and "
    "what to do",
    "duplicates": "0 duplicate rows (lake and fct_ad_daily grain)",
    "zeros": "0 zeros stored that the truth lacks (today included)",
    "last_good": "the published marts still serve the last good data",
    "freshness": "data_freshness.stale_cause names the cause (none when nothing failed)",
    "alert": "exactly one alert for the incident (none when nothing failed), with its cause",
    "recovery": "once the fault is gone: data = truth, freshness clear, one 'resolved' per "
    "incident",
}

#: Rows reported by tests other than the matrix's parametrized one: ``(section, name,
#: injected, expected, properties, owner)``, the owner being the test's node id.  The
#: doc is written only when all of them were reported too.
CONCURRENCY = "4 overlapping runs + a reader"
CONCURRENCY_PROPERTIES: dict[str, str] = {
    "lock_errors": "0 lock errors (runs in their own processes, dbt build and publish)",
    "reader_errors": "0 reader errors (the published marts opened read-only in a loop)",
    "duplicates": "0 duplicate rows (lake and fct_ad_daily grain)",
    "truth": "final lake and marts = truth on every day any run pulled",
}
KILLED_MARTS_TEST = (
    "ads_platform_tests/e2e/test_killed_marts_run.py::"
    "test_a_killed_marts_run_frees_the_writer_slot_and_the_next_build_completes"
)
KILLED_DBT = "kill -9 during dbt build"
KILLED_PUBLISH = "kill -9 during publish"
KILLED_DBT_PROPERTIES: dict[str, str] = {
    "dbt_died": "dbt dies with its run worker and no process keeps the build database locked",
    "recovered": "the killed run ends FAILURE and frees its writer slot by itself",
    "retried": "the automatic retry gets the slot and builds over the stale write-ahead log",
}
KILLED_PUBLISH_PROPERTIES: dict[str, str] = {
    "last_good": "a half-copied publish never becomes the published marts",
    "recovered": "the killed run (its code server dead too) ends FAILURE and frees its slot",
    "truth": "the next marts run completes without manual repair and the marts = truth",
}
EXTERNAL_ROWS: tuple[tuple[str, str, str, str, dict[str, str], str], ...] = (
    (
        "concurrency",
        CONCURRENCY,
        "4 ingestion runs in their own processes over overlapping accounts × days (the "
        "matrix's recovery), a reader querying the published marts in a loop from the "
        "fault phase on (3 builds and publishes, the overlapping runs)",
        "0 errors; final = truth",
        CONCURRENCY_PROPERTIES,
        "ads_platform_tests/reliability/test_fault_matrix.py::"
        "test_overlapping_runs_and_a_reader_end_without_errors_on_the_truth",
    ),
    (
        "crashes",
        KILLED_DBT,
        "SIGKILL to the marts run worker (daemon-launched, shipped dagster.yaml) while dbt "
        "holds the build database's write lock and has written its WAL",
        "recovers by itself",
        KILLED_DBT_PROPERTIES,
        KILLED_MARTS_TEST,
    ),
    (
        "crashes",
        KILLED_PUBLISH,
        "SIGKILL to the retry's run worker and its code server half-way through the publish",
        "recovers by itself",
        KILLED_PUBLISH_PROPERTIES,
        KILLED_MARTS_TEST,
    ),
)

"""Judging a case: each property of ``matrix.FAULT_PROPERTIES`` checked, never assumed.

Every function returns a :class:`Verdict`: held, not held with what was observed
instead, or not applicable with the reason.  Nothing here asserts: the test records
every verdict first, then fails on the ones not held, so the rendered table shows all
of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ads_platform.ingestion.causes import CAUSE_TEXT, cause_of
from ads_platform_tests.reliability.matrix import Case, Expect, Pull, Scope
from ads_platform_tests.reliability.recorder import Verdict
from ads_platform_tests.reliability.scenario import (
    Member,
    Observations,
    Run,
    Snapshot,
    global_phase,
    local_today,
)


def na(reason: str) -> Verdict:
    return Verdict(None, reason)


STATUS = {Expect.TRUTH: "success", Expect.FAILED: "failed", Expect.BLOCKED: "blocked"}


# --------------------------------------------------------------------------- helpers


def phase_of(case: Case) -> str:
    return global_phase(case) if case.scope is Scope.GLOBAL else "faults"


def runs_of(obs: Observations, case: Case, account_id: str) -> list[Run]:
    """The runs of the case's phase that pulled ``account_id``."""
    return [r for r in obs.phases[phase_of(case)].runs if account_id in r.accounts]


def pulled(obs: Observations, account_id: str, run: Run) -> list[dict[str, Any]]:
    """The account's attempts in ``run`` for days that had started (not skipped)."""
    return [a for a in obs.attempts_of(account_id, run.run_id) if a["status"] != "skipped"]


def days_of(attempts: Iterable[Mapping[str, Any]]) -> list[str]:
    return sorted({str(a["date_day"]) for a in attempts if a["date_day"] is not None})


def every_pulled_day(obs: Observations, account_id: str) -> list[str]:
    return days_of(
        a
        for a in obs.attempt_log[account_id]
        if a["dataset"] == "ad_insights_daily" and a["status"] != "skipped"
    )


def truth_mismatch(obs: Observations, account_id: str, day: str, stored: Any) -> str | None:
    """Why what is stored for the day is not the truth (None when it is)."""
    truth = obs.truth[account_id].get(day)
    if truth is None:
        return f"{day}: no truth for the day"
    delivered = bool(truth["impressions"]) or bool(truth["spend"])
    if stored is None or not stored.get("rows", 1):
        return (
            f"{day}: nothing stored, the API served {truth['spend']} spend" if delivered else None
        )
    for name in ("spend", "impressions", "link_clicks", "conversions"):
        if stored.get(name) != truth[name]:
            return f"{day}: {name} {stored.get(name)} stored, {truth[name]} served"
    return None


def marts_mismatch(obs: Observations, account_id: str, day: str, value: Any) -> str | None:
    truth = obs.truth[account_id].get(day)
    if truth is None:
        return f"{day}: no truth for the day"
    delivered = bool(truth["impressions"]) or bool(truth["spend"])
    expected = (truth["spend"], truth["impressions"], truth["link_clicks"]) if delivered else None
    if value != expected:
        return f"{day}: fct_ad_daily {_fmt(value)}, the API served {_fmt(expected)}"
    return None


def _fmt(value: Any) -> str:
    if value is None:
        return "nothing"
    spend, impressions, clicks = value
    return f"spend {Decimal(spend)}, {impressions} impressions, {clicks} link clicks"


def snapshot(obs: Observations, phase: str) -> Snapshot:
    snap = obs.phases[phase].snapshot
    assert snap is not None, f"phase {phase} left no snapshot"
    return snap


def previous_phase(obs: Observations, phase: str) -> str:
    names = list(obs.phases)
    return names[names.index(phase) - 1]


# --------------------------------------------------------------------------- properties


def others(obs: Observations, case: Case) -> Verdict:
    """The other accounts of the case's runs ended as they were meant to: stored (and
    materialized) for the healthy ones, their own failure for the other cases."""
    problems: list[str] = []
    mine = {m.account_id for m in obs.members_of(case)}
    runs = (
        obs.phases["faults"].runs  # everything that ran while the crash run was killed
        if case.scope is Scope.CRASH
        else [r for a in mine for r in runs_of(obs, case, a)]
    )
    for run in runs:
        for account_id in run.accounts:
            if account_id in mine:
                continue
            member = obs.members[account_id]
            done = pulled(obs, account_id, run)
            statuses = {a["status"] for a in done}
            want = STATUS[member.expect]
            if not done:
                problems.append(f"{account_id} ({member.name}): no attempt in run {run.name}")
            elif statuses != {want}:
                problems.append(
                    f"{account_id} ({member.name}): {'/'.join(sorted(statuses))} in run "
                    f"{run.name}, expected {want}"
                )
            elif member.expect is Expect.TRUTH:
                missing = [d for d in days_of(done) if f"{account_id}|{d}" not in obs.materialized]
                if missing:
                    problems.append(f"{account_id}: {missing[0]} not materialized in Dagster")
    if not runs:
        problems.append("the case's account was in no run")
    return Verdict.of(problems)


def outcome(obs: Observations, case: Case) -> Verdict:
    """Truth for a case that must recover; else every attempt failed or blocked for the
    expected cause, and the message says what happened and what to do."""
    if case.scope is Scope.CRASH:
        return _crash_outcome(obs, case)
    problems: list[str] = []
    snap = snapshot(obs, phase_of(case))
    for member in obs.members_of(case):
        runs = runs_of(obs, case, member.account_id)
        for run in runs:
            done = pulled(obs, member.account_id, run)
            if not done:
                problems.append(f"{member.account_id}: no attempt in run {run.name}")
                continue
            if case.expect is Expect.TRUTH:
                problems += _stored_truth(obs, member, done, snap, run)
                problems += _fault_reached_the_client(obs, case, member, run)
            else:
                problems += _failure_says(case, member, done)
                problems += [
                    f"{member.account_id}: {f['fault']} never came into force "
                    f"({f['hits']} hit(s), {f['after']} request(s) still to let through)"
                    for f in obs.faults_left
                    if f["account_id"] == member.account_id and (f["after"] or not f["hits"])
                ]
    return Verdict.of(problems)


def _fault_reached_the_client(obs: Observations, case: Case, member: Member, run: Run) -> list[str]:
    """A recovered fault must have happened: the sandbox used up every count of it, and
    the client retried (async report runs recover by splitting the range instead)."""
    if not case.inject:
        return []
    left = [f for f in obs.faults_left if f["account_id"] == member.account_id]
    problems = [
        f"{member.account_id}: {f['fault']} applied to {f['hits']} request(s) only "
        f"({f['count']} left, {f['after']} still to let through)"
        for f in left
    ]
    retried = obs.retries.get((run.run_id, member.account_id), 0)
    if case.pull is not Pull.BACKFILL and not retried:
        problems.append(f"{member.account_id}: the client recorded no retry in run {run.name}")
    return problems


def _stored_truth(
    obs: Observations, member: Member, done: Sequence[Mapping[str, Any]], snap: Snapshot, run: Run
) -> list[str]:
    problems = [
        f"{member.account_id} {a['date_day']}: {a['status']} ({a['error_kind']}): "
        f"{str(a['message'])[:200]}"
        for a in done
        if a["status"] != "success"
    ]
    lake = snap.lake.get(member.account_id, {})
    for day in days_of(done):
        mismatch = truth_mismatch(obs, member.account_id, day, lake.get(day))
        if mismatch:
            problems.append(f"{member.account_id} {mismatch} (run {run.name})")
    return problems


def _failure_says(case: Case, member: Member, done: Sequence[Mapping[str, Any]]) -> list[str]:
    problems = []
    want = STATUS[case.expect]
    for attempt in done:
        cause = cause_of(attempt["error_kind"])
        if attempt["status"] != want or cause is not case.cause:
            problems.append(
                f"{member.account_id} {attempt['date_day']}: {attempt['status']} with cause "
                f"{cause if attempt['status'] != 'success' else '-'}, expected {want} with "
                f"cause {case.cause}"
            )
    latest = max(done, key=lambda a: str(a["date_day"]))
    message = str(latest["message"] or "")
    missing = [s for s in case.says if s.casefold() not in message.casefold()]
    if missing:
        problems.append(f"the message does not say {missing}: {message[:400]!r}")
    return problems


def _crash_outcome(obs: Observations, case: Case) -> Verdict:
    """The run was killed in the middle of a partition write, and the lake still holds a
    whole file for every day: the old one or the new one, = truth, never half."""
    crash = obs.crash
    paused = crash.get("paused")
    if not paused:
        return Verdict(False, "the run never reached a partition write")
    problems = []
    if crash.get("exitcode") != -9:
        problems.append(f"the run ended with exit code {crash.get('exitcode')}, not SIGKILL")
    snap = snapshot(obs, "faults")
    for member in obs.members_of(case):
        temps = snap.temp_files.get(member.account_id, [])
        if len(temps) != 1 or not paused["temp"].endswith(temps[0].split("/", 1)[-1]):
            problems.append(f"expected the killed write's temporary file only, found {temps}")
        lake = snap.lake.get(member.account_id, {})
        since, until = crash["days"]
        day = since
        while day <= until:
            mismatch = truth_mismatch(obs, member.account_id, str(day), lake.get(str(day)))
            if mismatch:
                problems.append(f"{member.account_id} {mismatch}")
            day += dt.timedelta(days=1)
    written = f"killed (SIGKILL) with {paused['written']} of {paused['size']} bytes written"
    return Verdict.of(problems, note=written)


def duplicates(obs: Observations, case: Case) -> Verdict:
    problems = []
    for phase in (phase_of(case), "recovery"):
        snap = snapshot(obs, phase)
        for member in obs.members_of(case):
            a = member.account_id
            extra_lake = snap.lake_duplicates.get(a, 0)
            extra_marts = snap.marts_duplicates.get(a, 0)
            if extra_lake or extra_marts:
                problems.append(
                    f"{a} after {phase}: {extra_lake} duplicate lake row(s), {extra_marts} in "
                    "fct_ad_daily"
                )
    return Verdict.of(problems)


def zeros(obs: Observations, case: Case) -> Verdict:
    """No stored day (lake partition or fct_ad_daily) is all zeros while the API served
    delivery, and no day is stored before it started in the account's time zone."""
    problems = []
    for phase in (phase_of(case), "recovery"):
        snap = snapshot(obs, phase)
        for member in obs.members_of(case):
            problems += [f"after {phase}: {p}" for p in _zero_days(obs, member, snap)]
    return Verdict.of(problems)


def _zero_days(obs: Observations, member: Member, snap: Snapshot) -> list[str]:
    a = member.account_id
    problems = []
    lake = snap.lake.get(a, {})
    today = local_today(member.timezone, snap.taken_at)
    for day in sorted(snap.partitions.get(a, set())):
        if dt.date.fromisoformat(day) > today:
            problems.append(f"{a} {day} stored before it started (local today {today})")
            continue
        truth = obs.truth[a].get(day)
        served = truth is not None and (bool(truth["impressions"]) or bool(truth["spend"]))
        stored = lake.get(day)
        empty = stored is None or not (
            stored["spend"] or stored["impressions"] or stored["link_clicks"]
        )
        if served and empty:
            which = " (today)" if day == str(today) else ""
            problems.append(f"{a} {day}{which}: zeros stored, the API served {truth['spend']}")
    for (account_id, day), value in snap.marts.items():
        if account_id != a:
            continue
        truth = obs.truth[a].get(day)
        served = truth is not None and bool(truth["impressions"])
        if served and not any(value):
            problems.append(f"{a} {day}: zeros in fct_ad_daily, the API served {truth['spend']}")
    return problems


def last_good(obs: Observations, case: Case) -> Verdict:
    """For the days the fault hit: the published marts (and the lake) still hold what the
    previous build published (truth for a case that recovers)."""
    phase = phase_of(case)
    before, after = snapshot(obs, previous_phase(obs, phase)), snapshot(obs, phase)
    problems = []
    for member in obs.members_of(case):
        a = member.account_id
        days = _fault_days(obs, case, member)
        for day in days:
            value = after.marts.get((a, day))
            if case.expect is Expect.TRUTH:
                mismatch = marts_mismatch(obs, a, day, value)
                if mismatch:
                    problems.append(f"{a} {mismatch}")
            elif value != before.marts.get((a, day)):
                problems.append(
                    f"{a} {day}: fct_ad_daily {_fmt(value)}, last good "
                    f"{_fmt(before.marts.get((a, day)))}"
                )
            elif after.lake.get(a, {}).get(day) != before.lake.get(a, {}).get(day):
                problems.append(f"{a} {day}: the lake partition changed")
        if not days:
            problems.append(f"{a}: the fault hit no day")
    return Verdict.of(problems)


def _fault_days(obs: Observations, case: Case, member: Member) -> list[str]:
    if case.scope is Scope.CRASH:
        since, until = obs.crash["days"]
        return [str(since + dt.timedelta(days=i)) for i in range((until - since).days + 1)]
    return days_of(
        a for r in runs_of(obs, case, member.account_id) for a in pulled(obs, member.account_id, r)
    )


def freshness(obs: Observations, case: Case) -> Verdict:
    snap = snapshot(obs, phase_of(case))
    problems = []
    for member in obs.members_of(case):
        row = snap.freshness.get(member.account_id)
        if row is None:
            problems.append(f"{member.account_id}: no data_freshness row")
            continue
        if row["stale_cause"] != (case.cause.value if case.cause else None):
            problems.append(
                f"{member.account_id}: stale_cause {row['stale_cause']!r} "
                f"({row['status_message']!r})"
            )
    return Verdict.of(problems)


def alert(obs: Observations, case: Case) -> Verdict:
    """The webhook got exactly ``case.alerts`` alerts for the account in the phase, for
    the case's cause and saying what to do; the alerts mart has the incident open."""
    phase = phase_of(case)
    posts = obs.phases[phase].posts
    snap = snapshot(obs, phase)
    problems = []
    for member in obs.members_of(case):
        a = member.account_id
        sent = [p for p in posts if p.account_id == a and not p.resolved]
        if len(sent) != case.alerts:
            problems.append(f"{a}: {len(sent)} alert(s) {[p.key for p in sent]}")
        if case.cause is not None:
            key = f"incident:{a}:{case.cause.value}"
            action = f"What to do: {CAUSE_TEXT[case.cause].action}"
            problems += [
                f"{a}: alert {p.key} does not say {action!r}"
                for p in sent
                if p.key == key and action not in p.text
            ]
            problems += [f"{a}: alert for another cause: {p.key}" for p in sent if p.key != key]
            mart = snap.alerts.get(a, [])
            if (case.cause.value, "open") not in mart:
                problems.append(f"{a}: alerts mart has {mart}, not the open incident")
        elif snap.alerts.get(a):
            problems.append(f"{a}: alerts mart has {snap.alerts[a]}")
    return Verdict.of(problems)


def recovery(obs: Observations, case: Case) -> Verdict:
    """Once every fault is gone and the accounts are pulled again (4 overlapping runs):
    lake and marts = truth on every day ever pulled, nothing stale, no temporary file
    left, and each incident the account had is resolved exactly once."""
    snap = snapshot(obs, "recovery")
    opened: dict[str, list[str]] = {}
    for phase in (p for p in obs.phases if p not in ("first", "recovery")):
        for post in obs.phases[phase].posts:
            if (
                post.account_id
                and not post.resolved
                and post.key not in opened.get(post.account_id, [])
            ):
                opened.setdefault(post.account_id, []).append(post.key)
    problems = []
    for member in obs.members_of(case):
        a = member.account_id
        for day in every_pulled_day(obs, a):
            for mismatch in (
                truth_mismatch(obs, a, day, snap.lake.get(a, {}).get(day)),
                marts_mismatch(obs, a, day, snap.marts.get((a, day))),
            ):
                if mismatch:
                    problems.append(f"{a} {mismatch}")
        row = snap.freshness.get(a)
        if row is None or row["stale_cause"] is not None or row["is_stale"]:
            problems.append(f"{a}: still stale: {row and row['status_message']!r}")
        if snap.temp_files.get(a):
            problems.append(f"{a}: temporary files left: {snap.temp_files[a]}")
        resolved = [p.key for p in obs.phases["recovery"].posts if p.account_id == a and p.resolved]
        if sorted(resolved) != sorted(opened.get(a, [])):
            problems.append(f"{a}: resolved {sorted(resolved)}, opened {sorted(opened.get(a, []))}")
        new = [p.key for p in obs.phases["recovery"].posts if p.account_id == a and not p.resolved]
        if new:
            problems.append(f"{a}: new alerts during recovery {new}")
        still_open = [r for r in snap.alerts.get(a, []) if r[1] != "resolved"]
        if still_open:
            problems.append(f"{a}: alerts mart still open {still_open}")
    return Verdict.of(problems)


JUDGES: dict[str, Callable[[Observations, Case], Verdict]] = {
    "others": others,
    "outcome": outcome,
    "duplicates": duplicates,
    "zeros": zeros,
    "last_good": last_good,
    "freshness": freshness,
    "alert": alert,
    "recovery": recovery,
}


def judge(obs: Observations, case: Case) -> dict[str, Verdict]:
    verdicts = {name: fn(obs, case) for name, fn in JUDGES.items()}
    for name, reason in case.not_applicable:
        verdicts[name] = na(reason)
    return verdicts


def observed_outcome(obs: Observations, case: Case) -> str:
    """What the case's fault run did, in a few words (the table's "observed" column)."""
    if case.scope is Scope.CRASH:
        return "killed mid-write" if obs.crash.get("paused") else "not killed"
    statuses: set[str] = set()
    causes: set[str] = set()
    for member in obs.members_of(case):
        for run in runs_of(obs, case, member.account_id):
            for a in pulled(obs, member.account_id, run):
                statuses.add(a["status"])
                if a["status"] != "success":
                    causes.add(str(cause_of(a["error_kind"])))
    words = {"success": "truth" if case.expect is Expect.TRUTH else "stored"}
    said = "/".join(sorted(words.get(s, s) for s in statuses)) or "nothing"
    return f"{said} with cause {'/'.join(sorted(causes))}" if causes else said


def concurrency(obs: Observations) -> dict[str, Verdict]:
    c = obs.concurrency
    snap = snapshot(obs, "recovery")
    lock = [
        f"run {r.name}: {'; '.join(e[:200] for e in r.errors) or 'failed'}"
        for r in c.runs
        if not r.success
    ]
    lock += [f"dbt: {e[-300:]}" for e in c.build_errors]
    truth = []
    for a in obs.members:
        for day in every_pulled_day(obs, a):
            for mismatch in (
                truth_mismatch(obs, a, day, snap.lake.get(a, {}).get(day)),
                marts_mismatch(obs, a, day, snap.marts.get((a, day))),
            ):
                if mismatch:
                    truth.append(f"{a} {mismatch}")
    dups = [
        f"{a}: {snap.lake_duplicates.get(a, 0)} lake, {snap.marts_duplicates.get(a, 0)} marts"
        for a in obs.members
        if snap.lake_duplicates.get(a, 0) or snap.marts_duplicates.get(a, 0)
    ]
    reader = list(c.reader_errors) + ([] if c.reads else ["the reader never completed a read"])
    return {
        "lock_errors": Verdict.of(lock, note=f"{len(c.runs)} runs"),
        "reader_errors": Verdict.of(reader, note=f"{c.reads} reads"),
        "duplicates": Verdict.of(dups),
        "truth": Verdict.of(truth),
    }

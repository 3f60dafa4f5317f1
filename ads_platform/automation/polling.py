"""Polling many accounts inside one sensor tick: a few at once, oldest first, on a budget.

Why: ``entity_changes`` asks Meta, per account, whether anything changed since its last
poll (up to three calls).  One after another that was 30–46 s a tick at 1,000 accounts
against the local sandbox, and minutes against Meta, while Dagster gives a sensor
evaluation 60 s before it fails it.  A tick that fails stores no cursor, so past some
hundreds of accounts no tick would ever finish and no change would ever be found.

So a tick polls a few accounts at once (each is its own account for Meta's pacing),
starts no poll after its budget, stops waiting at its limit (a hung call or a pacing
sleep must not hold it), and keeps the rest for the next tick.  Accounts are
taken oldest poll first: one not reached keeps its old time, so it goes first next tick
and its poll then covers everything since, whatever was skipped in between.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ads_platform.automation.common import log
from ads_platform.meta.redaction import redact

#: ``poll(account_id, since) -> changed?`` (raises when the poll failed).
Poll = Callable[[str, dt.datetime], bool]

#: Polls in flight at once.  Meta paces per ad account, so polls of different accounts do
#: not slow each other; four keeps the app's share of calls modest.
POLL_WORKERS = 4
#: No poll starts after this many seconds of a tick: Dagster fails a sensor evaluation at
#: 60 s, and the tick still has to store its cursor and its run requests.
POLL_BUDGET_SECONDS = 40.0
#: The tick stops waiting for its polls after this many seconds, whatever they do: a poll
#: started just before the budget can meet a hung connection (a read timeout, once per
#: call) or a pacing sleep when Meta reports high usage (minutes).  A poll still running
#: then counts as not reached: its account keeps its old time and goes first next tick.
POLL_LIMIT_SECONDS = 50.0


@dataclass
class PollRound:
    """What one tick's polls found, in the order of the accounts given."""

    changed: list[str] = field(default_factory=list)
    #: Polled without an error: their clock moves to this tick.
    polled: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    #: Not answered this tick (the budget ran out, or the limit came first): their clock
    #: stays where it was.
    deferred: list[str] = field(default_factory=list)
    seconds: float = 0.0


def poll_accounts(
    accounts: Sequence[tuple[str, dt.datetime]],
    poll: Poll,
    *,
    workers: int = POLL_WORKERS,
    budget_seconds: float = POLL_BUDGET_SECONDS,
    limit_seconds: float = POLL_LIMIT_SECONDS,
    monotonic: Callable[[], float] = time.monotonic,
) -> PollRound:
    """Poll ``(account_id, since)`` pairs in that order, ``workers`` at a time.

    A poll starts only while the budget lasts, and the round returns by
    ``limit_seconds`` even if a poll has not ended (its thread is a daemon: it finishes
    or dies with the process, and its answer is dropped).  A failed poll is logged
    (redacted) and counted as failed, never as "no change".
    """
    started = monotonic()
    lock = threading.Lock()
    queue = list(reversed(accounts))
    outcome: dict[str, bool | None] = {}  # True changed, False unchanged, None failed

    def next_account() -> tuple[str, dt.datetime] | None:
        with lock:
            if not queue or monotonic() - started >= budget_seconds:
                return None
            return queue.pop()

    def worker() -> None:
        while (item := next_account()) is not None:
            account_id, since = item
            try:
                result: bool | None = bool(poll(account_id, since))
            except Exception as exc:
                log.warning("entity poll of %s failed: %s", account_id, redact(str(exc))[:300])
                result = None
            with lock:
                outcome[account_id] = result

    threads = [
        threading.Thread(target=worker, name=f"poll-{i}", daemon=True)
        for i in range(max(1, min(workers, len(accounts))))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        left = limit_seconds - (monotonic() - started)
        thread.join(timeout=None if math.isinf(left) else max(0.0, left))
    with lock:
        queue.clear()  # a poll still running starts no other
        answered = dict(outcome)
    found = PollRound(seconds=monotonic() - started)
    for account_id, _since in accounts:
        if account_id not in answered:
            found.deferred.append(account_id)
        elif answered[account_id] is None:
            found.failed.append(account_id)
        else:
            found.polled.append(account_id)
            if answered[account_id]:
                found.changed.append(account_id)
    return found

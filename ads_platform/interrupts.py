"""Ctrl-C and SIGTERM held back while the main thread holds a lock of Dagster's storage.

Why: Python runs a signal's handler in the main thread between two of its bytecodes,
and the handlers of ``ads-platform backfill`` and of its forked runs raise there
(``KeyboardInterrupt``; Dagster's ``DagsterExecutionInterruptedError`` inside a step).
A storage's ``@contextmanager`` connection takes a lock in its generator, and one such
point is inside ``contextlib``'s ``__enter__``, after the generator has taken the lock
and before the ``with`` statement has registered its exit.  An interrupt raised there
leaves the lock taken, and the code that handles the interrupt (stop the runs, fail
them: more events written through the same lock) waits on it for ever.  Seen on
2026-11-30: ``backfill`` stopped with SIGTERM hung in ``stop_all`` →
``report_run_failed`` → ``PooledSqliteEventLogStorage._connect``, waiting on its own
``_db_lock`` (py-spy), its forked run already ended.

:func:`interrupts_held` makes a critical section atomic for SIGINT and SIGTERM: while
the main thread is inside one, either signal is only recorded; when the outermost
section ends (its locks released), the handler that was in place gets it, exactly as if
it had arrived then.  Whatever that handler is: the command's, Dagster's during a
step, Python's default, or a web server's that only sets a flag.  Other threads are
never interrupted by a signal, so their sections need nothing.  Cost: four
``sigaction`` calls a section, microseconds against the milliseconds of an event write.

The run launcher forks inside such a section too: a SIGTERM handled during the fork ran
its handler inside an at-fork hook (filelock's), where CPython ignores the exception
("Exception ignored in: _resume_parent_after_fork ... KeyboardInterrupt"), and the
command went on to finish its backfill as if never told to stop (CI, 2026-11-30).
The child starts with :func:`reset_after_fork`.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

#: The signals that stop a command or a run; both are held.
HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Sections:
    """The main thread's open sections (one process has one main thread)."""

    depth = 0
    received: list[int] = []
    #: An interrupt was raised by :func:`raise_interrupt` (see :func:`interrupt_raised`).
    raised = False


def raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    """The command's handler of SIGTERM and Ctrl-C (and a forked run's of SIGTERM):
    ``KeyboardInterrupt``, remembered first.

    Why remembered: Python ignores an exception raised where it cannot propagate (an
    object's ``__del__`` run by the collector, a weakref callback, an at-fork hook), and
    a handler can run inside any of them.  The backfill loop asks
    :func:`interrupt_raised` at each of its steps, so an interrupt lost that way still
    stops it there.
    """
    _Sections.raised = True
    raise KeyboardInterrupt


def interrupt_raised() -> bool:
    """Whether :func:`raise_interrupt` has raised since :func:`forget_interrupt`."""
    return _Sections.raised


def forget_interrupt() -> None:
    _Sections.raised = False


def _record(signum: int, _frame: FrameType | None) -> None:
    _Sections.received.append(signum)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the section (the outermost, when nested) ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outermost = _Sections.depth == 0
    _Sections.depth += 1
    previous: dict[int, Any] = {}
    try:
        if outermost:
            for signum in HELD_SIGNALS:
                if signal.getsignal(signum) is not None:  # None: set outside Python, left be
                    previous[signum] = signal.signal(signum, _record)
        yield
    finally:
        _Sections.depth -= 1
        if outermost:
            for restored, handler in previous.items():
                signal.signal(restored, handler)
            received, _Sections.received = _Sections.received, []
            for held in dict.fromkeys(received):  # each signal once, in arrival order
                _deliver(held, previous[held])


def _deliver(signum: int, handler: Any) -> None:
    """What the signal would have done had it arrived now (a handler may raise)."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        os.kill(os.getpid(), signum)


def reset_after_fork() -> None:
    """In a child forked inside a section: no section is open here.

    The child inherits the section's state but never leaves it (it ends with
    ``os._exit``), so without this its own sections would count as nested and hold
    nothing.  The signals held so far were sent to the parent, which handles them once
    its section ends (and then stops this child with the others).
    """
    _Sections.received = []
    _Sections.depth = 0
    _Sections.raised = False

"""Runs side by side without a daemon: each launched run executes in a forked child.

Why forked: ``ads-platform backfill --wait`` with no Dagster daemon drives Dagster's
own backfill loop in its process (:mod:`ads_platform.launching`).  Launching those runs
one after another leaves the Graph API idle between pages of different accounts: a
10-account backfill never had more than one request in flight.  The alternatives were
measured and dropped (2026-11-29): runs in threads deadlock (Dagster re-configures
Python's logging at each run start), and runs in fresh processes (Dagster's default
launcher, the daemon's run queue) import the code location each time, 4-16 s on two
cores, more than a run's own work.  A child forked from this process already has the
code location imported, so it starts in milliseconds.

What a child shares with its parent and why that is safe:

* the instance: the platform's pooled SQLite storage notices the new process id and
  opens its own engines (:mod:`ads_platform.instance_storage`); Dagster's stock SQLite
  and PostgreSQL storages open a connection per call;
* nothing else it uses: a run builds its own resources, HTTP clients and lake writers.

A child that dies without ending its run (killed, out of memory) would leave the run
STARTED and the backfill waiting forever; the parent reaps every child and fails such a
run with the cause, so the backfill ends and the next one retries those partitions.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import signal
import time
from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg
from dagster._core.launcher import LaunchRunContext, RunLauncher
from dagster._serdes import ConfigurableClass
from dagster._serdes.config_class import ConfigurableClassData

from ads_platform.interrupts import interrupts_held, raise_interrupt, reset_after_fork

#: Runs at once when neither the launcher's config nor the instance's run queue sets it.
DEFAULT_MAX_PARALLEL = 4

#: How often the parent looks for children that ended while it waits for a free slot.
REAP_INTERVAL_S = 0.05
#: How long :meth:`ForkingRunLauncher.stop_all` lets runs end themselves before SIGKILL.
STOP_GRACE_SECONDS = 10


def freeze_heap_for_children() -> None:
    """Move everything the parent holds out of the cycle collector's reach, until exit.

    The parent's heap (Dagster, dbt's adapter, pandas: ~400 MiB) is what every child
    inherits.  Frozen, the children's full collections skip it instead of touching (and
    so copying) its pages: 3-8 % less CPU in a 10-run backfill, back to back
    (benchmarks/backfill_benchmark.py, 2026-11-30).  Collected first, so no garbage is
    kept for good.  Unfrozen at exit: objects still frozen when the interpreter shuts
    down are never freed, and DuckDB's bindings (nanobind) then printed a hundred lines
    of "leaked instance ... likely a reference counting issue" after every
    ``ads-platform backfill --wait``.
    """
    gc.collect()
    gc.freeze()
    atexit.register(gc.unfreeze)


class ForkingRunLauncher(RunLauncher, ConfigurableClass):
    """Launches each run in a child forked from this process, at most ``max_parallel``
    at once; ``launch_run`` waits for a free slot.

    Without ``max_parallel`` in its config, the limit is the instance's own run queue
    limit (``concurrency: runs: max_concurrent_runs`` in ``dagster.yaml``), the one the
    daemon would apply: the shipped file's backfill tag limit (2) is not applied, because
    it keeps slots for the daily schedule's runs, and without a daemon none are launched.
    """

    def __init__(
        self, inst_data: ConfigurableClassData | None = None, max_parallel: int | None = None
    ) -> None:
        self._inst_data = inst_data
        self._max_parallel = max_parallel
        self._children: dict[int, str] = {}  # pid -> run id
        self._heap_frozen = False
        self._parent = os.getpid()
        #: Called every ``progress_every`` seconds while ``launch_run`` waits for a slot:
        #: a backfill launches all its runs within one iteration of Dagster's loop, so the
        #: command's progress lines (said between iterations) would otherwise stop.
        self.progress: Callable[[], None] | None = None
        self.progress_every = 2.0
        super().__init__()  # type: ignore[no-untyped-call]

    # -- ConfigurableClass -------------------------------------------------------------
    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> Any:
        return {"max_parallel": dg.Field(int, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> ForkingRunLauncher:
        return cls(inst_data=inst_data, max_parallel=config_value.get("max_parallel"))

    @property
    def max_parallel(self) -> int:
        if self._max_parallel is not None:
            return max(1, self._max_parallel)
        queue = self._instance.get_concurrency_config().run_queue_config
        limit = queue.max_concurrent_runs if queue is not None else None
        return limit if limit is not None and limit > 0 else DEFAULT_MAX_PARALLEL

    @max_parallel.setter
    def max_parallel(self, value: int) -> None:
        self._max_parallel = value

    # -- RunLauncher -------------------------------------------------------------------
    def launch_run(self, context: LaunchRunContext) -> None:
        from dagster._utils.hosted_user_process import recon_job_from_origin

        while len(self._children) >= self.max_parallel:
            if not self.reap(timeout=self.progress_every) and self.progress is not None:
                self.progress()
        origin = context.job_code_origin
        run = context.dagster_run
        recon_job = recon_job_from_origin(origin)  # type: ignore[arg-type]
        if not self._heap_frozen:
            freeze_heap_for_children()
            self._heap_frozen = True
        self.fork(run.run_id, lambda: _execute_in_child(recon_job, run, self._instance))

    def fork(self, run_id: str, execute: Callable[[], int]) -> int:
        """A child that exits with ``execute()``'s code; its pid, already a tracked child.

        Interrupts are held from the fork to the bookkeeping: a SIGTERM handled in the
        at-fork hooks was lost (CPython ignores their exceptions), and one between the
        fork and the bookkeeping would leave a child that :meth:`stop_all` never stops.
        """
        with interrupts_held():
            pid = os.fork()
            if pid == 0:  # the child: never return into the parent's code
                code = 1
                try:
                    reset_after_fork()
                    code = execute()
                finally:
                    os._exit(code)
            self._children[pid] = run_id
        return pid

    def terminate(self, run_id: str) -> bool:
        for pid, child_run in self._children.items():
            if child_run == run_id:
                os.kill(pid, signal.SIGTERM)
                return True
        return False

    def dispose(self) -> None:
        if os.getpid() == self._parent:
            self.wait_all()

    # -- the parent's bookkeeping ------------------------------------------------------
    @property
    def running(self) -> int:
        return len(self._children)

    def children(self) -> dict[int, str]:
        """The live children: process id -> the run it executes."""
        return dict(self._children)

    def reap(self, timeout: float = 0.0) -> int:
        """Collect the children that have ended (waiting up to ``timeout`` seconds for
        one); fail the run of any that died without ending it.  How many ended."""
        deadline = time.monotonic() + timeout
        while True:
            ended = 0
            for pid in list(self._children):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    self._ended(pid, status)
                    ended += 1
            if ended or not self._children or time.monotonic() >= deadline:
                return ended
            time.sleep(REAP_INTERVAL_S)

    def join(self, timeout: int = 30) -> None:
        """Wait for every child, up to ``timeout`` seconds (Dagster's contract)."""
        deadline = time.monotonic() + timeout
        while self._children and time.monotonic() < deadline:
            self.reap(timeout=min(1.0, max(0.0, deadline - time.monotonic())))

    def wait_all(self) -> None:
        """Wait for every child, however long its run takes."""
        while self._children:
            self.reap(timeout=1.0)

    def stop_all(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop every child's run: SIGTERM (the run ends FAILURE, as Dagster ends an
        interrupted run), then after ``grace`` seconds SIGKILL for any still going, whose
        run :meth:`reap` then fails with that cause.  Why both: a run's threads may sit in
        an HTTP request for its whole timeout, and the command that was told to stop must
        not wait for them; none may be left STARTED with no process behind it."""
        for pid in list(self._children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        self.join(timeout=int(grace))
        for pid in list(self._children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.wait_all()

    def _ended(self, pid: int, status: int) -> None:
        run_id = self._children.pop(pid)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            return
        cause = (
            f"signal {signal.Signals(os.WTERMSIG(status)).name}"
            if os.WIFSIGNALED(status)
            else f"exit code {os.WEXITSTATUS(status)}"
        )
        run = self._instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            self._instance.report_run_failed(
                run,
                f"The process executing this run (pid {pid}) ended with {cause} before the "
                "run finished; its partitions are not materialized and a new run retries them.",
            )


def _execute_in_child(recon_job: Any, run: dg.DagsterRun, instance: dg.DagsterInstance) -> int:
    """Execute ``run`` in this forked child; the exit code."""
    import asyncio
    import traceback

    from dagster._core.execution.api import execute_run

    try:
        # The parent forked inside its backfill loop's event loop; this thread runs none.
        asyncio.events._set_running_loop(None)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        # SIGTERM as Dagster's interrupt: the run is marked failed with the steps' state.
        signal.signal(signal.SIGTERM, raise_interrupt)
        result = execute_run(recon_job, run, instance)
        return 0 if result.success else 3
    except BaseException:
        traceback.print_exc()
        return 1

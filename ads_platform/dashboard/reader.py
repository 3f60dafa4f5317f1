"""The dashboard's only way to the marts: one shared reader per marts file and process.

Why a reader shared by every browser session (Streamlit runs each session's script in a
thread of one process): twenty people opening the same account page at nine in the
morning ask the same queries; the first one runs them, the others get the cached frames.

What a cached frame is keyed by:

* the **version of the published file**: ``(inode, mtime, size)``.  A publish replaces
  ``marts.duckdb`` by a rename (:func:`ads_platform.warehouse.publish_marts`), so every
  publish is a new inode: the next query after it opens the new file and nothing cached
  from the old one is served again.  Queries already running on the old file finish on
  it (their connection holds the old inode), so a rebuild never errors a reader;
* the SQL text and its **parameters** (user input only ever travels as parameters);
* for the views that read the clock (``data_freshness``, ``token_health``: "today" and
  "days left" are evaluated when queried), a **clock bucket** of ``clock_seconds``:
  otherwise a marts file that stopped being rebuilt would keep saying "up to date".

Connections: :func:`ads_platform.warehouse.open_marts_readonly` (the file attached
``READ_ONLY``, external access off, configuration locked) costs ~50-100 ms, so one is
opened per file version and each query runs on its own cursor (a DuckDB cursor is a
connection of its own to the same database instance: safe across threads).  Closing a
connection closes its cursors, so the connection of an old version is closed only when
the last query running on it has finished.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ads_platform.warehouse import MartsNotFoundError, WarehouseError, open_marts_readonly

#: Views whose result depends on the clock at query time (cached per clock bucket).
CLOCK_VIEWS = ("data_freshness", "token_health")
DEFAULT_CLOCK_SECONDS = 60.0
DEFAULT_MAX_ENTRIES = 512


class DashboardDataError(RuntimeError):
    """A query of the dashboard failed; the message is one line for the page."""


@dataclass(frozen=True)
class MartsVersion:
    """Identity of one published marts file: a publish always changes it (new inode)."""

    inode: int
    mtime_ns: int
    size: int

    @classmethod
    def of(cls, path: Path) -> MartsVersion:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise MartsNotFoundError(
                f"no marts at {path}: run `ads-platform demo` or materialize the marts first"
            ) from None
        return cls(st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass
class _Snapshot:
    """The connection to one version of the file, and how many queries use it now."""

    version: MartsVersion
    connection: duckdb.DuckDBPyConnection
    active: int = 0
    retired: bool = False


@dataclass
class ReaderStats:
    """What the reader did (the load test and the benchmark print it)."""

    queries: int = 0
    cache_hits: int = 0
    #: Queries that ran on DuckDB (the others were served from the cache).
    executed: int = 0
    opens: int = 0
    versions: list[MartsVersion] = field(default_factory=list)


class MartsReader:
    """Cached, read-only, thread-safe queries against one published marts file."""

    def __init__(
        self,
        path: Path,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock_seconds: float = DEFAULT_CLOCK_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self._max_entries = max_entries
        self._clock_seconds = clock_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._current: _Snapshot | None = None
        self._retired: list[_Snapshot] = []
        self._cache: OrderedDict[tuple[Any, ...], pd.DataFrame] = OrderedDict()
        self._computing: dict[tuple[Any, ...], threading.Lock] = {}
        self.stats = ReaderStats()

    # -- versions and connections -------------------------------------------------------

    def version(self) -> MartsVersion:
        """The version of the file published at ``path`` right now."""
        return MartsVersion.of(self.path)

    def _open(self) -> _Snapshot:
        """Open the file published now, sure of which version was opened.

        A publish can rename a new file over the path between the ``stat`` and the open:
        the version is read before and after, and the open is retried when they differ.
        """
        for _ in range(5):
            before = self.version()
            try:
                connection = open_marts_readonly(self.path)
            except WarehouseError as exc:
                raise DashboardDataError(str(exc)) from None
            if self.version() == before:
                self.stats.opens += 1
                self.stats.versions.append(before)
                return _Snapshot(before, connection)
            connection.close()
        raise DashboardDataError(f"the marts at {self.path} keep changing: try again")

    @contextmanager
    def _lease(self) -> Iterator[_Snapshot]:
        """The snapshot of the current version, kept open while the caller uses it."""
        version = self.version()
        with self._lock:
            current = self._current
            if current is None or current.version != version:
                if current is not None:
                    current.retired = True
                    self._retired.append(current)
                current = self._current = self._open()
            current.active += 1
        try:
            yield current
        finally:
            with self._lock:
                current.active -= 1
                self._close_idle_retired()

    def _close_idle_retired(self) -> None:
        keep = []
        for snapshot in self._retired:
            if snapshot.active == 0:
                snapshot.connection.close()
            else:
                keep.append(snapshot)
        self._retired = keep

    def close(self) -> None:
        """Close every connection (tests and the benchmark; a server never needs it)."""
        with self._lock:
            for snapshot in [*self._retired, *([self._current] if self._current else [])]:
                snapshot.connection.close()
            self._retired = []
            self._current = None
            self._cache.clear()

    def clear_cache(self) -> None:
        """Forget cached frames (the benchmark measures cold queries with it)."""
        with self._lock:
            self._cache.clear()

    # -- queries --------------------------------------------------------------------------

    def frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """The result of one parametrized query, cached (see the module docstring).

        A query that names a clock view is cached per clock bucket.  The frame returned
        is the caller's own copy.
        """
        with self._lease() as snapshot:
            reads_clock = any(view in sql for view in CLOCK_VIEWS)
            bucket = int(self._clock() // self._clock_seconds) if reads_clock else None
            key = (snapshot.version, sql, tuple(params), bucket)
            with self._lock:
                self.stats.queries += 1
                hit = self._cached(key)
                if hit is not None:
                    return hit.copy()
                gate = self._computing.setdefault(key, threading.Lock())
            # One computation per key: concurrent sessions asking the same wait for it.
            with gate:
                with self._lock:
                    hit = self._cached(key)
                if hit is None:
                    try:
                        hit = self._run(snapshot, sql, params)
                        with self._lock:
                            self.stats.executed += 1
                            self._store(key, hit)
                    finally:
                        with self._lock:
                            self._computing.pop(key, None)
            return hit.copy()

    def _cached(self, key: tuple[Any, ...]) -> pd.DataFrame | None:
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            self.stats.cache_hits += 1
        return hit

    def _store(self, key: tuple[Any, ...], frame: pd.DataFrame) -> None:
        self._cache[key] = frame
        self._cache.move_to_end(key)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)

    @staticmethod
    def _run(snapshot: _Snapshot, sql: str, params: Sequence[Any]) -> pd.DataFrame:
        cursor = snapshot.connection.cursor()
        try:
            return cursor.execute(sql, list(params)).df()
        except duckdb.Error as exc:
            raise DashboardDataError(" ".join(str(exc).split())) from None
        finally:
            cursor.close()

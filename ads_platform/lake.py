"""The Parquet lake: where every validated partition lands, one file per partition.

Why files and not a database: Dagster runs partitions in parallel processes and
analysts query while ingestion runs, but DuckDB allows one writing process per
database.  A file per partition, replaced atomically (temporary file in the same
directory, fsync, rename), makes re-runs idempotent, lets any number of runs write
different partitions at once, and leaves either the old file or the new one when a
run is killed.  Only the dbt step reads the lake into a database.

Layout (``hive`` style so DuckDB and other engines can prune on the path)::

    lake/ad_insights_daily/account_id=act_1/date=2026-01-05/data.parquet
    lake/account_insights_daily/account_id=act_1/date=2026-01-05/data.parquet
    lake/campaigns/account_id=act_1/data.parquet          (all versions)
    lake/ad_accounts/data.parquet
    lake/ingestion_attempts/account_id=act_1/<timestamp>-<run>.parquet  (append-only)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ads_platform import atomic
from ads_platform.datasets import DATASETS, Dataset
from ads_platform.datasets.base import DATA_FILE

#: The lake's Parquet codec.  LZ4 and not zstd: a partition is a day of one account
#: (a few hundred rows, ~25 column chunks), and zstd's cost there is mostly setting up a
#: compressor per column chunk, not compressing: writing 270 days of 3 × 300 ads took
#: 0.73 CPU-s with zstd, 0.39 with LZ4 and 0.37 uncompressed, for files 27 % larger
#: than zstd's (7.0 MB against 5.5; ``benchmarks/ingest_throughput.py``, 2026-11-30).
#: The lake is the platform's own staging area, read whole by dbt, where CPU is scarcer
#: than disk; DuckDB and every Parquet reader of the last years read LZ4 (``LZ4_RAW``).
PARQUET_CODEC = "lz4"


def encode_parquet(table: pa.Table, sink: str | Path | BinaryIO) -> None:
    """A table as the lake's Parquet (its codec): every lake file, and the benchmarks'
    copies of lake files, are encoded by this one call."""
    pq.write_table(table, sink, compression=PARQUET_CODEC)


_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_.\-]+$")


class LakeError(RuntimeError):
    """A lake path or file could not be used."""


def _segment(name: str, value: str) -> str:
    if not _SAFE_SEGMENT.fullmatch(value):
        raise LakeError(f"unsafe {name} for a lake path: {value!r}")
    return f"{name}={value}"


@dataclass(frozen=True)
class LakeSummary:
    """How much of a dataset the lake holds, and when it was last written."""

    dataset: str
    files: int
    rows: int
    last_write: dt.datetime | None


class Lake:
    """Paths and atomic reads/writes under one lake root."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- paths -------------------------------------------------------------------------
    def dataset_dir(self, dataset: str) -> Path:
        if not _SAFE_SEGMENT.fullmatch(dataset):
            raise LakeError(f"unsafe dataset name {dataset!r}")
        return self.root / dataset

    def partition_path(
        self, dataset: str, account_id: str | None = None, day: dt.date | None = None
    ) -> Path:
        path = self.dataset_dir(dataset)
        if account_id is not None:
            path = path / _segment("account_id", account_id)
        if day is not None:
            path = path / _segment("date", day.isoformat())
        return path / DATA_FILE

    def glob(self, dataset: str) -> str:
        """A glob over every data file of a dataset (for DuckDB ``read_parquet``)."""
        base = self.dataset_dir(dataset)
        declared = DATASETS.get(dataset)
        if declared is not None and declared.single_file:
            return str(base / DATA_FILE)
        return str(base / "**" / "*.parquet")

    # -- writes ------------------------------------------------------------------------
    def write(self, path: Path, table: pa.Table) -> int:
        """Write atomically: temp file in the same directory, fsync, rename over.

        Returns the size in bytes.  A reader sees the old file or the new one, never a
        partial one; a killed writer leaves at most a stray ``.tmp`` file that no glob
        of ``*.parquet`` picks up, and the next write of the same file removes it (a
        live writer's temporary file is never touched: see :mod:`ads_platform.atomic`).
        """
        with atomic.replacing(path) as handle:
            encode_parquet(table, handle)
        return path.stat().st_size

    def parallel_writes(self, threads: int = 8) -> ParallelWrites:
        """Atomic writes of different files, a few at once (see :class:`ParallelWrites`)."""
        return ParallelWrites(self, threads)

    def append_file(self, dataset: str, account_id: str, table: pa.Table, tag: str) -> Path:
        """Append-only datasets: a new uniquely named file per write (no read-modify-write)."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        safe_tag = re.sub(r"[^A-Za-z0-9_\-]", "_", tag)[:40]
        name = f"{stamp}-{safe_tag}-{uuid.uuid4().hex[:8]}.parquet"
        path = self.dataset_dir(dataset) / _segment("account_id", account_id) / name
        # Every name here is new, so the sweep :meth:`write` does of its own target's
        # temporary files would never find a dead appender's: sweep them all.
        atomic.sweep_stale_temp_files(path.parent)
        self.write(path, table)
        return path

    def append_per_account(
        self, dataset: Dataset, records: Sequence[Mapping[str, Any]], tag: str
    ) -> None:
        """Records of an append-only dataset: validated together, a file per account.

        One Pandera call for all the accounts, each file a slice of the one table:
        Pandera costs about 10 ms a call whatever the rows, and a run over 50 accounts
        and six assets made 300 calls to write its attempts log.
        """
        by_account: dict[str, list[Mapping[str, Any]]] = {}
        for record in records:
            by_account.setdefault(str(record["account_id"]), []).append(record)
        grouped = [r for items in by_account.values() for r in items]
        if not grouped:
            return
        table = dataset.table(grouped)
        start = 0
        for account_id, items in by_account.items():
            self.append_file(dataset.name, account_id, table.slice(start, len(items)), tag=tag)
            start += len(items)

    def delete(self, path: Path) -> bool:
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        atomic.fsync_dir(path.parent)
        return True

    def sweep(self) -> list[Path]:
        """Remove the temporary files of dead writers anywhere in the lake; return them.

        Writes already clean their own directory; this is for a run or ``doctor`` that
        wants the whole lake clean (directories nobody writes again keep their leftovers
        otherwise).  Safe while other processes write: see :mod:`ads_platform.atomic`.
        """
        removed: list[Path] = []
        for directory, _dirs, _files in os.walk(self.root):
            removed.extend(atomic.sweep_stale_temp_files(Path(directory)))
        return removed

    # -- reads -------------------------------------------------------------------------
    def read(self, path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame | None:
        if not path.exists():
            return None
        table = pq.read_table(path, columns=list(columns) if columns else None)
        return table_to_frame(table)

    def read_table(self, path: Path) -> pa.Table | None:
        if not path.exists():
            return None
        return pq.read_table(path)

    def summary(self, dataset: str) -> LakeSummary:
        """Files, rows and newest write of a dataset, from the Parquet footers only.

        What an observation of an append-only log reports (no data page is read).
        """
        base = self.dataset_dir(dataset)
        files = rows = 0
        newest: float | None = None
        for path in sorted(base.rglob("*.parquet")) if base.exists() else []:
            try:
                count = pq.read_metadata(path).num_rows
                mtime = path.stat().st_mtime
            except FileNotFoundError:  # replaced between the listing and now
                continue
            files += 1
            rows += count
            newest = mtime if newest is None else max(newest, mtime)
        last = None if newest is None else dt.datetime.fromtimestamp(newest, dt.UTC)
        return LakeSummary(dataset, files, rows, last)

    def partition_days(self, dataset: str, account_id: str) -> list[dt.date]:
        base = self.dataset_dir(dataset) / _segment("account_id", account_id)
        if not base.exists():
            return []
        days = []
        for child in base.iterdir():
            if child.name.startswith("date=") and (child / DATA_FILE).exists():
                days.append(dt.date.fromisoformat(child.name.removeprefix("date=")))
        return sorted(days)

    def account_ids(self, dataset: str) -> list[str]:
        base = self.dataset_dir(dataset)
        if not base.exists():
            return []
        return sorted(
            child.name.removeprefix("account_id=")
            for child in base.iterdir()
            if child.name.startswith("account_id=")
        )

    @contextlib.contextmanager
    def lock(self, dataset: str, account_id: str) -> Iterator[None]:
        """An exclusive lock for read-modify-write datasets (entity history).

        Only history files need it: two runs pulling the same account's campaigns at
        once would otherwise both read version N and one of their versions would be
        lost.  Partitioned insight files are replaced whole and need no lock.
        """
        lock_dir = self.root / ".locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock_path = lock_dir / f"{dataset}.{account_id}.lock"
        with open(lock_path, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class ParallelWrites:
    """:meth:`Lake.write` of many files at once; leaving the block waits for every one.

    Why: each atomic write waits for two fsyncs (file and directory), milliseconds on a
    real disk, and a 90-day pull writes 180 files; Parquet encoding and fsync release
    the GIL, so a few threads overlap the waits.  Each write is still atomic on its own,
    and the first failure is raised when the block ends (after the others finished),
    as the write itself would have raised it.  Never give it the same path twice.
    """

    def __init__(self, lake: Lake, threads: int) -> None:
        self.lake = lake
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lake-write")
        self._pending: list[Future[int]] = []

    def write(self, path: Path, table: pa.Table) -> None:
        self._pending.append(self._pool.submit(self.lake.write, path, table))

    def wait(self) -> None:
        """Block until every write submitted so far is done; raise the first failure."""
        pending, self._pending = self._pending, []
        errors = [f.exception() for f in pending]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first

    def __enter__(self) -> ParallelWrites:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                self.wait()
        finally:
            self._pool.shutdown(wait=True)


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow → pandas with nullable integers, so a null count stays null, not NaN."""
    frame: pd.DataFrame = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    return frame

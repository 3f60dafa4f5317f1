"""Files the platform writes: readable as the umask says, and no temp file outlives its writer.

Builds on the killed-writer test in ``e2e/test_ingestion.py``: a real subprocess writes
through the platform's own writers and is SIGKILLed mid-write.  Here the writer stalls
half-way on purpose (it prints ``mid-write`` and waits on stdin), so "killed mid-write"
and "alive mid-write" are certain rather than timed.  The umask tests run in a
subprocess too, so this process's umask is never touched.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ads_platform import atomic
from ads_platform.lake import Lake
from ads_platform.warehouse import open_marts_readonly, publish_marts

REPO_ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 1, 5)

#: Lake.write, stalled after half a file until a line arrives on stdin.
STALLED_LAKE_WRITE = """
import sys
import threading
from pathlib import Path
import pyarrow as pa
import pyarrow.parquet as pq
from ads_platform.lake import Lake

real_write_table = pq.write_table

def half_then_stall(table, where, **kwargs):
    where.write(b"PAR1 half a parquet file")
    where.flush()
    print("mid-write", flush=True)
    sys.stdin.readline()
    where.seek(0)
    where.truncate()
    real_write_table(table, where, **kwargs)

pq.write_table = half_then_stall
Lake(sys.argv[1]).write(Path(sys.argv[2]), pa.table({"x": [int(sys.argv[3])]}))
print("done", flush=True)
"""

#: Lake.append_file (a new name each time), stalled as STALLED_LAKE_WRITE is.
STALLED_APPEND = STALLED_LAKE_WRITE.replace(
    'Lake(sys.argv[1]).write(Path(sys.argv[2]), pa.table({"x": [int(sys.argv[3])]}))',
    'Lake(sys.argv[1]).append_file("ingestion_attempts", sys.argv[2], pa.table({"x": [1]}), "r")',
)

#: publish_marts, stalled after the first bytes of the copy.
STALLED_PUBLISH = """
import shutil, sys
from pathlib import Path
from ads_platform.warehouse import publish_marts

def half_then_stall(src, dst, length=0):
    dst.write(src.read(4096))
    dst.flush()
    print("mid-write", flush=True)
    sys.stdin.readline()

shutil.copyfileobj = half_then_stall
publish_marts(Path(sys.argv[1]), Path(sys.argv[2]))
"""

#: Every kind of file the platform writes, under the umask given as argv[1].
WRITE_UNDER_UMASK = """
import datetime as dt, os, sys
os.umask(int(sys.argv[1], 8))
from pathlib import Path
import duckdb, pyarrow as pa
from ads_platform.lake import Lake
from ads_platform.meta.tokens import TokenStore
from ads_platform.warehouse import publish_marts

root = Path(sys.argv[2])
lake = Lake(root / "lake")
table = pa.table({"x": [1]})
lake.write(lake.partition_path("ad_insights_daily", "act_1", dt.date(2026, 1, 5)), table)
lake.append_file("ingestion_attempts", "act_1", table, "run-1")
build = root / "warehouse" / "marts.duckdb"
build.parent.mkdir(parents=True)
con = duckdb.connect(str(build))
con.execute("create table t as select 1 as x")
con.close()
publish_marts(build, root / "marts.duckdb")
publish_marts(build, root / "marts.duckdb")  # replacing an existing file: same rule
TokenStore(root / "tokens.enc", TokenStore.generate_key()).put("act_1", "secret-token")
"""


def _python(script: str, *args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    """Writers started by a test; none outlives it."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _stalled(procs: list[subprocess.Popen[str]], script: str, *args: str) -> subprocess.Popen[str]:
    proc = _python(script, *args, stdin=subprocess.PIPE)
    procs.append(proc)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line == "mid-write", proc.stderr.read() if proc.stderr else line
    return proc


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def _read_x(path: Path) -> list[int]:
    return [int(v) for v in pq.read_table(path).column("x").to_pylist()]


# -- temp files of dead writers are swept; a live writer's never --------------------------


def test_a_partition_write_killed_midway_leaves_a_temp_file_the_next_write_removes(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    lake = Lake(tmp_path / "lake")
    target = lake.partition_path("ad_insights_daily", "act_1", DAY)
    lake.write(target, pa.table({"x": [1]}))
    _kill(_stalled(procs, STALLED_LAKE_WRITE, str(lake.root), str(target), "2"))
    leftover = _temps(target.parent)
    assert len(leftover) == 1 and leftover[0].startswith(".data.parquet.")  # killed mid-write
    assert _read_x(target) == [1]  # the old file, whole

    lake.write(target, pa.table({"x": [3]}))  # the successful re-run

    assert _temps(target.parent) == []
    assert _read_x(target) == [3]


def test_an_append_killed_midway_leaves_a_temp_file_the_next_append_of_its_account_removes(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    lake = Lake(tmp_path / "lake")
    _kill(_stalled(procs, STALLED_APPEND, str(lake.root), "act_1", "2"))
    directory = lake.dataset_dir("ingestion_attempts") / "account_id=act_1"
    assert len(_temps(directory)) == 1  # killed mid-write, under a name nobody writes again

    written = lake.append_file("ingestion_attempts", "act_1", pa.table({"x": [3]}), "run-2")

    assert _temps(directory) == []
    assert [p.name for p in directory.iterdir()] == [written.name]


def test_a_publish_killed_midway_leaves_a_temp_copy_the_next_publish_removes(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    build = tmp_path / "warehouse" / "marts.duckdb"
    build.parent.mkdir()
    con = duckdb.connect(str(build))
    con.execute("create table t as select 42 as x")
    con.close()
    marts = tmp_path / "marts.duckdb"
    _kill(_stalled(procs, STALLED_PUBLISH, str(build), str(marts)))
    assert [n for n in _temps(tmp_path) if n.startswith(".marts.duckdb.")]
    assert not marts.exists()

    publish_marts(build, marts)

    assert _temps(tmp_path) == []
    reader = open_marts_readonly(marts)
    try:
        assert reader.execute("select x from t").fetchall() == [(42,)]
    finally:
        reader.close()


def test_a_live_writers_temp_file_survives_every_sweep_and_its_write_completes(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    lake = Lake(tmp_path / "lake")
    target = lake.partition_path("ad_insights_daily", "act_1", DAY)
    live = _stalled(procs, STALLED_LAKE_WRITE, str(lake.root), str(target), "7")
    (theirs,) = _temps(target.parent)

    # Another run writes the same partition (sweeping its directory) and the whole lake
    # is swept while the first writer is still half-way.
    lake.write(target, pa.table({"x": [1]}))
    assert lake.sweep() == []
    assert atomic.sweep_stale_temp_files(target.parent) == []
    assert _temps(target.parent) == [theirs]

    assert live.stdin is not None
    live.stdin.write("go\n")
    live.stdin.flush()
    out, err = live.communicate(timeout=60)
    assert live.returncode == 0, err
    assert out.strip() == "done"
    assert _read_x(target) == [7]  # its rename went through: last writer wins, whole
    assert _temps(target.parent) == []


def test_a_whole_lake_sweep_removes_what_dead_writers_left_where_nobody_writes_again(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    lake = Lake(tmp_path / "lake")
    dead = lake.partition_path("ad_insights_daily", "act_1", DAY)
    alive = lake.partition_path("ad_insights_daily", "act_2", DAY)
    _kill(_stalled(procs, STALLED_LAKE_WRITE, str(lake.root), str(dead), "1"))
    _stalled(procs, STALLED_LAKE_WRITE, str(lake.root), str(alive), "2")
    (dead_temp,) = _temps(dead.parent)
    (alive_temp,) = _temps(alive.parent)
    # What a writer of an earlier version left (mkstemp, no lock) counts as dead too.
    older = dead.parent / ".data.parquet.k3j9x_2a.tmp"
    older.write_bytes(b"half")

    removed = lake.sweep()

    assert sorted(p.name for p in removed) == sorted([dead_temp, older.name])
    assert _temps(dead.parent) == []
    assert _temps(alive.parent) == [alive_temp]


def test_a_write_that_fails_leaves_no_temp_file_and_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    atomic.write_bytes(target, b"old")

    def half_then_fail() -> None:
        with atomic.replacing(target) as handle:
            handle.write(b"half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        half_then_fail()
    assert target.read_bytes() == b"old"
    assert _temps(tmp_path) == []


# -- file modes follow the umask; the token store stays private ---------------------------


@pytest.mark.parametrize(
    ("umask", "shared"),
    [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664), (0o077, 0o600)],
    ids=["022", "027", "002", "077"],
)
def test_lake_and_marts_files_follow_the_umask_and_the_token_store_stays_0600(
    tmp_path: Path, umask: int, shared: int
) -> None:
    proc = _python(WRITE_UNDER_UMASK, f"{umask:o}", str(tmp_path))
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err

    def mode(path: Path) -> int:
        return path.stat().st_mode & 0o777

    lake_files = sorted((tmp_path / "lake").rglob("*.parquet"))
    assert len(lake_files) == 2
    assert {p.name: oct(mode(p)) for p in lake_files} == {p.name: oct(shared) for p in lake_files}
    assert oct(mode(tmp_path / "marts.duckdb")) == oct(shared)
    assert oct(mode(tmp_path / "tokens.enc")) == oct(0o600)
    assert _temps(tmp_path) == []


def test_the_token_store_is_0600_even_under_an_open_umask(tmp_path: Path) -> None:
    proc = _python(WRITE_UNDER_UMASK, "000", str(tmp_path))
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert oct((tmp_path / "tokens.enc").stat().st_mode & 0o777) == oct(0o600)
    assert oct((tmp_path / "marts.duckdb").stat().st_mode & 0o777) == oct(0o666)


def test_writes_succeed_while_another_thread_sweeps_their_directory_nonstop(
    tmp_path: Path,
) -> None:
    """The windows between create and lock and between lock release and rename are
    closed: a sweep racing every step of a write never removes a file still in use."""
    target = tmp_path / "data.parquet"
    stop = threading.Event()
    swept: list[Path] = []

    def sweep() -> None:
        while not stop.is_set():
            swept.extend(atomic.sweep_stale_temp_files(tmp_path))

    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    try:
        for i in range(300):
            atomic.write_bytes(target, str(i).encode())
    finally:
        stop.set()
        sweeper.join()
    assert target.read_bytes() == b"299"
    assert _temps(tmp_path) == []  # swept: fresh files it won before their writer locked them

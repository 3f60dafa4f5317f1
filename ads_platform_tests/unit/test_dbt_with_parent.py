"""dbt started through ``ads_platform/dbt_with_parent.py`` dies with the process that started it.

Real processes: a parent Python starts the wrapper (which becomes a stand-in dbt that
sleeps), the test kills the parent with SIGKILL and watches the child.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ads_platform import dbt_with_parent

WRAPPER = Path(dbt_with_parent.__file__)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG")


def fake_dbt(tmp_path: Path, body: str) -> Path:
    """A stand-in for the dbt executable (a shell script)."""
    path = tmp_path / "dbt"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in {"Z", "X"}


def wait_until(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


PARENT = """
import os, subprocess, sys, time
env = dict(os.environ, ADS_PLATFORM_DBT_PARENT_PID=str(os.getpid()))
child = subprocess.Popen([sys.argv[1], "build"], env=env)
print(child.pid, flush=True)
time.sleep(120)
"""


def test_dbt_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    dbt = fake_dbt(tmp_path, "exec sleep 120")
    env = {**os.environ, dbt_with_parent.DBT_EXECUTABLE_ENV: str(dbt)}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(WRAPPER)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        assert wait_until(lambda: "sleep" in Path(f"/proc/{child}/cmdline").read_text(), 10)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert wait_until(lambda: not running(child), 5), "dbt outlived the process that started it"
    finally:
        if running(child):
            os.kill(child, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()


def test_dbt_is_not_started_when_its_parent_is_already_gone(tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    dbt = fake_dbt(tmp_path, f"touch {ran}")
    env = {
        **os.environ,
        dbt_with_parent.DBT_EXECUTABLE_ENV: str(dbt),
        # Not our parent: as if the process that asked for dbt died before the prctl.
        dbt_with_parent.PARENT_PID_ENV: "1",
    }
    result = subprocess.run([str(WRAPPER), "build"], env=env, capture_output=True, text=True)
    assert result.returncode == dbt_with_parent.EXIT_ORPHANED
    assert "already exited" in result.stderr
    assert not ran.exists()


def test_the_wrapper_becomes_dbt_with_its_arguments_and_exit_code(tmp_path: Path) -> None:
    args = tmp_path / "args"
    dbt = fake_dbt(tmp_path, f'echo "$$ $*" > {args}; exit 3')
    env = {
        **os.environ,
        dbt_with_parent.DBT_EXECUTABLE_ENV: str(dbt),
        dbt_with_parent.PARENT_PID_ENV: str(os.getpid()),
    }
    process = subprocess.Popen([str(WRAPPER), "build", "--select", "fqn:*"], env=env)
    assert process.wait() == 3
    pid, rest = args.read_text().strip().split(" ", 1)
    assert int(pid) == process.pid  # exec'd: dagster-dbt's SIGINT on cancel reaches dbt itself
    assert rest == "build --select fqn:*"


def test_the_marts_resource_runs_dbt_through_the_wrapper() -> None:
    from ads_platform.assets.marts import dbt_resource

    assert os.access(WRAPPER, os.X_OK), "dbt_with_parent.py lost its executable bit"
    assert dbt_resource().dbt_executable == str(WRAPPER)


def test_dbt_runs_in_the_build_databases_directory_with_a_relative_name() -> None:
    env = {dbt_with_parent.BUILD_DB_ENV: "/srv/agency/warehouse/marts.duckdb", "OTHER": "x"}
    assert dbt_with_parent.in_build_directory(env) == "/srv/agency/warehouse"
    assert env == {dbt_with_parent.BUILD_DB_ENV: "marts.duckdb", "OTHER": "x"}
    # A name already relative (or none) is left to the caller's working directory.
    relative = {dbt_with_parent.BUILD_DB_ENV: "marts.duckdb"}
    assert dbt_with_parent.in_build_directory(relative) is None
    assert relative == {dbt_with_parent.BUILD_DB_ENV: "marts.duckdb"}
    assert dbt_with_parent.in_build_directory({}) is None


def test_the_wrapper_starts_dbt_in_that_directory_with_that_name(tmp_path: Path) -> None:
    dbt = fake_dbt(tmp_path, 'echo "$(pwd) $ADS_PLATFORM_DBT_DB"')
    warehouse = tmp_path / "home" / "warehouse"
    warehouse.mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, str(WRAPPER), "build"],
        env={
            **os.environ,
            dbt_with_parent.DBT_EXECUTABLE_ENV: str(dbt),
            dbt_with_parent.BUILD_DB_ENV: str(warehouse / "marts.duckdb"),
        },
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.split() == [str(warehouse), "marts.duckdb"]


def test_only_dbt_cores_console_script_is_run_in_its_own_python(tmp_path: Path) -> None:
    script = tmp_path / "dbt"
    script.write_text(f"#!{sys.executable}\nimport sys\n{dbt_with_parent.DBT_CLI_IMPORT}\n")
    assert dbt_with_parent.console_script_python(str(script)) == sys.executable
    # A shell script, a Python script that is not dbt's, a missing file: exec'd as they are.
    assert dbt_with_parent.console_script_python(str(fake_dbt(tmp_path, "exit 0"))) is None
    script.write_text(f"#!{sys.executable}\nprint('not dbt')\n")
    assert dbt_with_parent.console_script_python(str(script)) is None
    assert dbt_with_parent.console_script_python(str(tmp_path / "absent")) is None


FAKE_DBT_CLI = """
import atexit, sys
atexit.register(lambda: print("exit handlers ran", flush=True))
def cli(args, prog_name):
    print("dbt", *args, flush=True)
    raise SystemExit(int(args[0]))
"""

RUN_HERE = """
import sys
from ads_platform import dbt_with_parent
code = dbt_with_parent.run_dbt_then_exit(sys.argv[1:], {"ADS_PLATFORM_DBT_DB": "marts.duckdb"})
print("returned", code, flush=True)
"""


@pytest.mark.parametrize("wal", [False, True])
def test_dbt_run_here_ends_after_its_exit_handlers_unless_the_database_is_open(
    tmp_path: Path, wal: bool
) -> None:
    """The exit handlers run (dbt-duckdb checkpoints the build database in one); then the
    process ends with dbt's code, or, if DuckDB's write-ahead log is still there, returns
    so the interpreter's normal teardown can close the database."""
    fake = tmp_path / "fake" / "dbt" / "cli"
    fake.mkdir(parents=True)
    for package in (fake.parent, fake):
        (package / "__init__.py").write_text("")
    (fake / "main.py").write_text(FAKE_DBT_CLI)
    if wal:
        (tmp_path / "marts.duckdb.wal").write_text("")
    root = str(Path(dbt_with_parent.__file__).parents[1])
    done = subprocess.run(
        [sys.executable, "-c", RUN_HERE, "3", "build"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "fake"), root])},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.splitlines()[:2] == ["dbt 3 build", "exit handlers ran"]
    assert ("returned 3" in done.stdout) is wal
    assert done.returncode == (0 if wal else 3)


def test_the_wrapper_runs_the_real_dbt_with_its_exit_code() -> None:
    dbt = Path(sys.executable).with_name("dbt")
    env = {**os.environ, dbt_with_parent.DBT_EXECUTABLE_ENV: str(dbt)}
    env.pop(dbt_with_parent.PARENT_PID_ENV, None)
    assert dbt_with_parent.console_script_python(str(dbt)) is not None
    usage = subprocess.run(
        [str(WRAPPER), "--no-such-flag"], env=env, capture_output=True, text=True, timeout=120
    )
    assert usage.returncode == 2, usage.stderr
    assert "No such option" in usage.stderr
    helped = subprocess.run(
        [str(WRAPPER), "--help"], env=env, capture_output=True, text=True, timeout=120
    )
    assert helped.returncode == 0, helped.stderr
    assert "Usage: dbt" in helped.stdout

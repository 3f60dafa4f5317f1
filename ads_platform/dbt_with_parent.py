#!/usr/bin/env python3
"""Run dbt so that it dies with the process that started it.

dagster-dbt starts ``dbt`` with ``subprocess.Popen`` from the run worker.  When the run
worker is killed (``kill -9``, the OOM killer, a crashed machine agent), nothing runs in
it any more, so no handler can stop its dbt child: dbt went on running orphaned and kept
DuckDB's write lock on the build database, and the next marts build could not open it.
On Linux the kernel can do it instead: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` asks for a
SIGKILL when the parent goes away, however it goes away.  That attribute survives
``exec``, so this script sets it and then *becomes* dbt (``os.execv``: same pid, same
pipes; dagster-dbt's SIGINT on a run cancel still reaches dbt).

``DbtCliResource(dbt_executable=<this file>)`` (:func:`ads_platform.assets.marts.dbt_resource`)
runs every dbt invocation through it.  Two variables from the caller:

* ``ADS_PLATFORM_DBT_EXECUTABLE`` - the real dbt (default: ``dbt`` beside this Python,
  else on ``PATH``);
* ``ADS_PLATFORM_DBT_PARENT_PID`` - the pid of the process that starts dbt.  If the parent
  died between ``fork`` and the ``prctl`` (the death signal would then never come), the
  parent pid no longer matches and this script exits instead of running dbt orphaned.

Why "the *thread* that forked" does not bite: Linux sends the signal when the thread that
created the child exits.  The marts asset starts dbt from its step thread and waits for
it there, so that thread outlives dbt unless the whole process dies.

It also runs dbt *in the build database's directory* (:func:`in_build_directory`): dbt
keys its partial parse on the rendered profile, and the profile holds the database path,
so with an absolute path every home (each test, each fresh install) parsed the whole
project again, ~4 s of CPU per dbt run.  Named relative to its directory, the profile is
the same everywhere and the parse shipped in ``dbt_project/target`` is reused.

It also skips the interpreter's teardown once dbt is done (:func:`run_dbt_then_exit`).
When dbt has printed its last line, everything it must leave is written (the artifacts,
the log, the build database checkpointed and closed by dbt-duckdb's exit handler), yet a
normal exit then spends ~0.6 s freeing the parsed project object by object: a tenth of
an incremental marts build's dbt time, during which the run waits for the exit code.
So when the real dbt is a Python console script of dbt-core, this script becomes that
script's Python and runs dbt's command line itself: the exit handlers run (so nothing
above is lost), then ``os._exit``, as a forked ``multiprocessing`` child ends.  If the
build database's write-ahead log is still there after the handlers (a connection left
open), it exits normally instead, so DuckDB checkpoints before the publish copies the
file.  Any other dbt (a shell script, a binary) is exec'd as before.

Standard library only (until it has become dbt's Python): the shebang may pick a Python
that is not the platform's venv; the real dbt (a console script of the venv) brings its
own interpreter.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import signal
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path

DBT_EXECUTABLE_ENV = "ADS_PLATFORM_DBT_EXECUTABLE"
PARENT_PID_ENV = "ADS_PLATFORM_DBT_PARENT_PID"
#: Set by this script when it re-runs itself in dbt's Python to run dbt there.
RUN_DBT_HERE_ENV = "ADS_PLATFORM_DBT_RUN_HERE"
#: What a dbt-core console script imports (pip's and uv's generated scripts).
DBT_CLI_IMPORT = "from dbt.cli.main import cli"
#: The build database dbt writes (``dbt_project/profiles.yml``); the caller sets it absolute.
BUILD_DB_ENV = "ADS_PLATFORM_DBT_DB"
#: <linux/prctl.h>
PR_SET_PDEATHSIG = 1
#: What ``exec`` failures exit with, like a shell's "command not found".
EXIT_NOT_FOUND = 127
#: The parent was already gone: dbt was not started.
EXIT_ORPHANED = 75


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent exits.

    Returns False where that is not available (not Linux, no libc): dbt then runs as it
    always did, and an orphaned dbt holds the build database until it finishes.
    """
    if not sys.platform.startswith("linux"):
        return False
    libc_name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
    except OSError:
        return False
    return int(libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0


def real_dbt(environ: Mapping[str, str] = os.environ) -> str | None:
    """The dbt to run: the variable, else the dbt beside this Python, else the PATH one."""
    named = environ.get(DBT_EXECUTABLE_ENV)
    if named:
        return named
    beside = Path(sys.executable).with_name("dbt")
    if beside.exists():
        return str(beside)
    return shutil.which("dbt")


def parent_is_gone(expected: str | None) -> bool:
    """True when the caller said who the parent is and it is no longer our parent."""
    if not expected:
        return False
    try:
        return int(expected) != os.getppid()
    except ValueError:
        return False


def in_build_directory(environ: MutableMapping[str, str]) -> str | None:
    """Name the build database relative to its directory; return that directory.

    dbt must then run in that directory.  Only the dbt process sees the relative name:
    its caller keeps the absolute path (dagster-dbt reads row counts in the caller's
    process through the same profile).  A relative or missing path is left as it is.
    """
    path = environ.get(BUILD_DB_ENV, "")
    if not os.path.isabs(path):
        return None
    environ[BUILD_DB_ENV] = os.path.basename(path)
    return os.path.dirname(path)


def console_script_python(dbt: str) -> str | None:
    """The Python of ``dbt`` if it is dbt-core's console script (``#!<python>`` and the
    import of dbt's command line), else None: then it is exec'd as it is."""
    try:
        with open(dbt, "rb") as script:
            head = script.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return None
    first, _, rest = head.partition("\n")
    python = first[2:].strip() if first.startswith("#!") else ""
    if not os.path.isabs(python) or " " in python or DBT_CLI_IMPORT not in rest:
        return None
    return python if os.access(python, os.X_OK) else None


def run_dbt_then_exit(argv: list[str], environ: Mapping[str, str] = os.environ) -> int:
    """Run dbt's command line in this process; end it without the interpreter's teardown.

    Called in dbt's own Python (see the module).  Returns only when the teardown must
    run after all (the build database's write-ahead log is still there).
    """
    import atexit

    # Run as a script, this file's folder (the ads_platform package) heads sys.path: its
    # modules must not shadow what dbt imports.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    database = environ.get(BUILD_DB_ENV, "")
    wal = os.path.abspath(database + ".wal") if database else ""

    from dbt.cli.main import cli

    code: int = 0
    try:
        cli(args=argv, prog_name="dbt")  # click: always ends with SystemExit
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    # dbt-duckdb closes (checkpoints) the database here; logging flushes dbt.log.
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    if wal and os.path.exists(wal):
        return code
    os._exit(code)


def main(argv: list[str]) -> int:
    if os.environ.pop(RUN_DBT_HERE_ENV, "") == "1":
        return run_dbt_then_exit(argv)
    die_with_parent()
    if parent_is_gone(os.environ.get(PARENT_PID_ENV)):
        print("dbt not started: the process that asked for it has already exited", file=sys.stderr)
        return EXIT_ORPHANED
    dbt = real_dbt()
    if dbt is None:
        print(
            f"dbt not found: set {DBT_EXECUTABLE_ENV} to the dbt executable "
            "(pip install dbt-core dbt-duckdb)",
            file=sys.stderr,
        )
        return EXIT_NOT_FOUND
    directory = in_build_directory(os.environ)
    if directory is not None:
        os.chdir(directory)
    python = console_script_python(dbt)
    try:
        if python is not None:
            os.environ[RUN_DBT_HERE_ENV] = "1"
            os.execv(python, [python, os.path.abspath(__file__), *argv])  # noqa: S606
        os.execv(dbt, [dbt, *argv])  # noqa: S606 - becoming dbt is the point
    except OSError as exc:
        print(f"cannot run dbt at {dbt}: {exc}", file=sys.stderr)
    return EXIT_NOT_FOUND


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

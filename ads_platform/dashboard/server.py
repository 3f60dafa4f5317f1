"""Starting the dashboard: ``ads-platform dashboard`` runs Streamlit on the app.

No Streamlit import here: the CLI, ``ads-platform dev``, the tests and the load script
build the same command line.  Streamlit's options are given on the command line, so the
repository's working directory and the user's ``~/.streamlit`` cannot change them:

* loopback by default, no browser opened, no usage statistics (the product runs
  offline), no file watcher (nobody edits the app on a server), no developer menu;
* the marts path travels in :data:`MARTS_ENV`, read by the app on every run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

#: The published marts file the app reads (set by ``ads-platform dashboard``).
MARTS_ENV = "ADS_PLATFORM_DASHBOARD_MARTS"
APP_PATH = Path(__file__).resolve().parent / "app.py"
DEFAULT_PORT = 8501
DEFAULT_HOST = "127.0.0.1"


def streamlit_command(port: int = DEFAULT_PORT, host: str = DEFAULT_HOST) -> list[str]:
    """The command line that serves the dashboard (with this interpreter's Streamlit)."""
    options = {
        "server.port": str(port),
        "server.address": host,
        "server.headless": "true",
        "server.fileWatcherType": "none",
        "server.runOnSave": "false",
        "browser.gatherUsageStats": "false",
        "global.developmentMode": "false",
        "client.toolbarMode": "viewer",
        "client.showErrorDetails": "type",
        "theme.base": "light",
    }
    command = [sys.executable, "-m", "streamlit", "run", str(APP_PATH)]
    for name, value in options.items():
        command += [f"--{name}", value]
    return command


def dashboard_env(marts: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the Streamlit process: the marts path, absolute."""
    env = dict(os.environ if base is None else base)
    env[MARTS_ENV] = str(Path(marts).resolve())
    return env


def dashboard_url(port: int = DEFAULT_PORT, host: str = DEFAULT_HOST) -> str:
    return f"http://{host}:{port}"


@contextmanager
def serve_in_background(
    marts: Path, port: int = DEFAULT_PORT, host: str = DEFAULT_HOST
) -> Iterator[subprocess.Popen[bytes]]:
    """The dashboard as a child process (``ads-platform dev``), stopped on exit."""
    process = subprocess.Popen(
        streamlit_command(port, host),
        env=dashboard_env(marts),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

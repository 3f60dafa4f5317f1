"""Importing the platform does no work: no settings read, no ``dbt parse``, no process."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import ads_platform

ROOT = Path(ads_platform.__file__).resolve().parents[1]


#: The libraries the platform imports (their own import-time work is not the platform's).
LIBRARIES = [
    "altair",
    "click",
    "cryptography",
    "dagster",
    "dagster_dbt",
    "dagster_postgres",
    "duckdb",
    "httpx",
    "pandas",
    "pandera.pandas",
    "pyarrow",
    "pyarrow.parquet",
    "streamlit",
    "tenacity",
    "yaml",
]


def platform_modules() -> list[str]:
    """Every module of the package (``__main__`` scripts are run, not imported)."""
    return sorted(
        m.name
        for m in pkgutil.walk_packages(ads_platform.__path__, "ads_platform.")
        if not m.name.endswith("__main__")
    )


_WATCHER = textwrap.dedent(
    """
    import importlib, json, os, sys

    # Third-party libraries may do their own work when imported (one runs `file` on the
    # interpreter): imported first, so what is seen below is the platform's.
    for library in json.loads(sys.argv[2]):
        importlib.import_module(library)
    settings = os.environ["ADS_PLATFORM_CONFIG"]
    seen = []

    def hook(event, args):
        if event == "open" and args and isinstance(args[0], (str, bytes)):
            path = os.fsdecode(args[0])
            if path == settings or "/dbt_project/models/" in path or path.endswith(
                "manifest.json"
            ):
                seen.append([event, path])
        elif event in ("subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.fork"):
            seen.append([event, repr(args)[:200]])

    sys.addaudithook(hook)
    for name in json.loads(sys.argv[1]):
        importlib.import_module(name)
    print(json.dumps(seen))
    """
)


def test_importing_every_module_reads_no_settings_parses_no_dbt_and_starts_no_process(
    tmp_path: Path,
) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("ingestion:\n  start_date: 2026-01-01\n")
    env = {
        **os.environ,
        "ADS_PLATFORM_CONFIG": str(config),
        "ADS_PLATFORM_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(ROOT),
    }
    modules = platform_modules()
    assert "ads_platform.definitions" in modules and "ads_platform.assets.marts" in modules
    done = subprocess.run(
        [sys.executable, "-c", _WATCHER, json.dumps(modules), json.dumps(LIBRARIES)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_watcher_sees_a_settings_read_and_a_process(tmp_path: Path) -> None:
    """The test above can fail: the same watcher catches both kinds of work."""
    config = tmp_path / "settings.yaml"
    config.write_text("ingestion:\n  start_date: 2026-01-01\n")
    probe = tmp_path / "probe_module.py"
    probe.write_text(
        "import subprocess\n"
        "from ads_platform.settings import load_settings\n"
        "load_settings(require_tokens=False)\n"
        "subprocess.run(['true'], check=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", _WATCHER, json.dumps(["probe_module"]), json.dumps(LIBRARIES)],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "ADS_PLATFORM_CONFIG": str(config),
            "PYTHONPATH": f"{tmp_path}:{ROOT}",
        },
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    events = {event for event, _ in json.loads(done.stdout.strip().splitlines()[-1])}
    assert events == {"open", "subprocess.Popen"}

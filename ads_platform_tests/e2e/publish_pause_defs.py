"""The platform's definitions, with a pause in the middle of the marts publish (tests only).

Killing a run worker "during the publish" by timing alone is a race: copying a small
build database takes milliseconds.  This module is the code location of such a test
(loaded by the code server like ``workspace.yaml`` loads ``ads_platform.definitions``,
and imported again by every run worker it starts), and makes the publish observable:

When ``$ADS_PLATFORM_TEST_PUBLISH_PAUSE`` names a marker path (set before the code
server starts) and ``<marker>.armed`` exists, the first publish that finds it claims it
(deletes it), copies *half* of the build database into the publish's temporary file,
fsyncs it, writes the marker (JSON: worker pid, temp file, bytes copied, build size) and
waits to be killed.  Every later publish copies normally.  Nothing else changes.

It hooks ``shutil.copyfileobj`` as :func:`ads_platform.warehouse.publish_marts` calls it;
if the publish stops copying that way the marker never appears and the test fails
saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import IO, Any

from ads_platform import warehouse
from ads_platform_tests.platform_defs import defs

PAUSE_ENV = "ADS_PLATFORM_TEST_PUBLISH_PAUSE"
#: Longer than any test waits: the test kills the worker long before.
PAUSE_SECONDS = 600


def arm(marker: Path) -> None:
    """Make the next publish pause half-way (see the module docstring)."""
    Path(f"{marker}.armed").touch()


class _PausingShutil:
    """``shutil`` for the warehouse module, with a copy that stops half-way once."""

    def __getattr__(self, name: str) -> Any:
        return getattr(shutil, name)

    @staticmethod
    def copyfileobj(fsrc: IO[bytes], fdst: IO[bytes], length: int = 0) -> None:
        marker = os.environ[PAUSE_ENV]
        try:
            os.unlink(f"{marker}.armed")  # claim it: only one publish pauses
        except FileNotFoundError:
            shutil.copyfileobj(fsrc, fdst, length)
            return
        data = fsrc.read()
        half = len(data) // 2
        fdst.write(data[:half])
        fdst.flush()
        os.fsync(fdst.fileno())
        temp = os.readlink(f"/proc/self/fd/{fdst.fileno()}")
        info = {"pid": os.getpid(), "temp": temp, "copied": half, "size": len(data)}
        Path(marker).write_text(json.dumps(info))
        time.sleep(PAUSE_SECONDS)
        raise RuntimeError("the test was to kill this run worker during the publish")


# Only where the test asked for it (the code server and its run workers inherit the
# variable): a test session that merely imports this module keeps the real copy.
if os.environ.get(PAUSE_ENV):
    warehouse.shutil = _PausingShutil()  # type: ignore[assignment]

__all__ = ["PAUSE_ENV", "arm", "defs"]

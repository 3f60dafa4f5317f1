"""Atomic file replacement: write a temporary file beside the target, fsync, rename.

Every file the platform writes (lake partitions, the encrypted token store, alert
state, the published marts) must be seen whole or not at all by readers and must
survive a killed process: a crash leaves the old file or the new one, never half.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def replacing(path: Path, mode: int | None = None) -> Iterator[BinaryIO]:
    """Yield a binary handle; on success its content atomically replaces ``path``.

    On any exception the temporary file is removed and ``path`` is untouched.  A
    process killed mid-write leaves at most a hidden ``.<name>.*.tmp`` file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_dir(path.parent)


def write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    with replacing(path, mode) as handle:
        handle.write(data)


def write_with(path: Path, writer: Callable[[BinaryIO], None], mode: int | None = None) -> None:
    with replacing(path, mode) as handle:
        writer(handle)


def fsync_dir(directory: Path) -> None:
    """Make a rename durable; not every filesystem can fsync a directory."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

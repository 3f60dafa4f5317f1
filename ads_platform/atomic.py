"""Atomic file replacement: write a temporary file beside the target, fsync, rename.

Every file the platform writes (lake partitions, the encrypted token store, alert
state, the published marts) must be seen whole or not at all by readers and must
survive a killed process: a crash leaves the old file or the new one, never half.

File modes: a new file gets ``0o666`` filtered by the process umask (and the directory's
default ACL), exactly like ``open(path, "w")``, so a BI tool or dashboard running as
another user can read the lake and the marts when the umask allows it (``022`` →
``0644``, ``027`` → ``0640``).  The kernel applies the umask when the temporary file is
created with ``os.open(..., 0o666)``: the umask is never read, so there is no
thread-unsafe ``os.umask()`` set-and-restore.  ``tempfile.mkstemp`` is not used because
it always creates ``0600``.  A caller that needs a fixed mode (the token store: ``0600``
whatever the umask) passes ``mode``; the file is then created with that mode, never
wider, and set to exactly it.

Temporary files of killed writers (``.<name>.<random>.tmp``) are swept, and a sweep
can never delete a live writer's file: the writer holds an exclusive ``flock`` on its
temporary file from creation until after the rename, and
:func:`sweep_stale_temp_files` removes only the temporary files it can lock without
waiting.  The kernel drops a process's locks when it dies (SIGKILL and OOM included),
so "lockable" means exactly "its writer is gone", with no clock, no PID reuse and no
guess about how long a write may take (a PID-and-start-time name would need both, plus
``/proc`` parsing).  The remaining race is closed on both sides: a writer that finds its
fresh file unlinked by a sweep that locked it first simply takes a new name, and a
sweeper removes a file only while holding its lock and only if the name still refers to
the locked file (a finished writer's file has been renamed to the target by then).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

#: Every temporary file is ``.<target name>.<random>.tmp`` in the target's directory.
TEMP_SUFFIX = ".tmp"
_CREATE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_CREATE_ATTEMPTS = 100


@dataclass
class PendingFile:
    """A locked temporary file that :meth:`commit` renames over ``target``."""

    target: Path
    path: Path
    handle: BinaryIO
    committed: bool = field(default=False, init=False)

    def sync(self) -> None:
        """Flush and fsync the content (before reading it back through another handle)."""
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def commit(self) -> None:
        """fsync, rename over the target, fsync the directory.  The lock is still held."""
        self.sync()
        os.replace(self.path, self.target)
        self.committed = True
        fsync_dir(self.target.parent)


@contextlib.contextmanager
def pending(path: Path, mode: int | None = None) -> Iterator[PendingFile]:
    """A temporary file beside ``path`` that replaces it on :meth:`PendingFile.commit`.

    Temporary files that dead writers of the same target left behind are removed
    first.  Leaving the block without a commit (an exception, or no commit call)
    removes the temporary file and leaves ``path`` untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temp_files(path.parent, path.name)
    fd, tmp = _create_locked_temp(path, mode)
    pending_file = PendingFile(path, tmp, os.fdopen(fd, "wb"))
    try:
        with pending_file.handle:  # closing it releases the lock: only after the rename
            yield pending_file
    finally:
        if not pending_file.committed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


@contextlib.contextmanager
def replacing(path: Path, mode: int | None = None) -> Iterator[BinaryIO]:
    """Yield a binary handle; on success its content atomically replaces ``path``.

    On any exception the temporary file is removed and ``path`` is untouched.  A
    process killed mid-write leaves at most a hidden ``.<name>.*.tmp`` file, which the
    next write of the same file (or :func:`sweep_stale_temp_files`) removes.
    """
    with pending(path, mode) as tmp:
        yield tmp.handle
        tmp.commit()


def write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    with replacing(path, mode) as handle:
        handle.write(data)


def fsync_dir(directory: Path) -> None:
    """Make a rename durable; not every filesystem can fsync a directory."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def temp_prefix(target_name: str) -> str:
    """How the temporary files of ``target_name`` begin (they end with ``.tmp``)."""
    return f".{target_name}."


def _create_locked_temp(path: Path, mode: int | None) -> tuple[int, Path]:
    """Create and exclusively lock a new temporary file beside ``path``.

    ``0o666`` lets the kernel apply the umask; an explicit ``mode`` is used at creation
    (never wider) and then set exactly (the umask may have narrowed it).
    """
    for _ in range(_CREATE_ATTEMPTS):
        tmp = path.with_name(f"{temp_prefix(path.name)}{secrets.token_hex(6)}{TEMP_SUFFIX}")
        try:
            fd = os.open(tmp, _CREATE_FLAGS, 0o666 if mode is None else mode)
        except FileExistsError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _names_file(tmp, fd):
                if mode is not None:
                    os.fchmod(fd, mode)
                return fd, tmp
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        os.close(fd)  # a sweep locked and removed it before we could: take another name
    raise FileExistsError(f"could not create a temporary file beside {path}")


def _names_file(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _is_temp_name(name: str, prefix: str) -> bool:
    return (
        name.startswith(prefix)
        and name.endswith(TEMP_SUFFIX)
        and len(name) > len(prefix) + len(TEMP_SUFFIX)
    )


def sweep_stale_temp_files(directory: Path, target_name: str | None = None) -> list[Path]:
    """Remove the temporary files of dead writers from ``directory``; return them.

    Only hidden ``*.tmp`` files are candidates (of ``target_name`` when given, else of
    any target), and of those only the ones nobody holds a lock on (module docstring):
    a live writer's file, in this process or another, is never touched.  Temporary
    files of earlier versions (``mkstemp``, no lock) count as abandoned.
    """
    prefix = temp_prefix(target_name) if target_name else "."
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = [
        Path(entry.path)
        for entry in entries
        if _is_temp_name(entry.name, prefix)
        and entry.is_file(follow_symlinks=False)
        and _remove_if_abandoned(Path(entry.path))
    ]
    if removed:
        fsync_dir(Path(directory))
    return removed


def _remove_if_abandoned(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:  # gone meanwhile (renamed into place), or not ours to open
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by a live writer
            return False
        if not _names_file(path, fd):
            return False
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True
    finally:
        os.close(fd)

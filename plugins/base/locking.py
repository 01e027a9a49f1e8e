"""One process at a time on a shared resource (a site folder, a send ledger), with an flock.

The kernel releases an flock when its process ends, even by kill -9, so a crashed run never
blocks the next one and no stale lock file has to be cleaned by hand.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO


class Busy(Exception):
    """Another process holds the lock."""


class FileLock:
    def __init__(self, path: Path):
        self.path = path
        self.handle: IO[str] | None = None

    def acquire(self, wait: bool = False, on_wait: Callable[[], None] = lambda: None) -> None:
        """Take the lock; raise Busy if it is held elsewhere and wait is False, else call on_wait and block."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                handle.close()
                raise Busy(str(self.path)) from None
            on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        self.handle = handle

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()  # closing the file releases the flock
            self.handle = None

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def private_file(path: Path) -> None:
    """Create path readable by its owner only (0600, whatever the umask), or take « others » off an existing one.

    For the files of personal data (the service's store, the send ledger): SQLite gives its -wal
    and -shm files the database file's own permissions, so they follow.
    """
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.chmod(path, 0o600)
        return
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:  # SQLite removes -wal and -shm when another process closes the store's last connection: any time
            mode = part.stat().st_mode
            if mode & 0o007:
                os.chmod(part, mode & 0o770)
        except FileNotFoundError:
            continue


def private_text(path: Path, text: str) -> None:
    """Write a text file of personal data (a CSV export) readable by its owner only, whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
        out.write(text)

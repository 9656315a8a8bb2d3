"""Keeping an SQLite database file usable in a folder that others (people, disks, other processes) touch: a file
that was deleted or replaced is noticed and prepared again, a file that is no database any more is set aside for
a look and started afresh, two processes preparing a new file take turns, and a full disk is told apart from
other I/O errors.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``, or None when there is none: a changed identity means the file
    was deleted or replaced since it was last prepared."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``<database>.lock``, held while the schema is created or a bad file set aside:
    sqlite's own busy wait does not cover the switch to WAL, so two creators would fail without it."""
    try:
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # a read-only folder: nothing can be created there, and sqlite will say so
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def set_aside(path: Path, why: sqlite3.DatabaseError) -> None:
    """Move a file that is no database (overwritten, truncated, corrupted) aside as ``<name>.corrupt-<time>``,
    kept for a look, so that a new one can start in its place."""
    with file_lock(path):
        probe = sqlite3.connect(path)
        try:
            probe.execute("SELECT 1 FROM sqlite_master").fetchone()
            return  # another process set it aside already
        except sqlite3.DatabaseError:
            pass
        finally:
            probe.close()
        aside = path.with_name(f"{path.name}.corrupt-{time.time():.0f}")
        os.replace(path, aside)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    print(f"augviz: {path} was not a usable database ({why}); it was moved to {aside} and a new one started",
          file=sys.stderr)


def is_full(e: BaseException, folder: Path) -> bool:
    """Whether an error comes from a full disk: SQLite says so for a write, but opening a database on a full
    disk (its -shm file cannot grow) is only "disk I/O error", so the filesystem is asked too."""
    if "database or disk is full" in str(e) or "No space left on device" in str(e):
        return True
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 1 << 16

"""The SQLite engine, the default: one database file (WAL) under the data directory, shared by the app, its
workers and the CLI on one machine. Every operation opens a short connection, so it is safe across processes;
a connection first checks that the file is still the one it prepared (``healing``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from augviz.errors import DiskFull, StoreError
from augviz.store import healing, migrations
from augviz.store.engine import Connection, Engine


def _dict_row(cursor: sqlite3.Cursor, row: tuple) -> dict[str, Any]:
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


class SQLiteEngine(Engine):
    name = "SQLite"
    id_column = "INTEGER PRIMARY KEY AUTOINCREMENT"
    double = "REAL"  # SQLite's REAL is 8 bytes

    def __init__(self, path: Path, timeout: float) -> None:
        self._path = path
        self.timeout = timeout  # how long to wait for another writer's lock before saying it is locked
        self._prepared: tuple[int, int] | None = None  # (device, inode) of the file whose schema was checked
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"{self.describe()} cannot be opened ({e})") from None

    @property
    def address(self) -> str:
        return str(self._path)

    @property
    def path(self) -> Path:
        return self._path

    def describe(self) -> str:
        return f"the run database at {self._path}"

    def columns(self, db: Connection, table: str) -> set[str]:
        return {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}

    def _prepare(self, db: sqlite3.Connection) -> None:
        # Most opens find the file ready: say so without the write lock, which a process stopped while holding it
        # (SIGSTOP, a debugger) would keep from every other process until it is killed.
        if db.execute("PRAGMA journal_mode").fetchone()["journal_mode"] == "wal" and \
                migrations.version(db, self) >= migrations.LATEST:
            self._prepared = healing.identity(self._path)
            return
        with healing.file_lock(self._path):
            db.execute("PRAGMA journal_mode=WAL")  # stored in the file: switched once, by one process at a time
            db.execute("BEGIN IMMEDIATE")
            try:
                migrations.migrate(db, self)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        self._prepared = healing.identity(self._path)

    def _connect(self) -> sqlite3.Connection:
        for attempt in (1, 2):
            db = sqlite3.connect(self._path, timeout=self.timeout, isolation_level=None)
            db.row_factory = _dict_row
            try:
                db.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
                # WAL's recommended setting: a commit waits for no fsync (the WAL is synced at checkpoints), so a
                # write holds the lock for microseconds, not a disk flush; a crash of the process loses nothing.
                db.execute("PRAGMA synchronous=NORMAL")
                has_runs = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone()
                if not has_runs or healing.identity(self._path) != self._prepared:  # new, deleted or replaced
                    self._prepare(db)
                db.execute("PRAGMA foreign_keys=ON")
                return db
            except sqlite3.DatabaseError as e:
                db.close()
                if isinstance(e, sqlite3.OperationalError) or attempt == 2:
                    raise
                healing.set_aside(self._path, e)  # "file is not a database": start afresh, once
        raise AssertionError("unreachable")

    def _full(self, e: BaseException) -> DiskFull:
        return DiskFull(f"disk full: {self.describe()} cannot be written ({e})")

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        try:
            db = self._connect()
        except (sqlite3.Error, OSError) as e:
            if healing.is_full(e, self._path.parent):
                raise self._full(e) from None
            raise StoreError(f"{self.describe()} cannot be opened ({e})") from None
        try:
            yield _Adapter(db)
        except sqlite3.Error as e:
            if healing.is_full(e, self._path.parent):
                raise self._full(e) from None
            self._prepared = None  # look at the file afresh next time
            hint = " (another process holds it; try again)" if "locked" in str(e) else ""
            raise StoreError(f"{self.describe()} refused the operation: {e}{hint}") from None
        finally:
            db.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """BEGIN IMMEDIATE: the write lock at once, so no other process decides on the queue meanwhile."""
        with self.connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")


class _Adapter:
    """An sqlite3 connection as the store's ``Connection`` (sqlite3 takes ``?`` placeholders as they are)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, args)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.db.executemany(sql, rows)

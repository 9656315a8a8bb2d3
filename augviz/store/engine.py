"""What the store asks of a database engine, so that an engine is one module (``sqlite``, ``postgres``) and the
store's own modules hold no engine's name.

The store writes its SQL once, with ``?`` placeholders and what SQLite and PostgreSQL both accept (``INSERT … ON
CONFLICT DO NOTHING``, ``RETURNING``, window functions); an engine runs it, gives rows as dicts, turns its own
errors into ``StoreError`` / ``DiskFull`` with messages that say where the database is and what to do, and keeps
its file or server in a state the schema's migrations have reached.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol


class Cursor(Protocol):
    """The result of one statement: rows as dicts keyed by column name."""

    rowcount: int

    def fetchone(self) -> dict[str, Any] | None: ...
    def fetchall(self) -> list[dict[str, Any]]: ...
    def __iter__(self) -> Iterator[dict[str, Any]]: ...


class Connection(Protocol):
    """One open connection: statements with ``?`` placeholders."""

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


class Engine(ABC):
    """A database the store can live in."""

    name: str  # for messages: "SQLite", "PostgreSQL"
    #: The column types the schema's migrations write: an auto-numbered primary key and a float of double
    #: precision (PostgreSQL's REAL is single precision, too coarse for a time in seconds since 1970).
    id_column: str
    double: str
    #: Appended to the query that picks the queued run to claim (its ``runs`` aliased ``r``): how this engine
    #: keeps two claimers off one row (SQLite needs nothing: its write transaction locks the whole file).
    row_lock: str = ""

    @property
    @abstractmethod
    def address(self) -> str:
        """What another process passes to ``Store.open`` to reach the same database (never a password)."""

    @property
    @abstractmethod
    def path(self) -> Path:
        """A file on this machine that names the database locally: the launcher's lock and a run's reserve of
        disk space sit beside it (for SQLite, the database file itself)."""

    @abstractmethod
    def describe(self) -> str:
        """The database, for messages: "the run database at /home/me/.augviz/runs.sqlite"."""

    @abstractmethod
    def connection(self) -> AbstractContextManager[Connection]:
        """A connection whose statements commit one by one, ready for the current schema."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction that holds the queue's lock from its start, so that a read-then-write decision
        (a cap, a claim) holds until it commits; rolled back when the block raises."""

    @abstractmethod
    def columns(self, db: Connection, table: str) -> set[str]:
        """The names of ``table``'s columns (empty when there is no such table)."""

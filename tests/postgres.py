"""A real PostgreSQL 15 server for the store's tests: made with initdb in a temporary folder, started with pg_ctl
on a free loopback port (its unix socket in that folder), stopped and removed at the end of the session.

initdb refuses to run as root, so as root the server runs as the ``postgres`` user of Debian's package. Each test
gets its own schema in one database (cheap, and no test sees another's rows); ``server.url(schema)`` is the
``AUGVIZ_DB`` address that works in it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BIN = Path(os.environ.get("AUGVIZ_PG_BIN", "/usr/lib/postgresql/15/bin"))
DATABASE = "augviz"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One PostgreSQL server in ``folder``, run by ``user`` (None: this process's own). ``durable``: writes are
    flushed to disk as in production (tests turn that off: speed, and nothing there must outlive a crash)."""

    def __init__(self, folder: Path, user: str | None, durable: bool = False) -> None:
        self.folder, self.user, self.durable = folder, user, durable
        self.data = folder / "data"
        self.port = _free_port()

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(BIN / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def pg_ctl(self, action: str) -> None:
        """``start``, ``stop`` or ``restart`` the server, waiting until it has done so."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        args = ["pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-m", "fast", action]
        self._run(*(args if action == "stop" else [*args, "-o", options]))

    def url(self, schema: str | None = None) -> str:
        base = f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"
        return base if schema is None else f"{base}?options=-csearch_path%3D{schema}"

    def sql(self, statement: str) -> None:
        self.sql_on(DATABASE, statement)

    def sql_on(self, database: str, statement: str) -> None:
        """Run one statement in ``database`` (``postgres`` is there from initdb on)."""
        import psycopg

        with psycopg.connect(self.url().replace(f"/{DATABASE}", f"/{database}"), autocommit=True) as conn:
            conn.execute(statement)

    def fresh_schema(self) -> str:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        self.sql(f"CREATE SCHEMA {schema}")
        return schema


@contextmanager
def serving(folder: Path, durable: bool = False) -> Iterator[Server]:
    """A PostgreSQL server with the database ``DATABASE``, its files in ``folder``, stopped on leaving (run as the
    ``postgres`` user when this is root: initdb refuses root)."""
    user = "postgres" if os.geteuid() == 0 else None
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    server = Server(folder, user, durable)
    server.init()
    server.pg_ctl("start")
    try:
        server.sql_on("postgres", f"CREATE DATABASE {DATABASE}")
        yield server
    finally:
        server.pg_ctl("stop")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Server]:
    """The session's PostgreSQL server (skipped where PostgreSQL 15 is not installed)."""
    if not (BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL is not installed at {BIN} (Debian: apt install postgresql-15)")
    folder = Path(tempfile.mkdtemp(prefix="augviz-pg-"))
    try:
        with serving(folder) as server:
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: Server) -> str:
    """An ``AUGVIZ_DB`` address of an empty schema of its own on the session's server."""
    return postgres_server.url(postgres_server.fresh_schema())

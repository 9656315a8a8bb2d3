"""Which engine holds the run store: the SQLite file under ``$AUGVIZ_HOME`` by default, the PostgreSQL database
``$AUGVIZ_DB`` names when it is set, or the database a parent process passed down (``--db``)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from augviz import settings
from augviz.store.postgres import PostgresEngine, without_password
from augviz.store.runs import Store


def default_store() -> Store:
    """The store this process's settings name (a bad ``$AUGVIZ_DB`` is a SettingError)."""
    url = settings.database()
    return Store(settings.home() / "runs.sqlite") if url is None else _postgres(url)


def open_store(address: str) -> Store:
    """The store at ``address``, as ``Store.address`` gave it: a PostgreSQL address or an SQLite file's path."""
    if urlsplit(address).scheme in settings.POSTGRES_SCHEMES:
        # Addresses passed between processes carry no password: the one in $AUGVIZ_DB, for the same database.
        configured = settings.database()
        same = configured is not None and without_password(configured) == address
        return _postgres(configured if same else address)
    return Store(Path(address))


def _postgres(url: str) -> Store:
    return Store(engine=PostgresEngine(url, settings.db_timeout(), settings.home()))

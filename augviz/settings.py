"""The environment settings for runs, each read and checked in one place: a bad value is a SettingError that
names the variable and what it accepts, never a traceback from deep inside.

| variable                      | what it bounds                                         | default          |
|-------------------------------|--------------------------------------------------------|------------------|
| AUGVIZ_HOME                   | where runs, datasets and the run database live         | ./.augviz        |
| AUGVIZ_DB                     | the run database: a postgresql:// address              | SQLite file      |
| AUGVIZ_DB_TIMEOUT             | seconds to wait for another process's database lock    | 30               |
| AUGVIZ_MAX_RUNS               | runs training at once (the rest wait in the queue)     | cores ≤ 4; 2 GPU |
| AUGVIZ_MAX_QUEUED             | runs waiting in the queue, whole server                | 40               |
| AUGVIZ_MAX_QUEUED_PER_VISITOR | runs waiting in the queue, one visitor (or the CLI)    | 20               |
| AUGVIZ_QUEUE_ORDER            | which queued run starts next: fair (round-robin) or fifo | fair           |
| AUGVIZ_STOP_GRACE_S           | seconds a run has to answer Stop before it is killed   | 10               |
| AUGVIZ_RAY_ADDRESS            | run on a Ray cluster: auto, local or the head's        | unset: local     |
|                               | host:port (unset: local worker processes, no Ray)      | processes        |
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from augviz.errors import SettingError

# What a person writing a count or a number of seconds means: plain ASCII digits, no "1_0" (Python's int()
# takes it as 10), no "inf", "nan" or hex float (float() takes them), nothing from other scripts ("²").
_WHOLE = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def home() -> Path:
    """augviz's data directory: ``$AUGVIZ_HOME``, default ``./.augviz``."""
    return Path(os.environ.get("AUGVIZ_HOME", ".augviz")).resolve()


def _number(name: str, default: float, lo: float, hi: float, whole: bool) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    kind = "a whole number" if whole else "a number of seconds"
    if not (_WHOLE if whole else _DECIMAL).fullmatch(raw.strip()):
        raise SettingError(f"{name}={raw[:40]!r} is not {kind} (expected {kind} from {lo:g} to {hi:g})")
    value = int(raw) if whole else float(raw)
    if not math.isfinite(value) or not lo <= value <= hi:
        raise SettingError(f"{name}={raw[:40]!r} is outside the allowed range {lo:g} to {hi:g}")
    return value


POSTGRES_SCHEMES = ("postgresql", "postgres")


def database() -> str | None:
    """``$AUGVIZ_DB``: None (unset or empty) for the SQLite file ``$AUGVIZ_HOME/runs.sqlite``, or the address of
    a PostgreSQL database, ``postgresql://user[:password]@host[:port]/database``."""
    raw = os.environ.get("AUGVIZ_DB", "").strip()
    if not raw:
        return None
    shown = raw.split("@")[-1][:60]  # what a message quotes: never the user's password
    expected = ("expected postgresql://user@host:port/database (psycopg's form, a password in ~/.pgpass or "
                "$PGPASSWORD), or unset for the SQLite file under AUGVIZ_HOME")
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        raise SettingError(f"AUGVIZ_DB=…{shown!r} is not a database address ({expected})") from None
    if parts.scheme not in POSTGRES_SCHEMES:
        raise SettingError(f"AUGVIZ_DB=…{shown!r} is not a PostgreSQL address ({expected})")
    if not parts.path.strip("/"):
        raise SettingError(f"AUGVIZ_DB=…{shown!r} names no database ({expected})")
    return raw


def db_timeout() -> float:
    return _number("AUGVIZ_DB_TIMEOUT", 30.0, 0.0, 3600.0, whole=False)


def max_running(default: int) -> int:
    """``default`` is the machine's own figure (one per core up to 4 on CPU, 2 with a GPU); the variable
    overrides it."""
    return int(_number("AUGVIZ_MAX_RUNS", default, 1, 64, whole=True))


def max_queued() -> int:
    return int(_number("AUGVIZ_MAX_QUEUED", 40, 0, 10_000, whole=True))


def max_queued_per_visitor() -> int:
    """Runs one visitor may have waiting. ``AUGVIZ_MAX_QUEUED_PER_SESSION``, its name when a browser session
    was the unit, is still read when the new name is not set."""
    name = "AUGVIZ_MAX_QUEUED_PER_VISITOR"
    if os.environ.get(name, "").strip() == "" and os.environ.get("AUGVIZ_MAX_QUEUED_PER_SESSION", "").strip():
        name = "AUGVIZ_MAX_QUEUED_PER_SESSION"
    return int(_number(name, 20, 0, 10_000, whole=True))


def queue_order() -> str:
    """``AUGVIZ_QUEUE_ORDER``: "fair" (default; round-robin across visitors) or "fifo" (first come, first served)."""
    raw = os.environ.get("AUGVIZ_QUEUE_ORDER", "").strip().lower()
    if raw in ("", "fair", "fifo"):
        return raw or "fair"
    raise SettingError(f"AUGVIZ_QUEUE_ORDER={raw[:40]!r} is not a queue order (expected fair or fifo)")


def stop_grace_s() -> float:
    return _number("AUGVIZ_STOP_GRACE_S", 10.0, 0.0, 3600.0, whole=False)


# auto: the cluster this machine belongs to (ray start ran here); local: a one-machine Ray the launcher starts;
# host:port: a cluster's GCS address, from one of its nodes. Ray Client (ray://) cannot stream a task's results.
_RAY_ADDRESS = re.compile(r"auto|local|[A-Za-z0-9.-]+:\d{1,5}")


def ray_address() -> str | None:
    """``AUGVIZ_RAY_ADDRESS``: where runs go when set (see the table); None: local worker processes."""
    raw = os.environ.get("AUGVIZ_RAY_ADDRESS")
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip()
    if value.startswith("ray://"):
        raise SettingError(f"AUGVIZ_RAY_ADDRESS={raw[:80]!r}: Ray Client (ray://) cannot stream a run's metrics "
                           "back; make the app's machine a node of the cluster (ray start --address=HEAD:6379) and "
                           "set AUGVIZ_RAY_ADDRESS=auto")
    port = value.rsplit(":", 1)[1] if ":" in value else None
    if not _RAY_ADDRESS.fullmatch(value) or (port is not None and not 1 <= int(port) <= 65535):
        raise SettingError(f"AUGVIZ_RAY_ADDRESS={raw[:80]!r} is not a Ray address (expected auto, local or a "
                           "head's host:port, e.g. 10.0.0.5:6379)")
    return value


NAMES = ("AUGVIZ_DB", "AUGVIZ_DB_TIMEOUT", "AUGVIZ_MAX_RUNS", "AUGVIZ_MAX_QUEUED", "AUGVIZ_MAX_QUEUED_PER_VISITOR",
         "AUGVIZ_MAX_QUEUED_PER_SESSION", "AUGVIZ_QUEUE_ORDER", "AUGVIZ_RAY_ADDRESS",
         "AUGVIZ_STOP_GRACE_S")


def check_all() -> None:
    """Read every setting now, so that a bad one is named when a command starts, not when (or if) a run first
    needs it: SettingError for the first bad one."""
    database()
    db_timeout()
    max_running(1)
    max_queued()
    max_queued_per_visitor()
    queue_order()
    ray_address()
    stop_grace_s()

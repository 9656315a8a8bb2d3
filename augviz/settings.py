"""The environment settings for runs, each read and checked in one place: a bad value is a SettingError that
names the variable and what it accepts, never a traceback from deep inside.

| variable                      | what it bounds                                         | default          |
|-------------------------------|--------------------------------------------------------|------------------|
| AUGVIZ_DB_TIMEOUT             | seconds to wait for another process's database lock    | 30               |
| AUGVIZ_MAX_RUNS               | runs training at once (the rest wait in the queue)     | 1 on CPU, 2 GPU  |
| AUGVIZ_MAX_QUEUED             | runs waiting in the queue, whole server                | 40               |
| AUGVIZ_MAX_QUEUED_PER_SESSION | runs waiting in the queue, one app session or CLI call | 20               |
| AUGVIZ_STOP_GRACE_S           | seconds a run has to answer Stop before it is killed   | 10               |
| AUGVIZ_RAY_ADDRESS            | run on a Ray cluster: auto, local or the head's        | unset: local     |
|                               | host:port (unset: local worker processes, no Ray)      | processes        |
"""

from __future__ import annotations

import math
import os
import re

from augviz.errors import SettingError


def _number(name: str, default: float, lo: float, hi: float, whole: bool) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    kind = "a whole number" if whole else "a number of seconds"
    try:
        # int() and float() accept other scripts' digits ("²" is a digit to str.isdigit, not to int); ASCII only.
        if not raw.strip().isascii():
            raise ValueError
        value = int(raw) if whole else float(raw)
    except ValueError:
        raise SettingError(f"{name}={raw[:40]!r} is not {kind} (expected {kind} from {lo:g} to {hi:g})") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise SettingError(f"{name}={raw[:40]!r} is outside the allowed range {lo:g} to {hi:g}")
    return value


def db_timeout() -> float:
    return _number("AUGVIZ_DB_TIMEOUT", 30.0, 0.0, 3600.0, whole=False)


def max_running(default: int) -> int:
    """``default`` is the machine's own figure (1 on CPU, 2 with a GPU); the variable overrides it."""
    return int(_number("AUGVIZ_MAX_RUNS", default, 1, 64, whole=True))


def max_queued() -> int:
    return int(_number("AUGVIZ_MAX_QUEUED", 40, 0, 10_000, whole=True))


def max_queued_per_session() -> int:
    return int(_number("AUGVIZ_MAX_QUEUED_PER_SESSION", 20, 0, 10_000, whole=True))


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

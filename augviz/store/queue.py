"""The queue's policy: how many runs may wait (admission caps), which queued run starts next (claim order) and
where a queued run stands.

Runs are queued by visitors (``runs.session``: the logged-in user or the client address in the app, ``cli`` for
the command line; no visitor counts as one anonymous visitor). The fair order takes them round-robin: the first
queued run of every visitor before anyone's second, and among those, the visitor served longest ago first. So a
single run waits behind at most one queued run of each other visitor, never behind someone's whole sweep. The
old first-come-first-served order stays available (``AUGVIZ_QUEUE_ORDER=fifo``) for comparison.

Every decision runs inside the engine's queue transaction (``Engine.transaction``), so a count and the write
that depends on it cannot be split by another process.
"""

from __future__ import annotations

import time

from augviz.store.engine import Connection

ORDERS = ("fair", "fifo")
CLI_VISITOR = "cli"  # the command line's runs: one visitor, whoever types them

# Each queued run with its sort keys: its turn among its visitor's queued runs (1 for the oldest), when its
# visitor last had a run start (0: never), and its id (when it was queued).
_RANKED = """
    SELECT q.id,
           ROW_NUMBER() OVER (PARTITION BY COALESCE(q.session, '') ORDER BY q.id) AS turn,
           COALESCE(s.last_start, 0) AS last_start
    FROM runs q LEFT JOIN (SELECT COALESCE(session, '') AS visitor, MAX(started) AS last_start FROM runs
                           WHERE started IS NOT NULL GROUP BY COALESCE(session, '')) s
         ON s.visitor = COALESCE(q.session, '')
    WHERE q.status = 'queued'"""
_KEYS = {"fair": ("turn", "last_start", "id"), "fifo": ("id",)}


def _ordered(order: str) -> str:
    """The queued runs under ``order``, as rows (id, place), ``place`` 1 for the next to start."""
    keys = ", ".join(f"o.{k}" for k in _KEYS[order])
    return (f"SELECT o.id, ROW_NUMBER() OVER (ORDER BY {keys}) AS place FROM ({_RANKED}) o")


def over_cap(db: Connection, n: int, visitor: str | None, max_queued: int, max_per_visitor: int) -> str | None:
    """Why ``n`` more queued runs from ``visitor`` would pass a cap (server-wide, per visitor), or None."""
    queued = db.execute("SELECT COUNT(*) AS n FROM runs WHERE status = 'queued'").fetchone()["n"]
    if queued + n > max_queued:
        return (f"{n} more run(s) would make {queued + n} queued, over the server's cap of {max_queued} "
                f"(AUGVIZ_MAX_QUEUED; {queued} queued now): wait for some to finish, or queue fewer")
    if visitor is not None:
        mine = db.execute("SELECT COUNT(*) AS n FROM runs WHERE status = 'queued' AND session = ?",
                          (visitor,)).fetchone()["n"]
        if mine + n > max_per_visitor:
            return (f"{n} more run(s) would make {mine + n} queued by you, over the cap of {max_per_visitor} "
                    f"a visitor (AUGVIZ_MAX_QUEUED_PER_VISITOR; {mine} queued now): wait for some of yours to "
                    "finish, or queue fewer")
    return None


def running_count(db: Connection, host: str) -> int:
    """Runs training on machine ``host`` (one recorded before hosts were counts as this one): each machine's
    launcher fills its own slots (``AUGVIZ_MAX_RUNS``) from the shared queue."""
    return int(db.execute("SELECT COUNT(*) AS n FROM runs WHERE status = 'running' AND (host IS NULL OR host = ?)",
                          (host,)).fetchone()["n"])


def first_queued(db: Connection, order: str = "fair", row_lock: str = "") -> dict | None:
    """The queued run whose turn it is under ``order`` (its id and pid), or None when nothing waits.
    ``row_lock`` is the engine's clause that locks that row (of ``r``) for the claim."""
    return db.execute(f"SELECT r.id, r.pid FROM runs r JOIN ({_ordered(order)}) p ON p.id = r.id "
                      f"ORDER BY p.place LIMIT 1{row_lock}").fetchone()


def position(db: Connection, run_id: int, order: str = "fair") -> int | None:
    """1 for the next queued run to start under ``order``, None when the run is not queued."""
    row = db.execute(f"SELECT place FROM ({_ordered(order)}) p WHERE p.id = ?", (run_id,)).fetchone()
    return None if row is None else int(row["place"])


def ahead(db: Connection, run_id: int, order: str = "fair") -> list[int]:
    """The ids of the queued runs that start before ``run_id`` under ``order``, next first (empty when it is
    not queued)."""
    rows = db.execute(f"SELECT p.id FROM ({_ordered(order)}) p WHERE p.place < (SELECT place FROM "
                      f"({_ordered(order)}) mine WHERE mine.id = ?) ORDER BY p.place", (run_id,)).fetchall()
    return [int(r["id"]) for r in rows]


def mark_running(db: Connection, run_id: int, pid: int, host: str) -> None:
    db.execute("UPDATE runs SET status = 'running', started = ?, pid = ?, host = ? WHERE id = ?",
               (time.time(), pid, host, run_id))

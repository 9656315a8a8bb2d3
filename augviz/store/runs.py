"""The ``Store``: the one object the app, its workers, the launcher and the CLI use to queue, run, end and read
runs. It speaks to an ``Engine`` (SQLite by default) and leaves the queue's policy to ``queue`` and metric rows
to ``metric_rows``."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from augviz import settings
from augviz.errors import QueueFull, StoreError
from augviz.metrics import DetailMetrics, EpochMetrics, StepMetrics
from augviz.store import fingerprint, metric_rows, queue
from augviz.store.engine import Connection, Engine
from augviz.store.records import Run, row_text, run_from_row
from augviz.store.sqlite import SQLiteEngine

if TYPE_CHECKING:
    from augviz.runconfig import RunConfig


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` on this machine is alive (a zombie, ended but not yet reaped, is not)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (ended, not yet reaped by its parent) still answers kill(0): look at its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


# One metric write of Store.add_metrics: (run id, "steps" | "epoch" | "detail", the rows or the record).
MetricWrite = tuple[int, str, Any]
HOST = socket.gethostname()  # this machine: a run's pid means something only on the machine that wrote it


def _placeholders(n: int) -> str:
    return ", ".join("?" * n)


class Store:
    """The run store. ``Store(path)`` is the SQLite database at ``path``; ``Store(engine=...)`` any engine."""

    def __init__(self, path: Path | None = None, timeout: float | None = None, engine: Engine | None = None,
                 order: str | None = None) -> None:
        # Which queued run starts next: "fair" (round-robin across visitors) or "fifo" (see queue.py).
        self.order = order if order is not None else settings.queue_order()
        if engine is None:
            if path is None:
                raise TypeError("Store needs a path or an engine")
            engine = SQLiteEngine(path, timeout if timeout is not None else settings.db_timeout())
        self.engine = engine
        self.path = engine.path  # the local anchor: the launcher's lock and run reserves sit beside it
        with engine.connection():  # opened (and brought to the current schema) now: a bad place is said at once
            pass

    @property
    def address(self) -> str:
        """What another process passes to ``open_store`` (``--db``) to reach this database."""
        return self.engine.address

    # ---- runs ----------------------------------------------------------------------------------------------

    def create(self, cfg: RunConfig, status: str = "queued", pid: int | None = None,
               session: str | None = None) -> int:
        return self.create_many([cfg], status, pid, session)[0]

    def create_many(self, cfgs: list[RunConfig], status: str = "queued", pid: int | None = None,
                    session: str | None = None, caps: tuple[int, int] | None = None,
                    key: str | None = None) -> list[int]:
        """Insert runs in one transaction. With ``caps`` (server-wide, per visitor) on queued runs, refuse with
        QueueFull, inserting nothing, when queuing all of them would pass either.

        ``key`` (a fingerprint of the planned configurations) makes the launch happen once: while runs queued with
        the same key are still queued or running, their ids come back and nothing is inserted. Checked inside the
        write transaction, so a double click (two requests at once) queues one set of runs."""
        rows = [row_text(cfg) for cfg in cfgs]
        now = time.time()
        with self.engine.transaction() as db:
            if key is not None:
                same = _going_with_key(db, key)
                if same:
                    return same
            if caps is not None:
                reason = queue.over_cap(db, len(cfgs), session, *caps)
                if reason:
                    raise QueueFull(reason)
            return [int(db.execute(
                "INSERT INTO runs (config, label, grp, status, created, pid, host, started, session, launch_key, "
                "fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (config, label, group, status, now, pid, HOST if pid else None, now if status == "running" else None,
                 session, key, fingerprint.key(cfg.to_dict()))).fetchone()["id"])
                for cfg, (config, label, group) in zip(cfgs, rows, strict=True)]

    def launch_going(self, key: str) -> list[int]:
        """The ids of the runs a launch with ``key`` queued that are still queued or running (see create_many)."""
        with self.engine.connection() as db:
            return _going_with_key(db, key)

    def queue_room(self, n: int, session: str | None, max_queued: int, max_per_session: int) -> str | None:
        """Why ``n`` more queued runs would pass a cap, or None when they fit."""
        with self.engine.connection() as db:
            return queue.over_cap(db, n, session, max_queued, max_per_session)

    def get(self, run_id: int) -> Run | None:
        with self.engine.connection() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else run_from_row(row)

    def runs(self, group: str | None = None, ids: list[int] | None = None, limit: int | None = None,
             statuses: tuple[str, ...] | None = None) -> list[Run]:
        """Stored runs in id order: of one ``group``, with these ``ids`` or ``statuses``, the newest ``limit``.
        Configurations are not parsed here (see Run.config), so a long list costs one query."""
        where, args = [], []
        if group:
            where.append("grp = ?")
            args.append(group)
        if ids is not None:
            where.append(f"id IN ({_placeholders(len(ids))})" if ids else "1 = 0")
            args.extend(int(i) for i in ids)
        if statuses is not None:
            where.append(f"status IN ({_placeholders(len(statuses))})" if statuses else "1 = 0")
            args.extend(statuses)
        sql = "SELECT * FROM runs" + (f" WHERE {' AND '.join(where)}" if where else "")
        if limit is not None:
            sql = f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT ?) AS newest"
            args.append(int(limit))
        with self.engine.connection() as db:
            return [run_from_row(r) for r in db.execute(sql + " ORDER BY id", args).fetchall()]

    def serving(self, keys: Iterable[str], defaults: dict[str, Any]) -> list[Run]:
        """The stored runs whose configuration's fingerprint key (``fingerprint.key``) is one of ``keys``, in id
        order: what a plan's runs can be, found by the index rather than by reading every stored run.

        ``defaults`` is the reading version's configuration (``RunConfig().to_dict()``): a run stored without a key
        (by an older version, or written by other means) or with one taken over other fields (before a field
        existed) is keyed now, its missing fields at their defaults as reading it would, and its key stored, so
        that the next read finds it by the index too."""
        wanted = list(dict.fromkeys(keys))
        own = f"{fingerprint.tag(defaults)}:"
        with self.engine.connection() as db:
            found = db.execute(f"SELECT * FROM runs WHERE fingerprint IN ({_placeholders(len(wanted))})",
                               wanted).fetchall() if wanted else []
            stale = db.execute("SELECT * FROM runs WHERE fingerprint IS NULL OR substr(fingerprint, 1, ?) <> ?",
                               (len(own), own)).fetchall()
        keyed = [(r, fingerprint.stored_key(r["config"], defaults)) for r in stale]
        if keyed:
            try:
                with self.engine.connection() as db:
                    db.executemany("UPDATE runs SET fingerprint = ? WHERE id = ?", [(k, r["id"]) for r, k in keyed])
            except StoreError:
                pass  # a store that cannot be written now (a full disk) is still read: keyed again next time
        chosen = set(wanted)
        rows = found + [r for r, k in keyed if k in chosen]
        return [run_from_row(r) for r in sorted(rows, key=lambda r: r["id"])]

    def set_pid(self, run_id: int, pid: int) -> None:
        with self.engine.connection() as db:
            db.execute("UPDATE runs SET pid = ?, host = ? WHERE id = ?", (pid, HOST, run_id))

    def started(self, run_id: int, layers: list[str], total_steps: int, classes: tuple[str, ...]) -> None:
        with self.engine.connection() as db:
            db.execute("UPDATE runs SET layers = ?, total_steps = ?, classes = ?, note = NULL, progress = NULL "
                       "WHERE id = ?", (json.dumps(layers), total_steps, json.dumps(list(classes)), run_id))

    def finish(self, run_id: int, status: str, error: str | None = None, kind: str | None = None,
               note: str | None = None, **summary: Any) -> bool:
        """End a run (only one that has not ended yet: a late writer never overrides a recorded end); ``kind``
        says what sort of cause ``error`` is (ERROR_KINDS), ``note`` replaces the progress note (what reading
        the data skipped). True when this call recorded the end."""
        keys = ("diverged_step", "test_acc", "test_loss", "images_per_s", "wall_s")
        values = [summary.get(k) for k in keys]
        with self.engine.connection() as db:
            cur = db.execute(
                f"UPDATE runs SET status = ?, error = ?, error_kind = ?, ended = ?, note = ?, progress = NULL, "
                f"{', '.join(f'{k} = ?' for k in keys)} WHERE id = ? AND status IN ('queued', 'running')",
                (status, error, kind, time.time(), note, *values, run_id))
            return cur.rowcount > 0

    def set_progress(self, run_id: int, note: str | None, progress: float | None = None) -> None:
        """What a running run is doing before its first step, and that work's share done (0–1, None: unknown)."""
        with self.engine.connection() as db:
            db.execute("UPDATE runs SET note = ?, progress = ? WHERE id = ?", (note, progress, run_id))

    def request_stop(self, run_id: int) -> None:
        """Ask a run to stop: a queued one stops at once, a running one at its next check (the launcher kills
        a worker that has not stopped after the grace time, $AUGVIZ_STOP_GRACE_S)."""
        now = time.time()
        with self.engine.connection() as db:
            db.execute("UPDATE runs SET stop_requested = ? WHERE id = ? AND stop_requested = 0", (now, run_id))
            db.execute("UPDATE runs SET status = 'stopped', ended = ?, error_kind = 'stopped' "
                       "WHERE id = ? AND status = 'queued'", (now, run_id))

    def stop_requested(self, run_id: int) -> bool:
        with self.engine.connection() as db:
            row = db.execute("SELECT stop_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row is None or bool(row["stop_requested"])  # a deleted run stops too

    def overdue_stops(self, grace_s: float) -> list[Run]:
        """Running runs asked to stop more than ``grace_s`` seconds ago (their worker is stuck or ignoring it)."""
        with self.engine.connection() as db:
            rows = db.execute("SELECT * FROM runs WHERE status = 'running' AND stop_requested > 0 "
                              "AND stop_requested < ?", (time.time() - grace_s,)).fetchall()
        return [run_from_row(r) for r in rows]

    def delete(self, run_ids: list[int]) -> int:
        """Delete ended runs with their metrics (queued or running ones are left: stop them first, or use
        worker.delete, which does); returns how many were deleted."""
        if not run_ids:
            return 0
        with self.engine.connection() as db:
            cur = db.execute(f"DELETE FROM runs WHERE id IN ({_placeholders(len(run_ids))}) "
                             "AND status NOT IN ('queued', 'running')", [int(i) for i in run_ids])
            return cur.rowcount

    def live(self) -> list[tuple[int, str, int | None]]:
        """(id, status, pid) of every queued or running run: what upkeep needs, without reading configurations."""
        with self.engine.connection() as db:
            return [(r["id"], r["status"], r["pid"]) for r in
                    db.execute("SELECT id, status, pid FROM runs WHERE status IN ('queued', 'running') ORDER BY id")]

    def reap(self, interrupted: bool = False, skip: frozenset[int] = frozenset()) -> list[int]:
        """Mark runs whose process on this machine is gone: ``failed`` while the launcher runs; ``interrupted``
        when the whole run system went down with them (server or machine restart: the work was cut off from
        outside). Pids in ``skip`` are left to their parent, which knows how they ended; runs of other machines
        (app replicas sharing a PostgreSQL store) to those machines."""
        with self.engine.connection() as db:
            mine = db.execute("SELECT id, pid FROM runs WHERE status IN ('queued', 'running') AND pid IS NOT NULL "
                              "AND (host IS NULL OR host = ?) ORDER BY id", (HOST,)).fetchall()
        changed = []
        for run_id, pid in ((r["id"], r["pid"]) for r in mine):
            if pid not in skip and not pid_alive(pid):
                if interrupted:
                    done = self.finish(run_id, "interrupted", "the server stopped while this run was going",
                                       kind="worker")
                else:
                    done = self.finish(run_id, "failed", f"the worker process (pid {pid}) ended without finishing",
                                       kind="worker")
                if done:
                    changed.append(run_id)
        return changed

    # ---- the queue (its policy: queue.py) ------------------------------------------------------------------

    def count(self) -> int:
        """How many runs are stored."""
        with self.engine.connection() as db:
            return int(db.execute("SELECT COUNT(*) AS n FROM runs").fetchone()["n"])

    def queue_position(self, run_id: int) -> int | None:
        """1 for the next queued run to start, None when the run is not queued."""
        with self.engine.connection() as db:
            return queue.position(db, run_id, self.order)

    def queue_ahead(self, run_id: int) -> list[Run]:
        """The queued runs that start before ``run_id``, next first (empty when it is not queued)."""
        with self.engine.connection() as db:
            ids = queue.ahead(db, run_id, self.order)
        return sorted(self.runs(ids=ids), key=lambda r: ids.index(r.id)) if ids else []

    def claim(self, run_id: int, pid: int, limit: int) -> bool:
        """Start ``run_id`` if it is the queued run whose turn it is and fewer than ``limit`` runs are running on
        this machine."""
        with self.engine.transaction() as db:
            first = queue.first_queued(db, self.order, self.engine.row_lock)
            if queue.running_count(db, HOST) >= limit or first is None or first["id"] != run_id:
                return False
            queue.mark_running(db, run_id, pid, HOST)
            return True

    def claim_next(self, pid: int, limit: int) -> int | None:
        """The launcher's turn: mark the queued run whose turn it is running under ``pid`` when this machine has
        a free slot (fewer than ``limit`` runs running here).
        A queued run that has a pid already is a CLI run waiting in its own process: it claims itself, and the
        ones behind it wait."""
        with self.engine.transaction() as db:
            first = queue.first_queued(db, self.order, self.engine.row_lock)
            if queue.running_count(db, HOST) >= limit or first is None or first["pid"] is not None:
                return None
            queue.mark_running(db, first["id"], pid, HOST)
            return int(first["id"])

    # ---- metrics (their rows: metric_rows.py) --------------------------------------------------------------

    def add_steps(self, run_id: int, rows: list[StepMetrics]) -> None:
        with self.engine.connection() as db:
            metric_rows.add_steps(db, run_id, rows)

    def add_epoch(self, run_id: int, m: EpochMetrics) -> None:
        with self.engine.connection() as db:
            metric_rows.add_epoch(db, run_id, m)

    def add_metrics(self, writes: list[MetricWrite]) -> None:
        """Metric rows of several runs in one transaction, in order: each write is (run id, "steps" and a list of
        StepMetrics, or "epoch" and EpochMetrics, or "detail" and DetailMetrics). A launcher that hears from many
        runs at once commits what it heard in one turn once, rather than once per run's batch: a commit, not a
        row, is what limits a store's writes (bench/scale.py)."""
        if not writes:
            return
        with self.engine.transaction() as db:
            for run_id, kind, payload in writes:
                if kind == "steps":
                    metric_rows.add_steps(db, run_id, payload)
                elif kind == "epoch":
                    metric_rows.add_epoch(db, run_id, payload)
                elif kind == "detail":
                    metric_rows.add_detail(db, run_id, payload)
                else:
                    raise ValueError(f"unknown metric write {kind!r}")

    def add_detail(self, run_id: int, m: DetailMetrics) -> None:
        with self.engine.connection() as db:
            metric_rows.add_detail(db, run_id, m)

    def details(self, run_id: int, after: int = 0) -> list[DetailMetrics]:
        """Per-layer histograms and update ratios, for the steps after ``after`` that recorded them."""
        with self.engine.connection() as db:
            return metric_rows.details(db, run_id, after)

    def steps(self, run_id: int, limit: int | None = None) -> list[StepMetrics]:
        """Step metrics, thinned evenly to at most ``limit`` rows (the last step always kept)."""
        with self.engine.connection() as db:
            return metric_rows.steps(db, run_id, limit)

    def steps_after(self, run_id: int, after: int, every: int = 1) -> list[StepMetrics]:
        """The steps after step ``after`` whose number is a multiple of ``every``, and the run's newest step."""
        with self.engine.connection() as db:
            return metric_rows.steps_after(db, run_id, after, every)

    def epochs(self, run_id: int, after: int = 0) -> list[EpochMetrics]:
        """The run's epochs after epoch ``after``."""
        with self.engine.connection() as db:
            return metric_rows.epochs(db, run_id, after)

    def step_count(self, run_id: int) -> int:
        with self.engine.connection() as db:
            return metric_rows.step_count(db, run_id)


def _going_with_key(db: Connection, key: str) -> list[int]:
    return [int(r["id"]) for r in db.execute(
        "SELECT id FROM runs WHERE launch_key = ? AND status IN ('queued', 'running') ORDER BY id", (key,))]

"""The run store: one SQLite database (WAL) under the data directory, shared by the app, workers and the CLI.

Workers write status and metrics; pages and the CLI read them. Step metrics are buffered and written in batches
(and always at epoch ends and at the finish) so a fast run does not commit once per step. Primary keys on
(run, step) and (run, epoch) make a retried write a no-op, never a duplicate.

Rows come back as dataclasses built from named columns: ``Run`` for a run, the training loop's own
``StepMetrics``, ``EpochMetrics`` and ``DetailMetrics`` for its metrics. A run's configuration is parsed only
when asked for and cached by its text, so listing thousands of runs each second costs a query, not a validation
of every stored configuration; a configuration this version cannot read makes that one run ``unreadable`` (with
why), never the whole list.

The store heals itself: every connection checks that the file it opens is still the one it prepared; a deleted
or replaced file gets the schema again (under a lock file, so two processes creating it at once wait for each
other instead of failing "database is locked"), and a file that is not a database any more is moved aside as
``runs.sqlite.corrupt-<time>`` and started afresh.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from augviz import settings
from augviz.data import home
from augviz.errors import ConfigError, DiskFull, QueueFull, StoreError
from augviz.runconfig import RunConfig, from_dict
from augviz.train import DetailMetrics, EpochMetrics, StepMetrics

STATUSES = ("queued", "running", "finished", "stopped", "failed", "diverged", "interrupted")
ENDED = ("finished", "stopped", "failed", "diverged", "interrupted")
ERROR_KINDS = ("config", "data", "disk full", "launch", "worker", "training", "stopped")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    config TEXT NOT NULL,
    label TEXT NOT NULL,
    grp TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    error TEXT,
    created REAL NOT NULL,
    started REAL,
    ended REAL,
    pid INTEGER,
    stop_requested REAL NOT NULL DEFAULT 0,
    total_steps INTEGER,
    layers TEXT,
    classes TEXT,
    diverged_step INTEGER,
    test_acc REAL,
    test_loss REAL,
    images_per_s REAL,
    wall_s REAL,
    note TEXT,
    progress REAL,
    error_kind TEXT,
    session TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE TABLE IF NOT EXISTS steps (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    loss REAL NOT NULL,
    grad_total REAL NOT NULL,
    grads TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS details (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    histograms TEXT NOT NULL,
    update_ratios TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS epochs (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    train_loss REAL, train_acc REAL, val_loss REAL, val_acc REAL, images_per_s REAL,
    PRIMARY KEY (run_id, epoch)
);
"""
# Columns added after the first release, with their types: an older database gets them on first open.
_ADDED = {"note": "TEXT", "progress": "REAL", "error_kind": "TEXT", "session": "TEXT"}


@lru_cache(maxsize=16384)
def _parse_config(text: str) -> RunConfig | str:
    """A stored configuration, or why this version cannot read it (cached: the same text parses once)."""
    try:
        return from_dict(json.loads(text))
    except (ValueError, TypeError, RecursionError) as e:  # ConfigError and JSON errors are ValueErrors
        return str(e)[:300]


@dataclass
class Run:
    """One row of ``runs``, field by named column (``grp`` is ``group``, ``config`` is ``config_json``)."""

    id: int
    config_json: str
    label: str
    group: str
    status: str
    error: str | None
    created: float
    started: float | None
    ended: float | None
    pid: int | None
    stop_requested: float  # when Stop was asked for (0: not asked)
    total_steps: int | None
    layers: list[str]
    classes: list[str]
    diverged_step: int | None
    test_acc: float | None
    test_loss: float | None
    images_per_s: float | None
    wall_s: float | None
    note: str | None = None  # what a running run does before its first step ("downloading t10k-labels"); at
    # the end, what reading the data skipped
    progress: float | None = None  # that work's share done, 0–1 (None: unknown or nothing going on)
    error_kind: str | None = None  # one of ERROR_KINDS when the run failed
    session: str | None = None  # the app session or CLI call that queued it (for the per-session cap)

    @property
    def is_over(self) -> bool:
        """Whether the run has reached an end status (it will not change again)."""
        return self.status in ENDED

    @property
    def unreadable(self) -> str | None:
        """Why this version cannot read the run's stored configuration (e.g. written by a newer version), or
        None when it can."""
        parsed = _parse_config(self.config_json)
        return parsed if isinstance(parsed, str) else None

    @property
    def config(self) -> RunConfig:
        """The run's configuration; ConfigError (naming the run and why) when this version cannot read it."""
        parsed = _parse_config(self.config_json)
        if isinstance(parsed, str):
            raise ConfigError(f"run {self.id}", f"its stored configuration cannot be read by this version ({parsed})")
        return parsed


_RUN_COLUMNS = {"config": "config_json", "grp": "group"}
_RUN_FIELDS = tuple(f.name for f in fields(Run))


def _run(row: sqlite3.Row) -> Run:
    values = {_RUN_COLUMNS.get(k, k): v for k, v in zip(row.keys(), row, strict=True)}
    values["layers"] = json.loads(values["layers"] or "[]")
    values["classes"] = json.loads(values["classes"] or "[]")
    values["stop_requested"] = float(values["stop_requested"] or 0)
    return Run(**{k: v for k, v in values.items() if k in _RUN_FIELDS})


def pid_alive(pid: int | None) -> bool:
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


def _is_full(e: BaseException, folder: Path) -> bool:
    """Whether an error comes from a full disk: SQLite says so for a write, but opening a database on a full
    disk (its -shm file cannot grow) is only "disk I/O error", so the filesystem is asked too."""
    if "database or disk is full" in str(e) or "No space left on device" in str(e):
        return True
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 1 << 16


class Store:
    """The database at ``path``; every method opens a short connection, so it is safe across processes."""

    def __init__(self, path: Path, timeout: float | None = None) -> None:
        self.path = path
        # How long to wait for another writer's lock before saying the database is locked.
        self.timeout = timeout if timeout is not None else settings.db_timeout()
        self._prepared: tuple[int, int] | None = None  # (device, inode) of the file whose schema was checked
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"the run database at {path} cannot be opened ({e})") from None
        with self._db():
            pass

    # ---- connections, and the file's upkeep ----------------------------------------------------------------

    def _identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        """An exclusive lock on ``<database>.lock``, held while the schema is created or a bad file set aside:
        sqlite's own busy wait does not cover the switch to WAL, so two creators would fail without it."""
        try:
            fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # a read-only folder: nothing can be created there, and sqlite will say so
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _prepare(self, db: sqlite3.Connection) -> None:
        with self._file_lock():
            db.execute("PRAGMA journal_mode=WAL")  # stored in the file: switched once, by one process at a time
            db.executescript(_SCHEMA)
            have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
            for column, kind in _ADDED.items():
                if column not in have:  # a database made by an older version
                    db.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
        self._prepared = self._identity()

    def _set_aside(self, why: sqlite3.DatabaseError) -> None:
        """Move a file that is no database (overwritten, truncated, corrupted) aside, keeping it for a look."""
        with self._file_lock():
            probe = sqlite3.connect(self.path)
            try:
                probe.execute("SELECT 1 FROM sqlite_master").fetchone()
                return  # another process set it aside already
            except sqlite3.DatabaseError:
                pass
            finally:
                probe.close()
            aside = self.path.with_name(f"{self.path.name}.corrupt-{time.time():.0f}")
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        print(f"augviz: {self.path} was not a usable database ({why}); it was moved to {aside} and a new one "
              "started", file=sys.stderr)

    def _connect(self) -> sqlite3.Connection:
        for attempt in (1, 2):
            db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            db.row_factory = sqlite3.Row
            try:
                db.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
                has_runs = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone()
                if not has_runs or self._identity() != self._prepared:  # new, deleted or replaced since
                    self._prepare(db)
                db.execute("PRAGMA foreign_keys=ON")
                return db
            except sqlite3.DatabaseError as e:
                db.close()
                if isinstance(e, sqlite3.OperationalError) or attempt == 2:
                    raise
                self._set_aside(e)  # "file is not a database": start afresh, once
        raise AssertionError("unreachable")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            db = self._connect()
        except (sqlite3.Error, OSError) as e:
            if _is_full(e, self.path.parent):
                raise DiskFull(f"disk full: the run database at {self.path} cannot be written ({e})") from None
            raise StoreError(f"the run database at {self.path} cannot be opened ({e})") from None
        try:
            yield db
        except sqlite3.Error as e:
            if _is_full(e, self.path.parent):
                raise DiskFull(f"disk full: the run database at {self.path} cannot be written ({e})") from None
            self._prepared = None  # look at the file afresh next time
            hint = " (another process holds it; try again)" if "locked" in str(e) else ""
            raise StoreError(f"the run database at {self.path} refused the operation: {e}{hint}") from None
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock at once (so a read-then-write decision holds)."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # ---- runs ----------------------------------------------------------------------------------------------

    def create(self, cfg: RunConfig, status: str = "queued", pid: int | None = None,
               session: str | None = None) -> int:
        return self.create_many([cfg], status, pid, session)[0]

    def create_many(self, cfgs: list[RunConfig], status: str = "queued", pid: int | None = None,
                    session: str | None = None, caps: tuple[int, int] | None = None) -> list[int]:
        """Insert runs in one transaction. With ``caps`` (server-wide, per session) on queued runs, refuse with
        QueueFull, inserting nothing, when queuing all of them would pass either."""
        rows = [_row_text(cfg) for cfg in cfgs]
        now = time.time()
        with self._transaction() as db:
            if caps is not None:
                reason = _over_cap(db, len(cfgs), session, *caps)
                if reason:
                    raise QueueFull(reason)
            return [int(db.execute(
                "INSERT INTO runs (config, label, grp, status, created, pid, started, session) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (config, label, group, status, now, pid, now if status == "running" else None, session)).lastrowid)
                for config, label, group in rows]

    def queue_room(self, n: int, session: str | None, max_queued: int, max_per_session: int) -> str | None:
        """Why ``n`` more queued runs would pass a cap, or None when they fit."""
        with self._db() as db:
            return _over_cap(db, n, session, max_queued, max_per_session)

    def get(self, run_id: int) -> Run | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else _run(row)

    def runs(self, group: str | None = None, ids: list[int] | None = None, limit: int | None = None,
             statuses: tuple[str, ...] | None = None) -> list[Run]:
        """Stored runs in id order: of one ``group``, with these ``ids`` or ``statuses``, the newest ``limit``.
        Configurations are not parsed here (see Run.config), so a long list costs one query."""
        where, args = [], []
        if group:
            where.append("grp = ?")
            args.append(group)
        if ids is not None:
            where.append(f"id IN ({', '.join('?' * len(ids))})")
            args.extend(int(i) for i in ids)
        if statuses is not None:
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            args.extend(statuses)
        sql = "SELECT * FROM runs" + (f" WHERE {' AND '.join(where)}" if where else "")
        if limit is not None:
            sql = f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT ?)"
            args.append(int(limit))
        with self._db() as db:
            return [_run(r) for r in db.execute(sql + " ORDER BY id", args).fetchall()]

    def count(self) -> int:
        """How many runs are stored."""
        with self._db() as db:
            return int(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def queue_position(self, run_id: int) -> int | None:
        """1 for the next queued run to start, None when the run is not queued."""
        with self._db() as db:
            row = db.execute("SELECT (SELECT COUNT(*) FROM runs WHERE status = 'queued' AND id <= ?) "
                             "FROM runs WHERE id = ? AND status = 'queued'", (run_id, run_id)).fetchone()
        return None if row is None else int(row[0])

    def claim(self, run_id: int, pid: int, limit: int) -> bool:
        """Start ``run_id`` if it is the oldest queued run and fewer than ``limit`` runs are running."""
        with self._transaction() as db:
            running = db.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()[0]
            first = db.execute("SELECT MIN(id) FROM runs WHERE status = 'queued'").fetchone()[0]
            if running >= limit or first != run_id:
                return False
            db.execute("UPDATE runs SET status = 'running', started = ?, pid = ? WHERE id = ?",
                       (time.time(), pid, run_id))
            return True

    def claim_next(self, pid: int, limit: int) -> int | None:
        """The launcher's turn: mark the oldest queued run running under ``pid`` when a slot is free. A queued
        run that has a pid already is a CLI run waiting in its own process: it claims itself, and the ones
        behind it wait (first come, first served)."""
        with self._transaction() as db:
            running = db.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()[0]
            first = db.execute("SELECT id, pid FROM runs WHERE status = 'queued' ORDER BY id LIMIT 1").fetchone()
            if running >= limit or first is None or first["pid"] is not None:
                return None
            db.execute("UPDATE runs SET status = 'running', started = ?, pid = ? WHERE id = ?",
                       (time.time(), pid, first["id"]))
            return int(first["id"])

    def set_pid(self, run_id: int, pid: int) -> None:
        with self._db() as db:
            db.execute("UPDATE runs SET pid = ? WHERE id = ?", (pid, run_id))

    def started(self, run_id: int, layers: list[str], total_steps: int, classes: tuple[str, ...]) -> None:
        with self._db() as db:
            db.execute("UPDATE runs SET layers = ?, total_steps = ?, classes = ?, note = NULL, progress = NULL "
                       "WHERE id = ?", (json.dumps(layers), total_steps, json.dumps(list(classes)), run_id))

    def finish(self, run_id: int, status: str, error: str | None = None, kind: str | None = None,
               note: str | None = None, **summary: Any) -> bool:
        """End a run (only one that has not ended yet: a late writer never overrides a recorded end); ``kind``
        says what sort of cause ``error`` is (ERROR_KINDS), ``note`` replaces the progress note (what reading
        the data skipped). True when this call recorded the end."""
        keys = ("diverged_step", "test_acc", "test_loss", "images_per_s", "wall_s")
        values = [summary.get(k) for k in keys]
        with self._db() as db:
            cur = db.execute(
                f"UPDATE runs SET status = ?, error = ?, error_kind = ?, ended = ?, note = ?, progress = NULL, "
                f"{', '.join(f'{k} = ?' for k in keys)} WHERE id = ? AND status IN ('queued', 'running')",
                (status, error, kind, time.time(), note, *values, run_id))
            return cur.rowcount > 0

    def set_progress(self, run_id: int, note: str | None, progress: float | None = None) -> None:
        """What a running run is doing before its first step, and that work's share done (0–1, None: unknown)."""
        with self._db() as db:
            db.execute("UPDATE runs SET note = ?, progress = ? WHERE id = ?", (note, progress, run_id))

    def request_stop(self, run_id: int) -> None:
        """Ask a run to stop: a queued one stops at once, a running one at its next check (the launcher kills
        a worker that has not stopped after the grace time, $AUGVIZ_STOP_GRACE_S)."""
        now = time.time()
        with self._db() as db:
            db.execute("UPDATE runs SET stop_requested = ? WHERE id = ? AND stop_requested = 0", (now, run_id))
            db.execute("UPDATE runs SET status = 'stopped', ended = ?, error_kind = 'stopped' "
                       "WHERE id = ? AND status = 'queued'", (now, run_id))

    def stop_requested(self, run_id: int) -> bool:
        with self._db() as db:
            row = db.execute("SELECT stop_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row is None or bool(row[0])  # a deleted run stops too

    def overdue_stops(self, grace_s: float) -> list[Run]:
        """Running runs asked to stop more than ``grace_s`` seconds ago (their worker is stuck or ignoring it)."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM runs WHERE status = 'running' AND stop_requested > 0 "
                              "AND stop_requested < ?", (time.time() - grace_s,)).fetchall()
        return [_run(r) for r in rows]

    def delete(self, run_ids: list[int]) -> int:
        """Delete ended runs with their metrics (queued or running ones are left: stop them first, or use
        worker.delete, which does); returns how many were deleted."""
        with self._db() as db:
            cur = db.executemany("DELETE FROM runs WHERE id = ? AND status NOT IN ('queued', 'running')",
                                 [(int(i),) for i in run_ids])
            return cur.rowcount

    def live(self) -> list[tuple[int, str, int | None]]:
        """(id, status, pid) of every queued or running run: what upkeep needs, without reading configurations."""
        with self._db() as db:
            return [(r["id"], r["status"], r["pid"]) for r in
                    db.execute("SELECT id, status, pid FROM runs WHERE status IN ('queued', 'running') ORDER BY id")]

    def reap(self, interrupted: bool = False, skip: frozenset[int] = frozenset()) -> list[int]:
        """Mark runs whose process is gone: ``failed`` while the launcher runs; ``interrupted`` when the whole
        run system went down with them (server or machine restart: the work was cut off from outside). Pids in
        ``skip`` are left to their parent, which knows how they ended."""
        changed = []
        for run_id, _status, pid in self.live():
            if pid and pid not in skip and not pid_alive(pid):
                if interrupted:
                    done = self.finish(run_id, "interrupted", "the server stopped while this run was going",
                                       kind="worker")
                else:
                    done = self.finish(run_id, "failed", f"the worker process (pid {pid}) ended without finishing",
                                       kind="worker")
                if done:
                    changed.append(run_id)
        return changed

    # ---- metrics -------------------------------------------------------------------------------------------

    def add_steps(self, run_id: int, rows: list[StepMetrics]) -> None:
        with self._db() as db:
            db.executemany("INSERT OR IGNORE INTO steps VALUES (?, ?, ?, ?, ?, ?)",
                           [(run_id, m.step, m.epoch, m.loss, m.grad_total, json.dumps(m.grad_norms)) for m in rows])

    def add_epoch(self, run_id: int, m: EpochMetrics) -> None:
        with self._db() as db:
            db.execute("INSERT OR IGNORE INTO epochs VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (run_id, m.epoch, m.train_loss, m.train_acc, m.val_loss, m.val_acc, m.images_per_s))

    def add_detail(self, run_id: int, m: DetailMetrics) -> None:
        with self._db() as db:
            db.execute("INSERT OR IGNORE INTO details VALUES (?, ?, ?, ?)",
                       (run_id, m.step, json.dumps(m.histograms), json.dumps(m.update_ratios)))

    def details(self, run_id: int, after: int = 0) -> list[DetailMetrics]:
        """Per-layer histograms and update ratios, for the steps after ``after`` that recorded them."""
        with self._db() as db:
            rows = db.execute("SELECT step, histograms, update_ratios FROM details WHERE run_id = ? AND step > ? "
                              "ORDER BY step", (run_id, after)).fetchall()
        return [DetailMetrics(r["step"], json.loads(r["histograms"]), json.loads(r["update_ratios"])) for r in rows]

    def steps(self, run_id: int, limit: int | None = None) -> list[StepMetrics]:
        """Step metrics, thinned evenly to at most ``limit`` rows (the last step always kept)."""
        with self._db() as db:
            count = db.execute("SELECT COUNT(*) FROM steps WHERE run_id = ?", (run_id,)).fetchone()[0]
            every = max(1, -(-count // limit)) if limit else 1
            rows = db.execute("SELECT step, epoch, loss, grad_total, grads FROM steps WHERE run_id = ? "
                              "AND (step % ? = 0 OR step = (SELECT MAX(step) FROM steps WHERE run_id = ?)) "
                              "ORDER BY step", (run_id, every, run_id)).fetchall()
        return [StepMetrics(step=r["step"], epoch=r["epoch"], loss=r["loss"], grad_norms=json.loads(r["grads"]),
                            grad_total=r["grad_total"]) for r in rows]

    def steps_after(self, run_id: int, after: int, every: int = 1) -> list[StepMetrics]:
        """The steps after step ``after`` whose number is a multiple of ``every``, and the run's newest step: what
        a page that watches a run reads each time (only what is new; the primary key makes it a range scan)."""
        with self._db() as db:
            rows = db.execute("SELECT step, epoch, loss, grad_total, grads FROM steps WHERE run_id = ? AND step > ? "
                              "AND (step % ? = 0 OR step = (SELECT MAX(step) FROM steps WHERE run_id = ?)) "
                              "ORDER BY step", (run_id, after, every, run_id)).fetchall()
        return [StepMetrics(step=r["step"], epoch=r["epoch"], loss=r["loss"], grad_norms=json.loads(r["grads"]),
                            grad_total=r["grad_total"]) for r in rows]

    def epochs(self, run_id: int, after: int = 0) -> list[EpochMetrics]:
        """The run's epochs after epoch ``after``."""
        with self._db() as db:
            rows = db.execute("SELECT epoch, train_loss, train_acc, val_loss, val_acc, images_per_s FROM epochs "
                              "WHERE run_id = ? AND epoch > ? ORDER BY epoch", (run_id, after)).fetchall()
        return [EpochMetrics(**dict(zip(r.keys(), r, strict=True))) for r in rows]

    def step_count(self, run_id: int) -> int:
        with self._db() as db:
            return db.execute("SELECT COUNT(*) FROM steps WHERE run_id = ?", (run_id,)).fetchone()[0]


def _row_text(cfg: RunConfig) -> tuple[str, str, str]:
    """The configuration, label and group as text SQLite can store; a name that is not valid Unicode (a lone
    surrogate, from JSON's "\\ud800") is a ConfigError naming the field, not an encoder traceback."""
    for field, value in (("name", cfg.label()), ("group", cfg.group)):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ConfigError(field, f"is not valid text (the character U+{ord(value[e.start]):04X} at "
                                     f"position {e.start} cannot be stored)") from None
    return cfg.to_json(), cfg.label(), cfg.group


def _over_cap(db: sqlite3.Connection, n: int, session: str | None, max_queued: int,
              max_per_session: int) -> str | None:
    queued = db.execute("SELECT COUNT(*) FROM runs WHERE status = 'queued'").fetchone()[0]
    if queued + n > max_queued:
        return (f"{n} more run(s) would make {queued + n} queued, over the server's cap of {max_queued} "
                f"(AUGVIZ_MAX_QUEUED; {queued} queued now): wait for some to finish, or queue fewer")
    if session is not None:
        mine = db.execute("SELECT COUNT(*) FROM runs WHERE status = 'queued' AND session = ?",
                          (session,)).fetchone()[0]
        if mine + n > max_per_session:
            return (f"{n} more run(s) would make {mine + n} queued by this session, over its cap of "
                    f"{max_per_session} (AUGVIZ_MAX_QUEUED_PER_SESSION; {mine} queued now): wait for some to "
                    "finish, or queue fewer")
    return None


class StoreSink:
    """A training Sink that writes to the store: steps in batches at most every ``flush_s`` seconds."""

    def __init__(self, store: Store, run_id: int, flush_s: float = 0.25) -> None:
        self.store, self.run_id, self.flush_s = store, run_id, flush_s
        self.pending: list[StepMetrics] = []
        self.last_flush = time.monotonic()

    def started(self, layer_names: list[str], total_steps: int, classes: tuple[str, ...]) -> None:
        self.store.started(self.run_id, layer_names, total_steps, classes)

    def step(self, m: StepMetrics) -> None:
        self.pending.append(m)
        if time.monotonic() - self.last_flush >= self.flush_s:
            self.flush()

    def epoch(self, m: EpochMetrics) -> None:
        self.flush()
        self.store.add_epoch(self.run_id, m)

    def detail(self, m: DetailMetrics) -> None:
        self.store.add_detail(self.run_id, m)

    def flush(self) -> None:
        if self.pending:
            # Taken off the list first: a write that fails (a full disk) is not retried before the run's end.
            rows, self.pending = self.pending, []
            self.store.add_steps(self.run_id, rows)
        self.last_flush = time.monotonic()


def default_store() -> Store:
    return Store(home() / "runs.sqlite")

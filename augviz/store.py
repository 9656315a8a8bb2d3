"""The run store: one SQLite database (WAL) under the data directory, shared by the app, workers and the CLI.

Workers write status and metrics; pages and the CLI read them. Step metrics are buffered and written in batches
(and always at epoch ends and at the finish) so a fast run does not commit once per step. Primary keys on
(run, step) and (run, epoch) make a retried write a no-op, never a duplicate.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from augviz.errors import StoreError
from augviz.runconfig import RunConfig, from_dict
from augviz.train import DetailMetrics, EpochMetrics, StepMetrics

STATUSES = ("queued", "running", "finished", "stopped", "failed", "diverged", "interrupted")
ENDED = ("finished", "stopped", "failed", "diverged", "interrupted")

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
    stop_requested INTEGER NOT NULL DEFAULT 0,
    total_steps INTEGER,
    layers TEXT,
    classes TEXT,
    diverged_step INTEGER,
    test_acc REAL,
    test_loss REAL,
    images_per_s REAL,
    wall_s REAL,
    note TEXT
);
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


@dataclass
class Run:
    id: int
    config: RunConfig
    label: str
    group: str
    status: str
    error: str | None
    created: float
    started: float | None
    ended: float | None
    pid: int | None
    stop_requested: bool
    total_steps: int | None
    layers: list[str]
    classes: list[str]
    diverged_step: int | None
    test_acc: float | None
    test_loss: float | None
    images_per_s: float | None
    wall_s: float | None
    note: str | None = None  # what a running run is doing before its first step (a download)

    @property
    def is_over(self) -> bool:
        """Whether the run has reached an end status (it will not change again)."""
        return self.status in ENDED


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


class Store:
    """The database at ``path``; every method opens a short connection, so it is safe across processes."""

    def __init__(self, path: Path, timeout: float | None = None) -> None:
        self.path = path
        # How long to wait for another writer's lock before saying the database is locked.
        self.timeout = timeout if timeout is not None else float(os.environ.get("AUGVIZ_DB_TIMEOUT", "30"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._db() as db:
                db.executescript(_SCHEMA)
                columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
                if "note" not in columns:  # a database made before notes existed
                    db.execute("ALTER TABLE runs ADD COLUMN note TEXT")
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"the run database at {path} cannot be opened ({e})") from None

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as e:
            raise StoreError(f"the run database at {self.path} cannot be opened ({e})") from None
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            yield db
        except sqlite3.OperationalError as e:
            hint = " (another process holds it; try again)" if "locked" in str(e) else ""
            raise StoreError(f"the run database at {self.path} refused the operation: {e}{hint}") from None
        finally:
            db.close()

    # ---- runs ----------------------------------------------------------------------------------------------

    def create(self, cfg: RunConfig, status: str = "queued", pid: int | None = None) -> int:
        with self._db() as db:
            cur = db.execute(
                "INSERT INTO runs (config, label, grp, status, created, pid, started) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (cfg.to_json(), cfg.label(), cfg.group, status, time.time(), pid,
                 time.time() if status == "running" else None))
            return int(cur.lastrowid)

    def get(self, run_id: int) -> Run | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            cols = [d[0] for d in db.execute("SELECT * FROM runs LIMIT 0").description]
        return None if row is None else _run(dict(zip(cols, row, strict=True)))

    def runs(self, group: str | None = None) -> list[Run]:
        with self._db() as db:
            cur = db.execute("SELECT * FROM runs" + (" WHERE grp = ?" if group else "") + " ORDER BY id",
                             (group,) if group else ())
            cols = [d[0] for d in cur.description]
            return [_run(dict(zip(cols, r, strict=True))) for r in cur.fetchall()]

    def queue_position(self, run_id: int) -> int | None:
        """1 for the next queued run to start, None when the run is not queued."""
        with self._db() as db:
            rows = [r[0] for r in db.execute("SELECT id FROM runs WHERE status = 'queued' ORDER BY id")]
        return rows.index(run_id) + 1 if run_id in rows else None

    def claim(self, run_id: int, pid: int, limit: int) -> bool:
        """Start ``run_id`` if it is the oldest queued run and fewer than ``limit`` runs are running."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                running = db.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()[0]
                first = db.execute("SELECT MIN(id) FROM runs WHERE status = 'queued'").fetchone()[0]
                ok = running < limit and first == run_id
                if ok:
                    db.execute("UPDATE runs SET status = 'running', started = ?, pid = ? WHERE id = ?",
                               (time.time(), pid, run_id))
                db.execute("COMMIT")
                return ok
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def set_pid(self, run_id: int, pid: int) -> None:
        with self._db() as db:
            db.execute("UPDATE runs SET pid = ? WHERE id = ?", (pid, run_id))

    def started(self, run_id: int, layers: list[str], total_steps: int, classes: tuple[str, ...]) -> None:
        with self._db() as db:
            db.execute("UPDATE runs SET layers = ?, total_steps = ?, classes = ? WHERE id = ?",
                       (json.dumps(layers), total_steps, json.dumps(list(classes)), run_id))

    def finish(self, run_id: int, status: str, error: str | None = None, **summary: Any) -> None:
        """End a run (only one that has not ended yet: a late writer never overrides a recorded end)."""
        keys = ("diverged_step", "test_acc", "test_loss", "images_per_s", "wall_s")
        values = [summary.get(k) for k in keys]
        with self._db() as db:
            db.execute(f"UPDATE runs SET status = ?, error = ?, ended = ?, {', '.join(f'{k} = ?' for k in keys)} "
                       "WHERE id = ? AND status IN ('queued', 'running')",
                       (status, error, time.time(), *values, run_id))

    def set_note(self, run_id: int, note: str | None) -> None:
        with self._db() as db:
            db.execute("UPDATE runs SET note = ? WHERE id = ?", (note, run_id))

    def request_stop(self, run_id: int) -> None:
        with self._db() as db:
            db.execute("UPDATE runs SET stop_requested = 1 WHERE id = ?", (run_id,))
            db.execute("UPDATE runs SET status = 'stopped', ended = ? WHERE id = ? AND status = 'queued'",
                       (time.time(), run_id))

    def stop_requested(self, run_id: int) -> bool:
        with self._db() as db:
            row = db.execute("SELECT stop_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return bool(row and row[0])

    def delete(self, run_ids: list[int]) -> None:
        with self._db() as db:
            db.executemany("DELETE FROM runs WHERE id = ? AND status NOT IN ('queued', 'running')",
                           [(i,) for i in run_ids])

    def reap(self, interrupted: bool = False) -> list[int]:
        """Mark runs whose worker process is gone: ``failed`` while the server runs; ``interrupted`` when the
        server itself restarts and finds them (the work was cut off from outside, not by the run)."""
        changed = []
        for run in self.runs():
            if run.status in ("running", "queued") and run.pid and not pid_alive(run.pid):
                if interrupted:
                    self.finish(run.id, "interrupted", "the server stopped while this run was going")
                else:
                    self.finish(run.id, "failed", f"the worker process (pid {run.pid}) ended without finishing")
                changed.append(run.id)
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

    def details(self, run_id: int) -> list[tuple[int, list[list[int]], list[float]]]:
        """(step, per-layer histograms, per-layer update ratios) for the steps that recorded them."""
        with self._db() as db:
            rows = db.execute("SELECT step, histograms, update_ratios FROM details WHERE run_id = ? ORDER BY step",
                              (run_id,)).fetchall()
        return [(s, json.loads(h), json.loads(u)) for s, h, u in rows]

    def steps(self, run_id: int, limit: int | None = None) -> list[tuple[int, int, float, float, list[float]]]:
        """(step, epoch, loss, total grad norm, per-layer norms), thinned evenly to at most ``limit`` rows."""
        with self._db() as db:
            count = db.execute("SELECT COUNT(*) FROM steps WHERE run_id = ?", (run_id,)).fetchone()[0]
            every = max(1, -(-count // limit)) if limit else 1
            rows = db.execute("SELECT step, epoch, loss, grad_total, grads FROM steps WHERE run_id = ? "
                              "AND (step % ? = 0 OR step = (SELECT MAX(step) FROM steps WHERE run_id = ?)) "
                              "ORDER BY step", (run_id, every, run_id)).fetchall()
        return [(s, e, loss, total, json.loads(g)) for s, e, loss, total, g in rows]

    def epochs(self, run_id: int) -> list[tuple[int, float, float, float | None, float | None, float]]:
        with self._db() as db:
            return db.execute("SELECT epoch, train_loss, train_acc, val_loss, val_acc, images_per_s FROM epochs "
                              "WHERE run_id = ? ORDER BY epoch", (run_id,)).fetchall()

    def step_count(self, run_id: int) -> int:
        with self._db() as db:
            return db.execute("SELECT COUNT(*) FROM steps WHERE run_id = ?", (run_id,)).fetchone()[0]


def _run(row: dict[str, Any]) -> Run:
    return Run(row["id"], from_dict(json.loads(row["config"])), row["label"], row["grp"], row["status"],
               row["error"], row["created"], row["started"], row["ended"], row["pid"], bool(row["stop_requested"]),
               row["total_steps"], json.loads(row["layers"] or "[]"), json.loads(row["classes"] or "[]"),
               row["diverged_step"], row["test_acc"], row["test_loss"], row["images_per_s"], row["wall_s"],
               row["note"])


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
            self.store.add_steps(self.run_id, self.pending)
            self.pending = []
        self.last_flush = time.monotonic()


def default_store() -> Store:
    from augviz.data import home

    return Store(home() / "runs.sqlite")

"""The schema's versions, oldest first: each a step that brings a database from the version before to its own.

A database records the version it has reached in ``schema_version``; opening it runs the steps after that, in
one go, under the engine's lock (so two processes opening a new database at once do it once). Each step is
written so that it also brings a database made before versions were recorded (no ``schema_version`` table) to
its own version: it creates what is missing and keeps what is there. A database of a newer version is left as
it is: its added columns do not stop this version reading the ones it knows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from augviz.store.engine import Connection, Engine


def _tables(db: Connection, engine: Engine) -> None:
    db.execute(f"""CREATE TABLE IF NOT EXISTS runs (
        id {engine.id_column},
        config TEXT NOT NULL,
        label TEXT NOT NULL,
        grp TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        error TEXT,
        created {engine.double} NOT NULL,
        started {engine.double},
        ended {engine.double},
        pid INTEGER,
        stop_requested {engine.double} NOT NULL DEFAULT 0,
        total_steps INTEGER,
        layers TEXT,
        classes TEXT,
        diverged_step INTEGER,
        test_acc {engine.double},
        test_loss {engine.double},
        images_per_s {engine.double},
        wall_s {engine.double})""")
    db.execute("CREATE INDEX IF NOT EXISTS runs_status ON runs(status)")
    db.execute(f"""CREATE TABLE IF NOT EXISTS steps (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        loss {engine.double} NOT NULL,
        grad_total {engine.double} NOT NULL,
        grads TEXT NOT NULL,
        PRIMARY KEY (run_id, step))""")
    db.execute("""CREATE TABLE IF NOT EXISTS details (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        histograms TEXT NOT NULL,
        update_ratios TEXT NOT NULL,
        PRIMARY KEY (run_id, step))""")
    db.execute(f"""CREATE TABLE IF NOT EXISTS epochs (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,
        train_loss {engine.double}, train_acc {engine.double}, val_loss {engine.double}, val_acc {engine.double},
        images_per_s {engine.double},
        PRIMARY KEY (run_id, epoch))""")


def _add_columns(**kinds: str) -> Callable[[Connection, Engine], None]:
    """A step that adds columns to ``runs`` (``kinds``: name → type; "double" is the engine's double)."""

    def step(db: Connection, engine: Engine) -> None:
        have = engine.columns(db, "runs")
        for column, kind in kinds.items():
            if column not in have:
                db.execute(f"ALTER TABLE runs ADD COLUMN {column} {engine.double if kind == 'double' else kind}")

    return step


def _fingerprints(db: Connection, engine: Engine) -> None:
    _add_columns(fingerprint="TEXT")(db, engine)
    db.execute("CREATE INDEX IF NOT EXISTS runs_fingerprint ON runs(fingerprint)")


@dataclass(frozen=True)
class Migration:
    version: int
    what: str
    apply: Callable[[Connection, Engine], None]


MIGRATIONS = (
    Migration(1, "runs, their steps, epochs and gradient details", _tables),
    Migration(2, "a run's progress note, its error's kind and the visitor who queued it",
              _add_columns(note="TEXT", progress="double", error_kind="TEXT", session="TEXT")),
    Migration(3, "the machine whose process runs a run (replicas sharing one database judge only their own)",
              _add_columns(host="TEXT")),
    Migration(4, "the launch key that makes one click queue one launch", _add_columns(launch_key="TEXT")),
    Migration(5, "a run's fingerprint key, indexed: a plan finds its stored runs without reading them all "
                 "(runs stored before are keyed when first read: Store.serving)", _fingerprints),
)
LATEST = MIGRATIONS[-1].version


def version(db: Connection, engine: Engine) -> int:
    """The version a database has reached (0: none recorded, new or made before versions were)."""
    if "version" not in engine.columns(db, "schema_version"):
        return 0
    row = db.execute("SELECT MAX(version) AS v FROM schema_version").fetchone()
    return int(row["v"] or 0) if row else 0


def migrate(db: Connection, engine: Engine) -> int:
    """Bring the database to ``LATEST``, inside the caller's transaction and lock; returns the version found."""
    found = version(db, engine)
    if found >= LATEST:
        return found
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    for m in MIGRATIONS:
        if m.version > found:
            m.apply(db, engine)
    db.execute("DELETE FROM schema_version")
    db.execute("INSERT INTO schema_version (version) VALUES (?)", (LATEST,))
    return found

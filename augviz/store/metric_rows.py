"""Reading and writing a run's metric rows: steps, epochs and the gradient lab's details.

Primary keys on (run, step) and (run, epoch) make a retried write a no-op (``ON CONFLICT DO NOTHING``), never a
duplicate; lists (per-layer norms, histograms) are stored as JSON text.
"""

from __future__ import annotations

import json

from augviz.metrics import DetailMetrics, EpochMetrics, StepMetrics
from augviz.store.engine import Connection


def add_steps(db: Connection, run_id: int, rows: list[StepMetrics]) -> None:
    db.executemany("INSERT INTO steps (run_id, step, epoch, loss, grad_total, grads) VALUES (?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT DO NOTHING",
                   [(run_id, m.step, m.epoch, m.loss, m.grad_total, json.dumps(m.grad_norms)) for m in rows])


def add_epoch(db: Connection, run_id: int, m: EpochMetrics) -> None:
    db.execute("INSERT INTO epochs (run_id, epoch, train_loss, train_acc, val_loss, val_acc, images_per_s) "
               "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
               (run_id, m.epoch, m.train_loss, m.train_acc, m.val_loss, m.val_acc, m.images_per_s))


def add_detail(db: Connection, run_id: int, m: DetailMetrics) -> None:
    db.execute("INSERT INTO details (run_id, step, histograms, update_ratios) VALUES (?, ?, ?, ?) "
               "ON CONFLICT DO NOTHING", (run_id, m.step, json.dumps(m.histograms), json.dumps(m.update_ratios)))


def details(db: Connection, run_id: int, after: int = 0) -> list[DetailMetrics]:
    rows = db.execute("SELECT step, histograms, update_ratios FROM details WHERE run_id = ? AND step > ? "
                      "ORDER BY step", (run_id, after)).fetchall()
    return [DetailMetrics(r["step"], json.loads(r["histograms"]), json.loads(r["update_ratios"])) for r in rows]


def steps(db: Connection, run_id: int, limit: int | None) -> list[StepMetrics]:
    """Step metrics, thinned evenly to at most ``limit`` rows (the last step always kept)."""
    count = step_count(db, run_id)
    return steps_after(db, run_id, 0, max(1, -(-count // limit)) if limit else 1)


def steps_after(db: Connection, run_id: int, after: int, every: int = 1) -> list[StepMetrics]:
    """The steps after step ``after`` whose number is a multiple of ``every``, and the run's newest step: what a
    page that watches a run reads each time (only what is new; the primary key makes it a range scan)."""
    rows = db.execute("SELECT step, epoch, loss, grad_total, grads FROM steps WHERE run_id = ? AND step > ? "
                      "AND (step % ? = 0 OR step = (SELECT MAX(step) FROM steps WHERE run_id = ?)) "
                      "ORDER BY step", (run_id, after, every, run_id)).fetchall()
    return [StepMetrics(step=r["step"], epoch=r["epoch"], loss=r["loss"], grad_norms=json.loads(r["grads"]),
                        grad_total=r["grad_total"]) for r in rows]


def epochs(db: Connection, run_id: int, after: int = 0) -> list[EpochMetrics]:
    rows = db.execute("SELECT epoch, train_loss, train_acc, val_loss, val_acc, images_per_s FROM epochs "
                      "WHERE run_id = ? AND epoch > ? ORDER BY epoch", (run_id, after)).fetchall()
    return [EpochMetrics(**r) for r in rows]


def step_count(db: Connection, run_id: int) -> int:
    return int(db.execute("SELECT COUNT(*) AS n FROM steps WHERE run_id = ?", (run_id,)).fetchone()["n"])

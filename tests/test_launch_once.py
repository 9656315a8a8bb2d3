"""One click, one launch: a launch key makes queuing a planned set of runs happen once while those runs go, even
when two requests arrive at once (a double click), and not after they ended."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

from augviz.runconfig import RunConfig
from augviz.store import Store

TINY = RunConfig(train_size=250, epochs=1, batch_size=64)


def test_a_second_launch_with_the_same_key_queues_nothing_and_returns_the_first_runs(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    first = store.create_many([TINY, TINY], key="plan-a")
    again = store.create_many([TINY, TINY], key="plan-a")
    assert again == first
    assert len(store.runs()) == 2
    assert store.launch_going("plan-a") == first


def test_another_key_or_no_key_queues_its_own_runs(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    store.create_many([TINY], key="plan-a")
    store.create_many([TINY], key="plan-b")
    store.create_many([TINY])
    store.create_many([TINY])
    assert len(store.runs()) == 4


def test_once_its_runs_have_ended_the_same_launch_can_run_again(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    (first,) = store.create_many([TINY], key="plan-a")
    store.finish(first, "finished", test_acc=0.5)
    assert store.launch_going("plan-a") == []
    (second,) = store.create_many([TINY], key="plan-a")
    assert second != first


def _launch(path: str, barrier, out) -> None:
    barrier.wait()
    out.put(Store(Path(path)).create_many([TINY, TINY, TINY], key="double-click"))


def test_two_launches_at_the_same_moment_queue_one_set_of_runs(tmp_path):
    path = tmp_path / "runs.sqlite"
    Store(path)
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_launch, args=(str(path), barrier, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert results[0] == results[1]
    assert len(Store(path).runs()) == 3


def test_a_database_from_before_launch_keys_gets_the_column(tmp_path):
    path = tmp_path / "runs.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, config TEXT NOT NULL, label TEXT NOT "
                   "NULL, grp TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, error TEXT, created REAL NOT NULL, "
                   "started REAL, ended REAL, pid INTEGER, stop_requested REAL NOT NULL DEFAULT 0, total_steps "
                   "INTEGER, layers TEXT, classes TEXT, diverged_step INTEGER, test_acc REAL, test_loss REAL, "
                   "images_per_s REAL, wall_s REAL)")
        db.execute("INSERT INTO runs (config, label, status, created) VALUES (?, 'old', 'finished', 0)",
                   (TINY.to_json(),))
    store = Store(path)
    assert store.runs()[0].launch_key is None
    ids = store.create_many([TINY], key="k")
    assert store.create_many([TINY], key="k") == ids

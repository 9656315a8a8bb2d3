"""The run store as a specification: rows are typed, listing is cheap, a bad row or a bad file is a message and
never the end of the store, settings are checked, and two processes creating it at once both succeed."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from augviz import runconfig
from augviz import store as store_module
from augviz.errors import ConfigError, QueueFull, SettingError, StoreError
from augviz.runconfig import RunConfig
from augviz.store import Run, Store
from augviz.train import EpochMetrics, StepMetrics

TINY = RunConfig(train_size=250, epochs=1, batch_size=64)


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "runs.sqlite")


def newer_version_row(db_path, label: str = "from a newer version") -> None:
    """A run written by a later augviz sharing the home: a field this version does not know."""
    with sqlite3.connect(db_path) as db:
        db.execute("INSERT INTO runs (config, label, grp, status, created) VALUES (?, ?, '', 'finished', 0)",
                   (json.dumps({**TINY.to_dict(), "scheduler": "cosine"}), label))


def test_rows_come_back_as_named_fields(store):
    run_id = store.create(TINY)
    store.add_steps(run_id, [StepMetrics(step=1, epoch=1, loss=2.5, grad_norms=[0.1, 0.2], grad_total=0.3)])
    store.add_epoch(run_id, EpochMetrics(1, 2.0, 0.4, 1.9, 0.5, 800.0))
    (step,) = store.steps(run_id)
    assert (step.step, step.loss, step.grad_norms, step.grad_total) == (1, 2.5, [0.1, 0.2], 0.3)
    (epoch,) = store.epochs(run_id)
    assert (epoch.epoch, epoch.val_acc, epoch.images_per_s) == (1, 0.5, 800.0)
    run = store.get(run_id)
    assert isinstance(run, Run) and run.config == TINY and run.group == "" and run.progress is None


def test_a_run_this_version_cannot_read_is_listed_as_unreadable_with_why(store):
    good = store.create(TINY)
    newer_version_row(store.path)
    runs = store.runs()
    assert [r.label for r in runs] == [TINY.label(), "from a newer version"]
    assert runs[0].id == good and runs[0].unreadable is None
    assert "scheduler" in runs[1].unreadable
    with pytest.raises(ConfigError, match="scheduler"):
        runs[1].config  # noqa: B018 (reading it is the point)
    assert store.reap() == []  # upkeep walks past it


def test_listing_and_upkeep_parse_no_configuration(store, monkeypatch):
    """The run panel lists and reaps every second: that must cost queries, not a validation per stored run."""
    tag = uuid.uuid4().hex  # configurations no earlier test has parsed
    for i in range(200):
        store.create(RunConfig(train_size=250, epochs=1, name=f"{tag}-{i}"))
    parsed = []
    real = runconfig.from_dict
    monkeypatch.setattr(store_module, "from_dict", lambda doc: parsed.append(1) or real(doc))
    store.reap()
    runs = store.runs()
    store.get(runs[-1].id)
    assert parsed == []
    assert [r.config.name for r in runs][-1] == f"{tag}-199"  # on demand, when a page needs it
    assert len(parsed) == 200
    [r.config for r in store.runs()]
    assert len(parsed) == 200  # and once per stored configuration


def test_runs_can_be_asked_for_by_ids_and_newest_first_limit(store):
    ids = [store.create(RunConfig(train_size=250, seed=i)) for i in range(5)]
    assert [r.id for r in store.runs(limit=2)] == ids[-2:]
    assert [r.id for r in store.runs(ids=[ids[3], ids[0]])] == [ids[0], ids[3]]
    assert [r.id for r in store.runs(statuses=("queued",), limit=1)] == ids[-1:]


@pytest.mark.parametrize("damage", ["deleted", "replaced by an empty file", "overwritten with garbage"])
def test_the_store_reopens_itself_when_its_file_is_damaged(store, damage):
    store.create(TINY)
    if damage == "deleted":
        store.path.unlink()
    elif damage == "replaced by an empty file":
        store.path.unlink()
        store.path.write_bytes(b"")
    else:
        store.path.write_bytes(b"this is not a database at all " * 200)
    assert store.runs() == []  # a fresh store, not "no such table: runs" or a raw DatabaseError
    assert store.get(store.create(TINY)).status == "queued"
    if damage == "overwritten with garbage":  # kept for a look, not thrown away
        (aside,) = store.path.parent.glob("runs.sqlite.corrupt-*")
        assert aside.read_bytes().startswith(b"this is not a database")


def test_a_database_of_an_older_version_gains_the_new_columns(tmp_path):
    path = tmp_path / "runs.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, config TEXT NOT NULL, label TEXT "
                   "NOT NULL, grp TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, error TEXT, created REAL NOT "
                   "NULL, started REAL, ended REAL, pid INTEGER, stop_requested INTEGER NOT NULL DEFAULT 0, "
                   "total_steps INTEGER, layers TEXT, classes TEXT, diverged_step INTEGER, test_acc REAL, "
                   "test_loss REAL, images_per_s REAL, wall_s REAL)")
        db.execute("INSERT INTO runs (config, label, status, created) VALUES (?, 'old', 'finished', 0)",
                   (TINY.to_json(),))
    (run,) = Store(path).runs()
    assert run.label == "old" and run.note is None and run.progress is None and run.error_kind is None


@pytest.mark.parametrize("value", ["abc", "inf", "nan", "-1", "1e9"])
def test_a_bad_database_timeout_setting_is_a_clear_message(tmp_path, monkeypatch, value):
    monkeypatch.setenv("AUGVIZ_DB_TIMEOUT", value)
    with pytest.raises(SettingError, match=f"AUGVIZ_DB_TIMEOUT='{value}'"):
        Store(tmp_path / "runs.sqlite")


@pytest.mark.parametrize("value", ["²", "abc", "0", "1.5", "-2"])
def test_a_bad_run_limit_setting_is_a_clear_message(monkeypatch, value):
    from augviz import worker

    monkeypatch.setenv("AUGVIZ_MAX_RUNS", value)
    with pytest.raises(SettingError, match="AUGVIZ_MAX_RUNS"):
        worker.max_concurrent()


def test_a_setting_error_is_a_store_error_so_pages_show_it():
    assert issubclass(SettingError, StoreError) and issubclass(QueueFull, StoreError)


def test_a_lone_surrogate_in_a_name_is_refused_naming_the_field(store):
    with pytest.raises(ConfigError, match=r"name.*U\+D800"):
        store.create(RunConfig(name="bad \ud800 name"))
    assert store.runs() == []


def test_caps_on_queued_runs_refuse_before_queuing_anything(store):
    store.create_many([TINY] * 3, session="a", caps=(5, 3))
    with pytest.raises(QueueFull, match=r"this session.*AUGVIZ_MAX_QUEUED_PER_SESSION"):
        store.create_many([TINY], session="a", caps=(5, 3))
    with pytest.raises(QueueFull, match=r"server.*AUGVIZ_MAX_QUEUED"):
        store.create_many([TINY] * 3, session="b", caps=(5, 3))
    assert len(store.runs()) == 3  # all or nothing
    assert store.queue_room(2, "b", 5, 3) is None
    store.create_many([TINY] * 2, session="b", caps=(5, 3))


def _open_and_write(path: str, start_at: float, errors) -> None:
    while time.time() < start_at:
        time.sleep(0.001)
    try:
        Store(Path(path)).create(TINY)
    except Exception as e:
        errors.put(f"{type(e).__name__}: {e}")


def test_processes_creating_a_new_database_at_once_all_wait_their_turn(tmp_path):
    """Twenty processes (forked, so they are ready at the same instant) open a database that does not exist yet."""
    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    for attempt in range(3):
        path = tmp_path / f"new-{attempt}.sqlite"
        start_at = time.time() + 1.0
        procs = [ctx.Process(target=_open_and_write, args=(str(path), start_at, errors)) for _ in range(20)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert all(p.exitcode == 0 for p in procs)
        found = []
        while not errors.empty():
            found.append(errors.get())
        assert found == [], found[:3]
        assert len(Store(path).runs()) == 20


def test_a_watching_page_reads_only_the_rows_after_what_it_has(store):
    run_id = store.create(TINY, status="running")
    store.add_steps(run_id, [StepMetrics(s, 1 + s // 4, 1.0 / s, [0.1], 0.1) for s in range(1, 11)])
    for e in (1, 2, 3):
        store.add_epoch(run_id, EpochMetrics(e, 1.0, 0.5, 1.0, 0.5, 100.0))
    other = store.create(TINY, status="running")  # another run's rows are never read
    store.add_steps(other, [StepMetrics(s, 1, 1.0, [0.1], 0.1) for s in range(1, 30)])
    assert [m.step for m in store.steps_after(run_id, 6)] == [7, 8, 9, 10]
    assert [m.step for m in store.steps_after(run_id, 0, every=4)] == [4, 8, 10]  # and the newest, 10
    assert [m.step for m in store.steps_after(run_id, 10)] == []
    assert [e.epoch for e in store.epochs(run_id, after=1)] == [2, 3]
    assert store.steps_after(run_id, 0) == store.steps(run_id)


def test_the_store_counts_its_runs(store):
    assert store.count() == 0
    store.create_many([TINY] * 3)
    assert store.count() == 3

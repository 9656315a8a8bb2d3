"""The run store as a specification: rows are typed, listing is cheap, a bad row or a bad file is a message and
never the end of the store, settings are checked, and two processes creating it at once both succeed.

Every test that takes the ``store`` fixture runs on both engines: the SQLite file (the default) and a real
PostgreSQL server (tests/postgres.py)."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from augviz import runconfig
from augviz.errors import ConfigError, QueueFull, SettingError, StoreError
from augviz.metrics import DetailMetrics, EpochMetrics, StepMetrics
from augviz.runconfig import RunConfig
from augviz.store import CLI_VISITOR, Run, Store, default_store, migrations, open_store
from augviz.store import runs as runs_module

TINY = RunConfig(train_size=250, epochs=1, batch_size=64)


@pytest.fixture
def store(store_on_each_engine: Store) -> Store:
    return store_on_each_engine


def newer_version_row(store: Store, label: str = "from a newer version") -> None:
    """A run written by a later augviz sharing the database: a field this version does not know."""
    with store.engine.connection() as db:
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
    newer_version_row(store)
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
    monkeypatch.setattr(runconfig, "from_dict", lambda doc: parsed.append(1) or real(doc))
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
def test_the_store_reopens_itself_when_its_file_is_damaged(tmp_path, damage):
    store = Store(tmp_path / "runs.sqlite")
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
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(migrations.LATEST,)]


def test_a_postgresql_database_of_the_first_version_is_migrated_to_the_latest(postgres_url, tmp_path, monkeypatch):
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE runs (id INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, config TEXT NOT "
                     "NULL, label TEXT NOT NULL, grp TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, error TEXT, "
                     "created DOUBLE PRECISION NOT NULL, started DOUBLE PRECISION, ended DOUBLE PRECISION, pid "
                     "INTEGER, stop_requested DOUBLE PRECISION NOT NULL DEFAULT 0, total_steps INTEGER, layers "
                     "TEXT, classes TEXT, diverged_step INTEGER, test_acc DOUBLE PRECISION, test_loss DOUBLE "
                     "PRECISION, images_per_s DOUBLE PRECISION, wall_s DOUBLE PRECISION)")
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (1)")
        conn.execute("INSERT INTO runs (config, label, status, created) VALUES (%s, 'old', 'finished', 0)",
                     (TINY.to_json(),))
    (run,) = open_store(postgres_url).runs()
    assert run.label == "old" and run.session is None and run.error_kind is None
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(migrations.LATEST,)]


@pytest.mark.parametrize("value", ["abc", "inf", "nan", "-1", "1e9"])
def test_a_bad_database_timeout_setting_is_a_clear_message(tmp_path, monkeypatch, value):
    monkeypatch.setenv("AUGVIZ_DB_TIMEOUT", value)
    with pytest.raises(SettingError, match=f"AUGVIZ_DB_TIMEOUT='{value}'"):
        Store(tmp_path / "runs.sqlite")


@pytest.mark.parametrize("value", ["mysql://me@db/runs", "runs.sqlite", "postgresql://host:port/runs",
                                   "postgresql://me@db"])
def test_a_bad_database_address_is_a_clear_message_without_the_password(tmp_path, monkeypatch, value):
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("AUGVIZ_DB", value.replace("me@", "me:secret@"))
    with pytest.raises(SettingError, match=r"AUGVIZ_DB=.*expected postgresql://") as caught:
        default_store()
    assert "secret" not in str(caught.value)


def test_an_unset_database_address_is_the_sqlite_file_and_loads_no_psycopg(tmp_path):
    probe = ("import os, sys; os.environ.pop('AUGVIZ_DB', None); os.environ['AUGVIZ_HOME'] = sys.argv[1]\n"
             "from augviz.store import default_store\n"
             "s = default_store(); s.runs()\n"
             "assert s.engine.name == 'SQLite' and s.path.name == 'runs.sqlite', s.address\n"
             "assert 'psycopg' not in sys.modules and 'torch' not in sys.modules\n")
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_a_postgresql_server_that_cannot_be_reached_is_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AUGVIZ_DB", f"postgresql://augviz:secret@127.0.0.1:{port}/runs")
    with pytest.raises(StoreError, match=rf"PostgreSQL run database at 127.0.0.1:{port}/runs cannot be reached.*"
                                         "is the server running") as caught:
        default_store()
    assert "secret" not in str(caught.value)


def test_a_postgresql_server_that_restarts_mid_session_is_reconnected_to(postgres_server, postgres_url, tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    store = open_store(postgres_url)
    first = store.create(TINY)
    postgres_server.pg_ctl("restart")  # every connection the store held is gone
    second = store.create(TINY)
    assert [r.id for r in store.runs()] == [first, second]
    postgres_server.pg_ctl("stop")
    try:
        with pytest.raises(StoreError, match="cannot be reached"):
            store.runs()
    finally:
        postgres_server.pg_ctl("start")
    assert [r.id for r in store.runs()] == [first, second]  # back, with nothing lost


def test_a_locked_postgresql_table_is_a_clear_error_and_loses_nothing(postgres_url, tmp_path, monkeypatch):
    import psycopg

    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("AUGVIZ_DB_TIMEOUT", "0.3")
    store = open_store(postgres_url)
    first = store.create(TINY)
    with psycopg.connect(postgres_url) as blocker:  # a transaction holding the table (not committed)
        blocker.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(StoreError, match="locked"):
            store.create(TINY)
        blocker.rollback()
    second = store.create(TINY)
    assert [r.id for r in store.runs()] == [first, second]


def test_a_process_passes_its_postgresql_store_to_another_without_the_password(postgres_server, tmp_path,
                                                                              monkeypatch):
    schema = postgres_server.fresh_schema()
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    with_password = postgres_server.url(schema).replace("postgres@", "postgres:unused@")  # trust: any password
    monkeypatch.setenv("AUGVIZ_DB", with_password)
    store = default_store()
    assert "unused" not in store.address
    assert open_store(store.address).engine.url == with_password  # the child reads it from $AUGVIZ_DB


def _claim_all(address: str, start_at: float, limit: int, out) -> None:
    while time.time() < start_at:
        time.sleep(0.001)
    store = open_store(address)
    claimed = []
    while (run_id := store.claim_next(os.getpid(), limit)) is not None:
        claimed.append(run_id)
    out.put(claimed)


def test_launchers_claiming_at_once_never_pass_the_limit_nor_share_a_run(store):
    """Eight processes (forked, ready at the same instant) claim from one queue of 30 with room for 20."""
    ids = store.create_many([TINY] * 30)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 1.0
    procs = [ctx.Process(target=_claim_all, args=(store.address, start_at, 20, out)) for _ in range(8)]
    for p in procs:
        p.start()
    claimed = [run_id for _ in procs for run_id in out.get(timeout=120)]
    for p in procs:
        p.join(60)
    assert sorted(claimed) == ids[:20]  # each once, oldest first, and no more than the limit
    assert [r.status for r in store.runs()] == ["running"] * 20 + ["queued"] * 10


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
    with pytest.raises(QueueFull, match=r"queued by you.*AUGVIZ_MAX_QUEUED_PER_VISITOR"):
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


# ---- the queue's order -------------------------------------------------------------------------------------

def _claim_order(store: Store) -> list[str]:
    """Claim one run at a time (one slot, each ended before the next claim): whose run started, in order."""
    whose = []
    while (run_id := store.claim_next(pid=1, limit=1)) is not None:
        whose.append(store.get(run_id).session)
        store.finish(run_id, "finished")
    return whose


def test_first_come_first_served_makes_one_run_wait_behind_a_whole_sweep(store):
    store.order = "fifo"
    sweep = store.create_many([TINY] * 20, session="sweeper")
    (single,) = store.create_many([TINY], session="student")
    assert store.queue_position(single) == 21 and [r.id for r in store.queue_ahead(single)] == sweep
    assert _claim_order(store) == ["sweeper"] * 20 + ["student"]


def test_the_fair_queue_takes_visitors_round_robin(store):
    assert store.order == "fair"  # the default
    store.create_many([TINY] * 20, session="sweeper")
    (single,) = store.create_many([TINY], session="student")
    assert store.queue_position(single) == 2  # behind the sweep's first run only
    assert [r.session for r in store.queue_ahead(single)] == ["sweeper"]
    assert _claim_order(store) == ["sweeper", "student"] + ["sweeper"] * 19


def test_a_late_visitor_waits_behind_at_most_one_run_of_each_other_visitor(store):
    store.create_many([TINY] * 6, session="a")
    store.create_many([TINY] * 4, session="b")
    first = store.claim_next(pid=1, limit=1)  # a's first run starts; a was served last
    (late,) = store.create_many([TINY], session="c")
    assert sorted(r.session for r in store.queue_ahead(late)) == ["b"]  # a has had its turn this round
    store.finish(first, "finished")
    assert _claim_order(store) == ["b", "c", "a", "b", "a", "b", "a", "b", "a", "a"]


def test_a_stopped_queued_run_leaves_the_order_and_its_visitors_next_takes_its_turn(store):
    a1, a2 = store.create_many([TINY] * 2, session="a")
    (b1,) = store.create_many([TINY], session="b")
    assert [store.queue_position(i) for i in (a1, b1, a2)] == [1, 2, 3]
    store.request_stop(a1)
    assert store.queue_position(a1) is None and store.queue_ahead(a1) == []
    assert [store.queue_position(i) for i in (a2, b1)] == [1, 2]  # a was never served: still a's turn


def test_caps_count_per_visitor(store):
    store.create_many([TINY] * 3, session="sweeper", caps=(10, 3))
    with pytest.raises(QueueFull, match=r"4 queued by you, over the cap of 3 a visitor"):
        store.create_many([TINY], session="sweeper", caps=(10, 3))
    assert store.create_many([TINY] * 3, session="student", caps=(10, 3))  # another visitor has room of their own


def test_a_cli_run_waiting_in_its_own_process_claims_its_own_turn(store):
    (cli,) = store.create_many([TINY], pid=12345, session=CLI_VISITOR)
    (app,) = store.create_many([TINY], session="student")
    assert store.claim_next(pid=1, limit=1) is None  # the CLI's turn: the launcher leaves it to that process
    assert store.claim(app, pid=2, limit=1) is False
    assert store.claim(cli, pid=12345, limit=1) is True


def test_upkeep_ends_only_the_runs_of_this_machine_whose_process_is_gone(store):
    """Replicas on several machines share a PostgreSQL store: a pid means something only where it was written."""
    ended = subprocess.Popen(["true"])
    ended.wait()  # a pid no process has any more
    here, there = store.create_many([TINY] * 2)
    assert store.claim_next(pid=ended.pid, limit=2) == here
    assert store.claim_next(pid=ended.pid, limit=2) == there
    with store.engine.connection() as db:
        db.execute("UPDATE runs SET host = 'another-machine' WHERE id = ?", (there,))
    assert store.get(here).host == runs_module.HOST
    assert store.reap() == [here]
    assert store.get(here).status == "failed" and store.get(there).status == "running"


def test_each_machine_fills_its_own_slots_from_the_shared_queue(store):
    elsewhere, mine = store.create_many([TINY] * 2)
    assert store.claim_next(pid=os.getpid(), limit=1) == elsewhere
    assert store.claim_next(pid=os.getpid(), limit=1) is None  # this machine's one slot is taken
    with store.engine.connection() as db:
        db.execute("UPDATE runs SET host = 'another-machine' WHERE id = ?", (elsewhere,))
    assert store.claim_next(pid=os.getpid(), limit=1) == mine  # that run trains on another machine


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


def test_metrics_of_several_runs_are_written_together_in_order(store):
    first, second = store.create(TINY), store.create(TINY)
    store.add_metrics([
        (first, "steps", [StepMetrics(1, 1, 2.0, [0.1], 0.1), StepMetrics(2, 1, 1.5, [0.2], 0.2)]),
        (second, "steps", [StepMetrics(1, 1, 2.5, [0.3], 0.3)]),
        (first, "epoch", EpochMetrics(1, 1.8, 0.3, 1.7, 0.4, 900.0)),
        (second, "detail", DetailMetrics(1, [[0, 1]], [0.01])),
    ])
    assert [(s.step, s.loss) for s in store.steps(first)] == [(1, 2.0), (2, 1.5)]
    assert [(s.step, s.loss) for s in store.steps(second)] == [(1, 2.5)]
    assert [e.val_acc for e in store.epochs(first)] == [0.4] and not store.epochs(second)
    assert [d.update_ratios for d in store.details(second)] == [[0.01]] and not store.details(first)


def test_a_metric_write_that_fails_writes_none_of_its_batch(store):
    run_id = store.create(TINY)
    with pytest.raises(ValueError, match="unknown metric write 'loss'"):
        store.add_metrics([(run_id, "steps", [StepMetrics(1, 1, 2.0, [0.1], 0.1)]), (run_id, "loss", 1.0)])
    assert store.steps(run_id) == []  # one transaction: rolled back together

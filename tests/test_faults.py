"""Faults a shared server meets: a locked or unusable database, a server killed mid-run, ten sessions at once,
and on PostgreSQL a server that is not there or whose disk is full."""

from __future__ import annotations

import errno
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from augviz import worker
from augviz.errors import DiskFull, StoreError
from augviz.metrics import StepMetrics
from augviz.runconfig import RunConfig
from augviz.store import Store, default_store, open_store, pid_alive
from tests import postgres
from tests.polling import running, wait_for

APP = str(Path(__file__).parents[1] / "app.py")
TINY = RunConfig(train_size=250, epochs=1, batch_size=64)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("AUGVIZ_MAX_RUNS", "1")
    yield tmp_path
    db = tmp_path / "runs.sqlite"
    if db.exists():
        worker.shutdown(Store(db))  # leave no launcher or worker behind


def test_a_locked_database_is_a_clear_error_and_loses_nothing(home):
    store = Store(home / "runs.sqlite", timeout=0.3)
    first = store.create(TINY)
    blocker = sqlite3.connect(home / "runs.sqlite", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked"):
            store.create(TINY)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    second = store.create(TINY)
    assert [r.id for r in store.runs()] == [first, second]


def test_a_database_that_cannot_be_created_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreError, match="cannot be opened"):
        Store(tmp_path / "file" / "runs.sqlite")


def test_a_read_only_database_is_a_clear_error():
    """Read-only for real: the file and its folder allow no writing to the user who tries."""
    folder = Path(tempfile.mkdtemp(prefix="augviz-ro-"))
    try:
        Store(folder / "runs.sqlite").create(TINY)
        (folder / "runs.sqlite").chmod(0o444)
        folder.chmod(0o555)
        # As root (CI), import everything first, then become the unprivileged user ``nobody``: root writes
        # through read-only permissions, and nobody cannot reach the interpreter's own files under /root.
        probe = ("import os, sys; from pathlib import Path; from augviz.store import Store\n"
                 "from augviz.runconfig import RunConfig; from augviz.errors import StoreError\n"
                 "if os.geteuid() == 0:\n    os.setgid(65534); os.setuid(65534)\n"
                 "try:\n    Store(Path(sys.argv[1])).create(RunConfig())\n"
                 "except StoreError as e:\n    print(e); sys.exit(3)\n")
        out = subprocess.run([sys.executable, "-c", probe, str(folder / "runs.sqlite")], capture_output=True,
                             text=True, timeout=120, cwd=Path(APP).parent)
        assert out.returncode == 3, out.stderr
        assert "readonly" in out.stdout or "read-only" in out.stdout or "cannot be opened" in out.stdout
        assert len(Store(folder / "runs.sqlite").runs()) == 1  # nothing lost
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def test_the_train_page_shows_a_locked_database_and_keeps_working(home, monkeypatch):
    monkeypatch.setenv("AUGVIZ_DB_TIMEOUT", "0.3")
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("pages/train.py").run()
    blocker = sqlite3.connect(home / "runs.sqlite", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        at.sidebar.button(key="t_start").click().run()
        assert not at.exception
        assert "locked" in at.error[0].value
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    at.sidebar.slider(key="t_size").set_value(250)
    at.sidebar.toggle(key="t_by_epochs").set_value(True).run()
    at.sidebar.slider(key="t_epochs").set_value(1).run()
    at.sidebar.button(key="t_start").click().run()
    assert not at.exception and len(Store(home / "runs.sqlite").runs()) == 1


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_database_in_an_unusable_place_is_shown_on_the_pages(tmp_path, monkeypatch, engine):
    if engine == "sqlite":
        (tmp_path / "file").write_text("not a folder")
        monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path / "file"))
        expected = "cannot be opened"
    else:  # a server that is not there
        monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            monkeypatch.setenv("AUGVIZ_DB", f"postgresql://augviz@127.0.0.1:{s.getsockname()[1]}/runs")
        expected = "cannot be reached"
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    for page in ("train", "runs", "gradients"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, page
        assert expected in at.error[0].value, page


@pytest.fixture
def pg_home(tmp_path, monkeypatch, postgres_url):
    """A run home whose store is on the session's PostgreSQL server; every launcher and worker stopped after."""
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("AUGVIZ_MAX_RUNS", "1")
    monkeypatch.setenv("AUGVIZ_DB", postgres_url)
    store = default_store()
    yield store
    worker.shutdown(store)


def test_runs_on_postgresql_go_through_the_launcher_with_every_metric_once(pg_home):
    """The launcher and its workers are separate processes: they reach the server from the address they are
    given (no password on their command lines) and $AUGVIZ_DB."""
    store = pg_home
    ids = worker.launch_all(store, [TINY, replace(TINY, seed=1)], session="address:10.0.0.1")
    wait_for(lambda: all(store.get(i).is_over for i in ids), 300, "both runs to end")
    for run in store.runs(ids=ids):
        assert run.status == "finished", run.error
        assert [s.step for s in store.steps(run.id)] == list(range(1, run.total_steps + 1))
        assert [e.epoch for e in store.epochs(run.id)] == [1]


@pytest.fixture
def small_pg_server(tmp_path):
    """A PostgreSQL server of its own whose data folder is a real 80 MB filesystem (tmpfs), to fill."""
    folder = Path(tempfile.mkdtemp(prefix="augviz-pg-small-"))
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=80m", "tmpfs", str(folder)], capture_output=True)
    if made.returncode != 0:
        folder.rmdir()
        pytest.skip(f"a small filesystem cannot be mounted here ({made.stderr.decode().strip()})")
    try:
        with postgres.serving(folder) as server:
            yield server
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)
        folder.rmdir()


def test_a_full_disk_on_the_postgresql_server_is_a_disk_full_error_and_nothing_is_lost(small_pg_server, tmp_path,
                                                                                       monkeypatch):
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    store = open_store(small_pg_server.url())
    run_id = store.create(TINY)
    store.add_steps(run_id, [StepMetrics(1, 1, 2.0, [0.1], 0.1)])
    fill(small_pg_server.folder)
    many = [StepMetrics(k, 1, 2.0, [0.1] * 20, 0.1) for k in range(2, 20_002)]  # more than the space left

    def write_all() -> None:
        for i in range(0, len(many), 1000):
            store.add_steps(run_id, many[i:i + 1000])

    with pytest.raises(DiskFull, match=r"^disk full: the PostgreSQL run database at .* No space left on device"):
        write_all()
    (small_pg_server.folder / "filler").unlink()  # space again
    assert store.steps(run_id)[0].step == 1 and store.get(run_id).status == "queued"
    store.add_steps(run_id, many[:10])
    assert store.step_count(run_id) >= 11


def test_ten_sessions_launching_at_once_each_get_their_run_with_every_metric_once(home):
    # Each its own seed: an identical configuration that is still going is shown, not queued again (Start once).
    sessions = []
    for seed in range(10):
        at = AppTest.from_file(APP, default_timeout=30)
        at.run()
        at.switch_page("pages/train.py").run()
        at.sidebar.slider(key="t_size").set_value(250)
        at.sidebar.toggle(key="t_by_epochs").set_value(True).run()
        at.sidebar.slider(key="t_epochs").set_value(2)
        at.sidebar.number_input(key="t_seed").set_value(seed).run()
        sessions.append(at)
    for at in sessions:
        at.sidebar.button(key="t_start").click().run()
        assert not at.exception
    store = Store(home / "runs.sqlite")
    runs = store.runs()
    assert len(runs) == 10
    assert sum(r.status == "running" for r in store.runs()) <= 1
    deadline = time.monotonic() + 600  # each run now starts its process when its slot frees (~25 s when contended)
    while not all(r.is_over for r in store.runs()):
        assert time.monotonic() < deadline, "runs did not all end"
        assert sum(r.status == "running" for r in store.runs()) <= 1  # the limit holds throughout
        time.sleep(0.5)
    for r in store.runs():
        assert r.status == "finished", r.error
        assert [s.step for s in store.steps(r.id)] == list(range(1, r.total_steps + 1))
        assert [e.epoch for e in store.epochs(r.id)] == [1, 2]
    with sqlite3.connect(home / "runs.sqlite") as db:
        total = db.execute("SELECT COUNT(*), COUNT(DISTINCT run_id || '-' || step) FROM steps").fetchone()
    assert total[0] == total[1] == sum(r.total_steps for r in store.runs())


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A real 8 MB filesystem (tmpfs) as AUGVIZ_HOME, so that a run can meet a full disk for real."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"a small filesystem cannot be mounted here ({made.stderr.decode().strip()})")
    monkeypatch.setenv("AUGVIZ_HOME", str(mount))
    monkeypatch.setenv("AUGVIZ_MAX_RUNS", "1")
    try:
        yield mount
    finally:
        (mount / "filler").unlink(missing_ok=True)
        worker.shutdown(Store(mount / "runs.sqlite"))
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(folder: Path) -> None:
    """Write until the filesystem says no space is left."""
    with open(folder / "filler", "wb", buffering=0) as f:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise


def test_a_full_disk_ends_the_run_as_failed_with_disk_full_stored(small_disk):
    store = Store(small_disk / "runs.sqlite")
    run_id, pid = running(store, 5)
    fill(small_disk)  # while it is full, even reading fails (SQLite cannot make its -shm file): wait for the worker
    wait_for(lambda: not pid_alive(pid), 120, "the run to end")
    (small_disk / "filler").unlink()  # space again: what did the run record?
    run = store.get(run_id)
    assert run.status == "failed" and run.error_kind == "disk full", (run.status, run.error)
    assert run.error.startswith("disk full") and store.step_count(run_id) >= 5


@pytest.mark.parametrize("damage", ["deleted", "overwritten"])
def test_the_pages_keep_working_when_the_database_file_is_damaged(home, damage):
    store = Store(home / "runs.sqlite")
    store.create(TINY, status="finished")
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    if damage == "deleted":
        (home / "runs.sqlite").unlink()
    else:
        (home / "runs.sqlite").write_bytes(b"not a database " * 100)
    for page in ("train", "runs", "gradients"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [e.value for e in at.error])


def test_the_pages_list_a_run_this_version_cannot_read_and_keep_working(home):
    store = Store(home / "runs.sqlite")
    store.create(TINY, status="finished")
    with sqlite3.connect(home / "runs.sqlite") as db:
        db.execute("INSERT INTO runs (config, label, grp, status, created, ended) VALUES (?, 'from a newer version', "
                   "'', 'finished', 0, 0)", (json.dumps({**TINY.to_dict(), "scheduler": "cosine"}),))
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    for page in ("train", "gradients", "runs"):  # the Runs page names it; the others leave it out
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
    assert "scheduler" in at.warning[0].value and "cannot be read" in at.warning[0].value


def test_the_runs_page_deletes_a_running_run(home):
    store = Store(home / "runs.sqlite")
    run_id, pid = running(store, 3)
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("pages/runs.py").run()
    at.multiselect(key="r_pick").set_value([run_id]).run()
    at.checkbox(key="r_sure").check().run()
    at.button(key="r_delete").click().run()
    assert not at.exception
    assert store.get(run_id) is None
    wait_for(lambda: not pid_alive(pid), 120, "its worker to end")


def test_an_experiment_over_the_queue_cap_is_refused_on_the_page_with_nothing_queued(home):
    """The page's maximum (5 seeds × 7 sizes × 2 arms = 70 runs) against the default caps (40 server-wide)."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("pages/train.py").run()
    at.slider(key="x_seeds").set_value(5)
    at.multiselect(key="x_sizes").set_value([250, 500, 1000, 2000, 5000, 10000, 20000]).run()
    at.button(key="x_go").click().run()
    assert not at.exception
    shown = at.error[0].value.replace("\\", "")  # the message is escaped Markdown
    assert "70 more run(s)" in shown and "cap of 40 (AUGVIZ_MAX_QUEUED" in shown
    assert Store(home / "runs.sqlite").runs() == []


@pytest.mark.parametrize("button", ["t_start", "x_go"])
def test_a_bad_run_limit_setting_is_a_message_on_the_train_page(home, monkeypatch, button):
    monkeypatch.setenv("AUGVIZ_MAX_RUNS", "²")
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("pages/train.py").run()
    (at.sidebar.button(key=button) if button == "t_start" else at.button(key=button)).click().run()
    assert not at.exception
    assert "AUGVIZ\\_MAX\\_RUNS" in at.error[0].value and Store(home / "runs.sqlite").runs() == []

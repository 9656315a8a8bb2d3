"""Worker lifecycle, for real: worker processes queue for a slot, train, stop, die and get found out; the CLI and
the store see the same runs; nothing is lost or written twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from augviz import worker
from augviz.runconfig import RunConfig
from augviz.store import Store, pid_alive

TINY = RunConfig(train_size=250, epochs=1, batch_size=64, val_fraction=0.1)
LONG = RunConfig(train_size=2000, epochs=50, batch_size=16)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("AUGVIZ_MAX_RUNS", "1")
    s = Store(tmp_path / "runs.sqlite")
    yield s
    for run in s.runs():  # leave no worker behind
        if run.pid and pid_alive(run.pid) and run.pid != os.getpid():
            os.kill(run.pid, signal.SIGKILL)
    for proc in worker._children:
        proc.wait(timeout=30)
    worker.reap_children()


def wait_for(predicate, timeout: float = 90, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_runs_queue_behind_the_limit_then_finish_with_every_step_stored(store):
    first = worker.launch(store, LONG)
    second = worker.launch(store, TINY)
    wait_for(lambda: store.get(first).status == "running", what="the first run to start")
    time.sleep(1.5)
    assert store.get(second).status == "queued"
    assert store.queue_position(second) == 1
    store.request_stop(first)
    wait_for(lambda: store.get(first).status == "stopped", what="the first run to stop")
    done = wait_for(lambda: store.get(second).is_over and store.get(second), what="the second run to end")
    assert done.status == "finished", done.error
    assert store.step_count(second) == done.total_steps  # every step, once
    steps = [s[0] for s in store.steps(second)]
    assert steps == list(range(1, done.total_steps + 1))
    assert len(store.epochs(second)) == 1 and done.test_acc is not None


def test_a_queued_run_can_be_stopped_before_it_starts(store):
    first = worker.launch(store, LONG)
    second = worker.launch(store, TINY)
    wait_for(lambda: store.get(first).status == "running", what="the first run to start")
    store.request_stop(second)
    assert store.get(second).status == "stopped"
    store.request_stop(first)
    wait_for(lambda: store.get(first).is_over, what="the first run to end")
    assert store.step_count(second) == 0


def test_a_worker_killed_mid_run_is_marked_failed_and_keeps_its_metrics(store):
    run_id = worker.launch(store, LONG)
    wait_for(lambda: store.step_count(run_id) > 5, what="some steps")
    pid = store.get(run_id).pid
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), what="the worker to die")
    worker.reap_children()
    assert store.reap() == [run_id]
    run = store.get(run_id)
    assert run.status == "failed" and "ended without finishing" in run.error
    assert store.step_count(run_id) > 5


def test_a_server_restart_marks_orphaned_runs_interrupted(store):
    cfg = TINY
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    run_id = store.create(cfg, status="running", pid=int(dead.stdout))
    assert store.reap(interrupted=True) == [run_id]
    assert store.get(run_id).status == "interrupted"
    assert store.reap() == []  # an ended run is never rewritten


def test_the_cli_trains_into_the_same_store_and_lists_runs(store, tmp_path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"train_size": 250, "epochs": 1, "name": "from the CLI"}))
    env = {**os.environ, "AUGVIZ_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "augviz", "train", "--config", str(config)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "test accuracy" in out.stdout and "epoch 1:" in out.stdout
    listed = subprocess.run([sys.executable, "-m", "augviz", "runs"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert "from the CLI" in listed.stdout and "finished" in listed.stdout
    assert [r.label for r in store.runs()] == ["from the CLI"]


def test_the_cli_rejects_a_bad_configuration_with_the_field(tmp_path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"epochs": -1}))
    out = subprocess.run([sys.executable, "-m", "augviz", "train", "--config", str(config)], capture_output=True,
                         text=True, env={**os.environ, "AUGVIZ_HOME": str(tmp_path)}, timeout=60)
    assert out.returncode == 2 and "epochs" in out.stderr and "Traceback" not in out.stderr


def test_a_diverging_run_is_recorded_as_diverged(store):
    run_id = worker.launch(store, RunConfig(train_size=250, epochs=2, optimizer="sgd", lr=1e3, batch_size=32))
    run = wait_for(lambda: store.get(run_id).is_over and store.get(run_id), what="the run to end")
    assert run.status == "diverged" and run.diverged_step is not None
    assert "stopped being finite at step" in run.error


def test_a_download_shows_its_progress_on_the_run(store, tmp_path, server, monkeypatch):
    from dataclasses import replace

    from augviz import data
    from augviz.data import sources
    from tests.test_data import md5, write_idx_dataset

    served, base, _ = server
    files = write_idx_dataset(served, n_train=40, n_test=10)
    remotes = tuple(sources.Remote(n, base + n, md5(b)) for n, b in files.items())
    monkeypatch.setitem(data.DATASETS, "mnist", replace(data.DATASETS["mnist"], remotes=remotes))
    notes: list[str | None] = []
    monkeypatch.setattr(store, "set_note", lambda run_id, note: notes.append(note))
    cfg = RunConfig(dataset="mnist", download=True, train_size=40, epochs=1, batch_size=16)
    run_id = store.create(cfg, status="running", pid=os.getpid())
    assert worker.execute(store, run_id, cfg) == "finished"
    assert any(n and n.startswith("downloading t10k-labels") and n.endswith("100%") for n in notes)
    assert notes[-1] is None  # cleared once training starts

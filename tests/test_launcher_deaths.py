"""When the launcher or its workers are killed (kill -9, the OOM killer): every run ends with what happened to it,
never "running" for ever, the queue goes on without waiting for a page view, and no reserve file is left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from augviz import worker
from augviz.runconfig import RunConfig
from augviz.store import Store, pid_alive
from tests.polling import LONG, wait_for

TINY = RunConfig(train_size=250, epochs=1, batch_size=64, val_fraction=0.1)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("AUGVIZ_MAX_RUNS", "1")
    s = Store(tmp_path / "runs.sqlite")
    yield s
    worker.shutdown(s)


def reserve(store: Store, run_id: int):
    return store.path.with_name(f"{store.path.name}.reserve-{run_id}")


def a_dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def training_with_one_waiting(store: Store) -> tuple[int, int, int, int]:
    """A long run training in a worker with a short one queued behind it: (running id, queued id, worker pid,
    launcher pid)."""
    first, second = worker.launch(store, LONG), worker.launch(store, TINY)
    wait_for(lambda: store.step_count(first) > 3, what="the first run's steps")
    return first, second, store.get(first).pid, worker.launcher_pid(store)


def test_a_worker_killed_after_its_launcher_ends_with_that_cause_and_the_queue_goes_on_unasked(store):
    stale = reserve(store, 999)
    stale.write_bytes(b"\0" * 1024)  # left by a worker killed before reserves were cleaned up
    first, second, worker_pid, launcher = training_with_one_waiting(store)
    assert reserve(store, first).exists()
    os.kill(launcher, signal.SIGKILL)
    # The orphaned worker notices and starts a new launcher, which watches it.
    wait_for(lambda: worker.launcher_pid(store) not in (None, launcher), what="a new launcher")
    assert store.get(first).status == "running" and pid_alive(worker_pid)
    os.kill(worker_pid, signal.SIGKILL)
    # Nobody calls recover (no page view, no CLI call): the new launcher ends the run and starts the next.
    done = wait_for(lambda: store.get(second).is_over and store.get(second), what="the queued run to run")
    assert done.status == "finished", done.error
    killed = store.get(first)
    assert killed.status == "failed" and killed.error_kind == "worker"
    assert f"the worker process (pid {worker_pid}) was killed" in killed.error
    assert "launcher that started it had been killed" in killed.error and "server" not in killed.error
    assert store.step_count(first) > 3  # what it trained is kept
    assert not reserve(store, first).exists() and not stale.exists()


def test_a_launcher_and_worker_killed_together_are_named_so_by_the_next_cli_call(store, tmp_path):
    first, second, worker_pid, launcher = training_with_one_waiting(store)
    os.kill(worker_pid, signal.SIGSTOP)  # it cannot notice its launcher's death before it dies too
    os.kill(launcher, signal.SIGKILL)
    os.kill(worker_pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(worker_pid) and not pid_alive(launcher), what="both to be gone")
    assert store.get(first).status == "running"  # nobody is left to see it: the next call does
    listed = subprocess.run([sys.executable, "-m", "augviz", "runs"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "AUGVIZ_HOME": str(tmp_path)})
    assert listed.returncode == 0, listed.stderr
    killed = store.get(first)
    assert killed.status == "interrupted", killed.error
    assert killed.error == (f"the worker process (pid {worker_pid}) and its launcher (pid {launcher}) were killed "
                            "or crashed; the machine did not restart")
    assert not reserve(store, first).exists()
    done = wait_for(lambda: store.get(second).is_over and store.get(second), what="the queued run to run")
    assert done.status == "finished", done.error  # that call started a launcher for the queue


def test_a_run_in_the_hands_of_a_killed_launcher_is_ended_with_that_cause(store):
    gone = a_dead_pid()
    run_id = store.create(TINY, status="running", pid=gone)  # claimed by it: on Ray, or its worker not started
    (store.path.parent / f"{store.path.name}.launcher").write_text(str(gone))  # it died holding the lock
    assert worker.recover(store) == [run_id]
    run = store.get(run_id)
    assert run.status == "failed"
    assert run.error == f"the launcher process (pid {gone}) that ran it was killed or crashed"


def test_a_launcher_still_going_away_is_waited_for_not_taken_for_alive(store):
    # A killed launcher's main thread is a zombie (dead to pid_alive) while its other threads still exit holding
    # the lock: the recovery waits for the lock, not taking the launcher for alive and leaving its runs running.
    gone = a_dead_pid()
    run_id = store.create(TINY, status="running", pid=gone)
    lock = store.path.parent / f"{store.path.name}.launcher"
    lock.write_text(str(gone))
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1]); "
                               "fcntl.flock(f, fcntl.LOCK_EX); print(flush=True); time.sleep(1.5)", str(lock)],
                              stdout=subprocess.PIPE, text=True)
    try:
        holder.stdout.readline()  # it holds the lock
        assert worker.recover(store) == [run_id]
        assert store.get(run_id).error == f"the launcher process (pid {gone}) that ran it was killed or crashed"
    finally:
        holder.kill()
        holder.wait()


def test_a_run_cut_off_by_a_machine_restart_says_so(store, monkeypatch):
    run_id = store.create(TINY, status="running", pid=a_dead_pid())
    monkeypatch.setattr(worker, "_booted_at", lambda: time.time() + 1)  # the kernel's boot time, after its start
    assert worker.recover(store) == [run_id]
    run = store.get(run_id)
    assert run.status == "interrupted" and run.error == "the machine restarted while this run was going"

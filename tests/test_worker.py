"""Worker lifecycle, for real: worker processes queue for a slot, train, stop, die and get found out; the CLI and
the store see the same runs; nothing is lost or written twice."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from augviz import worker
from augviz.errors import QueueFull
from augviz.runconfig import RunConfig
from augviz.store import Store, pid_alive
from tests.polling import LONG, running, wait_for

TINY = RunConfig(train_size=250, epochs=1, batch_size=64, val_fraction=0.1)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("AUGVIZ_MAX_RUNS", "1")
    s = Store(tmp_path / "runs.sqlite")
    yield s
    worker.shutdown(s)  # leave no launcher or worker behind


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
    steps = [s.step for s in store.steps(second)]
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
    run_id, pid = running(store, 6)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), what="the worker to die")
    worker.reap_children()
    assert store.reap() in ([run_id], [])  # this call ends it, or the launcher, watching its worker, did first
    run = wait_for(lambda: store.get(run_id).is_over and store.get(run_id), what="the run to be ended")
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
    assert out.returncode == 3 and "epochs" in out.stderr and "Traceback" not in out.stderr


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
    seen: list[tuple[str | None, float | None]] = []
    record = store.set_progress
    monkeypatch.setattr(store, "set_progress", lambda run_id, note, progress=None: (
        seen.append((note, progress)), record(run_id, note, progress)))
    cfg = RunConfig(dataset="mnist", download=True, train_size=40, epochs=1, batch_size=16)
    run_id = store.create(cfg, status="running", pid=os.getpid())
    assert worker.execute(store, run_id, cfg) == "finished"
    assert ("downloading t10k-labels-idx1-ubyte.gz (0.0 of 0.0 MB)", 1.0) in seen  # its own column, a number
    run = store.get(run_id)
    assert run.note is None and run.progress is None  # cleared once training starts


# ---- the launcher: queued runs are rows, dead and stuck workers are dealt with, nothing waits for a page view ----

def processes(store: Store, role: str) -> list[int]:
    """Pids of live ``python -m augviz <role>`` processes serving this store."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                args = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"augviz" in args and role.encode() in args and str(store.path).encode() in args \
                    and pid_alive(int(entry)):
                found.append(int(entry))
    return found


def test_queued_runs_hold_no_process(store):
    ids = [worker.launch(store, LONG)] + [worker.launch(store, TINY) for _ in range(4)]
    wait_for(lambda: store.get(ids[0]).status == "running" and store.get(ids[0]).pid, what="the first to start")
    time.sleep(2)
    assert len(processes(store, "work")) == 1  # the one running; four queued runs cost nothing
    assert len(processes(store, "launcher")) == 1
    assert all(store.get(i).status == "queued" and store.get(i).pid is None for i in ids[1:])
    for i in ids:
        store.request_stop(i)
    wait_for(lambda: all(store.get(i).is_over for i in ids), what="every run to end")
    wait_for(lambda: not processes(store, "launcher"), what="the launcher to exit once nothing waits")


@pytest.mark.parametrize("variable", ["AUGVIZ_MAX_QUEUED_PER_VISITOR", "AUGVIZ_MAX_QUEUED_PER_SESSION"])
def test_more_runs_than_the_queue_cap_are_refused_before_anything_is_queued(store, monkeypatch, variable):
    """The per-visitor cap, set by its name or by the name it had when a browser session was the unit."""
    monkeypatch.setenv(variable, "5")
    plan = [RunConfig(train_size=250, epochs=1, seed=s) for s in range(6)]
    assert "cap of 5 a visitor" in worker.admit(store, len(plan), session="visitor")
    with pytest.raises(QueueFull, match="cap of 5"):
        worker.launch_all(store, plan, session="visitor")
    assert store.runs() == [] and not processes(store, "launcher")
    monkeypatch.setenv("AUGVIZ_MAX_QUEUED", "2")
    with pytest.raises(QueueFull, match="server's cap of 2"):
        worker.launch_all(store, plan[:3], session="another")
    assert store.runs() == []


def test_a_launch_that_cannot_start_its_worker_marks_the_run_failed_and_the_queue_goes_on(store, tmp_path):
    (tmp_path / "logs").write_text("a file where the log folder should be")
    ids = [worker.launch(store, TINY), worker.launch(store, TINY)]
    runs = wait_for(lambda: all(store.get(i).is_over for i in ids) and [store.get(i) for i in ids],
                    what="both runs to end")
    for run in runs:
        assert run.status == "failed" and run.error_kind == "launch"
        assert "could not be started" in run.error and "logs" in run.error


def test_a_killed_worker_frees_its_slot_without_any_page_view(store):
    first, second = worker.launch(store, LONG), worker.launch(store, TINY)
    wait_for(lambda: store.step_count(first) > 3, what="the first run's steps")
    os.kill(store.get(first).pid, signal.SIGKILL)
    # Nobody calls reap here: the launcher sees its worker die and starts the next.
    done = wait_for(lambda: store.get(second).is_over and store.get(second), what="the queued run to run")
    assert done.status == "finished", done.error
    killed = store.get(first)
    assert killed.status == "failed" and "SIGKILL" in killed.error and killed.error_kind == "worker"


def test_a_stuck_worker_is_killed_after_the_stop_grace_and_can_be_deleted(store, monkeypatch):
    monkeypatch.setenv("AUGVIZ_STOP_GRACE_S", "1")
    run_id, pid = running(store, 4)
    os.kill(pid, signal.SIGSTOP)
    try:
        store.request_stop(run_id)
        run = wait_for(lambda: store.get(run_id).is_over and store.get(run_id), timeout=30, what="the stop")
        assert run.status == "stopped" and "did not answer Stop" in run.error
        wait_for(lambda: not pid_alive(pid), what="the stuck worker to be gone")
        assert worker.delete(store, [run_id]) == 1 and store.get(run_id) is None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # a stopped worker left behind by a failure would hold the database


def test_a_running_run_can_be_deleted_at_once(store):
    run_id, pid = running(store, 4)
    assert store.delete([run_id]) == 0  # the store alone leaves a running run alone
    assert worker.delete(store, [run_id]) == 1
    assert store.get(run_id) is None and store.step_count(run_id) == 0
    wait_for(lambda: not pid_alive(pid), what="its worker to be gone")


def test_stop_ends_a_run_during_its_download(store, tmp_path, monkeypatch):
    import http.server
    import threading
    from dataclasses import replace

    from augviz import data
    from augviz.data import sources
    from tests.test_data import md5, write_idx_dataset

    served = tmp_path / "served"
    files = write_idx_dataset(served, n_train=4000, n_test=10)

    class Slow(http.server.SimpleHTTPRequestHandler):  # 64 KB every 0.1 s: a 3 MB file takes 5 s
        def log_message(self, *args):
            pass

        def do_GET(self):
            blob = (served / self.path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(blob)))
            self.end_headers()
            for i in range(0, len(blob), 1 << 16):
                try:
                    self.wfile.write(blob[i:i + (1 << 16)])
                except OSError:
                    return  # the client hung up: it stopped
                time.sleep(0.1)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    serving = threading.Thread(target=httpd.serve_forever, daemon=True)
    serving.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    remotes = tuple(sources.Remote(n, base + n, md5(b)) for n, b in files.items())
    monkeypatch.setitem(data.DATASETS, "mnist", replace(data.DATASETS["mnist"], remotes=remotes))
    cfg = RunConfig(dataset="mnist", download=True, train_size=40, epochs=1, batch_size=16)
    run_id = store.create(cfg, status="running", pid=os.getpid())

    def stop_when_downloading() -> None:
        wait_for(lambda: (store.get(run_id).progress or 0) > 0, what="the download to start")
        store.request_stop(run_id)

    stopper = threading.Thread(target=stop_when_downloading)
    stopper.start()
    try:
        assert worker.execute(store, run_id, cfg) == "stopped"
    finally:
        stopper.join()
        httpd.shutdown()
        httpd.server_close()
        serving.join()
    assert store.get(run_id).status == "stopped"
    downloaded = {p.name for p in (tmp_path / "data").rglob("*") if p.is_file()}
    assert "train-images-idx3-ubyte.gz" not in downloaded  # the first, 5 s file: cut off, not finished
    assert not [n for n in downloaded if n.endswith(".part")]  # and no half file left behind


def test_a_cli_run_waits_its_turn_behind_the_apps_runs(store, tmp_path):
    app_run = worker.launch(store, LONG)
    wait_for(lambda: store.get(app_run).status == "running", what="the app's run to start")
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"train_size": 250, "epochs": 1, "name": "from the CLI"}))
    cli = subprocess.Popen([sys.executable, "-m", "augviz", "train", "--config", str(config)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "AUGVIZ_HOME": str(tmp_path)})
    try:
        cli_run = wait_for(lambda: [r for r in store.runs() if r.label == "from the CLI"], what="the CLI's run")[0]
        time.sleep(3)
        assert store.get(cli_run.id).status == "queued"  # AUGVIZ_MAX_RUNS=1 holds across the app and the CLI
        assert store.get(app_run).status == "running"
        store.request_stop(app_run)
        out, err = cli.communicate(timeout=180)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode == 0, err
    assert "waiting in the queue (position 1" in out and "run" in out and "finished" in out


def test_on_cpu_one_run_trains_per_core_at_once_up_to_four(monkeypatch):
    monkeypatch.delenv("AUGVIZ_MAX_RUNS", raising=False)
    monkeypatch.setattr(worker.torch.cuda, "is_available", lambda: False)
    for cores, at_once in ((1, 1), (2, 2), (3, 3), (16, worker.MAX_RUNS_ON_CPU)):
        monkeypatch.setattr(worker, "cores", lambda cores=cores: cores)
        assert worker.max_concurrent() == at_once
    monkeypatch.setenv("AUGVIZ_MAX_RUNS", "1")
    assert worker.max_concurrent() == 1  # the setting still decides


def test_runs_side_by_side_share_the_cores_and_a_run_alone_takes_them_all():
    assert worker.thread_share(1, 2) == 2
    assert worker.thread_share(2, 2) == 1
    assert worker.thread_share(3, 2) == 1
    assert worker.thread_share(2, 16) == 8
    assert worker.thread_share(0, 4) == 4  # counted before its own row says running


def test_a_run_without_threads_follows_the_runs_going_while_it_trains(store, monkeypatch):
    # One worker's hook, with the other runs as rows: two running on two cores take one thread each, and when
    # the other ends, the one left takes both.
    monkeypatch.setattr(worker, "cores", lambda: 2)
    mine, other = store.create(TINY, status="running"), store.create(TINY, status="running")
    before = torch.get_num_threads()
    try:
        share = worker.ShareCores(store, every_s=0.0)
        share.before_update(None)
        assert torch.get_num_threads() == 1
        store.finish(other, "finished")
        share.before_update(None)
        assert torch.get_num_threads() == 2
        store.finish(mine, "finished")
    finally:
        torch.set_num_threads(before)

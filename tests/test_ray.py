"""Runs on a real two-node Ray cluster (one CPU each, on this machine): an experiment goes through the same launcher
and every metric reaches the store, which no node touches; Stop stops; a killed launcher or a lost node ends its
runs with what happened, never "running" for ever. Without AUGVIZ_RAY_ADDRESS nothing of Ray is imported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest

from augviz import experiment, serialize, settings, worker
from augviz.errors import SettingError
from augviz.preview import SEED_PIPELINE
from augviz.runconfig import RunConfig
from augviz.store import Store, pid_alive
from tests.polling import wait_for
from tests.raycluster import ENV, Cluster, start_cluster

TINY = RunConfig(train_size=250, steps=12, batch_size=32, val_fraction=0.1)
LONG = RunConfig(train_size=2000, steps=100_000, batch_size=16)  # stopped or cut off long before it ends


@pytest.fixture(scope="module")
def cluster():
    c = start_cluster()
    yield c
    c.stop()


@pytest.fixture
def store(cluster: Cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("AUGVIZ_RAY_ADDRESS", cluster.address)
    for name, value in ENV.items():  # the launcher, a driver, joins as the nodes were started
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AUGVIZ_MAX_RUNS", raising=False)  # as many runs as the cluster has CPUs: two
    s = Store(tmp_path / "runs.sqlite")
    yield s
    worker.shutdown(s)  # its tasks end with it


def ended(store: Store, run_id: int, timeout: float = 240):
    return wait_for(lambda: store.get(run_id).is_over and store.get(run_id), timeout, f"run {run_id} to end")


def test_an_experiment_runs_on_the_cluster_with_every_metric_in_the_store(store):
    plan = experiment.plan(TINY, serialize.to_dict(SEED_PIPELINE), seeds=2)
    ids = worker.launch_all(store, plan, session="a visitor")
    launcher = wait_for(lambda: worker.launcher_pid(store), what="the launcher")
    for run_id in ids:
        run = ended(store, run_id)
        assert run.status == "finished", run.error
        assert run.pid == launcher  # the launcher wrote it: no node opened the database
        assert [s.step for s in store.steps(run_id)] == list(range(1, run.total_steps + 1)) == list(range(1, 13))
        assert len(store.epochs(run_id)) == 2 and run.test_acc is not None and run.wall_s > 0  # 8 steps an epoch
        assert run.layers and run.classes and run.note is None


def test_the_command_line_trains_on_the_cluster_through_the_launcher(store, tmp_path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"train_size": 250, "steps": 12, "batch_size": 32, "name": "from the CLI"}))
    out = subprocess.run([sys.executable, "-m", "augviz", "train", "--config", str(config)], capture_output=True,
                         text=True, env=dict(os.environ), timeout=300)
    assert out.returncode == 0, out.stderr
    assert "on the Ray cluster" in out.stdout and "epoch 1:" in out.stdout and "test accuracy" in out.stdout
    (run,) = store.runs()
    assert run.label == "from the CLI" and store.step_count(run.id) == 12


def test_stop_ends_a_run_on_the_cluster_and_keeps_what_it_trained(store):
    run_id = worker.launch(store, LONG)
    wait_for(lambda: store.step_count(run_id) > 3, 240, "the run's first steps")
    store.request_stop(run_id)
    run = ended(store, run_id, 60)
    assert run.status == "stopped" and run.error is None  # it answered: no kill needed
    assert run.test_acc is not None and store.step_count(run_id) > 3


def test_a_run_that_does_not_answer_stop_is_cancelled_after_the_grace(store, cluster, monkeypatch):
    monkeypatch.setenv("AUGVIZ_STOP_GRACE_S", "1")
    run_id = worker.launch(store, LONG)
    wait_for(lambda: store.step_count(run_id) > 3, 240, "the run's first steps")
    (pid,) = cluster.tasks("train_on_node")
    os.kill(pid, signal.SIGSTOP)  # stuck: it cannot answer
    store.request_stop(run_id)
    run = ended(store, run_id, 60)
    assert run.status == "stopped" and run.error_kind == "stopped"
    assert run.error.startswith("the run did not answer Stop within 1 s and its Ray task was cancelled (on node ")
    wait_for(lambda: not pid_alive(pid), 60, "the stuck task's process to be gone")


def test_a_killed_launcher_ends_its_runs_with_that_cause_and_the_queue_goes_on(store):
    first, second = worker.launch(store, LONG), worker.launch(store, LONG)
    waiting = worker.launch(store, TINY)
    wait_for(lambda: store.step_count(first) > 3 and store.step_count(second) > 3, 240, "both runs' steps")
    launcher = worker.launcher_pid(store)
    os.kill(launcher, signal.SIGKILL)
    wait_for(lambda: not pid_alive(launcher), what="the launcher to be gone")
    assert sorted(worker.recover(store)) == [first, second]  # the next page view or command
    for run in store.runs(ids=[first, second]):
        assert run.status == "failed" and run.error == f"the launcher process (pid {launcher}) that ran it was " \
                                                        "killed or crashed"
    run = ended(store, waiting)
    assert run.status == "finished", run.error


def test_ray_client_addresses_are_refused_with_what_to_do_instead(tmp_path, monkeypatch):
    # Ray Client cannot stream a task's results (seen: "Streaming ... not currently supported when using Ray Client").
    monkeypatch.setenv("AUGVIZ_RAY_ADDRESS", "ray://head:10001")
    with pytest.raises(SettingError, match=r"Ray Client \(ray://\) cannot stream .* AUGVIZ_RAY_ADDRESS=auto"):
        worker.launch(Store(tmp_path / "runs.sqlite"), TINY)


def test_a_run_asking_for_more_threads_than_any_node_has_fails_with_why(store):
    run = ended(store, worker.launch(store, replace(TINY, threads=4)), 120)
    assert run.status == "failed" and run.error_kind == "launch"
    assert run.error == "it asks for 4 CPU threads, and the largest node of the Ray cluster has 1 CPUs"


def test_a_lost_node_ends_its_run_as_failed_with_that_cause(store, cluster):
    # Last in this module: the cluster has one node left after it.
    ids = [worker.launch(store, LONG), worker.launch(store, LONG)]  # one on each node: each has one CPU
    wait_for(lambda: all(store.step_count(i) > 3 for i in ids), 240, "both runs' steps")
    os.kill(cluster.raylet(cluster.node), signal.SIGKILL)
    lost = wait_for(lambda: [store.get(i) for i in ids if store.get(i).is_over], 180, "a run to end")
    (run,) = lost
    assert run.status == "failed" and run.error_kind == "worker"
    assert run.error.startswith("the node running it was lost (node ")
    (other,) = [i for i in ids if i != run.id]
    assert store.get(other).status == "running"  # the head's run goes on
    store.request_stop(other)
    assert ended(store, other, 60).status == "stopped"


# ---- without the variable -------------------------------------------------------------------------------------

def test_without_the_variable_the_app_and_the_launcher_never_import_ray(tmp_path):
    script = textwrap.dedent(f"""
        import os, sys
        os.environ.pop("AUGVIZ_RAY_ADDRESS", None)
        os.environ["AUGVIZ_HOME"] = {str(tmp_path)!r}
        import augviz.ui.train, augviz.ui.runs, augviz.ui.explore, augviz.ui.gradients
        from augviz import __main__ as cli
        from augviz.data import home
        from augviz.runconfig import RunConfig
        from augviz.store import Store
        store = Store(home() / "runs.sqlite")
        run_id = store.create(RunConfig(train_size=250, steps=4, batch_size=64))
        assert cli.main(["launcher", "--db", str(store.path)]) == 0  # the launcher's loop, here, to the end
        assert store.get(run_id).status == "finished", store.get(run_id).error
        assert "ray" not in sys.modules, [m for m in sys.modules if m.startswith("ray")]
        print("no ray")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in os.environ.items() if k != "AUGVIZ_RAY_ADDRESS"})
    assert out.returncode == 0 and "no ray" in out.stdout, out.stderr[-2000:]


@pytest.mark.parametrize("value", ["x", "http://head:6379", "head:99999", "head:0", "a b:1", "head:6379x"])
def test_a_bad_ray_address_is_refused_before_anything_is_queued(value, tmp_path, monkeypatch):
    monkeypatch.setenv("AUGVIZ_RAY_ADDRESS", value)
    store = Store(tmp_path / "runs.sqlite")
    with pytest.raises(SettingError, match=r"AUGVIZ_RAY_ADDRESS=.* is not a Ray address"):
        worker.launch(store, TINY)
    assert store.runs() == []


@pytest.mark.parametrize("value", ["auto", "local", "10.0.0.5:6379", "head-1.example.org:6379"])
def test_the_ray_addresses_that_are_taken(value, monkeypatch):
    monkeypatch.setenv("AUGVIZ_RAY_ADDRESS", f" {value} ")
    assert settings.ray_address() == value

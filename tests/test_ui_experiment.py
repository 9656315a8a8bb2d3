"""The Train page's experiment panel ("Does augmentation help here?"): an estimate before starting, and no
second start while the experiment's runs are still going, with a way to stop them."""

from __future__ import annotations

import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from augviz.runconfig import RunConfig
from augviz.store import Store

APP = str(Path(__file__).parents[1] / "app.py")


def train_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception
    return at


def captions(at: AppTest) -> str:
    return " ".join(c.value.replace("\\", "") for c in at.caption)


def finished(store: Store, cfg: RunConfig, steps: int, wall_s: float) -> None:
    run_id = store.create(cfg, status="running", pid=os.getpid())
    store.started(run_id, ["fc"], steps, ("a", "b"))
    store.finish(run_id, "finished", test_acc=0.5, wall_s=wall_s)


def test_with_no_run_to_measure_the_estimate_is_the_readmes_rough_figure(home):
    at = train_page()
    text = captions(at)
    assert "Estimate: about 2 min 24 s for 6 runs of 1,000 steps" in text  # 6 × 24 s
    assert "rough figure" in text and "144 s" in text


def test_the_estimate_comes_from_finished_runs_of_the_same_configuration(home):
    store = Store(home / "runs.sqlite")
    for wall_s in (8.0, 10.0, 30.0):  # 80, 100 and 300 ms a step: the median is 100 ms
        finished(store, RunConfig(), 100, wall_s)
    finished(store, RunConfig(model="resnet"), 100, 1000.0)  # another model: not this configuration's speed
    at = train_page()
    at.slider(key="x_seeds").set_value(2).run()
    text = captions(at)
    assert "Estimate: about 6 min 40 s for 4 runs of 1,000 steps (100 ms a step, the median of 3 finished runs" in text


def test_while_the_experiments_runs_go_the_button_is_disabled_and_they_can_be_stopped(home):
    store = Store(home / "runs.sqlite")
    cfg = RunConfig(train_size=250, steps=10, group="exp-test")
    running = store.create(cfg, status="running", pid=os.getpid())  # a worker that is training it
    queued = store.create(cfg)
    at = train_page()
    assert not at.button(key="x_go").disabled
    at.session_state["group"] = "exp-test"  # this session started that experiment
    at.run()
    assert at.button(key="x_go").disabled
    assert "Waiting for this experiment's 2 unfinished runs (1 running, 1 queued)" in captions(at)
    assert "Estimate" not in captions(at)

    at.button(key="x_stop").click().run()
    assert store.get(queued).status == "stopped" and store.get(running).stop_requested
    store.finish(running, "stopped")  # as its worker does at its next check
    at.run()
    assert not at.button(key="x_go").disabled and "Estimate" in captions(at)

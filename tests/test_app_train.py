"""The Train and Runs pages in AppTest, with real worker processes behind them."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from augviz import models, report, serialize
from augviz.deepnet import NetSpec
from augviz.preview import SEED_PIPELINE
from augviz.runconfig import RunConfig
from augviz.store import Store
from augviz.ui import train as train_ui

APP = str(Path(__file__).parents[1] / "app.py")


def page(name: str, **query: str) -> AppTest:
    """A fresh session (a new browser tab) on a page, opened with ``query`` in its URL."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page(f"pages/{name}.py")
    at.query_params.update(query)
    at.run()
    assert not at.exception
    return at


def small_run(at: AppTest) -> None:
    at.sidebar.slider(key="t_size").set_value(250)
    at.sidebar.select_slider(key="t_steps").set_value(10).run()


def wait_until(at: AppTest, store: Store, done, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not done(store.runs()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(1)
        at.run()  # run_every never fires in AppTest: poll by rerunning
        assert not at.exception
    at.run()  # once more: the page's last look may predate the end the store now shows


def cli_run(home: Path, **doc) -> None:
    """A real run from the command line, stored where the app looks."""
    config = home / "run.json"
    config.write_text(json.dumps({"train_size": 250, "epochs": 1, **doc}))
    out = subprocess.run([sys.executable, "-m", "augviz", "train", "--config", str(config)],
                         capture_output=True, text=True, timeout=120, env={**os.environ})
    assert out.returncode == 0, out.stderr


def stored(home: Path, cfg: RunConfig, status: str = "stopped") -> int:
    """A run row that has ended without metrics: enough for the pages' run lists."""
    store = Store(home / "runs.sqlite")
    run_id = store.create(cfg)
    store.finish(run_id, status)
    return run_id


LAB = RunConfig(model="deepnet", net=NetSpec(depth=4, width=16).to_dict(), train_size=250, epochs=1,
                details=True, name="a lab run")


def test_the_train_page_launches_a_run_and_draws_its_charts(home):
    at = page("train")
    assert "No runs yet" in at.info[0].value
    small_run(at)
    at.sidebar.button(key="t_start").click().run()
    store = Store(home / "runs.sqlite")
    assert len(store.runs()) == 1
    wait_until(at, store, lambda runs: runs[0].is_over)
    run = store.runs()[0]
    assert run.status == "finished", run.error
    assert run.config.pipeline is not None  # augmented with the Explore pipeline by default
    assert len(at.get("plotly_chart")) == 3  # loss, accuracy, gradient norms
    assert "test accuracy" in at.get("progress")[0].proto.text


def test_the_run_configuration_is_shown_as_json(home):
    at = page("train")
    assert models.LABELS["deepnet"] not in at.sidebar.selectbox(key="t_model").options  # the lab's, needs a spec
    first = json.loads(at.code[0].value)  # the page's defaults are the library's (what bench/lessons.py measures)
    assert first == {**RunConfig().to_dict(), "pipeline": first["pipeline"]} and first["pipeline"]
    small_run(at)
    doc = json.loads(at.code[0].value)
    assert doc["train_size"] == 250 and doc["steps"] == 10 and doc["epochs"] is None
    assert doc["dataset"] == "synthetic"
    at.sidebar.toggle(key="t_by_epochs").set_value(True).run()
    at.sidebar.slider(key="t_epochs").set_value(2).run()
    assert json.loads(at.code[0].value)["epochs"] == 2


def test_a_running_run_can_be_stopped_from_the_page(home):
    at = page("train")
    at.sidebar.select_slider(key="t_steps").set_value(10_000).run()
    at.sidebar.button(key="t_start").click().run()
    store = Store(home / "runs.sqlite")
    wait_until(at, store, lambda runs: store.step_count(runs[0].id) > 3)
    at.button(key=f"t-stop-{store.runs()[0].id}").click().run()
    wait_until(at, store, lambda runs: runs[0].is_over)
    assert store.runs()[0].status == "stopped"


def test_the_experiment_runs_both_arms_and_states_the_difference(home):
    at = page("train")
    small_run(at)
    at.slider(key="x_seeds").set_value(1).run()
    at.button(key="x_go").click().run()
    store = Store(home / "runs.sqlite")
    runs = store.runs()
    assert len(runs) == 2 and {r.config.pipeline is None for r in runs} == {True, False}
    assert at.selectbox(key="t_run").value == runs[0].id  # the experiment's first run is shown at once
    assert at.button(key="x_go").disabled  # no second start of the same runs while they go
    wait_until(at, store, lambda rs: all(r.is_over for r in rs), timeout=180)
    assert at.button(key="x_go").disabled  # nor once they have finished: the store serves them, nothing to train
    assert "Every one of them is in the store already: nothing to train" in " ".join(
        c.value.replace("\\", "") for c in at.caption)
    text = " ".join(m.value for m in at.markdown).replace("\\", "")  # Markdown escapes removed
    # One seed gives no interval: never a verdict (10 steps are too few anyway: near chance).
    assert "250 training images: " in text
    assert "no clear difference with 1 seed: run more seeds" in text or "too early to tell" in text
    assert "helped" not in text and "hurt" not in text


def test_the_runs_page_sees_cli_runs_and_compares_them(home):
    config = home / "run.json"
    config.write_text(json.dumps({"train_size": 250, "epochs": 1}))
    for seed in (0, 1):
        doc = {"train_size": 250, "epochs": 1, "seed": seed, "name": f"cli seed {seed}"}
        config.write_text(json.dumps(doc))
        out = subprocess.run([sys.executable, "-m", "augviz", "train", "--config", str(config)],
                             capture_output=True, text=True, timeout=120, env={**os.environ})
        assert out.returncode == 0, out.stderr
    at = page("runs")
    picker = at.multiselect(key="r_pick")
    assert len(picker.value) == 2
    table = at.dataframe[0].value
    assert list(table["label"]) == ["cli seed 1", "cli seed 0"]
    assert "seed" in table.columns  # the configuration field that differs
    for text in table["test acc"]:  # a percentage to one decimal, not 0.4604
        assert re.fullmatch(r"\d{1,3}\.\d %", text), text
    for text in table["time"]:  # a duration, not 4.3924
        assert re.fullmatch(r"\d+\.\d s|\d+ s|\d+ min \d\d s", text), text
    assert len(at.get("plotly_chart")) == 2
    at.checkbox(key="r_sure").check().run()
    at.button(key="r_delete").click().run()
    assert Store(home / "runs.sqlite").runs() == []

def test_the_dataset_browser_shows_each_class_and_the_pipeline(home):
    at = page("train")
    small_run(at)
    grids = at.get("image")
    assert len(grids) == 2  # the training images, and the same through the pipeline
    assert "10 classes" in at.caption[0].value


def test_a_missing_dataset_is_explained_not_raised(home):
    at = page("train")
    at.sidebar.selectbox(key="t_dataset").set_value("cifar10").run()
    assert not at.exception
    assert "CIFAR" in at.warning[0].value


def test_a_started_run_is_shown_at_once_while_other_runs_are_listed(home):
    cli_run(home, name="an earlier run")
    at = page("train")
    assert at.selectbox(key="t_run").value == 1
    small_run(at)
    at.sidebar.button(key="t_start").click().run()
    (new,) = [r for r in Store(home / "runs.sqlite").runs() if r.id != 1]
    assert at.selectbox(key="t_run").value == new.id
    assert any(m.value.startswith(f"**Run #{new.id}**") for m in at.markdown)
    assert at.query_params["run"] == str(new.id)  # a reload shows it too


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine where a cuda run fails")
def test_a_failed_run_shows_its_error_on_the_panel(home):
    at = page("train")
    small_run(at)
    at.sidebar.selectbox(key="t_device").set_value("cuda").run()
    at.sidebar.button(key="t_start").click().run()
    store = Store(home / "runs.sqlite")
    wait_until(at, store, lambda runs: runs[0].is_over)
    assert store.runs()[0].status == "failed"
    (box,) = at.error
    assert "Run #1 failed" in box.value and "no CUDA device is available" in box.value


def test_start_is_refused_with_the_reason_when_the_dataset_is_missing(home):
    at = page("train")
    at.sidebar.selectbox(key="t_dataset").set_value("cifar10").run()
    assert at.sidebar.button(key="t_start").disabled
    assert any("Cannot start: CIFAR\\-10 is not in" in e.value for e in at.sidebar.error)
    assert at.sidebar.button(key="t_fetch").label == "Download CIFAR-10 and start"
    at.sidebar.toggle(key="t_download").set_value(True).run()  # the run may fetch it: allowed
    assert not at.sidebar.button(key="t_start").disabled
    assert not at.sidebar.error
    at.sidebar.selectbox(key="t_dataset").set_value("synthetic").run()
    assert not at.sidebar.button(key="t_start").disabled


def test_train_lists_train_runs_and_gradients_lists_lab_runs(home):
    train_id = stored(home, RunConfig(train_size=250, name="a train run"))
    lab_id = stored(home, LAB)
    at = page("train")
    assert at.selectbox(key="t_run").options == [f"#{train_id} stopped: a train run"]
    at = page("gradients")
    assert at.selectbox(key="g_run").options == [f"#{lab_id} stopped: Gradient lab: a lab run"]


def test_a_lab_run_panel_survives_a_reload(home):
    first, second = stored(home, LAB), stored(home, LAB)
    at = page("gradients")
    assert at.selectbox(key="g_run").value == second  # the newest
    at.selectbox(key="g_run").set_value(first).run()
    assert at.query_params["run"] == str(first)
    reloaded = page("gradients", run=str(first))  # a new session from the same URL
    assert reloaded.selectbox(key="g_run").value == first
    assert any(m.value.startswith(f"**Run #{first}**") for m in reloaded.markdown)


def test_the_runs_page_draws_the_lab_charts_for_a_lab_run(home):
    lab = LAB.to_dict()
    cli_run(home, **{k: lab[k] for k in ("model", "net", "details", "name")})
    at = page("runs", runs="1")
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any(t.startswith("Gradient norm, layer × step") for t in titles)
    assert any(t.startswith("Gradient values at step") for t in titles)
    assert "Update-to-weight ratio per layer" in titles


def test_the_exported_csv_is_wide_and_tells_baseline_from_augmented(home):
    cli_run(home, epochs=2, name="baseline")
    cli_run(home, epochs=2, name="augmented", pipeline=serialize.to_dict(SEED_PIPELINE))
    store = Store(home / "runs.sqlite")
    histories = [train_ui.history(store, r, None) for r in store.runs()]
    rows = list(csv.DictReader(io.StringIO(report.epochs_csv(histories))))
    assert [(r["label"], r["epoch"]) for r in rows] == [("baseline", "1"), ("baseline", "2"),
                                                        ("augmented", "1"), ("augmented", "2")]
    assert {r["label"]: r["pipeline"] for r in rows} == {
        "baseline": "none", "augmented": "rotation, affine, zoom in/out, horizontal flip"}
    assert all(float(r["val_acc"]) >= 0 and r["test_acc"] for r in rows)
    steps = list(csv.DictReader(io.StringIO(report.steps_csv(histories))))
    assert len(steps) == sum(len(h.steps) for h in histories) == sum(store.step_count(r.id) for r in store.runs())
    layers = histories[0].run.layers
    assert {f"grad_norm[{n}]" for n in layers} <= set(steps[0]) and steps[0]["pipeline"] == "none"


@pytest.mark.parametrize(("status", "box", "says"), [
    ("diverged", "warning", "Run #1 diverged** at step 7"),
    ("interrupted", "warning", "Run #1 interrupted:** the server stopped"),
    ("stopped", "info", "Run #1 was stopped on request"),
])
def test_how_a_run_ended_is_on_its_panel(home, status, box, says):
    store = Store(home / "runs.sqlite")
    run_id = store.create(RunConfig(train_size=250))
    store.finish(run_id, status, "the server stopped while this run was going" if status == "interrupted" else None,
                 diverged_step=7 if status == "diverged" else None)
    at = page("train")
    assert any(says in b.value for b in getattr(at, box)), [b.value for b in getattr(at, box)]
    assert status in at.get("progress")[0].proto.text


def test_with_only_gradient_lab_runs_the_train_page_says_where_they_are(home):
    store = Store(home / "runs.sqlite")
    run_id = store.create(LAB, status="running", pid=os.getpid())
    store.finish(run_id, "finished", test_acc=0.5, wall_s=1.0)
    at = page("train")
    assert at.info[0].value.startswith("No Train runs yet") and "Gradients page" in at.info[0].value

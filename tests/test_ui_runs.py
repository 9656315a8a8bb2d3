"""How runs are named and drawn on the Train and Runs pages (AppTest, runs written straight into a store): one
human label everywhere, in the sidebar's words; the first view picks runs that have data; one colour per run
in every chart; a table that fits."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from augviz import Pipeline, Step, data, models, report, serialize
from augviz.gradlab import PRESETS
from augviz.metrics import EpochMetrics, StepMetrics
from augviz.preview import SEED_PIPELINE
from augviz.runconfig import RunConfig
from augviz.store import Store
from augviz.ui import runs as runs_ui
from augviz.ui import train as train_ui

APP = str(Path(__file__).parents[1] / "app.py")
LAYERS = ["conv1", "conv2", "fc"]
BASELINE = RunConfig(train_size=500)
AUGMENTED = RunConfig(train_size=500, pipeline=serialize.to_dict(SEED_PIPELINE), group="exp-1",
                      name="augmented, 500 images, seed 0")


def store_of(home: Path) -> Store:
    return Store(home / "runs.sqlite")


def run_with_data(home: Path, cfg: RunConfig, status: str = "finished", epochs: int = 2) -> int:
    """A run with steps and epochs recorded, as the worker writes them."""
    store = store_of(home)
    run_id = store.create(cfg, status="running")
    store.started(run_id, LAYERS, 20, tuple(str(k) for k in range(10)))
    store.add_steps(run_id, [StepMetrics(s, 1 + s // 10, 2.3 - s / 20, [0.1, 0.2, 0.3], 0.4) for s in range(1, 21)])
    for e in range(1, epochs + 1):
        store.add_epoch(run_id, EpochMetrics(e, 2.0 / e, 0.3 * e, 2.1 / e, 0.25 * e, 900.0))
    if status != "running":
        store.finish(run_id, status, test_acc=0.5, wall_s=12.0)
    return run_id


def run_without_data(home: Path, cfg: RunConfig, status: str = "failed") -> int:
    store = store_of(home)
    run_id = store.create(cfg)
    store.finish(run_id, status, error="the data is missing" if status == "failed" else None)
    return run_id


def page(name: str, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.switch_page(f"pages/{name}.py")
    at.query_params.update(query)
    at.run()
    assert not at.exception
    return at


def figures(at: AppTest) -> dict[str, dict]:
    """The page's charts by title."""
    out = {}
    for chart in at.get("plotly_chart"):
        fig = json.loads(chart.proto.spec)
        out[fig["layout"]["title"]["text"]] = fig
    return out


# ---- one label, in the sidebar's words ---------------------------------------------------------------------


@pytest.mark.parametrize("model", models.TRAIN_MODELS)
@pytest.mark.parametrize("dataset", [n for n, s in data.DATASETS.items() if not s.user_folder])
def test_a_label_uses_the_sidebars_words_never_the_internal_names(model, dataset):
    for cfg, aug in ((RunConfig(model=model, dataset=dataset), "no augmentation"),
                     (RunConfig(model=model, dataset=dataset, pipeline=serialize.to_dict(SEED_PIPELINE)),
                      "with augmentation")):
        text = report.label(cfg)
        assert models.LABELS[model].split(" (")[0] in text and data.LABELS[dataset].split(" (")[0] in text
        assert aug in text and "2,000 images" in text and "seed 0" in text
        assert model not in text.split() and dataset not in text.split() and "_" not in text


def test_an_experiments_runs_are_labelled_like_any_other_and_a_users_name_is_kept():
    assert report.label(AUGMENTED) == "Seed CNN on Built-in shapes, 500 images, with augmentation, seed 0"
    assert report.label(BASELINE) == "Seed CNN on Built-in shapes, 500 images, no augmentation, seed 0"
    assert report.label(RunConfig(name="my baseline")) == "my baseline"


def test_a_lab_run_is_named_by_its_preset():
    p = PRESETS["relu_he"]
    cfg = RunConfig(model="deepnet", net=p.net.to_dict(), name=p.label)
    assert report.label(cfg) == f"Gradient lab: {p.label}"
    unnamed = RunConfig(model="deepnet", net=p.net.to_dict(), clip_norm=1.0)
    assert report.label(unnamed) == "Gradient lab: 10-layer relu CNN, kaiming init, clip 1"  # the network in words


def test_a_lab_run_started_from_a_preset_carries_the_presets_name(home):
    at = page("gradients")
    at.button(key="g_p_relu_he").click().run()
    at.button(key="g_train").click().run()
    (run,) = store_of(home).runs()
    assert report.run_label(run) == f"Gradient lab: {PRESETS['relu_he'].label}"
    assert at.selectbox(key="g_run").options == [f"#{run.id} {run.status}: {report.run_label(run)}"]


def test_every_place_that_names_a_run_uses_the_label(home):
    first, second = run_with_data(home, BASELINE), run_with_data(home, AUGMENTED)
    labels = {first: report.label(BASELINE), second: report.label(AUGMENTED)}

    at = page("runs")
    picker = at.multiselect(key="r_pick")
    assert picker.options == [f"#{second} finished: {labels[second]}", f"#{first} finished: {labels[first]}"]
    table = at.dataframe[0].value
    short = {i: report.short_label(store_of(home).get(i)) for i in (first, second)}
    assert list(table["label"]) == [short[second], short[first]]  # the same words, what differs first
    for title in ("Accuracy", "Loss"):
        legend = {t["name"].replace("<br>", " ") for t in figures(at)[title]["data"] if t.get("showlegend", True)}
        assert {f"#{i} {text}" for i, text in labels.items()} <= legend, title

    histories = [report.RunHistory(r, [], []) for r in store_of(home).runs()]
    assert "seed_cnn" not in report.epochs_csv(histories) + report.steps_csv(histories)

    at = page("train")
    assert f"#{second} finished: {labels[second]}" in at.selectbox(key="t_run").options


# ---- the first view picks runs with data -------------------------------------------------------------------


def test_the_first_view_picks_the_newest_runs_that_have_data_not_a_dead_one(home):
    older, newer = run_with_data(home, BASELINE), run_with_data(home, AUGMENTED, status="running")
    run_without_data(home, BASELINE, "failed")  # the newest: failed before its first step
    run_without_data(home, AUGMENTED, "stopped")
    at = page("runs")
    assert at.multiselect(key="r_pick").value == [newer, older]
    assert len(figures(at)) == 2


def test_with_no_run_that_has_data_the_page_says_so(home):
    run_without_data(home, BASELINE, "failed")
    at = page("runs")
    assert at.multiselect(key="r_pick").value == []
    assert any("None of the stored runs has metrics to draw" in i.value for i in at.info)


# ---- one colour per run --------------------------------------------------------------------------------------


def test_a_run_has_one_colour_in_every_chart(home):
    ids = [run_with_data(home, BASELINE), run_with_data(home, AUGMENTED), run_with_data(home, BASELINE)]
    at = page("runs", runs=",".join(map(str, ids)))
    colours: dict[str, set[str]] = {}
    for fig in figures(at).values():
        for trace in fig["data"]:
            group = trace.get("legendgroup")
            if group:
                colours.setdefault(group, set()).add(trace.get("line", {}).get("color"))
                if "marker" in trace:
                    colours[group].add(trace["marker"].get("color"))
    assert set(colours) == {str(i) for i in ids}
    assert all(len(c) == 1 for c in colours.values()), colours  # the same in both charts, train and validation
    assert len({next(iter(c)) for c in colours.values()}) == 3  # and a different one for each run


# ---- a table that fits ---------------------------------------------------------------------------------------


def test_the_augmentation_is_a_short_text_with_the_full_json_on_demand(home):
    flips = Pipeline((Step("horizontal_flip"), Step("vertical_flip")))
    run_with_data(home, BASELINE), run_with_data(home, AUGMENTED)
    run_with_data(home, replace(AUGMENTED, pipeline=serialize.to_dict(flips)))
    at = page("runs", runs="1,2,3")
    table = at.dataframe[0].value
    assert list(table["pipeline"]) == ["none", "rotation, affine, zoom in/out, horizontal flip",
                                       "horizontal flip, vertical flip"]
    shown = [json.loads(j.proto.body) for j in at.json]
    assert shown == [serialize.to_dict(SEED_PIPELINE), serialize.to_dict(flips)]


def test_the_table_fits_1366_px_and_repeats_nothing_the_label_says(home):
    run_with_data(home, BASELINE), run_with_data(home, AUGMENTED)
    run_with_data(home, replace(AUGMENTED, model="resnet", lr=0.01, seed=3,
                                pipeline=serialize.to_dict(Pipeline((Step("horizontal_flip"),)))))
    at = page("runs", runs="1,2,3")
    frame = at.dataframe[0]
    assert {"model", "seed", "train_size"}.isdisjoint(frame.value.columns)  # the label says them
    assert {"lr", "pipeline"} <= set(frame.value.columns)  # what the label does not say
    config = json.loads(frame.proto.columns)
    assert sum(config[c]["width"] for c in frame.value.columns) <= runs_ui.TABLE_PX


def test_the_table_label_starts_with_what_tells_an_experiments_runs_apart(home):
    run_id = run_with_data(home, replace(AUGMENTED, train_size=2000, seed=4))
    label = report.short_label(store_of(home).get(run_id))
    assert label == "with augmentation · seed 4 · 2,000 images · Seed CNN on Built-in shapes"
    assert report.label(replace(AUGMENTED, train_size=2000, seed=4)) == (
        "Seed CNN on Built-in shapes, 2,000 images, with augmentation, seed 4")  # the same words, reordered


def test_a_diverged_run_claims_no_accuracy_and_no_epoch_it_did_not_finish(home):
    store = store_of(home)
    run_id = store.create(replace(BASELINE, epochs=10), status="running")
    store.started(run_id, LAYERS, 80, tuple(str(k) for k in range(10)))
    store.add_steps(run_id, [StepMetrics(1, 1, 8e7, [0.1, 0.2, 0.3], 0.4)])
    store.add_epoch(run_id, EpochMetrics(1, 8e7, 0.094, 9e7, 0.084, 900.0))  # the trainer's cut-short epoch
    store.finish(run_id, "diverged", diverged_step=2)
    finished = run_with_data(home, replace(BASELINE, epochs=2), epochs=2)
    at = page("runs", runs=f"{run_id},{finished}")
    rows = {r["run"]: r for r in at.dataframe[0].value.to_dict("records")}
    assert rows[run_id]["epochs trained"] == 0 and rows[finished]["epochs trained"] == 2
    assert [rows[run_id][k] for k in ("test acc", "val acc", "train acc")] == ["diverged"] * 3
    assert rows[finished]["val acc"] == "50.0 %"


@pytest.mark.parametrize("name", ["runs", "train"])
def test_a_page_lists_the_newest_runs_and_a_linked_older_one_and_says_how_many_it_left_out(home, monkeypatch, name):
    monkeypatch.setattr(train_ui, "LIST_RUNS", 3)
    ids = [run_with_data(home, replace(BASELINE, seed=s)) for s in range(6)]
    param = {"runs": "runs", "train": "run"}[name]
    at = page(name, **{param: str(ids[0])})  # the oldest run, by its link
    picker = at.multiselect[0] if name == "runs" else at.selectbox(key="t_run")
    assert sorted(picker.options) == sorted(f"#{i} finished: {report.run_label(store_of(home).get(i))}"
                                            for i in (ids[0], *ids[-3:]))
    assert any("newest 3 of 6 stored runs" in c.value for c in at.caption)

"""The gradient lab: the acceptance figures, every builder option, the analysis on every activation, the page."""

from __future__ import annotations

import itertools
import json
import math
import statistics
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from augviz import data, gradlab
from augviz.errors import ConfigError
from augviz.gradlab import PRESETS, NetSpec
from augviz.runconfig import RunConfig
from augviz.train import train

APP = str(Path(__file__).parents[1] / "app.py")


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    ds = data.load("synthetic", 250, 0.0, 0)
    return ds.train.x[:128].float() / 255, ds.train.y[:128]


@pytest.fixture(scope="module")
def dataset() -> data.Dataset:
    return data.load("synthetic", 1000, 0.1, 0)


def mean_ratio(spec: NetSpec, batch, seeds: int = 5) -> float:
    ratios = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        ratios.append(gradlab.analyze(gradlab.DeepNet(spec, 3, 32, 10), *batch).ratio)
    return statistics.fmean(ratios)


class Recorder:
    def __init__(self) -> None:
        self.steps, self.details = [], []

    def started(self, *a): pass
    def step(self, m): self.steps.append(m)
    def epoch(self, m): pass
    def detail(self, m): self.details.append(m)


def run(preset: str, dataset, steps: int = 100) -> tuple:
    p = PRESETS[preset]
    rec = Recorder()
    cfg = RunConfig(model="deepnet", net=p.net.to_dict(), optimizer=p.optimizer, lr=p.lr, clip_norm=p.clip,
                    epochs=20, batch_size=64, schedule="constant", details=True)
    return train(cfg, rec, dataset=dataset, max_steps=steps), rec


# ---- acceptance figures ------------------------------------------------------------------------------------


def test_a_20_layer_sigmoid_mlp_vanishes(batch):
    assert mean_ratio(NetSpec(depth=20, activation="sigmoid", init="default"), batch) < 1e-3


def test_a_20_layer_relu_mlp_with_he_init_stays_in_range(batch):
    assert 0.1 <= mean_ratio(NetSpec(depth=20, activation="relu", init="kaiming"), batch) <= 10


def test_the_exploding_preset_explodes(batch, dataset):
    ratio = mean_ratio(PRESETS["exploding"].net, batch)
    summary, _ = run("exploding", dataset)
    assert ratio > 1e3 or (summary.status == "diverged" and summary.diverged_step <= 100)


def test_clipping_keeps_the_total_norm_at_or_below_the_threshold_on_every_step(dataset):
    summary, rec = run("clipping", dataset)
    c = PRESETS["clipping"].clip
    assert summary.status == "finished" and len(rec.steps) == 100
    assert max(m.grad_total for m in rec.steps) <= c * (1 + 1e-5)
    assert max(m.grad_total for m in rec.steps) > 0.99 * c  # it really had to clip


def test_runs_record_histograms_and_update_ratios(dataset):
    _, rec = run("relu_he", dataset, steps=20)
    assert rec.details and len(rec.details[0].histograms) == 20
    assert all(sum(h) > 0 for h in rec.details[0].histograms)
    assert all(0 < r < 1 for r in rec.details[0].update_ratios)


# ---- the builder and the analysis --------------------------------------------------------------------------

OPTIONS = list(itertools.product(gradlab.KINDS, gradlab.ACTIVATIONS, gradlab.INITS, (False, True), (False, True)))


@pytest.mark.parametrize(("kind", "act", "init", "bn", "res"), OPTIONS[::3] + OPTIONS[-3:])
def test_the_builder_makes_every_option(kind, act, init, bn, res, batch):
    spec = NetSpec(kind=kind, depth=5, width=8, activation=act, init=init, batchnorm=bn, residual=res)
    net = gradlab.DeepNet(spec, 3, 32, 10)
    assert net(batch[0][:4]).shape == (4, 10)
    assert [n for n, _ in net.layer_groups()] == [f"layer {k}" for k in range(1, 6)]
    assert len(net.weight_layers()) == 5


@pytest.mark.parametrize("act", gradlab.ACTIVATIONS)
def test_the_analysis_reports_every_layer_for_every_activation(act, batch):
    a = gradlab.analyze(gradlab.DeepNet(NetSpec(depth=8, width=32, activation=act), 3, 32, 10), *batch)
    assert len(a.layers) == 8 and math.isfinite(a.loss)
    for s in a.layers[:-1]:
        assert s.grad_norm > 0 and math.isfinite(s.act_mean) and s.act_std >= 0
        share = s.saturated if act in ("sigmoid", "tanh") else s.dead
        assert share is not None and 0 <= share <= 1
        assert (s.saturated is None) != (s.dead is None)
    if act == "relu":
        assert 0.3 < a.layers[1].dead < 0.7  # about half of ReLU units are off at initialisation


def test_saturation_shows_when_weights_are_large(batch):
    big = gradlab.analyze(gradlab.DeepNet(NetSpec(depth=6, activation="tanh", init="normal", init_std=1.0),
                                          3, 32, 10), *batch)
    assert big.layers[2].saturated > 0.5


@pytest.mark.parametrize(("doc", "path"), [
    ({"depth": 60}, "net.depth"), ({"activation": "swish"}, "net.activation"), ({"width": 10.5}, "net.width"),
    ({"batchnorm": "yes"}, "net.batchnorm"), ({"colour": 1}, "net.colour"),
])
def test_wrong_network_specs_name_the_field(doc, path):
    with pytest.raises(ConfigError) as e:
        gradlab.spec_from_dict(doc)
    assert e.value.path == path


def test_a_deepnet_run_config_round_trips():
    cfg = RunConfig(model="deepnet", net=PRESETS["residual"].net.to_dict(), clip_norm=2.0)
    assert RunConfig(**json.loads(cfg.to_json())) == cfg


# ---- the page ----------------------------------------------------------------------------------------------


def test_the_page_renders_and_a_preset_changes_the_controls_and_the_chart(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("pages/gradients.py").run()
    assert not at.exception
    assert float(at.metric[0].value) < 1e-3  # the vanishing preset is the first thing shown
    chart = at.get("plotly_chart")[0].proto.spec
    at.button(key="g_p_relu_he").click().run()
    assert at.sidebar.selectbox(key="g_activation").value == "relu"
    assert at.sidebar.selectbox(key="g_init").value == "kaiming"
    assert 0.1 <= float(at.metric[0].value) <= 10
    assert at.get("plotly_chart")[0].proto.spec != chart
    assert "He initialisation" in at.info[0].value


def test_a_run_from_the_page_draws_the_lab_charts(tmp_path, monkeypatch):
    import time

    from augviz import worker

    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("pages/gradients.py").run()
    at.slider(key="g_epochs").set_value(1).run()
    at.button(key="g_train").click().run()
    deadline = time.monotonic() + 180
    while "finished" not in (at.get("progress")[0].proto.text if at.get("progress") else ""):
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(1)
        at.run()
        assert not at.exception
    for proc in worker._children:
        proc.wait(timeout=30)
    worker.reap_children()
    # At initialisation 2 charts; the run adds norms, heatmap, histogram, update ratios, loss and accuracy.
    assert len(at.get("plotly_chart")) == 8
    assert at.select_slider(key=next(k.key for k in at.select_slider if k.key.startswith("g_hstep_"))).value

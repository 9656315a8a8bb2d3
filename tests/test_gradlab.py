"""The gradient lab: each preset's verdict at initialisation, the verdict rules, the cost cap, runs that explode or
clip, every builder option, the analysis on every activation, and the page."""

from __future__ import annotations

import itertools
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from augviz import data, deepnet, gradlab
from augviz.deepnet import NetSpec
from augviz.errors import ConfigError
from augviz.gradlab import PRESETS, Analysis, LayerStats
from augviz.metrics import HIST_EDGES
from augviz.runconfig import RunConfig
from augviz.train import gradient_histograms, train
from augviz.ui import gradients as gradients_ui

APP = str(Path(__file__).parents[1] / "app.py")
# Clipping acts in training: at initialisation it is the exploding net.
EXPECTED = {"vanishing": "vanishing", "exploding": "exploding", "relu_he": "healthy", "batchnorm": "healthy",
            "residual": "healthy", "clipping": "exploding"}


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    ds = data.load("synthetic", 250, 0.0, 0)
    return ds.train.x[:128].float() / 255, ds.train.y[:128]


@pytest.fixture(scope="module")
def dataset() -> data.Dataset:
    return data.load("synthetic", 1000, 0.1, 0)


def analysis_of(spec: NetSpec, batch, seed: int = 0) -> Analysis:
    return gradlab.analyze_capped(spec, *batch, seed)


def mean_ratio(spec: NetSpec, batch, seeds: int = 5) -> float:
    return statistics.fmean(analysis_of(spec, batch, seed).ratio for seed in range(seeds))


class Recorder:
    def __init__(self) -> None:
        self.steps, self.details = [], []

    def started(self, *a): pass
    def step(self, m): self.steps.append(m)
    def epoch(self, m): pass
    def detail(self, m): self.details.append(m)


def run(preset: str, dataset, steps: int = 100, hooks: tuple = ()) -> tuple:
    rec = Recorder()
    return train(PRESETS[preset].run_config(), rec, dataset=dataset, max_steps=steps, hooks=list(hooks)), rec


class StepGradient:
    """A hook that records the total gradient norm the optimizer is given (after any clipping)."""

    def __init__(self) -> None:
        self.totals: list[float] = []

    def before_update(self, state) -> None: pass

    def after_update(self, state) -> None:
        grads = [p.grad for params in state.layers for p in params if p.grad is not None]
        self.totals.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))


def stats(norms: list[float], rms: list[float], dead: float = 0.5, loss: float = 2.3) -> Analysis:
    """A hand-made analysis: one gradient norm per layer, one activation size per layer but the output."""
    layers = [LayerStats(f"layer {k + 1}", n, 0.0, r, r, None, dead)
              for k, (n, r) in enumerate(zip(norms[:-1], rms, strict=True))]
    layers.append(LayerStats(f"layer {len(norms)} (output)", norms[-1], math.nan, math.nan, math.nan, None, None))
    return Analysis(layers, loss, 128)


# ---- each preset at initialisation -----------------------------------------------------------------------------


@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_has_the_verdict_it_is_named_for(preset, batch):
    for seed in range(3):
        assert gradlab.diagnose(analysis_of(PRESETS[preset].net, batch, seed)).label == EXPECTED[preset]


@pytest.mark.parametrize("preset", PRESETS)
def test_a_preset_is_called_a_fix_exactly_when_its_network_is_healthy(preset):
    p = PRESETS[preset]
    assert p.fix == (EXPECTED[preset] == "healthy") == p.label.startswith("Fix")


@pytest.mark.parametrize("preset", PRESETS)
def test_a_presets_button_fits_a_third_of_an_800_px_page(preset):
    assert len(PRESETS[preset].button) <= 26 and PRESETS[preset].button != PRESETS[preset].label  # ~10 px a letter


@pytest.mark.parametrize("preset", PRESETS)
def test_a_presets_text_says_where_its_chart_shows_the_gradient_growing(preset, batch):
    way = gradlab.direction(analysis_of(PRESETS[preset].net, batch))
    text = PRESETS[preset].look_for
    for other in {"towards the input", "towards the output"} - {way}:
        assert f"grows {other}" not in text
    if way != "level":
        assert f"grows {way}" in text


def test_the_exploding_preset_is_millions_of_times_too_large_however_level_its_gradient(batch):
    a = analysis_of(PRESETS["exploding"].net, batch)
    assert min(a.norms) > 1e6 and a.layers[-2].act_rms > 1e6 * a.layers[0].act_rms
    assert 0.1 < a.ratio < 10  # level over depth: a first/last ratio alone would call it healthy


def test_a_20_layer_sigmoid_net_vanishes(batch):
    assert mean_ratio(NetSpec(depth=20, activation="sigmoid", init="default"), batch) < 1e-3
    assert mean_ratio(PRESETS["vanishing"].net, batch) < 1e-3


def test_a_20_layer_relu_net_with_he_init_stays_in_range(batch):
    assert 0.1 <= mean_ratio(NetSpec(depth=20, activation="relu", init="kaiming"), batch) <= 10
    assert 0.1 <= mean_ratio(PRESETS["relu_he"].net, batch) <= 10


def test_a_residual_layer_adds_its_input_before_the_activation():
    """relu(BN(conv x) + x), as the original ResNet: adding after the activation lets the sum grow per layer."""
    layer = deepnet.Layer(torch.nn.Linear(4, 4), None, torch.nn.ReLU(), residual=True)
    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(layer(x), torch.relu(layer.weights(x) + x))


# ---- the verdict rules -----------------------------------------------------------------------------------------


def test_a_loss_that_is_not_finite_is_exploding():
    assert gradlab.diagnose(stats([1.0] * 5, [1.0] * 4, loss=math.nan)).label == "exploding"
    assert gradlab.diagnose(stats([1.0, math.inf, 1.0, 1.0, 1.0], [1.0] * 4)).label == "exploding"


def test_level_gradients_in_the_billions_are_exploding():
    assert gradlab.diagnose(stats([5e9] * 5, [1.0] * 4)).label == "exploding"


def test_activations_growing_a_thousandfold_over_depth_are_exploding():
    assert gradlab.diagnose(stats([1.0] * 5, [1, 10, 100, 2000])).label == "exploding"


def test_a_gradient_falling_three_decades_towards_the_input_vanishes():
    v = gradlab.diagnose(stats([1e-5, 1e-4, 1e-3, 1e-2, 1.0], [1.0] * 4))
    assert v.label == "vanishing"
    assert any("grows towards the output" in f for f in v.facts)


def test_gradients_too_small_everywhere_vanish():
    assert gradlab.diagnose(stats([1e-8] * 5, [1.0] * 4)).label == "vanishing"


def test_a_gradient_growing_three_decades_towards_the_input_explodes():
    assert gradlab.diagnose(stats([10.0, 1.0, 0.1, 0.01, 0.001], [1.0] * 4)).label == "exploding"


def test_mostly_dead_units_are_named():
    assert gradlab.diagnose(stats([0.1] * 5, [1.0] * 4, dead=0.95)).label == "dead units"


def test_level_moderate_gradients_and_steady_activations_are_healthy():
    v = gradlab.diagnose(stats([0.05, 0.1, 0.2, 0.1, 0.3], [1.0, 0.9, 1.1, 1.0]))
    assert v.label == "healthy" and "gradient norms from 0.05 (layer 1) to 0.3 (layer 5)" in v.sentence()


# ---- randomness and cost ---------------------------------------------------------------------------------------


def test_building_and_analysing_never_touch_the_global_generator(batch):
    state = torch.get_rng_state()
    a = analysis_of(PRESETS["vanishing"].net, batch, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(123)  # whatever the global generator says, the seed decides
    assert analysis_of(PRESETS["vanishing"].net, batch, seed=3).norms == a.norms
    assert analysis_of(PRESETS["vanishing"].net, batch, seed=4).norms != a.norms


def test_building_a_network_leaves_sympy_unimported():
    """The Gradients page builds one on its first view: torch's symbolic-shape machinery (which ``to_empty`` on
    meta tensors imports, with sympy) cost that view about 0.4 s of server CPU."""
    code = ("import sys, torch; from augviz import deepnet; "
            "[deepnet.DeepNet(deepnet.NetSpec(kind=k, batchnorm=True), 3, 32, 10) for k in deepnet.KINDS]; "
            "print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == "False"


def test_the_default_init_is_pytorchs_rule():
    torch.manual_seed(0)
    net = deepnet.DeepNet(NetSpec(depth=3, width=64), 3, 32, 10, torch.Generator().manual_seed(0))
    bound = 1 / math.sqrt(64)
    w = net.hidden[0].weights.weight
    assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound and abs(float(w.std()) - bound / 3**0.5) < 0.01


SLIDER_MAXIMA = [NetSpec(kind=k, depth=50, width=max(gradients_ui.WIDTHS), activation=a, batchnorm=bn, residual=r)
                 for k in deepnet.KINDS for a in ("relu", "sigmoid") for bn in (False, True) for r in (False, True)]


@pytest.mark.parametrize("spec", [*SLIDER_MAXIMA[::3], SLIDER_MAXIMA[-1]])
def test_no_network_the_sliders_allow_is_analysed_past_the_cap(spec):
    fitting = [b for b in gradlab.BATCHES if gradlab.cost(spec, 3, 32, b).fits()]
    if fitting:
        assert gradlab.analysis_batch(spec, 3, 32) == fitting[0]
    else:
        with pytest.raises(gradlab.TooCostly, match="Lower the depth or the width"):
            gradlab.analysis_batch(spec, 3, 32)


def test_the_cap_refuses_the_largest_cnn_and_halves_the_batch_before_refusing():
    with pytest.raises(gradlab.TooCostly):
        gradlab.analysis_batch(NetSpec(kind="cnn", depth=50, width=128), 3, 32)
    halved = NetSpec(kind="cnn", depth=30, width=32, batchnorm=True, residual=True)
    assert gradlab.analysis_batch(halved, 3, 32) < gradlab.BATCHES[0]
    for p in PRESETS.values():  # every preset is analysed on at least 64 images (the 30-layer Fix 3 on 64)
        assert gradlab.analysis_batch(p.net, 3, 32) >= 64


def test_the_cost_grows_with_depth_width_batch_and_kind():
    base = NetSpec(kind="mlp", depth=10, width=64)
    c = gradlab.cost(base, 3, 32, 64)
    from dataclasses import replace
    for bigger in (replace(base, depth=20), replace(base, width=128), replace(base, kind="cnn")):
        assert gradlab.cost(bigger, 3, 32, 64).gflop > c.gflop
    assert gradlab.cost(base, 3, 32, 128).mb == 2 * c.mb


def test_a_capped_analysis_measures_what_it_was_given(batch):
    spec = NetSpec(kind="cnn", depth=30, width=32, batchnorm=True, residual=True)
    assert analysis_of(spec, batch).batch == gradlab.analysis_batch(spec, 3, 32)


# ---- runs -----------------------------------------------------------------------------------------------------


def test_the_exploding_preset_diverges_in_training(dataset):
    summary, rec = run("exploding", dataset)
    assert summary.status == "diverged" and summary.diverged_step <= 100
    assert all(math.isfinite(m.loss) for m in rec.steps)  # every recorded step is a finite one


def test_clipping_keeps_the_exploding_net_finite_and_every_step_at_the_threshold(dataset):
    given = StepGradient()
    summary, rec = run("clipping", dataset, hooks=[given])
    c = PRESETS["clipping"].clip
    assert summary.status == "finished" and len(rec.steps) == 100
    assert max(given.totals) <= c * (1 + 1e-5) and min(given.totals) > 0.99 * c  # every step clipped to c


def test_the_charts_see_the_raw_gradient_not_the_clipped_one(dataset):
    """The lesson of the clipped preset: the gradient stays huge, only the step is bounded."""
    _, rec = run("clipping", dataset, steps=20)
    assert min(m.grad_total for m in rec.steps) > 1e3 * PRESETS["clipping"].clip
    above = HIST_EDGES.index(3.0)  # the old histogram's top edge: values above it piled into its last bin
    assert any(sum(h[above:-1]) for h in rec.details[0].histograms)  # now they have bins of their own


def test_a_histogram_bins_values_across_the_gradient_charts_range():
    w = torch.nn.Parameter(torch.zeros(4))
    w.grad = torch.tensor([0.0, 1e-16, 1e5, 1e15])
    (counts,) = gradient_histograms([[w]])
    bin_of = [next(k for k in range(len(counts)) if HIST_EDGES[k] <= e < HIST_EDGES[k + 1]) for e in (-16, 5)]
    assert counts[0] == 1 and counts[-1] == 1  # zero in the first bin, 1e15 beyond the range in the last
    assert counts[bin_of[0]] == 1 and counts[bin_of[1]] == 1


def test_runs_record_histograms_and_update_ratios(dataset):
    _, rec = run("relu_he", dataset, steps=20)
    assert rec.details and len(rec.details[0].histograms) == PRESETS["relu_he"].net.depth
    assert all(sum(h) > 0 for h in rec.details[0].histograms)
    assert all(0 < r < 1 for r in rec.details[0].update_ratios)


@pytest.mark.parametrize("preset", PRESETS)
def test_each_presets_default_run_is_stated_and_within_the_lab_s_limits(preset):
    p = PRESETS[preset]
    assert p.why and p.epochs <= 20 and p.train_size in gradients_ui.SIZES and p.lr in gradients_ui.LRS


# ---- the builder and the analysis --------------------------------------------------------------------------

OPTIONS = list(itertools.product(deepnet.KINDS, deepnet.ACTIVATIONS, deepnet.INITS, (False, True), (False, True)))


@pytest.mark.parametrize(("kind", "act", "init", "bn", "res"), OPTIONS[::3] + OPTIONS[-3:])
def test_the_builder_makes_every_option(kind, act, init, bn, res, batch):
    spec = NetSpec(kind=kind, depth=5, width=8, activation=act, init=init, batchnorm=bn, residual=res)
    net = deepnet.DeepNet(spec, 3, 32, 10)
    assert net(batch[0][:4]).shape == (4, 10)
    assert [n for n, _ in net.layer_groups()] == [f"layer {k}" for k in range(1, 6)]
    assert len(net.weight_layers()) == 5


@pytest.mark.parametrize("act", deepnet.ACTIVATIONS)
def test_the_analysis_reports_every_layer_for_every_activation(act, batch):
    a = gradlab.analyze(deepnet.DeepNet(NetSpec(depth=8, width=32, activation=act), 3, 32, 10), *batch)
    assert len(a.layers) == 8 and math.isfinite(a.loss)
    for s in a.layers[:-1]:
        assert s.grad_norm > 0 and math.isfinite(s.act_mean) and s.act_std >= 0
        share = s.saturated if act in ("sigmoid", "tanh") else s.dead
        assert share is not None and 0 <= share <= 1
        assert (s.saturated is None) != (s.dead is None)
    if act == "relu":
        assert 0.3 < a.layers[1].dead < 0.7  # about half of ReLU units are off at initialisation


def test_saturation_shows_when_weights_are_large(batch):
    big = gradlab.analyze(deepnet.DeepNet(NetSpec(depth=6, activation="tanh", init="normal", init_std=1.0),
                                          3, 32, 10), *batch)
    assert big.layers[2].saturated > 0.5


@pytest.mark.parametrize(("doc", "path"), [
    ({"depth": 60}, "net.depth"), ({"activation": "swish"}, "net.activation"), ({"width": 10.5}, "net.width"),
    ({"batchnorm": "yes"}, "net.batchnorm"), ({"colour": 1}, "net.colour"),
])
def test_wrong_network_specs_name_the_field(doc, path):
    with pytest.raises(ConfigError) as e:
        deepnet.spec_from_dict(doc)
    assert e.value.path == path


def test_a_deepnet_run_config_round_trips():
    cfg = RunConfig(model="deepnet", net=PRESETS["residual"].net.to_dict(), clip_norm=2.0)
    assert RunConfig(**json.loads(cfg.to_json())) == cfg


# ---- the page ----------------------------------------------------------------------------------------------


def open_page(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("pages/gradients.py").run()
    assert not at.exception
    return at


def verdict(at: AppTest) -> str:
    return at.metric[0].value


def test_the_page_shows_each_presets_verdict_and_keeps_the_last_one_as_a_ghost(tmp_path, monkeypatch):
    at = open_page(tmp_path, monkeypatch)
    assert verdict(at) == "vanishing"  # the first thing shown
    at.button(key="g_p_relu_he").click().run()
    assert at.sidebar.selectbox(key="g_activation").value == "relu"
    assert at.sidebar.selectbox(key="g_init").value == "kaiming"
    assert verdict(at) == "healthy" and "He initialisation" in at.info[0].value
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    ghost = [t for t in chart["data"] if t["name"].startswith("before: ")]
    assert [t["name"] for t in ghost] == [f"before: {PRESETS['vanishing'].label}"]
    assert ghost[0]["y"][0] is not None and ghost[0]["y"][0] < 1e-6  # the vanished first layer, drawn as it is
    for name, expected in EXPECTED.items():
        at.button(key=f"g_p_{name}").click().run()
        assert verdict(at) == expected, name
        assert at.sidebar.slider(key="g_epochs").value == PRESETS[name].epochs


def test_a_network_over_the_cap_gets_a_message_and_no_analysis(tmp_path, monkeypatch):
    at = open_page(tmp_path, monkeypatch)
    at.sidebar.radio(key="g_kind").set_value("cnn")
    at.sidebar.slider(key="g_depth").set_value(50)
    at.sidebar.select_slider(key="g_width").set_value(256).run()
    assert not at.exception
    assert "too large to analyse here" in at.warning[0].value and not at.metric
    at.sidebar.slider(key="g_depth").set_value(20)
    at.sidebar.select_slider(key="g_width").set_value(16).run()
    assert verdict(at) and not at.warning


def test_a_run_from_the_page_draws_the_lab_charts_and_the_histogram_ends_on_the_last_step(tmp_path, monkeypatch):
    from augviz import worker
    from augviz.store import Store

    at = open_page(tmp_path, monkeypatch)
    at.sidebar.slider(key="g_depth").set_value(6)
    at.sidebar.slider(key="g_epochs").set_value(1)
    at.sidebar.select_slider(key="g_size").set_value(1000).run()
    at.button(key="g_train").click().run()
    deadline = time.monotonic() + 240
    while "finished" not in (at.get("progress")[0].proto.text if at.get("progress") else ""):
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(1)
        at.run()
        assert not at.exception
    for proc in worker._children:
        proc.wait(timeout=30)
    worker.reap_children()
    at.run()
    # At initialisation 2 charts; the run adds norms, heatmap, histogram, update ratios, loss and accuracy.
    assert len(at.get("plotly_chart")) == 8
    store = Store(tmp_path / "runs.sqlite")
    last = store.details(at.session_state["g_run"])[-1].step
    slider = at.select_slider(key=next(k.key for k in at.select_slider if k.key.startswith("g_hstep_")))
    assert slider.value == last


def test_lab_runs_compute_in_float32_whatever_the_processor():
    # The lab shows gradients across depth: bfloat16's rounding over 30 layers would be part of what it shows.
    assert gradlab.lab_run(gradlab.LAB, "adam", 1e-3, None, 1, 250).precision == "float32"
    assert {p.run_config(0).precision for p in PRESETS.values()} == {"float32"}

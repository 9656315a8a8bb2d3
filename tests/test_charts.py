"""The charts: a diverged run keeps every finite step and marks the divergence on every run chart; log axes read as
powers of ten; gradient charts share one fixed range; values are drawn as they are; text is large and dark."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import plotly.graph_objects as go
import pytest
from plotly.colors import sample_colorscale, unlabel_rgb

from augviz import charts, data, gradlab
from augviz.gradlab import PRESETS, Analysis, LayerStats
from augviz.metrics import DetailMetrics, EpochMetrics, StepMetrics
from augviz.report import RunHistory
from augviz.runconfig import RunConfig
from augviz.store import Store, StoreSink
from augviz.train import train
from augviz.ui.train import history

POWER = re.compile(r"^10[⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+$")


@pytest.fixture(scope="module")
def diverged(tmp_path_factory) -> tuple[Store, int]:
    """The exploding preset trained into a real store until its loss stops being finite, as the worker does."""
    store = Store(tmp_path_factory.mktemp("home") / "runs.sqlite")
    p = PRESETS["exploding"]
    cfg = RunConfig(model="deepnet", net=p.net.to_dict(), optimizer=p.optimizer, lr=p.lr, epochs=1,
                    train_size=1000, batch_size=64, schedule="constant", details=True)
    run_id = store.create(cfg, status="running")
    sink = StoreSink(store, run_id)
    s = train(cfg, sink, dataset=data.load("synthetic", 1000, 0.1, 0))
    sink.flush()
    store.finish(run_id, s.status, diverged_step=s.diverged_step, test_acc=s.test_acc)
    assert s.status == "diverged"
    return store, run_id


def made(layers: list[str], rows: list[tuple], diverged_step: int | None = None,
         details: list[DetailMetrics] | None = None) -> RunHistory:
    """A hand-made run history: rows of (step, loss, total norm, per-layer norms)."""
    run = SimpleNamespace(id=1, layers=layers, diverged_step=diverged_step, total_steps=10, config=RunConfig(epochs=1),
                          classes=[str(k) for k in range(10)])
    return RunHistory(run, [StepMetrics(s, 1, loss, norms, total) for s, loss, total, norms in rows], [],
                      details or [])


def shapes_at(fig: go.Figure) -> list[float]:
    return [s.x0 for s in fig.layout.shapes if s.x0 == s.x1]


def annotations(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def test_a_diverged_run_draws_every_finite_step_and_marks_the_divergence_on_every_run_chart(diverged):
    store, run_id = diverged
    run = store.get(run_id)
    n = run.diverged_step
    rows = store.steps(run_id)
    assert [r.step for r in rows] == list(range(1, n))  # every step before the divergence was kept
    h = history(store, run)
    norms = charts.grad_norms(h)
    total = next(d for d in norms.data if d.name == "all layers")
    assert list(total.x) == list(range(1, n))
    assert total.mode == "lines+markers"  # a few points are drawn, not an invisible line
    drawn_or_marked = {x for d in norms.data if d.y is not None for x, y in zip(d.x, d.y, strict=True)
                       if y is not None}
    assert drawn_or_marked >= set(range(1, n))
    heat = charts.heatmap(h)
    assert list(heat.data[0].x) == list(range(1, n))
    for fig, x in ((norms, n), (heat, n), (charts.update_ratios(h), n), (charts.loss([h]), n),
                   (charts.accuracy([h]), h.steps[-1].epoch)):  # on the epoch axis: the epoch it diverged in
        assert shapes_at(fig) == [x], fig.layout.title.text
        assert f"diverged at step {n}" in annotations(fig)
    note = charts.divergence_note(h)
    assert f"Diverged at step {n}" in note and f"at step {n - 1}" in note
    assert gradlab.sci(rows[-1].loss) in note  # the last finite loss, in words


def test_a_finished_run_has_no_divergence_marker():
    h = made(["layer 1", "layer 2"], [(s, 2.3, 1.0, [0.5, 0.5]) for s in (1, 2, 3)])
    assert shapes_at(charts.grad_norms(h)) == [] and charts.divergence_note(h) is None


def test_a_one_point_series_is_drawn_with_markers():
    h = made(["layer 1", "layer 2"], [(1, 2.3, 1.0, [0.5, 0.5])])
    lines = [d for d in charts.grad_norms(h).data if (d.name or "").startswith("layer ") or d.name == "all layers"]
    assert len(lines) == 3 and all("markers" in d.mode for d in lines)


def analysis(norms: list[float]) -> Analysis:
    layers = [LayerStats(f"layer {k + 1}", v, 0.5, 0.1, 0.5, 0.0, None) for k, v in enumerate(norms)]
    return Analysis(layers, 2.3, 128)


def test_values_are_drawn_as_they_are_and_exact_zeros_are_marked():
    fig = charts.init_gradients(analysis([0.0, 3e-16, 1e-3, 1e30]))
    line = fig.data[0]
    assert list(line.y) == [None, 3e-16, 1e-3, None]  # no floor: 3e-16 sits at 3e-16
    marks = {d.name: list(d.x) for d in fig.data[1:]}
    assert marks["exactly zero"] == [1]
    assert marks[f"above {charts.power(charts.GRAD_DECADES[1])} or not finite"] == [4]


def every_axis(fig: go.Figure) -> list:
    layout = fig.layout
    return [getattr(layout, k) for k in dir(layout) if re.fullmatch(r"[xy]axis\d*", k) and getattr(layout, k)]


def log_figures() -> list[go.Figure]:
    layers = ["layer 1", "layer 2", "layer 3"]
    details = [DetailMetrics(1, [[1] * 30] * 3, [1e-9, 1e-3, 1.0]), DetailMetrics(2, [[1] * 30] * 3, [1e-6, 1e-2, 0.0])]
    h = made(layers, [(1, 8.5e9, 1e10, [3e-16, 1e-3, 14e9]), (2, 3.0, 1.0, [1e-12, 1.0, 5.0])], 3, details)
    return [charts.grad_norms(h), charts.init_gradients(analysis([3e-16, 1e-6, 1.0, 14e9])),
            charts.init_activations(analysis([1.0, 1.0, 1.0])), charts.update_ratios(h),
            charts.histogram(h.run, 2, [[1] * 30] * 3, [0, 2])]


@pytest.mark.parametrize("fig", log_figures(), ids=["norms", "init", "activations", "update ratios", "histogram"])
def test_log_axes_read_as_powers_of_ten_with_no_si_suffix_and_nothing_in_between(fig):
    logs = [a for a in every_axis(fig) if a.type == "log" or a.ticktext]
    assert logs
    for axis in logs:
        assert axis.ticktext and all(POWER.match(t) for t in axis.ticktext), axis.ticktext
        assert len(axis.tickvals) == len(axis.ticktext)  # labelled ticks only
        if axis.type == "log":
            assert all(math.log10(v) == round(math.log10(v)) for v in axis.tickvals)
    for axis in every_axis(fig):
        assert axis.exponentformat == "power"


def test_the_heatmap_colour_bar_reads_as_powers_of_ten_and_its_ends_say_they_hold_everything_beyond():
    bar = charts.heatmap(made(["layer 1"], [(1, 2.3, 1.0, [1e-3])])).data[0].colorbar
    assert all(POWER.match(s.lstrip("≤≥")) for s in bar.ticktext)
    assert bar.ticktext[0].startswith("≤") and bar.ticktext[-1].startswith("≥")


def cell_colours(preset: str, batch) -> list[tuple[float, ...]]:
    """The heatmap's colour of each layer, at one step holding the preset's real gradient norms at initialisation."""
    a = gradlab.analyze_capped(PRESETS[preset].net, *batch, 0)
    trace = charts.heatmap(made([s.name for s in a.layers], [(1, a.loss, 1.0, a.norms)])).data[0]
    scale = [list(c) for c in trace.colorscale]
    at = [min(max((row[0] - trace.zmin) / (trace.zmax - trace.zmin), 0.0), 1.0) for row in trace.z]
    return [unlabel_rgb(c) for c in sample_colorscale(scale, at)]


def test_the_heatmap_tells_a_vanishing_net_from_a_healthy_one_at_a_glance():
    ds = data.load("synthetic", 250, 0.0, 0)
    batch = ds.train.x[:128].float() / 255, ds.train.y[:128]
    vanishing, fix, exploding = (cell_colours(p, batch) for p in ("vanishing", "relu_he", "exploding"))
    white = (247, 247, 247)
    assert all(math.dist(c, white) < 90 for c in fix)  # healthy: pale, near the scale's middle
    # The vanishing net's first layers (10⁻⁹ … 10⁻⁵) are deep blue, far from Fix 1's: on a sequential scale over
    # 10⁻²¹ … 10¹² the two nets' layer 1 were 56 apart (of 441), neighbouring greens.
    assert all(math.dist(v, f) > 150 for v, f in zip(vanishing[:4], fix[:4], strict=True))
    assert all(c[2] > c[0] for c in vanishing[:4]) and all(c[0] > c[2] for c in exploding)  # blue, red


def test_a_loss_in_the_billions_has_no_si_suffix():
    fig = charts.loss([made([], [(1, 2.3, 1.0, []), (2, 8.5e9, 1.0, [])], diverged_step=3)])
    assert fig.layout.yaxis.type == "log" and all(POWER.match(t) for t in fig.layout.yaxis.ticktext)
    assert shapes_at(fig) == [3]


def test_gradient_charts_share_one_fixed_range_whatever_the_network():
    vanishing = charts.init_gradients(analysis([1e-16, 1e-8, 1.0]))
    healthy = charts.init_gradients(analysis([1.0, 2.0, 5.0]))
    assert vanishing.layout.yaxis.range == healthy.layout.yaxis.range == charts.GRAD_DECADES
    a = made(["layer 1"], [(1, 1.0, 1.0, [1e-15]), (2, 1.0, 1.0, [1e-14])])
    b = made(["layer 1"], [(1, 1.0, 1.0, [1.0]), (2, 1.0, 1.0, [5.0])])
    assert charts.grad_norms(a).layout.yaxis.range == charts.grad_norms(b).layout.yaxis.range == charts.GRAD_DECADES
    ha, hb = charts.heatmap(a).data[0], charts.heatmap(b).data[0]
    assert (ha.zmin, ha.zmax) == (hb.zmin, hb.zmax) == charts.HEAT_DECADES


def test_the_previous_preset_stays_as_a_faint_ghost():
    fig = charts.init_gradients(analysis([1.0, 2.0]), ghost=("Vanishing", [1e-9, 1.0]))
    ghost = fig.data[0]
    assert ghost.name == "before: Vanishing" and ghost.opacity < 0.5 and list(ghost.y) == [1e-9, 1.0]


def test_layer_lines_run_along_one_colour_scale_with_a_colour_bar_not_a_legend():
    fig = charts.grad_norms(made([f"layer {k}" for k in range(1, 21)], [(s, 1.0, 1.0, [1.0] * 20) for s in (1, 2)]))
    layer_lines = [d for d in fig.data if d.name and d.name.startswith("layer ")]
    assert len(layer_lines) == 20 and not any(d.showlegend for d in layer_lines)
    assert len({d.line.color for d in layer_lines}) == 20
    assert layer_lines[0].line.color == charts.layer_colours(20)[0]
    assert any(d.marker.showscale for d in fig.data if d.marker)
    assert fig.layout.legend.yref == "container" and fig.layout.legend.y == 0  # below the plot: clear of the title


def all_figures() -> list[go.Figure]:
    h = made(["layer 1", "layer 2"], [(s, 2.3, 1.0, [0.5, 0.5]) for s in (1, 2)], None,
             [DetailMetrics(1, [[1] * 30] * 2, [1e-3, 1e-3])])
    a = analysis([1e-3, 1.0])
    return [charts.grad_norms(h), charts.heatmap(h), charts.init_gradients(a), charts.init_activations(a),
            charts.histogram(h.run, 1, [[1] * 30] * 2, [0, 1]), charts.update_ratios(h), charts.loss([h]),
            charts.accuracy([h]), charts.benefit([])]


def test_every_chart_is_handed_to_plotly_whole_not_updated_call_by_call(monkeypatch):
    """Each update or add call on a built Plotly figure walks and checks it again (about 20 ms a chart), and a
    watched run's charts are built anew every few seconds: three of them cost 76 ms that way, 23 ms whole."""
    def refused(*args, **kwargs):
        raise AssertionError("a chart updated after it was built")
    for name in ("update_layout", "update_xaxes", "update_yaxes", "add_trace", "add_traces", "add_hline",
                 "add_vline", "add_shape", "add_annotation"):
        monkeypatch.setattr(go.Figure, name, refused)
    assert len(all_figures()) == 9

@pytest.mark.parametrize("fig", all_figures())
def test_every_chart_has_large_dark_text(fig):
    def dark(colour: str) -> bool:
        return colour in ("#111111", "#111", "black")

    assert fig.layout.font.size >= 14 and dark(fig.layout.font.color)
    assert fig.layout.legend.font.size >= 14
    for axis in every_axis(fig):
        assert axis.tickfont.size >= 14 and dark(axis.tickfont.color)


def test_the_activation_size_is_drawn_on_the_power_of_ten_axis_so_an_explosion_shows():
    x = data.load("synthetic", 200, 0.0, 0).train.x[:32].float() / 255
    y = data.load("synthetic", 200, 0.0, 0).train.y[:32]
    exploding = gradlab.analyze_capped(PRESETS["exploding"].net, x, y, 0)
    fig = charts.init_activations(exploding)
    assert fig.layout.yaxis.type == "log" and tuple(fig.layout.yaxis.range) == charts.ACT_DECADES
    sizes = list(fig.data[0].y)
    assert sizes == [s.act_rms for s in exploding.layers[:-1]]  # every hidden layer, as it is, no output layer
    assert sizes[-1] / sizes[0] > 1e5  # the climb over decades that a linear axis flattened into one spike


def test_activation_sizes_that_are_zero_or_not_finite_are_marked_at_the_edge():
    layers = [LayerStats(f"layer {k + 1}", 1.0, 0.0, 0.0, v, None, 0.5) for k, v in enumerate([1.0, 0.0, math.inf])]
    fig = charts.init_activations(Analysis([*layers, LayerStats("layer 4 (output)", 1.0, *[math.nan] * 3, None,
                                                                None)], 2.3, 32))
    assert list(fig.data[0].y) == [1.0, None, None]
    marks = {d.name: list(d.x) for d in fig.data if d.name and d.name != "size (RMS)" and d.type == "scatter"}
    assert marks == {"exactly zero": [2], f"above {charts.power(charts.ACT_DECADES[1])} or not finite": [3]}


def test_a_runs_chart_starts_with_its_first_curve_and_keys_the_legend_after():
    """bench/ui.py and the browser checks read a chart's first trace as its first curve."""
    h = made(["layer 1"], [(s, 2.3, 1.0, [0.5]) for s in (1, 2)])
    h = RunHistory(h.run, h.steps, [EpochMetrics(1, 2.0, 0.3, 2.1, 0.25, 900.0)])
    for fig in (charts.loss([h]), charts.accuracy([h])):
        assert fig.data[0].x[0] is not None and fig.data[0].line.dash == charts.TRAIN_DASH
        keys = [d for d in fig.data if d.showlegend is not False and d.legendgroup == "1"]
        assert len(keys) == 1 and list(keys[0].x) == [None]


def run_history(run_id: int, steps: list[tuple[int, int, float]], epochs: list[int],
                diverged_step: int | None = None) -> RunHistory:
    """A hand-made Train run: steps as (step, epoch, loss), validation after each of ``epochs``."""
    run = SimpleNamespace(id=run_id, layers=["fc"], diverged_step=diverged_step, total_steps=1000,
                          config=RunConfig(), classes=[str(k) for k in range(10)], label="", unreadable=None)
    return RunHistory(run, [StepMetrics(s, e, loss, [1.0], 1.0) for s, e, loss in steps],
                      [EpochMetrics(e, 1.0, 0.5, 1.0, 0.5, 100.0) for e in epochs])


def test_a_diverged_run_beside_a_long_one_leaves_the_axes_on_the_data():
    long = run_history(3, [(s, 1 + (s - 1) // 100, 2.0 - s / 1000) for s in range(1, 1001)], list(range(1, 11)))
    blown = run_history(5, [(1, 1, 8e7)], [1], diverged_step=2)
    loss, acc = charts.loss([long, blown]), charts.accuracy([long, blown])
    lo, hi = loss.layout.xaxis.range
    assert -25 <= lo <= 0 and 1000 <= hi <= 1025  # from step 0 to the last step, not −463 … 1094
    lo, hi = acc.layout.xaxis.range
    assert 0 <= lo <= 1 and 10 <= hi <= 10.5  # epochs 1 … 10, not −14 … 38
    assert shapes_at(loss) == [2] and shapes_at(acc) == [1]  # the mark at its step, at the epoch holding it
    for fig in (loss, acc):  # near the axis' left end, the label goes right of the line: nothing cut off
        assert [a.xanchor for a in fig.layout.annotations if a.text.startswith("diverged")] == ["left"]


def test_a_one_point_loss_gets_a_range_whose_ticks_read_at_a_glance():
    fig = charts.loss([run_history(5, [(1, 1, 79775704.0)], [], diverged_step=2)])
    lo, hi = fig.layout.yaxis.range
    assert lo == pytest.approx(0.9 * 79775704.0) and hi == pytest.approx(1.1 * 79775704.0)


def test_a_run_keeps_its_colour_whichever_runs_are_shown_beside_it():
    three, two = run_history(3, [(1, 1, 2.0)], [1]), run_history(2, [(1, 1, 2.0)], [1])
    alone, together = charts.run_colours([three.run]), charts.run_colours([two.run, three.run])
    assert alone[3] == together[3] != together[2]
    colour = {d.legendgroup: d.line.color for d in charts.loss([two, three]).data if d.legendgroup}
    assert colour["3"] == charts.loss([three]).data[0].line.color == alone[3]


def test_the_experiment_chart_draws_both_arms_solid_told_apart_by_colour():
    with_aug = run_history(1, [(s, 1, 2.0) for s in range(1, 11)], [1])
    with_aug = RunHistory(SimpleNamespace(**{**vars(with_aug.run), "config": RunConfig(pipeline={"x": 1})}),
                          with_aug.steps, with_aug.epochs)
    without = run_history(2, [(s, 1, 2.0) for s in range(1, 11)], [1])
    lines = [d for d in charts.arms([with_aug, without]).data if d.name and "augmentation" in d.name]
    assert len(lines) == 2 and {d.line.dash for d in lines} == {"solid"}  # dotted means "training" above
    assert len({d.line.color for d in lines}) == 2


def test_accuracy_axes_read_in_per_cent_as_the_verdicts_and_tables_do():
    h = run_history(1, [(s, 1, 2.0) for s in range(1, 11)], [1])
    for fig in (charts.accuracy([h]), charts.arms([h])):
        assert fig.layout.yaxis.tickformat == ".0%" and tuple(fig.layout.yaxis.range) == (0, 1)


def test_the_sweep_chart_has_a_short_title_intervals_within_0_and_100_and_names_no_augmentation_in_its_legend():
    from augviz import serialize, sweep
    from augviz.preview import SEED_PIPELINE
    s = sweep.Sweep(RunConfig(train_size=500, steps=20), serialize.to_dict(SEED_PIPELINE), seeds=2)
    val = {0.0: [.20, .30], 0.5: [.30, .20], 1.0: [.02, .46], 1.5: [.25, .25], 2.0: [.96, .60]}
    results = {a.key: sweep.Outcome(val[a.value or 0.0][a.seed], val[a.value or 0.0][a.seed]) for a in sweep.plan(s)}
    fig = charts.sweep_curve(sweep.answer(s, results), "validation")
    assert fig.layout.title.text == "Validation accuracy"  # a half-width column at 800 px holds it whole
    (curve,) = [t for t in fig.data if t.mode == "lines+markers"]
    lows = [y - m for y, m in zip(curve.y, curve.error_y.arrayminus, strict=True)]
    highs = [y + p for y, p in zip(curve.y, curve.error_y.array, strict=True)]
    assert min(lows) == 0 and max(highs) == 100 and fig.layout.yaxis.rangemode == "nonnegative"
    assert not fig.layout.annotations  # nothing written on the plot, where it sat on the strength-0 point
    (none,) = [t for t in fig.data if t.name == "none 25.0 %"]  # the legend names the level of no augmentation
    assert none.line.dash == "dot" and list(none.x) == [0.0, 2.0] and list(none.y) == [25.0, 25.0]

"""Plotly figures for the Train, Runs and Gradients pages, built from runs' metrics as data (no Streamlit, no store
here: the pages read the store and hand the rows over)."""

from __future__ import annotations

import math
from itertools import pairwise

import plotly.graph_objects as go

from augviz.experiment import Comparison
from augviz.gradlab import Analysis
from augviz.report import RunHistory
from augviz.store import Run
from augviz.train import HIST_EDGES, StepMetrics

MAX_POINTS = 400  # per series: enough to see the curve, light enough to redraw every second


def _layout(fig: go.Figure, title: str, y: str, log: bool = False, x: str = "step") -> go.Figure:
    fig.update_layout(title=title, height=320, margin={"l": 50, "r": 10, "t": 40, "b": 40},
                      xaxis_title=x, yaxis_title=y, legend={"orientation": "h", "y": -0.25})
    if log:
        fig.update_yaxes(type="log")
    return fig


def _epoch_ends(steps: list[StepMetrics]) -> dict[int, int]:
    """The step at which each epoch ended, from a run's (thinned) step rows: the last step seen in it (exact
    to within the thinning, a few steps in a run of thousands)."""
    ends: dict[int, int] = {}
    for s in steps:
        ends[s.epoch] = max(ends.get(s.epoch, 0), s.step)
    return ends


def loss(histories: list[RunHistory]) -> go.Figure:
    fig = go.Figure()
    for h in histories:
        r = h.run
        fig.add_scatter(x=[s.step for s in h.steps], y=[s.loss for s in h.steps], mode="lines", name=f"#{r.id} train")
        ends = _epoch_ends(h.steps)
        val = [(ends[e.epoch], e.val_loss) for e in h.epochs if e.val_loss is not None and e.epoch in ends]
        if val:
            fig.add_scatter(x=[v[0] for v in val], y=[v[1] for v in val], mode="lines+markers",
                            name=f"#{r.id} validation")
    return _layout(fig, "Loss", "cross-entropy")


def _chance(fig: go.Figure, runs: list[Run]) -> None:
    """A labelled line at the accuracy of guessing (one over the number of classes)."""
    classes = max((len(r.classes) for r in runs), default=0) or 10
    fig.add_hline(y=1 / classes, line={"color": "grey", "dash": "dash"},
                  annotation_text=f"chance ({100 / classes:.0f}%)", annotation_position="bottom right")


def accuracy(histories: list[RunHistory]) -> go.Figure:
    """Training and validation accuracy per epoch, with the chance line."""
    fig = go.Figure()
    for h in histories:
        xs = [e.epoch for e in h.epochs]
        fig.add_scatter(x=xs, y=[e.train_acc for e in h.epochs], mode="lines+markers", name=f"#{h.run.id} train",
                        line={"dash": "dot"})
        fig.add_scatter(x=xs, y=[e.val_acc for e in h.epochs], mode="lines+markers", name=f"#{h.run.id} validation")
    _chance(fig, [h.run for h in histories])
    fig.update_yaxes(range=[0, 1])
    return _layout(fig, "Accuracy", "accuracy", x="epoch")


def grad_norms(h: RunHistory) -> go.Figure:
    """Per-layer gradient L2 norms against step, on a log axis: vanishing and exploding show as a fan."""
    fig = go.Figure()
    xs = [s.step for s in h.steps]
    for k, name in enumerate(h.run.layers):
        fig.add_scatter(x=xs, y=[max(s.grad_norms[k], 1e-12) for s in h.steps], mode="lines", name=name)
    fig.add_scatter(x=xs, y=[max(s.grad_total, 1e-12) for s in h.steps], mode="lines", name="total",
                    line={"color": "black", "dash": "dash"})
    return _layout(fig, "Gradient norm per layer", "L2 norm (log)", log=True)


def benefit(comparisons: list[Comparison]) -> go.Figure:
    """Augmentation's effect on test accuracy against training-set size: the mean paired difference over seeds
    with its 95 % interval as error bars (none where only one seed finished)."""
    rows = [c for c in comparisons if c.mean is not None]
    fig = go.Figure()
    lo = [100 * (c.mean - c.interval[0]) if c.interval else 0 for c in rows]
    hi = [100 * (c.interval[1] - c.mean) if c.interval else 0 for c in rows]
    fig.add_scatter(x=[c.train_size for c in rows], y=[100 * c.mean for c in rows], mode="lines+markers",
                    error_y={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo},
                    text=[c.verdict for c in rows], name="with − without (95% interval)")
    fig.add_hline(y=0, line={"color": "grey", "dash": "dot"})
    fig.update_xaxes(type="log")
    return _layout(fig, "What augmentation changes, by training-set size", "test accuracy difference (points)",
                   x="training images")


def arms(histories: list[RunHistory]) -> go.Figure:
    """Validation accuracy against step, averaged over seeds, for each arm (and size) of an experiment, with the
    chance line."""
    curves: dict[str, dict[int, list[float]]] = {}
    for h in histories:
        arm = f"{'with' if h.run.config.pipeline else 'without'} augmentation, {h.run.config.train_size} images"
        ends = _epoch_ends(h.steps)
        for e in h.epochs:
            if e.val_acc is not None and e.epoch in ends:
                curves.setdefault(arm, {}).setdefault(ends[e.epoch], []).append(e.val_acc)
    fig = go.Figure()
    for arm, by_step in sorted(curves.items()):
        xs = sorted(by_step)
        fig.add_scatter(x=xs, y=[sum(by_step[x]) / len(by_step[x]) for x in xs], mode="lines+markers", name=arm,
                        line={"dash": "solid" if arm.startswith("with ") else "dot"})
    _chance(fig, [h.run for h in histories])
    fig.update_yaxes(range=[0, 1])
    return _layout(fig, "Validation accuracy, mean over seeds", "accuracy", x="step")


def init_gradients(analysis: Analysis) -> go.Figure:
    """Gradient norm per layer at initialisation, input layer first, on a log axis."""
    layers = analysis.layers
    fig = go.Figure(go.Scatter(x=list(range(1, len(layers) + 1)), y=[max(s.grad_norm, 1e-30) for s in layers],
                               mode="lines+markers", name="gradient norm"))
    return _layout(fig, "Gradient norm per layer at initialisation", "L2 norm (log)", log=True, x="layer")


def init_activations(analysis: Analysis) -> go.Figure:
    """Activation mean and spread per layer, and the share of saturated or dead units."""
    rows = [s for s in analysis.layers if s.act_mean == s.act_mean]  # the output layer has none
    xs = list(range(1, len(rows) + 1))
    fig = go.Figure()
    fig.add_scatter(x=xs, y=[s.act_mean for s in rows], mode="lines+markers", name="mean",
                    error_y={"type": "data", "array": [s.act_std for s in rows]})
    shares = [s.saturated if s.saturated is not None else s.dead for s in rows]
    kind = "saturated" if rows and rows[0].saturated is not None else "dead"
    fig.add_bar(x=xs, y=shares, name=f"share {kind}", opacity=0.35, yaxis="y2")
    fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "range": [0, 1], "title": f"share {kind}"})
    return _layout(fig, "Activations per layer (mean ± sd)", "activation", x="layer")


def heatmap(h: RunHistory) -> go.Figure:
    """Layers × steps, colour = log10 of the gradient norm."""
    z = [[math.log10(max(s.grad_norms[k], 1e-30)) for s in h.steps] for k in range(len(h.run.layers))]
    fig = go.Figure(go.Heatmap(z=z, x=[s.step for s in h.steps], y=h.run.layers, colorscale="Viridis",
                               colorbar={"title": "log10 norm"}))
    return _layout(fig, "Gradient norm, layer × step (log colour)", "layer")


def histogram(run: Run, step: int, histograms: list[list[int]], layers: list[int]) -> go.Figure:
    """Histogram of log10 |gradient| for the chosen layers at one recorded step."""
    centres = [(a + b) / 2 for a, b in pairwise(HIST_EDGES)]
    fig = go.Figure()
    for k in layers:
        fig.add_bar(x=centres, y=histograms[k], name=run.layers[k], opacity=0.6)
    fig.update_layout(barmode="overlay")
    return _layout(fig, f"Gradient values at step {step}", "weights", x="log10 |gradient|")


def update_ratios(h: RunHistory) -> go.Figure:
    """‖Δw‖ / ‖w‖ per layer against step: around 1e-3 is healthy, far below learns nothing, far above thrashes."""
    fig = go.Figure()
    for k, name in enumerate(h.run.layers):
        fig.add_scatter(x=[d.step for d in h.details], y=[max(d.update_ratios[k], 1e-30) for d in h.details],
                        mode="lines", name=name)
    return _layout(fig, "Update-to-weight ratio per layer", "‖Δw‖ / ‖w‖ (log)", log=True)

"""Plotly figures for the Train and Runs pages, built from what the store holds (no Streamlit here)."""

from __future__ import annotations

import math
from itertools import pairwise

import plotly.graph_objects as go

from augviz.experiment import Comparison
from augviz.gradlab import Analysis
from augviz.store import Run, Store
from augviz.train import HIST_EDGES

MAX_POINTS = 400  # per series: enough to see the curve, light enough to redraw every second


def _layout(fig: go.Figure, title: str, y: str, log: bool = False, x: str = "step") -> go.Figure:
    fig.update_layout(title=title, height=320, margin={"l": 50, "r": 10, "t": 40, "b": 40},
                      xaxis_title=x, yaxis_title=y, legend={"orientation": "h", "y": -0.25})
    if log:
        fig.update_yaxes(type="log")
    return fig


def loss(store: Store, runs: list[Run]) -> go.Figure:
    fig = go.Figure()
    for r in runs:
        steps = store.steps(r.id, MAX_POINTS)
        fig.add_scatter(x=[s[0] for s in steps], y=[s[2] for s in steps], mode="lines", name=f"#{r.id} train")
        epochs = store.epochs(r.id)
        per_epoch = (r.total_steps or 0) / max(1, r.config.epochs)
        val = [(e[0] * per_epoch, e[3]) for e in epochs if e[3] is not None]
        if val:
            fig.add_scatter(x=[v[0] for v in val], y=[v[1] for v in val], mode="lines+markers",
                            name=f"#{r.id} validation")
    return _layout(fig, "Loss", "cross-entropy")


def accuracy(store: Store, runs: list[Run]) -> go.Figure:
    fig = go.Figure()
    for r in runs:
        epochs = store.epochs(r.id)
        xs = [e[0] for e in epochs]
        fig.add_scatter(x=xs, y=[e[2] for e in epochs], mode="lines+markers", name=f"#{r.id} train",
                        line={"dash": "dot"})
        fig.add_scatter(x=xs, y=[e[4] for e in epochs], mode="lines+markers", name=f"#{r.id} validation")
    fig.update_yaxes(range=[0, 1])
    return _layout(fig, "Accuracy", "accuracy", x="epoch")


def grad_norms(store: Store, run: Run) -> go.Figure:
    """Per-layer gradient L2 norms against step, on a log axis: vanishing and exploding show as a fan."""
    steps = store.steps(run.id, MAX_POINTS)
    fig = go.Figure()
    xs = [s[0] for s in steps]
    for k, name in enumerate(run.layers):
        fig.add_scatter(x=xs, y=[max(s[4][k], 1e-12) for s in steps], mode="lines", name=name)
    fig.add_scatter(x=xs, y=[max(s[3], 1e-12) for s in steps], mode="lines", name="total",
                    line={"color": "black", "dash": "dash"})
    return _layout(fig, "Gradient norm per layer", "L2 norm (log)", log=True)


def benefit(comparisons: list[Comparison]) -> go.Figure:
    """Augmentation's effect on test accuracy against training-set size, mean ± sd over seeds."""
    rows = [c for c in comparisons if c.mean is not None]
    fig = go.Figure()
    fig.add_scatter(x=[c.train_size for c in rows], y=[100 * c.mean for c in rows], mode="lines+markers",
                    error_y={"type": "data", "array": [100 * (c.spread or 0) for c in rows]}, name="with − without")
    fig.add_hline(y=0, line={"color": "grey", "dash": "dot"})
    fig.update_xaxes(type="log")
    return _layout(fig, "What augmentation changes, by training-set size", "test accuracy difference (points)",
                   x="training images")


def arms(store: Store, runs: list[Run]) -> go.Figure:
    """Validation accuracy per epoch, averaged over seeds, for each arm (and size) of an experiment."""
    curves: dict[str, dict[int, list[float]]] = {}
    for r in runs:
        arm = f"{'with' if r.config.pipeline else 'without'} augmentation, {r.config.train_size} images"
        for e in store.epochs(r.id):
            if e[4] is not None:
                curves.setdefault(arm, {}).setdefault(e[0], []).append(e[4])
    fig = go.Figure()
    for arm, by_epoch in sorted(curves.items()):
        xs = sorted(by_epoch)
        fig.add_scatter(x=xs, y=[sum(by_epoch[x]) / len(by_epoch[x]) for x in xs], mode="lines+markers", name=arm,
                        line={"dash": "solid" if arm.startswith("with ") else "dot"})
    fig.update_yaxes(range=[0, 1])
    return _layout(fig, "Validation accuracy, mean over seeds", "accuracy", x="epoch")


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


def heatmap(store: Store, run: Run) -> go.Figure:
    """Layers × steps, colour = log10 of the gradient norm."""
    steps = store.steps(run.id, MAX_POINTS)
    z = [[math.log10(max(s[4][k], 1e-30)) for s in steps] for k in range(len(run.layers))]
    fig = go.Figure(go.Heatmap(z=z, x=[s[0] for s in steps], y=run.layers, colorscale="Viridis",
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


def update_ratios(store: Store, run: Run) -> go.Figure:
    """‖Δw‖ / ‖w‖ per layer against step: around 1e-3 is healthy, far below learns nothing, far above thrashes."""
    details = store.details(run.id)
    fig = go.Figure()
    for k, name in enumerate(run.layers):
        fig.add_scatter(x=[d[0] for d in details], y=[max(d[2][k], 1e-30) for d in details], mode="lines",
                        name=name)
    return _layout(fig, "Update-to-weight ratio per layer", "‖Δw‖ / ‖w‖ (log)", log=True)

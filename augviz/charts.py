"""Plotly figures for the Train, Runs and Gradients pages, built from runs' metrics as data (no Streamlit, no store
here: the pages read the store and hand the rows over).

Every figure goes through ``style``: tick, legend and title text at least 14 px and dark, numbers as powers of
ten rather than SI suffixes. Log axes carry their own tick labels (10⁻¹⁵ … 10³, nothing in between), and every
gradient-norm chart shares one fixed range, so that switching presets or runs shows the change at a glance.
"""

from __future__ import annotations

import math
import textwrap
from itertools import pairwise

import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from augviz.experiment import Comparison
from augviz.gradlab import Analysis, sci, superscript
from augviz.metrics import StepMetrics, hist_edges
from augviz.report import RunHistory, run_label
from augviz.store import Run
from augviz.sweep import Answer, mean_interval, shown

MAX_POINTS = 400  # per series: enough to see the curve, light enough to redraw every second
FONT = 14  # px: the smallest text on any chart
INK = "#111111"
GRAD_DECADES = (-21, 12)  # every gradient-norm line chart: 10⁻²¹ … 10¹², whatever the network
# The heatmap's colours, also fixed whatever the network: a diverging scale, white at a healthy norm (Fix 1's layers
# train between 10⁻² and 10⁰), blue where the gradient vanishes and red where it explodes, saturated 9 decades out.
# On one sequential scale over GRAD_DECADES the vanishing net's layers and Fix 1's were neighbouring greens.
HEALTHY_DECADE = -1
HEAT_DECADES = (HEALTHY_DECADE - 9, HEALTHY_DECADE + 9)
HEAT_SCALE = [[0.0, "#053061"], [0.2, "#2166ac"], [0.4, "#92c5de"], [0.5, "#f7f7f7"], [0.6, "#f4a582"],
              [0.8, "#b2182b"], [1.0, "#67001f"]]  # ColorBrewer's RdBu, reversed: blue low, red high
RATIO_DECADES = (-12, 3)  # update-to-weight ratios
ACT_DECADES = (-12, 24)  # activation sizes: a healthy net sits near 10⁰, the exploding preset reaches 10⁸ at 10 layers
EDGE = {"below": "triangle-down", "zero": "x", "above": "triangle-up"}
# Layers run along one sequential scale, input (dark) to output; viridis stops before its palest yellow.
LAYER_SCALE = [[k / 8, c] for k, c in enumerate(sample_colorscale("Viridis", [0.9 * k / 8 for k in range(9)]))]
DIVERGED = "#c62828"
# One colour per run, the same in every chart, selection and page: a fixed qualitative palette (Okabe–Ito, readable
# by colour-blind viewers and on a projector), picked by the run's id alone.
RUN_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
TRAIN_DASH = "dot"  # training curves dotted, validation solid, in the run's colour
ARM_COLOURS = {False: "#777777", True: "#0072B2"}  # the experiment's arms: without augmentation grey, with blue
SIZE_MARKERS = ("circle", "square", "diamond", "triangle-up", "x", "star", "cross")  # one per training-set size


class Spec:
    """A figure as plain data, built up by the helpers below and made a Plotly figure once (``figure``): Plotly
    checks a figure handed over whole in a few milliseconds, while each ``update_*`` or ``add_*`` call on a built
    one costs about as much again, and a watched run's charts are built anew every few seconds (bench/watch.py).
    Its methods do what the figure's methods of the same names do."""

    def __init__(self, *traces: dict) -> None:
        self.data: list[dict] = list(traces)
        self.layout: dict = {}

    def add_scatter(self, **trace) -> None:
        self.data.append({"type": "scatter", **trace})

    def add_bar(self, **trace) -> None:
        self.data.append({"type": "bar", **trace})

    def update_layout(self, props: dict | None = None, **more) -> None:
        """Merge into the layout: nested dicts merge, any other value replaces."""
        _merge(self.layout, {**(props or {}), **more})

    def update_xaxes(self, **props) -> None:
        self._update_axes("xaxis", props)

    def update_yaxes(self, **props) -> None:
        self._update_axes("yaxis", props)

    def _update_axes(self, kind: str, props: dict) -> None:
        """``props`` on every axis of ``kind``: the first, and any other the layout holds (``yaxis2``)."""
        for name in [kind] + [k for k in self.layout if k.startswith(kind) and k[len(kind):].isdigit()]:
            _merge(self.layout.setdefault(name, {}), props)

    def add_hline(self, y: float, line: dict, text: str | None = None, position: str = "bottom right") -> None:
        """A line across the plot at ``y``, with ``text`` at its end (``position``: "bottom right" or "top left")."""
        self._shape({"type": "line", "x0": 0, "x1": 1, "xref": "x domain", "y0": y, "y1": y, "yref": "y",
                     "line": line})
        if text is not None:
            right = position.endswith("right")
            self._note({"showarrow": False, "text": text, "x": 1 if right else 0, "xanchor": "right" if right
                        else "left", "xref": "x domain", "y": y, "yanchor": "top" if position.startswith("bottom")
                        else "bottom", "yref": "y"})

    def add_vline(self, x: float, line: dict, annotation: dict, position: str) -> None:
        """A line up the plot at ``x``, with ``annotation`` at its top (``position``: "top right" or "top left")."""
        self._shape({"type": "line", "x0": x, "x1": x, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain",
                     "line": line})
        self._note({**annotation, "showarrow": False, "x": x, "xanchor": "left" if position == "top right"
                    else "right", "xref": "x", "y": 1, "yanchor": "top", "yref": "y domain"})

    def _shape(self, shape: dict) -> None:
        self.layout.setdefault("shapes", []).append(shape)

    def _note(self, annotation: dict) -> None:
        self.layout.setdefault("annotations", []).append(annotation)

    def figure(self) -> go.Figure:
        return go.Figure({"data": self.data, "layout": self.layout})


def _merge(into: dict, props: dict) -> None:
    for key, value in props.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def style(fig: Spec) -> None:
    """The one text style of every chart: 14 px and dark, numbers without SI suffixes."""
    text = {"size": FONT, "color": INK}
    fig.update_layout(font=text, title={"font": {"size": FONT + 2, "color": INK}}, legend={"font": text},
                      hoverlabel={"font": {"size": FONT}})
    for update in (fig.update_xaxes, fig.update_yaxes):
        update(tickfont=text, title={"font": text}, exponentformat="power", color=INK)


def _layout(fig: Spec, title: str, y: str, log: bool = False, x: str = "step") -> None:
    # The title at the top, the legend at the bottom, below the x axis's title, where the space it takes grows with
    # the rows it wraps into (Plotly widens the bottom margin for it): placed above the plot, a legend wrapping
    # onto more rows in a narrow column grew up over the title ("Loss" and "Accuracy" at 800 px).
    fig.update_layout(title={"text": title, "y": 0.98, "yanchor": "top", "x": 0.01, "xanchor": "left"}, height=380,
                      margin={"l": 60, "r": 10, "t": 50, "b": 50}, xaxis={"title": {"text": x}},
                      yaxis={"title": {"text": y}},
                      legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom",
                              "xref": "container", "x": 0, "xanchor": "left"})
    if log:
        log_axis(fig, RATIO_DECADES)
    style(fig)


def power(k: int) -> str:
    """10 to the ``k`` as tick text: 10⁻¹⁵."""
    return f"10{superscript(k)}"


def log_axis(fig: Spec, decades: tuple[int, int], axis: str = "yaxis", every: int = 3) -> None:
    """A log axis over the fixed range 10^lo … 10^hi, labelled at every ``every``-th power of ten only."""
    lo, hi = decades
    ks = [k for k in range(lo, hi + 1) if k % every == 0]
    fig.update_layout({axis: {"type": "log", "range": [lo, hi], "tickvals": [10.0 ** k for k in ks],
                              "ticktext": [power(k) for k in ks], "minor": {"ticks": "", "showgrid": False}}})
def _mode(points: int) -> str:
    # A line through one point is invisible: short series get markers too.
    return "lines+markers" if points < 30 else "lines"


def _on_scale(values: list[float], decades: tuple[int, int]) -> list[float | None]:
    """Values as they are where a log axis can draw them; gaps for zeros, non-finite and out-of-range values
    (``_edge_marks`` marks those)."""
    lo, hi = 10.0 ** decades[0], 10.0 ** decades[1]
    return [v if math.isfinite(v) and lo <= v <= hi else None for v in values]


def _edge_marks(fig: Spec, xs: list, values: list[float], decades: tuple[int, int], **trace) -> None:
    """Mark values a log axis cannot draw, at the edge of the fixed range: exact zeros and values below it at
    the bottom, values above it or not finite at the top."""
    lo, hi = 10.0 ** decades[0], 10.0 ** decades[1]
    groups: dict[str, list[tuple]] = {"zero": [], "below": [], "above": []}
    for x, v in zip(xs, values, strict=True):
        if v == 0:
            groups["zero"].append((x, lo, "exactly 0"))
        elif math.isfinite(v) and 0 < v < lo:
            groups["below"].append((x, lo, f"{v:.2g}"))
        elif not math.isfinite(v) or v > hi:
            groups["above"].append((x, hi, f"{v:.2g}"))
    names = {"zero": "exactly zero", "below": f"below {power(decades[0])}",
             "above": f"above {power(decades[1])} or not finite"}
    for kind, rows in groups.items():
        if rows:
            fig.add_scatter(x=[r[0] for r in rows], y=[r[1] for r in rows], text=[r[2] for r in rows],
                            mode="markers", name=names[kind], hovertemplate="%{x}: %{text}<extra></extra>",
                            marker={"symbol": EDGE[kind], "size": 11, "color": INK}, cliponaxis=False, **trace)



def layer_colours(n: int) -> list[str]:
    """One colour per layer along ``LAYER_SCALE``, input first."""
    return sample_colorscale(LAYER_SCALE, [k / max(1, n - 1) for k in range(n)])


def _layer_colour_bar(fig: Spec, n: int, x: float) -> None:
    """A colour bar for the layer lines (instead of a legend entry per layer): an invisible point that carries
    the scale."""
    fig.add_scatter(x=[x], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
                    marker={"color": [1], "cmin": 1, "cmax": n, "colorscale": LAYER_SCALE, "showscale": True,
                            "colorbar": {"title": {"text": "layer", "font": {"size": FONT, "color": INK}},
                                         "tickvals": [1, n], "ticktext": ["1 (input)", f"{n} (output)"],
                                         "tickfont": {"size": FONT, "color": INK}, "thickness": 14}})


def mark_divergence(fig: Spec, x: float, step: int) -> None:
    """The step where the loss stopped being finite: a red dashed line, labelled on the side of the line with
    more room (on a set x range, the right side when the line is in its left half: the label would be cut off
    at the plot's left edge)."""
    span = fig.layout.get("xaxis", {}).get("range")
    side = "top right" if span is not None and x <= (span[0] + span[1]) / 2 else "top left"
    fig.add_vline(x=x, line={"color": DIVERGED, "dash": "dash", "width": 2},
                  annotation={"text": f"diverged at step {step}", "font": {"size": FONT, "color": DIVERGED}},
                  position=side)


def _mark_runs_divergence(fig: Spec, histories: list[RunHistory], in_epochs: bool = False) -> None:
    """Mark each diverged run's step (on an epoch axis: the epoch it diverged in)."""
    for h in histories:
        n = h.run.diverged_step
        if n is not None:
            mark_divergence(fig, (h.steps[-1].epoch if h.steps else 1) if in_epochs else n, n)


def _epoch_ends(steps: list[StepMetrics]) -> dict[int, int]:
    """The step at which each epoch ended, from a run's (thinned) step rows: the last step seen in it (exact
    to within the thinning, a few steps in a run of thousands)."""
    ends: dict[int, int] = {}
    for s in steps:
        ends[s.epoch] = max(ends.get(s.epoch, 0), s.step)
    return ends


def run_colour(run_id: int) -> str:
    """A run's colour: from its id alone, so a run keeps its colour whichever runs are shown beside it and on
    every page (runs whose ids differ by less than the palette's length never share one)."""
    return RUN_PALETTE[run_id % len(RUN_PALETTE)]


def run_colours(runs: list[Run]) -> dict[int, str]:
    """Each run's colour (``run_colour``), by id."""
    return {r.id: run_colour(r.id) for r in runs}


def _span(fig: Spec, xs: list[float], whole: bool = False) -> None:
    """The x axis over the data, set rather than left to Plotly's autorange (which pads for markers and the
    divergence label, and squeezed the curves to the right): from the first to the last x, half a unit either
    side of a single whole-number x (an epoch), 2 % either side otherwise."""
    if not xs:
        return
    lo, hi = min(xs), max(xs)
    pad = 0.5 if whole and lo == hi else max((hi - lo) * 0.02, 0.5 if whole else 1)
    fig.update_xaxes(range=[lo - pad, hi + pad])


def _steady_range(fig: Spec, values: list[float]) -> None:
    """A constant (or one-point) series on a linear axis gets ±10 % of its value as its range, so the ticks read
    "8×10⁷" rather than nine significant figures around a range of nothing."""
    finite = [v for v in values if math.isfinite(v)]
    if finite and max(finite) == min(finite):
        v = finite[0]
        half = abs(v) * 0.1 or 1.0
        fig.update_yaxes(range=[v - half, v + half])


# characters: a legend entry wraps at spaces onto lines this long, which fit a chart in half of an 800-px page
# beside the sidebar (about 230 px; a longer line ran past the chart's edge)
LEGEND_LINE = 26


def run_name(run: Run) -> str:
    """A run in a legend: its id and its label, wrapped at spaces onto lines of ``LEGEND_LINE`` characters."""
    text = f"#{run.id} {run_label(run)}"
    return "<br>".join(textwrap.wrap(text, LEGEND_LINE, break_long_words=False, break_on_hyphens=False))


def _run_key(fig: Spec, run: Run, colour: str) -> None:
    """The run's legend entry, in its colour: one per run, whichever of its curves exist (clicking it hides or
    shows them all)."""
    fig.add_scatter(x=[None], y=[None], mode="lines", name=run_name(run), legendgroup=str(run.id),
                    line={"color": colour, "width": 4}, hoverinfo="skip")


def _room_for_legend(fig: Spec, runs: int) -> None:
    """Taller with more runs: each run's legend entry takes a few lines below the plot, which keeps its height."""
    fig.update_layout(height=max(380, 300 + 80 * runs))


def _style_key(fig: Spec) -> None:
    """Two grey legend entries that say which line style is which (colour says which run)."""
    for name, dash in (("training (dotted)", TRAIN_DASH), ("validation (solid)", "solid")):
        fig.add_scatter(x=[None], y=[None], mode="lines", name=name, line={"color": "#777777", "dash": dash},
                        hoverinfo="skip")


def _chance(fig: Spec, runs: list[Run]) -> None:
    """A labelled line at the accuracy of guessing (one over the number of classes)."""
    classes = max((len(r.classes) for r in runs), default=0) or 10
    fig.add_hline(y=1 / classes, line={"color": "grey", "dash": "dash"}, text=f"chance ({100 / classes:.0f}%)",
                  position="bottom right")


def divergence_note(h: RunHistory) -> str | None:
    """For a diverged run, where it diverged and the last finite loss, in words."""
    n = h.run.diverged_step
    if n is None:
        return None
    if not h.steps:
        return f"The loss stopped being a finite number at step {n}, before any step was recorded."
    last = h.steps[-1]
    return (f"Diverged at step {n}: the loss stopped being a finite number. The last finite loss was "
            f"{sci(last.loss)} at step {last.step}; the charts show every step up to it and mark step {n} with a "
            "red dashed line.")


def loss(histories: list[RunHistory]) -> go.Figure:
    """Training (and validation) loss against step, one colour per run (``run_colours``); a log axis when the
    loss spans more than three decades (a run that blows up), and each diverged run's step marked."""
    fig, values = Spec(), []
    colours = run_colours([h.run for h in histories])
    for h in histories:
        r = h.run
        values += [s.loss for s in h.steps]
        line = {"color": colours[r.id]}
        fig.add_scatter(x=[s.step for s in h.steps], y=[s.loss for s in h.steps], mode=_mode(len(h.steps)),
                        name=run_name(r), legendgroup=str(r.id), showlegend=False,
                        line={**line, "dash": TRAIN_DASH},
                        hovertemplate=f"#{r.id} training, step %{{x}}: %{{y:.3g}}<extra></extra>")
        ends = _epoch_ends(h.steps)
        val = [(ends[e.epoch], e.val_loss) for e in h.epochs
               if e.val_loss is not None and math.isfinite(e.val_loss) and e.epoch in ends]
        if val:
            fig.add_scatter(x=[v[0] for v in val], y=[v[1] for v in val], mode="lines+markers", name=run_name(r),
                            legendgroup=str(r.id), showlegend=False, line=line, marker={"color": colours[r.id]},
                            hovertemplate=f"#{r.id} validation, step %{{x}}: %{{y:.3g}}<extra></extra>")
        _run_key(fig, r, colours[r.id])  # after the curves: a chart's first trace is a run's first curve
    _style_key(fig)
    _layout(fig, "Loss", "cross-entropy")
    _room_for_legend(fig, len(histories))
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    if positive and max(positive) / min(positive) > 1e3:
        lo, hi = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
        log_axis(fig, (lo, hi), every=max(1, math.ceil((hi - lo) / 8)))
    else:
        _steady_range(fig, values)
    _span(fig, [0] + [s.step for h in histories for s in h.steps]
          + [h.run.diverged_step for h in histories if h.run.diverged_step is not None])
    _mark_runs_divergence(fig, histories)
    return fig.figure()


def accuracy(histories: list[RunHistory]) -> go.Figure:
    """Training and validation accuracy per epoch, one colour per run (``run_colours``), with the chance line."""
    fig = Spec()
    colours = run_colours([h.run for h in histories])
    for h in histories:
        r, xs = h.run, [e.epoch for e in h.epochs]
        line = {"color": colours[r.id]}
        fig.add_scatter(x=xs, y=[e.train_acc for e in h.epochs], mode="lines+markers", name=run_name(r),
                        legendgroup=str(r.id), showlegend=False, line={**line, "dash": TRAIN_DASH},
                        marker={"color": colours[r.id]},
                        hovertemplate=f"#{r.id} training, epoch %{{x}}: %{{y:.1%}}<extra></extra>")
        fig.add_scatter(x=xs, y=[e.val_acc for e in h.epochs], mode="lines+markers", name=run_name(r),
                        legendgroup=str(r.id), showlegend=False, line=line, marker={"color": colours[r.id]},
                        hovertemplate=f"#{r.id} validation, epoch %{{x}}: %{{y:.1%}}<extra></extra>")
        _run_key(fig, r, colours[r.id])
    _style_key(fig)
    _chance(fig, [h.run for h in histories])
    fig.update_yaxes(range=[0, 1], tickformat=".0%")  # per cent, as the verdicts and tables say it
    _span(fig, [e.epoch for h in histories for e in h.epochs] + [s.epoch for h in histories for s in h.steps[-1:]],
          whole=True)
    _mark_runs_divergence(fig, histories, in_epochs=True)
    _layout(fig, "Accuracy", "accuracy", x="epoch")
    _room_for_legend(fig, len(histories))
    return fig.figure()


def grad_norms(h: RunHistory) -> go.Figure:
    """Per-layer gradient L2 norms against step on the fixed log range: vanishing and exploding show as a fan.
    Layers are coloured input (dark) to output (light), with a colour bar."""
    fig = Spec()
    layers, steps = h.run.layers, [s.step for s in h.steps]
    colours = layer_colours(len(layers))
    mode = _mode(len(steps))
    for k, name in enumerate(layers):
        values = [s.grad_norms[k] for s in h.steps]
        fig.add_scatter(x=steps, y=_on_scale(values, GRAD_DECADES), mode=mode, name=name, showlegend=False,
                        line={"color": colours[k], "width": 1.5}, marker={"size": 5},
                        hovertemplate=f"{name}<br>step %{{x}}: %{{y:.2e}}<extra></extra>")
        _edge_marks(fig, steps, values, GRAD_DECADES, showlegend=k == 0, legendgroup="edge")
    fig.add_scatter(x=steps, y=_on_scale([s.grad_total for s in h.steps], GRAD_DECADES), mode=mode,
                    name="all layers", line={"color": INK, "dash": "dash"})
    if steps:
        _layer_colour_bar(fig, len(layers), steps[0])
    _layout(fig, "Gradient norm per layer", "L2 norm")
    log_axis(fig, GRAD_DECADES)
    _mark_runs_divergence(fig, [h])
    return fig.figure()


def heatmap(h: RunHistory) -> go.Figure:
    """Layers × steps, colour = the gradient norm on a fixed diverging scale (``HEAT_SCALE``): white where it is
    healthy, blue as it vanishes, red as it explodes; norms beyond the scale take its end colour, which its end
    ticks say (≤, ≥). Blank cells are exact zeros or values that are not finite."""
    lo, hi = HEAT_DECADES
    z = [[math.log10(s.grad_norms[k]) if 0 < s.grad_norms[k] < math.inf else None for s in h.steps]
         for k in range(len(h.run.layers))]
    ks = list(range(lo, hi + 1, 3))
    text = [("≤" if k == lo else "≥" if k == hi else "") + power(k) for k in ks]
    fig = Spec({"type": "heatmap", "z": z, "x": [s.step for s in h.steps], "y": h.run.layers,
                "colorscale": HEAT_SCALE, "zmin": lo, "zmax": hi,
                "colorbar": {"title": {"text": "norm"}, "tickvals": ks, "ticktext": text,
                             "tickfont": {"size": FONT, "color": INK}},
                "hovertemplate": "%{y}, step %{x}: 10^%{z:.1f}<extra></extra>"})
    _layout(fig, "Gradient norm, layer × step: white healthy,<br>blue vanishing, red exploding", "layer")
    _mark_runs_divergence(fig, [h])
    return fig.figure()


def benefit(comparisons: list[Comparison]) -> go.Figure:
    """Augmentation's effect on test accuracy against training-set size: the mean paired difference over seeds
    with its 95 % interval as error bars (none where only one seed finished)."""
    rows = [c for c in comparisons if c.mean is not None]
    fig = Spec()
    lo = [100 * (c.mean - c.interval[0]) if c.interval else 0 for c in rows]
    hi = [100 * (c.interval[1] - c.mean) if c.interval else 0 for c in rows]
    fig.add_scatter(x=[c.train_size for c in rows], y=[100 * c.mean for c in rows], mode="lines+markers",
                    error_y={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo},
                    text=[c.verdict for c in rows], name="with − without (95% interval)")
    fig.add_hline(y=0, line={"color": "grey", "dash": "dot"})
    fig.update_xaxes(type="log")
    _layout(fig, "What augmentation changes, by training-set size", "test accuracy difference (points)",
            x="training images")
    return fig.figure()


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
    fig = Spec()
    sizes = sorted({h.run.config.train_size for h in histories})
    for arm, by_step in sorted(curves.items()):
        xs = sorted(by_step)
        size = int(arm.rsplit(", ", 1)[1].split(" ")[0])
        # Solid lines both: dotted means "training" on the charts above; the arm is the colour, the size the
        # marker.
        fig.add_scatter(x=xs, y=[sum(by_step[x]) / len(by_step[x]) for x in xs], mode="lines+markers", name=arm,
                        line={"color": ARM_COLOURS[arm.startswith("with ")], "dash": "solid"},
                        marker={"symbol": SIZE_MARKERS[sizes.index(size) % len(SIZE_MARKERS)], "size": 8})
    _chance(fig, [h.run for h in histories])
    fig.update_yaxes(range=[0, 1], tickformat=".0%")  # per cent, as the verdicts and tables say it
    _layout(fig, "Validation accuracy, mean over seeds", "accuracy", x="step")
    return fig.figure()


def init_gradients(analysis: Analysis, ghost: tuple[str, list[float]] | None = None) -> go.Figure:
    """Gradient norm per layer at initialisation, input layer first, on the fixed log range; ``ghost`` is
    (label, norms) of the network shown before, drawn faintly for comparison."""
    norms = analysis.norms
    xs = list(range(1, len(norms) + 1))
    fig = Spec()
    if ghost is not None:
        label, before = ghost
        fig.add_scatter(x=list(range(1, len(before) + 1)), y=_on_scale(before, GRAD_DECADES),
                        mode="lines+markers", name=f"before: {label}", opacity=0.35,
                        line={"color": "#777777", "width": 2}, marker={"size": 5, "color": "#777777"})
    fig.add_scatter(x=xs, y=_on_scale(norms, GRAD_DECADES), mode="lines+markers", name="this network",
                    line={"color": INK, "width": 2},
                    marker={"size": 9, "color": layer_colours(len(norms)), "line": {"color": INK, "width": 1}})
    _edge_marks(fig, xs, norms, GRAD_DECADES)
    _layout(fig, "Gradient norm per layer", "L2 norm", x="layer (1 = input)")
    log_axis(fig, GRAD_DECADES)
    return fig.figure()


def init_activations(analysis: Analysis) -> go.Figure:
    """The activations' size (root mean square) per layer on a fixed power-of-ten axis, as the gradient norms
    are drawn, so that growth by a constant factor per layer shows as a straight line and an explosion as a
    climb over decades (sizes that are zero or not finite are marked at the axis' edge); and the share of
    saturated or dead units as bars."""
    rows = [s for s in analysis.layers if s.saturated is not None or s.dead is not None]  # the output has none
    xs = list(range(1, len(rows) + 1))
    sizes = [s.act_rms for s in rows]
    fig = Spec()
    fig.add_scatter(x=xs, y=_on_scale(sizes, ACT_DECADES), mode="lines+markers", name="size (RMS)",
                    line={"color": INK, "width": 2},
                    marker={"size": 9, "color": layer_colours(len(rows)), "line": {"color": INK, "width": 1}},
                    customdata=[[s.act_mean, s.act_std] for s in rows],
                    hovertemplate="layer %{x}: RMS %{y:.2e}<br>mean %{customdata[0]:.2e}, "
                                  "sd %{customdata[1]:.2e}<extra></extra>")
    _edge_marks(fig, xs, sizes, ACT_DECADES)
    shares = [s.saturated if s.saturated is not None else s.dead for s in rows]
    kind = "saturated" if rows and rows[0].saturated is not None else "at zero"  # ReLU, GELU: the flat side
    fig.add_bar(x=xs, y=shares, name=f"share {kind}", opacity=0.35, yaxis="y2")
    fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "range": [0, 1], "title": {"text": f"share {kind}"},
                              "tickmode": "array", "tickvals": [0, 0.25, 0.5, 0.75, 1], "tickformat": ".0%",
                              "showgrid": False})
    _layout(fig, "Activation size per layer", "RMS of the activations", x="layer (1 = input)")
    log_axis(fig, ACT_DECADES)
    return fig.figure()


def histogram(run: Run, step: int, histograms: list[list[int]], layers: list[int]) -> go.Figure:
    """Histogram of |gradient| (log bins) for the chosen layers at one recorded step; the first bin also holds
    exact zeros and anything smaller, the last anything larger, and their hover text says so."""
    edges = hist_edges(len(histograms[0]) if histograms else 0)
    centres = [(a + b) / 2 for a, b in pairwise(edges)]
    hover = [f"10^{a:g} … 10^{b:g}" for a, b in pairwise(edges)]
    hover[0], hover[-1] = f"0 … 10^{edges[1]:g} (zeros and below)", f"above 10^{edges[-2]:g}"
    colours = layer_colours(len(run.layers))
    fig = Spec()
    for k in layers:
        fig.add_bar(x=centres, y=histograms[k], name=run.layers[k], opacity=0.6, marker={"color": colours[k]},
                    hovertext=hover, hovertemplate="%{hovertext}: %{y} weights<extra>%{fullData.name}</extra>")
    fig.update_layout(barmode="overlay")
    _layout(fig, f"Gradient values at step {step}", "weights", x="|gradient| (log bins)")
    ks = [k for k in range(math.ceil(edges[0]), math.floor(edges[-1]) + 1) if k % 3 == 0]
    fig.update_xaxes(tickvals=ks, ticktext=[power(k) for k in ks])
    return fig.figure()


def update_ratios(h: RunHistory) -> go.Figure:
    """‖Δw‖ / ‖w‖ per layer against step: around 1e-3 is healthy, far below learns nothing, far above thrashes."""
    fig = Spec()
    layers, steps = h.run.layers, [d.step for d in h.details]
    colours = layer_colours(len(layers))
    for k, name in enumerate(layers):
        values = [d.update_ratios[k] for d in h.details]
        fig.add_scatter(x=steps, y=_on_scale(values, RATIO_DECADES), mode=_mode(len(steps)), name=name,
                        showlegend=False, line={"color": colours[k], "width": 1.5}, marker={"size": 5})
        _edge_marks(fig, steps, values, RATIO_DECADES, showlegend=k == 0, legendgroup="edge")
    if steps:
        _layer_colour_bar(fig, len(layers), steps[0])
    _layout(fig, "Update-to-weight ratio per layer", "‖Δw‖ / ‖w‖", log=True)
    _mark_runs_divergence(fig, [h])
    return fig.figure()


def sweep_curve(answers: list[Answer], split: str = "validation") -> go.Figure:
    """Accuracy (``split``: "validation" or "test") against the swept value, mean over seeds with its 95 %
    interval as error bars (clipped to 0 to 100 %); one curve per training-set size, its no-augmentation level as
    a dotted line of the same colour (named in the legend with its level), and the value the sweep picks (on
    validation) ringed. The title is short (a half-width column at 800 px holds it); the page's caption says the
    rest (``SWEEP_CAPTION``)."""
    fig = Spec()
    for i, a in enumerate(answers):
        colour = RUN_PALETTE[i % len(RUN_PALETTE)]
        rows = [r for r in a.rows if r.value is not None and (r.val if split == "validation" else r.test)]
        stats = [mean_interval(list((r.val if split == "validation" else r.test).values())) for r in rows]
        stats = [(m, shown(ci)) for m, ci in stats]
        xs = [r.value for r in rows]
        ys = [100 * m for m, _ in stats if m is not None]
        plain = a.baseline.val if split == "validation" else a.baseline.test
        every = [r.value for r in a.rows if r.value is not None]
        if plain and every:
            # A dotted line across the values, named in the legend with its level: a label written on the plot
            # sat on the strength-0 point and its error bar, which lie on that line.
            level = 100 * sum(plain.values()) / len(plain)
            fig.add_scatter(x=[min(every), max(every)], y=[level, level], mode="lines", name=f"none {level:.1f} %",
                            line={"color": colour, "dash": "dot"}, hoverinfo="name", legendrank=1001)
        fig.add_scatter(x=xs, y=ys, mode="lines+markers", name=f"{a.size:,} images",
                        line={"color": colour}, marker={"symbol": SIZE_MARKERS[i % len(SIZE_MARKERS)], "size": 9},
                        error_y={"type": "data", "symmetric": False,
                                 "array": [100 * (ci[1] - m) if ci and m is not None else 0 for m, ci in stats],
                                 "arrayminus": [100 * (m - ci[0]) if ci and m is not None else 0 for m, ci in stats]})
        pick = a.pick()
        if pick is not None and pick in xs:
            fig.add_scatter(x=[pick], y=[ys[xs.index(pick)]], mode="markers", showlegend=i == 0,
                            name="best on validation", hoverinfo="skip",
                            marker={"symbol": "circle-open", "size": 22, "color": colour, "line": {"width": 3}})
    x_title = answers[0].axis_name if answers else "value"
    _layout(fig, f"{split.capitalize()} accuracy", "accuracy (%)", x=x_title)
    fig.update_yaxes(rangemode="nonnegative")
    return fig.figure()


SWEEP_CAPTION = ("Accuracy by value, mean over seeds; bars: 95 % interval (shown within 0 to 100 %); dotted "
                 "line (“none” in the legend, with its level): no augmentation; ringed: the pick on validation.")

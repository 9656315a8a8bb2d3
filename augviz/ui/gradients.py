"""Widgets of the Gradients page: the network builder, the presets, the analysis at initialisation, the run."""

from __future__ import annotations

import streamlit as st
import torch

from augviz import charts, data, deepnet, gradlab, report, sweep
from augviz.deepnet import NetSpec
from augviz.errors import DataError
from augviz.gradlab import PRESETS
from augviz.runconfig import RunConfig
from augviz.store import Run, Store
from augviz.ui import state as links
from augviz.ui import train as train_ui
from augviz.ui.common import md_escape
from augviz.ui.train import LRS

WIDTHS = (16, 32, 64, 128, 256)
STDS = (0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
CLIPS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0)
SIZES = (1000, 2000, 5000, 10000)
COLOURS = {"vanishing": "orange", "exploding": "red", "healthy": "green"}
LINK_LABELS = {  # the Gradients page's linked controls' labels, for messages about a link's value
    "g_kind": "kind", "g_depth": "depth (weight layers)", "g_width": "width", "g_activation": "activation",
    "g_init": "initialisation", "g_init_std": "σ of the normal init", "g_batchnorm": "batch norm",
    "g_residual": "residual connections", "g_opt": "optimizer", "g_lr": "learning rate",
    "g_clip_on": "clip the total gradient norm", "g_clip": "clip at", "g_dataset": "dataset", "g_epochs": "epochs",
    "g_size": "training images", "g_preset": "preset", "g_seed": "seed"}
DATASETS = tuple(n for n, s in data.DATASETS.items() if not s.user_folder)  # the ones the lab trains on
LINK: links.Link = {  # query name → the session key it sets, each checked against its control's choices
    "kind": ("g_kind", links.one_of(deepnet.KINDS)), "depth": ("g_depth", links.whole(2, 50)),
    "width": ("g_width", links.one_of(WIDTHS)), "activation": ("g_activation", links.one_of(deepnet.ACTIVATIONS)),
    "init": ("g_init", links.one_of(deepnet.INITS)), "init_std": ("g_init_std", links.one_of(STDS)),
    "batchnorm": ("g_batchnorm", links.one_of((False, True))),
    "residual": ("g_residual", links.one_of((False, True))), "opt": ("g_opt", links.one_of(("sgd", "adam"))),
    "lr": ("g_lr", links.one_of(LRS)), "clip_on": ("g_clip_on", links.one_of((False, True))),
    "clip": ("g_clip", links.one_of(CLIPS)), "dataset": ("g_dataset", links.one_of(DATASETS)),
    "epochs": ("g_epochs", links.whole(1, 20)), "size": ("g_size", links.one_of(SIZES)),
    "preset": ("g_preset", links.one_of(PRESETS)), "seed": ("g_seed", links.whole(0, train_ui.MAX_SEED))}


def _apply_preset(name: str) -> None:
    """Set every control to the preset's values (a callback: runs before the widgets are drawn). What was shown
    before stays on the chart as a faint line."""
    p = PRESETS[name]
    state = st.session_state
    for field in ("kind", "depth", "width", "activation", "init", "init_std", "batchnorm", "residual"):
        state[f"g_{field}"] = getattr(p.net, field)
    state["g_opt"], state["g_lr"], state["g_epochs"], state["g_size"] = p.optimizer, p.lr, p.epochs, p.train_size
    state["g_clip_on"] = p.clip is not None
    state["g_clip"] = p.clip if p.clip is not None else 1.0
    state["g_preset"] = name
    state["g_ghost"] = state.get("g_shown")


NET_FIELDS = ("kind", "depth", "width", "activation", "init", "init_std", "batchnorm", "residual")


def controls_of(cfg: RunConfig) -> dict[str, object] | None:
    """The control values that rebuild a lab run (its network, training, dataset and seed, and the preset it was
    started from), or None when one of them is not a setting the controls offer (a run from the command line)."""
    net = NetSpec(**cfg.net) if cfg.net else None
    if (net is None or net.kind not in deepnet.KINDS or not 2 <= net.depth <= 50 or net.width not in WIDTHS
            or net.activation not in deepnet.ACTIVATIONS or net.init not in deepnet.INITS
            or net.init_std not in STDS or cfg.optimizer not in ("sgd", "adam") or cfg.lr not in LRS
            or (cfg.clip_norm is not None and cfg.clip_norm not in CLIPS) or cfg.epochs is None
            or not 1 <= cfg.epochs <= 20 or cfg.train_size not in SIZES or cfg.dataset not in DATASETS):
        return None
    values: dict[str, object] = {f"g_{f}": getattr(net, f) for f in NET_FIELDS}
    values.update(g_opt=cfg.optimizer, g_lr=cfg.lr, g_clip_on=cfg.clip_norm is not None,
                  g_clip=cfg.clip_norm if cfg.clip_norm is not None else 1.0, g_epochs=cfg.epochs,
                  g_size=cfg.train_size, g_dataset=cfg.dataset, g_seed=cfg.seed)
    values["g_preset"] = next((name for name, p in PRESETS.items() if p.label == cfg.name
                               and p.run_config(cfg.seed, cfg.dataset).net == cfg.net
                               and (p.optimizer, p.lr, p.clip, p.epochs, p.train_size)
                               == (cfg.optimizer, cfg.lr, cfg.clip_norm, cfg.epochs, cfg.train_size)), None)
    return values


def follow_run(store: Store, run_id: int | None) -> None:
    """Set the controls to the run's settings, so that the analysis at initialisation is of the run shown below
    (a callback when another run is picked, or a link that names a run and no network)."""
    run = store.get(run_id) if run_id is not None else None
    values = controls_of(run.config) if run is not None and report.is_lab(run) else None
    if values is None:
        return
    state = st.session_state
    state["g_ghost"] = state.get("g_shown")
    for key, value in values.items():
        state[key] = value


def check_linked_run(store: Store | None) -> None:
    """On the run that opened a link: say so when its ``run`` names no lab run (the newest lab run is shown
    instead)."""
    text = st.query_params.get("run")
    if store is None or text is None or not links.opened():
        return
    run = store.get(int(text)) if text.isdigit() and len(text) <= 18 else None
    if not text.isdigit():
        why = f"“{links.shown(text)}” is not a run number"
    elif run is None:
        why = f"run {text} is not in the store"
    elif run.unreadable:
        why = f"run {text} cannot be read here ({run.unreadable})"
    elif not report.is_lab(run):
        why = f"run {text} is a Train run: open it on the Train page"
    else:
        return
    links.note(f"The link's value for run was not used: {why}.")


def init_state(store: Store | None) -> None:
    """The first view: the vanishing preset, or the run the link names when it names no network."""
    check_linked_run(store)
    if "g_depth" in st.session_state:
        return
    _apply_preset("vanishing")
    run = st.query_params.get("run", "")
    if store is not None and run.isdigit() and not any(k.startswith("g_") for k in links.from_link()):
        follow_run(store, int(run))


def presets() -> None:
    """One button per preset, and what to look for in the current one."""
    cols = st.columns(3)
    for k, (name, p) in enumerate(PRESETS.items()):
        cols[k % 3].button(p.button, key=f"g_p_{name}", on_click=_apply_preset, args=(name,), width="stretch",
                           help=p.label)
    current = st.session_state.get("g_preset")
    if current:
        p = PRESETS[current]
        st.info(f"**{md_escape(p.label)}.** {md_escape(p.look_for)}\n\n*Training:* {md_escape(p.why)}")


def _forget_preset() -> None:
    st.session_state["g_preset"] = None


def builder() -> tuple[NetSpec, str, float, float | None, str]:
    """Sidebar: the network, its training settings and the dataset. Returns (net, optimizer, lr, clip, dataset)."""
    sb = st.sidebar
    sb.header("Network")
    kw = {"on_change": _forget_preset}
    kind = sb.radio("kind", deepnet.KINDS, horizontal=True, key="g_kind", format_func=str.upper, **kw)
    depth = sb.slider("depth (weight layers)", 2, 50, key="g_depth", **kw)
    width = sb.select_slider("width", WIDTHS, key="g_width", **kw)
    act = sb.selectbox("activation", deepnet.ACTIVATIONS, key="g_activation", **kw)
    init = sb.selectbox("initialisation", deepnet.INITS, key="g_init", **kw,
                        format_func={"default": "PyTorch default", "xavier": "Xavier/Glorot", "kaiming": "Kaiming/He",
                                     "normal": "normal (σ below)", "orthogonal": "orthogonal"}.get)
    std = sb.select_slider("σ of the normal init", STDS, key="g_init_std", disabled=init != "normal", **kw)
    bn = sb.toggle("batch norm", key="g_batchnorm", **kw)
    res = sb.toggle("residual connections", key="g_residual", **kw)
    sb.header("Training")
    opt = sb.radio("optimizer", ("sgd", "adam"), horizontal=True, key="g_opt", **kw)
    lr = sb.select_slider("learning rate", LRS, key="g_lr", format_func=lambda v: f"{v:g}", **kw)
    clip_on = sb.toggle("clip the total gradient norm", key="g_clip_on", **kw)
    clip = sb.select_slider("clip at", CLIPS, key="g_clip", disabled=not clip_on, **kw)
    sb.slider("epochs", 1, 20, key="g_epochs", **kw)
    sb.select_slider("training images", SIZES, key="g_size", **kw)
    dataset = sb.selectbox("dataset", DATASETS, key="g_dataset",
                           format_func=data.LABELS.get)
    sb.number_input("seed", 0, train_ui.MAX_SEED, 0, key="g_seed")
    net = NetSpec(kind, depth, width, act, init, float(std), bn, res)
    return net, opt, float(lr), float(clip) if clip_on else None, dataset


@st.cache_data(show_spinner=False, max_entries=4)
def _batch(dataset: str) -> tuple[torch.Tensor, torch.Tensor]:
    ds = data.load(dataset, 1000, 0.0, 0, test=False)  # its first images only
    return ds.train.x[:gradlab.BATCHES[0]].float() / 255, ds.train.y[:gradlab.BATCHES[0]]


@st.cache_data(show_spinner="One forward and backward pass…", max_entries=32)
def _analysis(net: dict, dataset: str, seed: int) -> gradlab.Analysis:
    """The analysis of one configuration, computed once (the cost model has already admitted it)."""
    x, y = _batch(dataset)
    return gradlab.analyze_capped(NetSpec(**net), x, y, seed)


def at_initialisation(net: NetSpec, dataset: str, seed: int) -> None:
    """One forward and backward pass of a fresh network on one batch: the verdict, gradients and activations per
    layer. Bounded by the cost model; each configuration is computed once."""
    try:
        x, _ = _batch(dataset)
        batch = gradlab.analysis_batch(net, x.shape[1], x.shape[-1])
        analysis = _analysis(net.to_dict(), dataset, seed)
    except gradlab.TooCostly as e:
        st.warning(md_escape(str(e)))
        return
    except (DataError, OSError) as e:
        st.warning(md_escape(str(e)))
        return
    verdict = gradlab.diagnose(analysis)
    # One column: beside the facts, at 800 px the verdict itself was cut to "vani…".
    st.metric("verdict at initialisation", verdict.label, help="From the whole picture: the gradient norms' size "
              f"(above {gradlab.BIG:g} explodes) and spread over depth ({gradlab.SPREAD:g} decades between input "
              "and output vanishes or explodes), the activations' growth over depth, and the share of saturated "
              "units or outputs on ReLU's flat side.")
    st.markdown(f":{COLOURS.get(verdict.label, 'violet')}-badge[{verdict.label}] "
                + md_escape("; ".join(verdict.facts)) + ".")
    if batch < gradlab.BATCHES[0]:
        st.caption(f"Analysed on {batch} images, not {gradlab.BATCHES[0]}: a pass on more would exceed the "
                   f"server's cap of {gradlab.MAX_GFLOP:g} GFLOP and {gradlab.MAX_MB:g} MB.")
    state = st.session_state
    label = PRESETS[state["g_preset"]].label if state.get("g_preset") else "your network"
    ghost = state.get("g_ghost")
    state["g_shown"] = (label, analysis.norms)
    left, right = st.columns(2)
    left.plotly_chart(charts.init_gradients(analysis, ghost if ghost and ghost[0] != label else None),
                      key="g_init_grad")
    right.plotly_chart(charts.init_activations(analysis), key="g_init_act")


def _run_name(net: NetSpec, clip: float | None) -> str:
    """What a lab run is called (``report.label`` puts "Gradient lab: " before it): the preset's name while the
    controls still hold the preset, else the network in words."""
    preset = st.session_state.get("g_preset")
    return PRESETS[preset].label if preset in PRESETS else gradlab.network_words(net, clip)


def launch(store: Store, net: NetSpec, opt: str, lr: float, clip: float | None, dataset: str) -> None:
    state = st.session_state
    cfg = gradlab.lab_run(net, opt, lr, clip, int(state["g_epochs"]), int(state["g_size"]), int(state["g_seed"]),
                          dataset, name=_run_name(net, clip))
    # Keyed by its configuration: a double click, or a second press while the run goes, queues it once.
    train_ui.launch(store, [cfg], picker="g_run", key=sweep.launch_key([cfg]))


def pick_run(store: Store) -> Run | None:
    """The lab run shown below; picking another one sets the controls to it (``follow_run``)."""
    listed = train_ui.listed_runs(store, train_ui.chosen_before("g_run"))
    runs = [r for r in listed if not r.unreadable and report.is_lab(r)]
    return train_ui.pick_run(runs, "g_run", on_change=lambda: follow_run(store, st.session_state.get("g_run")))


def run_panel(store: Store, run: Run, net: NetSpec) -> None:
    """The run panel with the lab's charts: norms, heatmap, histogram at a chosen step, update ratios; and a word
    when the network analysed above is not the one this run trained."""
    if run.config.net != net.to_dict():
        trained = gradlab.network_words(NetSpec(**run.config.net)) if run.config.net else "another network"
        st.caption(md_escape(f"Run #{run.id} trained a {trained}; the analysis above is of the network in the "
                             "sidebar. Pick the run again to set the sidebar to it."))
    train_ui.run_panel(store, run.id, train_ui.lab_charts, key="g")

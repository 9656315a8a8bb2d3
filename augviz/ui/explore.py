"""The Explore page's widgets: the step editor, the image source, the link, import and export.

Widget state lives in ``st.session_state`` under keys made from a per-step id, so reordering steps moves their
sliders with them. The pipeline is rebuilt from the widgets on every run; the page draws what the library computes.
"""

from __future__ import annotations

import random
from typing import Any

import streamlit as st
import torch

from augviz import REGISTRY, Pipeline, Step, images, serialize, share
from augviz.errors import ConfigError, ImageError
from augviz.export import TARGETS, to_code
from augviz.preview import SEED_PIPELINE, move
from augviz.serialize import MAX_SEED, MAX_STEPS
from augviz.spec import Param
from augviz.transform import CATEGORIES
from augviz.ui.common import builtin_tensor, md_escape

UPLOAD = "upload"
DEFAULT_IMAGE = "test_card"


def load_pipeline(pipeline: Pipeline) -> None:
    """Replace the steps and seed the widgets show (new ids, so every widget starts from the new values)."""
    state = st.session_state
    start = state.get("next_uid", 0)
    state["uids"] = list(range(start, start + len(pipeline.steps)))
    state["next_uid"] = start + len(pipeline.steps)
    state["names"] = {**state.get("names", {}), **{u: s.name for u, s in zip(state["uids"], pipeline.steps,
                                                                          strict=True)}}
    for uid, step in zip(state["uids"], pipeline.steps, strict=True):
        _seed_widgets(uid, step)
    state["seed"] = pipeline.seed


def _seed_widgets(uid: int, step: Step) -> None:
    state = st.session_state
    state[f"{uid}.enabled"] = step.enabled
    state[f"{uid}.p"] = float(step.p)
    for param in step.transform.params:
        state[f"{uid}.{param.name}"] = _widget_value(param, step.params[param.name])


def init_state() -> None:
    """First run of a session: take the pipeline and image from the link, or start from the seed article's."""
    state = st.session_state
    if "uids" in state:
        if any(f"{uid}.enabled" not in state for uid in state["uids"]):
            # Streamlit forgets a page's widget values while another page is shown: rebuild them.
            load_pipeline(serialize.from_dict(state["pipeline_doc"]))
        _keep_closed_steps()
        return
    state["messages"] = []
    pipeline = SEED_PIPELINE
    link = st.query_params.get("p")
    if link:
        try:
            pipeline = share.decode_pipeline(link)
        except ConfigError as e:
            state["messages"].append(f"The link's pipeline could not be used ({e}); showing the default instead.")
    image = st.query_params.get("img", DEFAULT_IMAGE)
    state["image"] = image if image in images.BUILTIN else DEFAULT_IMAGE
    state["n_draws"] = 16
    load_pipeline(pipeline)


def _step_keys(uid: int) -> list[str]:
    """The session-state keys of one step's settings."""
    t = REGISTRY[st.session_state["names"][uid]]
    return [f"{uid}.enabled", f"{uid}.p", *(f"{uid}.{p.name}" for p in t.params)]


def _keep_closed_steps() -> None:
    """Only the open step's widgets are drawn, and Streamlit forgets an undrawn widget's value when a run
    ends; writing each value back through session state before any widget is drawn keeps it."""
    state = st.session_state
    for uid in state["uids"]:
        for key in _step_keys(uid):
            if key in state:
                state[key] = state[key]


def current_pipeline() -> Pipeline:
    """The pipeline as the widgets hold it now."""
    state = st.session_state
    steps = []
    for uid in state["uids"]:
        t = REGISTRY[state["names"][uid]]
        params = {p.name: _from_widget(p, state[f"{uid}.{p.name}"]) for p in t.params if f"{uid}.{p.name}" in state}
        steps.append(Step(t.name, params, float(state[f"{uid}.p"]), bool(state[f"{uid}.enabled"])))
    return Pipeline(tuple(steps), int(state["seed"]))


def sync_link(pipeline: Pipeline) -> None:
    """Keep the address bar's query string equal to what is shown, so the link reproduces it."""
    image = st.session_state["image"]
    wanted = share.encode(share.SharedState(pipeline, image if image != UPLOAD else DEFAULT_IMAGE))
    if {k: st.query_params.get(k) for k in wanted} != wanted:
        st.query_params.from_dict(wanted)


# ---- step editor -------------------------------------------------------------------------------------------

def _widget_value(param: Param, value: Any) -> Any:
    """A spec value in the exact type Streamlit's widget for it wants (a slider refuses int/float mixes)."""
    if param.kind == "float":
        return (float(value[0]), float(value[1])) if param.is_range else float(value)
    if param.kind == "int":
        return (int(value[0]), int(value[1])) if param.is_range else int(value)
    return value


def _from_widget(param: Param, value: Any) -> Any:
    return tuple(value) if param.is_range else value


def _param_widget(param: Param, uid: int) -> None:
    state = st.session_state
    key = f"{uid}.{param.name}"
    if param.only_when is not None and state.get(f"{uid}.{param.only_when[0]}") != param.only_when[1]:
        return  # meaningless with the other setting as it is; the step uses its default
    if key not in state:  # Streamlit drops the state of a widget that was hidden on the last run
        state[key] = _widget_value(param, param.default)
    if param.kind == "bool":
        st.toggle(param.label, key=key, help=param.help)
    elif param.kind == "choice":
        st.selectbox(param.label, param.choices, key=key, help=param.help)
    else:
        cast = float if param.kind == "float" else int
        st.slider(param.label, cast(param.low), cast(param.high), step=cast(param.step), key=key, help=param.help)


def _move(uid: int, offset: int) -> None:
    uids = st.session_state["uids"]
    st.session_state["uids"] = list(move(tuple(uids), uids.index(uid), offset))
    st.session_state[f"{uid}.open"] = True  # the browser redraws a moved expander closed; keep it open


def _remove(uid: int) -> None:
    st.session_state["uids"] = [u for u in st.session_state["uids"] if u != uid]


def _add() -> None:
    state = st.session_state
    name = state["add_choice"]
    if len(state["uids"]) >= MAX_STEPS:
        return
    uid = state["next_uid"]
    state["next_uid"] = uid + 1
    state["names"][uid] = name
    state["uids"] = [*state["uids"], uid]
    _seed_widgets(uid, Step.default(name))


def _reroll() -> None:
    st.session_state["seed"] = random.randrange(MAX_SEED)


def step_editor() -> None:
    """Sidebar: one expander per step (on/off, p, parameters, move, remove), then add a step, then the seed."""
    state = st.session_state
    st.sidebar.header("Pipeline")
    for i, uid in enumerate(state["uids"]):
        t = REGISTRY[state["names"][uid]]
        off = "" if state[f"{uid}.enabled"] else " (off)"
        # Lazy: a closed step's widgets are not drawn, which keeps each rerun's page small for the browser.
        with st.sidebar.expander(f"{i + 1}. {t.label}{off}", key=f"{uid}.open", on_change="rerun") as box:
            if not box.open:
                continue
            st.caption(md_escape(t.description))
            st.toggle("on", key=f"{uid}.enabled")
            st.slider("probability p", 0.0, 1.0, step=0.05, key=f"{uid}.p",
                      help="The share of images this step applies to; the others pass through unchanged.")
            for param in t.params:
                _param_widget(param, uid)
            up, down, remove = st.columns(3)
            up.button("↑", key=f"{uid}.up", on_click=_move, args=(uid, -1), help="Move up", disabled=i == 0)
            down.button("↓", key=f"{uid}.down", on_click=_move, args=(uid, 1), help="Move down",
                        disabled=i == len(state["uids"]) - 1)
            remove.button("✕", key=f"{uid}.remove", on_click=_remove, args=(uid,), help="Remove this step")
    order = sorted(REGISTRY, key=lambda n: (CATEGORIES.index(REGISTRY[n].category), n))
    st.sidebar.selectbox("Add a step", order, key="add_choice",
                         format_func=lambda n: f"{REGISTRY[n].category}: {REGISTRY[n].label}")
    st.sidebar.button("Add step", key="add_step", on_click=_add, disabled=len(state["uids"]) >= MAX_STEPS)
    st.sidebar.header("Draws")
    st.sidebar.number_input("seed", 0, MAX_SEED, step=1, key="seed",
                            help="The same seed, pipeline and image always give the same draws.")
    st.sidebar.button("Re-roll", key="reroll", on_click=_reroll, help="A new random seed: new draws.")
    st.sidebar.slider("number of draws", 1, 64, key="n_draws")


# ---- image source ------------------------------------------------------------------------------------------

def _on_upload() -> None:
    """Decode a new upload before the page runs, so the picture selector can switch to it."""
    state = st.session_state
    upload = state.get("upload_file")
    if upload is None:
        return
    try:
        state["upload_image"] = images.to_tensor(images.fit(images.decode_upload(upload.getvalue(), upload.name)))
        state["upload_error"] = None
        state["image"] = UPLOAD
    except ImageError as e:
        state["upload_error"] = str(e)


def image_source() -> torch.Tensor:
    """Sidebar: a built-in sample or an upload. Returns the picture as C×H×W float; a bad upload says why and
    the picture shown before stays."""
    state = st.session_state
    st.sidebar.header("Image")
    labels = {**{k: v[0] for k, v in images.BUILTIN.items()}, UPLOAD: "Your upload"}
    st.sidebar.selectbox("picture", list(labels), key="image", format_func=labels.get)
    st.sidebar.file_uploader("Upload an image", type=list(images.EXTENSIONS), key="upload_file",
                             on_change=_on_upload, max_upload_size=images.MAX_UPLOAD_BYTES // 2**20,
                             help="PNG, JPEG, WEBP, BMP, GIF (first frame) or TIFF.")
    if state.get("upload_error"):
        st.sidebar.error(md_escape(state["upload_error"]))
    if state["image"] == UPLOAD:
        if state.get("upload_image") is not None:
            return state["upload_image"]
        st.sidebar.info("No picture uploaded yet: showing the test card.")
        return builtin_tensor(DEFAULT_IMAGE)
    return builtin_tensor(state["image"])


# ---- import and export -------------------------------------------------------------------------------------

def _import(data: bytes | str, source: str) -> None:
    state = st.session_state
    try:
        load_pipeline(serialize.loads(data))
        state["import_error"] = None
    except ConfigError as e:
        where = f" at {e.path}" if e.path else ""
        state["import_error"] = f"{source} was not imported{where}: {e.message}"


def _import_pasted() -> None:
    _import(st.session_state["import_text"], "The pasted text")


def _import_file() -> None:
    file = st.session_state.get("import_file")
    if file is not None:
        _import(file.getvalue(), file.name)


def import_panel() -> None:
    """Load a pipeline from a JSON file or pasted text; a wrong one gets a message naming the field, and the
    pipeline on screen stays as it was. Both load in callbacks, before the sidebar's widgets are drawn."""
    upload, paste = st.columns(2)
    upload.file_uploader("Import a pipeline (JSON file)", type=["json"], key="import_file", on_change=_import_file)
    paste.text_area("…or paste one", key="import_text", height=100)
    paste.button("Load pasted JSON", key="import_load", on_click=_import_pasted)
    if st.session_state.get("import_error"):
        st.error(md_escape(st.session_state["import_error"]))


def export_panel(pipeline: Pipeline, draws: torch.Tensor) -> None:
    """The pipeline as JSON and as code for each target library, and the grid as a PNG."""
    size = tuple(draws.shape[-2:])
    # Lazy tabs: only the chosen tab's text is sent, so a slider move re-highlights one block of code, not five.
    tabs = st.tabs(["JSON", *TARGETS], key="export_tab", on_change="rerun")
    if tabs[0].open:
        with tabs[0]:
            text = serialize.dumps(pipeline)
            st.download_button("Download pipeline.json", text, file_name="pipeline.json", mime="application/json",
                               on_click="ignore")
            st.code(text, language="json")
    for tab, target in zip(tabs[1:], TARGETS, strict=True):
        if tab.open:
            with tab:
                st.code(to_code(pipeline, target, size=size), language="python")
    st.download_button("Download the grid as PNG", lambda: images.png_bytes(images.grid(draws, columns=8)),
                       file_name="augviz-grid.png", mime="image/png", on_click="ignore")

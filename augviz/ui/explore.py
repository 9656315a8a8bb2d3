"""The Explore page's widgets: the step editor, the image source, the link, import and export.

Widget state lives in ``st.session_state`` under keys made from a per-step id, so reordering steps moves their
sliders with them. The pipeline is rebuilt from the widgets on every run; the page draws what the library computes.
"""

from __future__ import annotations

import random
from typing import Any

import streamlit as st
import torch

from augviz import REGISTRY, Pipeline, Step, images, serialize, share, strength
from augviz.captions import keep_values_whole
from augviz.errors import ConfigError, ImageError
from augviz.export import TARGETS, file_name, to_code
from augviz.preview import MAX_DRAWS, SEED_PIPELINE, Preview, StripFrame, move
from augviz.serialize import MAX_SEED, MAX_STEPS
from augviz.spec import Param
from augviz.transform import CATEGORIES
from augviz.ui.common import builtin_tensor, md_escape, md_lines
from augviz.ui.state import ON_OFF, note, whole

UPLOAD = "upload"
DEFAULT_IMAGE = "test_card"
FINE = "fine"  # session key: number inputs beside the sliders


def _decode_pipeline(text: str) -> dict:
    return serialize.to_dict(share.decode_pipeline(text))


# The strength the pipeline is shown and trained at (augviz.strength); in the link as ``s``, also Train's.
STRENGTH_KEY = "strength"


def _decode_strength(text: str) -> float:
    try:
        value = strength.check(float(text))
    except ConfigError as e:
        raise ValueError(e.message) from None
    return round(value / STRENGTH_STEP) * STRENGTH_STEP


STRENGTH_STEP = 0.05
STRENGTH_LINK = (STRENGTH_KEY, (lambda v: f"{v:g}", _decode_strength))
# What the page's link carries (query name → session key); the step widgets follow from the pipeline.
PIPELINE_LINK = ("pipeline_doc", (share.pack, _decode_pipeline))  # the pipeline (with its seed), also Train's
LINK: dict[str, str | tuple[str, tuple]] = {
    "p": PIPELINE_LINK, "seed": ("seed", whole(0, MAX_SEED)), "img": "image", "n": ("n_draws", whole(1, MAX_DRAWS)),
    "show": ("present", ON_OFF), "exact": ("exact", ON_OFF), "fx": ("formulas_open", ON_OFF),
    "ex": ("export_open", ON_OFF), "tab": "export_tab", "s": STRENGTH_LINK}
# The linked controls' labels, for messages about a link's value.
LINK_LABELS = {"pipeline_doc": "pipeline", "seed": "seed", "image": "picture", "n_draws": "number of draws",
               "present": "presentation mode", "exact": "exact values", "formulas_open": "formulas panel",
               "export_open": "export panel", "export_tab": "export tab", STRENGTH_KEY: "strength"}
# More keys to keep across pages: every step's settings and open panel (not its buttons), and the editor's own.
KEEP = (r"\d+\.(?!up$|down$|remove$|lo$|hi$)\w+", "seed", "add_choice", "import_text", FINE)


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


def _widget_values(uid: int, step: Step) -> dict[str, Any]:
    """The session keys of a step's widgets, with the step's values."""
    return {f"{uid}.enabled": step.enabled, f"{uid}.p": float(step.p),
            **{f"{uid}.{p.name}": _widget_value(p, step.params[p.name]) for p in step.transform.params}}


def _seed_widgets(uid: int, step: Step) -> None:
    st.session_state.update(_widget_values(uid, step))


def init_state() -> None:
    """First run of the page in a session: the pipeline from the link (or from an earlier visit, or the seed
    article's), a known picture and a number of draws the slider has."""
    state = st.session_state
    state.setdefault("n_draws", 16)  # also after a value from a link that the slider refused was dropped
    if "uids" in state:
        _fill_lost_keys()
        return
    pipeline = serialize.from_dict(state["pipeline_doc"]) if state.get("pipeline_doc") else SEED_PIPELINE
    if "seed" in state:  # the link's own seed= (also written into p=; one typed by hand wins)
        pipeline = Pipeline(pipeline.steps, state["seed"])
    if state.get("image") not in (*images.BUILTIN, UPLOAD):
        if "image" in state:
            note(f"The link's picture {str(state['image'])[:60]!r} is not a built-in one; showing the test card.")
        state["image"] = DEFAULT_IMAGE
    load_pipeline(pipeline)


def _fill_lost_keys() -> None:
    """Defensive: a step's key lost anyway takes its value in the pipeline the page showed last (``pipeline_doc``),
    never the parameter's default; when that pipeline no longer matches the steps, it is loaded whole."""
    state = st.session_state
    names = [state["names"][uid] for uid in state["uids"]]
    expected = [_widget_values(uid, Step.default(name)) for uid, name in zip(state["uids"], names, strict=True)]
    if all(key in state for keys in expected for key in keys) or not state.get("pipeline_doc"):
        return
    shown = serialize.from_dict(state["pipeline_doc"])
    if [s.name for s in shown.steps] != names:
        load_pipeline(shown)
        return
    for uid, step in zip(state["uids"], shown.steps, strict=True):
        state.update({k: v for k, v in _widget_values(uid, step).items() if k not in state})


def current_pipeline() -> Pipeline:
    """The pipeline as the widgets hold it now."""
    state = st.session_state
    steps = []
    for uid in state["uids"]:
        t = REGISTRY[state["names"][uid]]
        params = {p.name: _from_widget(p, state[f"{uid}.{p.name}"]) for p in t.params if f"{uid}.{p.name}" in state}
        steps.append(Step(t.name, params, float(state[f"{uid}.p"]), bool(state[f"{uid}.enabled"])))
    return Pipeline(tuple(steps), int(state["seed"]))


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


def _typed(key: str, part: int | None) -> None:
    """A number typed beside a slider becomes the slider's value (a range's ends kept in order)."""
    state = st.session_state
    typed = state[f"{key}.{'hi' if part == 1 else 'lo'}"]
    if part is None:
        state[key] = typed
        return
    ends = list(state[key])
    ends[part] = typed
    state[key] = (min(ends), max(ends))


def _number_inputs(param: Param, key: str, cast: type) -> None:
    """Number inputs beside a slider, for values a drag cannot hit (fine control)."""
    state = st.session_state
    value = state[key]
    ends = list(value) if param.is_range else [value]
    cols = st.columns(len(ends))
    for k, (col, end) in enumerate(zip(cols, ends, strict=True)):
        sub = f"{key}.{'lo' if k == 0 else 'hi'}"
        state[sub] = cast(end)  # follows the slider
        col.number_input(("from" if k == 0 else "to") if param.is_range else "exactly", cast(param.low),
                         cast(param.high), step=cast(param.step), key=sub, on_change=_typed,
                         args=(key, k if param.is_range else None), label_visibility="visible")


def _param_widget(param: Param, uid: int) -> None:
    state = st.session_state
    key = f"{uid}.{param.name}"
    if param.only_when is not None and state.get(f"{uid}.{param.only_when[0]}") != param.only_when[1]:
        return  # meaningless with the other setting as it is; the step uses its default
    if key not in state:  # a parameter the step did not have when it was loaded
        state[key] = _widget_value(param, param.default)
    if param.kind == "bool":
        st.toggle(param.label, key=key, help=param.help)
    elif param.kind == "choice":
        st.selectbox(param.label, param.choices, key=key, help=param.help)
    else:
        cast = float if param.kind == "float" else int
        st.slider(param.label, cast(param.low), cast(param.high), step=cast(param.step), key=key, help=param.help)
        if state.get(FINE):
            _number_inputs(param, key, cast)


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
    st.sidebar.toggle("type exact numbers", key=FINE, help="A number input under each slider, for values a drag "
                      "cannot hit.")
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
    st.sidebar.slider("number of draws", 1, MAX_DRAWS, key="n_draws",
                      help="Draw i depends only on the seed and i: showing more draws adds draws, it never changes "
                      "the ones shown.")


def at_strength(pipeline: Pipeline) -> tuple[Pipeline, tuple[strength.Clipped, ...]]:
    """The pipeline at this session's strength (1, as set, until the slider moves) and what hit a bound."""
    return strength.scale_pipeline(pipeline, float(st.session_state.get(STRENGTH_KEY, 1.0)))


def strength_control(pipeline: Pipeline) -> Pipeline:
    """Sidebar: the strength slider, and which settings it pushed to their bound. Returns the pipeline at that
    strength: what the preview draws, the exports write and the Train page trains."""
    st.sidebar.header("Strength")
    st.session_state.setdefault(STRENGTH_KEY, 1.0)
    st.sidebar.slider("strength", 0.0, strength.MAX, step=STRENGTH_STEP, key=STRENGTH_KEY,
                      help="One knob for the whole pipeline: every amount's distance from doing nothing (rotation "
                      "0°, zoom 1, noise 0) times this. 0 is no augmentation, 1 the pipeline as set, 2 twice as "
                      "far; probabilities stay as set.")
    shown, clipped = at_strength(pipeline)
    if clipped:
        st.sidebar.warning(md_escape(strength.bounds_sentence(clipped)))
    if st.session_state.get(STRENGTH_KEY, 1.0) == 0:
        st.sidebar.caption("Strength 0: every step is off, the pictures as they are.")
    return shown


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
                             help=f"PNG, JPEG, WEBP, BMP, GIF (first frame) or TIFF. Shown at most "
                             f"{images.PREVIEW_SIDE} px on its long side (larger pictures are reduced). A link "
                             "cannot carry it: whoever opens your link uploads their own.")
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
    """Load the document as the pipeline as set, at strength 1: an export at another strength is already scaled,
    and scaling it again would double it (``import_done`` says so; ``import_error`` says why nothing loaded)."""
    state = st.session_state
    state["import_done"] = None
    try:
        pipeline = serialize.loads(data)
    except ConfigError as e:
        where = f" at {e.path}" if e.path else ""
        state["import_error"] = f"{source} was not imported{where}: {e.message}"
        return
    except (ValueError, OverflowError, RecursionError, TypeError):  # whatever the parser lets through
        state["import_error"] = f"{source} was not imported: it holds values augviz cannot read."
        return
    load_pipeline(pipeline)
    state["import_error"] = None
    was = float(state.get(STRENGTH_KEY, 1.0))
    done = f"{source} was imported: {len(pipeline.steps)} steps."
    if was != 1.0:
        state[STRENGTH_KEY] = 1.0
        done += (f" Strength is back to 1 (it was {was:g}): the imported pipeline is shown as it is written, "
                 "not scaled again.")
    state["import_done"] = done


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
    elif st.session_state.get("import_done"):
        st.success(md_escape(st.session_state["import_done"]))


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
                code = to_code(pipeline, target, size=size)
                st.download_button(f"Download {file_name(target)}", code, file_name=file_name(target),
                                   mime="text/x-python", key=f"export_code_{target}", on_click="ignore")
                st.code(code, language="python")
    st.download_button("Download the grid as PNG", lambda: images.png_bytes(images.grid(draws, columns=8)),
                       file_name="augviz-grid.png", mime="image/png", on_click="ignore")


# ---- the preview -------------------------------------------------------------------------------------------

def partners() -> tuple[torch.Tensor, list[str]]:
    """The pictures mixing steps blend in (every built-in one but the picture shown), and the names of the
    picture shown and of each partner, for the mixed labels."""
    shown = st.session_state["image"]
    others = [name for name in images.BUILTIN if name != shown]
    own = images.BUILTIN[shown][0] if shown in images.BUILTIN else "your picture"
    return torch.stack([builtin_tensor(n) for n in others]), [own, *(images.BUILTIN[n][0] for n in others)]


def tile_width(n: int) -> int:
    """Tiles shrink as draws grow, down to 104 px: the longest word of a caption ("Checkerboard", 94 px in the
    caption's 16-px type) fits a tile whole, where at 88 px it broke inside ("Checkerb / oard")."""
    return 160 if n <= 8 else 128 if n <= 16 else 104


def present_tile(n: int) -> int:
    """Presentation mode's tile width for ``n`` pictures: large, and never below the normal grid's largest."""
    return 320 if n <= 4 else 256 if n <= 9 else 200


def draws_grid(image: torch.Tensor, preview: Preview, present: bool, exact: bool) -> None:
    """The original, then every draw, the same size: captions in plain words (or every exact value), or in
    presentation mode large tiles without captions."""
    pictures = torch.cat([image.unsqueeze(0), preview.draws])
    if present:
        # Large tiles flowing into as many a row as the column holds: a fixed count of columns a row shrank them
        # to 74 px at 800 px, below the normal grid's 128.
        tile = present_tile(len(pictures))
        st.image([images.data_url(t) for t in images.thumbnails(pictures, tile)], width=tile)
        return
    tile = tile_width(len(preview.draws))
    texts = preview.captions if exact else preview.plain
    if not exact:  # break lines between words, never inside a value ("+6 %") nor inside a word
        texts = [keep_values_whole(t) for t in texts]
    captions = ["original", *(md_lines(t) if t else "unchanged" for t in texts)]
    # Embedded, not fetched: 16 requests less per slider move (bench/ui.py).
    st.image([images.data_url(t) for t in images.thumbnails(pictures, tile)], caption=captions, width=tile)


def label_bar(shares: dict[str, float]) -> None:
    """The mixed label of a draw as a bar: the share of the picture itself, and in words every picture's share."""
    own = next(iter(shares.values()), 1.0)
    words = " · ".join(f"{100 * w:.0f} % {name}" for name, w in sorted(shares.items(), key=lambda kv: -kv[1]))
    st.progress(min(max(own, 0.0), 1.0), text=md_escape(f"label: {words}"))


def _skipped(frame: StripFrame) -> str:
    """What a step that skipped draw 1 did: nothing, by its probability (for a mixing step: nothing mixed in)."""
    return f"skipped for this draw (p = {frame.p:g})" + ("; nothing mixed in" if frame.mixing else "")


def step_by_step(image: torch.Tensor, preview: Preview, width: int | str) -> None:
    """Draw 1 after each step; a mixing step shows the partner as it stood then, the weight and the label."""
    if not preview.strip:
        if float(st.session_state.get(STRENGTH_KEY, 1.0)) == 0:  # strength 0 switches every step off
            st.info("Strength is 0: no augmentation. Raise the strength to see the pipeline.")
        else:
            st.info("No step is on: add one in the sidebar.")
        return
    frames, captions = [image], ["original"]
    for k, frame in enumerate(preview.strip, 1):
        if frame.partner is not None:
            frames.append(frame.partner)
            captions.append(md_escape(f"mixed in: {frame.partner_name}, weight {1 - frame.weight:.2f}"))
        frames.append(frame.image)
        captions.append(md_escape(f"{k}. {frame.label}: {keep_values_whole(frame.plain) or _skipped(frame)}"))
    side = 320 if width == "stretch" else int(width)
    st.image([images.data_url(f) for f in images.thumbnails(torch.stack(frames), side)], caption=captions,
             width=width)
    if preview.labels:
        label_bar(preview.labels[0])

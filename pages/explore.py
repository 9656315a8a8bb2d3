"""Explore: build an augmentation pipeline and see random draws of it, step by step."""

import streamlit as st

from augviz import serialize
from augviz.export import targets_in_words
from augviz.preview import SEED_PIPELINE_SOURCE, OverBudget, check_budget, render
from augviz.ui import explore, state
from augviz.ui.common import md_escape

state.page("explore", link=explore.LINK, keep=explore.KEEP, labels=explore.LINK_LABELS)
explore.init_state()
image = explore.image_source()
explore.step_editor()
as_set = explore.current_pipeline()
st.session_state["pipeline_doc"] = serialize.to_dict(as_set)  # the Train page trains it at the strength below
pipeline = explore.strength_control(as_set)  # at the chosen strength: what is drawn and exported
if st.session_state["image"] == explore.UPLOAD:
    state.link_caveat("Your uploaded picture cannot travel in a link: whoever opens it sees the test card until "
                      "they upload a picture of their own. Everything else (pipeline, seed, draws) travels.")

st.title("Explore augmentations")
st.caption(f"The default pipeline is the seed article's Keras `{SEED_PIPELINE_SOURCE}`.")
mode, detail = st.columns(2)
present = mode.toggle("presentation mode", key="present",
                      help="Large tiles filling the width, no captions, step by step beside: for a projector.")
exact = detail.toggle("exact values", key="exact", disabled=present,
                      help="Every value each step drew, instead of a short caption in plain words.")

n = st.session_state["n_draws"]
try:
    check_budget(pipeline, image.shape[-2], image.shape[-1], n)
    pool, names = explore.partners()
    preview = render(pipeline, image, n, pool=pool, names=names)
except OverBudget as e:
    st.error(md_escape(str(e)))
    preview = None

if preview is not None:
    grid, steps = st.columns([3, 1] if present else [4, 1])
    with grid:
        explore.draws_grid(image, preview, present, exact)
        st.caption(f"seed {pipeline.seed} · {sum(s.enabled for s in as_set.steps)} steps on · {n} draws")
    with steps:
        st.markdown("**Draw 1, step by step**")
        explore.step_by_step(image, preview, "stretch")

# Lazy panels: what is closed is not drawn, so it costs the browser nothing when a slider moves.
with st.expander("What each step computes", key="formulas_open", on_change="rerun") as formulas:
    if formulas.open:
        for step in pipeline.steps:
            t = step.transform
            st.markdown(f"**{md_escape(t.label)}** ({t.category}, p = {step.p:g}): {md_escape(t.description)}")
            st.latex(t.formula)

with st.expander(f"Export and import: JSON, code for {targets_in_words()}, the grid as PNG",
                 key="export_open", on_change="rerun") as export:
    if export.open and preview is not None:
        explore.export_panel(pipeline, preview.draws)
    if export.open:
        explore.import_panel()

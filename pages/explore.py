"""Explore: build an augmentation pipeline and see random draws of it, step by step."""

import streamlit as st

from augviz import images, serialize
from augviz.preview import render
from augviz.ui import explore
from augviz.ui.common import md_escape, md_lines, through_app

through_app()
STRIP = 160  # pixels per picture in the step-by-step strip

explore.init_state()
for message in st.session_state["messages"]:
    st.warning(md_escape(message))

image = explore.image_source()
explore.step_editor()
pipeline = explore.current_pipeline()
explore.sync_link(pipeline)
st.session_state["pipeline_doc"] = serialize.to_dict(pipeline)  # for the Train page

st.title("Explore augmentations")
n = st.session_state["n_draws"]
tile = 128 if n > 8 else 192
# Draws at the picture's own size: blur, noise and elastic settings are in pixels of the picture.
preview = render(pipeline, image, n)

original, grid = st.columns([1, 4])
original.image(images.to_pil(image), caption="Original")
original.caption(f"seed {pipeline.seed} · {sum(s.enabled for s in pipeline.steps)} steps on")
# Embedded, not fetched: 16 requests less per slider move (bench/ui.py).
grid.image([images.data_url(t) for t in images.thumbnails(preview.draws, tile)],
           caption=[md_lines(c) for c in preview.captions], width=tile)

st.subheader("Step by step (draw 1)")
if preview.strip:
    frames, captions = [images.thumbnail(image, STRIP)], ["original"]
    for k, frame in enumerate(preview.strip, 1):
        frames.append(images.thumbnail(frame.image, STRIP))
        captions.append(md_lines(f"{k}. {frame.label}\n{frame.caption}"))
        if frame.partner is not None:
            frames.append(images.thumbnail(frame.partner, STRIP))
            captions.append(md_lines(f"mixed in with weight 1 − λ = {1 - frame.weight:.2f}"))
    st.image([images.data_url(f) for f in frames], caption=captions, width=STRIP)
else:
    st.info("No step is on: add one in the sidebar.")

# Lazy panels: what is closed is not drawn, so it costs the browser nothing when a slider moves.
with st.expander("What each step computes", key="formulas_open", on_change="rerun") as formulas:
    if formulas.open:
        for step in pipeline.steps:
            t = step.transform
            st.markdown(f"**{md_escape(t.label)}** ({t.category}, p = {step.p:g}): {md_escape(t.description)}")
            st.latex(t.formula)

with st.expander("Export and import: JSON, code for torchvision, albumentations and kornia, the grid as PNG",
                 key="export_open", on_change="rerun") as export:
    if export.open:
        explore.export_panel(pipeline, preview.draws)
        explore.import_panel()

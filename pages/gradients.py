"""Gradients: cause vanishing and exploding gradients, see them layer by layer, and fix them."""

import streamlit as st

from augviz import report
from augviz.ui import gradients, state, train

state.page("gradients", link={**{k[2:]: k for k in (
    "g_kind", "g_depth", "g_width", "g_activation", "g_init", "g_init_std", "g_batchnorm", "g_residual", "g_opt",
    "g_lr", "g_clip_on", "g_clip", "g_dataset", "g_epochs", "g_size", "g_preset")},
    "seed": ("g_seed", state.whole(0, train.MAX_SEED))}, labels=gradients.LINK_LABELS)

st.title("Vanishing and exploding gradients")
gradients.init_state()
gradients.presets()
net, opt, lr, clip, dataset = gradients.builder()
st.subheader("At initialisation: one forward and backward pass")
gradients.at_initialisation(net, dataset, int(st.session_state["g_seed"]))

st.subheader("During training")
store = train.store()
if store is not None:
    if st.button("Train this network", type="primary", key="g_train"):
        gradients.launch(store, net, opt, lr, clip, dataset)
    listed = train.listed_runs(store, train.chosen_before("g_run"))
    run = train.pick_run([r for r in listed if not r.unreadable and report.is_lab(r)], "g_run")
    if run is not None:
        gradients.run_panel(store, run)
    train.older_runs_note(store)
    st.caption("Lab runs are stored like any other: compare them with others on the Runs page.")

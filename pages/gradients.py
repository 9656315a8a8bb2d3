"""Gradients: cause vanishing and exploding gradients, see them layer by layer, and fix them."""

import streamlit as st

from augviz.ui import gradients, state, train

state.page("gradients", link=gradients.LINK, labels=gradients.LINK_LABELS)

st.title("Vanishing and exploding gradients")
store = train.store()
gradients.init_state(store)
gradients.presets()
net, opt, lr, clip, dataset = gradients.builder()
st.subheader("At initialisation: one forward and backward pass")
gradients.at_initialisation(net, dataset, int(st.session_state["g_seed"]))

st.subheader("During training")
if store is not None:
    if st.button("Train this network", type="primary", key="g_train"):
        gradients.launch(store, net, opt, lr, clip, dataset)
    run = gradients.pick_run(store)
    if run is not None:
        gradients.run_panel(store, run, net)
    train.older_runs_note(store)
    st.caption("Lab runs are stored like any other: compare them with others on the Runs page.")

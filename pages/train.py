"""Train: launch a short run with or without the Explore pipeline, watch it live, stop it, run the experiment."""

import streamlit as st

from augviz.ui import common, train

common.through_app()

st.title("Train")
store = train.store()
cfg = train.config_form()
if store is not None and cfg is not None:
    with st.expander("Run configuration (JSON)"):
        st.code(cfg.to_json(), language="json")
        st.download_button("Download run.json", cfg.to_json(), "run.json", "application/json", on_click="ignore")
    train.dataset_browser(cfg)
    if st.sidebar.button("Start run", type="primary", key="t_start"):
        train.launch(store, [cfg])
    runs = store.runs()
    if runs:
        ids = [r.id for r in reversed(runs)]
        labels = {r.id: f"#{r.id}: {r.label}" for r in runs}
        current = st.session_state.get("run_id", ids[0])
        chosen = st.selectbox("run", ids, index=ids.index(current) if current in ids else 0,
                              format_func=labels.get, key="t_run")
        st.session_state["run_id"] = chosen
        train.run_panel(store, chosen)
    else:
        st.info("No runs yet: set up a run in the sidebar and press Start run.")
    st.divider()
    train.experiment_panel(store, cfg)

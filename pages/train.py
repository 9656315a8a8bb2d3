"""Train: launch a short run with or without the Explore pipeline, watch it live, stop it, run the experiment."""

import streamlit as st

from augviz import report
from augviz.ui import explore, state, train
from augviz.ui import sweep as sweep_ui

state.page("train", link={"p": explore.PIPELINE_LINK, "s": explore.STRENGTH_LINK, **train.LINK, "exp": "group",
                          "experiment": train.EXPERIMENT_LINK, "sweep": sweep_ui.LINK_KEY},
    keep=("x_seeds", "x_sizes", *sweep_ui.KEEP), labels={**train.LINK_LABELS, sweep_ui.LINK_KEY: "sweep"})

st.title("Train")
store = train.store()
cfg = train.config_form()
if store is not None and cfg is not None:
    with st.expander("Run configuration (JSON)"):
        st.code(cfg.to_json(), language="json")
        st.download_button("Download run.json", cfg.to_json(), "run.json", "application/json", on_click="ignore")
    train.dataset_browser(cfg)
    train.start_controls(store, cfg)
    shown = st.container()  # filled after the experiment panel, whose button may have just started runs
    st.divider()
    train.experiment_panel(store, cfg)
    st.divider()
    sweep_ui.sweep_panel(store, cfg)
    with shown:
        readable = [r for r in train.listed_runs(store, train.chosen_before("t_run")) if not r.unreadable]
        run = train.pick_run([r for r in readable if not report.is_lab(r)], "t_run")
        if run is not None:
            train.run_panel(store, run.id, follow=train.following("t_run"), seen=readable)
        else:
            st.info(train.no_runs_text(readable))
        train.older_runs_note(store)

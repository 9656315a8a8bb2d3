"""Runs: pick stored runs, compare their final metrics and curves, download the metrics, delete runs."""

import streamlit as st

from augviz import worker
from augviz.ui import common, runs, state, train

state.page("runs", keep=("r_sure",))

st.title("Runs")
store = train.store()
if store is not None:
    worker.reap_children()
    train.guarded(store.reap)
    listed = train.listed_runs(store, runs.chosen_before())
    stored = [r for r in listed if not r.unreadable]  # a newer version's runs: named here, never compared
    for r in [r for r in listed if r.unreadable][:3]:
        st.warning(common.md_escape(f"Run #{r.id} ({r.label}) cannot be read by this version: {r.unreadable}"))
    if not stored:
        st.info("No runs stored yet: start one on the Train page or with `python -m augviz train`.")
    else:
        chosen = runs.pick_runs(stored, lambda r: runs.has_data(store, r))
        if chosen:
            histories = [train.history(store, r) for r in chosen]
            runs.table(histories)
            runs.compare(store, histories)
            runs.lab_runs(histories)
            runs.delete(store, chosen)
        train.older_runs_note(store)
    train.store_error()

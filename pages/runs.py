"""Runs: pick stored runs, overlay their curves, compare final metrics, download metrics, delete runs."""

import streamlit as st

from augviz import charts, report, worker
from augviz.ui import common, train

common.through_app()

st.title("Runs")
store = train.store()
if store is not None:
    worker.reap_children()
    train.guarded(store.reap)
    runs = store.runs()
    if not runs:
        st.info("No runs stored yet: start one on the Train page or with `python -m augviz train`.")
    else:
        by_id = {r.id: r for r in runs}
        ended = [r.id for r in runs if r.is_over]
        picked = st.multiselect("runs to compare", list(reversed(list(by_id))), default=list(reversed(ended))[:2],
                                format_func=lambda i: f"#{i} {by_id[i].status}: {by_id[i].label}", key="r_pick")
        chosen = [by_id[i] for i in picked]
        if chosen:
            st.dataframe(report.summary(store, chosen), hide_index=True)
            left, right = st.columns(2)
            left.plotly_chart(charts.accuracy(store, chosen), key="r_acc")
            right.plotly_chart(charts.loss(store, chosen), key="r_loss")
            st.download_button("Download metrics (CSV)", lambda: report.metrics_csv(store, chosen),
                               "augviz-metrics.csv", "text/csv", on_click="ignore")
            with st.expander("Delete these runs"):
                sure = st.checkbox("Yes, delete the selected runs that have ended, with their metrics", key="r_sure")
                if st.button("Delete", disabled=not sure, key="r_delete"):
                    train.guarded(store.delete, [r.id for r in chosen if r.is_over])
                    st.session_state.pop("r_pick", None)
                    st.rerun()
    train.store_error()

"""Widgets of the Runs page: the runs to compare (kept in the session and the URL), the table of final
metrics, the downloads, the gradient lab's charts for lab runs, and deleting runs."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from augviz import charts, report, worker
from augviz.report import RunHistory
from augviz.store import Run, Store
from augviz.ui import train
from augviz.ui.common import md_escape

PICK, MEMORY, PARAM = "r_pick", "r_pick_shown", "runs"


def _from_url() -> list[int]:
    return [int(v) for v in st.query_params.get(PARAM, "").split(",") if v.isdigit()]


def chosen_before() -> list[int]:
    """The runs this session or the link chose before (listed even when older than the newest few)."""
    state = st.session_state
    return [*state.get(PICK, []), *state.get(MEMORY, []), *_from_url()]


def has_data(store: Store, run: Run) -> bool:
    """Whether the run has metrics to draw: at least one recorded step (a run that failed or was stopped before
    its first step has none)."""
    return run.status != "queued" and store.step_count(run.id) > 0


def pick_runs(runs: list[Run], drawable: Callable[[Run], bool]) -> list[Run]:
    """A multiselect of stored runs, newest first. The choice lasts across page switches (session) and reloads
    and links (``?runs=3,5``); the first visit picks the two newest runs that have metrics to draw
    (``drawable``), never a run that ended before its first step; with none, it says so."""
    by_id = {r.id: r for r in reversed(runs)}
    state = st.session_state
    if PICK not in state:
        if MEMORY in state:
            state[PICK] = [i for i in state[MEMORY] if i in by_id]
        elif PARAM in st.query_params:
            state[PICK] = [i for i in _from_url() if i in by_id]
        else:
            state[PICK] = _newest_with_data(list(by_id.values()), drawable)
    else:
        state[PICK] = [i for i in state[PICK] if i in by_id]  # a deleted run drops out
    picked = st.multiselect("runs to compare", list(by_id), key=PICK,
                            format_func=lambda i: f"#{i} {by_id[i].status}: {report.run_label(by_id[i])}")
    state[MEMORY] = picked
    st.query_params[PARAM] = ",".join(map(str, picked))
    if not picked:
        st.info("Pick runs above to compare them." if _newest_with_data(list(by_id.values()), drawable, 1) else
                "None of the stored runs has metrics to draw yet: each ended before its first step or has not "
                "started. Pick one above to see how it stands.")
    return [by_id[i] for i in picked]


def _newest_with_data(newest_first: list[Run], drawable: Callable[[Run], bool], n: int = 2) -> list[int]:
    picked: list[int] = []
    for r in newest_first:  # asks the store only until two are found
        if len(picked) == n:
            break
        if drawable(r):
            picked.append(r.id)
    return picked


TABLE_PX = 900  # the main column beside the sidebar at 1366 px
METRIC_PX = {"run": 40, "status": 72, "test acc": 64, "val acc": 64, "train acc": 70, "epochs trained": 52,
             "time": 92}  # "20 min 21 s" and "23 h 59 min" whole: at 56 px the time read "20 min 21"
LABEL_PX = (210, 440)  # the label's column: wide enough for most labels, narrower when other columns need room
OTHER_PX = {"pipeline": 150}  # any other configuration column: 75


def table(histories: list[RunHistory]) -> None:
    """Final metrics, one row per run, formatted for reading, then each run's augmentation in full on demand.
    Widths sized so that the table fits 1366 px beside the sidebar: the label's column gives way to the other
    configuration columns that tell the runs apart."""
    rows = report.summary(histories)
    others = [k for k in rows[0] if k not in METRIC_PX and k != "label"] if rows else []
    widths = {**METRIC_PX, **{k: OTHER_PX.get(k, 75) for k in others}}
    widths["label"] = max(LABEL_PX[0], min(LABEL_PX[1], TABLE_PX - sum(widths.values())))
    config = {k: st.column_config.Column(width=w) for k, w in widths.items()}
    config["run"] = st.column_config.NumberColumn(width=widths["run"], format="#%d")
    config["label"] = st.column_config.TextColumn("label", width=widths["label"],
                                                  help="What tells the runs apart first; the full label is in the "
                                                       "picker above and the charts' legends")
    config["epochs trained"] = st.column_config.NumberColumn(
        "epochs", width=widths["epochs trained"],
        help="Epochs the run went through (a diverged run's last, cut-short epoch does not count)")
    if "epochs" in widths:
        config["epochs"] = st.column_config.Column("epochs set", width=widths["epochs"],
                                                   help="The number of epochs the run was configured for")
    if "pipeline" in widths:
        config["pipeline"] = st.column_config.TextColumn("augmentation", width=widths["pipeline"],
                                                         help="The enabled steps in order; in full below the table")
    st.dataframe(rows, hide_index=True, width="stretch", column_config=config)
    augmented = [h.run for h in histories if h.run.config.pipeline is not None]
    if augmented:
        with st.expander("Augmentation in full (JSON)"):
            for r in augmented:
                st.caption(md_escape(f"#{r.id} {report.run_label(r)}"))
                st.json(r.config.pipeline, expanded=1)


def compare(store: Store, histories: list[RunHistory]) -> None:
    """Accuracy and loss of the chosen runs overlaid, and the metrics as wide CSV files."""
    left, right = st.columns(2)
    left.plotly_chart(charts.accuracy(histories), key="r_acc")
    right.plotly_chart(charts.loss(histories), key="r_loss")
    chosen = [h.run for h in histories]
    left, right = st.columns(2)
    left.download_button("Download per-epoch metrics (CSV)", lambda: report.epochs_csv(_full(store, chosen)),
                         "augviz-epochs.csv", "text/csv", on_click="ignore", key="r_csv_epochs",
                         help="One row per run and epoch, with the configuration fields that tell the runs apart")
    right.download_button("Download per-step metrics (CSV)", lambda: report.steps_csv(_full(store, chosen)),
                          "augviz-steps.csv", "text/csv", on_click="ignore", key="r_csv_steps",
                          help="One row per run and step: loss and gradient norms per layer")


def _full(store: Store, runs: list[Run]) -> list[RunHistory]:
    """Every stored step, not the thinned series the charts draw."""
    return [train.history(store, r, None) for r in runs]


def lab_runs(histories: list[RunHistory]) -> None:
    """The gradient lab's own charts (heatmap, histograms, update ratios) for each chosen lab run."""
    for h in histories:
        if report.is_lab(h.run):
            st.subheader(f"Gradient lab run #{h.run.id}")
            train.lab_charts(h, key="r")


def delete(store: Store, runs: list[Run]) -> None:
    with st.expander("Delete these runs"):
        sure = st.checkbox("Yes, delete the selected runs with their metrics (running ones are stopped first)",
                           key="r_sure")
        if st.button("Delete", disabled=not sure, key="r_delete"):
            train.guarded(worker.delete, store, [r.id for r in runs])
            st.rerun()  # the picker drops the deleted runs

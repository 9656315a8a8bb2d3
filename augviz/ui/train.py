"""Widgets of the Train and Runs pages: the run form, the live run panel, the experiment panel."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st
import torch

from augviz import charts, data, experiment, images, models, serialize, worker
from augviz.errors import ConfigError, DataError, StoreError
from augviz.preview import SEED_PIPELINE
from augviz.runconfig import RunConfig, from_dict
from augviz.store import Run, Store
from augviz.ui.common import md_escape

LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)
DECAYS = (0.0, 1e-5, 1e-4, 5e-4, 1e-3, 1e-2)
POLL_S = 1.0


@st.cache_resource(show_spinner=False)
def _recovered_store(home_dir: str) -> Store:
    """The store, once per server process: runs left 'running' by a server that stopped are marked interrupted."""
    store = Store(Path(home_dir) / "runs.sqlite")
    store.reap(interrupted=True)
    return store


def store() -> Store | None:
    """The run store, or None after showing why it cannot be used."""
    try:
        return _recovered_store(str(data.home()))
    except StoreError as e:
        st.error(md_escape(str(e)))
        return None


def explore_pipeline() -> dict:
    """The pipeline built on the Explore page in this session (the seed article's if none was built)."""
    return st.session_state.get("pipeline_doc") or serialize.to_dict(SEED_PIPELINE)


def config_form() -> RunConfig | None:
    """The run configuration from the sidebar; None (with a message) when it is not valid."""
    sb = st.sidebar
    sb.header("Run")
    name = sb.selectbox("dataset", data.NAMES, format_func=data.LABELS.get, key="t_dataset")
    doc: dict = {"dataset": name}
    if name == "folder":
        doc["folder"] = sb.text_input("folder under the data folder", key="t_folder",
                                      help=f"Images as <folder>/<class>/*.png, under {data.data_root()}")
    if name in ("mnist", "fashion_mnist", "cifar10"):
        doc["download"] = sb.toggle("download if missing", key="t_download",
                                    help=f"From the dataset's official address into {data.data_root()}")
    doc["train_size"] = sb.slider("training images", 250, 20_000, 5000, 250, key="t_size",
                                  help="Augmentation matters most when this is small.")
    doc["val_fraction"] = sb.slider("validation fraction", 0.0, 0.5, 0.1, 0.05, key="t_val")
    doc["model"] = sb.selectbox("model", models.TRAIN_MODELS, format_func=models.LABELS.get, key="t_model")
    doc["optimizer"] = sb.radio("optimizer", ("adam", "sgd"), horizontal=True, key="t_opt",
                                format_func={"adam": "Adam", "sgd": "SGD + momentum"}.get)
    doc["lr"] = sb.select_slider("learning rate", LRS, 3e-3, key="t_lr", format_func=lambda v: f"{v:g}")
    doc["batch_size"] = sb.select_slider("batch size", (16, 32, 64, 128, 256), 64, key="t_batch")
    doc["epochs"] = sb.slider("epochs", 1, 50, 10, key="t_epochs")
    doc["weight_decay"] = sb.select_slider("weight decay", DECAYS, 0.0, key="t_wd", format_func=lambda v: f"{v:g}")
    if sb.toggle("augment with the Explore page's pipeline", True, key="t_aug"):
        doc["pipeline"] = explore_pipeline()
    doc["seed"] = sb.number_input("seed", 0, 2**31 - 1, 0, key="t_seed")
    doc["device"] = sb.selectbox("device", ("auto", "cpu", "cuda"), key="t_device")
    try:
        return from_dict(doc)
    except ConfigError as e:
        sb.error(md_escape(str(e)))
        return None


@st.cache_data(show_spinner="Loading the dataset…", max_entries=4)
def _browse(name: str, folder: str | None, size: int, seed: int, per: int) -> tuple[torch.Tensor, tuple[str, ...]]:
    ds = data.load(name, size, 0.0, seed, folder)
    return data.per_class(ds.train, per), ds.classes


def dataset_browser(cfg: RunConfig) -> None:
    """A grid of training images per class, and the same images through the run's pipeline."""
    with st.expander("Dataset browser"):
        per = 8
        try:
            x, classes = _browse(cfg.dataset, cfg.folder, cfg.train_size, cfg.seed, per)
        except (DataError, OSError) as e:
            st.warning(md_escape(str(e)))
            return
        st.caption(md_escape(f"{len(classes)} classes, one row each: {', '.join(classes)}"))
        left, right = st.columns(2)
        left.image(images.grid(x.float() / 255, columns=per), caption="training images", width="stretch")
        pipeline = cfg.augmentation()
        if pipeline is not None:
            out = pipeline(x, torch.Generator().manual_seed(cfg.seed))
            right.image(images.grid(out, columns=per), caption="the same through the pipeline", width="stretch")
        else:
            right.info("No augmentation in this configuration.")


def guarded(fn, *args):
    """Call a store operation from a button; a database error becomes a message on the page, not a traceback."""
    try:
        return fn(*args)
    except StoreError as e:
        st.session_state["store_error"] = str(e)
        return None


def store_error() -> None:
    """Show (once) the last database error a button ran into."""
    message = st.session_state.pop("store_error", None)
    if message:
        st.error(md_escape(message))


def launch(store_: Store, configs: list[RunConfig]) -> list[int]:
    ids = [i for c in configs if (i := guarded(worker.launch, store_, c)) is not None]
    if ids:
        st.session_state["run_id"] = ids[0]
    store_error()
    return ids


def status_line(store_: Store, run: Run) -> str:
    if run.status == "queued":
        pos = store_.queue_position(run.id)
        return f"queued (position {pos})" if pos else "queued"
    if run.status in ("failed", "diverged", "interrupted") and run.error:
        return f"{run.status}: {run.error}"
    if run.status == "running" and run.note:
        return run.note
    if run.status == "finished" and run.test_acc is not None:
        return f"finished: test accuracy {100 * run.test_acc:.1f}% in {run.wall_s:.1f} s ({run.images_per_s:.0f} img/s)"
    return run.status


def _fraction(run: Run, done: int, total: int) -> float:
    """The progress bar's fill: steps done, or the download's share while the data is fetched."""
    if run.note and run.note.endswith("%"):
        return float(run.note.rsplit(" ", 1)[1].rstrip("%")) / 100
    return min(1.0, done / total) if total else 0.0


def run_panel(store_: Store, run_id: int, draw: Callable[[Store, Run], None] | None = None,
              key: str = "t") -> None:
    """Progress, stop button and live charts of one run (``draw`` adds a page's own charts; the default draws
    loss, accuracy and gradient norms). Redraws every second while the run goes; stops polling when it ends."""
    run = store_.get(run_id)
    if run is None:
        st.info("That run was deleted.")
        return

    @st.fragment(run_every=None if run.is_over else POLL_S)
    def live() -> None:
        worker.reap_children()
        if guarded(store_.reap) is None:
            store_error()
            return
        now = store_.get(run_id)
        if now is None:
            return
        st.markdown(f"**Run #{now.id}**: {md_escape(now.label)}")
        done = store_.step_count(now.id)
        st.progress(_fraction(now, done, now.total_steps or 0), text=md_escape(status_line(store_, now)))
        if not now.is_over:
            st.button("Stop", key=f"{key}-stop-{now.id}", on_click=guarded, args=(store_.request_stop, now.id))
            store_error()
        if done:
            (draw or _standard_charts)(store_, now)
        if now.is_over and not run.is_over:
            st.rerun()  # the whole page once more, so the fragment stops polling

    live()


def _standard_charts(store_: Store, run: Run) -> None:
    left, right = st.columns(2)
    left.plotly_chart(charts.loss(store_, [run]), key=f"loss-{run.id}")
    right.plotly_chart(charts.accuracy(store_, [run]), key=f"acc-{run.id}")
    st.plotly_chart(charts.grad_norms(store_, run), key=f"grad-{run.id}")


def experiment_panel(store_: Store, base: RunConfig) -> None:
    """The seed's experiment in one click, and the answer with its spread."""
    st.subheader("The seed's experiment: does augmentation help here?")
    st.caption("The configuration on the left trained with no augmentation and with the Explore page's pipeline, "
               "over several seeds. Each pair shares its seed, data and initialisation.")
    seeds = st.slider("seeds", 1, 5, 3, key="x_seeds")
    sweep = st.multiselect("also sweep training-set sizes (optional)", (250, 500, 1000, 2000, 5000, 10000, 20000),
                           key="x_sizes")
    if st.button(f"Run the experiment ({2 * seeds * max(1, len(sweep))} runs)", key="x_go"):
        configs = experiment.plan(base, explore_pipeline(), seeds, sorted(sweep) or None)
        launch(store_, configs)
        st.session_state["group"] = configs[0].group
    group = st.session_state.get("group")
    if group:
        experiment_results(store_, group)


def experiment_results(store_: Store, group: str) -> None:
    @st.fragment(run_every=POLL_S)
    def results() -> None:
        runs = store_.runs(group)
        counts = {s: sum(r.status == s for r in runs) for s in {r.status for r in runs}}
        st.caption(" · ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        comparisons = experiment.compare(runs)
        for c in comparisons:
            st.markdown(md_escape(c.sentence()))
        if any(r.status != "queued" for r in runs):
            st.plotly_chart(charts.arms(store_, runs), key=f"arms-{group}")
        if len([c for c in comparisons if c.mean is not None]) > 1:
            st.plotly_chart(charts.benefit(comparisons), key=f"benefit-{group}")
        failed = [r for r in runs if r.status in ("failed", "diverged", "interrupted")]
        if failed:
            st.warning(f"{len(failed)} run(s) did not finish and are left out of the comparison.")

    results()

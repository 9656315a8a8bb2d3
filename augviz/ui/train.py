"""Widgets of the Train and Runs pages: the run form, the live run panel, the experiment panel."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st
import torch

from augviz import (
    charts,
    data,
    experiment,
    images,
    memory,
    models,
    report,
    serialize,
    settings,
    share,
    speed,
    strength,
    sweep,
    worker,
)
from augviz import train as train_loop
from augviz.errors import ConfigError, DataError, StoreError
from augviz.follow import Follower
from augviz.preview import SEED_PIPELINE
from augviz.report import RunHistory
from augviz.runconfig import PRECISIONS, RunConfig, from_dict, loads
from augviz.store import Run, Store, open_store
from augviz.ui import state
from augviz.ui.common import md_escape
from augviz.ui.state import ON_OFF, Link, on_grid, one_of, whole
from augviz.ui.visitor import visitor

LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)
DECAYS = (0.0, 1e-5, 1e-4, 5e-4, 1e-3, 1e-2)
STEPS = (10, 50, 100, 250, 500, 1000, 1500, 2000, 3000, 5000, 10_000)
BATCHES = (16, 32, 64, 128, 256)
IMAGE_SIZES = (None, 16, 28, 32, 48, 64, 96, 128)  # None: the folder's own
CHANNELS = (None, 1, 3)
OPTIMIZERS = ("adam", "sgd")
DEVICES = ("auto", "cpu", "cuda")
SIZE_RANGE, VAL_RANGE, EPOCH_RANGE = (250, 20_000, 250), (0.0, 0.5, 0.05), (1, 50)  # sliders: lo, hi(, step)
POLL_S = 1.0
PAST_FOR_ESTIMATES = 200  # newest finished runs whose speed estimates a queued run's wait
CHARTS_S = 5.0  # a running run's charts redraw this often (its progress every POLL_S)
MAX_SEED = 2**31 - 1  # a run's seed (RunConfig's range)
LINK_LABELS = {  # the Train page's linked controls' labels, for messages about a link's value
    "pipeline_doc": "the Explore page's pipeline", "strength": "the Explore page's strength",
    "t_dataset": "dataset", "t_folder": "folder under the data folder",
    "t_download": "download if missing", "t_image_size": "image size", "t_channels": "channels",
    "t_size": "training images", "t_val": "validation fraction", "t_model": "model", "t_opt": "optimizer",
    "t_lr": "learning rate", "t_batch": "batch size", "t_steps": "training steps",
    "t_by_epochs": "count epochs instead", "t_epochs": "epochs", "t_wd": "weight decay",
    "t_aug": "augment with the Explore page's pipeline", "t_device": "device", "t_precision": "precision",
    "t_seed": "seed", "group": "experiment", "x_link": "experiment"}
LINK: Link = {  # the run form's controls in the Train page's link (query name → session key, and its choices)
    "dataset": ("t_dataset", one_of(data.NAMES)), "folder": "t_folder", "download": ("t_download", ON_OFF),
    "image_size": ("t_image_size", one_of(IMAGE_SIZES)), "channels": ("t_channels", one_of(CHANNELS)),
    "size": ("t_size", on_grid(*SIZE_RANGE)), "val": ("t_val", on_grid(*VAL_RANGE)),
    "model": ("t_model", one_of(models.TRAIN_MODELS)), "opt": ("t_opt", one_of(OPTIMIZERS)),
    "lr": ("t_lr", one_of(LRS)), "batch": ("t_batch", one_of(BATCHES)), "steps": ("t_steps", one_of(STEPS)),
    "by_epochs": ("t_by_epochs", ON_OFF), "epochs": ("t_epochs", whole(*EPOCH_RANGE)),
    "wd": ("t_wd", one_of(DECAYS)), "aug": ("t_aug", ON_OFF), "device": ("t_device", one_of(DEVICES)),
    "precision": ("t_precision", one_of(PRECISIONS)), "seed": ("t_seed", whole(0, MAX_SEED))}
BROWSE_PER = 8  # images per class in the dataset browser; Start's data check shares its cached load
DOWNLOADABLE = tuple(n for n, s in data.DATASETS.items() if s.remotes)  # fetched from their official addresses


@st.cache_resource(show_spinner=False)
def _shared_store(home_dir: str, database: str | None) -> Store:
    """One store object per server process and database, shared by the sessions (it reopens its file, or
    reconnects to its server, itself): ``database`` is $AUGVIZ_DB, None for the SQLite file in ``home_dir``."""
    return Store(Path(home_dir) / "runs.sqlite") if database is None else open_store(database)


def store() -> Store | None:
    """The run store after this page view's upkeep (cheap, idempotent: runs whose worker is gone are ended and a
    waiting queue gets its launcher), or None after showing why it cannot be used."""
    try:
        shared = _shared_store(str(data.home()), settings.database())
        worker.recover(shared)
        return shared
    except StoreError as e:
        st.error(md_escape(str(e)))
        return None


def explore_pipeline_as_set() -> dict:
    """The pipeline built on the Explore page in this session as its steps are set (the seed article's if none
    was built): strength 1."""
    return st.session_state.get("pipeline_doc") or serialize.to_dict(SEED_PIPELINE)


def explore_pipeline() -> dict:
    """The Explore page's pipeline at the strength chosen there: what the page shows, and what runs train."""
    return strength.scale(explore_pipeline_as_set(), float(st.session_state.get("strength", 1.0))).doc


def precision_help() -> str:
    """The precision control's help: what each choice does, and what "auto" is on this server."""
    here = "bfloat16" if train_loop.uses_bf16(RunConfig(), train_loop.pick_device("auto")) else "float32"
    return ("bfloat16: mixed precision, the forward pass's convolutions and matrix products in bfloat16 (weights, "
            "gradients and the optimizer stay float32): about twice as fast where the processor computes it "
            "natively, slower where it does not. float32: everything in float32. auto: bfloat16 where native; on "
            f"this server, {here}.")


def config_form() -> RunConfig | None:
    """The run configuration from the sidebar; None (with a message) when it is not valid."""
    sb = st.sidebar
    sb.header("Run")
    name = sb.selectbox("dataset", data.NAMES, format_func=data.LABELS.get, key="t_dataset")
    doc: dict = {"dataset": name}
    if data.DATASETS[name].user_folder:
        doc["folder"] = sb.text_input("folder under the data folder", key="t_folder",
                                      help=f"Images as <folder>/<class>/*.png, under {data.data_root()}")
        doc["image_size"] = sb.selectbox("image size", IMAGE_SIZES, key="t_image_size",
                                         format_func=lambda v: "the folder's own" if v is None else f"{v}×{v}")
        doc["channels"] = sb.selectbox("channels", CHANNELS, key="t_channels",
                                       format_func={None: "the folder's own", 1: "1 (grey)", 3: "3 (colour)"}.get)
    if name in DOWNLOADABLE:
        doc["download"] = sb.toggle("download if missing", key="t_download",
                                    help=f"From the dataset's official address into {data.data_root()}")
    lo, hi, step = SIZE_RANGE
    doc["train_size"] = sb.slider("training images", lo, hi, RunConfig.train_size, step, key="t_size",
                                  help="Augmentation matters most when this is small.")
    lo, hi, step = VAL_RANGE
    doc["val_fraction"] = sb.slider("validation fraction", lo, hi, 0.1, step, key="t_val")
    doc["model"] = sb.selectbox("model", models.TRAIN_MODELS, format_func=models.LABELS.get, key="t_model")
    doc["optimizer"] = sb.radio("optimizer", OPTIMIZERS, horizontal=True, key="t_opt",
                                format_func={"adam": "Adam", "sgd": "SGD + momentum"}.get)
    doc["lr"] = sb.select_slider("learning rate", LRS, 3e-3, key="t_lr", format_func=lambda v: f"{v:g}")
    doc["batch_size"] = sb.select_slider("batch size", BATCHES, 64, key="t_batch")
    doc["steps"] = sb.select_slider("training steps", STEPS, RunConfig.steps, key="t_steps",
                                    help="Optimizer steps, the same for any training-set size.")
    if sb.toggle("count epochs instead", False, key="t_by_epochs"):
        doc["epochs"] = sb.slider("epochs", *EPOCH_RANGE, 10, key="t_epochs")
    doc["weight_decay"] = sb.select_slider("weight decay", DECAYS, 0.0, key="t_wd", format_func=lambda v: f"{v:g}")
    if sb.toggle("augment with the Explore page's pipeline", True, key="t_aug"):
        doc["pipeline"] = explore_pipeline()
    doc["seed"] = sb.number_input("seed", 0, MAX_SEED, 0, key="t_seed")
    doc["device"] = sb.selectbox("device", DEVICES, key="t_device")
    doc["precision"] = sb.selectbox("precision", PRECISIONS, key="t_precision", help=precision_help())
    try:
        return from_dict(doc)
    except ConfigError as e:
        sb.error(md_escape(str(e)))
        return None


@st.cache_data(show_spinner="Loading the dataset…", max_entries=4)
def _browse(name: str, folder: str | None, size: int, seed: int, per: int, image_size: int | None = None,
            channels: int | None = None) -> tuple[torch.Tensor, tuple[str, ...], str | None]:
    ds = data.load(name, size, 0.0, seed, folder, image_size=image_size, channels=channels, test=False)
    shown = data.per_class(ds.train, per), ds.classes, ds.note
    del ds
    memory.give_back()  # the load's scratch (the built-in set's generator: ~150 MB), kept by malloc otherwise
    return shown


def dataset_browser(cfg: RunConfig) -> None:
    """A grid of training images per class, and the same images through the run's pipeline."""
    with st.expander("Dataset browser"):
        per = BROWSE_PER
        try:
            x, classes, note = _browse(cfg.dataset, cfg.folder, cfg.train_size, cfg.seed, per, cfg.image_size,
                                       cfg.channels)
        except (DataError, OSError) as e:
            st.warning(md_escape(str(e)))
            return
        st.caption(md_escape(f"{len(classes)} classes, one row each: {', '.join(classes)}" + (f"; {note}" if note
                                                                                              else "")))
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


def data_problem(cfg: RunConfig) -> str | None:
    """Why a run of ``cfg`` cannot start for want of data (None when it can): the dataset browser's own load,
    so the page refuses exactly what the run would fail on. A missing download is no problem when the run may
    fetch it."""
    try:
        _browse(cfg.dataset, cfg.folder, cfg.train_size, cfg.seed, BROWSE_PER, cfg.image_size, cfg.channels)
    except (DataError, OSError) as e:
        return None if cfg.download and cfg.dataset in DOWNLOADABLE else str(e)
    return None


def launch(store_: Store, configs: list[RunConfig], picker: str = "t_run", key: str | None = None) -> list[int]:
    """Queue runs, all or none (a queue cap refuses the lot, with its message); the first becomes the run shown
    by ``picker`` (see ``pick_run``) at once. With ``key`` (the planned configurations' fingerprint), runs that
    a launch with that key queued and that still go come back instead: one click, one launch."""
    ids = guarded(worker.launch_all, store_, configs, visitor(), key) or []
    if len(ids) > 1:  # an experiment or a sweep: the panel follows its runs, showing the one training (``pick_run``)
        st.session_state[f"{picker}_follow"] = ids
    elif ids:
        st.session_state.pop(f"{picker}_follow", None)
        show(picker, ids[0])
    store_error()
    return ids


def start_controls(store_: Store, cfg: RunConfig) -> None:
    """The sidebar's Start button; refused, with the reason and a download button, when the data is missing."""
    sb = st.sidebar
    problem = data_problem(cfg)
    sb.button("Start run", type="primary", key="t_start", disabled=problem is not None, width="stretch",
              on_click=_start_once, args=(store_, cfg))
    again = st.session_state.pop(ALREADY_GOING, None)
    if again is not None:
        sb.info(f"Run #{again} has this very configuration and has not ended yet: it is shown, and Start did not "
                f"queue it a second time. To train it again, wait until #{again} ends (or stop it); to train a "
                "variant beside it, change a setting first (another seed gives another draw of the same set-up).")
    if problem is None:
        return
    sb.error(f"Cannot start: {md_escape(problem)}")
    if cfg.dataset in DOWNLOADABLE:
        sb.button(f"Download {data.LABELS[cfg.dataset]} and start", key="t_fetch", width="stretch",
                  on_click=_download_and_start, args=(store_, cfg),
                  help=f"The run first fetches the dataset from its official address into {data.data_root()}")


ALREADY_GOING = "t_already_going"  # session key: the run that a press of Start found still going, to say so


def _start_once(store_: Store, cfg: RunConfig) -> None:
    """Start's callback: queue one run of ``cfg``, keyed by its configuration, so that a double click (or a second
    press while that run is still queued or running) shows that run rather than queuing an identical one; once it
    has ended, the same configuration starts again. A second identical run while the first goes would train the
    same seed on the same data: the same result, for twice the wait."""
    key = sweep.launch_key([cfg])
    going = guarded(store_.launch_going, key) or []
    ids = launch(store_, [cfg], key=key)
    if ids and ids == going:
        st.session_state[ALREADY_GOING] = ids[0]


def _download_and_start(store_: Store, cfg: RunConfig) -> None:
    st.session_state["t_download"] = True  # the form says what the run does
    _start_once(store_, replace(cfg, download=True))


# ---- which run a page shows --------------------------------------------------------------------------------


def show(picker: str, run_id: int) -> None:
    """Make ``run_id`` the run that the picker ``picker`` shows on its next draw (a run just started)."""
    st.session_state[f"{picker}_next"] = run_id


LIST_RUNS = 200  # run pickers list the newest this many stored runs (and any run a link or the session names)


def listed_runs(store_: Store, wanted: Iterable[int | None] = ()) -> list[Run]:
    """The newest ``LIST_RUNS`` stored runs and the runs ``wanted`` (a link's or this session's choice) wherever
    they are, in id order: a page's first load reads, labels and checks that many, not every stored run (10,000
    stored runs cost seconds of server CPU to list)."""
    newest = store_.runs(limit=LIST_RUNS)
    have = {r.id for r in newest}
    older = sorted({i for i in wanted if isinstance(i, int) and i not in have})
    return (store_.runs(ids=older) if older else []) + newest


def older_runs_note(store_: Store) -> None:
    """Say so when the pickers leave older runs out."""
    total = store_.count()
    if total > LIST_RUNS:
        st.caption(f"The newest {LIST_RUNS} of {total:,} stored runs are listed; an older one opens from its link "
                   "(`?run=N`), and `python -m augviz runs` lists them all.")


def chosen_before(picker: str, param: str = "run") -> list[int | None]:
    """The runs ``pick_run`` may show first (just started, the box's value, this session's last, the link's)."""
    state = st.session_state
    return [state.get(f"{picker}_next"), state.get(picker), state.get(f"{picker}_shown"), _from_url(param)]


def _from_url(param: str) -> int | None:
    value = st.query_params.get(param, "")
    return int(value) if value.isdigit() else None


def pick_run(runs: list[Run], picker: str, param: str = "run",
             on_change: Callable[[], None] | None = None) -> Run | None:
    """A select box of ``runs``, newest first; returns the chosen one (None when there are none).

    The choice lasts: a run just started (``show``) comes first, then the box's own value, then the choice this
    session made before leaving the page, then the URL's ``?run=`` (a reload or a shared link), then the newest
    run. It is written back to the session and the URL on every draw. ``on_change`` is called when the user picks
    another run in the box. While an experiment just started is followed (``launch``), the run shown is the one
    that is training: the experiment's own, else the one its runs wait for.
    """
    if not runs:
        return None
    by_id = {r.id: r for r in reversed(runs)}
    state = st.session_state
    memory = f"{picker}_shown"
    followed = _followed(runs, picker)
    if followed is not None:
        show(picker, followed)

    def picked() -> None:  # the user's own choice ends following an experiment
        state.pop(f"{picker}_follow", None)
        if on_change is not None:
            on_change()
    for wanted in (state.pop(f"{picker}_next", None), state.get(picker), state.get(memory), _from_url(param)):
        if wanted in by_id:
            break
    else:
        wanted = next(iter(by_id))
    state[picker] = wanted
    chosen = st.selectbox("run", list(by_id), key=picker, on_change=picked,
                          format_func=lambda i: f"#{i} {by_id[i].status}: {report.run_label(by_id[i])}")
    state[memory] = chosen
    st.query_params[param] = str(chosen)
    return by_id[chosen]


def following(picker: str) -> list[int]:
    """The runs of the experiment the picker follows (empty when it follows none)."""
    return list(st.session_state.get(f"{picker}_follow") or [])


def _followed(runs: list[Run], picker: str) -> int | None:
    """The run to show while following an experiment: its oldest running run, else the oldest running run of
    ``runs`` (the one its queued runs wait for), else its first queued run; None (and following ends) once none
    of its runs is left to go."""
    ids = following(picker)
    if not ids:
        return None
    by_id = {r.id: r for r in runs}
    going = [by_id[i] for i in ids if i in by_id and not by_id[i].is_over]
    if not going:
        st.session_state.pop(f"{picker}_follow", None)
        return None
    running = [r.id for r in going if r.status == "running"] or [r.id for r in runs if r.status == "running"]
    return min(running) if running else going[0].id


def queue_summary(store_: Store, runs: list[Run], shown: int) -> tuple[str, bool]:
    """The followed experiment's ``runs`` in one line ("This experiment: 1 running (#4); 5 queued: #5 is next, at
    position 2 in the queue"), and whether the page should be drawn again: one of them is training while another
    run is shown, or none is left to go (following ends)."""
    ids = [r.id for r in runs]
    running = [r for r in runs if r.status == "running"]
    queued = [r for r in runs if r.status == "queued"]
    done = len(runs) - len(running) - len(queued)
    parts = [f"{len(running)} running" + (f" (#{', #'.join(str(r.id) for r in running)})" if running else "")]
    if queued:
        pos = store_.queue_position(queued[0].id)
        parts.append(f"{len(queued)} queued: #{queued[0].id} is next" + (f", at position {pos} in the queue"
                                                                          if pos else ""))
    if done:
        parts.append(f"{done} ended")
    if shown not in ids:
        parts.append(f"shown: #{shown}, which they wait for")
    redraw = (bool(running) and shown not in {r.id for r in running}) or not (running or queued)
    return "This experiment: " + "; ".join(parts) + ".", redraw


# ---- one run, live ---------------------------------------------------------------------------------------------


def history(store_: Store, run: Run, limit: int | None = charts.MAX_POINTS) -> RunHistory:
    """The run's stored metrics as typed rows (steps thinned to ``limit``; the lab's details for lab runs)."""
    steps = store_.steps(run.id, limit)
    epochs = store_.epochs(run.id)
    details = store_.details(run.id) if report.is_lab(run) else []
    return RunHistory(run, steps, epochs, details)


def status_line(store_: Store, run: Run, done: int) -> str:
    """Where the run stands, in words: its queue place, its download, its step, or how it ended."""
    total = run.total_steps or 0
    at = f"step {done} of {total}" if total else f"step {done}"
    if run.status == "queued":
        ahead = store_.queue_ahead(run.id)
        running = [(r, store_.step_count(r.id)) for r in store_.runs(statuses=("running",))]
        past = store_.runs(statuses=("finished",), limit=PAST_FOR_ESTIMATES)
        slots = worker.max_concurrent()
        per_step = step_time(past, worker.thread_share(slots, worker.cores()))
        return f"queued: {speed.queue_wait(ahead, running, lambda c: per_step(c)[0], slots)}"
    if run.status == "running":
        return run.note if run.note else f"training: {at}" if total else "starting: loading the data"
    if run.status == "finished" and run.test_acc is not None:
        return (f"finished: test accuracy {report.percent(run.test_acc)} in {report.duration(run.wall_s)} "
                f"({report.rate(run.images_per_s)} images/s)" + (f"; {run.note}" if run.note else ""))
    if run.status == "stopped":
        return f"stopped at {at}"
    if run.status == "diverged":
        return f"diverged at step {run.diverged_step}: the loss stopped being finite"
    return f"{run.status} at {at}" if done else run.status


def _fraction(run: Run, done: int, total: int) -> float:
    """The progress bar's fill: steps done, or the download's share while the data is fetched."""
    if run.status == "running" and run.progress is not None:
        return run.progress
    if run.status == "finished":
        return 1.0
    return min(1.0, done / total) if total else 0.0


# What fixes a run that blew up. Not clipping: it keeps the loss finite but leaves an oversized network as it is
# (the Gradients page's "Exploding, clipped" preset shows it ending at chance).
DIVERGED_ADVICE = ("What fixes it: a lower learning rate, and in a deep network weights of the right scale: He "
                   "initialisation for ReLU, batch norm, or residual connections. Clipping the gradient norm only "
                   "keeps the loss finite; it does not fix this.")


def _ending(run: Run) -> None:
    """How a run that did not finish ended, as a box that cannot be missed."""
    if run.status == "failed":
        st.error(f"**Run #{run.id} failed:** {md_escape(run.error or 'no reason was recorded')}")
    elif run.status == "diverged":
        st.warning(f"**Run #{run.id} diverged** at step {run.diverged_step}: the loss became infinite or NaN. "
                   f"{DIVERGED_ADVICE}")
    elif run.status == "interrupted":
        st.warning(f"**Run #{run.id} interrupted:** {md_escape(run.error or 'no reason was recorded')}. "
                   "Its metrics so far are kept.")
    elif run.status == "stopped":
        st.info(f"Run #{run.id} was stopped on request. Its metrics so far are kept.")


# A lecture hall's runs at once; a reader pushed out is only read again from the store at its next view.
@st.cache_resource(show_spinner=False, max_entries=64)
def _follower(home_dir: str, database: str | None, run_id: int, created: float) -> Follower:
    """The server's reader of one run (``created`` tells it from a later run given a deleted run's id): it has
    read the run's rows so far, so each redraw reads only the new ones. One for every session watching the run, not
    a copy of its rows in each (30 students watching one run held 30 copies)."""
    return Follower(run_id, charts.MAX_POINTS)


def run_panel(store_: Store, run_id: int, draw: Callable[[RunHistory, str], None] | None = None,
              key: str = "t", follow: list[int] | None = None, seen: list[Run] | None = None) -> None:
    """Progress, how the run ended, stop button and live charts of one run (``draw`` adds a page's own charts;
    the default draws loss, accuracy and gradient norms). While the run goes, its progress redraws every
    ``POLL_S`` and its charts every ``CHARTS_S``, from the rows that are new since the last redraw; both stop
    polling when it ends. With ``follow`` (an experiment's runs) a line sums them up, and the page is drawn again
    when one of them starts training while another run is shown. ``seen``: the runs the page read for its
    picker; the progress's first draw takes the run and the followed ones from them, so that the line agrees
    with the picker's label, and each later redraw reads them in one read."""
    run = store_.get(run_id)
    if run is None:
        st.info("That run was deleted.")
        return
    follower = _follower(str(data.home()), settings.database(), run.id, run.created)
    first = [seen or []]  # the page's read, for the first draw only (a fragment's rerun calls this closure again)

    @st.fragment(run_every=POLL_S if follow or not run.is_over else None)
    def progress() -> None:
        worker.reap_children()
        if guarded(store_.reap) is None:
            store_error()
            return
        wanted = sorted({run_id, *(follow or [])})
        given = {r.id: r for r in (first.pop() if first else [])}
        if not set(wanted) <= set(given):
            given = {r.id: r for r in guarded(lambda: store_.runs(ids=wanted)) or []}
        if follow:
            line, redraw = queue_summary(store_, [given[i] for i in follow if i in given], run_id)
            if redraw:
                st.rerun()  # the whole page: the picker then shows the run that trains, or stops following
            st.caption(md_escape(line))
        now = given.get(run_id)
        if now is None:
            return
        st.markdown(f"**Run #{now.id}**: {md_escape(report.run_label(now))}")
        done = store_.step_count(now.id)
        st.progress(_fraction(now, done, now.total_steps or 0), text=md_escape(status_line(store_, now, done)))
        _ending(now)
        if not now.is_over:
            st.button("Stop", key=f"{key}-stop-{now.id}", on_click=guarded, args=(store_.request_stop, now.id))
            store_error()
        if now.is_over and not run.is_over:
            st.rerun()  # the whole page once more: the charts catch up, and both parts stop polling

    # Apart from the progress: a chart costs tens of milliseconds of server CPU to build and send (Plotly
    # validates every property), the progress a few; redrawing the charts every second was most of what an open
    # panel cost (bench/watch.py).
    @st.fragment(run_every=None if run.is_over else CHARTS_S)
    def curves() -> None:
        now = guarded(store_.get, run_id)
        if now is None:
            return
        h = follower.read(store_, now, details=report.is_lab(now))
        if h.steps:
            (draw or standard_charts)(h, key)

    progress()
    curves()


def standard_charts(h: RunHistory, key: str) -> None:
    """Loss, accuracy and gradient norms of one run."""
    left, right = st.columns(2)
    left.plotly_chart(charts.loss([h]), key=f"{key}_loss_{h.run.id}")
    right.plotly_chart(charts.accuracy([h]), key=f"{key}_acc_{h.run.id}")
    st.plotly_chart(charts.grad_norms(h), key=f"{key}_grad_{h.run.id}")


def _histogram_step(run: Run, steps: list[int], key: str) -> int:
    """The histogram slider: it follows the newest step unless moved back, and lands on the last step once the run
    has ended."""
    state, last, ended = st.session_state, f"{key}_last", f"{key}_ended"
    moved_back = state.get(key) in steps and state.get(key) != state.get(last)
    if not moved_back or (run.is_over and not state.get(ended)):
        state[key] = steps[-1]
    state[last], state[ended] = steps[-1], run.is_over
    return st.select_slider("histogram at step", steps, key=key)


def lab_charts(h: RunHistory, key: str) -> None:
    """The gradient lab's views of one run: norms, the layer × step heatmap, histograms at a chosen step, update
    ratios, then loss and accuracy."""
    run = h.run
    note = charts.divergence_note(h)
    if note:
        st.error(md_escape(note))
    st.plotly_chart(charts.grad_norms(h), key=f"{key}_norms_{run.id}")
    st.plotly_chart(charts.heatmap(h), key=f"{key}_heat_{run.id}")
    if h.details:
        steps = [d.step for d in h.details]
        at = _histogram_step(run, steps, f"{key}_hstep_{run.id}")
        hist = next(d.histograms for d in h.details if d.step == at)
        n = len(run.layers)
        # One above the other: side by side, their titles are cut off on an 800-px screen.
        st.plotly_chart(charts.histogram(run, at, hist, sorted({0, n // 2, n - 1})), key=f"{key}_hist_{run.id}")
        st.plotly_chart(charts.update_ratios(h), key=f"{key}_upd_{run.id}")
    left, right = st.columns(2)
    left.plotly_chart(charts.loss([h]), key=f"{key}_loss_{run.id}")
    right.plotly_chart(charts.accuracy([h]), key=f"{key}_acc_{run.id}")


def no_runs_text(runs: list[Run]) -> str:
    """What the Train page says when it has no run of its own to show (``runs``: every readable stored run)."""
    if any(report.is_lab(r) for r in runs):
        return ("No Train runs yet: set up a run in the sidebar and press Start run. The gradient lab's runs are "
                "on the Gradients page.")
    return "No runs yet: set up a run in the sidebar and press Start run."


@st.cache_data(show_spinner="Measuring this machine's training speed (once)…", max_entries=256)
def _per_step(cfg_json: str, home_dir: str) -> float:
    seconds, calibrated = speed.step_seconds(loads(cfg_json), Path(home_dir))
    if calibrated:
        memory.give_back()  # the calibration's model, batches and data, freed
    return seconds


def estimate_text(store_: Store, todo: list[RunConfig], at_once: int) -> str:
    """The estimate for ``todo`` on this machine, as the experiment and sweep panels give it: from the finished
    runs like them among the newest ``PAST_FOR_ESTIMATES`` (as a queued run's wait), else calibrated (at first
    need, kept in the run home) at the threads each run gets while they train side by side; the runs of others
    queued or running ahead of them; and a warning when the machine is busy now (``speed.busy_note``)."""
    ahead = [r for r in (guarded(lambda: store_.runs(statuses=("queued", "running"))) or [])
             if r.group not in {c.group for c in todo}]
    past = guarded(lambda: store_.runs(statuses=("finished",), limit=PAST_FOR_ESTIMATES)) or []
    threads = worker.thread_share(max(1, min(at_once, len(todo))), worker.cores())
    busy = speed.busy_note(worker.cores())
    return speed.estimate(todo, step_time(past, threads), at_once, ahead) + (f" {busy}" if busy else "")


def step_time(past: list[Run], threads: int) -> Callable[[RunConfig], tuple[float, float, int]]:
    """Seconds a training step of a configuration takes here, seconds a run takes besides, and how many finished
    runs that rests on (``speed.per_step``): the ``past`` finished runs like it, else this machine's calibration
    at ``threads`` (a run's share of the cores), measured at first need and kept in the run home."""
    def calibrate(c: RunConfig) -> float:
        # Seed, group and name do not change a step's time: left out, a plan's runs and every redraw of it (its
        # group is new each time) hit the same cached figure instead of timing the pipeline again.
        same = replace(c, threads=c.threads or threads, seed=0, group="", name="")
        return _per_step(same.to_json(), str(data.home()))

    return lambda c: speed.per_step(c, past, calibrate)


EXPERIMENT_LINK = "x_link"  # session key of the shown experiment's plan (packed), in the link as ``experiment``
SIZES = (250, 500, 1000, 2000, 5000, 10000, 20000)
MAX_SEEDS = 5  # the seeds slider's end


def experiment_panel(store_: Store, base: RunConfig) -> None:
    """The seed article's question in one click: does augmentation help? The answer, with its interval."""
    st.subheader("Does augmentation help here?")
    length = f"{base.epochs} epochs" if base.epochs is not None else f"{base.steps} optimizer steps"
    st.caption(f"The configuration on the left, trained without augmentation and with the Explore page's "
               f"pipeline, each run for {length}. Each pair shares its seed: training images, initialisation and "
               "batch order. Any stored run of the same configuration (from an earlier experiment or sweep) is "
               "used instead of training it again. The verdict comes from a 95% paired t-interval of the "
               "difference in test accuracy: “helped” or “hurt” only when the interval excludes zero.")
    _form_from_link()
    seeds = st.slider("seeds (pairs of runs)", 1, MAX_SEEDS, 3, key="x_seeds",
                      help="Each seed trains one pair; two or more are needed for an interval, more narrow it.")
    sizes = st.multiselect("also sweep training-set sizes (optional)", SIZES, key="x_sizes")
    try:
        as_set = experiment.Experiment(base, explore_pipeline(), seeds, tuple(sizes))
    except ConfigError as e:
        st.error(md_escape(str(e)))
        as_set = None
    # Only the stored runs of the plan's configurations (by the store's fingerprint index): what the button,
    # the estimate and the results need, without reading every stored run (10,000 of them: 0.7 s a read).
    runs = (guarded(sweep.stored, store_, as_set.arms()) or []) if as_set is not None else []
    if as_set is not None:
        todo = as_set.to_launch(runs)
        st.button(f"Run the experiment ({report.count(len(todo), 'run')} to train)", key="x_go",
                  disabled=not todo, on_click=_start_experiment, args=(store_, as_set))
        count = sweep.count_text("experiment", as_set.planned, len(todo))
        if todo:
            at_once = guarded(worker.max_concurrent) or 1
            st.caption(md_escape(f"{count} {estimate_text(store_, todo, at_once)}"))
        else:
            st.caption(md_escape(f"{count} Its results are below."))
    store_error()
    shown = shown_experiment(store_, as_set, runs)
    if as_set is not None and shown is not None and not _same(shown, as_set):
        st.info(md_escape(other_experiment_text(shown, as_set)))
    if isinstance(shown, experiment.Experiment):
        plan = shown
        arms = plan.arms()
        served = plan.served(runs if shown is as_set else guarded(sweep.stored, store_, arms) or [])
        # Redraws read only the runs that serve it, not the whole store again (10,000 stored runs: 0.3 s a read).
        ids = [r.id for r in served]
        experiment_results(store_, lambda: plan.served(store_.runs(ids=ids) if ids else sweep.stored(store_, arms)),
                           any(not r.is_over for r in served), plan.planned)
    elif shown:
        group = shown
        going = [r for r in guarded(store_.runs, group) or [] if not r.is_over]
        experiment_results(store_, lambda: store_.runs(group), bool(going))


def _form_from_link() -> None:
    """On opening a link to an experiment, its seeds and sizes go to the panel's controls (the link's other values
    set the configuration and the pipeline), so that the experiment as set is the linked one."""
    if EXPERIMENT_LINK not in state.from_link():
        return
    linked = linked_experiment()
    if linked is not None and linked.seeds <= MAX_SEEDS and set(linked.sizes) <= set(SIZES):
        st.session_state["x_seeds"] = linked.seeds
        st.session_state["x_sizes"] = list(linked.sizes)


T = TypeVar("T")  # a plan read from a link: an experiment or a sweep


def linked_plan(key: str, what: str, parse: Callable[[Any], T]) -> T | None:
    """The plan packed under session ``key`` (an experiment's or a sweep's: from the link, or started in this
    session), read by ``parse``; None when there is none, or (with a message naming ``what``) when the link is
    damaged."""
    packed = st.session_state.get(key)
    if not packed:
        return None
    try:
        return parse(share.unpack(packed, what))
    except ConfigError as e:
        st.warning(md_escape(f"The {what} in the link cannot be shown: {e}"))
        return None


def linked_experiment() -> experiment.Experiment | None:
    """The experiment in the link (``?experiment=``) or started in this session (see ``linked_plan``)."""
    return linked_plan(EXPERIMENT_LINK, "experiment", experiment.from_dict)


def shown_experiment(store_: Store, as_set: experiment.Experiment | None = None,
                     runs: list[Run] | None = None) -> experiment.Experiment | str | None:
    """The experiment the panel shows: the one set on the page (``as_set``) whenever a pair of its runs is in the
    store (``runs``; ``Experiment.begun``), and it becomes the link; else the plan in the link (``?experiment=``,
    or started in this session), else the group in an older link (``?exp=``, session key ``group``: that group's
    runs), else the newest group whose runs are still queued or running, whichever browser started it (a reload
    or a second tab shows it); that group is then written to the link, so its verdict stays after a reload. (A
    link sets the form, so the experiment set is the link's until the form is changed.)"""
    if as_set is not None and as_set.begun(runs or []):
        st.session_state[EXPERIMENT_LINK] = share.pack(as_set.to_dict())
        st.session_state.pop("group", None)
        return as_set
    linked = linked_experiment()
    if linked is not None:
        return linked
    group = st.session_state.get("group")
    if not group:
        group = experiment.newest_going(guarded(lambda: store_.runs(statuses=("queued", "running"))) or [])
        if group:
            st.session_state["group"] = group
    return group or None


def _same(shown: experiment.Experiment | str, as_set: experiment.Experiment) -> bool:
    return isinstance(shown, experiment.Experiment) and shown.to_dict() == as_set.to_dict()


def other_experiment_text(shown: experiment.Experiment | str, as_set: experiment.Experiment) -> str:
    """Which experiment the results below are, when it is not the one set above (which has no pair stored)."""
    if isinstance(shown, experiment.Experiment):
        return ("The results below are of the experiment last shown here, not of the one set above (no pair of its "
                f"runs is in the store yet). It differs in: {'; '.join(experiment.differences(shown, as_set))}.")
    return (f"The results below are of the experiment runs in group {shown} (an older link's, or the newest "
            "still going), not of the experiment set above (no pair of its runs is in the store yet).")


def _start_experiment(store_: Store, plan: experiment.Experiment) -> None:
    """Queue the runs no stored run serves, once (the launch key), and show the experiment (a callback: the panel
    below already sees its runs)."""
    if guarded(worker.max_concurrent) is None:  # a bad $AUGVIZ_MAX_RUNS is a message, not a crash
        return
    todo = plan.to_launch(guarded(sweep.stored, store_, plan.arms()) or [])
    if todo and not launch(store_, todo, key=sweep.launch_key(todo)):
        return  # refused (a queue cap): the message says why, and the panel shows what it showed
    st.session_state[EXPERIMENT_LINK] = share.pack(plan.to_dict())
    st.session_state.pop("group", None)


def _stop_runs(store_: Store, run_ids: list[int]) -> None:
    for run_id in run_ids:
        guarded(store_.request_stop, run_id)


def experiment_results(store_: Store, read: Callable[[], list[Run]], going: bool,
                       planned: int | None = None) -> None:
    """The experiment's progress and verdict from its runs (``read``: the runs serving its plan, of which there are
    ``planned``; or an older link's group), redrawn every second while its runs go (``going``); when the last
    one ends, the whole page once more, so that its button follows the store."""
    @st.fragment(run_every=POLL_S if going else None)
    def results() -> None:
        runs = guarded(read)  # one read: every status line below agrees with the others
        if runs is None:
            store_error()
            return
        missing = (planned or 0) - len(runs) if planned is not None else 0
        if not runs:
            st.info("No run of this experiment is in the store yet: press Run the experiment to train it."
                    if planned is not None else
                    "No runs of this experiment are in the store (deleted, or a link from another machine).")
            return
        unfinished = [r for r in runs if not r.is_over]
        counts = {s: sum(r.status == s for r in runs) for s in {r.status for r in runs}}
        st.caption(" · ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        if missing:
            st.caption(f"{report.count(missing, 'run')} of {planned} not in the store (never started, failed or "
                       "stopped): press Run the experiment to train them.")
        if unfinished:
            queued = sum(r.status == "queued" for r in unfinished)
            st.caption(f"Waiting for this experiment's {report.count(len(unfinished), 'unfinished run')} "
                       f"({len(unfinished) - queued} running, {queued} queued).")
            st.button(f"Stop the experiment's {report.count(len(unfinished), 'unfinished run')}", key="x_stop",
                      on_click=_stop_runs, args=(store_, [r.id for r in unfinished]))
        comparisons = experiment.compare(runs)
        for c in comparisons:
            st.markdown(md_escape(c.sentence(experiment.so_far(runs))))
        if any(r.status != "queued" for r in runs):
            st.plotly_chart(charts.arms([history(store_, r) for r in runs]), key="x_arms")
        if len([c for c in comparisons if c.mean is not None]) > 1:
            st.plotly_chart(charts.benefit(comparisons), key="x_benefit")
        failed = [r for r in runs if r.status in ("failed", "diverged", "interrupted")]
        if failed:
            st.warning(f"{report.count(len(failed), 'run')} did not finish: left out of the comparison.")
        if going and not unfinished:
            st.rerun()

    results()

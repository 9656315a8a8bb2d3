"""The Train page's experiment panel ("Does augmentation help here?"): an estimate before starting, and no
second start while the experiment's runs are still going, with a way to stop them."""

from __future__ import annotations

import json
import os
import re

from streamlit.testing.v1 import AppTest

from augviz import speed
from augviz.runconfig import RunConfig
from augviz.store import Store
from tests.apptest import fresh

SMALL = {"size": "250", "batch": "16", "steps": "10"}  # the link's Train settings: tiny runs


def train_page() -> AppTest:
    return fresh({}, page="train")


def one_starts_between_reads(monkeypatch, store: Store, ids: list[int]) -> None:
    """Make a worker claim one of the queued runs ``ids`` after every read of the store's runs (a list, or a
    plan's runs by their fingerprint keys)."""
    for name in ("runs", "serving"):
        reads = getattr(Store, name)

        def read_then_one_starts(self, *args, reads=reads, **kwargs):
            out = reads(self, *args, **kwargs)
            queued = [i for i in ids if store.get(i).status == "queued"]
            if queued:
                store.claim(queued[0], os.getpid(), 10)
            return out

        monkeypatch.setattr(Store, name, read_then_one_starts)


def captions(at: AppTest) -> str:
    return " ".join(c.value.replace("\\", "") for c in at.caption)


def markdown(at: AppTest) -> str:
    return " ".join(m.value.replace("\\", "") for m in at.markdown)


def finished(store: Store, cfg: RunConfig, steps: int, wall_s: float) -> None:
    run_id = store.create(cfg, status="running", pid=os.getpid())
    store.started(run_id, ["fc"], steps, ("a", "b"))
    store.finish(run_id, "finished", test_acc=0.5, wall_s=wall_s)


def test_with_no_run_to_measure_the_estimate_is_calibrated_on_this_machine_and_kept(home):
    at = fresh(SMALL, page="train")
    text = captions(at)
    assert "6 runs in this experiment: 6 to train." in text
    # The calibration times the training step alone: a floor, said as one, with what it leaves out.
    assert "Estimate: at least" in text and "calibrated here at each run's share of the cores" in text
    assert "Starting each run, reading its data and evaluating it add to that" in text
    assert "rough figure" not in text
    kept = json.loads((home / speed.FILE).read_text())  # the sweep panel's calibration, kept for both panels
    assert [k for k in kept if k.startswith("seed_cnn/") and "/b16/" in k]
    assert at.button(key="x_go").label == "Run the experiment (6 runs to train)"


def test_a_redraw_times_no_pipeline_again(home, monkeypatch):
    # Each draw plans the experiment anew (a new group) and its seeds differ, neither of which changes a step's
    # time: the calibration is kept for what does, so redraws reuse it (21 pipeline timings a redraw before).
    timed = []
    measure = speed.measure_pipeline
    monkeypatch.setattr(speed, "measure_pipeline", lambda cfg: timed.append(cfg) or measure(cfg))
    at = fresh(SMALL, page="train")
    first = len(timed)
    assert first  # the first draw timed the pipeline
    at.run()
    at.run()
    assert len(timed) == first


def test_on_a_busy_machine_the_estimate_says_runs_will_take_longer(home, monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (40.0, 40.0, 40.0))  # more than any test machine's cores
    text = captions(fresh(SMALL, page="train"))
    assert re.search(r"Estimate: at least .*This machine is busy: load 40\.0 on \d+ cores?; runs will take longer "
                     r"than this\.", text), text


def test_the_estimate_comes_from_finished_runs_of_the_same_configuration(home):
    store = Store(home / "runs.sqlite")
    for wall_s in (8.0, 10.0, 30.0):  # 80, 100 and 300 ms a step: the median is 100 ms
        finished(store, RunConfig(seed=7), 100, wall_s)
    finished(store, RunConfig(model="resnet"), 100, 1000.0)  # another model: not this configuration's speed
    at = train_page()
    at.slider(key="x_seeds").set_value(2).run()
    text = captions(at)
    assert "Estimate: about 6 min 40 s for 4 runs on this machine (100 ms a training step plus 0.0 s a run to " \
           "start, read its data and evaluate, the median of 3 finished runs" in text


def test_a_going_experiment_is_shown_and_can_be_stopped_while_another_configuration_may_start(home):
    store = Store(home / "runs.sqlite")
    cfg = RunConfig(train_size=250, steps=10, group="exp-test")
    running = store.create(cfg, status="running", pid=os.getpid())  # a worker that is training it
    queued = store.create(cfg)
    at = train_page()  # a fresh session (a reload, a second tab): it shows the experiment that is going
    assert at.query_params["exp"] == "exp-test"
    assert "Waiting for this experiment's 2 unfinished runs (1 running, 1 queued)" in captions(at)
    assert not at.button(key="x_go").disabled and "Estimate" in captions(at)  # the page's is another one

    at.button(key="x_stop").click().run()
    assert store.get(queued).status == "stopped" and store.get(running).stop_requested


def test_the_button_follows_the_configuration_and_trains_only_what_no_stored_run_serves(home):
    store = Store(home / "runs.sqlite")
    store.create(RunConfig(train_size=250, steps=10), pid=os.getpid())  # first in the queue, waiting in this
    # process: the launcher starts nothing behind it, so the experiment's runs stay queued
    at = train_page()
    assert not at.button(key="x_go").disabled
    at.button(key="x_go").click().run()
    assert len(store.runs()) == 7
    assert at.button(key="x_go").disabled
    assert ("6 runs in this experiment: 0 to train, 6 served by runs already in the store (finished or going). "
            "Every one of them is in the store already: nothing to train. Its results are below.") in captions(at)
    assert "6 queued" in captions(at)  # its results: the runs that serve it
    at.slider(key="x_seeds").set_value(2).run()
    assert at.button(key="x_go").disabled  # seeds 0 and 1 are in the store already
    at.slider(key="x_seeds").set_value(4).run()
    assert at.button(key="x_go").label == "Run the experiment (2 runs to train)"
    assert "8 runs in this experiment: 2 to train, 6 served by runs already in the store" in captions(at)
    at.button(key="x_go").click().run()
    assert [(r.config.seed, r.config.pipeline is None) for r in store.runs()[7:]] == [(3, True), (3, False)]
    assert "8 queued" in captions(at)  # the experiment shown is the one just started, over the four seeds
    assert train_page().button(key="x_go").disabled  # a second browser with the same configuration


def linked_seeds(at: AppTest) -> int:
    from augviz import experiment, share
    link = at.query_params["experiment"]
    return experiment.from_dict(share.unpack(link[0] if isinstance(link, list) else link, "experiment")).seeds


def test_the_results_shown_are_the_experiment_set_whenever_it_has_runs_and_else_say_whose_they_are(home):
    store = Store(home / "runs.sqlite")
    store.create(RunConfig(train_size=250, steps=10), pid=os.getpid())  # nothing starts behind it
    at = fresh(SMALL, page="train")
    at.button(key="x_go").click().run()  # 3 seeds
    for run in store.runs()[1:]:  # its runs finish, as workers would write them
        store.claim(run.id, os.getpid(), 10)
        store.started(run.id, ["fc"], 10, tuple("abcdefghij"))
        store.finish(run.id, "finished", test_acc=0.5 + (0.2 if run.config.pipeline is not None else 0.0),
                     wall_s=1.0)
    at.slider(key="x_seeds").set_value(4).run()  # 6 of its 8 runs are stored: its results, not the 3 seeds'
    assert "8 runs in this experiment: 2 to train, 6 served" in captions(at)
    assert "2 runs of 8 not in the store" in captions(at) and linked_seeds(at) == 4
    assert not at.info
    at.slider(key="x_seeds").set_value(2).run()
    assert "4 finished" in captions(at) and linked_seeds(at) == 2
    at.select_slider(key="t_lr").set_value(0.01).run()  # no run of it is stored: the last shown stays, named
    assert linked_seeds(at) == 2 and "4 finished" in captions(at)
    (note,) = [i.value.replace("\\", "") for i in at.info]
    assert note.startswith("The results below are of the experiment last shown here, not of the one set above")
    assert "It differs in: lr 0.003 (set: 0.01)." in note


def test_a_double_click_on_run_the_experiment_queues_it_once(home):
    store = Store(home / "runs.sqlite")
    store.create(RunConfig(train_size=250, steps=10), pid=os.getpid())  # nothing starts behind it
    # The second click comes from a page drawn before the first click's effect (its button still enabled): as
    # in a browser whose second click leaves before the disabled button arrives, or a second tab.
    first, second = train_page(), train_page()
    first.button(key="x_go").click().run()
    second.button(key="x_go").click().run()
    assert len(store.runs()) == 7
    assert len({r.group for r in store.runs()[1:]}) == 1
    assert second.query_params["experiment"] == first.query_params["experiment"]  # both show the one experiment


def test_an_experiment_after_a_sweep_of_the_same_configuration_is_served_by_its_runs_and_is_a_link(home):
    store = Store(home / "runs.sqlite")
    store.create(RunConfig(train_size=250, steps=10), pid=os.getpid())  # nothing starts behind it
    at = fresh(SMALL, page="train")
    at.session_state["w_open"] = True
    at.run()
    at.button(key="w_go").click().run()  # the default sweep: 5 strengths × 3 seeds, at the Explore strength 1
    assert len(store.runs()) == 16
    assert at.button(key="x_go").disabled
    assert "6 runs in this experiment: 0 to train, 6 served by runs already in the store" in captions(at)
    for run in store.runs()[1:]:  # the sweep's runs finish, as workers would write them: augmentation helps
        store.claim(run.id, os.getpid(), 10)
        store.started(run.id, ["fc"], 10, tuple("abcdefghij"))
        acc = 0.5 + 0.01 * run.config.seed + (0.2 if run.config.pipeline is not None else 0.0)
        store.finish(run.id, "finished", test_acc=acc, wall_s=1.0)
    at.run()
    assert "6 finished" in captions(at)
    verdict = "250 training images: augmentation helped"
    assert verdict in markdown(at)
    link = at.query_params["experiment"]
    link = link[0] if isinstance(link, list) else link
    other = fresh({"experiment": link}, page="train")  # another browser, on the link alone: the experiment itself
    assert verdict in markdown(other)


def test_a_link_to_an_experiment_sets_its_seeds_and_a_damaged_one_is_a_message(home):
    from augviz import experiment, serialize, share
    from augviz.preview import SEED_PIPELINE
    plan = experiment.Experiment(RunConfig(train_size=250, steps=10), serialize.to_dict(SEED_PIPELINE), seeds=2)
    at = fresh({**SMALL, "experiment": share.pack(plan.to_dict())}, page="train")
    assert at.slider(key="x_seeds").value == 2
    assert "No run of this experiment is in the store yet" in " ".join(i.value for i in at.info)
    damaged = fresh({"experiment": "not-a-plan"}, page="train")
    assert any("The experiment in the link cannot be shown" in w.value for w in damaged.warning)


def test_a_link_to_a_finished_experiment_shows_its_verdict_in_a_new_session(home):
    from augviz import serialize
    from augviz.preview import SEED_PIPELINE
    store = Store(home / "runs.sqlite")
    for seed, (plain, aug) in enumerate(((0.7, 0.9), (0.72, 0.91))):  # two classes: chance is 50 %
        for acc, pipeline in ((plain, None), (aug, serialize.to_dict(SEED_PIPELINE))):
            cfg = RunConfig(train_size=250, steps=10, seed=seed, pipeline=pipeline, group="exp-done")
            run_id = store.create(cfg, status="running", pid=os.getpid())
            store.started(run_id, ["fc"], 10, ("a", "b"))
            store.finish(run_id, "finished", test_acc=acc, wall_s=1.0)
    at = fresh({"exp": "exp-done"}, page="train")
    assert not at.button(key="x_go").disabled
    assert "4 finished" in captions(at)
    assert any("helped" in m.value for m in at.markdown), [m.value for m in at.markdown]


def test_while_a_run_of_the_experiment_still_trains_its_verdict_says_so_far(home):
    from augviz import serialize
    from augviz.preview import SEED_PIPELINE
    store = Store(home / "runs.sqlite")
    for seed, (plain, aug) in enumerate(((0.7, 0.9), (0.72, 0.91))):
        for acc, pipeline in ((plain, None), (aug, serialize.to_dict(SEED_PIPELINE))):
            cfg = RunConfig(train_size=250, steps=10, seed=seed, pipeline=pipeline, group="exp-going")
            run_id = store.create(cfg, status="running", pid=os.getpid())
            store.started(run_id, ["fc"], 10, ("a", "b"))
            store.finish(run_id, "finished", test_acc=acc, wall_s=1.0)
    running = store.create(RunConfig(train_size=250, steps=10, seed=2, group="exp-going"), status="running",
                           pid=os.getpid())
    at = fresh({"exp": "exp-going"}, page="train")
    verdict = next(m for m in markdown_lines(at) if "training images" in m)
    assert verdict.startswith("So far (4 of 5 runs finished), 250 training images: "), verdict
    store.finish(running, "stopped")


def markdown_lines(at: AppTest) -> list[str]:
    return [m.value.replace("\\", "") for m in at.markdown]


def test_the_newest_going_experiment_is_shown_not_an_older_or_a_finished_one(home):
    store = Store(home / "runs.sqlite")
    waiting = os.getpid()  # queued runs that wait in a (CLI) process of their own: no launcher starts them
    store.create(RunConfig(train_size=250, steps=10, group="exp-old"), pid=waiting)
    store.create(RunConfig(train_size=250, steps=10, group="exp-new"), pid=waiting)
    finished(store, RunConfig(train_size=250, steps=10, group="exp-over"), 10, 1.0)
    at = train_page()
    assert at.query_params["exp"] == "exp-new"


def test_every_status_line_comes_from_one_read_of_the_store(home, monkeypatch):
    store = Store(home / "runs.sqlite")
    cfg = RunConfig(train_size=250, steps=10, group="exp-test")
    ids = [store.create(cfg, pid=os.getpid()) for _ in range(3)]  # waiting in this process: no launcher
    one_starts_between_reads(monkeypatch, store, ids)
    at = train_page()
    lines = [c.value.replace("\\", "") for c in at.caption]
    waiting = next(line for line in lines if line.startswith("Waiting"))
    tally = next(line for line in lines if re.fullmatch(r"\d+ \w+( · \d+ \w+)*", line))  # "2 queued · 1 running"
    counts = {s: n for n, s in (part.split(" ") for part in tally.split(" · "))}
    assert f"({counts.get('running', '0')} running, {counts.get('queued', '0')} queued)" in waiting, lines


def test_one_unfinished_run_is_counted_in_the_singular(home):
    store = Store(home / "runs.sqlite")
    running = store.create(RunConfig(train_size=250, steps=10, group="exp-one"), status="running", pid=os.getpid())
    at = train_page()
    assert "Waiting for this experiment's 1 unfinished run (1 running, 0 queued)" in captions(at)
    assert at.button(key="x_stop").label == "Stop the experiment's 1 unfinished run"
    store.finish(running, "stopped")


def shown_run(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Run #"))


def test_after_starting_an_experiment_the_panel_shows_the_run_that_trains_and_sums_up_the_queue(home):
    store = Store(home / "runs.sqlite")
    training = store.create(RunConfig(train_size=250, steps=10, seed=9, name="an earlier run"), status="running",
                            pid=os.getpid())  # the only slot (AUGVIZ_MAX_RUNS=1) is taken: the experiment waits
    at = train_page()
    at.sidebar.slider(key="t_size").set_value(250)
    at.sidebar.select_slider(key="t_steps").set_value(10).run()
    at.button(key="x_go").click().run()
    assert not at.exception
    ids = [r.id for r in store.runs() if r.config.group]
    assert len(ids) == 6 and all(store.get(i).status == "queued" for i in ids)
    assert shown_run(at).startswith(f"**Run #{training}**")  # not "#2 queued … position 1"
    text = captions(at)
    assert f"This experiment: 0 running; 6 queued: #{ids[0]} is next, at position 1 in the queue; shown: " \
           f"#{training}, which they wait for." in text

    assert store.claim(ids[0], os.getpid(), 2)  # the experiment's first run starts training (as a worker would)
    store.finish(training, "finished", test_acc=0.5, wall_s=1.0)
    at.run()
    assert shown_run(at).startswith(f"**Run #{ids[0]}**")
    assert f"This experiment: 1 running (#{ids[0]}); 5 queued: #{ids[1]} is next" in captions(at)
    for run_id in ids:
        store.finish(run_id, "stopped")


def test_picking_a_run_by_hand_ends_following_the_experiment(home):
    store = Store(home / "runs.sqlite")
    earlier = store.create(RunConfig(train_size=250, steps=10), status="running", pid=os.getpid())
    store.finish(earlier, "stopped")
    store.create(RunConfig(train_size=250, steps=10), status="running", pid=os.getpid())  # the experiment waits
    at = train_page()
    at.button(key="x_go").click().run()
    at.selectbox(key="t_run").select(earlier).run()
    assert shown_run(at).startswith(f"**Run #{earlier}**") and "This experiment:" not in captions(at)
    for run in store.runs(statuses=("queued", "running")):
        store.finish(run.id, "stopped")


def test_the_picker_and_the_experiments_line_under_it_come_from_one_read(home, monkeypatch):
    store = Store(home / "runs.sqlite")
    training = store.create(RunConfig(train_size=250, steps=10, seed=9), status="running", pid=os.getpid())
    at = train_page()
    at.sidebar.slider(key="t_size").set_value(250)
    at.sidebar.select_slider(key="t_steps").set_value(10).run()
    at.button(key="x_go").click().run()
    ids = [r.id for r in store.runs() if r.config.group]  # queued behind the run that holds the only slot
    one_starts_between_reads(monkeypatch, store, ids)
    at.run()
    picker = at.selectbox(key="t_run")
    labelled = {i for i in ids if picker.format_func(i).startswith(f"#{i} running")}
    line = next(c for c in (c.value.replace("\\", "") for c in at.caption) if c.startswith("This experiment:"))
    said = {int(n) for n in re.findall(r"#(\d+)", line.split(";")[0])}  # "1 running (#2, #3)"
    assert said == labelled, (line, [picker.format_func(i) for i in ids])
    monkeypatch.undo()
    for run_id in [training, *ids]:
        store.finish(run_id, "stopped")


def test_the_train_page_never_reads_every_stored_run(home, monkeypatch):
    # Its panels find their plans' runs by fingerprint key, its pickers list the newest: with 10,000 stored runs,
    # a read of them all cost a first load 0.7 s.
    store = Store(home / "runs.sqlite")
    finished(store, RunConfig(train_size=250, steps=10, batch_size=16), 10, 1.0)  # the estimates' measure
    reads, whole = Store.runs, []

    def recorded(self, group=None, ids=None, limit=None, statuses=None):
        if not group and ids is None and limit is None and statuses is None:
            whole.append("every stored run")
        return reads(self, group, ids, limit, statuses)

    monkeypatch.setattr(Store, "runs", recorded)
    at = fresh(SMALL, page="train")
    at.session_state["w_open"] = True  # the sweep panel too, with its runs to train and its estimate
    at.run()
    assert "Estimate: about" in captions(at) and "Run the sweep" in at.button(key="w_go").label
    at.button(key="x_go").click().run()  # starting the experiment
    assert not at.exception and len(reads(store)) > 1
    assert whole == []

"""The Train page's sweep panel in Streamlit's AppTest: the count and an estimate measured on this machine before
starting, one click queues the runs once, the panel is a link, and the answer's strength goes to Explore."""

from __future__ import annotations

import json
import os

from augviz import share, speed, sweep, worker
from augviz.metrics import EpochMetrics
from augviz.runconfig import RunConfig
from augviz.store import Store
from tests.apptest import fresh

QUERY = {"size": "250", "batch": "16", "steps": "10"}


def markdown(at) -> str:
    return " ".join(m.value.replace("\\", "") for m in at.markdown)


def captions(at) -> str:
    return " ".join(c.value.replace("\\", "") for c in at.caption)


def open_panel(at):
    at.session_state["w_open"] = True
    return at.run()


def test_the_panel_counts_the_runs_and_estimates_them_from_a_measurement_kept_in_the_run_home(home):
    at = open_panel(fresh(QUERY, page="train"))
    assert not at.exception
    text = captions(at)
    assert "15 runs in this sweep: 15 to train." in text
    assert "calibrated here at each run's share of the cores" in text and "Estimate: at least" in text
    kept = json.loads((home / speed.FILE).read_text())
    share = worker.thread_share(worker.max_concurrent(), worker.cores())  # 15 runs: as many at once as may go
    # measured at the page's batch size, at the threads each run gets beside the others
    assert [k for k in kept if k.startswith("seed_cnn/") and f"/b16/t{share}/" in k]
    assert at.button(key="w_go").label == "Run the sweep (15 runs to train)"


def test_one_click_queues_the_sweep_once_and_the_sweep_becomes_a_link(home):
    store = Store(home / "runs.sqlite")
    store.create(RunConfig(train_size=250, steps=10), pid=os.getpid())  # first in the queue, waiting in this
    # process: nothing starts behind it, so the sweep's runs stay queued
    at = open_panel(fresh(QUERY, page="train"))
    at.button(key="w_go").click().run()
    assert len(store.runs()) == 16
    assert at.button(key="w_go").disabled and "Every one of them is in the store already" in captions(at)
    assert "0 of 15 runs over (0 running, 15 queued)" in captions(at)
    link = at.query_params["sweep"]
    link = link[0] if isinstance(link, list) else link
    other = fresh({**QUERY, "sweep": link}, page="train")  # another browser opening the link
    assert "0 of 15 runs over" in captions(other)
    assert other.button(key="w_go").disabled
    assert len(store.runs()) == 16


def finished_sweep(home, val: dict[float, list[float]], only: set[float] | None = None):
    """A fresh page's sweep as the form sets it by default, after one click on Run the sweep, with its runs
    finished at these validation accuracies (``finished_sweep_of``)."""
    return finished_sweep_of(home, open_panel(fresh(QUERY, page="train")), val, only)


def test_a_finished_sweep_gives_its_answer_and_its_strength_goes_to_explore(home):
    at = finished_sweep(home, {v: [acc + 0.01 * seed for seed in range(3)]
                               for v, acc in {0.0: .5, 0.5: .6, 1.0: .7, 1.5: .65, 2.0: .55}.items()})
    text = " ".join(m.value.replace("\\", "") for m in at.markdown)
    assert "250 images: strength 1.0 is best on validation" in text
    assert "the pick rests on 25 validation images a run" in captions(at)  # 250 × 0.1
    (table,) = at.table  # a static table, whose cells wrap: a scrolling grid cut off "test vs none" at 800 px
    assert list(table.value.columns)[-1] == "test vs none" and not at.dataframe
    assert table.value["validation"][2] == "71.0\u00a0% [68.5,\u00a073.5]"  # wraps between mean and interval only
    at.session_state["strength"] = 1.5  # Explore's strength moved since (at 1 already, nothing is offered)
    at.run()
    at.button(key="w_use_250").click().run()
    assert at.session_state["strength"] == 1.0
    assert any("strength is now 1" in s.value for s in at.success)


def test_a_best_strength_within_the_noise_of_no_augmentation_is_not_offered_to_apply(home):
    at = finished_sweep(home, {0.0: [.50, .60, .55], 0.5: [.45, .50, .48], 1.0: [.62, .52, .66],
                               1.5: [.40, .42, .41], 2.0: [.30, .31, .32]})
    text = " ".join(m.value.replace("\\", "") for m in at.markdown)
    assert "250 images: strength 1.0 is best on validation" in text and "no clear gain over no augmentation" in text
    assert not [b for b in at.button if b.key == "w_use_250"]
    assert ("No strength is clearly better than no augmentation yet: nothing to apply; more seeds narrow the "
            "intervals.") in captions(at)


def test_the_values_offered_for_a_setting_stay_within_what_it_can_hold():
    from augviz import Pipeline, Step, serialize
    from augviz.ui.sweep import default_values
    erasing = Step.default("random_erasing")
    pipe = Pipeline((Step(erasing.name, {**erasing.params, "value": 0.8}),))
    offered = default_values(pipe, sweep.Axis(0, "value"))
    assert offered == "0.4, 0.8, 1"  # 1.2 and 1.6 pass the grey level's bound of 1
    sweep.Sweep(RunConfig(), serialize.to_dict(pipe), sweep.Axis(0, "value"),
                tuple(float(v) for v in offered.split(", ")))  # accepted as offered


def test_mid_sweep_the_page_calls_the_answer_one_so_far_and_offers_no_strength(home):
    at = finished_sweep(home, {v: [acc + 0.01 * seed for seed in range(3)]
                               for v, acc in {0.0: .5, 0.5: .9, 1.0: .7, 1.5: .9, 2.0: .9}.items()}, only={0.0, 1.0})
    text = " ".join(m.value.replace("\\", "") for m in at.markdown)
    assert "250 images, so far (6 of 15 runs): strength 1.0 is best on validation" in text
    assert "0.5, 1.5 and 2.0 have no finished run yet" in text and "clearly below" not in text
    assert not [b for b in at.button if b.key == "w_use_250"]
    assert "The pick is offered when every run of the sweep has finished." in captions(at)


def test_another_browser_opening_the_train_page_sees_the_stored_sweep_of_its_form_and_gets_its_link(home):
    finished_sweep(home, {v: [acc + 0.01 * seed for seed in range(3)]
                          for v, acc in {0.0: .5, 0.5: .6, 1.0: .7, 1.5: .65, 2.0: .55}.items()})
    other = open_panel(fresh(QUERY, page="train"))  # no sweep in its link or its session
    assert "Every one of them is in the store already" in captions(other) and "Its results are below." in \
        captions(other)
    text = " ".join(m.value.replace("\\", "") for m in other.markdown)
    assert "250 images: strength 1.0 is best on validation" in text
    assert "sweep" in other.query_params  # a reload keeps it


def test_a_sweep_going_in_another_browser_fills_in_on_a_fresh_page_with_the_same_form(home):
    store = Store(home / "runs.sqlite")
    store.create(RunConfig(train_size=250, steps=10), pid=os.getpid())  # keeps the sweep's runs queued
    at = open_panel(fresh(QUERY, page="train"))
    at.button(key="w_go").click().run()  # the teacher's sweep, queued
    student = open_panel(fresh(QUERY, page="train"))
    assert "0 of 15 runs over (0 running, 15 queued)" in captions(student)
    assert "sweep" in student.query_params


def test_with_nothing_of_its_sweep_stored_a_fresh_page_shows_no_results(home):
    at = open_panel(fresh(QUERY, page="train"))
    assert "runs over" not in captions(at) and "sweep" not in at.query_params


def test_the_results_follow_the_form_once_its_sweep_is_all_stored_after_the_page_showed_another(home):
    # A fresh page opens on the default form (strengths 0 to 2, 3 seeds), of which the stored runs of another
    # browser's sweep (strengths 0 and 1, 5 seeds) serve a part: the page shows that default sweep. Setting the
    # form to the stored sweep must show its results and its pick, not the default's with "press Run" beside a
    # disabled Run button (seen in a browser).
    teacher = open_panel(fresh(QUERY, page="train"))
    teacher.text_input(key="w_values.strength").set_value("0, 1")
    teacher.slider(key="w_seeds").set_value(5)
    teacher.run()
    finished = finished_sweep_of(home, teacher, {0.0: [.50, .51, .52, .53, .54], 1.0: [.70, .71, .72, .73, .74]})
    assert "10 of 10 runs over" in captions(finished)
    student = open_panel(fresh(QUERY, page="train"))
    student.text_input(key="w_values.strength").set_value("0, 1")
    student.slider(key="w_seeds").set_value(5)
    student.run()
    assert student.button(key="w_go").disabled
    assert "10 of 10 runs over" in captions(student), [c for c in captions(student).split(". ") if "runs" in c]
    assert "strength 1.0 is best on validation" in markdown(student) and not student.info
    # Explore's strength is 1 already: nothing to use, and the page says so rather than offering it.
    assert not [b for b in student.button if b.key == "w_use_250"]
    assert "The Explore page's strength is 1 already." in captions(student)


def test_a_sweep_link_sets_the_form_so_that_run_trains_what_it_shows(home):
    teacher = open_panel(fresh(QUERY, page="train"))
    teacher.text_input(key="w_values.strength").set_value("0, 1")
    teacher.slider(key="w_seeds").set_value(5)
    teacher.multiselect(key="w_refs").set_value(["randaugment"])
    teacher.run()
    finished_sweep_of(home, teacher, {0.0: [.50, .51, .52, .53, .54], 1.0: [.70, .71, .72, .73, .74]})
    packed = teacher.query_params["sweep"]
    student = fresh({**QUERY, "sweep": packed[0] if isinstance(packed, list) else packed}, page="train")
    assert student.text_input(key="w_values.strength").value == "0, 1"
    assert student.slider(key="w_seeds").value == 5 and student.multiselect(key="w_refs").value == ["randaugment"]
    assert student.button(key="w_go").label == "Run the sweep (0 runs to train)" and not student.info


def test_results_of_another_sweep_than_the_one_set_say_so_and_how_it_differs(home):
    at = open_panel(fresh(QUERY, page="train"))
    at.text_input(key="w_values.strength").set_value("0, 1")
    at.run()
    finished = finished_sweep_of(home, at, {0.0: [.50, .51, .52], 1.0: [.70, .71, .72]})
    finished.text_input(key="w_values.strength").set_value("0, 3")  # nothing of strength 3 stored yet
    finished.run()
    assert "The results below are of the sweep last shown here, not of the one set above" in finished.info[0].value
    assert "values 0, 1 (set: 0, 3)" in finished.info[0].value.replace("\\", "")
    assert "6 of 6 runs over" in captions(finished)


def finished_sweep_of(home, at, val: dict[float, list[float]], only: set[float] | None = None):
    """``at`` after one click on Run the sweep, with the sweep's runs finished at these validation accuracies (per
    strength, per seed; reference arms at strength 0's), as workers would write them (``only``: just those of
    these strengths)."""
    store = Store(home / "runs.sqlite")
    at.button(key="w_go").click()
    for r in store.runs():  # stop what the click queued: the results are written below instead
        store.request_stop(r.id)
    at.run()
    packed = at.query_params["sweep"]
    sw = sweep.from_dict(share.unpack(packed[0] if isinstance(packed, list) else packed))
    for arm in sweep.plan(sw):
        if only is not None and arm.value not in only:
            continue
        run_id = store.create(arm.config, status="running", pid=os.getpid())
        store.started(run_id, ["fc"], 10, tuple("abcdefghij"))
        acc = val[arm.value if arm.value is not None else 0.0][arm.seed]
        store.add_epoch(run_id, EpochMetrics(1, 1.0, acc, 1.0, acc, 100.0))
        store.finish(run_id, "finished", test_acc=acc - 0.02, wall_s=1.0)
    return at.run()

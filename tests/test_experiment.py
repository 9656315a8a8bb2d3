"""The experiment's verdict is statistics: a 95 % paired t-interval over seeds decides "helped" and "hurt", an
interval that crosses zero is never a verdict, and arms that have not learnt are "too early to tell"."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from augviz import experiment, serialize, share, speed, strength, sweep
from augviz.errors import ConfigError
from augviz.experiment import Comparison, compare, t_quantile
from augviz.preview import SEED_PIPELINE
from augviz.runconfig import RunConfig
from augviz.store import Run, Store


def pairs(plain: list[float], augmented: list[float], chance: float = 0.1, size: int = 500) -> Comparison:
    return Comparison(size, plain, augmented, [a - p for p, a in zip(plain, augmented, strict=True)], chance)


def test_the_t_quantiles_are_students():
    scipy_stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 3, 4, 9, 29, 30, 31, 60, 500):
        assert t_quantile(df) == pytest.approx(scipy_stats.t.ppf(0.975, df), abs=1e-3), df


def test_the_interval_is_the_paired_t_interval_worked_by_hand():
    # differences +5, +4, +3 points: mean 4, sd 1, standard error 1/sqrt(3) = 0.5774, t(0.975, 2) = 4.303,
    # half-width 2.484: the interval is [+1.52, +6.48] points.
    c = pairs([0.50, 0.52, 0.49], [0.55, 0.56, 0.52])
    assert c.mean == pytest.approx(0.04) and c.spread == pytest.approx(0.01)
    lo, hi = c.interval
    assert lo == pytest.approx(0.01516, abs=1e-4) and hi == pytest.approx(0.06484, abs=1e-4)
    assert c.verdict == "helped"
    assert c.sentence() == ("500 training images: augmentation helped: test accuracy 50.3% without, 54.3% with "
                            "augmentation, a difference of +4.0 points, 95% interval [+1.5, +6.5] (paired "
                            "t-interval over 3 seeds).")


def test_an_interval_that_crosses_zero_is_never_helped():
    # Two of three seeds gain, the mean is +3 points, but the interval is [-6.0, +12.0]: no verdict.
    c = pairs([0.60, 0.61, 0.62], [0.66, 0.60, 0.66])
    lo, hi = c.interval
    assert lo < 0 < hi and c.mean > 0
    assert c.verdict == "unclear"
    assert "no clear difference with 3 seeds: run more seeds" in c.sentence()
    assert "helped" not in c.sentence() and "hurt" not in c.sentence()


def test_a_consistent_loss_is_hurt():
    c = pairs([0.70, 0.72, 0.71], [0.65, 0.66, 0.67])
    assert c.interval[1] < 0
    assert c.verdict == "hurt" and "augmentation hurt" in c.sentence()
    assert "a difference of \u22125.0 points" in c.sentence()  # the app's minus sign (U+2212), never a hyphen


def test_one_seed_gives_no_interval_and_asks_for_more():
    c = pairs([0.50], [0.70])
    assert c.interval is None and c.verdict == "unclear"
    assert "no clear difference with 1 seed: run more seeds" in c.sentence()


def test_arms_near_chance_are_too_early_to_tell_even_with_a_tight_interval():
    # The case: every arm near chance. Here every seed loses exactly 3 points (a zero-width interval
    # that excludes zero), and still the runs have not learnt enough to say anything.
    c = pairs([0.15, 0.16, 0.155], [0.12, 0.13, 0.125])
    assert c.interval[1] < 0
    assert c.verdict == "too early"
    assert c.sentence().startswith("500 training images: too early to tell: both arms are near chance (10%); "
                                   "train longer")
    assert "hurt" not in c.sentence()


def test_chance_follows_the_number_of_classes():
    # 55 % on a two-class problem is near chance (50 %); on a ten-class problem it is well above it.
    assert pairs([0.55, 0.56], [0.54, 0.55], chance=0.5).verdict == "too early"
    assert pairs([0.55, 0.56], [0.54, 0.55], chance=0.1).verdict != "too early"
    assert "near chance (50%)" in pairs([0.55, 0.56], [0.54, 0.55], chance=0.5).sentence()


def test_one_arm_above_chance_is_a_real_difference():
    # Augmentation so strong the augmented arm learns nothing: a true "hurt", not "too early".
    c = pairs([0.80, 0.82, 0.81], [0.11, 0.10, 0.12])
    assert c.verdict == "hurt"


def _runs(accs: dict[tuple[int, int, bool], float], classes: int = 10) -> list[Run]:
    plan = experiment.plan(RunConfig(train_size=500), {"version": 1, "steps": []}, seeds=3, sizes=[500, 1000])
    out = []
    for i, c in enumerate(plan):
        acc = accs.get((c.train_size, c.seed, c.pipeline is not None))
        if acc is not None:
            out.append(Run(i, c.to_json(), c.label(), c.group, "finished", None, 0, 0, 0, None, False, 1, [],
                           [str(k) for k in range(classes)], None, acc, 0.0, 1.0, 1.0))
    return out


def test_the_plan_pairs_every_seed_and_size_in_one_group():
    plan = experiment.plan(RunConfig(train_size=500), {"version": 1, "steps": []}, seeds=3, sizes=[500, 1000])
    assert len(plan) == 12 and len({c.group for c in plan}) == 1
    assert {(c.train_size, c.seed, c.pipeline is None) for c in plan} == {
        (s, k, a) for s in (500, 1000) for k in range(3) for a in (True, False)}


def test_compare_pairs_finished_runs_by_seed_and_takes_chance_from_the_classes():
    accs = {(500, 0, False): 0.50, (500, 0, True): 0.55, (500, 1, False): 0.52, (500, 1, True): 0.56,
            (500, 2, False): 0.49}  # seed 2's augmented run has not finished: seed 2 is left out
    (c,) = compare(_runs(accs, classes=4))
    assert c.train_size == 500 and c.differences == pytest.approx([0.05, 0.04])
    assert c.chance == pytest.approx(0.25)


def test_while_runs_still_go_the_verdict_says_it_is_so_far_and_how_many_runs_it_rests_on():
    accs = {(500, 0, False): 0.50, (500, 0, True): 0.55, (500, 1, False): 0.52, (500, 1, True): 0.56,
            (500, 2, False): 0.49, (500, 2, True): 0.52}
    runs = _runs(accs)
    runs[-1] = replace(runs[-1], status="running", test_acc=None)  # seed 2's augmented run still trains
    assert experiment.so_far(runs) == (5, 6)
    (c,) = compare(runs)
    assert c.sentence(experiment.so_far(runs)).startswith(
        "So far (5 of 6 runs finished), 500 training images: no clear difference with 2 seeds")
    assert experiment.so_far(runs[:-1]) is None  # every run over: the verdict is final
    assert c.sentence(experiment.so_far(runs[:-1])).startswith("500 training images: no clear difference")


# ---- the experiment's runs, found in the store by configuration ------------------------------------------------

BASE = RunConfig(train_size=500, steps=10)
PIPELINE = serialize.to_dict(SEED_PIPELINE)


def test_an_experiment_started_after_a_sweep_of_the_same_configuration_trains_nothing_again(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    for cfg in sweep.to_launch(sweep.Sweep(BASE, PIPELINE), []):  # the default sweep: 5 strengths, 3 seeds, queued
        store.create(cfg)
    at_one = experiment.Experiment(BASE, PIPELINE, seeds=3)  # the Explore page's strength: 1
    assert at_one.to_launch(store.runs()) == []
    served = at_one.served(store.runs())
    assert len(served) == 6 and all(r.group.startswith("sweep-") for r in served)
    assert {(r.config.seed, r.config.pipeline is None) for r in served} == {(s, a) for s in range(3) for a in (1, 0)}

    at_half = experiment.Experiment(BASE, strength.scale(PIPELINE, 0.5).doc, seeds=4)  # strength 0.5, one seed more
    todo = at_half.to_launch(store.runs())
    assert [(c.seed, c.pipeline is None) for c in todo] == [(3, True), (3, False)]  # only seed 3 is new
    assert len({c.group for c in todo}) == 1 and todo[0].group.startswith(experiment.GROUP_PREFIX)
    assert todo[0].name == "no augmentation, 500 images, seed 3" and todo[1].name == "augmented, 500 images, seed 3"


def test_a_sweep_started_after_an_experiment_reuses_its_runs_and_a_stopped_or_failed_run_serves_nothing(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    exp = experiment.Experiment(BASE, PIPELINE, seeds=3)
    ids = [store.create(c) for c in exp.to_launch([])]
    for run_id in ids:
        store.finish(run_id, "stopped" if run_id == ids[1] else "finished", test_acc=0.5)  # seed 0's augmented
    store.finish(store.create(exp.to_launch([])[0]), "failed", "boom")  # a later failed run of seed 0's baseline
    assert [r.id for r in exp.served(store.runs())] == [ids[0], *ids[2:]]  # the finished baseline still serves
    assert [(c.seed, c.pipeline is not None) for c in exp.to_launch(store.runs())] == [(0, True)]  # the stopped one
    assert len(sweep.to_launch(sweep.Sweep(BASE, PIPELINE), store.runs())) == 15 - 5


def test_an_experiment_is_a_link_that_round_trips_and_a_bad_one_names_its_field():
    exp = experiment.Experiment(BASE, PIPELINE, seeds=2, sizes=(1000, 500, 1000))
    assert exp.sizes == (500, 1000) and exp.planned == 8
    doc = share.unpack(share.pack(exp.to_dict()))
    assert experiment.from_dict(doc) == exp
    assert experiment.from_dict({**doc, "base": {**doc["base"], "name": "mine", "group": "exp-1"}}) == exp
    with pytest.raises(ConfigError, match="seeds"):
        experiment.from_dict({**doc, "seeds": 0})
    with pytest.raises(ConfigError, match="values"):
        experiment.from_dict({**doc, "values": [2.0]})  # an experiment has no axis to sweep
    with pytest.raises(ConfigError, match="JSON object"):
        experiment.from_dict([1])


# ---- the estimate on a busy machine ---------------------------------------------------------------------------


def test_an_estimate_on_a_machine_loaded_beyond_its_cores_says_runs_will_take_longer(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (9.84, 7.0, 5.0))
    assert speed.busy_note(2) == "This machine is busy: load 9.8 on 2 cores; runs will take longer than this."
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 7.0, 5.0))  # the 1-minute figure: what runs now
    assert speed.busy_note(2) == ""


def test_without_a_load_average_to_read_the_estimate_says_nothing_of_it(monkeypatch):
    def unavailable() -> tuple[float, float, float]:
        raise OSError("no load average here")

    monkeypatch.setattr(os, "getloadavg", unavailable)
    assert speed.busy_note(2) == ""


def test_an_experiment_names_how_it_differs_from_the_one_set():
    shown = experiment.Experiment(BASE, PIPELINE, seeds=3)
    set_now = experiment.Experiment(replace(BASE, lr=0.01), strength.scale(PIPELINE, 0.5).doc, seeds=4,
                                    sizes=(250, 500))
    assert experiment.differences(shown, set_now) == [
        "lr 0.003 (set: 0.01)", "the pipeline or its strength", "seeds 3 (set: 4)", "sizes none (set: 250, 500)"]
    assert experiment.differences(shown, experiment.Experiment(BASE, PIPELINE, seeds=3)) == []


def test_an_experiment_has_begun_once_both_arms_of_a_seed_are_stored_not_one_run_on_its_own(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    plan = experiment.Experiment(BASE, PIPELINE, seeds=2)
    baseline, augmented = plan.to_launch([])[:2]  # seed 0's pair
    store.create(baseline)  # a single run of the same configuration, started on its own
    assert not plan.begun(store.runs())
    store.create(augmented)
    assert plan.begun(store.runs())

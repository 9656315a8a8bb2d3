"""The sweep as a specification: its plan pairs every run with its seed's baseline, a run is never trained twice
(a baseline serves every value and later sweeps), and the answer picks on validation, never on test."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import pytest

from augviz import Pipeline, Step, serialize, sweep
from augviz.errors import ConfigError
from augviz.preview import SEED_PIPELINE
from augviz.runconfig import RunConfig
from augviz.store import Store, records

BASE = RunConfig(train_size=500, steps=20, batch_size=32)
DOC = serialize.to_dict(SEED_PIPELINE)


def default() -> sweep.Sweep:
    return sweep.Sweep(BASE, DOC)


def test_the_default_sweep_is_five_strengths_over_three_seeds_with_strength_zero_the_baseline():
    arms = sweep.plan(default())
    assert len(arms) == 15  # per seed: the baseline (strength 0) and strengths 0.5, 1, 1.5, 2
    baselines = [a for a in arms if a.kind == "baseline"]
    assert [a.seed for a in baselines] == [0, 1, 2]
    assert all(a.config.pipeline is None and a.value == 0.0 for a in baselines)
    assert sorted({a.value for a in arms if a.kind == "value"}) == [0.5, 1.0, 1.5, 2.0]


def test_each_run_differs_from_its_seeds_baseline_only_in_its_augmentation():
    arms = sweep.plan(replace(default(), sizes=(250, 1000), references=("randaugment",)))
    for arm in arms:
        twin = next(a for a in arms if a.kind == "baseline" and a.seed == arm.seed and a.size == arm.size)
        assert replace(arm.config, pipeline=None) == twin.config


def test_strength_one_trains_the_pipeline_as_set_and_a_reference_arm_its_policy_alone():
    arms = sweep.plan(replace(default(), references=("randaugment", "trivialaugment")))
    assert next(a for a in arms if a.value == 1.0).config.pipeline == DOC
    refs = [a for a in arms if a.kind == "reference" and a.seed == 0]
    assert [[s["transform"] for s in a.config.pipeline["steps"]] for a in refs] == [["randaugment"],
                                                                                   ["trivialaugment"]]


def test_a_setting_of_one_step_sweeps_its_range_either_side_of_doing_nothing():
    s = sweep.Sweep(BASE, DOC, sweep.Axis(0, "degrees"), (0, 10, 30))
    ranges = [a.config.pipeline["steps"][0]["params"]["degrees"] for a in sweep.plan(s) if a.seed == 0
              and a.kind == "value"]
    assert ranges == [[0.0, 0.0], [-10.0, 10.0], [-30.0, 30.0]]
    assert sweep.arm_name(s, sweep.plan(s)[2]) == "Rotation degrees ±10, 500 images, seed 0"


def test_an_axis_the_pipeline_does_not_have_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"axis\.param"):
        sweep.Sweep(BASE, DOC, sweep.Axis(0, "fill"))
    with pytest.raises(ConfigError, match=r"axis\.step"):
        sweep.Sweep(BASE, DOC, sweep.Axis(9, "degrees"))
    with pytest.raises(ConfigError, match="strength"):
        sweep.Sweep(BASE, DOC, values=(0, 7))


def test_a_sweep_document_round_trips_and_bad_fields_are_named():
    s = sweep.Sweep(BASE, DOC, sweep.Axis(0, "degrees"), (0, 10), (250, 500), 2, ("trivialaugment",))
    assert sweep.from_dict(s.to_dict()) == s
    with pytest.raises(ConfigError, match=r"base\.lr"):
        sweep.from_dict({"base": {"lr": "fast"}, "pipeline": DOC})
    with pytest.raises(ConfigError, match="seeds"):
        sweep.from_dict({"pipeline": DOC, "seeds": 0})
    with pytest.raises(ConfigError, match="colour"):
        sweep.from_dict({"pipeline": DOC, "colour": 1})


def test_a_finished_or_going_run_of_the_same_configuration_is_reused_not_retrained(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    s = default()
    # The experiment's baseline of seed 0, named and grouped otherwise and with its own thread count: the same run.
    plain = replace(BASE, seed=0, name="no augmentation, 500 images, seed 0", group="exp-1", threads=2)
    done = store.create(plain)
    store.finish(done, "finished", test_acc=0.8)
    store.create(replace(sweep.plan(s)[3].config, name="earlier sweep"))  # seed 0, strength 1.5, queued
    failed = store.create(replace(BASE, seed=1))
    store.finish(failed, "failed", "boom")
    todo = sweep.to_launch(s, store.runs())
    keys = {sweep.fingerprint(c) for c in todo}
    assert len(todo) == 13
    assert sweep.fingerprint(plain) not in keys and sweep.fingerprint(sweep.plan(s)[3].config) not in keys
    assert sweep.fingerprint(replace(BASE, seed=1)) in keys  # a failed run serves nothing: trained again
    assert len({c.group for c in todo}) == 1 and all(c.group.startswith("sweep-") for c in todo)
    assert sweep.match(sweep.plan(s), store.runs())[sweep.fingerprint(plain)].id == done


def fixture_results(s: sweep.Sweep, val: dict[float, list[float]], test: dict[float, list[float]]):
    """Outcomes per strength and seed, as the store would give them."""
    out = {}
    for arm in sweep.plan(s):
        v = arm.value if arm.kind == "value" else 0.0
        out[arm.key] = sweep.Outcome(val[v][arm.seed], test[v][arm.seed])
    return out


def test_the_pick_chooses_on_validation_even_where_test_disagrees():
    s = default()
    val = {0.0: [.60, .62, .61], 0.5: [.70, .71, .69], 1.0: [.80, .82, .81], 1.5: [.75, .76, .74],
           2.0: [.65, .66, .64]}
    test = {0.0: [.58, .60, .59], 0.5: [.70, .70, .70], 1.0: [.72, .73, .71], 1.5: [.79, .80, .81],
            2.0: [.90, .91, .92]}  # on test, 2.0 looks best: choosing there would overstate the gain
    (a,) = sweep.answer(s, fixture_results(s, val, test))
    assert a.pick() == 1.0
    assert a.sentence() == ("500 images: strength 1.0 is best on validation (81.0 %); every other value is clearly "
                            "below it; its test accuracy is 72.0 % against 59.0 % without augmentation (+13.0, "
                            "95 % interval [+10.5, +15.5], 3 seeds).")


def test_with_one_value_beside_no_augmentation_the_answer_names_it_rather_than_every_other_value():
    s = replace(default(), values=(0.0, 1.0))
    val = {0.0: [.60, .62, .61], 1.0: [.80, .82, .81]}
    (a,) = sweep.answer(s, fixture_results(s, val, val))
    assert "strength 1.0 is best on validation (81.0 %); no augmentation is clearly below it;" in a.sentence()


def test_values_whose_paired_interval_contains_zero_are_named_as_within_the_noise():
    s = default()
    val = {0.0: [.60, .62, .61], 0.5: [.70, .71, .69], 1.0: [.80, .86, .81], 1.5: [.84, .82, .85],
           2.0: [.79, .85, .80]}
    test = dict(val)
    (a,) = sweep.answer(s, fixture_results(s, val, test))
    assert a.best is not None and a.best.value == 1.5
    assert "; 1.0 and 2.0 are within the noise of it;" in a.sentence()


def test_no_augmentation_within_the_noise_is_named_so_and_the_answer_claims_no_gain():
    s = replace(default(), seeds=2)
    val = {0.0: [.20, .30], 0.5: [.30, .20], 1.0: [.40, .32], 1.5: [.25, .25], 2.0: [.22, .24]}
    (a,) = sweep.answer(s, fixture_results(s, val, val))
    assert a.best is not None and a.best.value == 1.0
    text = a.sentence()
    assert "no augmentation" in text.split("within the noise")[0] and "0.0 " not in text
    assert "within the noise of it: no clear gain over no augmentation yet;" in text


NOTHING = ("No strength is clearly better than no augmentation yet: nothing to apply; more seeds narrow the "
           "intervals.")


def test_a_pick_is_offered_to_apply_only_when_it_is_clearly_better_than_no_augmentation():
    s = default()
    clear = {0.0: [.60, .62, .61], 0.5: [.70, .71, .69], 1.0: [.80, .82, .81], 1.5: [.75, .76, .74],
             2.0: [.65, .66, .64]}
    (a,) = sweep.answer(s, fixture_results(s, clear, clear))
    assert a.offer() == 1.0 and a.no_offer() is None

    noisy = {0.0: [.20, .30, .25], 0.5: [.30, .20, .26], 1.0: [.40, .32, .22], 1.5: [.25, .25, .24],
             2.0: [.22, .24, .23]}  # 1.0 is best on validation, but its interval against none holds zero
    (a,) = sweep.answer(s, fixture_results(s, noisy, noisy))
    assert a.pick() == 1.0  # still named best (and ringed on the chart) ...
    assert a.offer() is None and a.no_offer() == NOTHING  # ... but not worth applying

    one_seed = replace(s, seeds=1)
    (a,) = sweep.answer(one_seed, fixture_results(one_seed, clear, clear))
    assert a.pick() == 1.0 and a.offer() is None and a.no_offer() == NOTHING  # one seed: no interval at all


def test_no_augmentation_is_offered_as_strength_0_only_when_it_is_clearly_the_best():
    s = default()
    plain_best = {0.0: [.80, .82, .81], 0.5: [.70, .71, .69], 1.0: [.60, .62, .61], 1.5: [.55, .56, .54],
                  2.0: [.50, .51, .49]}
    (a,) = sweep.answer(s, fixture_results(s, plain_best, plain_best))
    assert a.pick() == 0.0 and a.offer() == 0.0
    close = {**plain_best, 0.5: [.83, .79, .80]}  # 0.5 within the noise of none
    (a,) = sweep.answer(s, fixture_results(s, close, close))
    assert a.pick() == 0.0 and a.offer() is None and a.no_offer() == NOTHING


def test_with_seeds_still_running_the_answer_counts_them_rather_than_asking_for_more():
    s = replace(default(), seeds=2)
    val = {0.0: [.20, .30], 0.5: [.30, .20], 1.0: [.40, .32], 1.5: [.25, .25], 2.0: [.22, .24]}
    results = {k: o for k, o in fixture_results(s, val, val).items()
               if next(a for a in sweep.plan(s) if a.key == k).seed == 0}
    (a,) = sweep.answer(s, results)
    assert a.sentence().startswith("500 images, so far (5 of 10 runs):") and "run two or more" not in a.sentence()


def test_shown_accuracy_intervals_stay_within_0_and_100_and_two_seeds_are_called_wide():
    s = replace(default(), seeds=2)
    val = {0.0: [.20, .30], 0.5: [.30, .20], 1.0: [.02, .46], 1.5: [.25, .25], 2.0: [.96, .60]}
    (a,) = sweep.answer(s, fixture_results(s, val, val))
    row = next(r for r in a.table() if r["arm"] == "strength 1.0")
    assert row["validation"] == "24.0 % [0.0, 100.0]"  # the t-interval, −255 to +303, as shown
    assert sweep.mean_interval([.02, .46])[1][0] < 0  # the statistic itself is unchanged
    assert a.note() == ("500 images: the pick rests on 50 validation images a run. 2 seeds: the intervals are "
                        "wide; more seeds narrow them.")


def test_near_chance_arms_are_too_early_to_tell():
    s = default()
    flat = {v: [.12, .11, .13] for v in sweep.STRENGTHS}
    (a,) = sweep.answer(s, fixture_results(s, flat, flat))
    assert a.pick() is None
    assert "too early to tell" in a.sentence()


def test_without_a_validation_split_the_sweep_refuses_to_choose():
    s = default()
    none = {v: [None, None, None] for v in sweep.STRENGTHS}
    acc = {v: [.5, .5, .5] for v in sweep.STRENGTHS}
    (a,) = sweep.answer(s, fixture_results(s, none, acc))
    assert a.pick() is None and "never chooses on the test set" in a.sentence()


def test_a_step_sweep_keeps_no_augmentation_out_of_the_choice_and_names_values_by_their_range():
    pipe = Pipeline((Step("rotation", {"degrees": (-15.0, 15.0)}),))
    s = sweep.Sweep(BASE, serialize.to_dict(pipe), sweep.Axis(0, "degrees"), (10, 20), seeds=2)
    results = {}
    for arm in sweep.plan(s):
        acc = {None: .9, 10.0: .7, 20.0: .8}[arm.value]
        results[arm.key] = sweep.Outcome(acc + 0.01 * arm.seed, acc)
    (a,) = sweep.answer(s, results)
    assert a.pick() == 20.0
    assert a.sentence().startswith("500 images: Rotation degrees ±20 is best on validation")


def test_the_chart_draws_one_curve_per_size_with_intervals_the_baseline_level_and_the_pick_ringed():
    from augviz import charts
    s = replace(default(), sizes=(250, 1000))
    val = {0.0: [.60, .62, .61], 0.5: [.70, .71, .69], 1.0: [.80, .82, .81], 1.5: [.75, .76, .74],
           2.0: [.65, .66, .64]}
    results = {}
    for arm in sweep.plan(s):
        v = arm.value if arm.value is not None else 0.0
        results[arm.key] = sweep.Outcome(val[v][arm.seed] + (0.05 if arm.size == 1000 else 0), val[v][arm.seed])
    answers = sweep.answer(s, results)
    fig = charts.sweep_curve(answers, "validation")
    curves = [t for t in fig.data if t.mode == "lines+markers"]
    assert [t.name for t in curves] == ["250 images", "1,000 images"]
    assert list(curves[0].x) == [0.0, 0.5, 1.0, 1.5, 2.0] and curves[0].error_y.array[2] > 0
    rings = [t for t in fig.data if t.mode == "markers"]
    assert [list(t.x) for t in rings] == [[1.0], [1.0]]
    nones = [t for t in fig.data if t.mode == "lines"]  # one no-augmentation line per size, at its own level
    assert [t.name for t in nones] == ["none 61.0 %", "none 66.0 %"] and not fig.layout.shapes


def test_the_speed_measurement_is_kept_and_not_measured_again(tmp_path):
    from augviz import speed
    cfg = RunConfig(batch_size=8)
    first, fresh = speed.step_seconds(cfg, tmp_path)
    again, fresh_again = speed.step_seconds(cfg, tmp_path)
    assert fresh and not fresh_again and first > 0 and again == first
    text = speed.estimate([cfg], lambda c: speed.per_step(c, [], lambda _: first), 1, [])
    assert "ms a training step, calibrated here at each run's share of the cores" in text


def finished_run(store: Store, cfg: RunConfig, steps: int, wall_s: float, took_s: float | None = None) -> None:
    """A finished run of ``steps`` whose training loop took ``wall_s`` and the whole run ``took_s`` (start to
    end; by default no more than its loop)."""
    run_id = store.create(cfg, status="running", pid=0)
    store.started(run_id, ["fc"], steps, tuple("abcdefghij"))
    store.finish(run_id, "finished", test_acc=0.5, wall_s=wall_s)
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE runs SET started = 1000.0, ended = ? WHERE id = ?", (1000.0 + (took_s or wall_s), run_id))


def test_the_estimate_goes_by_finished_runs_of_the_same_speed_fields_before_the_calibration(tmp_path):
    from augviz import speed
    store = Store(tmp_path / "runs.sqlite")
    finished_run(store, replace(BASE, seed=7), 100, 7.0)   # 70 ms a step
    finished_run(store, replace(BASE, seed=8), 100, 9.0)   # 90 ms a step
    finished_run(store, replace(BASE, batch_size=8), 100, 1.0)  # another batch size: not like it
    todo = sweep.to_launch(default(), [])[:4]
    calibrated = []

    def calibrate(c: RunConfig) -> float:
        calibrated.append(c)
        return 0.017

    text = speed.estimate(todo, lambda c: speed.per_step(c, store.runs(), calibrate), 2, [])
    assert "80 ms a training step plus 0.0 s a run to start, read its data and evaluate, the median of 2 finished " \
           "runs" in text
    assert not calibrated
    assert "about 3.2 s for 4 runs" in text  # 4 runs × 20 steps × 0.08 s, 2 at once
    alone = speed.estimate(todo, lambda c: speed.per_step(c, [], calibrate), 2, [])
    assert "at least 0.7 s for 4 runs" in alone and "17 ms a training step, calibrated here" in alone
    assert calibrated


def test_the_estimate_counts_what_finished_runs_took_besides_their_steps(tmp_path):
    # Starting a worker, reading the data and the test evaluation are outside the training loop's time: a run
    # that trained 100 steps in 8 s but took 11 s from start to end costs 3 s a run besides.
    from augviz import speed
    store = Store(tmp_path / "runs.sqlite")
    for seed, took in ((7, 11.0), (8, 11.0), (9, 14.0)):
        finished_run(store, replace(BASE, seed=seed), 100, 8.0, took_s=took)
    todo = sweep.to_launch(default(), [])[:4]
    text = speed.estimate(todo, lambda c: speed.per_step(c, store.runs(), lambda _: 0.0), 2, [])
    assert "80 ms a training step plus 3.0 s a run to start, read its data and evaluate, the median of 3 finished " \
           "runs" in text
    assert "about 9.2 s for 4 runs" in text  # 4 × (20 steps × 0.08 s + 3 s), 2 at once
    # A configuration of another kind (batch size 8) has no run of its own kind: its step is calibrated, and what
    # a run takes besides is the other runs' (a worker starts the same whatever it trains).
    other = [replace(c, batch_size=8) for c in todo]
    text = speed.estimate(other, lambda c: speed.per_step(c, store.runs(), lambda _: 0.05), 2, [])
    assert "Estimate: about 8.0 s for 4 runs" in text  # 4 × (20 steps × 0.05 s + 3 s), 2 at once
    assert "calibrated here at each run's share of the cores; no finished run of this kind to go by yet; plus " \
           "3.0 s a run to start, read its data and evaluate, the median of the finished runs of other kinds here" \
           in text


def test_a_value_the_setting_cannot_hold_is_refused_naming_its_bound():
    with pytest.raises(ConfigError, match=r"Rotation degrees reaches ±180 at most .*1000 is outside it"):
        sweep.Sweep(BASE, DOC, sweep.Axis(0, "degrees"), (10, 1000))
    erasing = Pipeline((Step.default("random_erasing"),))  # its fill constant: the value is its grey level
    with pytest.raises(ConfigError, match=r"Random erasing / cutout value holds 0 to 1: 2 is outside it"):
        sweep.Sweep(BASE, serialize.to_dict(erasing), sweep.Axis(0, "value"), (0.5, 2))


def test_a_setting_that_does_nothing_as_the_step_is_set_is_no_axis():
    erasing = Step.default("random_erasing")
    assert "value" in sweep.sweepable(erasing)  # the constant fill's grey level
    noise = Step(erasing.name, {**erasing.params, "fill": "noise"})
    assert "value" not in sweep.sweepable(noise)


PENDING = "The pick is offered when every run of the sweep has finished."


def test_mid_sweep_the_answer_is_so_far_names_the_values_without_a_run_and_offers_nothing():
    s = default()
    val = {0.0: [.60, .62, .61], 0.5: [.90] * 3, 1.0: [.80, .82, .81], 1.5: [.90] * 3, 2.0: [.90] * 3}
    results = {a.key: o for a, o in zip(sweep.plan(s), fixture_results(s, val, val).values(), strict=True)
               if a.value in (0.0, 1.0)}  # 6 of 15 runs over: 0.5, 1.5 and 2.0 have none yet
    (a,) = sweep.answer(s, results)
    text = a.sentence()
    assert text.startswith("500 images, so far (6 of 15 runs): strength 1.0 is best on validation (81.0 %); 0.5, "
                           "1.5 and 2.0 have no finished run yet;")
    assert "clearly below" not in text  # values without results are below nothing
    assert a.pick() == 1.0  # the best so far (ringed on the chart) ...
    assert a.offer() is None and a.no_offer() == PENDING  # ... but not offered to apply before the sweep is over


def test_mid_sweep_the_seed_counts_a_sentence_gives_agree():
    s = default()
    val = {0.0: [.60, .62, .61], 0.5: [.70, .71, .69], 1.0: [.80, .82, .81], 1.5: [.75, .76, .74],
           2.0: [.65, .66, .64]}
    done = {(0.0, 0), (0.0, 1), (1.0, 0), (1.0, 1), (0.5, 0), (1.5, 0)}  # 6 of 15: 1.0 and none at 2 seeds
    results = {a.key: o for a, o in zip(sweep.plan(s), fixture_results(s, val, val).values(), strict=True)
               if ((a.value if a.kind == "value" else 0.0), a.seed) in done}
    (a,) = sweep.answer(s, results)
    text = a.sentence()
    assert text.startswith("500 images, so far (6 of 15 runs): strength 1.0 is best on validation")
    assert "2.0 has no finished run yet" in text and "clearly below" not in text
    assert "of 3 seeds" not in text and text.endswith("2 seeds).")  # one count of seeds: the paired one


def test_a_diverged_run_ends_its_seed_and_the_finished_sweep_offers_its_pick():
    s = default()
    clear = {0.0: [.60, .62, .61], 0.5: [.70, .71, .69], 1.0: [.80, .82, .81], 1.5: [.75, .76, .74],
             2.0: [.65, .66, .64]}
    results = fixture_results(s, clear, clear)
    diverged = next(a for a in sweep.plan(s) if a.value == 2.0 and a.seed == 2)
    results[diverged.key] = sweep.Outcome(None, None)  # over, with no accuracy
    (a,) = sweep.answer(s, results)
    assert not a.sentence().startswith("500 images, so far") and a.offer() == 1.0


# ---- matching stored runs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cfg", [
    RunConfig(), RunConfig(pipeline=serialize.to_dict(SEED_PIPELINE), seed=4, train_size=500, lr=1e-3),
    RunConfig(model="resnet", epochs=3, precision="float32", clip_norm=1.5, name="x", group="g", threads=2),
])
def test_a_stored_runs_fingerprint_read_from_its_text_is_its_configurations(cfg):
    assert sweep._stored_fingerprint(cfg.to_json()) == sweep.fingerprint(cfg)


def test_a_run_stored_before_a_field_existed_matches_that_fields_default():
    doc = RunConfig(seed=2).to_dict()
    del doc["precision"]  # written by a version without it
    assert sweep._stored_fingerprint(json.dumps(doc)) == sweep.fingerprint(RunConfig(seed=2))


def test_matching_validates_only_the_stored_runs_that_match(tmp_path, monkeypatch):
    store = Store(tmp_path / "runs.sqlite")
    store.create_many([RunConfig(seed=s) for s in range(50)])
    wanted = store.create(RunConfig(seed=99))
    validated = []
    real = records.parse_config.__wrapped__
    monkeypatch.setattr(records, "parse_config", lambda text: validated.append(text) or real(text))
    arm = sweep.Arm("baseline", 0.0, None, 2000, 99, RunConfig(seed=99))
    served = sweep.match([arm], store.runs())
    assert [r.id for r in served.values()] == [wanted] and len(validated) == 1

"""The Gradients page's words and views agree with each other: a preset keeps its text and its name while only
the seed changes, the analysis at initialisation is of the run shown below it, and a diverged run's advice is
what fixes it (not the clipping the clipped preset calls no fix)."""

from __future__ import annotations

import os

from streamlit.testing.v1 import AppTest

from augviz.gradlab import PRESETS
from augviz.runconfig import RunConfig
from augviz.store import Store
from augviz.ui import train as train_ui
from tests.apptest import fresh


def lab_run(home, preset: str, status: str = "stopped", seed: int = 0) -> int:
    store = Store(home / "runs.sqlite")
    run_id = store.create(PRESETS[preset].run_config(seed))
    store.finish(run_id, status, diverged_step=5 if status == "diverged" else None)
    return run_id


def occupy_the_only_slot(home) -> int:
    """A run 'training' in this process: with one run at a time (the ``home`` fixture), a new run stays queued."""
    return Store(home / "runs.sqlite").create(RunConfig(train_size=250, steps=10), status="running",
                                              pid=os.getpid())


def preset_text(at: AppTest) -> str:
    return " ".join(i.value for i in at.info)


def test_changing_the_seed_keeps_the_preset_its_text_and_its_name_for_the_run(home):
    slot = occupy_the_only_slot(home)
    at = fresh({}, page="gradients")
    at.button(key="g_p_clipping").click().run()
    at.sidebar.number_input(key="g_seed").set_value(3).run()
    assert at.session_state["g_preset"] == "clipping"
    assert "finite, not fixed" in preset_text(at)
    at.button(key="g_train").click().run()
    assert not at.exception
    queued = Store(home / "runs.sqlite").runs()[-1]
    assert queued.config.name == PRESETS["clipping"].label and queued.config.seed == 3
    assert "finite, not fixed" in preset_text(at)
    Store(home / "runs.sqlite").finish(slot, "stopped")


def test_a_double_click_on_train_this_network_queues_one_run(home):
    # The second click comes from a page drawn before the first click's effect (a fast double click, a second tab).
    slot = occupy_the_only_slot(home)
    first, second = fresh({}, page="gradients"), fresh({}, page="gradients")
    first.button(key="g_train").click().run()
    second.button(key="g_train").click().run()
    assert not first.exception and not second.exception
    runs = Store(home / "runs.sqlite").runs()
    assert [r.id for r in runs] == [slot, slot + 1]
    Store(home / "runs.sqlite").finish(slot, "stopped")


def test_a_link_to_a_run_shows_that_runs_network_at_initialisation(home):
    lab_run(home, "vanishing")
    clipped = lab_run(home, "clipping", seed=2)
    at = fresh({"run": str(clipped)}, page="gradients")
    assert at.selectbox(key="g_run").value == clipped
    assert at.session_state["g_preset"] == "clipping" and at.sidebar.number_input(key="g_seed").value == 2
    assert at.metric[0].value == "exploding"  # the clipped net at initialisation, not the vanishing one
    assert "finite, not fixed" in preset_text(at)
    assert not any("the analysis above is of the network in the sidebar" in c.value for c in at.caption)


def test_picking_another_run_sets_the_controls_to_it(home):
    vanishing = lab_run(home, "vanishing")
    lab_run(home, "clipping")
    at = fresh({}, page="gradients")
    at.button(key="g_p_relu_he").click().run()
    at.selectbox(key="g_run").select(vanishing).run()
    assert at.session_state["g_preset"] == "vanishing" and at.metric[0].value == "vanishing"
    at.sidebar.slider(key="g_depth").set_value(6).run()  # the user changes the network: the page says so
    assert any(f"Run #{vanishing} trained a 10-layer sigmoid CNN" in c.value.replace("\\", "") for c in at.caption)


def test_a_diverged_run_is_advised_what_fixes_it_not_clipping(home):
    lab_run(home, "exploding", status="diverged")
    at = fresh({}, page="gradients")
    box = next(w.value for w in at.warning if "diverged" in w.value)
    assert "clip the gradient norm" not in box.lower()
    for fix in ("learning rate", "He initialisation", "batch norm", "residual connections"):
        assert fix in box
    assert "Clipping the gradient norm only keeps the loss finite" in train_ui.DIVERGED_ADVICE


def test_a_link_to_a_run_the_lab_cannot_show_says_why(home):
    lab = lab_run(home, "vanishing")
    train_run = Store(home / "runs.sqlite").create(RunConfig(train_size=250, steps=10), status="stopped")
    for value, why in [("99999", "run 99999 is not in the store"), ("abc", "“abc” is not a run number"),
                       (str(train_run), f"run {train_run} is a Train run: open it on the Train page")]:
        at = fresh({"run": value}, page="gradients")
        text = " ".join(w.value.replace("\\", "") for w in at.warning)
        assert f"The link's value for run was not used: {why}." in text, text
        assert at.selectbox(key="g_run").value == lab  # the newest lab run is shown instead
    at = fresh({"run": str(lab)}, page="gradients")
    assert not any("run was not used" in w.value for w in at.warning)

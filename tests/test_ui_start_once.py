"""The Train page's Start run queues one run per configuration while that run goes: a double click (or a second
press while it is queued or running) shows that run and says so; once it has ended, or with another setting, Start
queues a new run."""

from __future__ import annotations

import os

import pytest
from streamlit.testing.v1 import AppTest

from augviz.runconfig import RunConfig
from augviz.store import Store
from tests.apptest import fresh


def train_page() -> AppTest:
    return fresh({}, page="train")


def small(at: AppTest) -> AppTest:
    at.sidebar.slider(key="t_size").set_value(250)
    at.sidebar.select_slider(key="t_steps").set_value(10).run()
    return at


def notes(at: AppTest) -> str:
    return " ".join(i.value.replace("\\", "") for i in at.sidebar.info)


@pytest.fixture
def store(home) -> Store:
    """The page's store, with a run of another configuration training in this process: the queued runs wait
    (one run at a time), so each test sees them queued or running as it wants."""
    store = Store(home / "runs.sqlite")
    store.create(RunConfig(train_size=250, steps=10, name="the run the others wait for"), status="running",
                 pid=os.getpid())
    return store


def test_a_double_click_on_start_queues_one_run_and_both_pages_show_it(store):
    # The second click comes from a page drawn before the first click's effect, as a browser's second click
    # that leaves before the first click's page arrives (or a second tab with the same form).
    first, second = small(train_page()), small(train_page())
    first.sidebar.button(key="t_start").click().run()
    second.sidebar.button(key="t_start").click().run()
    assert [r.id for r in store.runs()] == [1, 2]
    assert first.selectbox(key="t_run").value == second.selectbox(key="t_run").value == 2
    assert not notes(first)
    assert "Run #2 has this very configuration and has not ended yet" in notes(second)
    assert "Start did not queue it a second time" in notes(second)


def test_pressing_start_again_while_the_run_goes_says_so_and_queues_nothing(store):
    at = small(train_page())
    at.sidebar.button(key="t_start").click().run()
    at.sidebar.button(key="t_start").click().run()
    assert len(store.runs()) == 2
    assert "wait until #2 ends (or stop it)" in notes(at)
    at.run()  # said once, for the press it answers
    assert not notes(at)


def test_once_the_run_has_ended_start_runs_the_same_configuration_again(store):
    at = small(train_page())
    at.sidebar.button(key="t_start").click().run()
    store.finish(2, "stopped")
    at.sidebar.button(key="t_start").click().run()
    assert [r.id for r in store.runs()] == [1, 2, 3]
    assert store.get(3).config == store.get(2).config
    assert at.selectbox(key="t_run").value == 3 and not notes(at)


def test_another_seed_starts_another_run_beside_the_first(store):
    at = small(train_page())
    at.sidebar.button(key="t_start").click().run()
    at.sidebar.number_input(key="t_seed").set_value(1).run()
    at.sidebar.button(key="t_start").click().run()
    assert [r.config.seed for r in store.runs()[1:]] == [0, 1] and not notes(at)

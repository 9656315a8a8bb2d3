"""What a server holds for its viewers (docs/robustness.md, the 30 viewers): its sessions' script-run threads
share two malloc arenas instead of a heap each; memory that one-off work freed goes back to the system (the
server's first Train page generates the built-in dataset and calibrates the machine's speed, hundreds of MB of
scratch that glibc's malloc would otherwise keep for as long as the server runs); and the sessions watching one
run share one reader of its rows instead of each keeping a copy."""

from __future__ import annotations

import os
import platform

import pytest

from augviz import memory
from augviz.follow import Follower
from augviz.metrics import StepMetrics
from augviz.runconfig import RunConfig
from augviz.store import Store
from augviz.ui import train as train_ui
from tests.apptest import fresh


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim and mallopt are glibc's")
def test_on_glibc_freed_memory_can_be_given_back_and_threads_can_share_arenas():
    assert memory.can_give_back()
    assert memory.give_back() in (True, False)
    assert memory.share_arenas()


def test_the_app_has_its_sessions_threads_share_malloc_arenas(monkeypatch):
    asked: list[int] = []
    real = memory.share_arenas
    monkeypatch.setattr(memory, "share_arenas", lambda count=memory.ARENAS: asked.append(count) or real(count))
    fresh({})
    assert asked and set(asked) == {memory.ARENAS}


@pytest.fixture
def given_back(monkeypatch) -> list[None]:
    """One entry per call of ``memory.give_back``, which still does its work."""
    calls: list[None] = []
    real = memory.give_back

    def counted() -> bool:
        calls.append(None)
        return real()

    monkeypatch.setattr(memory, "give_back", counted)
    return calls


def test_the_first_train_page_gives_back_its_dataset_load_and_calibration_scratch(home, given_back):
    train_ui._browse.clear()
    train_ui._per_step.clear()
    fresh({}, "train")
    assert len(given_back) == 2  # the dataset browser's load, the speed calibration


def test_further_train_pages_reuse_the_cached_load_and_give_back_nothing(home, given_back):
    fresh({}, "train")
    given_back.clear()
    fresh({}, "train")
    assert given_back == []  # the trim is for one-off work, not a cost every page view pays


def test_sessions_watching_one_run_share_one_reader_of_its_rows(home):
    store = Store(home / "runs.sqlite")
    run_id = store.create(RunConfig(), status="running", pid=os.getpid())  # a live process: not ended as orphaned
    store.started(run_id, ["conv", "out"], 1000, tuple("abcdefghij"))
    store.add_steps(run_id, [StepMetrics(s, 1, 1.0 / s, [0.1, 0.2], 0.3) for s in range(1, 51)])
    students = [fresh({"run": str(run_id)}, "train") for _ in range(3)]
    for at in students:
        assert len(at.get("plotly_chart")) == 3  # each draws the run's loss, accuracy and gradient norms
        assert not [v for v in at.session_state.values() if isinstance(v, Follower)]
    shared = train_ui._follower(str(home), None, run_id, store.get(run_id).created)
    assert shared.last_step == 50  # the reader the pages used: it has read the run's rows

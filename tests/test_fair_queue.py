"""The fair queue as the app presents it: who a visitor is, and what a queued run's panel says about its wait."""

from __future__ import annotations

import pytest

from augviz import speed
from augviz.runconfig import RunConfig
from augviz.store import Store
from augviz.ui.train import status_line
from augviz.ui.visitor import visitor_key

TINY = RunConfig(train_size=250, steps=100, batch_size=64)


@pytest.mark.parametrize(("user", "address", "expected"), [
    ({"is_logged_in": True, "email": "ada@uni.edu", "sub": "42"}, "10.0.0.7", "user:ada@uni.edu"),
    ({"is_logged_in": True, "sub": "42"}, "10.0.0.7", "user:42"),
    ({"is_logged_in": False}, "10.0.0.7", "address:10.0.0.7"),  # login configured, not logged in
    ({}, "10.0.0.7", "address:10.0.0.7"),  # no login configured: st.user is empty
    ({}, None, "session:tab-1"),  # localhost (Streamlit gives no address): the browser session
])
def test_a_visitor_is_the_logged_in_user_else_the_address_else_the_session(user, address, expected):
    assert visitor_key(user, address, "tab-1") == expected


def test_a_class_behind_one_nat_is_one_visitor_unless_logged_in():
    same_address = {visitor_key({}, "203.0.113.5", f"tab-{i}") for i in range(30)}
    logged_in = {visitor_key({"is_logged_in": True, "email": f"s{i}@uni.edu"}, "203.0.113.5", f"tab-{i}")
                 for i in range(30)}
    assert len(same_address) == 1 and len(logged_in) == 30


def _finished(store: Store, wall_s: float, steps: int = 100) -> None:
    run_id = store.create(TINY, status="running")
    store.started(run_id, ["conv"], steps, ("a", "b"))
    store.finish(run_id, "finished", wall_s=wall_s)


def test_the_wait_is_counted_in_runs_ahead_and_minutes_from_past_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGVIZ_MAX_RUNS", "1")
    store = Store(tmp_path / "runs.sqlite")
    _finished(store, wall_s=20.0)  # 0.2 s a step for this configuration, measured here
    store.create_many([TINY] * 20, session="address:10.0.0.1")  # a sweep
    (mine,) = store.create_many([TINY], session="address:10.0.0.2")
    line = status_line(store, store.get(mine), 0)
    assert line == "queued: 1 run ahead of yours, under 1 min"  # the sweep's first only, 20 s
    store.create_many([TINY] * 3, session="address:10.0.0.3")
    (later,) = store.create_many([TINY], session="address:10.0.0.4")
    assert status_line(store, store.get(later), 0) == "queued: 3 runs ahead of yours, about 1 min"


def test_the_wait_counts_what_running_runs_have_left_and_the_slots(tmp_path):
    def never(_: RunConfig) -> float:
        raise AssertionError("a finished run of the same kind goes before the calibration")

    assert speed.queue_wait([], [], lambda c: speed.per_step(c, [], never)[0], slots=1) == "next to start"
    store = Store(tmp_path / "runs.sqlite")
    _finished(store, wall_s=24.0, steps=1000)
    past = store.runs()

    def per_step(c: RunConfig) -> float:
        return speed.per_step(c, past, never)[0]

    run = store.get(store.create(RunConfig(train_size=250, steps=1000), status="running"))
    queued = [store.get(i) for i in store.create_many([RunConfig(train_size=250, steps=1000)] * 10)]
    assert speed.queue_wait([], [(run, 500)], per_step, slots=1) == "next to start, under 1 min"  # 12 s left
    assert speed.queue_wait(queued, [(run, 500)], per_step, slots=1) == "10 runs ahead of yours, about 4 min"
    assert speed.queue_wait(queued, [(run, 500)], per_step, slots=2) == "10 runs ahead of yours, about 2 min"


def test_with_no_finished_run_the_wait_goes_by_this_machines_calibration(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    ahead = store.get(store.create(RunConfig(train_size=250, steps=100)))
    assert speed.queue_wait([ahead], [], lambda c: speed.per_step(c, [], lambda _: 0.9)[0], slots=1) == \
        "1 run ahead of yours, about 2 min"  # 100 steps at 0.9 s

"""A watching page reads a run a little at a time (``augviz.follow``): each read asks only for what is new, and
what it shows is exactly what reading the whole run at once would show, charts included."""

from __future__ import annotations

import pytest

from augviz import charts
from augviz.follow import Follower, stride
from augviz.metrics import DetailMetrics, EpochMetrics, StepMetrics
from augviz.runconfig import RunConfig
from augviz.store import Store

LIMIT = 10  # small, so that a short run crosses several strides


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "runs.sqlite")


def write(store: Store, run_id: int, upto: int, start: int) -> None:
    """Steps ``start``..``upto`` (an epoch every 7 steps, a detail every 5), as a worker's sink writes them."""
    store.add_steps(run_id, [StepMetrics(s, 1 + (s - 1) // 7, 3.0 / s, [0.1 * s, 0.01], 0.1 * s)
                             for s in range(start, upto + 1)])
    for s in range(start, upto + 1):
        if s % 7 == 0:
            store.add_epoch(run_id, EpochMetrics(s // 7, 1.0 / s, 0.1 + 0.01 * s, 1.2 / s, 0.1 + 0.008 * s, 100.0))
        if s % 5 == 0:
            store.add_detail(run_id, DetailMetrics(s, [[s, 1], [1, s]], [0.01, 0.02]))


def started_run(store: Store) -> int:
    run_id = store.create(RunConfig(), status="running")
    store.started(run_id, ["conv", "out"], 1000, tuple("abcdefghij"))
    return run_id


def test_the_stride_is_the_smallest_power_of_two_that_keeps_at_most_the_limit():
    assert [stride(n, 10) for n in (0, 1, 10, 11, 20, 22, 40, 44, 1000)] == [1, 1, 1, 2, 2, 4, 4, 8, 128]


@pytest.mark.parametrize("chunks", [[3, 1, 7, 2, 30, 1, 64, 200], [1] * 45, [500]])
def test_reading_a_little_at_a_time_shows_what_one_full_read_shows(store, chunks):
    run_id = started_run(store)
    watching, written = Follower(run_id, LIMIT), 0
    for size in chunks:
        write(store, run_id, written + size, written + 1)
        written += size
        run = store.get(run_id)
        seen = watching.read(store, run, details=True)
        whole = Follower(run_id, LIMIT).read(store, run, details=True)
        assert seen == whole
        every = stride(written, LIMIT)
        assert [m.step for m in seen.steps] == sorted({*range(every, written + 1, every), written})
        assert len(seen.steps) <= LIMIT + 1
        assert [e.epoch for e in seen.epochs] == list(range(1, written // 7 + 1))
    for figure in (charts.loss, charts.accuracy):  # the charts the panel draws, as a full read draws them
        assert figure([seen]).to_dict() == figure([whole]).to_dict()
    assert charts.grad_norms(seen).to_dict() == charts.grad_norms(whole).to_dict()


def test_a_read_asks_only_for_rows_after_the_newest_it_has(store, monkeypatch):
    run_id = started_run(store)
    write(store, run_id, 12, 1)
    watching = Follower(run_id, 100)
    watching.read(store, store.get(run_id))
    asked = []
    real = store.steps_after
    monkeypatch.setattr(store, "steps_after", lambda *a, **k: asked.append(a[1]) or real(*a, **k))
    write(store, run_id, 15, 13)
    history = watching.read(store, store.get(run_id))
    assert asked == [12] and [m.step for m in history.steps] == list(range(1, 16))


def test_the_version_changes_only_when_something_new_was_read(store):
    run_id = started_run(store)
    write(store, run_id, 5, 1)
    watching = Follower(run_id, LIMIT)
    watching.read(store, store.get(run_id))
    version = watching.version
    watching.read(store, store.get(run_id))
    assert watching.version == version
    write(store, run_id, 6, 6)
    watching.read(store, store.get(run_id))
    assert watching.version == version + 1

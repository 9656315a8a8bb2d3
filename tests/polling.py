"""Waiting in tests for what another process does: a run's worker starting, storing steps, ending."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from augviz import worker
from augviz.runconfig import RunConfig
from augviz.store import Store

T = TypeVar("T")
LONG = RunConfig(train_size=2000, epochs=50, batch_size=16)  # minutes of training: it is stopped or killed first


def wait_for(predicate: Callable[[], T], timeout: float = 90, what: str = "condition") -> T:
    """The first true value of ``predicate``, polled every 0.2 s; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def running(store: Store, steps: int, timeout: float = 120) -> tuple[int, int]:
    """A long run launched in its own worker, once it has stored ``steps`` steps: its id and the worker's pid."""
    run_id = worker.launch(store, LONG)
    wait_for(lambda: store.step_count(run_id) >= steps, timeout, "the run to start")
    return run_id, store.get(run_id).pid

"""``StoreSink``: the training loop's Sink that writes a run's metrics to the store, steps in batches."""

from __future__ import annotations

import time

from augviz.metrics import DetailMetrics, EpochMetrics, StepMetrics
from augviz.store.runs import Store


class StoreSink:
    """A training Sink that writes to the store: steps in batches at most every ``flush_s`` seconds (and always
    at epoch ends and at the finish), so a fast run does not commit once per step."""

    def __init__(self, store: Store, run_id: int, flush_s: float = 0.25) -> None:
        self.store, self.run_id, self.flush_s = store, run_id, flush_s
        self.pending: list[StepMetrics] = []
        self.last_flush = time.monotonic()

    def started(self, layer_names: list[str], total_steps: int, classes: tuple[str, ...]) -> None:
        self.store.started(self.run_id, layer_names, total_steps, classes)

    def step(self, m: StepMetrics) -> None:
        self.pending.append(m)
        if time.monotonic() - self.last_flush >= self.flush_s:
            self.flush()

    def epoch(self, m: EpochMetrics) -> None:
        self.flush()
        self.store.add_epoch(self.run_id, m)

    def detail(self, m: DetailMetrics) -> None:
        self.store.add_detail(self.run_id, m)

    def flush(self) -> None:
        if self.pending:
            # Taken off the list first: a write that fails (a full disk) is not retried before the run's end.
            rows, self.pending = self.pending, []
            self.store.add_steps(self.run_id, rows)
        self.last_flush = time.monotonic()

"""A run's metrics as a watching page shows them, read a little at a time: each read asks the store only for the
rows after the last one it has, and keeps at most about ``limit`` steps for the charts.

Which steps a chart keeps depends only on the run's newest step ``n``: the multiples of ``stride(n, limit)``, the
smallest power of two that leaves at most ``limit`` of them, and step ``n`` itself. Strides only double as a run
grows, so the rows kept so far stay a superset of what a larger stride keeps: thinning them again gives exactly
what reading the whole run at once would, which the tests check.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from augviz.metrics import DetailMetrics, EpochMetrics, StepMetrics
from augviz.report import RunHistory
from augviz.store import Run, Store


def stride(newest: int, limit: int) -> int:
    """The smallest power of two ``k`` with at most ``limit`` multiples of ``k`` up to step ``newest``."""
    k = 1
    while newest // k > limit:
        k *= 2
    return k


@dataclass
class Follower:
    """What has been read of one run so far. One serves every page watching that run: its reads take turns, and
    each returns a history of its own."""

    run_id: int
    limit: int
    every: int = 0  # the stride of the kept steps; 0 before the first read
    kept: list[StepMetrics] = field(default_factory=list)  # the multiples of ``every`` read so far
    newest: StepMetrics | None = None  # the newest step read
    epochs: list[EpochMetrics] = field(default_factory=list)
    details: list[DetailMetrics] = field(default_factory=list)
    version: int = 0  # grows whenever a read brought something new
    _turn: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def last_step(self) -> int:
        return self.newest.step if self.newest else 0

    def read(self, store: Store, run: Run, details: bool = False) -> RunHistory:
        """The run's history after reading what is new (``details``: the gradient lab's too)."""
        with self._turn:  # pages in several sessions' threads read at once
            return self._read(store, run, details)

    def _read(self, store: Store, run: Run, details: bool) -> RunHistory:
        if not self.every:  # the first read: thin in the query, never every row of a long run
            self.every = stride(store.step_count(run.id), self.limit)
        new = store.steps_after(run.id, self.last_step, self.every)
        epochs = store.epochs(run.id, after=self.epochs[-1].epoch if self.epochs else 0)
        more = store.details(run.id, after=self.details[-1].step if self.details else 0) if details else []
        if new or epochs or more:
            self.version += 1
        self.epochs += epochs
        self.details += more
        if new:
            self.newest = new[-1]
            self.every = max(self.every, stride(self.newest.step, self.limit))
            self.kept = [m for m in self.kept + new if m.step % self.every == 0]
        return self.history(run)

    def history(self, run: Run) -> RunHistory:
        """What has been read, as the charts take it: the kept steps and the newest."""
        steps = self.kept + ([self.newest] if self.newest and self.newest.step % self.every else [])
        return RunHistory(run, steps, list(self.epochs), list(self.details))

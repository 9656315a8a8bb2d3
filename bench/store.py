"""The run store on its two engines, and the queue's two orders, measured side by side in one run.

1. metric writes: batches of 8 step rows (what a run's sink writes every 0.25 s at 32 steps/s), one batch per
   call, on SQLite and on PostgreSQL; batches per second of wall time and CPU ms per batch in this process. Then
   a Ray launcher's turn with 200 runs training: each run's batch of 4 steps, written together in one
   transaction (``Store.add_metrics``); runs' batches per second.
2. claims: queue 200 runs, claim them one by one (one slot, each ended before the next); claims per second.
3. listing: ``Store.runs()`` of 1,000 stored runs, what the run panel polls; ms per call.
4. the queue's fairness: a 60-run sweep queued first, then 30 visitors each queuing the default experiment
   (6 runs); with one slot, the most runs that started before a visitor's first one, FIFO and fair.

PostgreSQL is a real server started for the run (``tests/postgres.py``: initdb and pg_ctl in a temporary
folder, on loopback, with its default durability: every commit flushed to disk, as SQLite's WAL file is).

Usage: python -m bench.store [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from augviz.metrics import StepMetrics
from augviz.runconfig import RunConfig
from augviz.store import Store, open_store
from bench.common import machine
from tests.postgres import Server, serving

CFG = RunConfig(train_size=250, epochs=1)


TURN_RUNS = 200  # runs whose batches one launcher turn writes together (Store.add_metrics)


@contextmanager
def postgres() -> Iterator[Server]:
    folder = Path(tempfile.mkdtemp(prefix="augviz-bench-pg-"))
    try:
        with serving(folder, durable=True) as server:  # flushed to disk, as SQLite's file is
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def timed(fn: Callable[[], object], n: int) -> tuple[float, float]:
    """(calls per second of wall time, CPU ms per call in this process) of ``n`` calls of ``fn``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return n / wall, 1000 * cpu / n


def engine_figures(make: Callable[[], Store]) -> dict[str, float]:
    store = make()
    run_id = store.create(CFG)
    step = iter(range(1, 10**9))
    writes = timed(lambda: store.add_steps(run_id, [StepMetrics(next(step), 1, 2.0, [0.1] * 6, 0.3)
                                                    for _ in range(8)]), 300)
    # A Ray launcher's turn with 200 runs training: each run's batch of 4 steps, all in one transaction.
    runs = store.create_many([CFG] * TURN_RUNS)
    turn_step = iter(range(1, 10**9, 4))

    def turn() -> None:
        first = next(turn_step)
        store.add_metrics([(r, "steps", [StepMetrics(first + i, 1, 2.0, [0.1] * 6, 0.3) for i in range(4)])
                           for r in runs])

    turns = timed(turn, 20)
    store = make()
    store.create_many([CFG] * 200)

    def claim() -> None:
        run = store.claim_next(pid=1, limit=1)
        store.finish(run, "finished")

    claims = timed(claim, 200)
    store.create_many([CFG] * 800)
    listing = timed(store.runs, 30)
    return {"writes/s": writes[0], "write cpu ms": writes[1], "runs' batches/s": turns[0] * TURN_RUNS,
            "claims/s": claims[0], "claim cpu ms": claims[1],
            "list 1k ms": 1000 / listing[0]}


def fairness(store: Store, order: str) -> int:
    """The most runs that started before a visitor's first, a sweep of 60 queued first and 30 visitors × 6."""
    store.order = order
    store.create_many([CFG] * 60, session="sweep")
    for v in range(30):
        store.create_many([CFG] * 6, session=f"visitor-{v}")
    first_start: dict[str, int] = {}
    started = 0
    while (run_id := store.claim_next(pid=1, limit=1)) is not None:
        who = store.get(run_id).session or ""
        first_start.setdefault(who, started)
        store.finish(run_id, "finished")
        started += 1
    return max(n for who, n in first_start.items() if who != "sweep")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="augviz-bench-store-"))
    os.environ["AUGVIZ_HOME"] = str(home)
    results: dict[str, dict[str, float]] = {}
    counter = iter(range(10**6))
    try:
        results["SQLite"] = engine_figures(lambda: Store(home / f"runs-{next(counter)}.sqlite"))
        with postgres() as server:
            def fresh() -> Store:
                return open_store(server.url(server.fresh_schema()))

            results["PostgreSQL"] = engine_figures(fresh)
            waits = {order: fairness(fresh(), order) for order in ("fifo", "fair")}
    finally:
        shutil.rmtree(home, ignore_errors=True)
    keys = list(results["SQLite"])
    print(f"machine: {machine()}")
    widths = [max(14, len(k) + 2) for k in keys]
    print(f"{'engine':<12}" + "".join(f"{k:>{w}}" for k, w in zip(keys, widths, strict=True)))
    for name, row in results.items():
        print(f"{name:<12}" + "".join(f"{row[k]:>{w}.1f}" for k, w in zip(keys, widths, strict=True)))
    print("PostgreSQL / SQLite: " + ", ".join(f"{k} {results['PostgreSQL'][k] / results['SQLite'][k]:.2f}×"
                                              for k in keys))
    print("most runs started before a visitor's first (60-run sweep first, 30 visitors × 6, one slot): "
          f"FIFO {waits['fifo']}, fair {waits['fair']}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "engines": results, "first_start": waits}, indent=2))


if __name__ == "__main__":
    main()

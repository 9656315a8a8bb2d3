"""Runs on a Ray cluster (``$AUGVIZ_RAY_ADDRESS``): the launcher submits each run it claims from the queue as a Ray
task and writes what the task streams back to the store, so no node but the launcher's needs the database.

A run is a streaming generator task (``num_returns="streaming"``) holding ``num_cpus`` = the run's CPU threads (1
by default; torch's thread count is set to it inside the task) and a GPU when the run asks for one. It trains
with the same ``train`` as a local worker and yields its metrics in batches, every ``FLUSH_S``. Stop reaches it
through a small actor (``StopBoard``) that the tasks ask a few times a second; a task that has not stopped
within ``$AUGVIZ_STOP_GRACE_S`` is cancelled (its worker process killed). A task whose node dies ends its run
with "the node running it was lost". A Ray task shares its launcher's fate: a launcher that is killed takes its
runs with it, and the next launcher ends them with that cause (worker.end_dead_runs).

The command line imports this module always, Ray only when a launcher connects: without ``$AUGVIZ_RAY_ADDRESS``
no Ray is loaded.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from augviz import settings, worker
from augviz.errors import ConfigError, SettingError, StoreError
from augviz.metrics import DetailMetrics, EpochMetrics, StepMetrics
from augviz.runconfig import loads
from augviz.store import Run, Store
from augviz.store.runs import MetricWrite
from augviz.train import train

FLUSH_S = 0.25  # how often a task sends what it has (the same as a local worker's writes)
STOP_POLL_S = 0.5  # how often a task asks whether it should stop
CLUSTER_POLL_S = 5.0  # how often the launcher asks how big the cluster is
METRICS = ("steps", "epoch", "detail")  # the events that are metric rows (Store.add_metrics' kinds)
DRAIN = 64  # batches taken from one task per turn at most, so that one chatty run cannot starve the rest

Event = tuple[Any, ...]  # ("node", id, ip, pid), ("started", …), ("steps", [..]), ("epoch", m), ("detail", m),
# ("progress", note, share), ("end", status, error, kind, summary)


class StopBoard:
    """The runs asked to stop, held by one small actor per launcher: the launcher tells it, the tasks ask it."""

    def __init__(self) -> None:
        self.asked: set[int] = set()

    def ask(self, run_id: int) -> None:
        self.asked.add(run_id)

    def stopped(self, run_id: int) -> bool:
        return run_id in self.asked


class _QueueSink:
    """A training Sink that puts every report on a queue, for the task to send in batches."""

    def __init__(self, events: queue.SimpleQueue) -> None:
        self.events = events

    def started(self, layer_names: list[str], total_steps: int, classes: tuple[str, ...]) -> None:
        self.events.put(("started", layer_names, total_steps, tuple(classes)))

    def step(self, m: StepMetrics) -> None:
        self.events.put(("step", m))

    def epoch(self, m: EpochMetrics) -> None:
        self.events.put(("epoch", m))

    def detail(self, m: DetailMetrics) -> None:
        self.events.put(("detail", m))


def train_on_node(config_json: str, run_id: int, board: Any) -> Iterator[list[Event]]:
    """The Ray task of one run: train it on this node and yield what it reports, in batches, ending with an
    ``("end", status, error, kind, summary)`` event. Training runs in a thread so that the batches go out while
    it trains."""
    import ray

    context = ray.get_runtime_context()
    yield [("node", context.get_node_id(), ray.util.get_node_ip_address(), os.getpid())]
    try:
        cfg = loads(config_json)
    except ConfigError as e:
        yield [("end", "failed", str(e), "config", {})]
        return
    cfg = replace(cfg, threads=cfg.threads or 1)  # train() sets torch's threads to it, in its own thread
    events: queue.SimpleQueue = queue.SimpleQueue()
    asked = {"at": 0.0, "stop": False}

    def should_stop() -> bool:
        if time.monotonic() - asked["at"] > STOP_POLL_S:
            asked["at"] = time.monotonic()
            # The board gone means its launcher is gone, and Ray ends this task with it.
            with contextlib.suppress(ray.exceptions.RayError):
                asked["stop"] = ray.get(board.stopped.remote(run_id), timeout=30)
        return asked["stop"]

    shown = {"at": 0.0}

    def downloading(name: str, done: int, total: int | None) -> None:
        if should_stop():
            raise worker.RunStopped
        if time.monotonic() - shown["at"] > 0.5 or done == total:
            shown["at"] = time.monotonic()
            size = f"{done / 2**20:.1f} of {total / 2**20:.1f} MB" if total else f"{done / 2**20:.1f} MB"
            events.put(("progress", f"downloading {name} ({size})", done / total if total else None))

    def body() -> None:
        try:
            s = train(cfg, _QueueSink(events), should_stop, progress=downloading)
        except worker.RunStopped:
            events.put(("end", "stopped", None, None, {}))
        except Exception as e:
            traceback.print_exc()  # into the Ray worker's log; the store gets one line
            kind, message = worker.failure_cause(e)
            events.put(("end", "failed", message, kind, {}))
        else:
            error = f"the loss stopped being finite at step {s.diverged_step}" if s.status == "diverged" else None
            events.put(("end", s.status, error, "training" if error else None, {
                "diverged_step": s.diverged_step, "test_acc": s.test_acc, "test_loss": s.test_loss,
                "images_per_s": s.images_per_s, "wall_s": s.wall_s, "note": s.note}))

    trainer = threading.Thread(target=body, name=f"augviz run {run_id}")
    trainer.start()
    try:
        batch: list[Event] = []
        due = time.monotonic() + FLUSH_S
        ended = False
        while not ended:
            try:
                event = events.get(timeout=max(0.0, due - time.monotonic()))
                ended = event[0] == "end"
                if event[0] != "step":
                    batch.append(event)
                elif batch and batch[-1][0] == "steps":
                    batch[-1][1].append(event[1])
                else:
                    batch.append(("steps", [event[1]]))
            except queue.Empty:
                pass
            if ended or time.monotonic() >= due:
                if batch:
                    yield batch
                batch, due = [], time.monotonic() + FLUSH_S
    finally:
        trainer.join()


@dataclass
class _Flight:
    """A run this launcher submitted: its task's stream, and where it runs once it says so."""

    run_id: int
    stream: Any  # ray.ObjectRefGenerator
    node: str | None = None  # "node 10.0.0.5 (id 1a2b3c4d)"
    pid: int | None = None
    stop_sent: bool = False


class RayRunner:
    """A launcher's runs on the Ray cluster at ``$AUGVIZ_RAY_ADDRESS`` (see the module's docstring)."""

    def __init__(self, store: Store) -> None:
        address = settings.ray_address()
        if address is None:
            raise SettingError("AUGVIZ_RAY_ADDRESS is not set: runs go to local worker processes")
        import ray

        self.ray, self.store = ray, store
        options: dict[str, Any] = {"include_dashboard": False} if address == "local" else {}
        try:
            ray.init(address=address, logging_level="WARNING", log_to_driver=False, **options)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
            raise SettingError(f"AUGVIZ_RAY_ADDRESS={address!r}: no Ray cluster could be reached there "
                               f"({str(e).splitlines()[0][:200] if str(e) else type(e).__name__})") from None
        here = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
            ray.get_runtime_context().get_node_id(), soft=True)  # beside the launcher, whose fate it shares
        self.board = ray.remote(num_cpus=0)(StopBoard).options(scheduling_strategy=here).remote()
        self.task = ray.remote(num_returns="streaming", max_retries=0)(train_on_node)
        self.flights: dict[int, _Flight] = {}
        self.pending: list[MetricWrite] = []  # metric rows heard this turn, written together (_flush)
        self.cpus, self.gpus, self.largest, self.asked_at = 0, 0, 0.0, 0.0

    # ---- the launcher's turn -----------------------------------------------------------------------------------

    def upkeep(self, store: Store) -> None:
        if time.monotonic() - self.asked_at > CLUSTER_POLL_S:
            self._measure_cluster()
        rows = {r.id: r for r in store.runs(ids=list(self.flights))} if self.flights else {}
        for run_id, flight in list(self.flights.items()):
            self._follow_stop(store, flight, rows.get(run_id))
        self._drain(store)
        # Processes this launcher did not start (a command-line run training in its own process).
        worker.end_dead_runs(store, skip=frozenset({os.getpid()}), launcher_alive=True)
        limit = settings.max_running(max(1, self.cpus))
        while (run_id := store.claim_next(os.getpid(), limit)) is not None:
            self._submit(store, run_id)

    def busy(self) -> bool:
        return bool(self.flights)

    def close(self) -> None:
        """End what is still in flight (the launcher is going, after an error: Ray would end its tasks anyway),
        saying so on each run, and disconnect."""
        for flight in list(self.flights.values()):
            self._drop(flight)
            with contextlib.suppress(StoreError):
                self.store.finish(flight.run_id, "failed", "the launcher stopped on an error before the run ended "
                                  "(its log, logs/launcher.log, says which)", kind="launch")
        self.ray.shutdown()

    # ---- the parts of a turn -----------------------------------------------------------------------------------

    def _measure_cluster(self) -> None:
        total = self.ray.cluster_resources()
        self.cpus, self.gpus = int(total.get("CPU", 0)), int(total.get("GPU", 0))
        self.largest = max((n["Resources"].get("CPU", 0.0) for n in self.ray.nodes() if n["Alive"]), default=0.0)
        self.asked_at = time.monotonic()

    def _submit(self, store: Store, run_id: int) -> None:
        run = store.get(run_id)
        if run is None:
            return
        try:
            cfg = run.config
        except ConfigError as e:
            store.finish(run_id, "failed", str(e), kind="config")
            return
        cpus = cfg.threads or 1
        if cpus > self.largest:
            store.finish(run_id, "failed", f"it asks for {cpus} CPU threads, and the largest node of the Ray "
                         f"cluster has {self.largest:g} CPUs", kind="launch")
            return
        gpus = 1 if cfg.device == "cuda" or (cfg.device == "auto" and self.gpus) else 0
        stream = self.task.options(num_cpus=cpus, num_gpus=gpus).remote(cfg.to_json(), run_id, self.board)
        self.flights[run_id] = _Flight(run_id, stream)
        need = f"{cpus} CPU" + (" and a GPU" if gpus else "")
        store.set_progress(run_id, f"waiting for a place on the Ray cluster ({need})")

    def _follow_stop(self, store: Store, flight: _Flight, run: Run | None) -> None:
        """Pass Stop on to the task; cancel one that has not answered within the grace, or was deleted."""
        if run is None or run.is_over:  # deleted, or ended from outside (a shutdown): nothing more is written
            self._drop(flight)
            return
        if not run.stop_requested:
            return
        if flight.pid is None:  # not started on a node yet: it stops at once, as a queued run does
            self._drop(flight)
            store.finish(run.id, "stopped", None, kind="stopped")
            return
        if not flight.stop_sent:
            self.board.ask.remote(run.id)
            flight.stop_sent = True
        grace = settings.stop_grace_s()
        if time.time() - run.stop_requested > grace:
            self._drop(flight)
            store.finish(run.id, "stopped", f"the run did not answer Stop within {grace:g} s and its Ray task "
                         f"was cancelled (on {flight.node})", kind="stopped")

    def _drop(self, flight: _Flight) -> None:
        self.flights.pop(flight.run_id, None)
        self.ray.cancel(flight.stream, force=True)

    def _drain(self, store: Store) -> None:
        """Write what the tasks have sent since the last turn, and record the end of those that ended."""
        if not self.flights:
            return
        by_stream = {id(f.stream): f for f in self.flights.values()}
        streams = [f.stream for f in self.flights.values()]
        ready, _ = self.ray.wait(streams, num_returns=len(streams), timeout=0)
        for stream in ready:
            flight = by_stream[id(stream)]
            for _ in range(DRAIN):
                if flight.run_id not in self.flights:
                    break
                try:
                    batch = self.ray.get(next(stream))
                except StopIteration:
                    self._lost(store, flight, "its Ray task ended without saying how the run ended", "worker")
                    break
                except self.ray.exceptions.RayError as e:
                    self._lost(store, flight, *self._why(flight, e))
                    break
                try:
                    self._write(store, flight, batch)
                except StoreError as e:  # a full or locked database: the batch is lost, the run goes on
                    print(f"launcher: run {flight.run_id}: {e}", file=sys.stderr, flush=True)
                if flight.run_id not in self.flights or not self.ray.wait([stream], timeout=0)[0]:
                    break
        self._flush(store)

    def _write(self, store: Store, flight: _Flight, batch: list[Event]) -> None:
        """Record what a task sent: its metrics join ``pending`` (written together, ``_flush``); anything else is
        written now, after the metrics before it, so that a run's end never comes before its last rows."""
        run_id = flight.run_id
        for event in batch:
            what = event[0]
            if what in METRICS:
                self.pending.append((run_id, what, event[1]))
                continue
            self._flush(store)
            if what == "node":
                _, node_id, ip, pid = event
                flight.node, flight.pid = f"node {ip} (id {node_id[:8]})", pid
                store.set_progress(run_id, f"starting on {flight.node}")
            elif what == "started":
                store.started(run_id, *event[1:])
            elif what == "progress":
                store.set_progress(run_id, event[1], event[2])
            elif what == "end":
                _, status, error, kind, summary = event
                self.flights.pop(run_id, None)
                store.finish(run_id, status, error, kind, **summary)

    def _flush(self, store: Store) -> None:
        """Write the pending metrics of every run in one transaction (a full or locked database: they are lost,
        the runs go on)."""
        writes, self.pending = self.pending, []
        try:
            store.add_metrics(writes)
        except StoreError as e:
            print(f"launcher: {len(writes)} metric writes lost: {e}", file=sys.stderr, flush=True)

    def _lost(self, store: Store, flight: _Flight, error: str, kind: str) -> None:
        self._flush(store)  # what it sent before it was lost comes first
        self.flights.pop(flight.run_id, None)
        store.finish(flight.run_id, "stopped" if kind == "stopped" else "failed", error, kind=kind)

    def _why(self, flight: _Flight, e: Exception) -> tuple[str, str]:
        """(error, kind) for a task that Ray ended: its node died, its worker process died, or it raised."""
        errors = self.ray.exceptions
        where = flight.node or "a node of the Ray cluster"
        if isinstance(e, errors.NodeDiedError):
            return f"the node running it was lost ({where})", "worker"
        if isinstance(e, errors.OutOfMemoryError):
            return f"Ray killed it to save memory on {where}, which ran out", "worker"
        if isinstance(e, errors.WorkerCrashedError):
            return f"the Ray worker process running it (pid {flight.pid} on {where}) died unexpectedly", "worker"
        if isinstance(e, errors.TaskCancelledError):
            return "its Ray task was cancelled on the cluster", "stopped"
        if isinstance(e, errors.RayTaskError):
            cause = e.cause if isinstance(e.cause, BaseException) else e
            return f"its Ray task failed on {where}: {type(cause).__name__}: {str(cause)[:300]}", "launch"
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
        return f"Ray ended its task on {where}: {type(e).__name__}: {first}", "worker"

"""Runs outside the Streamlit script: each run is a worker process that waits its turn, trains, and writes to
the store. The app, the command line and the tests all launch and stop runs through here."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import time
import traceback

import torch

from augviz.data import home
from augviz.runconfig import RunConfig
from augviz.store import Store, StoreSink
from augviz.train import DetailMetrics, EpochMetrics, Sink, StepMetrics, train

_children: list[subprocess.Popen] = []


def max_concurrent() -> int:
    """How many runs may train at once: ``$AUGVIZ_MAX_RUNS``, default 1 on CPU (they would share two cores)."""
    value = os.environ.get("AUGVIZ_MAX_RUNS")
    if value and value.isdigit() and int(value) > 0:
        return int(value)
    return 2 if torch.cuda.is_available() else 1


def launch(store: Store, cfg: RunConfig) -> int:
    """Queue a run and start its worker process, detached from the caller's session, so that closing the
    browser or restarting the page does not stop it. Returns the run's id."""
    run_id = store.create(cfg)
    logs = home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"run-{run_id}.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "augviz", "work", str(run_id), "--db", str(store.path)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    store.set_pid(run_id, proc.pid)
    _children.append(proc)
    return run_id


def reap_children() -> None:
    """Collect the exit status of finished workers this process started (no zombies pile up)."""
    _children[:] = [p for p in _children if p.poll() is None]


def keep_freed_memory() -> None:
    """Ask glibc to keep freed memory instead of returning it between steps: every batch allocates the same
    large buffers, and handing them back costs page faults on each step (measured in bench/augment.py)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
    except OSError:
        pass  # not glibc: nothing to tune


def work(store: Store, run_id: int, poll_s: float = 0.5) -> None:
    """The worker's life: wait in the queue for a free slot, then execute the run."""
    store.set_pid(run_id, os.getpid())
    while True:
        run = store.get(run_id)
        if run is None or run.status != "queued":
            return  # stopped or deleted while queued
        if store.claim(run_id, os.getpid(), max_concurrent()):
            break
        time.sleep(poll_s)
    execute(store, run_id, run.config)


def execute(store: Store, run_id: int, cfg: RunConfig, echo: Sink | None = None) -> str:
    """Train a run that is marked running, record how it ended, and return that status."""
    keep_freed_memory()
    sink = StoreSink(store, run_id)
    target: Sink = sink if echo is None else _Tee(sink, echo)
    last = {"at": 0.0, "stop": False}

    def should_stop() -> bool:
        if time.monotonic() - last["at"] > 0.3:  # a cheap read, but not on every step
            last["at"], last["stop"] = time.monotonic(), store.stop_requested(run_id)
        return last["stop"]

    shown = {"at": 0.0}

    def downloading(name: str, done: int, total: int | None) -> None:
        if time.monotonic() - shown["at"] > 0.5 or done == total:  # a progress bar, not a write per chunk
            shown["at"] = time.monotonic()
            share = f" {100 * done / total:.0f}%" if total else f" {done / 2**20:.1f} MB"
            store.set_note(run_id, f"downloading {name}{share}")

    try:
        s = train(cfg, target, should_stop, progress=downloading)
    except Exception as e:  # the run failed; record why, keep what it wrote
        sink.flush()
        traceback.print_exc()
        store.finish(run_id, "failed", f"{type(e).__name__}: {e}")
        return "failed"
    sink.flush()
    store.set_note(run_id, s.note)  # the download's progress gives way to what reading the data skipped
    error = f"the loss stopped being finite at step {s.diverged_step}" if s.status == "diverged" else None
    store.finish(run_id, s.status, error, diverged_step=s.diverged_step, test_acc=s.test_acc,
                 test_loss=s.test_loss, images_per_s=s.images_per_s, wall_s=s.wall_s)
    return s.status


class _Tee:
    """A Sink that passes everything to two sinks (the store, and the terminal for the CLI)."""

    def __init__(self, a: Sink, b: Sink) -> None:
        self.a, self.b = a, b

    def started(self, layer_names: list[str], total_steps: int, classes: tuple[str, ...]) -> None:
        self.a.started(layer_names, total_steps, classes)
        self.b.started(layer_names, total_steps, classes)

    def step(self, m: StepMetrics) -> None:
        self.a.step(m)
        self.b.step(m)

    def epoch(self, m: EpochMetrics) -> None:
        self.a.epoch(m)
        self.b.epoch(m)

    def detail(self, m: DetailMetrics) -> None:
        self.a.detail(m)
        self.b.detail(m)

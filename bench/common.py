"""Timing and reporting shared by the benchmark scripts: medians over repeats, a table, ratios, JSON."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from augviz import worker
from augviz.store import Store


def machine() -> dict[str, str | int]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, str | int] = {"cpu": cpu, "cores": os.cpu_count() or 0, "python": platform.python_version(),
                                  "torch": torch.__version__}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int = 15, warmup: int = 3,
                        sync: Callable[[], None] = lambda: None) -> dict[str, float]:
    """Median wall time of each function, measured in round-robin order so that the machine's noise (other
    processes, the allocator's state) falls on every peer alike rather than on whoever ran at a bad moment."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    sync()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def table(title: str, rows: list[dict], baseline: str) -> str:
    """Rows of {name, images, seconds}: images/s, ms per call, and each peer's speed relative to ``baseline``."""
    base = next(r for r in rows if r["name"] == baseline)
    base_rate = base["images"] / base["seconds"]
    lines = [title, f"{'library':<28}{'ms/call':>10}{'images/s':>12}{'augviz is ×':>13}"]
    for r in rows:
        rate = r["images"] / r["seconds"]
        r["images_per_s"] = rate
        r["augviz_speedup"] = base_rate / rate
        lines.append(f"{r['name']:<28}{r['seconds'] * 1000:>10.2f}{rate:>12.0f}{base_rate / rate:>13.2f}")
    return "\n".join(lines)


def write_json(path: str | None, payload: dict) -> None:
    if path:
        Path(path).write_text(json.dumps({"machine": machine(), **payload}, indent=2))


def children_cpu_s() -> float:
    """CPU seconds (user + system) of every finished child process, workers included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def fresh_store() -> Iterator[Store]:
    """A run store in a temporary run home (the workers' logs and data folder, as the app's would be)."""
    with tempfile.TemporaryDirectory() as home:
        os.environ["AUGVIZ_HOME"] = home
        yield Store(Path(home) / "runs.sqlite")


def train_all(store: Store, launch: Callable[[], object]) -> tuple[float, float]:
    """Call ``launch`` (it queues runs into ``store``), wait for every run of the store to end, and reap the
    workers: the wall seconds from the launch to the last run's end, and the CPU seconds the workers used."""
    cpu0, start = children_cpu_s(), time.perf_counter()
    launch()
    while not all(r.is_over for r in store.runs()):
        time.sleep(0.5)
        worker.reap_children()
    wall = time.perf_counter() - start
    for proc in worker._children:
        proc.wait()
    worker.reap_children()
    return wall, children_cpu_s() - cpu0

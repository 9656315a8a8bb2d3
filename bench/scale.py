"""A class on one server, a sweep on a cluster: what each way of running costs, side by side in one run.

1. A run's overhead from queue to first step: local worker processes, and a two-node Ray cluster started here
   (one CPU per node), each with a fresh launcher (cold) and with the launcher already going (warm).
2. The wall time of 12 default runs: local processes (AUGVIZ_MAX_RUNS=2) and the two-node Ray cluster, with the
   CPU seconds they took (the launcher and the runs' processes; on Ray also the cluster's own processes).
3. 30 visitors each queuing the default experiment (3 seeds: 6 runs) one after another, then the same behind one
   visitor's 60-run sweep: the most runs started before a visitor's first run, in the store's claim order, FIFO
   and fair (AUGVIZ_QUEUE_ORDER); as time, at part 2's seconds a run.
4. The store's metric writes per second (step rows, in the sink's batches of 16 and one at a time): SQLite, and
   PostgreSQL (a throwaway server started here, tests/postgres.py, flushing every commit to disk as SQLite does).
5. Start-up without Ray, this tree against ``--baseline`` (a git ref), interleaved: see bench/startup.py.
6. On paper, from parts 1 to 4: a 100-node cluster serving a 30-student lecture and a 1,000-run sweep.

Usage: python -m bench.scale [--quick] [--baseline REF] [--parts local,ray,queue,writes,startup] [--json FILE]
(--quick: runs of 20 steps, 3 start-up repeats; a few minutes on an idle 2-core machine; in full, with
--baseline, about half an hour on a loaded one)
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import math
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from augviz import worker
from augviz.metrics import StepMetrics
from augviz.runconfig import RunConfig
from augviz.store import Store, default_store
from bench import startup
from bench.common import machine
from tests.postgres import serving
from tests.raycluster import ENV, processes_of, start_cluster

ROOT = Path(__file__).resolve().parent.parent
VISITORS, EXPERIMENT, SWEEP = 30, 6, 60  # the default experiment: 3 seeds, with and without augmentation
TICK = os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, with None, remove) environment variables for a block; the launcher inherits them."""
    old = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def fresh_store() -> Store:
    """An empty store in a data folder of its own (removed when the benchmark ends), which becomes AUGVIZ_HOME."""
    home = Path(tempfile.mkdtemp(prefix="scale"))
    atexit.register(shutil.rmtree, home, True)
    os.environ["AUGVIZ_HOME"] = str(home)
    return Store(home / "runs.sqlite")


def wait(predicate: Callable[[], bool], timeout: float = 3600, poll: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark's runs did not get there in time")
        time.sleep(poll)


def first_step_s(cfg: RunConfig) -> tuple[float, float]:
    """Seconds from queuing to the first stored step: with no launcher going (cold), then, while that run trains
    in one of two slots, for a second run (warm: the launcher is going)."""
    store = fresh_store()
    out, ids = [], []
    try:
        for seed in (0, 1):
            start = time.perf_counter()
            ids.append(run_id := worker.launch(store, replace(cfg, seed=seed, steps=100_000)))
            wait(lambda: store.step_count(run_id) > 0)
            out.append(time.perf_counter() - start)
        for run_id in ids:
            store.request_stop(run_id)
        wait(lambda: all(r.is_over for r in store.runs(ids=ids)))
    finally:
        worker.shutdown(store)
    return out[0], out[1]


def rss_mb(pid: int | None) -> float:
    """A process's resident memory now, in MB (0 when it is gone)."""
    try:
        line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0.0
    return int(line.split()[1]) / 1024


def cpu_s(pids: set[int]) -> float:
    """CPU seconds of these processes and of their children that they have waited for."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += sum(int(x) for x in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:15])
    return total / TICK


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Batch:
    """Twelve runs queued at once: how long until all ended, the CPU seconds they took, peak memory (MB)."""
    wall_s: float
    cpu_s: float
    launcher_mb: float
    run_mb: float


def wall_of_runs(cfg: RunConfig, n: int, runs: Callable[[Store], list[int]],
                 cluster: Callable[[], set[int]] = set) -> Batch:
    """``n`` runs queued at once until they end; ``runs`` lists the runs' processes (for their memory),
    ``cluster`` the processes of a Ray cluster whose CPU time counts too. The launcher and its local workers are
    this process's children: their CPU time is counted when it has waited for them (at the shutdown)."""
    store = fresh_store()
    peaks = {"launcher": 0.0, "run": 0.0, "cluster": 0.0}
    cluster_before, children_before = cpu_s(cluster()), children_cpu_s()

    def done() -> bool:
        peaks["launcher"] = max(peaks["launcher"], rss_mb(worker.launcher_pid(store)))
        peaks["run"] = max([peaks["run"], *(rss_mb(p) for p in runs(store))])
        peaks["cluster"] = max(peaks["cluster"], cpu_s(cluster()))
        return all(r.is_over for r in store.runs(ids=ids))

    try:
        start = time.perf_counter()
        ids = worker.launch_all(store, [replace(cfg, seed=s) for s in range(n)])
        wait(done, poll=0.5)
        took = time.perf_counter() - start
        bad = [r for r in store.runs(ids=ids) if r.status != "finished"]
        if bad:
            raise RuntimeError(f"run {bad[0].id} {bad[0].status}: {bad[0].error}")
    finally:
        worker.shutdown(store)
    wait(lambda: worker.launcher_pid(store) is None, timeout=60)
    worker.reap_children()
    cpu = children_cpu_s() - children_before + (max(peaks["cluster"], cpu_s(cluster())) - cluster_before
                                               if peaks["cluster"] else 0.0)
    return Batch(took, cpu, peaks["launcher"], peaks["run"])


def longest_wait(order: str, sweep: int = 0) -> int:
    """The most runs started before some visitor's first run, when one visitor has queued a sweep of ``sweep``
    runs and then 30 visitors queue 6 runs each in turn, and two slots take runs in the store's claim order (runs
    are ended at once: only the order is measured). The sweep's own visitor is not counted."""
    with environment(AUGVIZ_QUEUE_ORDER=order):
        store = fresh_store()
        owner: dict[int, str] = {}
        queued = [("sweeper", sweep)] if sweep else []
        for visitor, n in [*queued, *((f"visitor {v}", EXPERIMENT) for v in range(VISITORS))]:
            for run_id in store.create_many([RunConfig(seed=s) for s in range(n)], session=visitor):
                owner[run_id] = visitor
        started: list[int] = []
        while (run_id := store.claim_next(os.getpid(), 2)) is not None or store.live():
            if run_id is None:  # both slots busy: the oldest running run ends
                store.finish(next(i for i, status, _ in store.live() if status == "running"), "finished")
                continue
            started.append(run_id)
        firsts: dict[str, int] = {}
        for i, run_id in enumerate(started):
            firsts.setdefault(owner[run_id], i)
        shutil.rmtree(store.path.parent, ignore_errors=True)
        return max(i for v, i in firsts.items() if v != "sweeper")


def writes_per_s(store: Store, batch: int, seconds: float) -> float:
    run_id = store.create(RunConfig(), status="running", pid=os.getpid())
    rows, step, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        store.add_steps(run_id, [StepMetrics(step + i, 1, 0.5, [0.1] * 6, 0.3) for i in range(1, batch + 1)])
        step += batch
        rows += batch
    return rows / (time.perf_counter() - start)


def turn_batches_per_s(store: Store, runs: int, seconds: float) -> float:
    """Runs' batches (4 steps each) written per second when a launcher writes a turn's batches of ``runs`` runs
    together, in one transaction (``Store.add_metrics``), as the Ray launcher does."""
    ids = [store.create(RunConfig(), status="running", pid=os.getpid()) for _ in range(runs)]
    batches, step, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        store.add_metrics([(r, "steps", [StepMetrics(step + i, 1, 0.5, [0.1] * 6, 0.3) for i in range(1, 5)])
                           for r in ids])
        step += 4
        batches += runs
    return batches / (time.perf_counter() - start)


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server, flushing every commit to disk (as SQLite's file is): its ``AUGVIZ_DB``."""
    folder = Path(tempfile.mkdtemp(prefix="augviz-scale-pg-"))
    try:
        with serving(folder, durable=True) as server:
            yield server.url()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="runs of 20 steps, 3 start-up repeats")
    parser.add_argument("--baseline", default=None, help="a git ref whose start-up to measure alongside")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--parts", default="local,ray,queue,writes,startup",
                        help="which parts to measure: local and ray (parts 1 and 2, with memory), queue, writes, "
                             "startup")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    cfg = RunConfig(steps=20) if args.quick else RunConfig()
    result: dict = {"machine": machine(), "load": os.getloadavg(), "quick": args.quick, "steps": cfg.steps}
    print(f"machine: {result['machine']}; load average at start {result['load'][0]:.1f} "
          f"(1, 5, 15 min: {', '.join(f'{x:.1f}' for x in result['load'])})")

    def row(what: str, local: str, other: str = "") -> None:  # printed as measured: a late failure keeps these
        print(f"{what:<56}  {local:<36}  {other}", flush=True)

    row("", "local processes", "Ray (2 nodes × 1 CPU)")
    # Seconds a default run holds one of two slots, as measured here under the load and as its CPU seconds (what it
    # would hold on a quiet machine): the README's figures until part 2 measures them.
    per_run, per_run_cpu = 24.0, 12.0
    if "local" in parts:
        def local_workers(store: Store) -> list[int]:
            return [pid for _, status, pid in store.live() if status == "running" and pid]

        with environment(AUGVIZ_RAY_ADDRESS=None, AUGVIZ_MAX_RUNS="2"):
            cold, warm = first_step_s(cfg)
            row("queue → first step, cold (no launcher yet)", f"{cold:.1f} s")
            row("queue → first step, warm (launcher going)", f"{warm:.1f} s")
            local = wall_of_runs(cfg, 12, local_workers)
            row(f"12 runs of {cfg.steps} steps: wall; CPU", f"{local.wall_s:.0f} s (2 at once); {local.cpu_s:.0f} s")
            row("peak memory: launcher; one run's process", f"{local.launcher_mb:.0f} MB; {local.run_mb:.0f} MB")
        per_run, per_run_cpu = local.wall_s / 12 * 2, local.cpu_s / 12
        result["local"] = {"first_step": [cold, warm], **vars(local)}
    if "ray" in parts:
        start = time.perf_counter()
        cluster = start_cluster()
        ray_start = time.perf_counter() - start
        idle = {name: sum(rss_mb(p) for p in processes_of(folder))
                for name, folder in (("head", cluster.head), ("node", cluster.node))}
        row("Ray: head + one node started, idle", "", f"{ray_start:.0f} s; head {idle['head']:.0f} MB, "
                                                      f"node {idle['node']:.0f} MB")
        try:
            with environment(AUGVIZ_RAY_ADDRESS=cluster.address, AUGVIZ_MAX_RUNS=None, **ENV):
                ray_cold, ray_warm = first_step_s(cfg)
                row("queue → first step, cold (no launcher yet)", "", f"{ray_cold:.1f} s")
                row("queue → first step, warm (launcher going)", "", f"{ray_warm:.1f} s")
                ray = wall_of_runs(cfg, 12, lambda _: cluster.tasks("train_on_node"),
                                   lambda: processes_of(cluster.root, cluster.address))
                row(f"12 runs of {cfg.steps} steps: wall; CPU", "",
                    f"{ray.wall_s:.0f} s (2 at once); {ray.cpu_s:.0f} s, Ray's own processes included")
                row("peak memory: launcher; one run's process", "", f"{ray.launcher_mb:.0f} MB; {ray.run_mb:.0f} MB")
        finally:
            cluster.stop()
        result["ray"] = {"first_step": [ray_cold, ray_warm], "start_s": ray_start, "idle_mb": idle, **vars(ray)}

    if "queue" in parts:
        for sweep in (0, SWEEP):
            for order in ("fifo", "fair"):
                ahead = longest_wait(order, sweep)
                name = f"{order}, after a {sweep}-run sweep" if sweep else order
                result.setdefault("longest_wait_runs", {})[name] = ahead
                what = f"the same after one visitor's {sweep}-run sweep: {order}" if sweep else \
                    f"{VISITORS} visitors × {EXPERIMENT} runs, longest wait: {order}"
                row(what, f"{ahead} runs ahead (goal ≤ {VISITORS - 1 + bool(sweep)})",
                    f"at 2 slots: {ahead / 2 * per_run_cpu / 60:.1f} min at {per_run_cpu:.0f} s of CPU a run "
                    f"({ahead / 2 * per_run / 60:.0f} min at {per_run:.0f} s, here)")

    if "writes" in parts:
        rates = result.setdefault("writes_per_s", {})
        with environment(AUGVIZ_DB=None):
            sqlite = fresh_store()
            for batch in (16, 1):
                rates[f"sqlite/{batch}"] = writes_per_s(sqlite, batch, 1.0 if args.quick else 3.0)
        with postgres_url() as url, environment(AUGVIZ_DB=url):
            pg = default_store()
            for batch in (16, 1):
                rates[f"postgresql/{batch}"] = writes_per_s(pg, batch, 1.0 if args.quick else 3.0)
            rates["postgresql/turn"] = turn_batches_per_s(pg, NODES * CORES, 1.0 if args.quick else 3.0)
        rates["sqlite/turn"] = turn_batches_per_s(sqlite, NODES * CORES, 1.0 if args.quick else 3.0)
        for batch in (16, 1):
            row(f"metric rows written per second, batches of {batch}", f"{rates[f'sqlite/{batch}']:,.0f} SQLite",
                f"{rates[f'postgresql/{batch}']:,.0f} PostgreSQL")
        row(f"runs' batches written per second, {NODES * CORES} runs' in one transaction (a launcher's turn)",
            f"{rates['sqlite/turn']:,.0f} SQLite", f"{rates['postgresql/turn']:,.0f} PostgreSQL")

    if "startup" in parts:
        result["startup"] = startup.compare(args.baseline, 3 if args.quick else 5, row)

    print(f"(CPU seconds of the benchmark's own child processes: {children_cpu_s():.0f} s; "
          f"load average at the end {os.getloadavg()[0]:.1f})")
    if {"local", "ray", "writes"} <= parts:
        print()
        print(on_paper(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


NODES, CORES = 100, 2  # the cluster on paper: 100 machines like this one, one run per core
STUDENTS = 30


def on_paper(r: dict) -> str:
    """A 100-node cluster serving a lecture and a sweep, estimated from this run's figures, with its
    assumptions said."""
    slots = NODES * CORES
    steps = r["steps"]
    run_cpu = r["ray"]["cpu_s"] / 12  # one run's CPU seconds on a one-CPU slot, Ray's share included
    run_wall = r["ray"]["wall_s"] / 6  # what a run held a slot for here, under this machine's load
    start = r["ray"]["first_step"][1]  # queue → first step with the launcher going
    batch_writes = r["writes_per_s"]["postgresql/turn"]  # runs' batches a second, written a turn at a time
    need = slots * 4  # every running run's task sends a batch every 0.25 s, which the one launcher writes
    lines = [
        f"On paper: {NODES} nodes like this one ({CORES} cores each: {slots} one-CPU run slots), from the figures "
        "above.",
        f"Assumed: a run takes a slot for its CPU seconds on Ray here ({run_cpu:.0f} s for {steps} steps, Ray's own "
        f"share included), {run_wall:.0f} s as measured under this load; a run starts "
        f"{start:.0f} s after it is queued (warm launcher); nodes and network do not slow with scale; the one "
        "launcher writes every run's metrics.",
    ]
    for what, runs in ((f"a {STUDENTS}-student lecture ({STUDENTS} × the default experiment, "
                        f"{EXPERIMENT} runs each)", STUDENTS * EXPERIMENT),
                       ("a 1,000-run sweep", 1000)):
        waves = math.ceil(runs / slots)
        lines.append(f"- {what}: {runs} runs in {waves} wave{'s' * (waves > 1)} of up to {slots}: "
                     f"≈ {start + waves * run_cpu:.0f} s on quiet nodes "
                     f"({start + waves * run_wall:.0f} s at this machine's load); one machine with 2 slots: "
                     f"≈ {runs / 2 * run_cpu / 60:.0f} min ({runs / 2 * run_wall / 60:.0f} min).")
    sweep_s = math.ceil(1000 / slots) * run_cpu
    lines.append(f"- a student who arrives during the sweep: on the fair queue, the next slot that frees (at most "
                 f"one run, {run_cpu:.0f} s); first come, first served, the rest of the sweep (up to {sweep_s:.0f} s).")
    verdict = ("enough" if batch_writes >= need else
               f"short: the writes, not Ray, set the pace beyond about {batch_writes / 4:.0f} runs at once")
    lines.append(f"- the store: {slots} runs at once send {need:,} metric batches a second (one every 0.25 s "
                 f"each), all written by the one launcher a turn at a time; one process wrote {batch_writes:,.0f} "
                 f"runs' batches a second to PostgreSQL here (SQLite: {r['writes_per_s']['sqlite/turn']:,.0f}): "
                 f"{verdict}.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

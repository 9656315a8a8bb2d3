"""A class on one server, a sweep on a cluster: what each way of running costs, side by side in one run.

1. A run's overhead from queue to first step: local worker processes, and a two-node Ray cluster started here
   (one CPU per node), each with a fresh launcher (cold) and with the launcher already going (warm).
2. The wall time of 12 default runs: local processes (AUGVIZ_MAX_RUNS=2) and the two-node Ray cluster.
3. 30 visitors each queuing the default experiment (3 seeds: 6 runs) one after another: the most runs started
   before a visitor's first run, in the store's claim order, for each order the store offers (FIFO only until
   the fair queue is in the store: then AUGVIZ_QUEUE_ORDER=fair and fifo); as time, at part 2's seconds a run.
4. The store's metric writes per second (step rows, in the sink's batches of 16 and one at a time): SQLite, and
   PostgreSQL (a throwaway server started here) once the store has that engine (AUGVIZ_DB).
5. Start-up without Ray: CPU time and peak memory of importing the app's pages and doing a page view's upkeep,
   and of ``python -m augviz runs``, for this tree and for ``--baseline`` (a git ref), interleaved.

Usage: python -m bench.scale [--quick] [--baseline REF] [--parts local,ray,queue,writes,startup] [--json FILE]
(--quick: runs of 20 steps, 3 start-up repeats; about a minute or two on an idle 2-core machine)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from augviz import settings, worker
from augviz.metrics import StepMetrics
from augviz.runconfig import RunConfig
from augviz.store import Store, default_store  # the engine $AUGVIZ_DB names, once the store has it
from bench.common import machine
from tests.raycluster import ENV, free_port, processes_of, start_cluster

ROOT = Path(__file__).resolve().parent.parent
VISITORS, EXPERIMENT = 30, 6  # the default experiment: 3 seeds, with and without augmentation
PG_BIN = Path("/usr/lib/postgresql/15/bin")


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
    home = Path(tempfile.mkdtemp(prefix="scale"))
    os.environ["AUGVIZ_HOME"] = str(home)
    return Store(home / "runs.sqlite")


def wait(predicate, timeout: float = 1800, poll: float = 0.05) -> None:
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


def wall_of_runs(cfg: RunConfig, n: int, runs: Callable[[Store], list[int]]) -> tuple[float, float, float]:
    """Seconds for ``n`` runs queued at once to end, with the peak memory (MB) of the launcher and of one run's
    process (``runs`` lists those processes) seen meanwhile."""
    store = fresh_store()
    peaks = {"launcher": 0.0, "run": 0.0}

    def done() -> bool:
        peaks["launcher"] = max(peaks["launcher"], rss_mb(worker.launcher_pid(store)))
        peaks["run"] = max([peaks["run"], *(rss_mb(p) for p in runs(store))])
        return all(r.is_over for r in store.runs(ids=ids))

    try:
        start = time.perf_counter()
        ids = worker.launch_all(store, [replace(cfg, seed=s) for s in range(n)])
        wait(done, poll=0.5)
        took = time.perf_counter() - start
        bad = [r for r in store.runs(ids=ids) if r.status != "finished"]
        if bad:
            raise RuntimeError(f"run {bad[0].id} {bad[0].status}: {bad[0].error}")
        return took, peaks["launcher"], peaks["run"]
    finally:
        worker.shutdown(store)


def longest_wait(order: str | None) -> int:
    """The most runs started before some visitor's first run, when 30 visitors queue 6 runs each in turn and two
    slots take runs in the store's claim order (runs are ended at once: only the order is measured)."""
    with environment(AUGVIZ_QUEUE_ORDER=order, AUGVIZ_MAX_QUEUED="100000", AUGVIZ_MAX_QUEUED_PER_SESSION="100"):
        store = fresh_store()
        owner: dict[int, int] = {}
        for v in range(VISITORS):
            for run_id in store.create_many([RunConfig(seed=s) for s in range(EXPERIMENT)], session=f"visitor {v}"):
                owner[run_id] = v
        started: list[int] = []
        while (run_id := store.claim_next(os.getpid(), 2)) is not None or store.live():
            if run_id is None:  # both slots busy: the oldest running run ends
                store.finish(next(i for i, status, _ in store.live() if status == "running"), "finished")
                continue
            started.append(run_id)
        firsts: dict[int, int] = {}
        for i, run_id in enumerate(started):
            firsts.setdefault(owner[run_id], i)
        shutil.rmtree(store.path.parent, ignore_errors=True)
        return max(firsts.values())


def writes_per_s(store: Store, batch: int, seconds: float) -> float:
    run_id = store.create(RunConfig(), status="running", pid=os.getpid())
    rows, step, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        store.add_steps(run_id, [StepMetrics(step + i, 1, 0.5, [0.1] * 6, 0.3) for i in range(1, batch + 1)])
        step += batch
        rows += batch
    return rows / (time.perf_counter() - start)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server in a temporary folder (initdb refuses root: run as ``postgres``)."""
    folder = Path(tempfile.mkdtemp(prefix="pg"))
    shutil.chown(folder, "postgres")
    port = free_port()
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*as_pg, str(PG_BIN / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)
    subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(folder / "data"), "-w", "-l", str(folder / "log"),
                    "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(folder / "data"), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


STARTUPS = {
    "app pages + a page view's upkeep": "import augviz.ui.train, augviz.ui.runs, augviz.ui.explore, "
                                        "augviz.ui.gradients; from augviz import worker; "
                                        "from augviz.store import default_store; worker.recover(default_store())",
    "python -m augviz runs": "import sys; from augviz.__main__ import main; sys.argv[1:] = ['runs']; main()",
}


def startup(tree: Path, code: str) -> tuple[float, float]:
    """(CPU seconds, peak MB) of a fresh interpreter running ``code`` in ``tree``, without Ray configured."""
    probe = (f"{code}\nimport resource, sys\nu = resource.getrusage(resource.RUSAGE_SELF)\n"
             "assert 'ray' not in sys.modules\n"
             "print('@', u.ru_utime + u.ru_stime, u.ru_maxrss / 1024, file=sys.stderr)")
    env = {k: v for k, v in os.environ.items() if k != "AUGVIZ_RAY_ADDRESS"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=tree, env=env, capture_output=True, text=True,
                         check=True)
    line = next(x for x in out.stderr.splitlines() if x.startswith("@ "))
    cpu, mb = map(float, line.split()[1:])
    return cpu, mb


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
    result: dict = {"machine": machine(), "load": os.getloadavg(), "quick": args.quick}
    print(f"machine: {result['machine']}; load average at start {result['load'][0]:.1f}")

    def row(what: str, local: str, other: str = "") -> None:  # printed as measured: a late failure keeps these
        print(f"{what:<50}  {local:<34}  {other}", flush=True)

    per_run = 24.0  # seconds a default run holds a slot (the README's figure), until part 2 measures it here
    if "local" in parts:
        def local_workers(store: Store) -> list[int]:
            return [pid for _, status, pid in store.live() if status == "running" and pid]

        with environment(AUGVIZ_RAY_ADDRESS=None, AUGVIZ_MAX_RUNS="2"):
            cold, warm = first_step_s(cfg)
            row("queue → first step, cold (no launcher yet)", f"{cold:.1f} s local")
            row("queue → first step, warm (launcher going)", f"{warm:.1f} s local")
            local12, local_launcher, local_run = wall_of_runs(cfg, 12, local_workers)
            row(f"12 runs of {cfg.steps} steps", f"{local12:.0f} s local (2 at once)")
            row("peak memory: launcher; one run's process", f"{local_launcher:.0f} MB; {local_run:.0f} MB local")
        per_run = local12 / 12 * 2
        result.update(local={"first_step": [cold, warm], "twelve_runs": local12, "launcher_mb": local_launcher,
                             "run_mb": local_run})
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
                row("queue → first step, cold (no launcher yet)", "", f"{ray_cold:.1f} s Ray")
                row("queue → first step, warm (launcher going)", "", f"{ray_warm:.1f} s Ray")
                ray12, ray_launcher, ray_run = wall_of_runs(cfg, 12, lambda _: cluster.tasks("train_on_node"))
                row(f"12 runs of {cfg.steps} steps", "", f"{ray12:.0f} s Ray (2 nodes × 1 CPU)")
                row("peak memory: launcher; one run's process", "", f"{ray_launcher:.0f} MB; {ray_run:.0f} MB Ray")
        finally:
            cluster.stop()
        result.update(ray={"first_step": [ray_cold, ray_warm], "twelve_runs": ray12, "start_s": ray_start,
                           "idle_mb": idle, "launcher_mb": ray_launcher, "run_mb": ray_run})

    if "queue" in parts:
        orders = list(getattr(settings, "QUEUE_ORDERS", ("fifo", "fair"))) if hasattr(settings, "queue_order") \
            else [None]
        for order in orders:
            ahead = longest_wait(order)
            name = order or "FIFO (the store's only order here)"
            result.setdefault("longest_wait_runs", {})[name] = ahead
            row(f"30 visitors × 6 runs, longest wait, {name}", f"{ahead} runs ahead",
                f"≈ {ahead / 2 * per_run / 60:.1f} min at 2 slots, {per_run:.0f} s a run")

    if "writes" in parts:
        with environment(AUGVIZ_DB=None):
            sqlite = fresh_store()
            for batch in (16, 1):
                rate = writes_per_s(sqlite, batch, 1.0 if args.quick else 3.0)
                result.setdefault("writes_per_s", {})[f"sqlite/{batch}"] = rate
                row(f"metric rows written per second, batches of {batch}", f"{rate:,.0f} SQLite")
        if hasattr(settings, "database") and (PG_BIN / "initdb").exists():
            with postgres_server() as url, environment(AUGVIZ_DB=url):
                pg = default_store()
                for batch in (16, 1):
                    rate = writes_per_s(pg, batch, 1.0 if args.quick else 3.0)
                    result["writes_per_s"][f"postgresql/{batch}"] = rate
                    row(f"metric rows written per second, batches of {batch}", "", f"{rate:,.0f} PostgreSQL")
        else:
            row("metric rows written per second, PostgreSQL", "", "n/a: no PostgreSQL engine in this tree")

    if "startup" in parts:
        startups(args, result, row)

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"(the benchmark's child processes used {children.ru_utime + children.ru_stime:.0f} s of CPU)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


def startups(args: argparse.Namespace, result: dict, row: Callable[..., None]) -> None:
    """Part 5: start-up CPU and memory of this tree, and of ``--baseline`` when given, interleaved."""
    trees = {"this tree": ROOT}
    old = None
    if args.baseline:
        old = Path(tempfile.mkdtemp(prefix="base"))
        archive = subprocess.run(["git", "archive", args.baseline], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
        trees[args.baseline] = old
    try:
        for what, code in STARTUPS.items():
            seen: dict[str, list[tuple[float, float]]] = {t: [] for t in trees}
            for _ in range(3 if args.quick else 7):
                for name, tree in trees.items():
                    with environment(AUGVIZ_HOME=tempfile.mkdtemp(prefix="start")):
                        seen[name].append(startup(tree, code))
            medians = {t: (statistics.median(c for c, _ in v), statistics.median(m for _, m in v))
                       for t, v in seen.items()}
            result.setdefault("startup", {})[what] = medians
            here = medians["this tree"]
            other = ""
            if args.baseline:
                base = medians[args.baseline]
                other = (f"{args.baseline}: {base[0]:.2f} s, {base[1]:.0f} MB "
                         f"(×{here[0] / base[0]:.3f} CPU, ×{here[1] / base[1]:.3f} memory)")
            row(f"start-up without Ray: {what}", f"{here[0]:.2f} s CPU, {here[1]:.0f} MB", other)
    finally:
        if old:
            shutil.rmtree(old, ignore_errors=True)


if __name__ == "__main__":
    main()

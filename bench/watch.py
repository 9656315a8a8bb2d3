"""The cost of watching: what an open page keeps costing the server, and what a page's first load costs with a
large run store.

1. watching   the Train page showing a run that is training (a writer in this process appends 50 steps a second
              and an epoch every 28 steps, as a default run on the development machine does): the Streamlit
              server's CPU seconds per second while one browser keeps the page open. Goal: at most 0.02.
2. first load the Runs, Train and Gradients pages opened in a browser with 10,000 stored runs: the server's CPU
              seconds for the page's first load (a fresh server each, the Explore page loaded first so that the
              imports are not counted). Goal: at most 1 s each.

Each case drives a real ``streamlit run app.py`` with Debian's Chromium (Playwright), and measures the server
process's own CPU time from /proc, which other load on the machine inflates far less than wall time.
``--tree DIR`` serves another checkout (e.g. ``git archive <rev> | tar -x -C DIR``) for a before/after table
measured in the same session.

Usage: python -m bench.watch [--tree DIR] [--runs 10000] [--seconds 20] [--cases watching,first-load] [--json F]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from bench.abuse import browser, cpu_s, descendants, settle, wait_rendered

ROOT = Path(__file__).parents[1]
GOAL_WATCH_CPU_PER_S, GOAL_FIRST_LOAD_CPU_S = 0.02, 1.0
STEPS_PER_S, STEPS_PER_EPOCH = 50, 28
CHART = "[data-testid='stPlotlyChart']"


@contextmanager
def server(tree: Path, home: Path) -> Iterator[tuple[int, str]]:
    """``streamlit run app.py`` from ``tree`` on a loopback port the system picks, its runs in ``home``."""
    sys.path.insert(0, str(ROOT))
    from tests.browser import start_server, stop_server

    proc, url = start_server({"AUGVIZ_HOME": str(home), "AUGVIZ_MAX_RUNS": "1", "PYTHONPATH": str(tree)}, tree)
    try:
        yield proc.pid, url
    finally:
        for child in descendants(proc.pid):
            with suppress(ProcessLookupError):
                os.kill(child, 15)
        stop_server(proc)


def _schema(tree: Path, home: Path) -> None:
    """Create the run database with ``tree``'s own code (its schema, its indexes)."""
    subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from augviz.store import Store; "
                    "Store(Path(sys.argv[1]))", str(home / "runs.sqlite")],
                   cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, check=True)


def fill(tree: Path, home: Path, count: int) -> None:
    """``count`` finished runs as experiments leave them: the default configuration without and with the seed
    article's pipeline, seeds 0, 1, 2, … (each with a few metrics rows), with their fingerprint keys where
    ``tree``'s schema keeps them, as its store writes them."""
    _schema(tree, home)
    from augviz import serialize
    from augviz.preview import SEED_PIPELINE
    from augviz.runconfig import RunConfig
    from augviz.store import fingerprint

    db = sqlite3.connect(home / "runs.sqlite")
    keyed = "fingerprint" in {r[1] for r in db.execute("PRAGMA table_info(runs)")}
    now, pipeline = time.time(), serialize.to_dict(SEED_PIPELINE)
    rows = []
    for i in range(count):
        cfg = RunConfig(seed=i // 2, pipeline=pipeline if i % 2 else None, group=f"exp-{i // 6:08x}")
        rows.append((cfg.to_json(), cfg.label(), "", "finished", now, now, now, '["conv1", "conv2", "conv3", '
                     '"dense", "out"]', 1000, '["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]', 0.8, 0.6,
                     *([fingerprint.key(cfg.to_dict())] if keyed else [])))
    with db:
        ids = []
        for r in rows:
            ids.append(db.execute("INSERT INTO runs (config, label, grp, status, created, started, ended, layers, "
                                  f"total_steps, classes, test_acc, test_loss{', fingerprint' if keyed else ''}) "
                                  f"VALUES ({', '.join('?' * len(r))})", r).lastrowid)
        db.executemany("INSERT INTO steps VALUES (?, ?, 1, 1.0, 1.0, '[1, 1, 1, 1, 1]')",
                       [(i, s) for i in ids for s in (1, 2)])
        db.executemany("INSERT INTO epochs VALUES (?, 1, 1.0, 0.5, 1.0, 0.5, 100.0)", [(i,) for i in ids])
    db.close()


class Writer:
    """A run that trains as far as the store can tell: ``STEPS_PER_S`` steps a second, flushed four times a
    second as a worker's sink does, an epoch row every ``STEPS_PER_EPOCH`` steps."""

    def __init__(self, db: Path, run_id: int) -> None:
        self.db, self.run_id, self.on = db, run_id, True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        db = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        step, epoch, t0 = 0, 0, time.monotonic()
        while self.on:
            time.sleep(0.25)
            upto = int((time.monotonic() - t0) * STEPS_PER_S)
            rows = [(self.run_id, s, 1 + (s - 1) // STEPS_PER_EPOCH, 2.0 / s, 1.0, f"[{0.1 * s}, 0.2, 0.3, 0.4, 0.5]")
                    for s in range(step + 1, upto + 1)]
            db.executemany("INSERT OR IGNORE INTO steps VALUES (?, ?, ?, ?, ?, ?)", rows)
            step = upto
            while (epoch + 1) * STEPS_PER_EPOCH <= step:
                epoch += 1
                db.execute("INSERT OR IGNORE INTO epochs VALUES (?, ?, 1.0, 0.5, 1.0, 0.5, 1000.0)",
                           (self.run_id, epoch))
        db.close()

    def stop(self) -> None:
        self.on = False
        self.thread.join()


def case_watching(tree: Path, seconds: float, limit: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="augviz-watch-") as home_dir:
        home = Path(home_dir)
        _schema(tree, home)
        from augviz.runconfig import RunConfig

        cfg = RunConfig()
        db = sqlite3.connect(home / "runs.sqlite", isolation_level=None)
        run_id = db.execute("INSERT INTO runs (config, label, grp, status, created, started, pid, layers, total_steps, "
                            "classes) VALUES (?, ?, '', 'running', ?, ?, ?, ?, ?, ?)",
                            (cfg.to_json(), cfg.label(), time.time(), time.time(), os.getpid(),
                             '["conv1", "conv2", "conv3", "dense", "out"]', 100_000,
                             '["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]')).lastrowid
        db.close()
        writer = Writer(home / "runs.sqlite", run_id)
        try:
            with server(tree, home) as (pid, url), browser() as page:
                page.goto(f"{url}/train?run={run_id}")
                wait_rendered(page, pid, limit, CHART)
                time.sleep(3)  # past the first redraws
                before, t0 = cpu_s(pid), time.monotonic()
                time.sleep(seconds)
                per_s = (cpu_s(pid) - before) / (time.monotonic() - t0)
                charts = page.locator(CHART).count()
        finally:
            writer.stop()
    return {"case": "watching a training run", "cpu_per_s": per_s, "charts_on_page": charts}


def case_first_load(tree: Path, count: int, limit: float) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory(prefix="augviz-first-load-") as home_dir:
        home = Path(home_dir)
        fill(tree, home, count)
        for name in ("runs", "train", "gradients"):
            with server(tree, home) as (pid, url), browser() as page:
                page.goto(url)
                wait_rendered(page, pid, limit)
                before, t0 = cpu_s(pid), time.monotonic()
                page.goto(f"{url}/{name}")
                done = wait_rendered(page, pid, limit)
                settle(pid, limit)
                out.append({"case": f"{name} page, first load, {count:,} runs", "cpu_s": cpu_s(pid) - before,
                            "wall_s": time.monotonic() - t0, "cut": not done})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to serve (default: this one)")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to watch")
    parser.add_argument("--cases", default="watching,first-load")
    parser.add_argument("--limit", type=float, default=180.0, help="seconds before a busy page is given up on")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    from bench.common import write_json

    tree = args.tree.resolve()
    print(f"serving {tree}", flush=True)
    rows: list[dict] = []
    if "watching" in args.cases:
        r = case_watching(tree, args.seconds, args.limit)
        rows.append(r)
        ok = "met" if r["cpu_per_s"] <= GOAL_WATCH_CPU_PER_S else "NOT met"
        print(f"{r['case']:<40} server CPU {r['cpu_per_s']:.3f} s per second (goal ≤ {GOAL_WATCH_CPU_PER_S}: "
              f"{ok}; {r['charts_on_page']} charts on the page)", flush=True)
    if "first-load" in args.cases:
        for r in case_first_load(tree, args.runs, args.limit):
            rows.append(r)
            ok = "met" if r["cpu_s"] <= GOAL_FIRST_LOAD_CPU_S else "NOT met"
            print(f"{r['case']:<40} server CPU {r['cpu_s']:.2f} s (goal ≤ {GOAL_FIRST_LOAD_CPU_S:g} s: {ok}"
                  f"{'; cut short' if r['cut'] else ''}), wall {r['wall_s']:.1f} s", flush=True)
    write_json(args.json, {"tree": str(tree), "rows": rows})


if __name__ == "__main__":
    main()

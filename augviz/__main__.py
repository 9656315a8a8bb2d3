"""The command line: ``python -m augviz train --config run.json``, ``python -m augviz runs``.

Runs started here are stored in the same database as the app's, so they show up on its pages.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from augviz.errors import ConfigError, DataError, StoreError
from augviz.store import Store, default_store
from augviz.train import DetailMetrics, EpochMetrics, StepMetrics


class Printer:
    """Progress on the terminal: a line per epoch, a dot every few steps."""

    def __init__(self) -> None:
        self.total = 0

    def started(self, layer_names: list[str], total_steps: int, classes: tuple[str, ...]) -> None:
        self.total = total_steps
        print(f"training {total_steps} steps; layers: {', '.join(layer_names)}", flush=True)

    def step(self, m: StepMetrics) -> None:
        if m.step % 20 == 0:
            print(f"  step {m.step}/{self.total}  loss {m.loss:.4f}  grad norm {m.grad_total:.3g}", flush=True)

    def epoch(self, m: EpochMetrics) -> None:
        val = f"  val loss {m.val_loss:.4f}  val acc {m.val_acc:.3f}" if m.val_acc is not None else ""
        print(f"epoch {m.epoch}: train loss {m.train_loss:.4f}  train acc {m.train_acc:.3f}{val}"
              f"  ({m.images_per_s:.0f} images/s)", flush=True)

    def detail(self, m: DetailMetrics) -> None:
        pass  # histograms are for the app's charts, not the terminal


def _store(args: argparse.Namespace) -> Store:
    return Store(Path(args.db)) if getattr(args, "db", None) else default_store()


def cmd_train(args: argparse.Namespace) -> int:
    from augviz import runconfig, worker

    cfg = runconfig.loads(Path(args.config).read_text())
    store = _store(args)
    run_id = store.create(cfg, status="running", pid=os.getpid())
    print(f"run {run_id}: {cfg.label()}", flush=True)
    status = worker.execute(store, run_id, cfg, echo=Printer())
    run = store.get(run_id)
    assert run is not None
    print(f"run {run_id} {status}" + (f": {run.error}" if run.error else ""))
    if run.test_acc is not None:
        print(f"test accuracy {run.test_acc:.4f}  test loss {run.test_loss:.4f}  "
              f"{run.images_per_s:.0f} images/s  {run.wall_s:.1f} s")
    return 0 if status in ("finished", "stopped") else 1


def cmd_runs(args: argparse.Namespace) -> int:
    store = _store(args)
    store.reap()
    print(f"{'id':>4}  {'status':<11} {'test acc':>8} {'time':>7}  label")
    for r in store.runs():
        acc = f"{r.test_acc:.4f}" if r.test_acc is not None else "-"
        wall = f"{r.wall_s:.1f}s" if r.wall_s is not None else "-"
        print(f"{r.id:>4}  {r.status:<11} {acc:>8} {wall:>7}  {r.label}")
    return 0


def cmd_work(args: argparse.Namespace) -> int:
    from augviz import worker

    worker.work(_store(args), args.run_id)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m augviz", description="augviz runs from the command line")
    parser.add_argument("--db", help="run database (default: $AUGVIZ_HOME/runs.sqlite)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train one run in the foreground, printing progress")
    p.add_argument("--config", required=True, help="a run configuration JSON file")
    p.set_defaults(fn=cmd_train)
    p = sub.add_parser("runs", help="list stored runs")
    p.set_defaults(fn=cmd_runs)
    p = sub.add_parser("work", help=argparse.SUPPRESS)
    p.add_argument("run_id", type=int)
    p.add_argument("--db", help=argparse.SUPPRESS)
    p.set_defaults(fn=cmd_work)
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except (ConfigError, DataError, StoreError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The default sweep, measured on this machine: the Train page's default configuration with the Explore page's
default pipeline (the seed article's Keras ImageDataGenerator) at strengths 0, 0.5, 1, 1.5 and 2 over 3 seeds,
baselines included, run as the app runs it: queued through ``augviz.worker`` into a fresh run store and trained
by worker processes. Prints the wall time from the start to the last run's end (goal: at most 3 minutes on the
2-core development machine with nothing else running), the CPU seconds the workers used (robust to other load),
each value's mean and 95 % interval on validation and on test, and the answer (picked on validation).

Usage: python -m bench.tune [--quick] [--seeds N] [--sizes N ...] [--json FILE]
(``--quick``: 2 seeds of 100 steps at 500 images, strengths 0, 1 and 2: the plumbing in a few minutes, not an
answer. ``AUGVIZ_MAX_RUNS=2`` trains two runs side by side, one thread each.)
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from augviz import serialize, sweep, worker
from augviz.__main__ import _table
from augviz.preview import SEED_PIPELINE
from augviz.runconfig import RunConfig
from bench.common import fresh_store, machine, train_all, write_json

TARGET_S = 180.0


def run_sweep(sw: sweep.Sweep) -> dict:
    """Train ``sw`` in a fresh store, wait for every run, and return its timing and answer."""
    with fresh_store() as store:
        todo = sweep.to_launch(sw, [])
        wall, cpu = train_all(store, lambda: worker.launch_all(store, todo, "bench", sweep.launch_key(todo)))
        state = sweep.progress(store, sw)
        failed = [r.status for r in store.runs() if r.status != "finished"]
        return {"runs": len(todo), "wall_s": wall, "workers_cpu_s": cpu, "not_finished": failed,
                "answers": [{"size": a.size, "table": a.table(), "sentence": a.sentence(), "pick": a.pick()}
                            for a in state.answers]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small sweep that checks the plumbing")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--sizes", type=int, nargs="*", default=[])
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    base, values, seeds = RunConfig(), sweep.STRENGTHS, 3
    if args.quick:
        base, values, seeds = replace(base, train_size=500, steps=100), (0.0, 1.0, 2.0), 2
    sw = sweep.Sweep(base, serialize.to_dict(SEED_PIPELINE), values=values, sizes=tuple(args.sizes),
                     seeds=args.seeds or seeds)
    print(f"machine: {machine()}")
    print(f"sweep: strengths {', '.join(f'{v:g}' for v in sw.values)} × {sw.seeds} seeds"
          f"{' × sizes ' + ', '.join(map(str, sw.sizes)) if sw.sizes else ''}, {base.steps} steps a run"
          f"{' (--quick)' if args.quick else ''}; AUGVIZ_MAX_RUNS={worker.max_concurrent()}")
    out = run_sweep(sw)
    print(f"{out['runs']} runs: wall {out['wall_s']:.1f} s (goal for the default sweep: at most {TARGET_S:.0f} s; "
          f"ratio {out['wall_s'] / TARGET_S:.2f}), workers' CPU {out['workers_cpu_s']:.1f} s")
    if out["not_finished"]:
        print(f"not finished: {out['not_finished']}")
    for a in out["answers"]:
        print()
        print(_table(a["table"]))
        print(a["sentence"])
    write_json(args.json, {"sweep": sw.to_dict(), **out})


if __name__ == "__main__":
    main()

"""The seed article's two lessons, measured on this machine.

1. Does augmentation help? The Train page's experiment with its defaults (the built-in dataset, the default run
   configuration, the Explore page's default pipeline, which is the article's Keras ImageDataGenerator, and the
   panel's default number of seeds), run as the app runs it: every run queued through ``augviz.worker`` into a
   fresh run store and trained by worker processes. Prints the wall time from the click to the last run's end
   (target: at most 90 s on the 2-core development machine with nothing else running), the CPU seconds the
   workers used (robust to other load on the machine), each arm's mean test accuracy against chance, and the
   verdict.
2. Vanishing and exploding gradients: per gradient-lab preset its verdict at initialisation, its first/last and
   largest gradient norms and the result of its default run (``bench.gradients.preset_table``).

Usage: python -m bench.lessons [--seeds N] [--sizes N ...] [--threads N] [--json FILE] [--no-gradients]
(``AUGVIZ_MAX_RUNS=2 python -m bench.lessons --threads 1`` runs the arms side by side, one thread each.)
"""

from __future__ import annotations

import argparse
import statistics

from augviz import experiment, serialize, worker
from augviz.preview import SEED_PIPELINE
from augviz.runconfig import RunConfig
from bench import gradients
from bench.common import fresh_store, machine, train_all, write_json

DEFAULT_SEEDS = 3  # the experiment panel's default
TARGET_S = 90.0


def default_experiment(seeds: int, sizes: list[int] | None, threads: int | None = None) -> dict:
    """Queue the default experiment into a fresh store, wait for every run to end, and summarise it (``threads``:
    each run's CPU threads, for running arms side by side with ``$AUGVIZ_MAX_RUNS``)."""
    base = RunConfig(threads=threads)
    configs = experiment.plan(base, serialize.to_dict(SEED_PIPELINE), seeds, sizes)
    with fresh_store() as store:
        wall, cpu = train_all(store, lambda: [worker.launch(store, cfg) for cfg in configs])
        runs = store.runs()
    failed = [f"{r.label}: {r.status} {r.error or ''}" for r in runs if r.status != "finished"]
    comparisons = experiment.compare(runs)
    return {"runs": len(configs), "steps": base.steps, "model": base.model, "threads": threads,
            "at_once": worker.max_concurrent(), "wall_s": wall,
            "worker_cpu_s": cpu, "failed": failed,
            "sizes": [{"train_size": c.train_size, "chance": c.chance, "seeds": c.seeds,
                       "without": statistics.fmean(c.plain) if c.plain else None,
                       "with": statistics.fmean(c.augmented) if c.augmented else None,
                       "without_min": min(c.plain, default=None), "with_min": min(c.augmented, default=None),
                       "difference": c.mean, "interval": c.interval, "verdict": c.verdict,
                       "sentence": c.sentence()} for c in comparisons]}


def print_experiment(result: dict) -> None:
    print(f"\nThe default experiment: {result['runs']} runs of {result['steps']} steps ({result['model']}), "
          f"queued as the Train page queues them, {result['at_once']} at a time, "
          f"{result['threads'] or 'default'} thread(s) each")
    print(f"  wall time {result['wall_s']:.1f} s (target ≤ {TARGET_S:.0f} s: "
          f"{'met' if result['wall_s'] <= TARGET_S else 'NOT met'}); workers' CPU time {result['worker_cpu_s']:.1f} s")
    print(f"  {'images':>7} {'chance':>7} {'without':>8} {'with':>8} {'worst arm run':>14} {'difference':>11} "
          f"{'95% interval':>16}  verdict")
    for s in result["sizes"]:
        ci = s["interval"]
        interval = f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else "-"
        worst = min(v for v in (s["without_min"], s["with_min"]) if v is not None)
        print(f"  {s['train_size']:>7} {100 * s['chance']:>6.0f}% {100 * s['without']:>7.1f}% "
              f"{100 * s['with']:>7.1f}% {100 * worst:>13.1f}% {100 * s['difference']:>+10.1f} {interval:>16}  "
              f"{s['verdict']}")
    for s in result["sizes"]:
        print(f"  {s['sentence']}")
    for f in result["failed"]:
        print(f"  did not finish: {f}")


def gradient_lessons() -> list[dict]:
    """The gradient lab's side of the table, from bench/gradients.py (one row per preset: preset, verdict,
    first_last_ratio, largest_norm, result)."""
    return gradients.preset_table()


def print_gradients(rows: list[dict]) -> None:
    print(f"\n{'preset':<12}{'verdict at init':<18}{'first/last norm':>16}{'largest norm':>14}  default run")
    for r in rows:
        print(f"{r['preset']:<12}{r['verdict']:<18}{r['first_last_ratio']:>16.3g}{r['largest_norm']:>14.3g}  "
              f"{r['result']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS)
    parser.add_argument("--sizes", type=int, nargs="*", help="training-set sizes (default: the configuration's)")
    parser.add_argument("--threads", type=int, help="CPU threads per run (default: PyTorch's)")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--no-gradients", action="store_true", help="only the experiment")
    args = parser.parse_args()
    print(machine())
    out: dict = {"machine": machine(), "experiment": default_experiment(args.seeds, args.sizes or None, args.threads)}
    print_experiment(out["experiment"])
    if not args.no_gradients:
        out["gradients"] = gradient_lessons()
        print_gradients(out["gradients"])
    if args.json:
        write_json(args.json, out)


if __name__ == "__main__":
    main()

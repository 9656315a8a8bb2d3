"""The gradient lab's figures, for every preset, on the built-in dataset, as a teacher would click them.

For each preset: the verdict at initialisation, the first/last-layer gradient-norm ratio and the largest layer
gradient norm (seed 0, the page's analysis), then the preset's default run (its optimizer, learning rate, epochs
and training images) at seeds 0, 1, 2 and its test accuracy, or the step where its loss stopped being finite.
Then the cost cap: the CPU time and memory growth of the largest analyses the page's sliders allow.
Targets: each fix ends well above chance (10 %) at every seed while the vanishing preset stays near it; the
exploding preset diverges and the clipped one stays finite; a default run takes at most 60 s of wall time; no
admitted analysis takes more than about 5 s of CPU or 500 MB.

Usage: python -m bench.gradients [--json FILE] [--presets NAME ...] [--seeds N]
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from augviz import data, gradlab
from augviz.deepnet import NetSpec
from augviz.gradlab import PRESETS
from augviz.train import train
from bench.common import machine, write_json


class _Quiet:
    """A training sink that keeps nothing: the table needs only the summary."""

    def started(self, *a) -> None: pass
    def step(self, m) -> None: pass
    def epoch(self, m) -> None: pass
    def detail(self, m) -> None: pass


def _analysis_batch() -> tuple[torch.Tensor, torch.Tensor]:
    ds = data.load("synthetic", 1000, 0.0, 0)  # the page's analysis batch
    return ds.train.x[:gradlab.BATCHES[0]].float() / 255, ds.train.y[:gradlab.BATCHES[0]]


def preset_table(names: list[str] | None = None, seeds: int = 3) -> list[dict]:
    """Per preset: preset, label, verdict, first_last_ratio and largest_norm at initialisation (seed 0, as the
    page shows it), and its default run at seeds 0 … ``seeds`` − 1: result (the test accuracies, or "diverged at
    step N"), test_accs, diverged_steps, and wall_s and cpu_s of one run (the mean)."""
    x, y = _analysis_batch()
    rows = []
    for name in names or list(PRESETS):
        p = PRESETS[name]
        a = gradlab.analyze_capped(p.net, x, y, seed=0)
        ds = data.load("synthetic", p.train_size, 0.1, 0)
        accs, diverged, walls, cpus = [], [], [], []
        for seed in range(seeds):
            wall, cpu = time.perf_counter(), time.process_time()
            s = train(p.run_config(seed=seed), _Quiet(), dataset=ds)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            if s.status == "diverged":
                diverged.append(s.diverged_step)
            else:
                accs.append(s.test_acc)
        parts = [" ".join(f"{100 * acc:.0f}" for acc in accs) + " %"] if accs else []
        parts += [f"diverged at step {', '.join(map(str, diverged))}"] if diverged else []
        rows.append({"preset": name, "label": p.label, "verdict": gradlab.diagnose(a).label,
                     "first_last_ratio": a.ratio, "largest_norm": max(a.norms), "result": "; ".join(parts),
                     "test_accs": accs, "diverged_steps": diverged, "wall_s": sum(walls) / seeds,
                     "cpu_s": sum(cpus) / seeds})
    return rows


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0]) / 1024


def cap_table() -> list[dict]:
    """The largest analyses the sliders allow, admitted at a smaller batch or refused: CPU time and growth."""
    x, y = _analysis_batch()
    rows = []
    for kind, width, extra in (("cnn", 256, {}), ("cnn", 64, {"batchnorm": True, "residual": True}),
                               ("cnn", 32, {"batchnorm": True, "residual": True}),
                               ("mlp", 256, {"batchnorm": True, "residual": True})):
        for depth in (50, 20, 12):
            spec = NetSpec(kind=kind, depth=depth, width=width, activation="relu", init="kaiming", **extra)
            try:
                batch = gradlab.analysis_batch(spec, 3, 32)
            except gradlab.TooCostly:
                continue
            before, cpu = _rss_mb(), time.process_time()
            gradlab.analyze_capped(spec, x, y, 0)
            rows.append({"net": f"{kind} depth {depth} width {width}{' BN+res' if extra else ''}", "batch": batch,
                         "gflop": gradlab.cost(spec, 3, 32, batch).gflop, "cpu_s": time.process_time() - cpu,
                         "rss_growth_mb": _rss_mb() - before})
            break
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--presets", nargs="*", choices=list(PRESETS), help="only these presets")
    parser.add_argument("--seeds", type=int, default=3, help="default runs per preset (seeds 0, 1, …)")
    args = parser.parse_args()
    print("machine:", ", ".join(f"{k} {v}" for k, v in machine().items()))
    rows = preset_table(args.presets, args.seeds)
    print(f"\n{'preset':<46}{'verdict':<11}{'first/last':>11}{'largest':>10}   {'test accuracy per seed':<28}"
          f"{'wall s':>7}{'cpu s':>7}")
    for r in rows:
        print(f"{r['label']:<46}{r['verdict']:<11}{r['first_last_ratio']:>11.2g}{r['largest_norm']:>10.2g}   "
              f"{r['result']:<28}{r['wall_s']:>7.1f}{r['cpu_s']:>7.1f}")
    caps = cap_table()
    print(f"\ncost cap ({gradlab.MAX_GFLOP:g} GFLOP, {gradlab.MAX_MB:g} MB): the largest admitted analyses")
    print(f"{'network':<34}{'batch':>6}{'GFLOP':>7}{'cpu s':>7}{'RSS +MB':>9}")
    for c in caps:
        print(f"{c['net']:<34}{c['batch']:>6}{c['gflop']:>7.1f}{c['cpu_s']:>7.2f}{c['rss_growth_mb']:>9.0f}")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    write_json(args.json, {"presets": rows, "cost_cap": caps})


if __name__ == "__main__":
    main()

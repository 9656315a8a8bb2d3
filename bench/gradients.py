"""The gradient lab's acceptance figures, for every preset, on the built-in dataset.

At initialisation, averaged over 5 seeds: the first-layer / last-layer gradient-norm ratio. Then 100 steps of
training with the preset's optimizer: whether the loss stayed finite (and the step it stopped being so), and the
largest total gradient norm seen (which clipping must keep at or below its threshold).
Targets: 20-layer sigmoid MLP (default init) ratio < 1e-3; 20-layer ReLU MLP with He init ratio in [0.1, 10];
the exploding preset ratio > 1e3 or a non-finite loss within 100 steps; clipping at c keeps every step ≤ c.

Usage: python -m bench.gradients [--json FILE]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from augviz import data, gradlab
from augviz.gradlab import PRESETS
from augviz.runconfig import RunConfig
from augviz.train import train
from bench.common import machine, write_json


class Norms:
    def __init__(self) -> None:
        self.totals: list[float] = []

    def started(self, *a): pass
    def step(self, m): self.totals.append(m.grad_total)
    def epoch(self, m): pass
    def detail(self, m): pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    print("machine:", ", ".join(f"{k} {v}" for k, v in machine().items()))
    ds = data.load("synthetic", 2000, 0.1, 0)
    x, y = ds.train.x[:128].float() / 255, ds.train.y[:128]
    rows = []
    print(f"\n{'preset':<44}{'ratio (mean of 5)':>18}{'min':>10}{'max':>10}{'init ms':>9}   100 steps")
    for name, p in PRESETS.items():
        ratios, start = [], time.perf_counter()
        for seed in range(5):
            torch.manual_seed(seed)
            ratios.append(gradlab.analyze(gradlab.DeepNet(p.net, 3, 32, 10), x, y).ratio)
        ms = (time.perf_counter() - start) / 5 * 1000
        norms = Norms()
        cfg = RunConfig(model="deepnet", net=p.net.to_dict(), optimizer=p.optimizer, lr=p.lr, clip_norm=p.clip,
                        epochs=20, batch_size=64, schedule="constant")
        s = train(cfg, norms, dataset=ds, max_steps=100)
        trained = (f"loss not finite at step {s.diverged_step}" if s.status == "diverged"
                   else f"finite; largest total norm {max(norms.totals):.3g}")
        mean = statistics.fmean(ratios)
        rows.append({"preset": name, "ratio_mean": mean, "ratio_min": min(ratios), "ratio_max": max(ratios),
                     "init_ms": ms, "status": s.status, "diverged_step": s.diverged_step,
                     "max_total_norm": max(norms.totals) if norms.totals else None})
        print(f"{p.label:<44}{mean:>18.3g}{min(ratios):>10.3g}{max(ratios):>10.3g}{ms:>9.1f}   {trained}")
    by = {r["preset"]: r for r in rows}
    clip = PRESETS["clipping"].clip
    targets = {
        "sigmoid MLP ratio < 1e-3": by["vanishing"]["ratio_mean"] < 1e-3,
        "ReLU + He ratio in [0.1, 10]": 0.1 <= by["relu_he"]["ratio_mean"] <= 10,
        "exploding: ratio > 1e3 or non-finite within 100 steps": by["exploding"]["ratio_mean"] > 1e3
        or (by["exploding"]["status"] == "diverged" and by["exploding"]["diverged_step"] <= 100),
        f"clipping at {clip:g} keeps every step ≤ {clip:g}": by["clipping"]["max_total_norm"] <= clip * (1 + 1e-5),
    }
    print("\ntargets:")
    for label, ok in targets.items():
        print(f"  {'met ' if ok else 'MISS'}  {label}")
    write_json(args.json, {"presets": rows, "targets": targets})


if __name__ == "__main__":
    main()

"""The seed article's experiment: the same configuration with and without augmentation, over several seeds
(and optionally several training-set sizes), and an honest summary of the difference."""

from __future__ import annotations

import statistics
import uuid
from dataclasses import dataclass, replace
from typing import Any

from augviz.runconfig import RunConfig
from augviz.store import Run


def plan(base: RunConfig, pipeline: dict[str, Any], seeds: int, sizes: list[int] | None = None) -> list[RunConfig]:
    """The runs of one experiment: for each size and seed, one run without and one with ``pipeline``."""
    group = f"exp-{uuid.uuid4().hex[:8]}"
    out = []
    for size in sizes or [base.train_size]:
        for seed in range(base.seed, base.seed + seeds):
            for aug in (None, pipeline):
                arm = "augmented" if aug else "no augmentation"
                out.append(replace(base, train_size=size, seed=seed, pipeline=aug, group=group,
                                   name=f"{arm}, {size} images, seed {seed}"))
    return out


@dataclass
class Comparison:
    """Test accuracy with and without augmentation at one training-set size, paired by seed."""

    train_size: int
    plain: list[float]
    augmented: list[float]
    differences: list[float]  # augmented − plain, per seed that finished in both arms

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.differences) if self.differences else None

    @property
    def spread(self) -> float | None:
        return statistics.stdev(self.differences) if len(self.differences) > 1 else None

    def sentence(self) -> str:
        """The result in words, with its uncertainty and how many seeds it rests on."""
        if self.mean is None:
            return f"{self.train_size} training images: no seed has finished in both arms yet."
        n = len(self.differences)
        spread = f" ± {100 * self.spread:.1f}" if self.spread is not None else ""
        verdict = "helped" if self.mean > 0 else "hurt" if self.mean < 0 else "made no difference"
        if self.spread is not None and abs(self.mean) <= self.spread:
            verdict = "made no clear difference"
        return (f"{self.train_size} training images: augmentation {verdict}: test accuracy "
                f"{100 * statistics.fmean(self.plain):.1f}% without, {100 * statistics.fmean(self.augmented):.1f}% "
                f"with, a difference of {100 * self.mean:+.1f}{spread} points (mean ± sd over {n} seed"
                f"{'s' if n != 1 else ''}).")


def compare(runs: list[Run]) -> list[Comparison]:
    """Pair the finished runs of an experiment by size and seed."""
    done = [r for r in runs if r.status == "finished" and r.test_acc is not None]
    out = []
    for size in sorted({r.config.train_size for r in done}):
        at = [r for r in done if r.config.train_size == size]
        plain = {r.config.seed: r.test_acc for r in at if r.config.pipeline is None}
        aug = {r.config.seed: r.test_acc for r in at if r.config.pipeline is not None}
        both = sorted(set(plain) & set(aug))
        out.append(Comparison(size, [plain[s] for s in both], [aug[s] for s in both],
                              [aug[s] - plain[s] for s in both]))
    return out

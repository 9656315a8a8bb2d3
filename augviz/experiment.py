"""The seed article's experiment: the same configuration with and without augmentation, over several seeds
(and optionally several training-set sizes), and a verdict that is statistics, not a sign.

Each seed gives one pair of runs that share their training images, initialisation and batch order; the verdict
rests on the paired differences (augmented − plain) through a 95 % paired t-interval: "helped" or "hurt" only
when the interval excludes zero, and "too early to tell" when both arms are still near chance, whatever the sign.
"""

from __future__ import annotations

import math
import statistics
import uuid
from dataclasses import dataclass, replace
from typing import Any

from augviz.runconfig import RunConfig
from augviz.stats import CONFIDENCE, NEAR_CHANCE, signed, t_quantile
from augviz.store import Run

GROUP_PREFIX = "exp-"  # every experiment's group starts so (``plan``); other groups are not experiments


def newest_going(runs: list[Run]) -> str | None:
    """The experiment whose runs are still queued or running and which was started last (its newest run has the
    highest id), or None: what a page shows when nobody chose an experiment (a reload, a second tab)."""
    going = [r for r in runs if r.group.startswith(GROUP_PREFIX) and r.status in ("queued", "running")]
    return max(going, key=lambda r: r.id).group if going else None


def plan(base: RunConfig, pipeline: dict[str, Any], seeds: int, sizes: list[int] | None = None) -> list[RunConfig]:
    """The runs of one experiment: for each size and seed, one run without and one with ``pipeline``."""
    group = f"{GROUP_PREFIX}{uuid.uuid4().hex[:8]}"
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
    chance: float = 0.1  # the accuracy of guessing: one over the number of classes

    @property
    def seeds(self) -> int:
        return len(self.differences)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.differences) if self.differences else None

    @property
    def spread(self) -> float | None:
        """The standard deviation of the paired differences over seeds."""
        return statistics.stdev(self.differences) if self.seeds > 1 else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95 % paired t-interval of the mean difference: mean ± t(0.975, n − 1) · sd / √n (None with one
        seed: one pair says nothing about the spread)."""
        if self.mean is None or self.spread is None:
            return None
        half = t_quantile(self.seeds - 1) * self.spread / math.sqrt(self.seeds)
        return self.mean - half, self.mean + half

    @property
    def near_chance(self) -> bool:
        """Both arms, on average, less than ``NEAR_CHANCE`` above chance: too little learnt to compare."""
        return bool(self.plain) and max(statistics.fmean(self.plain),
                                         statistics.fmean(self.augmented)) < self.chance + NEAR_CHANCE

    @property
    def verdict(self) -> str:
        """One of "waiting", "too early", "helped", "hurt", "unclear"."""
        if self.mean is None:
            return "waiting"
        if self.near_chance:
            return "too early"
        ci = self.interval
        if ci is None or ci[0] <= 0 <= ci[1]:
            return "unclear"
        return "helped" if ci[0] > 0 else "hurt"

    def sentence(self) -> str:
        """The verdict in words, with the accuracies, the interval and how many seeds it rests on."""
        head = f"{self.train_size} training images"
        if self.mean is None:
            return f"{head}: no seed has finished in both arms yet."
        n = self.seeds
        seeds = f"{n} seed{'s' if n != 1 else ''}"
        accs = (f"test accuracy {100 * statistics.fmean(self.plain):.1f}% without, "
                f"{100 * statistics.fmean(self.augmented):.1f}% with augmentation")
        verdict = self.verdict
        if verdict == "too early":
            return (f"{head}: too early to tell: both arms are near chance ({100 * self.chance:.0f}%); train longer "
                    f"({accs}).")
        ci = self.interval
        if ci is None:
            return (f"{head}: no clear difference with {seeds}: run more seeds (an interval needs two or more). "
                    f"{accs[0].upper()}{accs[1:]}, a difference of {signed(100 * self.mean)} points.")
        stats = (f"a difference of {signed(100 * self.mean)} points, {100 * CONFIDENCE:.0f}% interval "
                 f"[{signed(100 * ci[0])}, {signed(100 * ci[1])}] (paired t-interval over {seeds})")
        if verdict == "unclear":
            return f"{head}: no clear difference with {seeds}: run more seeds. {accs[0].upper()}{accs[1:]}, {stats}."
        return f"{head}: augmentation {verdict}: {accs}, {stats}."


def compare(runs: list[Run]) -> list[Comparison]:
    """Pair the finished runs of an experiment by size and seed."""
    done = [r for r in runs if r.status == "finished" and r.test_acc is not None]
    out = []
    for size in sorted({r.config.train_size for r in done}):
        at = [r for r in done if r.config.train_size == size]
        plain = {r.config.seed: r.test_acc for r in at if r.config.pipeline is None}
        aug = {r.config.seed: r.test_acc for r in at if r.config.pipeline is not None}
        both = sorted(set(plain) & set(aug))
        classes = max((len(r.classes) for r in at), default=0)
        out.append(Comparison(size, [plain[s] for s in both], [aug[s] for s in both],
                              [aug[s] - plain[s] for s in both], 1 / classes if classes else 0.1))
    return out

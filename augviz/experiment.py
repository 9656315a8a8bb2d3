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
from functools import cached_property
from typing import Any

from augviz import sweep
from augviz.errors import ConfigError
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
    """Every run of one experiment, in one new group, whatever the store holds (a benchmark's: it times them all):
    for each size and seed, one run without and one with ``pipeline``."""
    group = f"{GROUP_PREFIX}{uuid.uuid4().hex[:8]}"
    out = []
    for size in sizes or [base.train_size]:
        for seed in range(base.seed, base.seed + seeds):
            for aug in (None, pipeline):
                out.append(replace(base, train_size=size, seed=seed, pipeline=aug, group=group,
                                   name=_name(aug is not None, size, seed)))
    return out


def _name(augmented: bool, size: int, seed: int) -> str:
    return f"{'augmented' if augmented else 'no augmentation'}, {size} images, seed {seed}"


@dataclass(frozen=True)
class Experiment:
    """One experiment as planned: ``base`` (the Train page's configuration; its own pipeline, name and group are
    not used) without augmentation and with ``pipeline`` (a document, at the strength chosen), for ``seeds``
    seeds from the base's, at each of ``sizes`` (none: the base's size).

    Its runs are found in the store by configuration, as a sweep's are (``sweep.match``): a stored run of the
    same configuration serves it, whichever experiment or sweep queued it, so an experiment trains only what no
    stored run serves, and a link carries the plan rather than a group. It is a strength sweep of ``pipeline``
    at the single strength 1 (``as_sweep``): its baselines and augmented runs are the ones a sweep of the same
    pipeline trains at the same strength."""

    base: RunConfig
    pipeline: dict[str, Any]
    seeds: int = 3
    sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", replace(self.base, pipeline=None, name="", group="", threads=None))
        object.__setattr__(self, "sizes", self.as_sweep.sizes)  # validated, sorted, once each

    @cached_property
    def as_sweep(self) -> sweep.Sweep:
        """The same runs as a sweep (ConfigError, naming the field, for a plan that cannot be trained)."""
        return sweep.Sweep(self.base, self.pipeline, sweep.Axis(), (1.0,), tuple(self.sizes), self.seeds)

    def arms(self) -> list[sweep.Arm]:
        """Every planned run: per size and seed, the baseline and the augmented run."""
        return sweep.plan(self.as_sweep)

    @property
    def planned(self) -> int:
        """How many distinct configurations the experiment trains."""
        return len({a.key for a in self.arms()})

    def to_launch(self, runs: list[Run]) -> list[RunConfig]:
        """The configurations no stored run (finished, or still going) serves, in one new experiment group."""
        return sweep.unserved(self.arms(), runs, GROUP_PREFIX,
                              lambda arm: _name(arm.kind != "baseline", arm.size, arm.seed))

    def served(self, runs: list[Run]) -> list[Run]:
        """The stored runs that serve the plan, one per configuration, in id order (``compare`` pairs them)."""
        return sorted(sweep.match(self.arms(), runs).values(), key=lambda r: r.id)

    def begun(self, runs: list[Run]) -> bool:
        """Whether a pair of the plan (both arms of one seed at one size) is in the store, finished or going: the
        experiment has been run, not merely a single run of its configuration started on its own."""
        found = sweep.match(self.arms(), runs)
        stored = {(a.size, a.seed, a.kind) for a in self.arms() if a.key in found}
        return any((size, seed, "baseline") in stored for size, seed, kind in stored if kind != "baseline")

    def to_dict(self) -> dict[str, Any]:
        doc = self.as_sweep.to_dict()
        return {k: doc[k] for k in _KEYS}


_KEYS = ("base", "pipeline", "seeds", "sizes")


def differences(shown: Experiment, other: Experiment) -> list[str]:
    """How ``shown`` differs from ``other``, in words, ``shown``'s value first ("seeds 3 (set: 4)", "the pipeline
    or its strength"): what a page says when the verdict it shows is not that of the experiment set on it."""
    mine, theirs = shown.base.to_dict(), other.base.to_dict()
    out = [f"{k} {mine[k]} (set: {theirs[k]})" for k in mine if mine[k] != theirs.get(k)]
    if shown.pipeline != other.pipeline:
        out.append("the pipeline or its strength")
    if shown.seeds != other.seeds:
        out.append(f"seeds {shown.seeds} (set: {other.seeds})")
    if shown.sizes != other.sizes:
        out.append(f"sizes {_sizes(shown)} (set: {_sizes(other)})")
    return out


def _sizes(plan: Experiment) -> str:
    return ", ".join(map(str, plan.sizes)) or "none"


def from_dict(doc: Any) -> Experiment:
    """An experiment document (``Experiment.to_dict``, a link's), validated; ConfigError names the field."""
    if not isinstance(doc, dict):
        raise ConfigError("", "an experiment is a JSON object")
    for key in doc:
        if key not in _KEYS:
            raise ConfigError(str(key)[:40], f"unknown field (allowed: {', '.join(_KEYS)})")
    sw = sweep.from_dict({**doc, "values": [1.0]})
    return Experiment(sw.base, sw.pipeline, sw.seeds, sw.sizes)


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

    def sentence(self, so_far: tuple[int, int] | None = None) -> str:
        """The verdict in words, with the accuracies, the interval and how many seeds it rests on; ``so_far``
        (``experiment.so_far``: runs finished, of how many) while some of the experiment's runs still go, so
        that a verdict that may yet change does not read as final."""
        head = f"{self.train_size} training images"
        if so_far is not None:
            head = f"So far ({so_far[0]} of {so_far[1]} runs finished), {head.lower()}"
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


def so_far(runs: list[Run]) -> tuple[int, int] | None:
    """(runs finished, runs) while any of an experiment's ``runs`` is queued or running, else None: its verdict
    is then provisional (``Comparison.sentence``)."""
    if all(r.is_over for r in runs):
        return None
    return sum(r.status == "finished" for r in runs), len(runs)


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

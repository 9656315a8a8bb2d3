"""A sweep: how strong should the augmentation be for this data? The Train page's configuration trained at each
value of one axis (the pipeline's strength, or one numeric setting of one step), at one or more training-set
sizes, over several seeds, beside the same runs without augmentation and, optionally, tuning-free policies
(RandAugment, TrivialAugment) as reference arms.

Every run of a seed shares its training images, initialisation and batch order with that seed's baseline (the
run without augmentation, which strength 0 equals): they differ only in the augmentation. A run is never trained
twice: each planned configuration is looked up in the store (finished or still going, name and group aside), so
a baseline is trained once per seed and size and serves every value, every later sweep and every experiment of
the same configuration.

The pick is honest: it chooses on the validation split held out from the training images (the last epoch's
validation accuracy), never on the test set, and reports the chosen value's test accuracy separately against no
augmentation, paired by seed. Values whose paired validation interval against the best contains zero cannot be
told apart from it, and the answer says so.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from augviz import serialize, strength
from augviz.errors import ConfigError
from augviz.pipeline import Pipeline, Step
from augviz.report import percent
from augviz.runconfig import RunConfig
from augviz.runconfig import from_dict as config_from_dict
from augviz.stats import CONFIDENCE, NEAR_CHANCE, signed, t_quantile
from augviz.store import Run, Store
from augviz.store import fingerprint as run_keys
from augviz.transform import REGISTRY

STRENGTHS = (0.0, 0.5, 1.0, 1.5, 2.0)
REFERENCES = ("randaugment", "trivialaugment")
GROUP_PREFIX = "sweep-"
MAX_VALUES = 12
MAX_SEEDS = 10
MAX_RUNS = 200  # a sweep larger than this is a mistake, not a plan (the queue's caps apply as well)
REUSABLE = ("finished", "diverged", "queued", "running")  # a run with an outcome, or one on its way to one


def fingerprint(cfg: RunConfig) -> str:
    """What decides a run's result, as text: its configuration less ``store.fingerprint.IGNORED``."""
    return run_keys.text(cfg.to_dict())


_DEFAULTS = RunConfig().to_dict()


@lru_cache(maxsize=16384)
def _stored_fingerprint(config_json: str) -> str | None:
    """A stored run's ``fingerprint``, from the text of its configuration alone, without validating it: the text
    was written by ``RunConfig.to_json``, so it is ``to_dict``'s form already, and a field an older version did not
    know takes this version's default, as reading it would. Cached: a page matches the same stored runs on every
    draw, and validating ten thousand configurations took seconds (``match`` validates only the runs that match).
    None for a text that is no configuration object."""
    try:
        doc = json.loads(config_json)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    return run_keys.text({**_DEFAULTS, **doc})


def launch_key(cfgs: list[RunConfig]) -> str:
    """One launch's fingerprint (Store.create_many's key): the same planned runs give the same key."""
    text = "\n".join(sorted(fingerprint(c) for c in cfgs))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# ---- what is swept -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """Strength (``step`` None), or one numeric setting of one step: ``param`` of the step at index ``step``.

    A range setting's value ``v`` sets the range to ``v`` either side of the setting's identity, within its bounds
    (rotation ``10``: ±10°; zoom ``0.2``: 0.8 to 1.2; noise σ ``0.1``: 0 to 0.1); a fixed number is set to ``v``.
    """

    step: int | None = None
    param: str | None = None

    @property
    def is_strength(self) -> bool:
        return self.step is None

    def check(self, pipeline: Pipeline) -> None:
        """ConfigError unless this axis names a numeric setting of a step of ``pipeline``."""
        if self.is_strength:
            return
        assert self.step is not None
        if not 0 <= self.step < len(pipeline.steps):
            raise ConfigError("axis.step", f"the pipeline has steps 0 to {len(pipeline.steps) - 1}, got {self.step}")
        step = pipeline.steps[self.step]
        names = sweepable(step)
        if self.param not in names:
            raise ConfigError("axis.param", f"{step.transform.label} has no setting {str(self.param)[:40]!r} to "
                                            f"sweep (sweepable: {', '.join(names) or 'none'})")

    def check_value(self, pipeline: Pipeline, value: float) -> None:
        """ConfigError naming the bound when the setting cannot hold ``value`` (a range setting: when ``value``
        reaches past its bound on both sides, where every larger value would train the same run)."""
        if self.is_strength:
            return
        assert self.step is not None
        p = next(p for p in pipeline.steps[self.step].transform.params if p.name == self.param)
        assert p.low is not None and p.high is not None
        name = self.name(pipeline)
        if p.is_range:
            assert p.identity is not None
            reach = max(p.high - p.identity, p.identity - p.low)
            if value > reach:
                unit = f" {p.unit}" if p.unit else ""
                raise ConfigError("values", f"{name} reaches ±{reach:g} at most ({p.low:g} to {p.high:g}{unit}): "
                                            f"{value:g} is outside it")
        elif not p.low <= value <= p.high:
            raise ConfigError("values", f"{name} holds {p.low:g} to {p.high:g}: {value:g} is outside it")

    def pipeline_at(self, pipeline: Pipeline, value: float) -> Pipeline | None:
        """The pipeline at this axis' ``value``; None for no augmentation (strength 0)."""
        if self.is_strength:
            return None if value == 0 else strength.scale_pipeline(pipeline, value)[0]
        assert self.step is not None and self.param is not None
        step = pipeline.steps[self.step]
        p = next(p for p in step.transform.params if p.name == self.param)
        assert p.low is not None and p.high is not None
        if p.is_range:
            assert p.identity is not None
            lo, hi = max(p.low, p.identity - value), min(p.high, p.identity + value)
            setting: Any = (round(lo), round(hi)) if p.kind == "int" else (lo, hi)
        else:
            setting = round(value) if p.kind == "int" else float(value)
        steps = list(pipeline.steps)
        steps[self.step] = Step(step.name, {**step.params, self.param: setting}, step.p, True)
        return pipeline.with_steps(steps)

    def name(self, pipeline: Pipeline) -> str:
        """"strength", or "Rotation degrees"."""
        if self.is_strength:
            return "strength"
        assert self.step is not None and self.param is not None
        return f"{pipeline.steps[self.step].transform.label} {self.param.replace('_', ' ')}"

    def value_text(self, pipeline: Pipeline, value: float) -> str:
        """One value as the answer writes it: "1.5", or "±10" for a range setting."""
        text = f"{value:.1f}" if float(value * 10).is_integer() and value < 10 else f"{value:g}"
        if self.is_strength:
            return text
        assert self.step is not None
        p = next(p for p in pipeline.steps[self.step].transform.params if p.name == self.param)
        return f"±{value:g}" if p.is_range else f"{value:g}"


def sweepable(step: Step) -> list[str]:
    """The settings of ``step`` a sweep can take as its axis: amounts (settings with an identity) and fixed
    numbers, less those that do nothing as the step is set (``Param.only_when``: a fill value without the
    constant fill)."""
    return [p.name for p in step.transform.params
            if p.kind in ("float", "int") and (p.identity is not None or not p.is_range)
            and (p.only_when is None or step.params.get(p.only_when[0]) == p.only_when[1])]


# ---- the sweep and its runs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """What to train: ``base`` (the Train page's configuration; its own pipeline is not used) with ``pipeline``
    (a document, as set: strength 1) at each of ``values`` of ``axis``, at each of ``sizes`` (none: the base's
    size), for ``seeds`` seeds from the base's, plus the baseline and the ``references`` policies."""

    base: RunConfig
    pipeline: dict[str, Any]
    axis: Axis = Axis()
    values: tuple[float, ...] = STRENGTHS
    sizes: tuple[int, ...] = ()
    seeds: int = 3
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        pipe = serialize.from_dict(self.pipeline)
        self.axis.check(pipe)
        if not self.values or len(self.values) > MAX_VALUES:
            raise ConfigError("values", f"expected 1 to {MAX_VALUES} values")
        for v in self.values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ConfigError("values", f"expected numbers of 0 or more, got {str(v)[:40]!r}")
            if self.axis.is_strength:
                strength.check(v)
            else:
                self.axis.check_value(pipe, v)
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or not 1 <= self.seeds <= MAX_SEEDS:
            raise ConfigError("seeds", f"expected a whole number from 1 to {MAX_SEEDS}, got {self.seeds!r}")
        for r in self.references:
            if r not in REFERENCES:
                raise ConfigError("references", f"expected some of {', '.join(REFERENCES)}, got {str(r)[:40]!r}")
        for size in self.sizes:
            config_from_dict({**self.base.to_dict(), "train_size": size})  # the dataset's own size range
        object.__setattr__(self, "values", tuple(sorted({float(v) for v in self.values})))
        object.__setattr__(self, "sizes", tuple(sorted(set(self.sizes))))
        if len(plan(self)) > MAX_RUNS:
            raise ConfigError("values", f"this sweep would train more than {MAX_RUNS} runs: fewer values, sizes "
                                        "or seeds")

    @property
    def as_pipeline(self) -> Pipeline:
        return serialize.from_dict(self.pipeline)

    def to_dict(self) -> dict[str, Any]:
        return {"base": {k: v for k, v in self.base.to_dict().items() if k not in ("pipeline", "name", "group")},
                "pipeline": self.pipeline, "axis": {"step": self.axis.step, "param": self.axis.param},
                "values": list(self.values), "sizes": list(self.sizes), "seeds": self.seeds,
                "references": list(self.references)}


_SWEEP_KEYS = ("base", "pipeline", "axis", "values", "sizes", "seeds", "references")


def differences(shown: Sweep, other: Sweep) -> list[str]:
    """How ``shown`` differs from ``other``, in words, ``shown``'s value first ("seeds 5 (set: 3)", "values 0, 1
    (set: 0, 0.5, 1, 1.5, 2)"): what a page says when the results it shows are not those of the sweep set on it."""
    mine, theirs = shown.to_dict(), other.to_dict()
    out = [f"{k} {v} (set: {theirs['base'].get(k)})" for k, v in mine["base"].items() if v != theirs["base"].get(k)]
    if mine["pipeline"] != theirs["pipeline"]:
        out.append("the pipeline")
    if mine["axis"] != theirs["axis"]:
        out.append("the setting swept")
    for key, name in (("values", "values"), ("sizes", "sizes"), ("seeds", "seeds"), ("references", "reference arms")):
        if mine[key] != theirs[key]:
            out.append(f"{name} {_words(mine[key])} (set: {_words(theirs[key])})")
    return out


def _words(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) or "none"
    return str(value)


def from_dict(doc: Any) -> Sweep:
    """A sweep document (``Sweep.to_dict``; ``python -m augviz sweep --config``), validated; ConfigError names the
    field. Left out: the strength axis, values 0 to 2, the base's size, 3 seeds, no reference arms."""
    if not isinstance(doc, dict):
        raise ConfigError("", "a sweep is a JSON object")
    for key in doc:
        if key not in _SWEEP_KEYS:
            raise ConfigError(str(key)[:40], f"unknown field (allowed: {', '.join(_SWEEP_KEYS)})")
    try:
        base = config_from_dict({**doc.get("base", {}), "pipeline": None})
    except ConfigError as e:
        raise ConfigError(f"base.{e.path}" if e.path else "base", e.message) from None
    try:
        pipeline = serialize.to_dict(serialize.from_dict(doc.get("pipeline")))
    except ConfigError as e:
        raise ConfigError(f"pipeline.{e.path}" if e.path else "pipeline", e.message) from None
    axis_doc = doc.get("axis") or {}
    if not isinstance(axis_doc, dict) or set(axis_doc) - {"step", "param"}:
        raise ConfigError("axis", 'expected {"step": index, "param": name}, or nothing for strength')
    step = axis_doc.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise ConfigError("axis.step", f"expected a step's index, got {str(step)[:40]!r}")
    lists = {}
    for key in ("values", "sizes", "references"):
        value = doc.get(key, [])
        if not isinstance(value, list):
            raise ConfigError(key, "expected a list")
        lists[key] = tuple(value)
    for size in lists["sizes"]:
        if isinstance(size, bool) or not isinstance(size, int):
            raise ConfigError("sizes", f"expected whole numbers, got {str(size)[:40]!r}")
    return Sweep(base, pipeline, Axis(step, axis_doc.get("param")), lists["values"] or STRENGTHS, lists["sizes"],
                 doc.get("seeds", 3), lists["references"])


@dataclass(frozen=True)
class Arm:
    """One planned run: the baseline, a value of the axis, or a reference policy, at one size and seed."""

    kind: str  # "baseline", "value" or "reference"
    value: float | None  # the axis value ("value" arms; 0 for the baseline of a strength sweep)
    reference: str | None  # the policy's registry name ("reference" arms)
    size: int
    seed: int
    config: RunConfig

    @property
    def key(self) -> str:
        return fingerprint(self.config)


def plan(sweep: Sweep) -> list[Arm]:
    """Every run the sweep needs, baselines first; an arm whose configuration is the baseline's (strength 0) is
    the baseline arm itself, so it appears once."""
    pipe = sweep.as_pipeline
    out = []
    base = replace(sweep.base, pipeline=None, name="", group="")
    for size in sweep.sizes or (base.train_size,):
        for seed in range(base.seed, base.seed + sweep.seeds):
            plain = replace(base, train_size=size, seed=seed)
            # The baseline is one of the values when the sweep's strengths include 0.
            zero = 0.0 if sweep.axis.is_strength and 0.0 in sweep.values else None
            out.append(Arm("baseline", zero, None, size, seed, plain))
            for value in sweep.values:
                at = sweep.axis.pipeline_at(pipe, value)
                if at is None:
                    continue  # strength 0: the baseline
                out.append(Arm("value", value, None, size, seed, replace(plain, pipeline=serialize.to_dict(at))))
            for ref in sweep.references:
                policy = Pipeline((Step.default(ref),), seed=pipe.seed)
                out.append(Arm("reference", None, ref, size, seed,
                               replace(plain, pipeline=serialize.to_dict(policy))))
    return out


def arm_name(sweep: Sweep, arm: Arm) -> str:
    """A run's name in the store: what it is in the sweep, its size and seed."""
    pipe = sweep.as_pipeline
    if arm.kind == "baseline":
        what = "no augmentation"
    elif arm.kind == "reference":
        what = REGISTRY[arm.reference or ""].label
    else:
        assert arm.value is not None
        what = f"{sweep.axis.name(pipe)} {sweep.axis.value_text(pipe, arm.value)}"
    return f"{what}, {arm.size} images, seed {arm.seed}"


def match(arms: list[Arm], runs: list[Run]) -> dict[str, Run]:
    """For each planned configuration (by fingerprint), the stored run that serves it: the newest finished one
    (or diverged: a result too), else the newest still queued or running. Failed, stopped and interrupted runs
    serve nothing: their configuration is trained again."""
    wanted = {a.key for a in arms}
    best: dict[str, Run] = {}
    for run in runs:
        if run.status not in REUSABLE:
            continue
        key = _stored_fingerprint(run.config_json)
        if key not in wanted or run.unreadable:  # only a run that matches is validated
            continue
        have = best.get(key)
        ended = run.status in ("finished", "diverged")
        if have is None or ended >= (have.status in ("finished", "diverged")):
            best[key] = run  # runs come in id order: a later one of the same kind wins
    return best


def stored(store: Store, arms: list[Arm]) -> list[Run]:
    """The stored runs that can serve ``arms`` (``match`` picks among them), in id order: those whose configuration
    is one of theirs, found by the store's fingerprint index, not by reading every stored run."""
    return store.serving([run_keys.key(a.config.to_dict()) for a in arms], _DEFAULTS)


def to_launch(sweep: Sweep, runs: list[Run]) -> list[RunConfig]:
    """The sweep's configurations that still need a run (``unserved``), in one new sweep group."""
    return unserved(plan(sweep), runs, GROUP_PREFIX, lambda arm: arm_name(sweep, arm))


def unserved(arms: list[Arm], runs: list[Run], prefix: str, name: Callable[[Arm], str]) -> list[RunConfig]:
    """The planned configurations that no finished or going run serves (``match``), once each, named by ``name``,
    in one new group (``prefix`` and a random id), with no thread count: each worker takes its share of the
    cores among the runs training."""
    served = match(arms, runs)
    group = f"{prefix}{uuid.uuid4().hex[:8]}"
    out, seen = [], set()
    for arm in arms:
        if arm.key in served or arm.key in seen:
            continue
        seen.add(arm.key)
        out.append(replace(arm.config, threads=None, group=group, name=name(arm)))
    return out


def count_text(what: str, planned: int, todo: int) -> str:
    """How many runs a launch of ``planned`` configurations trains and how many stored runs serve ("15 runs in
    this sweep: 9 to train, 6 served by runs already in the store (finished or going)."), for a panel's
    caption."""
    served = planned - todo
    text = f"{planned} runs in this {what}: {todo} to train" + (
        f", {served} served by runs already in the store (finished or going)" if served else "") + "."
    return text + (" Every one of them is in the store already: nothing to train." if not todo else "")


# ---- the answer --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one run that is over scored: the last epoch's validation accuracy and the test accuracy (both None
    for a diverged run: it is over, with nothing to score)."""

    val: float | None
    test: float | None


def outcomes(arms: list[Arm], runs: list[Run], last_val: Callable[[int], float | None]) -> dict[str, Outcome]:
    """The outcome of every planned configuration whose run is over with an outcome: finished, or diverged
    (``last_val``: a run id's last epoch's validation accuracy, e.g. from the store)."""
    out = {}
    for key, run in match(arms, runs).items():
        if run.status == "finished" and run.test_acc is not None:
            out[key] = Outcome(last_val(run.id), run.test_acc)
        elif run.status == "diverged":
            out[key] = Outcome(None, None)
    return out


@dataclass
class Row:
    """One arm of the answer at one size: its accuracies by seed."""

    kind: str
    value: float | None
    reference: str | None
    label: str
    val: dict[int, float] = field(default_factory=dict)
    test: dict[int, float] = field(default_factory=dict)
    planned: int = 0
    over: set[int] = field(default_factory=set)  # the seeds whose run is over (finished or diverged)

    @property
    def done(self) -> int:
        return len(self.test)


def mean_interval(values: list[float]) -> tuple[float | None, tuple[float, float] | None]:
    """The mean and its 95 % t-interval (None with fewer than two values)."""
    if not values:
        return None, None
    m = statistics.fmean(values)
    if len(values) < 2:
        return m, None
    half = t_quantile(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return m, (m - half, m + half)


def shown(ci: tuple[float, float] | None) -> tuple[float, float] | None:
    """An accuracy interval as shown: clipped to 0 to 1, where every accuracy lies (a t-interval over few seeds
    can reach past either end; the statistic itself is left as it is)."""
    return None if ci is None else (max(0.0, ci[0]), min(1.0, ci[1]))


def paired(a: dict[int, float], b: dict[int, float]) -> tuple[float | None, tuple[float, float] | None, int]:
    """The mean of ``a − b`` over the seeds both have, its 95 % paired t-interval, and how many seeds."""
    seeds = sorted(set(a) & set(b))
    mean, ci = mean_interval([a[s] - b[s] for s in seeds])
    return mean, ci, len(seeds)


@dataclass
class Answer:
    """The sweep's answer at one training-set size."""

    size: int
    axis_name: str
    rows: list[Row]  # the baseline first, then the values, then the references
    chance: float
    value_text: Callable[[float], str]
    val_images: int = 0  # the validation images a run holds out (train_size × val_fraction): what the pick rests on

    @property
    def baseline(self) -> Row:
        return self.rows[0]

    @property
    def deciding(self) -> list[Row]:
        """The rows the pick and the offer rest on: the baseline and the axis' values (not the references)."""
        return [r for r in self.rows if r.kind in ("baseline", "value")]

    @property
    def runs_over(self) -> tuple[int, int]:
        """How many of the deciding rows' planned runs are over, of how many."""
        return sum(len(r.over) for r in self.deciding), sum(r.planned for r in self.deciding)

    @property
    def complete(self) -> bool:
        """Whether every planned run of the deciding rows is over: until then the answer is one so far."""
        over, planned = self.runs_over
        return over >= planned

    @property
    def candidates(self) -> list[Row]:
        """The rows the pick chooses from: the axis' values (strength 0 is the baseline) with a validation score."""
        pool = [r for r in self.rows if r.kind == "value" or (r.kind == "baseline" and r.value is not None)]
        return [r for r in pool if r.val]

    @property
    def best(self) -> Row | None:
        """The value with the highest mean validation accuracy (never test), None before any has one."""
        pool = self.candidates
        return max(pool, key=lambda r: (statistics.fmean(r.val.values()), -(r.value or 0))) if pool else None

    def within_noise(self) -> list[Row]:
        """The other values whose paired validation interval against the best contains zero."""
        best = self.best
        out = []
        for r in self.candidates:
            if r is best or best is None:
                continue
            _, ci, _ = paired(r.val, best.val)
            if ci is not None and ci[0] <= 0 <= ci[1]:
                out.append(r)
        return out

    @property
    def near_chance(self) -> bool:
        """Every candidate's validation accuracy near chance: too little learnt to choose."""
        pool = self.candidates
        return bool(pool) and max(statistics.fmean(r.val.values()) for r in pool) < self.chance + NEAR_CHANCE

    def _name(self, row: Row) -> str:
        if row.kind == "baseline":
            return f"{self.axis_name} 0 (no augmentation)" if row.value is not None else "no augmentation"
        assert row.value is not None
        return f"{self.axis_name} {self.value_text(row.value)}"

    def sentence(self) -> str:
        """The answer in one sentence: the best value on validation, the values within the noise of it, and the
        best value's test accuracy against no augmentation, paired by seed."""
        head = f"{self.size:,} images"
        if not self.complete:
            head += ", so far ({} of {} runs)".format(*self.runs_over)
        finished = [r for r in self.rows if r.test]
        if not finished:
            return f"{head}: no run has finished yet."
        best = self.best
        if best is None:
            return (f"{head}: no validation images to choose on (validation fraction 0): set one; the sweep never "
                    "chooses on the test set.")
        if self.near_chance:
            return (f"{head}: too early to tell: every value is near chance ({100 * self.chance:.0f} %) on "
                    "validation; train longer.")
        best_val = statistics.fmean(best.val.values())
        noise = self._noise() if self.complete else self._noise_so_far()
        text = f"{head}: {self._name(best)} is best on validation ({percent(best_val)}); {noise}; "
        best_test = statistics.fmean(best.test.values())
        if best is self.baseline:
            return text + f"its test accuracy is {percent(best_test)}."
        plain = self.baseline
        if not plain.test:
            return text + f"its test accuracy is {percent(best_test)} (no augmentation has not finished yet)."
        diff, ci, n = paired(best.test, plain.test)
        versus = f"its test accuracy is {percent(best_test)} against {percent(statistics.fmean(plain.test.values()))}" \
                 " without augmentation"
        if diff is None:
            return text + versus + "."
        if ci is None:
            return text + versus + f" ({signed(100 * diff)}, one seed: no interval)."
        return (text + versus + f" ({signed(100 * diff)}, {100 * CONFIDENCE:.0f} % interval [{signed(100 * ci[0])}, "
                f"{signed(100 * ci[1])}], {n} seeds).")

    def _noise(self) -> str:
        """How the other values stand against the best, every run over."""
        if min(len(r.val) for r in self.candidates) < 2:
            return "with one seed no value can be told apart from it (run two or more)"
        close = self.within_noise()
        if not close:
            # With strengths 0 and 1 alone, "every other value" would be no augmentation: name it.
            others = [r for r in self.candidates if r is not self.best]
            return ("no augmentation is clearly below it" if all(r.kind == "baseline" for r in others) else
                    "every other value is clearly below it")
        noise = self._are(close, "within the noise of it")
        if any(r.kind == "baseline" for r in close):
            noise += ": no clear gain over no augmentation yet"
        return noise

    def _noise_so_far(self) -> str:
        """How the other values stand against the best while runs go: those without a finished run, those within
        the noise of it, and those below it so far (never "clearly": their seeds are not all in)."""
        best = self.best
        pool = [r for r in self.deciding if r.kind == "value" or r.value is not None]
        close = self.within_noise()
        parts = [self._are([r for r in pool if not r.val], "no finished run yet", ("has", "have")),
                 self._are(close, "within the noise of it"),
                 self._are([r for r in pool if r.val and r is not best and r not in close], "below it so far")]
        return "; ".join(p for p in parts if p)

    def _are(self, rows: list[Row], what: str, verbs: tuple[str, str] = ("is", "are")) -> str:
        """"0.5, 1.5 and 2.0 are ``what``" ("" for no rows)."""
        if not rows:
            return ""
        names = ["no augmentation" if r.kind == "baseline" else self.value_text(r.value or 0.0) for r in rows]
        joined = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        return f"{joined} {verbs[len(names) > 1]} {what}"

    def note(self) -> str:
        """What the answer rests on: the validation images of each run, and the seeds when they are few."""
        text = f"{self.size:,} images: the pick rests on {self.val_images:,} validation images a run."
        seeds = max((r.planned for r in self.rows), default=0)
        if seeds == 2:
            text += " 2 seeds: the intervals are wide; more seeds narrow them."
        return text

    def pick(self) -> float | None:
        """The chosen value of the axis, best on validation (0 for strength when no augmentation wins), None before
        there is one or when it is too early to tell; whether it is worth applying is ``offer``'s to say."""
        best = self.best
        if best is None or self.near_chance:
            return None
        return best.value

    def offer(self) -> float | None:
        """The value worth applying, or None: the pick only when it is clearly better than no augmentation on
        validation (its paired interval against it lies above zero), or no augmentation (strength 0) when it is
        itself clearly the best (every other value's paired interval against it lies below zero). A value that
        cannot be told apart from doing nothing is not worth applying: applying it would mislead. Nothing is
        offered before every run the pick rests on is over: the best so far is not the answer."""
        pick, best, plain = self.pick(), self.best, self.baseline
        if pick is None or best is None or not self.complete:
            return None
        if best is plain:
            others = [r for r in self.candidates if r is not best]
            return pick if others and all(_above(best.val, r.val) for r in others) else None
        return pick if _above(best.val, plain.val) else None

    def no_offer(self) -> str | None:
        """Why no value is offered to apply although there is a pick (None when one is offered, or there is no
        pick: the sentence says why)."""
        if self.pick() is None or self.offer() is not None:
            return None
        if not self.complete:
            return "The pick is offered when every run of the sweep has finished."
        what = "strength" if self.axis_name == "strength" else "value"
        return (f"No {what} is clearly better than no augmentation yet: nothing to apply; more seeds narrow the "
                "intervals.")

    def table(self) -> list[dict[str, str]]:
        """One row per arm: runs done, validation and test accuracy (mean and 95 % interval over seeds), and the
        test difference against no augmentation, paired by seed."""
        out = []
        for r in self.rows:
            val, val_ci = mean_interval(list(r.val.values()))
            test, test_ci = mean_interval(list(r.test.values()))
            diff, diff_ci, _ = paired(r.test, self.baseline.test) if r is not self.baseline else (None, None, 0)
            out.append({"arm": r.label, "runs": f"{r.done}/{r.planned}", "validation": _with(val, val_ci),
                        "test": _with(test, test_ci),
                        "test vs none": "" if diff is None else (
                            f"{signed(100 * diff)}" + (f" [{signed(100 * diff_ci[0])}, {signed(100 * diff_ci[1])}]"
                                                       if diff_ci else ""))})
        return out


def _above(a: dict[int, float], b: dict[int, float]) -> bool:
    """Whether ``a`` is clearly above ``b``: the paired 95 % interval of ``a − b`` over seeds lies above zero."""
    _, ci, _ = paired(a, b)
    return ci is not None and ci[0] > 0


def _with(mean: float | None, ci: tuple[float, float] | None) -> str:
    if mean is None:
        return ""
    ci = shown(ci)
    return percent(mean) + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")


def answer(sweep: Sweep, results: dict[str, Outcome], chance: float = 0.1) -> list[Answer]:
    """The answer at each size, from the outcomes of the planned configurations (``outcomes``)."""
    pipe = sweep.as_pipeline
    arms = plan(sweep)
    out = []
    for size in sweep.sizes or (sweep.base.train_size,):
        rows: dict[tuple[str, float | None, str | None], Row] = {}
        for arm in (a for a in arms if a.size == size):
            label = arm_name(sweep, arm).split(", ")[0]
            row = rows.setdefault((arm.kind, arm.value, arm.reference),
                                  Row(arm.kind, arm.value, arm.reference, label))
            row.planned += 1
            got = results.get(arm.key)
            if got is not None:
                row.over.add(arm.seed)
                if got.test is not None:
                    row.test[arm.seed] = got.test
                if got.val is not None:
                    row.val[arm.seed] = got.val
        out.append(Answer(size, sweep.axis.name(pipe), list(rows.values()), chance,
                          lambda v: sweep.axis.value_text(pipe, v), round(size * sweep.base.val_fraction)))
    return out


def last_val(store: Store) -> Callable[[int], float | None]:
    """A run id's last epoch's validation accuracy, read from ``store`` (None without a validation split)."""
    def read(run_id: int) -> float | None:
        epochs = store.epochs(run_id)
        return epochs[-1].val_acc if epochs else None
    return read


@dataclass
class Progress:
    """Where a sweep stands in the store: its answer per size, and its runs (served, finished, still going)."""

    answers: list[Answer]
    served: dict[str, Run]
    planned: int  # distinct configurations

    @property
    def going(self) -> list[Run]:
        return [r for r in self.served.values() if not r.is_over]

    @property
    def missing(self) -> int:
        """Planned configurations that no stored run serves (not launched, or whose run failed or was stopped)."""
        return self.planned - len(self.served)


def progress(store: Store, sw: Sweep) -> Progress:
    """Read the sweep's runs from the store (by configuration, wherever they came from) and answer."""
    arms = plan(sw)
    runs = stored(store, arms)
    served = match(arms, runs)
    classes = max((len(r.classes) for r in served.values()), default=0)
    results = outcomes(arms, runs, last_val(store))
    return Progress(answer(sw, results, 1 / classes if classes else 0.1), served, len({a.key for a in arms}))

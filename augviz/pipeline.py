"""The pipeline: an ordered list of steps, the one object used by the preview and by training.

``sample`` draws every step's random values for a batch (plain data, see ``Draw``); ``apply`` is a pure
function of the images and those draws. Consecutive geometric steps are fused into a single resample.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

from augviz import transforms as _register_all  # noqa: F401  (fills the registry)
from augviz.functional import scratch
from augviz.functional.warp import Warp, resample
from augviz.transform import REGISTRY, GeometricTransform, Params, Transform, take, to_plain
from augviz.transforms.mixing import MixingTransform, mix_labels


@dataclass(frozen=True)
class Step:
    """One step: a registry transform, its settings, the probability it applies to an image, and on/off."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    p: float = 1.0
    enabled: bool = True

    def __post_init__(self) -> None:
        # Every parameter is always present, so two steps that behave alike compare equal.
        object.__setattr__(self, "params", {**self.transform.defaults(), **self.params})

    @property
    def transform(self) -> Transform:
        return REGISTRY[self.name]

    @classmethod
    def default(cls, name: str) -> Step:
        t = REGISTRY[name]
        return cls(name, t.defaults(), t.default_p)


@dataclass
class Draw:
    """What one step drew for a batch: whether it applies to each image, and its parameters (B-first tensors)."""

    step: int
    name: str
    applied: torch.Tensor
    params: Params

    def select(self, index: torch.Tensor) -> Draw:
        """The draw of the images at ``index`` only."""
        return Draw(self.step, self.name, self.applied[index], take(self.params, index))

    def rows(self) -> list[dict[str, Any]]:
        """Per-image plain values, for captions and JSON; None for images the step skipped."""
        rows = to_plain(self.params)
        if not rows:
            rows = [{} for _ in range(len(self.applied))]
        return [r if a else None for r, a in zip(rows, self.applied.tolist(), strict=True)]


@dataclass
class Result:
    """The images after the pipeline, mixed labels (if labels were given), the draws, and optional stages."""

    images: torch.Tensor
    labels: torch.Tensor | None
    draws: list[Draw]
    mix_weights: dict[int, torch.Tensor] = field(default_factory=dict)  # step index → λ per image
    stages: list[torch.Tensor] = field(default_factory=list)  # images after each enabled step (trace=True)


@dataclass(frozen=True)
class Pipeline:
    """An ordered list of steps and the seed the preview draws from."""

    steps: tuple[Step, ...] = ()
    seed: int = 0

    def with_steps(self, steps: list[Step] | tuple[Step, ...]) -> Pipeline:
        return replace(self, steps=tuple(steps))

    def enabled(self) -> list[tuple[int, Step]]:
        return [(i, s) for i, s in enumerate(self.steps) if s.enabled]

    def generator(self) -> torch.Generator:
        """A fresh generator at this pipeline's seed."""
        return torch.Generator().manual_seed(self.seed)

    def sample(self, n: int, g: torch.Generator, pool_size: int | None = None) -> list[Draw]:
        """Draw every enabled step's values for ``n`` images.

        Each step draws from its own generator, seeded in turn from ``g`` for every step, enabled or not, so
        changing one step's settings or switching a step off does not re-roll the others.
        """
        step_seeds = torch.randint(0, 2**62, (len(self.steps),), generator=g).tolist()
        draws = []
        for (i, step), s in zip(enumerate(self.steps), step_seeds, strict=True):
            if not step.enabled:
                continue
            sub = torch.Generator().manual_seed(s)
            applied = torch.rand(n, generator=sub) < step.p
            t, cfg = step.transform, step.params
            params = t.sample(cfg, n, sub, pool_size) if isinstance(t, MixingTransform) else t.sample(cfg, n, sub)
            draws.append(Draw(i, step.name, applied, params))
        return draws

    def apply(self, x: torch.Tensor, draws: list[Draw], labels: torch.Tensor | None = None,
              pool: torch.Tensor | None = None, pool_labels: torch.Tensor | None = None,
              trace: bool = False) -> Result:
        """Apply ``draws`` to ``x`` (B×C×H×W float in [0, 1], or uint8). ``x`` itself is never modified.

        Mixing steps take partners from ``pool`` (default: the batch itself, as it stands at that step).
        With ``trace``, ``stages`` holds the images after each enabled step.
        """
        out = _float_input(x)
        result = Result(out, labels, draws)
        # Kernels may work in place on a batch that no caller can see: never the caller's own tensors, and
        # never when traced, since every stage is kept.
        theirs = [t.untyped_storage().data_ptr() for t in (x, pool) if t is not None]
        i = 0
        while i < len(draws):
            step = self.steps[draws[i].step]
            t = step.transform
            if isinstance(t, GeometricTransform):
                j = _geometric_run(self.steps, draws, i)
                out = self._warp(out, draws[i:j], result.stages if trace else None)
                i = j
                continue
            d = draws[i]
            if isinstance(t, MixingTransform):
                src = out if pool is None else to_float(pool).to(out.device)
                src_labels = result.labels if pool_labels is None else pool_labels
                out, lam = t.mix(out, src, step.params, d.params, d.applied)
                result.mix_weights[d.step] = lam
                if result.labels is not None and src_labels is not None:
                    result.labels = mix_labels(result.labels, src_labels, d.params["partner"], lam)
            else:
                owned = not trace and out.untyped_storage().data_ptr() not in theirs
                out = _apply_subset(t, out, step.params, d, owned)
            if trace:
                result.stages.append(out)
            i += 1
        result.images = out
        if x.dtype == torch.uint8:  # the float input lives in a reused buffer: nothing returned may alias it
            result.images = _detach_scratch(result.images)
            result.stages = [_detach_scratch(t) for t in result.stages]
        return result

    def _warp(self, x: torch.Tensor, draws: list[Draw], stages: list[torch.Tensor] | None) -> torch.Tensor:
        n, _, h, w = x.shape
        warp = Warp.identity(n, h, w, x.device)
        fill, value = "nearest", 0.0
        for d in draws:
            step = self.steps[d.step]
            cfg = step.params
            if "fill" in cfg:
                fill, value = cfg["fill"], cfg["fill_value"]
            if bool(d.applied.all()):
                warp = warp.then(step.transform, cfg, d.params)
            elif bool(d.applied.any()):
                idx = d.applied.nonzero().squeeze(1)
                warp = warp.then(step.transform, cfg, take(d.params, idx), idx)
            if stages is not None:
                stages.append(resample(x, warp, fill, value))
        return stages[-1] if stages is not None else resample(x, warp, fill, value)

    def run(self, x: torch.Tensor, g: torch.Generator | None = None, labels: torch.Tensor | None = None,
            pool: torch.Tensor | None = None, pool_labels: torch.Tensor | None = None,
            trace: bool = False) -> Result:
        """Sample and apply in one call (``g`` defaults to a generator at the pipeline's seed)."""
        g = self.generator() if g is None else g
        draws = self.sample(x.shape[0], g, None if pool is None else pool.shape[0])
        return self.apply(x, draws, labels, pool, pool_labels, trace)

    def __call__(self, x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
        """Augmented float images for a batch: the training loop's entry point."""
        return self.run(x, g).images


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 becomes float 0..1 (a new tensor); float passes through."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x


def _float_input(x: torch.Tensor) -> torch.Tensor:
    """Like ``to_float``, but a uint8 batch is converted into this thread's reused input buffer."""
    if x.dtype != torch.uint8:
        return x
    # copy_ then an in-place divide: faster than one dividing kernel that has to promote uint8 on the way.
    return scratch.buffer("input", tuple(x.shape), torch.float32, x.device).copy_(x).div_(255)


def _detach_scratch(t: torch.Tensor) -> torch.Tensor:
    return t.clone() if scratch.holds("input", t) else t


def _fill_key(step: Step) -> tuple[str, float] | None:
    cfg = step.params
    return (cfg["fill"], cfg["fill_value"]) if "fill" in cfg else None


def _geometric_run(steps: tuple[Step, ...], draws: list[Draw], start: int) -> int:
    """End (exclusive) of the run of geometric draws from ``start`` that one resample can serve.

    A run breaks where the next step is not geometric or asks for a different fill than the run so far.
    """
    key = None
    j = start
    while j < len(draws):
        step = steps[draws[j].step]
        if not isinstance(step.transform, GeometricTransform):
            break
        k = _fill_key(step)
        if k is not None:
            if key is not None and k != key:
                break
            key = k
        j += 1
    return j


def _apply_subset(t: Transform, x: torch.Tensor, cfg: dict[str, Any], d: Draw, owned: bool) -> torch.Tensor:
    """Run the kernel on the images the step applies to; the others pass through untouched.

    ``owned`` says that ``x`` is the pipeline's own, so it may be overwritten."""
    applied = d.applied
    if not bool(applied.any()):
        return x
    if bool(applied.all()):
        return t.kernel_(x, cfg, d.params) if owned else t.kernel(x, cfg, d.params)
    idx = applied.nonzero().squeeze(1)
    out = x if owned else x.clone()
    dev_idx = idx.to(x.device)
    out[dev_idx] = t.kernel_(x[dev_idx], cfg, take(d.params, idx))  # x[idx] is a copy: free to overwrite
    return out

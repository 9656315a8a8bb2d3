"""The pipeline: an ordered list of steps, the one object used by the preview and by training.

``sample`` draws every step's random values for a batch (plain data, see ``Draw``); ``apply`` is a pure
function of the images and those draws. Consecutive geometric steps are fused into a single resample. Every
other step goes through the one contract of ``Transform.apply``; mixing steps take their partners from the
batch itself, as it stands at that step.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

from augviz import transforms as _register_all  # noqa: F401  (fills the registry)
from augviz.errors import ConfigError
from augviz.functional import scratch
from augviz.functional.warp import Warp, resample
from augviz.transform import REGISTRY, GeometricTransform, Params, Transform, take, to_plain


@dataclass(frozen=True)
class Step:
    """One step: a registry transform, its settings, the probability it applies to an image, and on/off.

    Built only valid: an unknown transform or parameter, a value outside its range or of the wrong kind, or a
    p outside [0, 1] raises ConfigError naming the field, here rather than deep inside a kernel later.
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    p: float = 1.0
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.name not in REGISTRY:
            raise ConfigError("transform", f"unknown transform {str(self.name)[:40]!r}")
        p = self.p
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:  # also refuses NaN
            raise ConfigError(f"{self.name}.p", f"expected a probability from 0 to 1, got {p!r}"[:120])
        if not isinstance(self.enabled, bool):
            raise ConfigError(f"{self.name}.enabled", f"expected true or false, got {self.enabled!r}"[:120])
        # Every parameter is always present and canonical, so two steps that behave alike compare equal.
        object.__setattr__(self, "params", self.transform.validate(self.params, self.name))
        object.__setattr__(self, "p", float(p))

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

    def sample(self, n: int, g: torch.Generator) -> list[Draw]:
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
            draws.append(Draw(i, step.name, applied, step.transform.sample(step.params, n, sub)))
        return draws

    def apply(self, x: torch.Tensor, draws: list[Draw], labels: torch.Tensor | None = None,
              trace: bool = False) -> Result:
        """Apply ``draws`` to ``x`` (B×C×H×W float in [0, 1], or uint8). ``x`` itself is never modified.

        ``labels`` (B×K, one-hot or soft) are mixed by mixing steps. With ``trace``, ``stages`` holds the images
        after each enabled step.
        """
        out = _float_input(x)
        # Ownership (see Transform.kernel): steps may overwrite the batch they are handed, so they get the
        # caller's tensor only as a copy, and a traced stage, which is kept, is never handed on. The float copy
        # of a uint8 batch is this thread's scratch buffer, the pipeline's to overwrite but never to return.
        borrowed = out if out is not x else None
        owned = borrowed is not None and not trace
        result = Result(out, labels, draws)
        h, w = out.shape[-2:]
        i = 0
        while i < len(draws):
            step = self.steps[draws[i].step]
            t = step.transform
            if isinstance(t, GeometricTransform):
                j = _geometric_run(self.steps, draws, i)
                warped = self._warp(out, draws[i:j], result.stages if trace else None)
                owned, out = not trace and (owned or warped is not out), warped
                i = j
                continue
            d = draws[i]
            if bool(d.applied.any()):
                out = t.apply(out if owned else out.clone(), step.params, d.params, d.applied)
                owned = not trace
            lam = t.label_weights(step.params, d.params, d.applied, h, w)
            if lam is not None:
                result.mix_weights[d.step] = lam
                if result.labels is not None:
                    result.labels = t.mix_labels(result.labels, d.params, lam)
            if trace:
                result.stages.append(out)
            i += 1
        if borrowed is not None:  # a step returns its input itself or a tensor of its own (Transform.kernel)
            out = out.clone() if out is borrowed else out
            result.stages = [s.clone() if s is borrowed else s for s in result.stages]
        result.images = out
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
            t = step.transform
            assert isinstance(t, GeometricTransform)
            if bool(d.applied.all()):
                warp = t.then(warp, cfg, d.params)
            elif bool(d.applied.any()):
                idx = d.applied.nonzero().squeeze(1)
                warp = t.then(warp, cfg, take(d.params, idx), idx)
            if stages is not None:
                stages.append(resample(x, warp, fill, value))
        return stages[-1] if stages is not None else resample(x, warp, fill, value)

    def run(self, x: torch.Tensor, g: torch.Generator | None = None, labels: torch.Tensor | None = None,
            trace: bool = False) -> Result:
        """Sample and apply in one call (``g`` defaults to a generator at the pipeline's seed)."""
        g = self.generator() if g is None else g
        return self.apply(x, self.sample(x.shape[0], g), labels, trace)

    def __call__(self, x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
        """Augmented float images for a batch: the training loop's entry point."""
        return self.run(x, g).images


def _float_input(x: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 as float 0..1 in this thread's reused input buffer; a float batch passes through."""
    if x.dtype != torch.uint8:
        return x
    # copy_ then an in-place divide: faster than one dividing kernel that has to promote uint8 on the way.
    return scratch.buffer("input", tuple(x.shape), torch.float32, x.device).copy_(x).div_(255)


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

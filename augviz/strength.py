"""Strength: one knob for a whole pipeline (RandAugment's "one magnitude for every operation", applied to the
user's own pipeline).

Every parameter that is an amount declares, in its spec, the value at which it does nothing (``Param.identity``:
rotation 0°, zoom 1, noise 0). Strength ``s`` moves each such setting's distance from that identity by the
factor ``s``, clipped at the parameter's bounds: ``s = 1`` is the pipeline as set, ``s = 2`` twice as far from
doing nothing, ``s = 0.5`` half as far. Probabilities are left alone. A step with no amount to scale (a flip,
grayscale, equalize, a mixing step, whose Beta shape is not an amount) stays as set for any ``s > 0``.

``s = 0`` is no augmentation, exactly: every step is switched off. (Moving each amount to its identity would
nearly do it, but not quite for every entry: solarize's threshold 1 still inverts pure white, RandAugment at
magnitude 0 still equalizes.) It is also what a sweep trains as its baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from augviz import serialize
from augviz.errors import ConfigError
from augviz.pipeline import Pipeline, Step
from augviz.spec import Param
from augviz.transform import REGISTRY

MAX = 4.0  # the strongest strength accepted: beyond it nearly every setting sits at its bound


@dataclass(frozen=True)
class Clipped:
    """A setting that strength pushed past its bound, so it stopped there."""

    step: int  # its index in the pipeline
    transform: str
    param: str
    bound: float



def bounds_sentence(clipped: tuple[Clipped, ...] | list[Clipped]) -> str:
    """What hit a bound, in one sentence: "At this strength these settings stop at their bounds: step 1
    (Rotation) degrees at −180 and 180." (empty when nothing did)."""
    if not clipped:
        return ""
    parts: dict[tuple[int, str, str], list[str]] = {}
    for c in clipped:
        parts.setdefault((c.step, c.transform, c.param), []).append(f"{c.bound:g}".replace("-", "\u2212"))
    items = [f"step {i + 1} ({REGISTRY[t].label}) {p.replace('_', ' ')} at {' and '.join(b)}"
             for (i, t, p), b in parts.items()]
    return f"At this strength these settings stop at their bounds: {'; '.join(items)}."


@dataclass(frozen=True)
class Scaled:
    """A pipeline document at some strength, and the settings that hit a bound on the way."""

    doc: dict[str, Any]
    clipped: tuple[Clipped, ...]


def check(s: Any) -> float:
    """``s`` as a float from 0 to ``MAX``, or ConfigError naming strength."""
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or not 0 <= s <= MAX:
        raise ConfigError("strength", f"expected a number from 0 to {MAX:g}, got {str(s)[:40]!r}")
    return float(s)


def scaled_value(param: Param, value: float, s: float) -> tuple[float, bool]:
    """One setting at strength ``s``: its distance from the identity times ``s``, clipped at the bounds (whole
    numbers rounded), and whether it was clipped."""
    assert param.identity is not None and param.low is not None and param.high is not None
    raw = s * value + (1 - s) * param.identity  # exactly ``value`` at s = 1, exactly the identity at s = 0
    if param.kind == "int":
        raw = float(round(raw))
    out = min(max(raw, param.low), param.high)
    return (int(out) if param.kind == "int" else out), out != raw


def scale_step(step: Step, index: int, s: float) -> tuple[Step, list[Clipped]]:
    """One step with every amount at strength ``s`` (at 0, each amount at its identity; the step stays on) and
    the settings of it that hit a bound."""
    params, clipped = dict(step.params), []
    for p in step.transform.params:
        if p.identity is None or p.kind not in ("float", "int"):
            continue
        values = params[p.name] if p.is_range else (params[p.name],)
        out = []
        for v in values:
            new, hit = scaled_value(p, v, s)
            out.append(new)
            if hit:
                clipped.append(Clipped(index, step.name, p.name, new))
        params[p.name] = tuple(out) if p.is_range else out[0]
    return Step(step.name, params, step.p, step.enabled), clipped


def scale_pipeline(pipeline: Pipeline, s: float) -> tuple[Pipeline, tuple[Clipped, ...]]:
    """The pipeline at strength ``s`` and the settings that hit a bound (one entry per bound hit)."""
    s = check(s)
    if s == 0:
        return pipeline.with_steps([Step(t.name, t.params, t.p, False) for t in pipeline.steps]), ()
    steps, clipped = [], []
    for i, step in enumerate(pipeline.steps):
        new, hits = scale_step(step, i, s)
        steps.append(new)
        clipped.extend(h for h in hits if h not in clipped)
    return pipeline.with_steps(steps), tuple(clipped)


def scale(doc: dict[str, Any], s: float) -> Scaled:
    """A pipeline document at strength ``s``; ConfigError for a bad document or strength."""
    pipeline, clipped = scale_pipeline(serialize.from_dict(doc), s)
    return Scaled(serialize.to_dict(pipeline), clipped)


def has_amount(step: Step) -> bool:
    """Whether strength changes this step between 0 and beyond (it has a setting with an identity)."""
    return any(p.identity is not None for p in step.transform.params)

"""What the Explore page shows, computed without any UI: draws of one image, captions, the step-by-step strip.

The preview runs the same Pipeline object the training loop runs: N copies of the picture make one batch, and
mixing steps take their partners from the other draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from augviz.pipeline import Pipeline, Step
from augviz.transform import MIXING, REGISTRY

SEED_PIPELINE = Pipeline((
    # The seed article's Keras ImageDataGenerator(rotation_range=15, width_shift_range=0.1,
    # height_shift_range=0.1, horizontal_flip=True, zoom_range=0.1); zoom_range draws x and y apart.
    Step("rotation", {"degrees": (-15.0, 15.0)}),
    Step("affine", {"translate_x": (-0.1, 0.1), "translate_y": (-0.1, 0.1)}),
    Step("zoom", {"factor": (0.9, 1.1), "keep_aspect": False}),
    Step("horizontal_flip", {}, 0.5),
))


@dataclass
class StripFrame:
    """The first draw after one step: its picture, the step's label, and what the step drew for it."""

    image: torch.Tensor
    label: str
    caption: str
    partner: torch.Tensor | None = None  # mixing steps: the image mixed in
    weight: float | None = None  # mixing steps: λ, the share of the original


@dataclass
class Preview:
    draws: torch.Tensor  # N×C×H×W
    captions: list[str]
    strip: list[StripFrame]


def format_value(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:+.3g}" if abs(value) < 1000 else f"{value:.0f}"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value[:4]) + (", …" if len(value) > 4 else "") + "]"
    return str(value)


_HIDDEN = {"seed"}  # a noise seed says nothing a person can read


def describe(name: str, row: dict | None, keys: set[str] | None = None) -> str:
    """One step's draw for one image, as text: ``rotation angle=+7.3`` or ``horizontal_flip skipped``.

    ``keys`` limits the values shown (the preview passes those that vary between draws).
    """
    if row is None:
        return f"{name} skipped"
    shown = {k: v for k, v in row.items() if k not in _HIDDEN and (keys is None or k in keys)}
    if not shown:
        return f"{name} applied"
    return f"{name} " + " ".join(f"{k}={format_value(v)}" for k, v in shown.items())


def varying(rows: list[dict | None]) -> set[str] | None:
    """The keys whose values differ between the images that a step applied to (None: too few to tell)."""
    applied = [r for r in rows if r is not None]
    if len(applied) < 2:
        return None
    return {k for k in applied[0] if any(r[k] != applied[0][k] for r in applied[1:])}


def render(pipeline: Pipeline, image: torch.Tensor, n: int) -> Preview:
    """``n`` random draws of ``image`` (C×H×W) through the pipeline at its seed, plus the first draw step by step.

    The draws form one batch, so a mixing step mixes each draw with another draw, as in training."""
    batch = image.unsqueeze(0).expand(n, -1, -1, -1)
    result = pipeline.run(batch, pipeline.generator(), trace=True)
    rows = [d.rows() for d in result.draws]
    keys = [varying(r) for r in rows]
    captions = ["\n".join(describe(d.name, r[i], k) for d, r, k in zip(result.draws, rows, keys, strict=True))
                for i in range(n)]
    strip = []
    before = batch
    for d, r, stage in zip(result.draws, rows, result.stages, strict=True):
        frame = StripFrame(stage[0], REGISTRY[d.name].label, describe(d.name, r[0]))
        if REGISTRY[d.name].category == MIXING and r[0] is not None:
            frame.partner = before[int(d.params["partner"][0])]  # the partner as it stood at the mixing step
            frame.weight = float(result.mix_weights[d.step][0])
        strip.append(frame)
        before = stage
    return Preview(result.images, captions, strip)


def move(steps: tuple[Step, ...], index: int, offset: int) -> tuple[Step, ...]:
    """The steps with the one at ``index`` moved by ``offset`` places (clamped to the ends)."""
    items = list(steps)
    target = min(max(index + offset, 0), len(items) - 1)
    items.insert(target, items.pop(index))
    return tuple(items)

"""What the Explore page shows, computed without any UI: draws of one image, captions, the step-by-step strip.

The preview runs the same Pipeline object the training loop runs: N copies of the picture make one batch, and
mixing steps take their partners from a pool of other pictures.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from augviz.pipeline import Pipeline, Step
from augviz.transform import MIXING, REGISTRY

SEED_PIPELINE = Pipeline((
    # The seed article's Keras ImageDataGenerator(rotation_range=15, width_shift_range=0.1,
    # height_shift_range=0.1, horizontal_flip=True, zoom_range=0.1).
    Step("rotation", {"degrees": (-15.0, 15.0)}),
    Step("affine", {"translate_x": (-0.1, 0.1), "translate_y": (-0.1, 0.1)}),
    Step("zoom", {"factor": (0.9, 1.1)}),
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


def describe(name: str, row: dict | None) -> str:
    """One step's draw for one image, as text: ``rotation: angle=+7.3`` or ``flip: skipped``."""
    if row is None:
        return f"{name}: skipped"
    shown = {k: v for k, v in row.items() if k not in ("seed", "on", "gray", "flipped")}
    if not shown:
        return f"{name}: applied"
    return f"{name}: " + ", ".join(f"{k}={format_value(v)}" for k, v in shown.items())


def render(pipeline: Pipeline, image: torch.Tensor, n: int, pool: torch.Tensor | None = None) -> Preview:
    """``n`` random draws of ``image`` (C×H×W) through the pipeline at its seed, plus the first draw step by step."""
    batch = image.unsqueeze(0).expand(n, -1, -1, -1)
    if pool is not None and pool.shape[-2:] != image.shape[-2:]:
        pool = torch.nn.functional.interpolate(pool, size=image.shape[-2:], mode="bilinear", antialias=True,
                                               align_corners=False)
    draws = pipeline.sample(n, pipeline.generator(), None if pool is None else len(pool))
    result = pipeline.apply(batch, draws, pool=pool)
    # Only the first draw is shown step by step: trace it alone (a batch of one replays exactly).
    first = pipeline.apply(batch[:1], [d.select(torch.tensor([0])) for d in draws], pool=pool, trace=True)
    rows = [d.rows() for d in result.draws]
    captions = ["\n".join(describe(d.name, r[i]) for d, r in zip(result.draws, rows, strict=True))
                for i in range(n)]
    strip = []
    for d, r, stage in zip(result.draws, rows, first.stages, strict=True):
        frame = StripFrame(stage[0], REGISTRY[d.name].label, describe(d.name, r[0]))
        if REGISTRY[d.name].category == MIXING and r[0] is not None:
            source = batch if pool is None else pool
            frame.partner = source[int(d.params["partner"][0])]
            frame.weight = float(result.mix_weights[d.step][0])
        strip.append(frame)
    return Preview(result.images, captions, strip)


def move(steps: tuple[Step, ...], index: int, offset: int) -> tuple[Step, ...]:
    """The steps with the one at ``index`` moved by ``offset`` places (clamped to the ends)."""
    items = list(steps)
    target = min(max(index + offset, 0), len(items) - 1)
    items.insert(target, items.pop(index))
    return tuple(items)

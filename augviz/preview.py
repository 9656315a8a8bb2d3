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


_HIDDEN = {"seed", "on", "gray", "flipped"}  # markers and seeds say nothing a person can read


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
    keys = [varying(r) for r in rows]
    captions = ["\n".join(describe(d.name, r[i], k) for d, r, k in zip(result.draws, rows, keys, strict=True))
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

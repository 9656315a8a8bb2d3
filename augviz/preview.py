"""What the Explore page shows, computed without any UI: draws of one image, captions, the step-by-step strip.

The preview runs the same Pipeline object the training loop runs, on one batch: N differently augmented copies of
the picture, then the partner pictures that mixing steps blend in. As in a training batch, a partner is another
picture that went through the same preceding steps, and the mixed label says how much of each picture a draw holds.

Draw *i* depends only on the pipeline (with its seed) and *i*: each draw samples from its own generator, seeded
from the pipeline's seed and *i*, so showing 8 or 64 draws never changes draw 1. The draws are still applied as
one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from augviz.captions import caption, mixed
from augviz.pipeline import Draw, Pipeline, Result, Step
from augviz.transform import MIXING, REGISTRY

MAX_DRAWS = 64
# What one preview may cost, in step-images of 256×256 pixels (see ``cost``): 64 draws through 48 rotations, about
# 2.5 s of one core on a shared 2-core machine. Each rerun runs the whole preview, so this bounds the server time one
# slider move costs.
BUDGET = 64 * 256 * 256 * 48
# Every registry entry's CPU time per pixel relative to a rotation (one resample), one thread, at its default
# settings: measured (the minimum of several runs, 16 to 32 draws of 128 to 256 px) and checked against the real
# kernels by tests/test_cost_model.py, which fails when a figure is off by more than 2×. Geometric steps in a row
# share one resample, so a chain of them costs less than the sum.
STEP_COST = {
    "rotation": 1.0, "horizontal_flip": 0.75, "vertical_flip": 0.75, "affine": 0.65, "zoom": 0.65,
    "random_resized_crop": 0.65, "perspective": 1.8, "elastic": 9.0, "random_erasing": 0.6, "mixup": 0.55,
    "cutmix": 1.2, "gaussian_noise": 1.1, "salt_and_pepper": 1.5, "speckle": 1.2, "snow": 1.2, "brightness": 0.25,
    "contrast": 0.4, "saturation": 0.4, "hue": 1.35, "grayscale": 0.35, "gamma": 1.1, "gaussian_blur": 1.9,
    "sharpness": 3.8, "posterize": 0.6, "solarize": 1.5, "equalize": 2.5, "autocontrast": 0.5, "invert": 0.3,
    "randaugment": 0.6, "trivialaugment": 2.2,
}
SIGMA_COST = {"gaussian_blur": 0.22, "elastic": 0.24}  # added per pixel of the largest sigma (the kernel's width)
OP_COST = {"randaugment": 1.7}  # added per operation each image goes through (num_ops)


def step_cost(step: Step) -> float:
    """One step's CPU time per pixel relative to a rotation (``STEP_COST``, else what the transform states, with
    its sigma and operations)."""
    sigma = step.params.get("sigma", 0.0)
    top = float(max(sigma)) if isinstance(sigma, (tuple, list)) else float(sigma)
    ops = float(step.params.get("num_ops", 0))
    return (STEP_COST.get(step.name, step.transform.cost) + SIGMA_COST.get(step.name, 0.0) * top
            + OP_COST.get(step.name, 0.0) * ops)


SEED_PIPELINE = Pipeline((
    # The seed article's Keras ImageDataGenerator(rotation_range=15, width_shift_range=0.1,
    # height_shift_range=0.1, horizontal_flip=True, zoom_range=0.1); zoom_range draws x and y apart.
    Step("rotation", {"degrees": (-15.0, 15.0)}),
    Step("affine", {"translate_x": (-0.1, 0.1), "translate_y": (-0.1, 0.1)}),
    Step("zoom", {"factor": (0.9, 1.1), "keep_aspect": False}),
    Step("horizontal_flip", {}, 0.5),
))
SEED_PIPELINE_SOURCE = ("ImageDataGenerator(rotation_range=15, width_shift_range=0.1, height_shift_range=0.1, "
                        "horizontal_flip=True, zoom_range=0.1)")


@dataclass
class StripFrame:
    """The first draw after one step: its picture, the step's label, and what the step drew for it."""

    image: torch.Tensor
    label: str
    caption: str  # exact values
    plain: str = ""  # the short caption
    partner: torch.Tensor | None = None  # mixing steps: the partner as it stood when it was mixed in
    partner_name: str = ""
    weight: float | None = None  # mixing steps: λ, the share of the draw itself
    p: float = 1.0  # the step's probability: a step that skipped the draw says so with it
    mixing: bool = False  # a mixing step (one that blends in a partner when it applies)


@dataclass
class Preview:
    draws: torch.Tensor  # N×C×H×W
    captions: list[str]  # per draw: every step's exact values, one line each
    strip: list[StripFrame]
    plain: list[str] = field(default_factory=list)  # per draw: one short line in plain words
    labels: list[dict[str, float]] = field(default_factory=list)  # per draw: picture name → share (mixing only)


class OverBudget(ValueError):
    """A preview that would cost more than ``BUDGET``; the message says what to lower."""


def format_value(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:+.3g}" if abs(value) < 1000 else f"{value:.0f}"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value[:4]) + (", …" if len(value) > 4 else "") + "]"
    return str(value)


_HIDDEN = {"seed"}  # a noise seed says nothing a person can read


def describe(name: str, row: dict | None) -> str:
    """One step's draw for one image, every value exact: ``rotation angle=+7.3`` or ``horizontal_flip skipped``."""
    if row is None:
        return f"{name} skipped"
    shown = {k: v for k, v in row.items() if k not in _HIDDEN}
    if not shown:
        return f"{name} applied"
    return f"{name} " + " ".join(f"{k}={format_value(v)}" for k, v in shown.items())


def cost(pipeline: Pipeline, height: int, width: int, n: int) -> float:
    """The preview's work in plain-step pixels: pixels × images × the enabled steps' relative costs."""
    steps = sum(step_cost(s) for s in pipeline.steps if s.enabled)
    return height * width * n * max(steps, 1.0)


def check_budget(pipeline: Pipeline, height: int, width: int, n: int) -> None:
    """Raise OverBudget, saying what to lower, when the preview would cost more than ``BUDGET``."""
    work = cost(pipeline, height, width, n)
    if work <= BUDGET:
        return
    fewest = max(1, int(n * BUDGET / work))
    heavy = sorted({s.transform.label for s in pipeline.steps if s.enabled and step_cost(s) > 2})
    what = f"; the heavy steps are {', '.join(heavy)}" if heavy else ""
    raise OverBudget(f"This preview would take {work / BUDGET:.1f}× the work one page view may cost. Show at "
                     f"most {fewest} draws, switch steps off or remove some{what}.")


def draw_seeds(pipeline: Pipeline, count: int) -> list[int]:
    """One seed per draw slot (``count`` ≤ ``MAX_DRAWS`` + partners), the same for every number of draws shown."""
    return torch.randint(0, 2**62, (MAX_DRAWS + count,), generator=pipeline.generator()).tolist()


def _sample(pipeline: Pipeline, seeds: Sequence[int], pool_size: int, offset: int) -> list[Draw]:
    """Each image's draws from its own generator, joined into batch draws. A mixing step's partner is one of the
    ``pool_size`` partner rows, which start at ``offset`` in the batch, drawn from the image's own generator too."""
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    per_image = [pipeline.sample(1, g) for g in generators]
    joined = []
    for k, first in enumerate(per_image[0]):
        params = {key: torch.cat([d[k].params[key] for d in per_image]) for key in first.params}
        if REGISTRY[first.name].category == MIXING:
            picks = [torch.randint(0, max(pool_size, 1), (1,), generator=g) for g in generators]
            params["partner"] = torch.cat(picks) + offset
        joined.append(Draw(first.step, first.name, torch.cat([d[k].applied for d in per_image]), params))
    return joined


def render(pipeline: Pipeline, image: torch.Tensor, n: int, pool: torch.Tensor | None = None,
           names: Sequence[str] = ()) -> Preview:
    """``n`` random draws of ``image`` (C×H×W) through the pipeline at its seed, plus the first draw step by step.

    Mixing steps blend in the pictures of ``pool`` (default: the picture itself), each augmented by the steps
    before the mixing step. ``names`` names the picture and then each pool picture, for the mixed labels.
    """
    if not 1 <= n <= MAX_DRAWS:
        raise ValueError(f"between 1 and {MAX_DRAWS} draws, got {n}")
    mixing = any(s.enabled and s.transform.category == MIXING for s in pipeline.steps)
    partners = torch.empty(0, *image.shape)
    if mixing:
        partners = image.unsqueeze(0) if pool is None or not len(pool) else pool
        if partners.shape[-2:] != image.shape[-2:]:
            partners = torch.nn.functional.interpolate(partners, size=image.shape[-2:], mode="bilinear",
                                                       antialias=True, align_corners=False)
    if not names:
        own = pool is None or not len(pool)  # the picture mixes with other draws of itself
        names = ["this picture", *(("this picture" if own else f"picture {k + 1}") for k in range(len(partners)))]
    seeds = draw_seeds(pipeline, len(partners))
    draw_rows, partner_rows = seeds[:n], seeds[MAX_DRAWS:MAX_DRAWS + len(partners)]
    labels = torch.eye(1 + len(partners))[[0] * n + list(range(1, 1 + len(partners)))] if mixing else None

    batch = image.unsqueeze(0).expand(n, -1, -1, -1)  # a view: no copy when there is nothing to mix
    if len(partners):
        batch = torch.cat([batch, partners])
    draws = _sample(pipeline, [*draw_rows, *partner_rows], len(partners), n)
    result = pipeline.apply(batch, draws, labels=labels)
    # Only the first draw is shown step by step: trace it with the partners alone (a smaller batch replays exactly).
    keep = torch.tensor([0, *range(n, n + len(partners))])
    first = pipeline.apply(batch[keep], _sample(pipeline, [draw_rows[0], *partner_rows], len(partners), 1),
                           labels=None if labels is None else labels[keep], trace=True)

    every_row = [d.rows() for d in result.draws]  # the partners' rows too
    rows = [r[:n] for r in every_row]
    partner_names = {n + k: name for k, name in enumerate(names[1:])}  # batch row → picture name
    captions = ["\n".join(describe(d.name, _named(d, r[i], i, partner_names)) for d, r in
                          zip(result.draws, rows, strict=True)) for i in range(n)]
    plain = [_plain(result, every_row, i, names[0], partner_names) for i in range(n)]
    shares = []
    if result.labels is not None:
        for row in result.labels[:n].tolist():
            share: dict[str, float] = {}
            for name, w in zip(names, row, strict=False):
                if w > 0.005:
                    share[name] = share.get(name, 0.0) + w
            shares.append(share)
    strip = []
    for k, (d, r) in enumerate(zip(result.draws, rows, strict=True)):
        frame = StripFrame(first.stages[k][0], REGISTRY[d.name].label, describe(d.name, r[0]), caption(d.name, r[0]),
                           p=pipeline.steps[d.step].p, mixing=REGISTRY[d.name].category == MIXING)
        if REGISTRY[d.name].category == MIXING and r[0] is not None:
            j = int(first.draws[k].params["partner"][0])  # the partner's row in the traced batch
            before = first.stages[k - 1] if k else batch[keep]
            frame.partner = before[j]
            frame.partner_name = names[j] if j < len(names) else ""
            frame.weight = float(first.mix_weights[d.step][0])
        strip.append(frame)
    return Preview(result.images[:n], captions, strip, plain, shares)


def _named(d: Draw, row: dict | None, i: int, partner_names: dict[int, str]) -> dict | None:
    """A mixing step's exact values with its partner named (not its row in the preview's batch)."""
    if row is None or REGISTRY[d.name].category != MIXING or "partner" not in d.params:
        return row
    return {**row, "partner": partner_names.get(int(d.params["partner"][i]), row.get("partner"))}


def _plain(result: Result, rows: list[list[dict | None]], i: int, own_name: str,
           partner_names: dict[int, str]) -> str:
    """Draw ``i``'s short caption: each step's, and at a mixing step that applied, what the draw then mostly
    shows (``captions.mixed``): itself with the partner's share, or the partner, with the partner's own steps."""
    parts: list[str] = []
    for k, (d, r) in enumerate(zip(result.draws, rows, strict=True)):
        if r[i] is None:
            continue
        if REGISTRY[d.name].category == MIXING and "partner" in d.params and d.step in result.mix_weights:
            j = int(d.params["partner"][i])
            before = [caption(e.name, s[j]) for e, s in zip(result.draws[:k], rows[:k], strict=True)
                      if REGISTRY[e.name].category != MIXING]
            parts = mixed(d.name, parts, own_name, [c for c in before if c], partner_names.get(j, "its partner"),
                          float(result.mix_weights[d.step][i]))
            continue
        text = caption(d.name, r[i])
        if text:
            parts.append(text)
    return " · ".join(parts)


def move(steps: tuple[Step, ...], index: int, offset: int) -> tuple[Step, ...]:
    """The steps with the one at ``index`` moved by ``offset`` places (clamped to the ends)."""
    items = list(steps)
    target = min(max(index + offset, 0), len(items) - 1)
    items.insert(target, items.pop(index))
    return tuple(items)

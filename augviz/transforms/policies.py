"""Augmentation policies built from the registry's own transforms.

RandAugment (Cubuk et al., 2020) applies N operations chosen at random, all at one magnitude M of 30;
TrivialAugment (Müller & Hutter, 2021) applies one operation at a magnitude drawn per image. The 14 operations,
their order and their magnitude scales follow torchvision: ``RandAugment._augmentation_space`` for RandAugment
and the wider space of ``TrivialAugmentWide`` (the paper's default, "TA (Wide)") for TrivialAugment. A shear
magnitude is the shear factor, as there (its angle is atan of it), about the top-left corner; translations are
a fraction of the size in RandAugment (150/331) and a fixed 32 pixels in TrivialAugment Wide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from augviz.spec import FILL_PARAMS, integer
from augviz.transform import POLICY, REGISTRY, Params, Transform, register

BINS = 30  # magnitudes run 0..30 (torchvision's 31 bins)


@dataclass(frozen=True)
class Scale:
    """The magnitude scales of one policy: a signed magnitude m in [-1, 1] (bin / 30, times the sign) sets each
    operation's strength to ``m`` times the value here."""

    shear: float  # shear factor (tan of the angle)
    translate: Callable[[int], float]  # largest shift in pixels, for an image side of that many pixels
    rotate: float  # degrees
    enhance: float  # brightness, colour, contrast and sharpness factors run 1 ± this
    posterize_drop: int  # bits dropped at the top magnitude


RANDAUGMENT = Scale(shear=0.3, translate=lambda side: 150 / 331 * side, rotate=30.0, enhance=0.9, posterize_drop=4)
TRIVIAL_WIDE = Scale(shear=0.99, translate=lambda side: 32.0, rotate=135.0, enhance=0.99, posterize_drop=6)


@dataclass(frozen=True)
class Op:
    """A policy operation: a registry transform and how a signed magnitude sets its parameters for a batch of
    images of a given height and width."""

    label: str
    transform: str | None  # None: identity
    params: Callable[[Scale, torch.Tensor, int, int], Params]
    signed: bool = True


def _affine(key: str) -> Callable[[Scale, torch.Tensor, int, int], Params]:
    def params(s: Scale, m: torch.Tensor, height: int, width: int) -> Params:
        out = {k: torch.zeros_like(m) for k in ("tx", "ty", "shear_x", "shear_y")}
        if key in ("shear_x", "shear_y"):
            # About the top-left corner, as torchvision and the original AutoAugment shear: the shear about the
            # centre that the affine entry draws, plus the shift that keeps the top row (or left column) in place.
            out[key] = torch.rad2deg(torch.atan(m * s.shear))
            if key == "shear_x":
                out["tx"] = m * s.shear * height / (2 * width)
            else:
                out["ty"] = m * s.shear * width / (2 * height)
        else:
            side = width if key == "tx" else height
            out[key] = m * s.translate(side) / side
        return {**out, "scale": torch.ones_like(m)}
    return params


def _enhance(s: Scale, m: torch.Tensor, height: int, width: int) -> Params:
    return {"factor": 1 + s.enhance * m}


OPS: tuple[Op, ...] = (  # torchvision's order
    Op("identity", None, lambda s, m, h, w: {}, signed=False),
    Op("shear_x", "affine", _affine("shear_x")),
    Op("shear_y", "affine", _affine("shear_y")),
    Op("translate_x", "affine", _affine("tx")),
    Op("translate_y", "affine", _affine("ty")),
    Op("rotate", "rotation", lambda s, m, h, w: {"angle": m * s.rotate}),
    Op("brightness", "brightness", _enhance),
    Op("color", "saturation", _enhance),
    Op("contrast", "contrast", _enhance),
    Op("sharpness", "sharpness", _enhance),
    Op("posterize", "posterize", lambda s, m, h, w: {"bits": 8 - (m * s.posterize_drop).round().long()},
       signed=False),
    Op("solarize", "solarize", lambda s, m, h, w: {"threshold": 1.0 - m}, signed=False),
    Op("autocontrast", "autocontrast", lambda s, m, h, w: {}, signed=False),
    Op("equalize", "equalize", lambda s, m, h, w: {}, signed=False),
)


def apply_ops(x: torch.Tensor, scale: Scale, ops: torch.Tensor, magnitude: torch.Tensor, sign: torch.Tensor,
              cfg: dict) -> torch.Tensor:
    """Apply, slot by slot, the op each image drew (``ops``, ``magnitude`` in bins, ``sign``: all B×N).

    ``x`` is overwritten (the kernel contract)."""
    h, w = x.shape[-2:]
    for k in range(ops.shape[1]):
        for j, op in enumerate(OPS):
            if op.transform is None:
                continue
            idx = (ops[:, k] == j).nonzero().squeeze(1)
            if idx.numel() == 0:
                continue
            m = magnitude[idx, k].float() / BINS
            if op.signed:
                m = m * sign[idx, k].float()
            t = REGISTRY[op.transform]
            step_cfg = {**t.defaults(), **{k2: v for k2, v in cfg.items() if k2 in t.defaults()}}
            dev_idx = idx.to(x.device)
            x[dev_idx] = t.kernel(x[dev_idx], step_cfg, op.params(scale, m, h, w))  # x[idx] is a copy
    return x


def _sample_signs(g: torch.Generator, n: int, k: int) -> torch.Tensor:
    return torch.randint(0, 2, (n, k), generator=g) * 2 - 1


@register
class RandAugment(Transform):
    category = POLICY
    name = "randaugment"
    label = "RandAugment"
    description = "Apply N operations picked at random from 14, all at one magnitude M (Cubuk et al., 2020)."
    formula = r"x' = o_N(\dots o_1(x; M)),\quad o_k \sim U\{\text{identity, shear, translate, rotate, colour, …}\}"
    params = (integer("num_ops", 1, 5, 2, "N: how many operations each image goes through."),
              integer("magnitude", 0, BINS, 9, "M: how strong every operation is, from 0 to 30.",
                      identity=0),
              *FILL_PARAMS)

    def sample(self, cfg, n, g):
        k = cfg["num_ops"]
        return {"ops": torch.randint(0, len(OPS), (n, k), generator=g),
                "magnitude": torch.full((n, k), cfg["magnitude"], dtype=torch.int64),
                "sign": _sample_signs(g, n, k)}

    def kernel(self, x, cfg, params):
        return apply_ops(x, RANDAUGMENT, params["ops"], params["magnitude"], params["sign"], cfg)


@register
class TrivialAugment(Transform):
    category = POLICY
    name = "trivialaugment"
    label = "TrivialAugment"
    description = "Apply one operation picked at random, at a magnitude drawn per image (Müller & Hutter, 2021)."
    formula = r"x' = o(x; m),\quad o \sim U\{\text{14 ops}\},\ m \sim U\{0, \dots, 30\}"
    params = FILL_PARAMS

    def sample(self, cfg, n, g):
        return {"ops": torch.randint(0, len(OPS), (n, 1), generator=g),
                "magnitude": torch.randint(0, BINS + 1, (n, 1), generator=g),
                "sign": _sample_signs(g, n, 1)}

    def kernel(self, x, cfg, params):
        return apply_ops(x, TRIVIAL_WIDE, params["ops"], params["magnitude"], params["sign"], cfg)



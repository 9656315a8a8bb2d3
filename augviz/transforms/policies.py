"""Augmentation policies built from the registry's own transforms.

RandAugment (Cubuk et al., 2020) applies N operations chosen at random, all at one magnitude M of 30;
TrivialAugment (Müller & Hutter, 2021) applies one operation at a magnitude drawn per image. The operations and
their magnitude scales follow torchvision's RandAugment.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from augviz.spec import FILL_PARAMS, integer
from augviz.transform import POLICY, REGISTRY, Params, Transform, register

BINS = 30  # magnitudes run 0..30


def _zeros(m: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(m)


def _affine(tx=None, ty=None, shx=None, shy=None) -> Callable[[torch.Tensor], Params]:
    def params(m: torch.Tensor) -> Params:
        pick = {"tx": tx, "ty": ty, "shear_x": shx, "shear_y": shy}
        out = {k: (f(m) if f else _zeros(m)) for k, f in pick.items()}
        return {**out, "scale": torch.ones_like(m)}
    return params


@dataclass(frozen=True)
class Op:
    """A policy operation: a registry transform and how a signed magnitude in [-1, 1] sets its parameters."""

    label: str
    transform: str | None  # None: identity
    params: Callable[[torch.Tensor], Params]
    signed: bool = True


_SHEAR = math.degrees(math.atan(0.3))
OPS: tuple[Op, ...] = (
    Op("identity", None, lambda m: {}, signed=False),
    Op("shear_x", "affine", _affine(shx=lambda m: m * _SHEAR)),
    Op("shear_y", "affine", _affine(shy=lambda m: m * _SHEAR)),
    Op("translate_x", "affine", _affine(tx=lambda m: m * 0.45)),
    Op("translate_y", "affine", _affine(ty=lambda m: m * 0.45)),
    Op("rotate", "rotation", lambda m: {"angle": m * 30.0}),
    Op("brightness", "brightness", lambda m: {"factor": 1 + 0.9 * m}),
    Op("color", "saturation", lambda m: {"factor": 1 + 0.9 * m}),
    Op("contrast", "contrast", lambda m: {"factor": 1 + 0.9 * m}),
    Op("sharpness", "sharpness", lambda m: {"factor": 1 + 0.9 * m}),
    Op("posterize", "posterize", lambda m: {"bits": (8 - (m * 4).round()).long()}, signed=False),
    Op("solarize", "solarize", lambda m: {"threshold": 1.0 - m}, signed=False),
    Op("autocontrast", "autocontrast", lambda m: {"on": torch.ones_like(m, dtype=torch.bool)}, signed=False),
    Op("equalize", "equalize", lambda m: {"on": torch.ones_like(m, dtype=torch.bool)}, signed=False),
)


def apply_ops(x: torch.Tensor, ops: torch.Tensor, magnitude: torch.Tensor, sign: torch.Tensor,
              cfg: dict) -> torch.Tensor:
    """Apply, slot by slot, the op each image drew (``ops``, ``magnitude`` in bins, ``sign``: all B×N)."""
    out = x
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
            part = t.kernel(out[idx.to(x.device)], step_cfg, op.params(m))
            out = out.clone() if out is x else out
            out[idx.to(x.device)] = part
    return out


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
              integer("magnitude", 0, BINS, 9, "M: how strong every operation is, from 0 to 30."),
              *FILL_PARAMS)

    def sample(self, cfg, n, g):
        k = cfg["num_ops"]
        return {"ops": torch.randint(0, len(OPS), (n, k), generator=g),
                "magnitude": torch.full((n, k), cfg["magnitude"], dtype=torch.int64),
                "sign": _sample_signs(g, n, k)}

    def kernel(self, x, cfg, params):
        return apply_ops(x, params["ops"], params["magnitude"], params["sign"], cfg)

    def to_code(self, target, cfg, p):
        n, m = cfg["num_ops"], cfg["magnitude"]
        if target == "torchvision":
            return f"v2.RandomApply([v2.RandAugment(num_ops={n}, magnitude={m})], p={p})  # needs uint8 images"
        if target == "kornia":
            return f"kornia.augmentation.auto.RandAugment(n={n}, m={m})  # kornia's magnitudes differ"
        return None

    export_notes = {"albumentations": "albumentations has no RandAugment policy"}


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
        return apply_ops(x, params["ops"], params["magnitude"], params["sign"], cfg)

    def to_code(self, target, cfg, p):
        if target == "torchvision":
            return f"v2.RandomApply([v2.TrivialAugmentWide()], p={p})  # needs uint8 images"
        if target == "kornia":
            return "kornia.augmentation.auto.TrivialAugment()"
        return None

    export_notes = {"albumentations": "albumentations has no TrivialAugment policy"}

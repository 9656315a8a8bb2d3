"""Mixing transforms: blend each image with a partner and blend the labels by the same weight.

In training the partners come from the same batch; in the preview they come from a pool of other pictures so
a single image has something to mix with. Either way the partner is a drawn index, so a draw replays exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from augviz.spec import number
from augviz.transform import MIXING, Params, Transform, register, uniform
from augviz.transforms.occlusion import box_mask


def beta(g: torch.Generator, n: int, alpha: float) -> torch.Tensor:
    """``n`` draws from Beta(α, α), seeded from ``g`` (torch's Beta sampler takes no generator)."""
    seed = int(torch.randint(0, 2**62, (1,), generator=g))
    return torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, size=n)).float()


class MixingTransform(Transform):
    """Base of the mixing entries: ``mix`` replaces ``kernel`` because it needs the partner images."""

    category = MIXING

    def sample(self, cfg: dict[str, Any], n: int, g: torch.Generator, pool_size: int | None = None) -> Params:
        if pool_size is None:
            partner = torch.randperm(n, generator=g)
        else:
            partner = torch.randint(0, pool_size, (n,), generator=g)
        return {"partner": partner, **self.sample_mix(cfg, n, g)}

    def sample_mix(self, cfg: dict[str, Any], n: int, g: torch.Generator) -> Params:
        raise NotImplementedError

    def mix(self, x: torch.Tensor, pool: torch.Tensor, cfg: dict[str, Any], params: Params,
            applied: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mixed images and each image's own weight λ (1 where the step does not apply)."""
        raise NotImplementedError

    def kernel(self, x, cfg, params):
        out, _ = self.mix(x, x, cfg, params, torch.ones(x.shape[0], dtype=torch.bool))
        return out


def mix_labels(labels: torch.Tensor, pool_labels: torch.Tensor, partner: torch.Tensor,
               lam: torch.Tensor) -> torch.Tensor:
    """Soft labels ``λ·y + (1 − λ)·y_partner`` (labels are B×K one-hot or soft)."""
    lam = lam.to(labels.device, labels.dtype).view(-1, 1)
    return lam * labels + (1 - lam) * pool_labels[partner.to(labels.device)]


@register
class Mixup(MixingTransform):
    name = "mixup"
    label = "Mixup"
    description = "Blend each image with a partner; the labels blend by the same weight (Zhang et al., 2018)."
    formula = (r"x' = \lambda x_i + (1-\lambda) x_j,\ y' = \lambda y_i + (1-\lambda) y_j,\quad "
               r"\lambda \sim \mathrm{Beta}(\alpha, \alpha)")
    default_p = 0.5
    params = (number("alpha", 0.05, 10.0, 0.4, "Beta(α, α): small α keeps λ near 0 or 1, α = 1 is uniform.",
                     step=0.05),)

    def sample_mix(self, cfg, n, g):
        return {"lam": beta(g, n, cfg["alpha"])}

    def mix(self, x, pool, cfg, params, applied):
        lam = torch.where(applied, params["lam"], torch.ones_like(params["lam"]))
        w = lam.to(x.device, x.dtype).view(-1, 1, 1, 1)
        return w * x + (1 - w) * pool[params["partner"].to(x.device)], lam

    def to_code(self, target, cfg, p):
        a = cfg["alpha"]
        if target == "torchvision":
            return f"v2.RandomApply([v2.MixUp(alpha={a}, num_classes=NUM_CLASSES)], p={p})  # needs (images, labels)"
        if target == "kornia":
            return f"K.RandomMixUpV2(lambda_val=None, p={p})  # kornia draws λ from U(0, 1), not Beta(α, α)"
        return None

    export_notes = {"albumentations": "albumentations works on one image at a time and has no mixup"}


@register
class CutMix(MixingTransform):
    name = "cutmix"
    label = "CutMix"
    description = "Paste a box from a partner image; the labels mix by the area each image keeps (Yun et al., 2019)."
    formula = (r"x' = M \odot x_j + (1 - M) \odot x_i,\ \lambda = 1 - \tfrac{|M|}{HW},\quad "
               r"\lambda_0 \sim \mathrm{Beta}(\alpha, \alpha)")
    default_p = 0.5
    params = (number("alpha", 0.05, 10.0, 1.0, "Beta(α, α) for the area kept; α = 1 is uniform.", step=0.05),)

    def sample_mix(self, cfg, n, g):
        lam0 = beta(g, n, cfg["alpha"])
        side = torch.sqrt(1 - lam0)
        cy, cx = uniform(g, n, (0.0, 1.0)), uniform(g, n, (0.0, 1.0))
        return {"top": (cy - side / 2).clamp(0, 1), "bottom": (cy + side / 2).clamp(0, 1),
                "left": (cx - side / 2).clamp(0, 1), "right": (cx + side / 2).clamp(0, 1)}

    def mix(self, x, pool, cfg, params, applied):
        h, w = x.shape[-2:]
        mask = box_mask(params["top"], params["left"], params["bottom"], params["right"], h, w, x.device)
        mask = mask & applied.to(x.device).view(-1, 1, 1, 1)
        lam = 1 - mask.float().mean(dim=(1, 2, 3)).cpu()
        return torch.where(mask, pool[params["partner"].to(x.device)], x), lam

    def to_code(self, target, cfg, p):
        a = cfg["alpha"]
        if target == "torchvision":
            return f"v2.RandomApply([v2.CutMix(alpha={a}, num_classes=NUM_CLASSES)], p={p})  # needs (images, labels)"
        if target == "kornia":
            return f"K.RandomCutMixV2(beta={a}, p={p})"
        return None

    export_notes = {"albumentations": "albumentations works on one image at a time and has no cutmix"}

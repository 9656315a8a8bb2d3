"""Mixing transforms: blend each image with a partner from the same batch and blend the labels by the same weight.

The partner is a drawn index into the batch (as it stands at the mixing step), so a draw replays exactly; the
preview mixes each draw with another draw, as a training batch does.
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


def partners(g: torch.Generator, n: int) -> torch.Tensor:
    """Each image's partner: the batch turned by a random shift of 1 to n − 1, so no image mixes with itself
    (as torchvision's MixUp and CutMix roll the batch); a batch of one can only mix with itself."""
    shift = int(torch.randint(1, n, (1,), generator=g)) if n > 1 else 0
    return (torch.arange(n) + shift) % n


class MixingTransform(Transform):
    """Base of the mixing entries. ``apply`` overrides the default because an image's result needs its partner,
    which the kernel of a lone image would not see."""

    category = MIXING

    def sample(self, cfg: dict[str, Any], n: int, g: torch.Generator) -> Params:
        return {"partner": partners(g, n), **self.sample_mix(cfg, n, g)}

    def sample_mix(self, cfg: dict[str, Any], n: int, g: torch.Generator) -> Params:
        raise NotImplementedError

    def kernel(self, x, cfg, params):
        return self.apply(x, cfg, params, torch.ones(x.shape[0], dtype=torch.bool))

    def mix_labels(self, labels, params, weights):
        """Soft labels ``λ·y + (1 − λ)·y_partner``."""
        lam = weights.to(labels.device, labels.dtype).view(-1, 1)
        return lam * labels + (1 - lam) * labels[params["partner"].to(labels.device)]


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

    def apply(self, x, cfg, params, applied):
        w = self.label_weights(cfg, params, applied, *x.shape[-2:]).to(x.device, x.dtype).view(-1, 1, 1, 1)
        other = x[params["partner"].to(x.device)]  # a copy, taken before x is overwritten
        return torch.lerp(other, x, w, out=x)  # λ·x + (1 − λ)·partner

    def label_weights(self, cfg, params, applied, height, width):
        return torch.where(applied, params["lam"], torch.ones_like(params["lam"]))


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

    def apply(self, x, cfg, params, applied):
        mask = self._mask(params, applied, *x.shape[-2:], x.device)
        return torch.where(mask, x[params["partner"].to(x.device)], x)

    def label_weights(self, cfg, params, applied, height, width):
        # λ is the share of pixels the image keeps, counted on the pixel grid, so labels match the pictures.
        return 1 - self._mask(params, applied, height, width, torch.device("cpu")).float().mean(dim=(1, 2, 3))

    @staticmethod
    def _mask(params, applied, height, width, device):
        mask = box_mask(params["top"], params["left"], params["bottom"], params["right"], height, width, device)
        return mask & applied.to(device).view(-1, 1, 1, 1)



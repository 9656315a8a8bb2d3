"""Occlusion: hide a random box so the model cannot rely on one part of the object."""

from __future__ import annotations

import torch

from augviz.functional.noise import uniform_field
from augviz.spec import choice, number, span
from augviz.transform import OCCLUSION, Transform, box, register, seeds


def box_mask(top: torch.Tensor, left: torch.Tensor, bottom: torch.Tensor, right: torch.Tensor,
             height: int, width: int, device: torch.device) -> torch.Tensor:
    """B×1×H×W boolean mask, true inside each image's box (bounds are fractions of the size, end exclusive)."""
    ys = (torch.arange(height, device=device) + 0.5) / height
    xs = (torch.arange(width, device=device) + 0.5) / width
    t, lf, bt, r = (v.to(device).view(-1, 1, 1) for v in (top, left, bottom, right))
    inside_y = (ys.view(1, -1, 1) >= t) & (ys.view(1, -1, 1) < bt)
    inside_x = (xs.view(1, 1, -1) >= lf) & (xs.view(1, 1, -1) < r)
    return (inside_y & inside_x).unsqueeze(1)


@register
class RandomErasing(Transform):
    category = OCCLUSION
    name = "random_erasing"
    label = "Random erasing / cutout"
    description = ("Blank out one box of random area and aspect ratio with a constant or with noise "
                   "(Zhong et al., 2017).")
    formula = r"x'_{ij} = v \text{ for } (i,j) \in \text{box},\quad \text{area} \sim U(a_{lo}, a_{hi})\cdot HW"
    default_p = 0.5
    params = (span("area", 0.01, 0.9, (0.02, 0.33), "Box area as a fraction of the image."),
              span("ratio", 0.1, 10.0, (0.3, 3.3), "Box aspect ratio, height over width (drawn log-uniform)."),
              choice("fill", ("constant", "noise"), "constant", "Fill the box with one grey level or with noise."),
              number("value", 0.0, 1.0, 0.0, "The grey level used when fill is constant.",
                     only_when=("fill", "constant")))

    def sample(self, cfg, n, g):
        bh, bw, top, left = box(g, n, cfg["area"], cfg["ratio"])  # the ratio is height over width
        return {"top": top, "left": left, "bottom": top + bh, "right": left + bw, "seed": seeds(g, n)}

    def kernel(self, x, cfg, params):
        c, h, w = x.shape[1:]
        mask = box_mask(params["top"], params["left"], params["bottom"], params["right"], h, w, x.device)
        if cfg["fill"] == "noise":
            return torch.where(mask, uniform_field(params["seed"], (c, h, w), x.device).to(x.dtype), x, out=x)
        return x.masked_fill_(mask, cfg["value"])


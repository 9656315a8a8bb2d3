"""Per-image random fields: noise from a per-image seed, so a draw is small to store and exact to replay.

Storing a noise field as a parameter would cost as much memory as the image; a 31-bit seed is enough. Each
image's field comes from its own generator, so an image's noise does not depend on which batch it is in. The
same seed gives the same field on the same kind of device.

On the CPU the bits come from numpy's SFC64 generator, several times faster than torch's Mersenne Twister,
which made noise the slowest step of a preview. A normal value is the standard normal quantile of a 16-bit
random level (inverse-transform sampling on 65,536 equally likely levels): exact quantiles, 0.00004 apart at
the centre and spreading out only in the outer tails, which are cut at ±4.33 (a true normal lands beyond
that about once in 66,000 draws). On a GPU, torch's own generator there draws the fields.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import torch

from augviz.functional import scratch

LEVELS = 1 << 16  # random levels behind a CPU normal value


@cache
def normal_quantiles() -> np.ndarray:
    """The standard normal quantile at the centre of each of the 65,536 equally likely levels (float32)."""
    p = (torch.arange(LEVELS, dtype=torch.float64) + 0.5) / LEVELS
    return (math.sqrt(2) * torch.special.erfinv(2 * p - 1)).float().numpy()


def _fields(seeds: torch.Tensor, shape: tuple[int, ...], device: torch.device, normal: bool,
            reuse: bool) -> torch.Tensor:
    size = (len(seeds), *shape)
    out = scratch.buffer("field", size, torch.float32, device) if reuse else torch.empty(size, device=device)
    if out.numel() == 0:
        return out
    if device.type == "cpu":
        flat = out.numpy().reshape(len(seeds), -1)
        for row, s in zip(flat, seeds.tolist(), strict=True):
            bits = np.random.SFC64(int(s))
            if normal:
                levels = bits.random_raw(-(-row.size // 4)).view(np.uint16)[:row.size]
                np.take(normal_quantiles(), levels, out=row, mode="clip")  # uint16 levels are all in range
            else:
                np.random.Generator(bits).random(out=row, dtype=np.float32)
        return out
    for i, s in enumerate(seeds.tolist()):
        g = torch.Generator(device=device).manual_seed(int(s))
        if normal:
            out[i].normal_(generator=g)
        else:
            out[i].uniform_(generator=g)
    return out


def uniform_field(seeds: torch.Tensor, shape: tuple[int, ...], device: torch.device,
                  reuse: bool = False) -> torch.Tensor:
    """For each seed, a field of the given shape with values uniform in [0, 1).

    With ``reuse`` the field lands in this thread's scratch buffer, valid until the next reusing call: for a
    kernel that consumes the field at once."""
    return _fields(seeds, shape, device, normal=False, reuse=reuse)


def normal_field(seeds: torch.Tensor, shape: tuple[int, ...], device: torch.device,
                 reuse: bool = False) -> torch.Tensor:
    """For each seed, a standard normal field (``reuse`` as in ``uniform_field``)."""
    return _fields(seeds, shape, device, normal=True, reuse=reuse)


def snow(x: torch.Tensor, seeds: torch.Tensor, amount: torch.Tensor, magnitude: torch.Tensor,
         out: torch.Tensor | None = None) -> torch.Tensor:
    """Move a share ``amount`` of each image's pixels up or down (half each) by ``magnitude``, all channels alike.

    One uniform number u per pixel from the image's seed: u < amount/2 goes up, amount/2 ≤ u < amount down."""
    h, w = x.shape[-2:]
    u = uniform_field(seeds, (1, h, w), x.device, reuse=True)
    a = amount.to(x.device, x.dtype).view(-1, 1, 1, 1)
    step = (u < a / 2).to(x.dtype) - ((u >= a / 2) & (u < a)).to(x.dtype)
    return torch.addcmul(x, step, magnitude.to(x.device, x.dtype).view(-1, 1, 1, 1), out=out).clamp_(0, 1)

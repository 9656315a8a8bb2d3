"""Per-image random fields: noise from a per-image seed, so a draw is small to store and exact to replay.

Storing a noise field as a parameter would cost as much memory as the image; a 31-bit seed is enough. Each
image's field comes from its own generator on the images' device, so an image's noise does not depend on which
batch it is in. The same seed gives the same field on the same kind of device.
"""

from __future__ import annotations

import torch


def _fields(seeds: torch.Tensor, shape: tuple[int, ...], device: torch.device, normal: bool) -> torch.Tensor:
    out = torch.empty(len(seeds), *shape, device=device)
    for i, s in enumerate(seeds.tolist()):
        g = torch.Generator(device=device).manual_seed(int(s))
        if normal:
            out[i].normal_(generator=g)
        else:
            out[i].uniform_(generator=g)
    return out


def uniform_field(seeds: torch.Tensor, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """For each seed, a field of the given shape with values uniform in [0, 1)."""
    return _fields(seeds, shape, device, normal=False)


def normal_field(seeds: torch.Tensor, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """For each seed, a standard normal field."""
    return _fields(seeds, shape, device, normal=True)

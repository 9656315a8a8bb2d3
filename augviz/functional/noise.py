"""Counter-based random fields: noise from a per-image seed, identical on CPU and GPU and exact to replay.

Storing a noise field as a parameter would cost as much memory as the image; a 31-bit seed is enough. The hash
is Chris Wellons' ``lowbias32`` applied to (seed, pixel index), computed with int64 tensor arithmetic.
"""

from __future__ import annotations

import math

import torch

_M32 = 0xFFFFFFFF


def _mix32(x: torch.Tensor) -> torch.Tensor:
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _M32
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _M32
    return x ^ (x >> 16)


def uniform_field(seeds: torch.Tensor, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """For each seed, a field of the given shape with values uniform in (0, 1)."""
    count = math.prod(shape)
    idx = torch.arange(count, device=device, dtype=torch.int64)
    s = _mix32(seeds.to(device, torch.int64) & _M32)[:, None]
    x = _mix32((idx[None] * 0x9E3779B1 + s) & _M32)
    x = _mix32(x ^ s)
    u = ((x >> 8).to(torch.float32) + 0.5) / float(1 << 24)
    return u.reshape(len(seeds), *shape)


def normal_field(seeds: torch.Tensor, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """For each seed, a standard normal field (Box–Muller on two uniform fields)."""
    count = math.prod(shape)
    u = uniform_field(seeds, (2, count), device)
    z = torch.sqrt(-2 * torch.log(u[:, 0])) * torch.cos(2 * math.pi * u[:, 1])
    return z.reshape(len(seeds), *shape)

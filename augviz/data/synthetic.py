"""The built-in dataset: ten kinds of shape, drawn at 32×32 with natural variation, offline and seeded.

Each image is one object (circle, square, triangle, star, cross, ring, crescent, ellipse, hexagon, L) at a random
position, size, angle and colour, over a two-colour gradient with distractor strokes and sensor noise. Shapes are
signed distance functions evaluated on the pixel grid in batches, so 10,000 images take about a second.
"""

from __future__ import annotations

import math

import torch

CLASSES = ("circle", "square", "triangle", "star", "cross", "ring", "crescent", "ellipse", "hexagon", "L-shape")
SIZE = 32
TEST_SIZE = 2000
TEST_SEED = 1_000_003  # one fixed test set for every run, whatever the training seed
_CHUNK = 2048


def _polygon(x: torch.Tensor, y: torch.Tensor, sides: int, radius: float) -> torch.Tensor:
    """Signed distance (approximate outside) to a regular polygon with its inradius ``radius``."""
    d = torch.full_like(x, -math.inf)
    for k in range(sides):
        a = 2 * math.pi * k / sides + math.pi / 2
        d = torch.maximum(d, x * math.cos(a) + y * math.sin(a))
    return d - radius


def _box(x: torch.Tensor, y: torch.Tensor, cx: float, cy: float, hx: float, hy: float) -> torch.Tensor:
    return torch.maximum((x - cx).abs() - hx, (y - cy).abs() - hy)


def _sdf(cls: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Signed distance of each point to the class's shape in object units (the shape spans about [-1, 1])."""
    r = torch.sqrt(x * x + y * y)
    if cls == 0:
        return r - 0.9
    if cls == 1:
        return _box(x, y, 0, 0, 0.75, 0.75)
    if cls == 2:
        return _polygon(x, y, 3, 0.5)
    if cls == 3:
        theta = torch.atan2(y, x)
        return r - (0.45 + 0.5 * (0.5 + 0.5 * torch.cos(5 * theta)) ** 2)
    if cls == 4:
        return torch.minimum(_box(x, y, 0, 0, 0.28, 0.95), _box(x, y, 0, 0, 0.95, 0.28))
    if cls == 5:
        return (r - 0.7).abs() - 0.22
    if cls == 6:
        return torch.maximum(r - 0.95, -(torch.sqrt((x - 0.45) ** 2 + y * y) - 0.8))
    if cls == 7:
        return torch.sqrt(x * x + (2.6 * y) ** 2) - 0.95
    if cls == 8:
        return _polygon(x, y, 6, 0.8)
    return torch.minimum(_box(x, y, -0.45, 0, 0.28, 0.95), _box(x, y, 0.1, 0.67, 0.83, 0.28))


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """N HSV triples (each in [0, 1]) to N×3 RGB."""
    k = (torch.tensor([5.0, 3.0, 1.0]) + h[:, None] * 6) % 6
    return v[:, None] - v[:, None] * s[:, None] * torch.clamp(torch.minimum(k, 4 - k), 0, 1)


def _render(labels: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    n = len(labels)
    coords = (torch.arange(SIZE) + 0.5) / SIZE * 2 - 1
    gy, gx = torch.meshgrid(coords, coords, indexing="ij")
    px = 2 / SIZE  # one pixel in image units

    # Background: a gradient between two random colours, at a random angle.
    c0, c1 = (_hsv_to_rgb(torch.rand(n, generator=g), 0.6 * torch.rand(n, generator=g),
                          0.2 + 0.8 * torch.rand(n, generator=g)) for _ in range(2))
    a = torch.rand(n, generator=g) * 2 * math.pi
    t = ((gx[None] * torch.cos(a)[:, None, None] + gy[None] * torch.sin(a)[:, None, None]) * 0.5 + 0.5).clamp(0, 1)
    img = c0[:, :, None, None] + (c1 - c0)[:, :, None, None] * t[:, None]

    # Distractor strokes: two thin, half-transparent segments each.
    for _ in range(2):
        p0 = torch.rand(n, 2, generator=g) * 2 - 1
        p1 = p0 + (torch.rand(n, 2, generator=g) * 2 - 1) * 0.8
        d = p1 - p0
        rel_x, rel_y = gx[None] - p0[:, 0, None, None], gy[None] - p0[:, 1, None, None]
        h = ((rel_x * d[:, 0, None, None] + rel_y * d[:, 1, None, None])
             / (d * d).sum(1).clamp_min(1e-6)[:, None, None]).clamp(0, 1)
        dist = torch.sqrt((rel_x - h * d[:, 0, None, None]) ** 2 + (rel_y - h * d[:, 1, None, None]) ** 2)
        alpha = 0.7 * (1 - dist / px).clamp(0, 1)[:, None]
        colour = torch.rand(n, 3, generator=g)[:, :, None, None]
        img = img * (1 - alpha) + colour * alpha

    # The object: pose, size, colour; mirrored half the time (a mirrored L is still an L).
    scale = 0.45 + 0.4 * torch.rand(n, generator=g)
    centre = (torch.rand(n, 2, generator=g) * 2 - 1) * (1 - scale[:, None]) * 0.8
    angle = torch.rand(n, generator=g) * 2 * math.pi
    mirror = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    colour = _hsv_to_rgb(torch.rand(n, generator=g), 0.4 + 0.6 * torch.rand(n, generator=g),
                         0.35 + 0.65 * torch.rand(n, generator=g))
    dx = gx[None] - centre[:, 0, None, None]
    dy = gy[None] - centre[:, 1, None, None]
    cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    ox = (dx * cos + dy * sin) / scale[:, None, None] * mirror[:, None, None]
    oy = (-dx * sin + dy * cos) / scale[:, None, None]
    alpha = torch.empty(n, SIZE, SIZE)
    for cls in labels.unique().tolist():
        idx = (labels == cls).nonzero().squeeze(1)
        sdf = _sdf(cls, ox[idx], oy[idx]) * scale[idx, None, None]  # back to image units
        alpha[idx] = (0.5 - sdf / px).clamp(0, 1)
    img = img * (1 - alpha[:, None]) + colour[:, :, None, None] * alpha[:, None]
    img = img + 0.03 * torch.randn(img.shape, generator=g)
    return (img.clamp(0, 1) * 255).round().to(torch.uint8)


def generate(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` images (uint8 N×3×32×32) and labels, balanced over the classes, deterministic from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % len(CLASSES)
    labels = labels[torch.randperm(count, generator=g)]
    images = torch.empty(count, 3, SIZE, SIZE, dtype=torch.uint8)
    for start in range(0, count, _CHUNK):
        images[start:start + _CHUNK] = _render(labels[start:start + _CHUNK], g)
    return images, labels

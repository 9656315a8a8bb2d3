"""Photometric kernels on batched float images (B×C×H×W in [0, 1]); per-image factors are B-vectors."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from augviz.functional import scratch

_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as PIL's convert("L") uses


def _col(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A B-vector shaped to broadcast over B×C×H×W."""
    return v.to(x.device, x.dtype).view(-1, 1, 1, 1)


def gray(x: torch.Tensor) -> torch.Tensor:
    """Luma, B×1×H×W (a 1-channel image is its own luma)."""
    if x.shape[1] == 1:
        return x
    r, g, b = _LUMA
    # Three fused multiply-adds over whole planes: faster than a batched 1×3 matmul.
    return torch.mul(x[:, 0:1], r).add_(x[:, 1:2], alpha=g).add_(x[:, 2:3], alpha=b)


def mean_luma(x: torch.Tensor) -> torch.Tensor:
    """Mean luma per image, B×1×1×1, from the channel means (cheaper than averaging the luma image)."""
    means = x.mean(dim=(2, 3))
    if x.shape[1] == 1:
        return means.view(-1, 1, 1, 1)
    w = torch.tensor(_LUMA, device=x.device, dtype=x.dtype)
    return (means[:, :3] @ w).view(-1, 1, 1, 1)


def blend(a: torch.Tensor, b: torch.Tensor, factor: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``b + factor·(a − b)`` clamped to [0, 1]: factor 1 gives a, 0 gives b, above 1 pushes away from b."""
    return torch.lerp(b, a, _col(factor, a), out=out).clamp_(0, 1)  # clamped in place: one pass less


def brightness(x: torch.Tensor, factor: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``clip(f·x)``; ``out`` (which may be ``x``) receives the result."""
    return torch.mul(x, _col(factor, x), out=out).clamp_(0, 1)


def contrast(x: torch.Tensor, factor: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``clip(μ + f·(x − μ))`` with μ the image's mean luma; ``out`` as in ``brightness``."""
    f = _col(factor, x)
    offset = (1 - f) * mean_luma(x)  # before ``out``, which may be x, is written
    # f·x + (1 − f)·μ as two in-place passes: a fused addcmul with two per-image operands takes torch's
    # scalar (unvectorised) loop and is several times slower.
    return torch.mul(x, f, out=out).add_(offset).clamp_(0, 1)


def saturation(x: torch.Tensor, factor: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``g + f·(x − g)`` with g the luma; ``out`` as in ``brightness``."""
    if x.shape[1] != 3:
        return x
    # A lerp towards the broadcast luma: cheaper than the equivalent 3×3 colour matrix through a matmul.
    return torch.lerp(gray(x).expand_as(x), x, _col(factor, x), out=out).clamp_(0, 1)


def color_matrix(x: torch.Tensor, m: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Apply a B×3×3 colour matrix to each pixel of a 3-channel batch, clamped to [0, 1].

    With ``out`` (which may be ``x``) the product goes through this thread's scratch buffer, so no batch-sized
    memory is allocated."""
    b, _, h, w = x.shape
    m = m.to(x.device, x.dtype)
    if out is None:
        return torch.bmm(m, x.reshape(b, 3, h * w)).reshape(b, 3, h, w).clamp_(0, 1)
    product = scratch.buffer("color", (b, 3, h * w), x.dtype, x.device)
    torch.bmm(m, x.reshape(b, 3, h * w), out=product)
    return torch.clamp(product.view(b, 3, h, w), 0, 1, out=out)  # the clamp is the copy back


def hue(x: torch.Tensor, shift: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Turn hue by ``shift`` turns in HSV (as PIL, colorsys, torchvision and kornia do): +1/6 takes red to
    yellow; saturation and value stay. ``out`` as in ``brightness``.

    No HSV image is built: with V = max, C = max − min and the hue in sextants h' = 6H + 6·shift, each channel
    is ``V − C·clip(min(k, 4 − k), 0, 1)`` with k = (n + h') mod 6 and n = 5, 3, 1 for R, G, B, the closed
    form of HSV → RGB. The planes live in this thread's scratch buffer, and branches are arithmetic (a 0/1
    factor from ``sign``): ``torch.where`` and bool masks take torch's slow paths on the CPU.
    """
    if x.shape[1] != 3:
        return x
    out = torch.empty_like(x) if out is None else out
    # A few images at a time: the five working planes of 2¹⁷ pixels stay in cache (1.5× faster at 256×256).
    step = max(1, (1 << 17) // (x.shape[2] * x.shape[3]))
    for i in range(0, x.shape[0], step):
        _hue(x[i:i + step], shift[i:i + step], out[i:i + step])
    return out


def _hue(x: torch.Tensor, shift: torch.Tensor, out: torch.Tensor) -> None:
    n, _, height, width = x.shape
    r, g, b = x.unbind(1)
    v, c, h, k, t = scratch.buffer("hue", (5, n, height, width), x.dtype, x.device).unbind(0)
    torch.maximum(torch.maximum(r, g, out=v), b, out=v)
    torch.sub(v, torch.minimum(torch.minimum(r, g, out=c), b, out=c), out=c)
    # C·h' before the shift, on colorsys' branches: red where red is largest, else green, else blue.
    torch.sub(r, g, out=h).add_(c, alpha=4)  # blue: r − g + 4C
    torch.sub(b, r, out=k).add_(c, alpha=2).sub_(h)  # green: b − r + 2C
    h.addcmul_(k, torch.sub(v, g, out=t).sign_().neg_().add_(1))  # 1 where green is largest
    torch.sub(g, b, out=k).sub_(h)  # red: g − b
    h.addcmul_(k, torch.sub(v, r, out=t).sign_().neg_().add_(1))
    h.div_(torch.clamp(c, min=1e-30, out=t))  # grey: C·h' is 0 there, and so is h'
    h.add_(_col(shift * 6, x)[:, 0])
    for channel, offset in enumerate((5.0, 3.0, 1.0)):
        torch.add(h, offset, out=k)
        k.sub_(torch.floor(torch.div(k, 6, out=t), out=t), alpha=6)  # mod 6
        torch.minimum(k, torch.sub(k, 4, out=t).neg_(), out=k).clamp_(0, 1)  # clip(min(k, 4 − k), 0, 1)
        torch.addcmul(v, c, k, value=-1, out=out[:, channel])


def gamma(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return x.clamp_min(0).pow(_col(g, x))


def gaussian_kernels(sigma: torch.Tensor) -> torch.Tensor:
    """One normalised 1-D Gaussian per sigma, all padded to the widest radius (3σ) with exact zeros."""
    radius = torch.ceil(3 * sigma).clamp_min(1).long()
    r = int(radius.max())
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t[None] / sigma.to(torch.float64)[:, None]) ** 2)
    k = torch.where(t.abs()[None] <= radius[:, None], k, torch.zeros_like(k))
    return (k / k.sum(1, keepdim=True)).float()


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with a per-image sigma (pixels) and mirrored borders."""
    b, c, h, w = x.shape
    k = gaussian_kernels(sigma).to(x.device, x.dtype)
    r = (k.shape[1] - 1) // 2
    kk = k.repeat_interleave(c, 0)
    flat = x.reshape(1, b * c, h, w)
    mode = "reflect" if r < min(h, w) else "replicate"
    flat = F.conv2d(F.pad(flat, (r, r, 0, 0), mode=mode), kk.view(b * c, 1, 1, -1), groups=b * c)
    flat = F.conv2d(F.pad(flat, (0, 0, r, r), mode=mode), kk.view(b * c, 1, -1, 1), groups=b * c)
    return flat.reshape(b, c, h, w)


def sharpness(x: torch.Tensor, factor: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Blend with PIL's smoothing filter (centre 5, neighbours 1, /13); the 1-pixel border stays as it was.

    ``out`` as in ``brightness``."""
    h, w = x.shape[2:]
    if h < 3 or w < 3:
        return x
    # The filter as (9·box mean + 4·centre) / 13: a 3×3 mean pool is one steady pass, where a grouped conv2d
    # took torch's slow path or its fast one by the allocator's state (2.6 to 8 rotations at the same size).
    smooth = x.clone()
    inner = smooth[..., 1:-1, 1:-1]
    torch.mul(F.avg_pool2d(x, 3, stride=1), 9 / 13, out=inner).add_(x[..., 1:-1, 1:-1], alpha=4 / 13)
    return blend(x, smooth, factor, out)


def to_levels(x: torch.Tensor) -> torch.Tensor:
    """The 8-bit levels 0..255 of x, as PIL and uint8 pipelines see them."""
    return (x * 255).round().clamp(0, 255).to(torch.int64)


def posterize(x: torch.Tensor, bits: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Keep the top ``bits`` bits of each 8-bit level; ``out`` (which may be ``x``) receives the result.

    Level ``l & (256 − q)`` with q = 2^(8 − bits) is ``⌊l / q⌋·q``, exact in float (whole levels, q a power of
    two): in-place passes over the batch instead of int64 copies twice its size."""
    q = _col(2.0 ** (8 - bits.to(torch.float64)), x)
    return torch.mul(x, 255, out=out).round_().clamp_(0, 255).div_(q).floor_().mul_(q).div_(255)


def solarize(x: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= _col(threshold, x), 1 - x, x)


def autocontrast(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Stretch each channel of each image to the full [0, 1] range (flat channels stay as they are); ``out``
    (which may be ``x``) receives the result, with no other batch-sized memory."""
    lo = x.amin(dim=(2, 3), keepdim=True)
    span = x.amax(dim=(2, 3), keepdim=True) - lo
    ok = span > 0
    # A flat channel is shifted by 0 and divided by 1: itself.
    shift, scale = torch.where(ok, lo, torch.zeros_like(lo)), torch.where(ok, span, torch.ones_like(span))
    return torch.sub(x, shift, out=out).div_(scale).clamp_(0, 1)


def equalize(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Histogram equalisation of each channel on its 8-bit levels, PIL's ImageOps.equalize rule; ``out`` (which
    may be ``x``) receives the result.

    A few images at a time, so that the int64 levels (twice the images' size) never exist for the whole batch."""
    out = torch.empty_like(x) if out is None else out
    b, c, h, w = x.shape
    step = max(1, (1 << 20) // (c * h * w))
    for i in range(0, b, step):
        out[i:i + step] = _equalize(x[i:i + step])
    return out


def _equalize(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    levels = to_levels(x).reshape(b * c, h * w)
    hist = torch.zeros(b * c, 256, dtype=torch.int64, device=x.device).scatter_add_(
        1, levels, torch.ones(1, 1, dtype=torch.int64, device=x.device).expand_as(levels))
    # PIL: step = (pixels − count of the last non-empty level) // 255; a step of 0 leaves the channel alone.
    last = 255 - torch.argmax((hist.flip(1) > 0).to(torch.int64), dim=1)
    step = (h * w - hist.gather(1, last[:, None]).squeeze(1)) // 255
    safe = step.clamp_min(1)[:, None]
    lut = ((torch.cumsum(hist, 1) - hist + safe // 2) // safe).clamp(0, 255)
    # A channel left alone maps each level to itself.
    lut = torch.where((step > 0)[:, None], lut, torch.arange(256, device=x.device))
    return lut.to(x.dtype).div_(255).gather(1, levels).reshape(b, c, h, w)

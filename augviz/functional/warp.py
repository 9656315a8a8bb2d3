"""Geometric warps: chains of forward maps fused into one resample.

Coordinates are pixels with the origin at the image centre and y pointing down, so a rotation matrix reads the
way it is written in a textbook. A chain is kept in forward order (input → output); to draw the output the
sampler needs the inverse, which is the product of the inverses in reverse order. Runs of matrices collapse into
one 3×3 product, so rotation + translation + zoom + flip cost a single ``grid_sample``, not four.

A chain may flatten the picture: two 45° shears send x and y to the same place, so the product has no inverse.
Such a map is drawn as the limit of nearly flat ones (``invert``): the picture squeezed onto a line or a point,
the fill everywhere else. A sampling point at infinity (a perspective divide by zero) samples the fill too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from augviz.functional import scratch

_PADDING = {"constant": "zeros", "nearest": "border", "reflect": "reflection"}
# Singular values of a flattening map are raised to this share of its largest: the squeezed side of the picture
# is then far below a pixel wide (as in the limit) and the inverse stays finite.
_RCOND = 1e-12
# Where a sampling point lands at infinity or nowhere (0/0) it is put this far out (grid units), in the fill:
# grid_sample turns an infinite coordinate into NaN pixels, a large finite one into the padding.
_FAR = 1e18
# Largest entry of a grid-space inverse that the float32 affine grid takes: beyond it float32 rounding moves points.
_FLOAT32_EXACT = 1e3


@dataclass
class Warp:
    """A chain of forward maps for a batch: each op is a B×3×3 matrix or a B×H×W×2 displacement field."""

    n: int
    height: int
    width: int
    device: torch.device
    ops: list[tuple[str, torch.Tensor]] = field(default_factory=list)
    moved: torch.Tensor | None = None  # images that any op changes

    @classmethod
    def identity(cls, n: int, height: int, width: int, device: torch.device) -> Warp:
        return cls(n, height, width, device, [], torch.zeros(n, dtype=torch.bool, device=device))

    def then_matrix(self, m: torch.Tensor, index: torch.Tensor | None = None) -> Warp:
        """This chain followed by the forward matrices ``m`` (K×3×3, or 1×3×3 for all) on the images at ``index``
        (all images when None; K is then the batch size or 1)."""
        k = self.n if index is None else len(index)
        m = m.to(self.device, torch.float64).expand(k, 3, 3)
        if index is not None:
            m = _scatter(torch.eye(3, dtype=torch.float64, device=self.device).expand(self.n, 3, 3), m, index)
        return self._then(("matrix", m), index)

    def then_field(self, d: torch.Tensor, index: torch.Tensor | None = None) -> Warp:
        """This chain followed by the displacement fields ``d`` (K×H×W×2, in pixels: from an output pixel to where
        it samples the input) on the images at ``index`` (all images when None)."""
        d = d.to(self.device)
        if index is not None:
            d = _scatter(torch.zeros(self.n, self.height, self.width, 2, device=self.device), d, index)
        return self._then(("field", d), index)

    def _then(self, op: tuple[str, torch.Tensor], index: torch.Tensor | None) -> Warp:
        if index is None:
            moved = torch.ones_like(self.moved)
        else:
            moved = self.moved.clone()
            moved[index.to(self.device)] = True
        return Warp(self.n, self.height, self.width, self.device, [*self.ops, op], moved)

    def grid(self, reuse: bool = False) -> torch.Tensor:
        """Sampling grid (B×H×W×2, normalised to [-1, 1] as ``grid_sample`` wants) for the output pixels.

        With ``reuse`` an affine grid lands in a per-thread scratch buffer, overwritten by the next call."""
        h, w = self.height, self.width
        if all(kind == "matrix" for kind, _ in self.ops):
            forward = self.ops[0][1]
            for _, m in self.ops[1:]:
                forward = m @ forward
            # From pixels to grid_sample's [-1, 1]: S·M⁻¹·S⁻¹ with S = diag(2/w, 2/h, 1), which scales entry
            # (i, j) by s_i / s_j: one elementwise product instead of two matrix products and an inverse.
            s = torch.tensor([2.0 / w, 2.0 / h, 1.0], dtype=torch.float64, device=self.device)
            inv = invert(forward) * (s[:, None] / s[None, :])
            # A (nearly) flat map's inverse has huge entries that cancel on the line the picture is squeezed
            # onto: only float64 keeps those points, so it takes the per-pixel float64 path below.
            if torch.all(inv[:, 2, :2] == 0) and bool((inv.abs() < _FLOAT32_EXACT).all()):
                return _affine_grid((inv[:, :2, :] / inv[:, 2:3, 2:3]).float(), h, w, reuse)
            return _apply_matrix(inv, _pixel_grid(h, w, self.device, normalised=True))
        # Walk back from the output: matrices pile up until a field needs the points themselves.
        points = _pixel_grid(h, w, self.device, normalised=False).expand(self.n, h, w, 2)
        pending = torch.eye(3, dtype=torch.float64, device=self.device).expand(self.n, 3, 3)
        for kind, op in reversed(self.ops):
            if kind == "matrix":
                pending = invert(op) @ pending
                continue
            points = _apply_matrix(pending, points)
            pending = torch.eye(3, dtype=torch.float64, device=self.device).expand(self.n, 3, 3)
            points = points + _sample_field(op, points, h, w)
        points = _apply_matrix(pending, points)
        return points * torch.tensor([2.0 / w, 2.0 / h], device=self.device)


def invert(m: torch.Tensor) -> torch.Tensor:
    """Inverses of B×3×3 forward maps (float64). A map with no inverse (it flattens the picture) gets the limit of
    nearly flat maps: its singular values below ``_RCOND`` of the largest are raised to that, so a point off the
    line the picture collapses onto samples far outside it (the fill) and a point on the line samples the picture.
    """
    inv, info = torch.linalg.inv_ex(m)
    # LU may "succeed" on a flat map with a pivot that is rounding noise; its inverse then fails to undo the map.
    error = (m @ inv - torch.eye(3, dtype=m.dtype, device=m.device)).abs().flatten(1).amax(1)
    flat = (info != 0) | ~(error < 1e-6)  # NaN or inf in the inverse fails this too
    if not bool(flat.any()):
        return inv
    u, sv, vh = torch.linalg.svd(m[flat])
    sv = torch.maximum(sv, (sv[:, :1] * _RCOND).clamp(min=torch.finfo(sv.dtype).tiny))
    inv = inv.clone()
    inv[flat] = vh.mH @ (u.mH / sv[..., None])
    return inv


def resample(x: torch.Tensor, warp: Warp, fill: str = "nearest", fill_value: float = 0.0) -> torch.Tensor:
    """Draw ``x`` through ``warp`` with bilinear interpolation; images the warp leaves alone come back untouched."""
    if not warp.ops or warp.moved is None or not bool(warp.moved.any()):
        return x
    grid = warp.grid(reuse=True).to(x.dtype)  # consumed right here, so a scratch buffer serves
    if not bool(warp.moved.all()):
        idx = warp.moved.nonzero().squeeze(1)
        out = x.clone()
        out[idx] = _grid_sample(x[idx], grid[idx], fill, fill_value)
        return out
    return _grid_sample(x, grid, fill, fill_value)


def _grid_sample(x: torch.Tensor, grid: torch.Tensor, fill: str, fill_value: float) -> torch.Tensor:
    if fill == "constant" and fill_value != 0.0:
        # Zero padding around (x - v), then + v, gives the constant v outside and the right blend at the edge.
        return F.grid_sample(x - fill_value, grid, "bilinear", "zeros", align_corners=False) + fill_value
    return F.grid_sample(x, grid, "bilinear", _PADDING[fill], align_corners=False)


def _affine_grid(theta: torch.Tensor, h: int, w: int, reuse: bool = False) -> torch.Tensor:
    """``F.affine_grid`` (align_corners=False) by broadcasting: an affine map is separable in x and y, so the
    grid is an outer sum, several times cheaper than the batched matmul over every pixel, and it comes out
    contiguous in the B×H×W×2 layout ``grid_sample`` reads. With ``reuse`` it is written into this thread's
    scratch buffer, valid until the next call."""
    xs = (torch.arange(w, device=theta.device, dtype=theta.dtype) * 2 + 1) / w - 1
    ys = (torch.arange(h, device=theta.device, dtype=theta.dtype) * 2 + 1) / h - 1
    shape = (theta.shape[0], h, w, 2)
    out = scratch.buffer("grid", shape, theta.dtype, theta.device) if reuse else \
        torch.empty(shape, dtype=theta.dtype, device=theta.device)
    for k in range(2):  # x then y, each written straight into its interleaved plane of the grid
        along_x = xs[None, None, :] * theta[:, k, 0, None, None]  # B×1×W
        along_y = ys[None, :, None] * theta[:, k, 1, None, None] + theta[:, k, 2, None, None]  # B×H×1
        torch.add(along_x, along_y, out=out[..., k])
    return out


def _scatter(base: torch.Tensor, values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    out = base.clone()
    out[index.to(base.device)] = values.to(base.dtype)
    return out


def _pixel_grid(h: int, w: int, device: torch.device, normalised: bool) -> torch.Tensor:
    """H×W×2 (x, y) pixel centres, origin at the centre; divided by half the size when ``normalised``."""
    ys = torch.arange(h, dtype=torch.float64, device=device) - (h - 1) / 2
    xs = torch.arange(w, dtype=torch.float64, device=device) - (w - 1) / 2
    if normalised:
        ys, xs = ys * 2 / h, xs * 2 / w
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1)


def _apply_matrix(m: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Apply B×3×3 homographies to B×H×W×2 (or H×W×2) points, with the perspective divide."""
    pts = points.to(torch.float64)
    ones = torch.ones(*pts.shape[:-1], 1, dtype=pts.dtype, device=pts.device)
    homo = torch.cat([pts, ones], dim=-1)
    if homo.dim() == 3:
        homo = homo.unsqueeze(0)
    out = torch.einsum("bij,bhwj->bhwi", m, homo.expand(m.shape[0], *homo.shape[1:]))
    return _far((out[..., :2] / out[..., 2:3]).float())


def _far(points: torch.Tensor) -> torch.Tensor:
    """``points`` with every infinite or undefined (0/0) coordinate, and any beyond ``_FAR``, put ``_FAR`` out."""
    return torch.nan_to_num(points, nan=_FAR, posinf=_FAR, neginf=-_FAR).clamp_(-_FAR, _FAR)


def _sample_field(field_: torch.Tensor, points: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Bilinear read of a B×H×W×2 field at arbitrary pixel points (B×H×W×2)."""
    norm = points * torch.tensor([2.0 / w, 2.0 / h], device=points.device)
    img = field_.permute(0, 3, 1, 2)
    out = F.grid_sample(img, norm.to(img.dtype), "bilinear", "border", align_corners=False)
    return out.permute(0, 2, 3, 1)

"""Geometric transforms: each gives a forward matrix (or a displacement field) so the pipeline can fuse them."""

from __future__ import annotations

import torch

from augviz.functional import color
from augviz.functional.noise import uniform_field
from augviz.spec import FILL_PARAMS, flag, span
from augviz.transform import GeometricTransform, box, register, seeds, uniform

_EYE = torch.eye(3, dtype=torch.float64)


def _eye(n: int) -> torch.Tensor:
    """``n`` identity matrices to fill in, float64 (a copy of an expanded eye: cheaper than ``repeat``)."""
    return _EYE.expand(n, 3, 3).clone()


@register
class Rotation(GeometricTransform):
    name = "rotation"
    label = "Rotation"
    description = "Rotate about the image centre by a random angle (positive is counter-clockwise)."
    formula = (r"\begin{pmatrix}x'\\y'\end{pmatrix} = \begin{pmatrix}\cos\theta & \sin\theta\\ "
               r"-\sin\theta & \cos\theta\end{pmatrix}\begin{pmatrix}x\\y\end{pmatrix},\quad "
               r"\theta \sim U(\theta_{lo}, \theta_{hi})")
    params = (span("degrees", -180, 180, (-15, 15), "Each image turns by an angle drawn from this range.",
                   step=1.0, unit="°", identity=0.0), *FILL_PARAMS)

    def sample(self, cfg, n, g):
        return {"angle": uniform(g, n, cfg["degrees"])}

    def matrix(self, cfg, params, height, width):
        t = torch.deg2rad(params["angle"].to(torch.float64))
        m = _eye(len(t))
        m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = t.cos(), t.sin(), -t.sin(), t.cos()
        return m


class _Flip(GeometricTransform):
    default_p = 0.5
    axis = 0

    def matrix(self, cfg, params, height, width):
        m = _eye(1)  # nothing drawn: one mirror matrix serves every image
        m[:, self.axis, self.axis] = -1
        return m


@register
class HorizontalFlip(_Flip):
    name = "horizontal_flip"
    label = "Horizontal flip"
    description = "Mirror left to right."
    formula = r"x' = -x"
    axis = 0


@register
class VerticalFlip(_Flip):
    name = "vertical_flip"
    label = "Vertical flip"
    description = "Mirror top to bottom."
    formula = r"y' = -y"
    axis = 1


@register
class Affine(GeometricTransform):
    name = "affine"
    label = "Affine (translate, scale, shear)"
    description = "Shift, scale and shear in one map, each amount drawn per image."
    formula = (r"A = T(t_x W, t_y H)\,\begin{pmatrix}1 & \tan\phi_x\\ \tan\phi_y & 1\end{pmatrix}"
               r"\begin{pmatrix}s & 0\\ 0 & s\end{pmatrix}")
    params = (
        span("translate_x", -0.5, 0.5, (-0.1, 0.1), "Horizontal shift as a fraction of the width.", identity=0.0),
        span("translate_y", -0.5, 0.5, (-0.1, 0.1), "Vertical shift as a fraction of the height.", identity=0.0),
        span("scale", 0.5, 2.0, (1.0, 1.0), "Scale factor (above 1 enlarges).", identity=1.0),
        span("shear_x", -45, 45, (0.0, 0.0), "Horizontal shear angle.", step=1.0, unit="°", identity=0.0),
        span("shear_y", -45, 45, (0.0, 0.0), "Vertical shear angle.", step=1.0, unit="°", identity=0.0),
        *FILL_PARAMS,
    )

    def sample(self, cfg, n, g):
        return {"tx": uniform(g, n, cfg["translate_x"]), "ty": uniform(g, n, cfg["translate_y"]),
                "scale": uniform(g, n, cfg["scale"]), "shear_x": uniform(g, n, cfg["shear_x"]),
                "shear_y": uniform(g, n, cfg["shear_y"])}

    def matrix(self, cfg, params, height, width):
        d = {k: v.to(torch.float64) for k, v in params.items()}
        m = _eye(len(d["tx"]))
        kx, ky = torch.tan(torch.deg2rad(d["shear_x"])), torch.tan(torch.deg2rad(d["shear_y"]))
        m[:, 0, 0], m[:, 0, 1] = d["scale"], kx * d["scale"]
        m[:, 1, 0], m[:, 1, 1] = ky * d["scale"], d["scale"]
        m[:, 0, 2], m[:, 1, 2] = d["tx"] * width, d["ty"] * height
        return m


@register
class Zoom(GeometricTransform):
    name = "zoom"
    label = "Zoom in/out"
    description = "Magnify (factor above 1) or shrink (below 1) about the centre, as Keras' zoom_range."
    formula = r"x' = z_x\,x,\quad y' = z_y\,y,\quad z \sim U(z_{lo}, z_{hi})"
    params = (span("factor", 0.5, 2.0, (0.9, 1.1), "Zoom factor drawn per image (1 leaves the size).",
                   identity=1.0),
              flag("keep_aspect", True, "Use one factor for both axes (off: Keras draws x and y separately)."),
              *FILL_PARAMS)

    def sample(self, cfg, n, g):
        zx = uniform(g, n, cfg["factor"])
        zy = uniform(g, n, cfg["factor"])
        return {"zoom_x": zx, "zoom_y": zx if cfg["keep_aspect"] else zy}

    def matrix(self, cfg, params, height, width):
        m = _eye(len(params["zoom_x"]))
        m[:, 0, 0], m[:, 1, 1] = params["zoom_x"].to(torch.float64), params["zoom_y"].to(torch.float64)
        return m


@register
class RandomResizedCrop(GeometricTransform):
    name = "random_resized_crop"
    label = "Random resized crop"
    description = "Cut a random box of random area and aspect ratio and stretch it back to the full size."
    formula = (r"w = \sqrt{aAr},\ h = \sqrt{aA/r},\quad a \sim U(a_{lo}, a_{hi}),\ "
               r"\log r \sim U(\log r_{lo}, \log r_{hi})")
    params = (span("area", 0.05, 1.0, (0.5, 1.0), "Crop area as a fraction of the image.", identity=1.0),
              span("ratio", 0.25, 4.0, (0.75, 1.333), "Crop aspect ratio, width over height (drawn log-uniform).",
                   identity=1.0),
              *FILL_PARAMS)

    def sample(self, cfg, n, g):
        w, h, left, top = box(g, n, cfg["area"], cfg["ratio"])  # the ratio is width over height
        return {"crop_w": w, "crop_h": h, "center_x": left - (1 - w) / 2, "center_y": top - (1 - h) / 2}

    def matrix(self, cfg, params, height, width):
        d = {k: v.to(torch.float64) for k, v in params.items()}
        m = _eye(len(d["crop_w"]))
        m[:, 0, 0], m[:, 1, 1] = 1 / d["crop_w"], 1 / d["crop_h"]
        m[:, 0, 2] = -d["center_x"] * width / d["crop_w"]
        m[:, 1, 2] = -d["center_y"] * height / d["crop_h"]
        return m


@register
class Perspective(GeometricTransform):
    name = "perspective"
    label = "Perspective"
    description = "Pull each corner inward by a random amount, as if the picture were seen at a slant."
    formula = (r"\begin{pmatrix}x'\\y'\\1\end{pmatrix} \propto H\begin{pmatrix}x\\y\\1\end{pmatrix},\quad "
               r"H \text{ maps the corners to corners moved by up to } d\cdot\tfrac{W}{2}")
    params = (span("distortion", 0.0, 1.0, (0.0, 0.3), "How far each corner may move, as a fraction of half the size.",
                   identity=0.0),
              *FILL_PARAMS)

    def sample(self, cfg, n, g):
        d = uniform(g, n, cfg["distortion"])
        return {"distortion": d, "corners": torch.rand(n, 4, 2, generator=g) * d[:, None, None]}

    def matrix(self, cfg, params, height, width):
        hw, hh = width / 2, height / 2
        src = torch.tensor([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]], dtype=torch.float64)
        inward = torch.tensor([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=torch.float64)
        dst = src + inward * params["corners"].to(torch.float64) * torch.tensor([hw, hh], dtype=torch.float64)
        return homography(src.expand_as(dst), dst)


def homography(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """The B×3×3 homographies that send the four points ``src`` (B×4×2) to ``dst`` (B×4×2)."""
    b = src.shape[0]
    a = torch.zeros(b, 8, 8, dtype=torch.float64)
    rhs = torch.zeros(b, 8, dtype=torch.float64)
    for i in range(4):
        x, y = src[:, i, 0], src[:, i, 1]
        u, v = dst[:, i, 0], dst[:, i, 1]
        a[:, 2 * i, 0], a[:, 2 * i, 1], a[:, 2 * i, 2] = x, y, 1
        a[:, 2 * i, 6], a[:, 2 * i, 7] = -x * u, -y * u
        a[:, 2 * i + 1, 3], a[:, 2 * i + 1, 4], a[:, 2 * i + 1, 5] = x, y, 1
        a[:, 2 * i + 1, 6], a[:, 2 * i + 1, 7] = -x * v, -y * v
        rhs[:, 2 * i], rhs[:, 2 * i + 1] = u, v
    h = torch.linalg.solve(a, rhs)
    return torch.cat([h, torch.ones(b, 1, dtype=torch.float64)], dim=1).reshape(b, 3, 3)


@register
class Elastic(GeometricTransform):
    name = "elastic"
    label = "Elastic"
    description = "Push pixels along a smooth random field, like a rubber sheet (Simard et al., 2003)."
    formula = r"x' = x + \alpha\,(G_\sigma * u_x)(x),\quad u \sim U(-1, 1)^{H\times W\times 2}"
    params = (span("alpha", 0.0, 200.0, (20.0, 40.0), "Strength of the displacement, in pixels before smoothing.",
                   step=1.0, identity=0.0),
              span("sigma", 1.0, 20.0, (4.0, 6.0), "Smoothness of the field: the Gaussian's sigma in pixels.",
                   step=0.5),
              *FILL_PARAMS)

    def sample(self, cfg, n, g):
        return {"alpha": uniform(g, n, cfg["alpha"]), "sigma": uniform(g, n, cfg["sigma"]), "seed": seeds(g, n)}

    def displacement(self, cfg, params, height, width):
        u = uniform_field(params["seed"], (2, height, width), params["seed"].device) * 2 - 1
        smooth = color.gaussian_blur(u, params["sigma"])
        return (smooth * params["alpha"].view(-1, 1, 1, 1)).permute(0, 2, 3, 1)


"""Photometric transforms: change pixel values, never their place."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
from torch import Tensor

from augviz.functional import color
from augviz.spec import int_span, span
from augviz.transform import PHOTOMETRIC, Transform, randint, register, uniform


class _Photometric(Transform):
    category = PHOTOMETRIC


class _OneValue(_Photometric):
    """A transform driven by one value per image, drawn from the range of its one parameter (whole numbers from an
    integer range) and handed to ``fn``, which writes into the batch it is given when ``in_place``."""

    fn: ClassVar[Callable[..., Tensor]]
    in_place: ClassVar[bool] = False  # fn takes ``out=``

    def sample(self, cfg, n, g):
        (p,) = self.params
        return {p.name: (randint if p.kind == "int" else uniform)(g, n, cfg[p.name])}

    def kernel(self, x, cfg, params):
        value = params[self.params[0].name]
        return type(self).fn(x, value, out=x) if self.in_place else type(self).fn(x, value)


class _Factor(_OneValue):
    """A transform driven by one per-image factor drawn from the ``factor`` range."""

    in_place = True


def _factor_param(what: str, default: tuple[float, float] = (0.8, 1.2)) -> tuple:
    return (span("factor", 0.0, 3.0, default, f"Per-image {what} factor (1 leaves the image as it is).",
                 identity=1.0),)


@register
class Brightness(_Factor):
    name = "brightness"
    label = "Brightness"
    description = "Multiply every pixel by a random factor."
    formula = r"x' = \mathrm{clip}(f\,x),\quad f \sim U(f_{lo}, f_{hi})"
    params = _factor_param("brightness")
    fn = staticmethod(color.brightness)


@register
class Contrast(_Factor):
    name = "contrast"
    label = "Contrast"
    description = "Move every pixel away from (or towards) the image's mean grey level."
    formula = r"x' = \mathrm{clip}(\mu + f\,(x - \mu)),\quad \mu = \text{mean luma}"
    params = _factor_param("contrast")
    fn = staticmethod(color.contrast)


@register
class Saturation(_Factor):
    name = "saturation"
    label = "Saturation"
    description = "Blend each pixel with its own grey level: below 1 washes colour out, above 1 strengthens it."
    formula = r"x' = \mathrm{clip}(g + f\,(x - g)),\quad g = 0.299R + 0.587G + 0.114B"
    params = _factor_param("saturation")
    fn = staticmethod(color.saturation)


@register
class Hue(_OneValue):
    name = "hue"
    label = "Hue"
    description = "Turn every colour round the colour wheel by a random fraction of a turn; greys stay grey."
    formula = (r"(H', S', V') = ((H + h) \bmod 1,\ S,\ V) \text{ in HSV},\quad "
               r"h \sim U(h_{lo}, h_{hi})")
    params = (span("shift", -0.5, 0.5, (-0.05, 0.05), "Hue shift in turns of the colour wheel (0.5 is half a turn).",
                   identity=0.0),)
    fn = staticmethod(color.hue)
    in_place = True


@register
class Grayscale(_Photometric):
    name = "grayscale"
    label = "Grayscale"
    description = "Replace colour by its luma, keeping the number of channels."
    formula = r"x' = 0.299R + 0.587G + 0.114B \text{ in every channel}"
    default_p = 0.2

    def kernel(self, x, cfg, params):
        return x.copy_(color.gray(x).expand_as(x))


@register
class Gamma(_OneValue):
    name = "gamma"
    label = "Gamma"
    description = "Raise every pixel to a random power: above 1 darkens the mid-tones, below 1 lightens them."
    formula = r"x' = x^{\gamma},\quad \gamma \sim U(\gamma_{lo}, \gamma_{hi})"
    params = (span("gamma", 0.2, 5.0, (0.8, 1.25), "The exponent drawn per image.", identity=1.0),)
    fn = staticmethod(color.gamma)


@register
class GaussianBlur(_OneValue):
    name = "gaussian_blur"
    label = "Gaussian blur"
    description = "Smooth with a Gaussian of random width (radius 3σ), mirrored at the borders."
    formula = (r"x' = G_\sigma * x,\quad G_\sigma(t) \propto e^{-t^2/2\sigma^2},\ "
               r"\sigma \sim U(\sigma_{lo}, \sigma_{hi})")
    params = (span("sigma", 0.1, 10.0, (0.1, 2.0), "Width of the Gaussian in pixels.", step=0.1,
                   # σ 0.1, the lowest allowed, is no blur: its neighbours weigh e^-50 ≈ 2e-22, below float precision
                   identity=0.1),)
    fn = staticmethod(color.gaussian_blur)


@register
class Sharpness(_Factor):
    name = "sharpness"
    label = "Sharpness"
    description = "Blend with a smoothed copy: above 1 sharpens, below 1 softens (PIL's rule)."
    formula = (r"x' = \mathrm{clip}(s + f\,(x - s)),\quad "
               r"s = \tfrac{1}{13}\begin{pmatrix}1&1&1\\1&5&1\\1&1&1\end{pmatrix} * x")
    params = (span("factor", 0.0, 5.0, (0.5, 2.0), "Sharpness factor drawn per image (1 leaves the image).",
                   identity=1.0),)
    fn = staticmethod(color.sharpness)


@register
class Posterize(_OneValue):
    name = "posterize"
    label = "Posterize"
    description = "Keep only the top few bits of each 8-bit level, leaving flat bands of colour."
    formula = r"x' = \lfloor 255x \rfloor \;\&\; (256 - 2^{8-b}),\quad b \sim U\{b_{lo},\dots,b_{hi}\}"
    params = (int_span("bits", 1, 8, (4, 8), "Bits kept per channel.", identity=8),)
    fn = staticmethod(color.posterize)
    in_place = True


@register
class Solarize(_OneValue):
    name = "solarize"
    label = "Solarize"
    description = "Invert every pixel at or above a threshold, as an over-exposed film does."
    formula = r"x' = \begin{cases}1 - x & x \ge t\\ x & x < t\end{cases}"
    # At threshold 1 only pure white still inverts (torchvision allows no higher one): strength 0 switches the
    # step off rather than relying on it.
    params = (span("threshold", 0.0, 1.0, (0.5, 1.0), "Pixels at or above this level are inverted.",
                   identity=1.0),)
    fn = staticmethod(color.solarize)


class _Fixed(_Photometric):
    """A transform with no parameter to draw: only p decides. ``fn`` writes into the batch when ``in_place``."""

    fn = staticmethod(color.autocontrast)
    in_place: ClassVar[bool] = True

    def kernel(self, x, cfg, params):
        return type(self).fn(x, out=x) if self.in_place else type(self).fn(x)


@register
class Equalize(_Fixed):
    name = "equalize"
    label = "Equalize"
    description = "Spread each channel's histogram of 8-bit levels evenly (PIL's equalize)."
    formula = r"x' = \mathrm{CDF}(x) \text{ per channel, on 256 levels}"
    default_p = 0.5
    fn = staticmethod(color.equalize)


@register
class AutoContrast(_Fixed):
    name = "autocontrast"
    label = "Autocontrast"
    description = "Stretch each channel so its darkest pixel is 0 and its brightest is 1."
    formula = r"x' = \frac{x - \min x}{\max x - \min x} \text{ per channel}"
    default_p = 0.5
    fn = staticmethod(color.autocontrast)


@register
class Invert(_Fixed):
    name = "invert"
    label = "Invert"
    description = "Turn the image into its negative."
    formula = r"x' = 1 - x"
    default_p = 0.5
    fn = staticmethod(lambda x, out=None: torch.neg(x, out=out).add_(1))


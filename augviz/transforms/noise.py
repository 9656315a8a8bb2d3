"""Noise transforms. Each image's field comes from its own seed, so a draw replays exactly."""

from __future__ import annotations

from augviz.functional import noise
from augviz.functional.noise import normal_field, uniform_field
from augviz.spec import flag, span
from augviz.transform import NOISE, Transform, register, seeds, uniform


class _Noise(Transform):
    category = NOISE

    def sample(self, cfg, n, g):
        # Every range setting drawn per image, in the order declared, and the seed of each image's field.
        return {**{p.name: uniform(g, n, cfg[p.name]) for p in self.params if p.is_range}, "seed": seeds(g, n)}


@register
class GaussianNoise(_Noise):
    name = "gaussian_noise"
    label = "Gaussian noise"
    description = "Add independent normal noise to every pixel, as sensor noise does."
    formula = (r"x' = \mathrm{clip}(x + \sigma n),\quad n \sim \mathcal{N}(0, 1),\ "
               r"\sigma \sim U(\sigma_{lo}, \sigma_{hi})")
    params = (span("sigma", 0.0, 0.5, (0.0, 0.05), "Standard deviation of the noise, on the 0–1 scale.", step=0.005,
                   identity=0.0),
              flag("per_channel", True, "Draw each colour channel separately (off: the same noise on every channel)."))

    def kernel(self, x, cfg, params):
        c, h, w = x.shape[1:]
        z = normal_field(params["seed"], (c if cfg["per_channel"] else 1, h, w), x.device, reuse=True)
        sigma = params["sigma"].to(x.device, x.dtype).view(-1, 1, 1, 1)
        return x.addcmul_(z.to(x.dtype), sigma).clamp_(0, 1)


@register
class SaltAndPepper(_Noise):
    name = "salt_and_pepper"
    label = "Salt and pepper"
    description = "Set a random share of pixels to white (salt) or black (pepper), as dead or hot sensor cells."
    formula = (r"x'_{ij} = \begin{cases}1 & u_{ij} < a\,r\\ 0 & a\,r \le u_{ij} < a\\ x_{ij} & \text{else}\end{cases}"
               r",\quad u \sim U(0,1)")
    params = (span("amount", 0.0, 0.5, (0.01, 0.05), "Share of pixels changed.", step=0.005, identity=0.0),
              span("salt_ratio", 0.0, 1.0, (0.5, 0.5), "Share of the changed pixels that turn white."))

    def kernel(self, x, cfg, params):
        h, w = x.shape[-2:]
        u = uniform_field(params["seed"], (1, h, w), x.device, reuse=True)
        amount = params["amount"].to(x.device).view(-1, 1, 1, 1)
        salt = u < amount * params["salt_ratio"].to(x.device).view(-1, 1, 1, 1)
        pepper = (u < amount) & ~salt
        return x.masked_fill_(salt, 1.0).masked_fill_(pepper, 0.0)


@register
class Speckle(_Noise):
    name = "speckle"
    label = "Speckle"
    description = "Multiplicative noise: brighter pixels get more of it, as in radar and ultrasound images."
    formula = r"x' = \mathrm{clip}(x + \sigma\,x\,n),\quad n \sim \mathcal{N}(0, 1)"
    params = (span("sigma", 0.0, 1.0, (0.0, 0.1), "Standard deviation of the multiplicative noise.", step=0.01,
                   identity=0.0),)

    def kernel(self, x, cfg, params):
        z = normal_field(params["seed"], tuple(x.shape[1:]), x.device, reuse=True).to(x.dtype)
        sigma = params["sigma"].to(x.device, x.dtype).view(-1, 1, 1, 1)
        return x.addcmul_(z.mul_(x), sigma).clamp_(0, 1)  # z·x is taken before x is written



@register
class Snow(_Noise):
    name = "snow"
    label = "Snow"
    description = ("Move a random share of pixels up or down by a set amount (half each way), the seed article's "
                   "\"snow\" beside salt-and-pepper noise.")
    formula = (r"x'_{ij} = \mathrm{clip}\left(x_{ij} + \delta\begin{cases}+1 & u_{ij} < a/2\\ -1 & a/2 \le u_{ij} < a"
               r"\\ 0 & \text{else}\end{cases}\right),\quad u \sim U(0,1)")
    params = (span("amount", 0.0, 1.0, (0.05, 0.2), "Share of pixels moved.", step=0.01, identity=0.0),
              span("magnitude", 0.0, 1.0, (0.2, 0.2), "How far a moved pixel goes up or down, on the 0–1 scale.",
                   identity=0.0))

    def kernel(self, x, cfg, params):
        return noise.snow(x, params["seed"], params["amount"], params["magnitude"], out=x)

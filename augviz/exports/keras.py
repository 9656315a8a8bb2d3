"""The Keras 3 export: preprocessing layers in a ``keras.layers.Pipeline``, on channels-last float images in [0, 1].

Keras 3 layers mostly lack a probability, so a step with p < 1 is wrapped in a small ``RandomApply`` layer the
export defines; where no layer computes what augviz does (multiplicative brightness, luma contrast, the noises),
an ``Images`` layer (the export's Lambda, which also takes the {'images': x, 'labels': y} batches mixing steps
need) writes the formula out with Keras ops, so it runs on every Keras backend.
The seed article's ``ImageDataGenerator`` (Keras 2, gone from Keras 3) is given as a comment where it expresses
the pipeline: see ``image_data_generator``.
"""

from __future__ import annotations

import math
from typing import Any

from augviz.exports import Line, Target, Writer, missing, odd_kernel, varies

HEADER = '''import keras
from keras import ops


def per_image(x, low, high):
    """One value per image, uniform in [low, high], shaped to broadcast over H×W×C."""
    return keras.random.uniform((ops.shape(x)[0], 1, 1, 1), low, high)


def luma(x):
    """The grey level 0.299 R + 0.587 G + 0.114 B of channels-last images, keeping a channel axis."""
    return ops.sum(x * ops.convert_to_tensor([0.299, 0.587, 0.114], dtype=x.dtype), axis=-1, keepdims=True)


def pixel_uniform(x):
    """One uniform number per pixel, shared by its channels."""
    return keras.random.uniform((*ops.shape(x)[:3], 1))


def gaussian_blur(x, sigma, radius):
    """A Gaussian blur of width sigma over radius pixels, mirrored at the borders, as augviz blurs."""
    t = ops.arange(-radius, radius + 1, dtype=x.dtype)
    w = ops.exp(-(t**2) / (2 * sigma**2))
    w = w / ops.sum(w)
    c = ops.shape(x)[-1]
    x = ops.pad(x, ((0, 0), (radius, radius), (radius, radius), (0, 0)), mode="reflect")
    x = ops.depthwise_conv(x, ops.tile(ops.reshape(w, (1, -1, 1, 1)), (1, 1, c, 1)), padding="valid")
    return ops.depthwise_conv(x, ops.tile(ops.reshape(w, (-1, 1, 1, 1)), (1, 1, c, 1)), padding="valid")


class Images(keras.layers.Layer):
    """``fn`` on the images, in training only (as Keras' random layers). Called on {'images': x, 'labels': y},
    as the mixing steps need, it changes the images and passes the rest through."""

    def __init__(self, fn, **kwargs):
        super().__init__(**kwargs)
        self.fn = fn

    def call(self, data, training=True):
        if not training:
            return data
        if isinstance(data, dict):
            return {**data, "images": self.fn(data["images"])}
        return self.fn(data)


class RandomApply(keras.layers.Layer):
    """``layer`` on each image with probability ``p`` (Keras 3 layers mostly have no probability). On
    {'images': x, 'labels': y} an image keeps or takes the layer's output together with its label."""

    def __init__(self, layer, p, **kwargs):
        super().__init__(**kwargs)
        self.layer, self.p = layer, p

    def call(self, data, training=True):
        images = data["images"] if isinstance(data, dict) else data
        keep = keras.random.uniform((ops.shape(images)[0],)) < self.p
        out = self.layer(data, training=training)

        def pick(new, old):
            return ops.where(ops.reshape(keep, (-1,) + (1,) * (len(ops.shape(old)) - 1)), new, old)

        if not isinstance(data, dict):
            return pick(out, data)
        return {**out, **{key: pick(out[key], data[key]) for key in ("images", "labels") if key in data}}
'''

_FILL = {"nearest": "nearest", "reflect": "reflect", "constant": "constant"}


def _fill(cfg: dict[str, Any]) -> str:
    return f"fill_mode={_FILL[cfg['fill']]!r}, fill_value={cfg['fill_value']!r}"


def _apply(expr: str, p: float) -> str:
    return expr if p >= 1 else f"RandomApply({expr}, p={p})"


def _lambda(body: str, p: float) -> str:
    return _apply(f"Images(lambda x: {body})", p)


def rotation(cfg: dict[str, Any], p: float) -> Line:
    lo, hi = cfg["degrees"]
    # Keras' factor is a fraction of a full turn; positive turns counter-clockwise, as in augviz.
    return Line(_apply(f"keras.layers.RandomRotation(factor=({lo / 360:.6g}, {hi / 360:.6g}), {_fill(cfg)})", p))


def _zoom_factor(span: tuple[float, float]) -> tuple[float, float]:
    # Keras' zoom factor f shows the image at 1 / (1 + f) of its size; augviz's factor z at z.
    lo, hi = span
    return (round(1 / hi - 1, 6), round(1 / lo - 1, 6))


def _zoom_note(span: tuple[float, float]) -> str:
    return ("Keras draws 1/zoom uniformly, augviz the zoom itself: the same range, a slightly different spread"
            if varies(span) else "")


def affine(cfg: dict[str, Any], p: float) -> Line:
    tx, ty = cfg["translate_x"], cfg["translate_y"]
    layers = []
    if cfg["scale"] != (1.0, 1.0):
        layers.append(f"keras.layers.RandomZoom(height_factor={_zoom_factor(cfg['scale'])}, {_fill(cfg)})")
    if cfg["shear_x"] != (0.0, 0.0) or cfg["shear_y"] != (0.0, 0.0):
        return Line(None, "Keras' RandomShear draws a shear symmetric about 0 in its own units; no call matches "
                          "augviz's shear range")
    layers.append(f"keras.layers.RandomTranslation(height_factor={ty}, width_factor={tx}, {_fill(cfg)})")
    expr = layers[0] if len(layers) == 1 else f"keras.Sequential([{', '.join(layers)}])"
    return Line(_apply(expr, p), _zoom_note(cfg["scale"]) if len(layers) > 1 else "")


def zoom(cfg: dict[str, Any], p: float) -> Line:
    f = _zoom_factor(cfg["factor"])
    # Without width_factor Keras keeps the aspect ratio (one factor); with it, x and y are drawn independently.
    width = "" if cfg["keep_aspect"] else f", width_factor={f}"
    return Line(_apply(f"keras.layers.RandomZoom(height_factor={f}{width}, {_fill(cfg)})", p),
                _zoom_note(cfg["factor"]))


def flip(mode: str, axis: int) -> Writer:
    def write(cfg: dict[str, Any], p: float) -> Line:
        if p == 0.5:  # Keras' RandomFlip flips half the images, the article's horizontal_flip=True
            return Line(f"keras.layers.RandomFlip({mode!r})")
        return Line(_lambda(f"ops.flip(x, axis={axis})", p))
    return write


def _per_image(key: str, expr: str) -> Writer:
    """The writer of an ``Images`` step computing ``expr``, where ``{f}`` stands for each image's own draw from
    the range ``cfg[key]``."""
    def write(cfg: dict[str, Any], p: float) -> Line:
        lo, hi = cfg[key]
        return Line(_lambda(expr.format(f=f"per_image(x, {lo}, {hi})"), p))
    return write


# Keras' RandomBrightness adds a value; augviz multiplies.
brightness = _per_image("factor", "ops.clip(x * {f}, 0, 1)")
# Keras' RandomContrast pulls towards each channel's mean; augviz (as PIL and torchvision) to the mean grey.
contrast = _per_image("factor", "ops.clip(ops.mean(luma(x), axis=(1, 2, 3), keepdims=True) * (1 - (f := {f})) + f * x, "
                                "0, 1)")
# Keras' RandomSaturation scales saturation in HSV; augviz blends with the grey level, as PIL does.
saturation = _per_image("factor", "ops.clip(luma(x) * (1 - (f := {f})) + f * x, 0, 1)")
# Keras' RandomHue turns by a drawn amount with a random sign, so no setting gives a one-sided range: the HSV turn,
# written out with Keras' colour-space ops.
hue = _per_image("shift", "ops.image.hsv_to_rgb(ops.concatenate([ops.mod((hsv := ops.image.rgb_to_hsv(x))[..., :1] + "
                          "{f}, 1.0), hsv[..., 1:]], axis=-1))")
gamma = _per_image("gamma", "x ** {f}")


def gaussian_blur(cfg: dict[str, Any], p: float) -> Line:
    lo, hi = cfg["sigma"]
    # Keras' RandomGaussianBlur refuses sigma above 1 and draws one sigma per batch, and ops.image.gaussian_blur
    # (Keras 3.15, torch backend) darkens the image: the blur is written out with a depthwise convolution.
    # Reflect padding needs a radius below the image size, so the radius is capped there.
    r = f"min({odd_kernel(hi) // 2}, min(SIZE) - 1)"
    if not varies(cfg["sigma"]):
        return Line(_lambda(f"gaussian_blur(x, {lo}, {r})", p))
    return Line(_lambda(f"gaussian_blur(x, keras.random.uniform((), {lo}, {hi}), {r})", p),
                "one sigma per call: a whole batch shares it, where augviz draws one per image")


def sharpness(cfg: dict[str, Any], p: float) -> Line:
    lo, hi = cfg["factor"]
    # Keras' sharpness factor f is PIL's 2·f, and stops at 1 (PIL's 2).
    note = "Keras' RandomSharpness stops at factor 2" if hi > 2 else ""
    return Line(_apply(f"keras.layers.RandomSharpness(factor=({min(lo, 2.0) / 2}, {min(hi, 2.0) / 2}), "
                       "value_range=(0, 1))", p), note)


def posterize(cfg: dict[str, Any], p: float) -> Line:
    lo, hi = cfg["bits"]
    if not varies(cfg["bits"]):
        return Line(_apply(f"keras.layers.RandomPosterization(factor=({lo}, {lo}), value_range=(0, 1))", p))
    # Keras' RandomPosterization draws its bits with an exclusive top, so the top never comes up: written out,
    # with bits drawn uniformly from lo..hi inclusive.
    return Line(_lambda(f"ops.floor(ops.round(x * 255) / (q := 2.0 ** (8 - ops.minimum(ops.floor(per_image(x, {lo}, "
                        f"{hi + 1})), {hi})))) * q / 255", p))


def solarize(cfg: dict[str, Any], p: float) -> Line:
    lo, hi = cfg["threshold"]
    # Keras' Solarization draws its threshold from U(lo, 255·hi) on the 0–255 scale (only the top is scaled),
    # so no setting gives a threshold range in [0, 1]: the formula, written out.
    return Line(_lambda(f"ops.where(x >= per_image(x, {lo}, {hi}), 1 - x, x)", p))


def gaussian_noise(cfg: dict[str, Any], p: float) -> Line:
    lo, hi = cfg["sigma"]
    shape = "ops.shape(x)" if cfg["per_channel"] else "(*ops.shape(x)[:3], 1)"
    return Line(_lambda(f"ops.clip(x + per_image(x, {lo}, {hi}) * keras.random.normal({shape}), 0, 1)", p))


def speckle(cfg: dict[str, Any], p: float) -> Line:
    lo, hi = cfg["sigma"]
    return Line(_lambda(f"ops.clip(x + per_image(x, {lo}, {hi}) * x * keras.random.normal(ops.shape(x)), 0, 1)", p))


def salt_and_pepper(cfg: dict[str, Any], p: float) -> Line:
    (alo, ahi), (rlo, rhi) = cfg["amount"], cfg["salt_ratio"]
    return Line(_lambda(f"ops.where((u := pixel_uniform(x)) < (a := per_image(x, {alo}, {ahi})) * per_image(x, {rlo}, "
                        f"{rhi}), 1.0, ops.where(u < a, 0.0, x))", p))


def snow(cfg: dict[str, Any], p: float) -> Line:
    (alo, ahi), (mlo, mhi) = cfg["amount"], cfg["magnitude"]
    return Line(_lambda(f"ops.clip(x + per_image(x, {mlo}, {mhi}) * ops.where((u := pixel_uniform(x)) < "
                        f"(a := per_image(x, {alo}, {ahi})) / 2, 1.0, ops.where(u < a, -1.0, 0.0)), 0, 1)", p))


def random_erasing(cfg: dict[str, Any], p: float) -> Line:
    fill = "None" if cfg["fill"] == "noise" else repr(cfg["value"])
    return Line(f"keras.layers.RandomErasing(factor=({p}, {p}), scale={cfg['area']}, fill_value={fill}, "
                "value_range=(0, 1))",
                "" if cfg["ratio"] == (1.0, 1.0) else "Keras erases square boxes only: it has no aspect-ratio range")


def mixup(cfg: dict[str, Any], p: float) -> Line:
    return Line(_apply(f"keras.layers.MixUp(alpha={cfg['alpha']})", p),
                "call it on {'images': x, 'labels': y} to mix the labels too")


def cutmix(cfg: dict[str, Any], p: float) -> Line:
    return Line(_apply(f"keras.layers.CutMix(factor=({cfg['alpha']}, {cfg['alpha']}))", p),
                "call it on {'images': x, 'labels': y} to mix the labels too")


def randaugment(cfg: dict[str, Any], p: float) -> Line:
    m = round(cfg["magnitude"] / 30, 4)
    return Line(_apply(f"keras.layers.RandAugment(value_range=(0, 1), num_ops={cfg['num_ops']}, factor={m})", p),
                "Keras' operations and magnitude scale differ from torchvision's, which augviz follows")


def image_data_generator(steps: list[tuple[str, dict[str, Any], float]]) -> str | None:
    """The Keras 2 ``ImageDataGenerator(...)`` that does what ``steps`` (name, settings, p) do, or None.

    Only the seed article's kinds of step fit: a symmetric rotation and shift, a symmetric zoom, flips at 0.5."""
    args: dict[str, Any] = {}
    for name, cfg, p in steps:
        if name == "rotation" and cfg["degrees"][0] == -cfg["degrees"][1] and p == 1:
            args["rotation_range"] = cfg["degrees"][1]
        elif (name == "affine" and p == 1 and cfg["scale"] == (1.0, 1.0) and cfg["shear_x"] == cfg["shear_y"]
              == (0.0, 0.0) and cfg["translate_x"][0] == -cfg["translate_x"][1]
              and cfg["translate_y"][0] == -cfg["translate_y"][1]):
            args["width_shift_range"], args["height_shift_range"] = cfg["translate_x"][1], cfg["translate_y"][1]
        elif (name == "zoom" and p == 1 and not cfg["keep_aspect"]
              and math.isclose(1 - cfg["factor"][0], cfg["factor"][1] - 1)):
            args["zoom_range"] = round(cfg["factor"][1] - 1, 6)
        elif name in ("horizontal_flip", "vertical_flip") and p == 0.5:
            args[name] = True
        else:
            return None
        if name in ("rotation", "affine", "zoom") and cfg["fill"] != "nearest":
            return None
    if not args:
        return None
    return "ImageDataGenerator(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")"


TARGET = Target(
    name="keras",
    header=HEADER,
    open="keras.layers.Pipeline([",
    close="])",
    # The test of the empty case keeps one step, as for torchvision.
    empty="    keras.layers.Identity(),  # no step this library can express",
    usage="# images: float array or tensor B×H×W×C in [0, 1] (channels last), run with any Keras 3 backend\n"
          "# out = pipeline(images, training=True)\n"
          "# with a mixing step, one-hot labels B×NUM_CLASSES mixed alike:\n"
          "# out = pipeline({'images': images, 'labels': labels}, training=True)  # out['images'], out['labels']",
    table={
        "rotation": rotation,
        "horizontal_flip": flip("horizontal", 2),
        "vertical_flip": flip("vertical", 1),
        "affine": affine,
        "zoom": zoom,
        "random_resized_crop": missing("Keras 3 has no random resized crop (RandomCrop cuts a fixed size)"),
        "perspective": missing("Keras' RandomPerspective moves corners in and out in proportion to their "
                               "distance from the top-left corner, which never moves; no setting matches augviz's "
                               "inward moves of every corner"),
        "elastic": missing("Keras' RandomElasticTransform ties alpha and sigma to one factor of the image size "
                           "(alpha = 0.1·f·size, sigma = 0.05·f·size), so augviz's separate alpha and sigma in "
                           "pixels have no setting there"),
        "brightness": brightness,
        "contrast": contrast,
        "saturation": saturation,
        "hue": hue,
        # Keras' RandomGrayscale, alone of its layers used here, fails on {'images': x, 'labels': y}: given the images.
        "grayscale": lambda cfg, p: Line(f"Images(keras.layers.RandomGrayscale(factor={p}))"),
        "gamma": gamma,
        "gaussian_blur": gaussian_blur,
        "sharpness": sharpness,
        "posterize": posterize,
        "solarize": solarize,
        "equalize": lambda cfg, p: Line(_apply("keras.layers.Equalization(value_range=(0, 1))", p),
                                        "Keras' Equalization builds its lookup table by its own rule, not PIL's: "
                                        "about 0.025 apart on average"),
        "autocontrast": lambda cfg, p: Line(_apply("keras.layers.AutoContrast(value_range=(0, 1))", p)),
        "invert": lambda cfg, p: Line(f"keras.layers.RandomInvert(factor=({p}, {p}), value_range=(0, 1))"),
        "gaussian_noise": gaussian_noise,
        "salt_and_pepper": salt_and_pepper,
        "speckle": speckle,
        "snow": snow,
        "random_erasing": random_erasing,
        "mixup": mixup,
        "cutmix": cutmix,
        "randaugment": randaugment,
        "trivialaugment": missing("Keras 3 has no TrivialAugment policy"),
    },
)

"""The torchvision export: ``torchvision.transforms.v2`` in a ``v2.Compose``.

torchvision cannot be imported beside the pinned torch here, so these lines are parse-tested, and the mappings
that the other exports check by running (shear sign, perspective scale) follow torchvision's source.
"""

from __future__ import annotations

from typing import Any

from augviz.exports import Line, Target, Writer, by_name, fixed, jitter, missing, odd_kernel, varies


def _fill(cfg: dict[str, Any]) -> tuple[str, str]:
    """torchvision's fill argument, and a note: it only fills with a constant."""
    note = f"torchvision has no '{cfg['fill']}' fill: constant used" if cfg["fill"] != "constant" else ""
    return f"fill={cfg['fill_value']!r}", note


def _apply(expr: str, p: float) -> str:
    return expr if p >= 1 else f"v2.RandomApply([{expr}], p={p})"


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _neg(span: tuple[float, float]) -> tuple[float, float]:
    # torchvision's shear turns the other way round from augviz's (kornia, which copies it, is checked by running).
    return (-span[1], -span[0])


def rotation(cfg: dict[str, Any], p: float) -> Line:
    fill, note = _fill(cfg)
    return Line(_apply(f"v2.RandomRotation(degrees={cfg['degrees']}, {fill})", p), note)


def affine(cfg: dict[str, Any], p: float) -> Line:
    fill, note = _fill(cfg)
    tx, ty = cfg["translate_x"], cfg["translate_y"]
    sym = "" if tx[0] == -tx[1] and ty[0] == -ty[1] else \
        "torchvision only draws a translation symmetric about 0: ±the range's largest magnitude"
    shx, shy = _neg(cfg["shear_x"]), _neg(cfg["shear_y"])
    expr = (f"v2.RandomAffine(degrees=0, translate=({max(map(abs, tx))}, {max(map(abs, ty))}), scale={cfg['scale']}, "
            f"shear=({shx[0]}, {shx[1]}, {shy[0]}, {shy[1]}), {fill})")
    return Line(_apply(expr, p), _join(sym, note))


def zoom(cfg: dict[str, Any], p: float) -> Line:
    fill, note = _fill(cfg)
    aspect = "" if cfg["keep_aspect"] else "torchvision draws one scale for both axes"
    return Line(_apply(f"v2.RandomAffine(degrees=0, scale={cfg['factor']}, {fill})", p), _join(aspect, note))


def random_resized_crop(cfg: dict[str, Any], p: float) -> Line:
    return Line(_apply(f"v2.RandomResizedCrop(size=SIZE, scale={cfg['area']}, ratio={cfg['ratio']}, "
                       "antialias=True)", p))


def perspective(cfg: dict[str, Any], p: float) -> Line:
    fill, note = _fill(cfg)
    lo, hi = cfg["distortion"]
    spread = "one distortion scale: the middle of the range gives augviz's mean corner move" \
        if varies(cfg["distortion"]) else ""
    return Line(f"v2.RandomPerspective(distortion_scale={(lo + hi) / 2}, p={p}, {fill})", _join(spread, note))


def elastic(cfg: dict[str, Any], p: float) -> Line:
    (alo, ahi), (slo, shi) = cfg["alpha"], cfg["sigma"]
    # torchvision scales its displacement by alpha / height in [-1, 1] grid units: half a pixel per unit of alpha.
    note = "one alpha and one sigma: the middles of augviz's ranges" if varies(cfg["alpha"]) or varies(
        cfg["sigma"]) else ""
    return Line(_apply(f"v2.ElasticTransform(alpha={alo + ahi}, sigma={(slo + shi) / 2})", p), note)


def color_jitter(key: str) -> Writer:
    def write(cfg: dict[str, Any], p: float) -> Line:
        return Line(_apply(f"v2.ColorJitter({key}={cfg['factor']})", p))
    return write


def hue(cfg: dict[str, Any], p: float) -> Line:
    return Line(_apply(f"v2.ColorJitter(hue={cfg['shift']})", p))


def gamma(cfg: dict[str, Any], p: float) -> Line:
    lo, hi = cfg["gamma"]
    return Line(_apply(f"v2.Lambda(lambda im: v2.functional.adjust_gamma(im, "
                       f"float(torch.empty(1).uniform_({lo}, {hi}))))", p), "torchvision has no random-gamma class")


def gaussian_blur(cfg: dict[str, Any], p: float) -> Line:
    lo, hi = cfg["sigma"]
    return Line(_apply(f"v2.GaussianBlur(kernel_size={odd_kernel(hi)}, sigma=({lo}, {hi}))", p))


def _one_value(call: str, key: str, end: str, what: str) -> Writer:
    """The writer of a torchvision ``call`` (a ``{v}`` field for the value) that takes one fixed value where augviz
    draws from the range ``cfg[key]``: its ``end`` ("top" or "bottom")."""
    def write(cfg: dict[str, Any], p: float) -> Line:
        lo, hi = cfg[key]
        return Line(call.format(v=hi if end == "top" else lo, p=p),
                    f"torchvision takes one fixed {what}: the {end} of the range" if lo != hi else "")
    return write


def gaussian_noise(cfg: dict[str, Any], p: float) -> Line:
    lo, hi = cfg["sigma"]
    notes = ["torchvision takes one fixed sigma: the top of the range" if lo != hi else "",
             "" if cfg["per_channel"] else "torchvision draws every channel separately"]
    return Line(_apply(f"v2.GaussianNoise(sigma={hi}, clip=True)", p), _join(*notes))


def random_erasing(cfg: dict[str, Any], p: float) -> Line:
    value = "'random'" if cfg["fill"] == "noise" else repr(cfg["value"])
    return Line(f"v2.RandomErasing(p={p}, scale={cfg['area']}, ratio={cfg['ratio']}, value={value})")


def mixing(kind: str) -> Writer:
    def write(cfg: dict[str, Any], p: float) -> Line:
        return Line(_apply(f"v2.{kind}(alpha={cfg['alpha']}, num_classes=NUM_CLASSES)", p),
                    "call it on (images, labels)")
    return write


def randaugment(cfg: dict[str, Any], p: float) -> Line:
    return Line(_apply(f"v2.RandAugment(num_ops={cfg['num_ops']}, magnitude={cfg['magnitude']})", p),
                "needs uint8 images")


TARGET = Target(
    name="torchvision",
    header="import torch\nfrom torchvision.transforms import v2\n",
    open="v2.Compose([",
    close="])",
    # v2 transforms draw one set of parameters per call: on a batch, every image gets the same rotation and flip.
    usage="# images: uint8 or float tensor, one image C×H×W or a batch B×C×H×W\n"
          "# A v2 transform draws ONE set of parameters per call: called on a B×C×H×W batch, every image in it\n"
          "# gets the same rotation, shift, flip and colour change. Per image, as augviz draws them:\n"
          "# out = torch.stack([pipeline(image) for image in images])\n"
          "# (MixUp and CutMix need the batch and its labels: images, labels = pipeline(images, labels))",
    # torchvision refuses an empty Compose.
    empty="    v2.Identity(),  # no step this library can express",
    table={
        **by_name(rotation, affine, zoom, random_resized_crop, perspective, elastic, hue, gamma, gaussian_blur,
                  gaussian_noise, random_erasing, randaugment),
        **jitter(color_jitter),
        "sharpness": _one_value("v2.RandomAdjustSharpness(sharpness_factor={v}, p={p})", "factor", "top", "factor"),
        "posterize": _one_value("v2.RandomPosterize(bits={v}, p={p})", "bits", "bottom", "bit depth"),
        "solarize": _one_value("v2.RandomSolarize(threshold={v}, p={p})", "threshold", "bottom", "threshold"),
        "horizontal_flip": fixed("v2.RandomHorizontalFlip(p={p})"),
        "vertical_flip": fixed("v2.RandomVerticalFlip(p={p})"),
        "grayscale": fixed("v2.RandomGrayscale(p={p})"),
        "equalize": fixed("v2.RandomEqualize(p={p})"),
        "autocontrast": fixed("v2.RandomAutocontrast(p={p})"),
        "invert": fixed("v2.RandomInvert(p={p})"),
        "salt_and_pepper": missing("torchvision has no salt-and-pepper noise"),
        "speckle": missing("torchvision has no speckle noise"),
        "snow": missing("torchvision has no noise that moves pixels up or down by a set amount"),
        "mixup": mixing("MixUp"),
        "cutmix": mixing("CutMix"),
        "trivialaugment": lambda cfg, p: Line(_apply("v2.TrivialAugmentWide()", p), "needs uint8 images"),
    },
)

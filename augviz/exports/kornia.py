"""The kornia export: ``kornia.augmentation`` modules in an ``AugmentationSequential``, on float B×C×H×W."""

from __future__ import annotations

from typing import Any

from augviz.exports import Line, Target, Writer, by_name, fixed, jitter, missing, odd_kernel, varies

_PAD = {"nearest": "border", "reflect": "reflection", "constant": "zeros"}


def _pad(cfg: dict[str, Any]) -> tuple[str, str]:
    """kornia's padding_mode for the step's fill, and a note when kornia cannot fill that way."""
    note = ""
    if cfg["fill"] == "constant" and cfg["fill_value"] != 0:
        note = f"kornia pads with zeros, not {cfg['fill_value']:g}"
    return f"padding_mode={_PAD[cfg['fill']]!r}", note


def _neg(span: tuple[float, float]) -> tuple[float, float]:
    # kornia's RandomAffine angles (rotation and shear) turn the other way round from augviz's (a positive augviz
    # shear_x moves the bottom edge right), so the export hands it negated ranges.
    return (-span[1], -span[0])


def rotation(cfg: dict[str, Any], p: float) -> Line:
    pad, note = _pad(cfg)
    # RandomAffine rather than RandomRotation: only the former takes a padding mode. Its angle turns the
    # other way round from RandomRotation's and augviz's, so the range is negated.
    return Line(f"K.RandomAffine(degrees={_neg(cfg['degrees'])}, {pad}, p={p})", note)


def affine(cfg: dict[str, Any], p: float) -> Line:
    pad, note = _pad(cfg)
    tx, ty, sc = cfg["translate_x"], cfg["translate_y"], cfg["scale"]
    shx, shy = _neg(cfg["shear_x"]), _neg(cfg["shear_y"])
    if sc == (1.0, 1.0) and cfg["shear_x"] == cfg["shear_y"] == (0.0, 0.0):
        return Line(f"K.RandomTranslate(translate_x={tx}, translate_y={ty}, {pad}, p={p})", note)
    symmetric = tx[0] == -tx[1] and ty[0] == -ty[1]
    if not symmetric and p >= 1:
        # RandomAffine only draws a translation symmetric about 0; augviz shifts after scaling and shearing, so
        # the same map is RandomAffine without a shift, then RandomTranslate, which takes a one-sided range.
        return Line(f"K.RandomAffine(degrees=0, scale={sc}, shear=({shx[0]}, {shx[1]}, {shy[0]}, {shy[1]}), {pad}, "
                    "p=1.0), "
                    f"K.RandomTranslate(translate_x={tx}, translate_y={ty}, {pad}, p=1.0)", note)
    if not symmetric:  # two modules would each draw their own p
        note = "; ".join(filter(None, [note, "kornia's RandomAffine only draws a translation symmetric about 0, "
                                       "so this one runs ±the range's largest magnitude"]))
    mx, my = max(map(abs, tx)), max(map(abs, ty))
    return Line(f"K.RandomAffine(degrees=0, translate=({mx}, {my}), scale={sc}, "
                f"shear=({shx[0]}, {shx[1]}, {shy[0]}, {shy[1]}), {pad}, p={p})", note)


def zoom(cfg: dict[str, Any], p: float) -> Line:
    pad, note = _pad(cfg)
    lo, hi = cfg["factor"]
    # Two values draw one factor for both axes; four draw x and y independently, as augviz does with keep_aspect off.
    scale = (lo, hi) if cfg["keep_aspect"] else (lo, hi, lo, hi)
    return Line(f"K.RandomAffine(degrees=0, scale={scale}, {pad}, p={p})", note)


def random_resized_crop(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"K.RandomResizedCrop(size=SIZE, scale={cfg['area']}, ratio={cfg['ratio']}, p={p})")


def perspective(cfg: dict[str, Any], p: float) -> Line:
    lo, hi = cfg["distortion"]
    # kornia moves each corner inward by U(0, s)·half the size, with one s for every image; augviz draws d per
    # image first. s = the middle of augviz's range gives the same mean corner move.
    note = ("kornia takes one distortion scale: the middle of the range gives augviz's mean corner move, "
            "not its spread") if varies(cfg["distortion"]) else ""
    if cfg["fill"] != "constant" or cfg["fill_value"] != 0:
        note = "; ".join(filter(None, [note, "kornia fills the uncovered corners with zeros"]))
    return Line(f"K.RandomPerspective(distortion_scale={(lo + hi) / 2}, p={p})", note)


def elastic(cfg: dict[str, Any], p: float) -> Line:
    (alo, ahi), (slo, shi) = cfg["alpha"], cfg["sigma"]
    a, s = (alo + ahi) / 2, (slo + shi) / 2
    k = odd_kernel(s)
    # kornia's displacement is in [-1, 1] grid units, half the image per unit: augviz's alpha in pixels is
    # alpha / (size / 2) there, per axis (kornia's alpha is (x, y)).
    note = ("kornia takes one alpha and one sigma: the middles of augviz's ranges (the same mean strength)"
            if varies(cfg["alpha"]) or varies(cfg["sigma"]) else "")
    pad, pad_note = _pad(cfg)
    note = "; ".join(filter(None, [note, pad_note]))
    return Line(f"K.RandomElasticTransform(kernel_size=(min({k}, 2 * min(SIZE) - 1),) * 2, sigma=({s}, {s}), "
                f"alpha=({a} * 2 / SIZE[1], {a} * 2 / SIZE[0]), {pad}, p={p})", note)


def color_jitter(key: str) -> Writer:
    def write(cfg: dict[str, Any], p: float) -> Line:
        return Line(f"K.ColorJitter({key}={cfg['factor']}, p={p})")
    return write


def hue(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"K.ColorJitter(hue={cfg['shift']}, p={p})")


def gamma(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"K.RandomGamma(gamma={cfg['gamma']}, p={p})")


def gaussian_blur(cfg: dict[str, Any], p: float) -> Line:
    lo, hi = cfg["sigma"]
    k = odd_kernel(hi)
    # kornia refuses a kernel wider than its reflect padding allows (ValueError with σ > 9 on 28×28), so the
    # kernel is capped at the image: the Gaussian's tails beyond the image, which carry little weight, are cut.
    return Line(f"K.RandomGaussianBlur(kernel_size=min({k}, 2 * min(SIZE) - 1), sigma=({lo}, {hi}), p={p})")


def sharpness(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"K.RandomSharpness(sharpness={cfg['factor']}, p={p})")


def posterize(cfg: dict[str, Any], p: float) -> Line:
    lo, hi = cfg["bits"]
    # kornia draws a real number and rounds it: the range widened by half a bit on each side gives every whole
    # number the same chance. It caps the draw at 8 bits, so 8 itself can only get half its share.
    top = min(hi + 0.5, 8.0)
    note = "kornia caps bits at 8, so 8 bits comes up half as often as the others" if hi == 8 and lo < 8 else ""
    return Line(f"K.RandomPosterize(bits=({max(lo - 0.5, 0.0)}, {top}), p={p})", note)


def solarize(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"K.RandomSolarize(thresholds={cfg['threshold']}, additions=0.0, p={p})")


def gaussian_noise(cfg: dict[str, Any], p: float) -> Line:
    hi = cfg["sigma"][1]
    notes = []
    if varies(cfg["sigma"]):
        notes.append("kornia takes one fixed std: the top of the range")
    if not cfg["per_channel"]:
        notes.append("kornia draws every channel separately; augviz adds the same noise to all of them")
    return Line(f"K.RandomGaussianNoise(std={hi}, p={p})", "; ".join(notes))


def salt_and_pepper(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"K.RandomSaltAndPepperNoise(amount={cfg['amount']}, salt_vs_pepper={cfg['salt_ratio']}, p={p})")


def random_erasing(cfg: dict[str, Any], p: float) -> Line:
    noise = cfg["fill"] == "noise"
    note = "kornia erases with a constant, not noise" if noise else ""
    return Line(f"K.RandomErasing(scale={cfg['area']}, ratio={cfg['ratio']}, value={0.0 if noise else cfg['value']}, "
                f"p={p})", note)


def mixup(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"K.RandomMixUpV2(lambda_val=None, p={p})", "kornia draws λ from U(0, 1), not Beta(α, α)")


def cutmix(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"K.RandomCutMixV2(beta={cfg['alpha']}, p={p})")


_NO_P = "; kornia's policies take no p: every image goes through"


def randaugment(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"kornia.augmentation.auto.RandAugment(n={cfg['num_ops']}, m={cfg['magnitude']})",
                "kornia's operations and magnitude scale differ from torchvision's, which augviz follows"
                + (_NO_P if p < 1 else ""))


def trivialaugment(cfg: dict[str, Any], p: float) -> Line:
    return Line("kornia.augmentation.auto.TrivialAugment()",
                "kornia's operations and magnitude scale differ from torchvision's" + (_NO_P if p < 1 else ""))


TARGET = Target(
    name="kornia",
    header="import kornia\nimport kornia.augmentation as K\n",
    open="K.AugmentationSequential(",
    close=")",
    usage="# images: float tensor B×C×H×W in [0, 1]\n# out = pipeline(images)",
    table={
        **by_name(rotation, affine, zoom, random_resized_crop, perspective, elastic, hue, gamma, gaussian_blur,
                  sharpness, posterize, solarize, gaussian_noise, random_erasing, salt_and_pepper, mixup, cutmix,
                  randaugment, trivialaugment),
        **jitter(color_jitter),
        "horizontal_flip": fixed("K.RandomHorizontalFlip(p={p})"),
        "vertical_flip": fixed("K.RandomVerticalFlip(p={p})"),
        "grayscale": fixed("K.RandomGrayscale(p={p})"),
        "equalize": fixed("K.RandomEqualize(p={p})"),
        "autocontrast": fixed("K.RandomAutoContrast(p={p})"),
        "invert": fixed("K.RandomInvert(p={p})"),
        "speckle": missing("kornia has no speckle noise"),
        "snow": missing("kornia has no noise that moves pixels up or down by a set amount"),
    },
)

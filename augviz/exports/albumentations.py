"""The albumentations export: transforms in an ``A.Compose``, on one H×W×C uint8 image at a time."""

from __future__ import annotations

import math
from typing import Any

from augviz.exports import Line, Target, Writer, by_name, fixed, jitter, missing, varies

_BORDER = {"nearest": "cv2.BORDER_REPLICATE", "reflect": "cv2.BORDER_REFLECT", "constant": "cv2.BORDER_CONSTANT"}


def _fill(cfg: dict[str, Any]) -> str:
    return f"border_mode={_BORDER[cfg['fill']]}, fill={round(cfg['fill_value'] * 255)}"


def _neg(span: tuple[float, float]) -> tuple[float, float]:
    # albumentations' shear angle turns the other way round from augviz's, so the export negates the range.
    return (-span[1], -span[0])


def rotation(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"A.Rotate(limit={cfg['degrees']}, {_fill(cfg)}, p={p})")


def affine(cfg: dict[str, Any], p: float) -> Line:
    moves = cfg["translate_x"] != (0.0, 0.0) or cfg["translate_y"] != (0.0, 0.0)
    note = "albumentations truncates a shift to whole pixels (about half a pixel short on average)" if moves else ""
    return Line(f"A.Affine(translate_percent={{'x': {cfg['translate_x']}, 'y': {cfg['translate_y']}}}, "
                f"scale={cfg['scale']}, shear={{'x': {_neg(cfg['shear_x'])}, 'y': {_neg(cfg['shear_y'])}}}, "
                f"{_fill(cfg)}, p={p})", note)


def zoom(cfg: dict[str, Any], p: float) -> Line:
    f = cfg["factor"]
    scale = f if cfg["keep_aspect"] else f"{{'x': {f}, 'y': {f}}}"
    return Line(f"A.Affine(scale={scale}, keep_ratio={cfg['keep_aspect']}, {_fill(cfg)}, p={p})")


def random_resized_crop(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"A.RandomResizedCrop(size=SIZE, scale={cfg['area']}, ratio={cfg['ratio']}, p={p})")


# albumentations moves each corner by |N(0, σ)| of the full size, σ ~ U(scale); augviz by U(0, d) of half the
# size. E|N(0, σ)| = σ·√(2/π), so σ = d·√(π/2)/4 gives the same mean corner move for every d.
_PERSPECTIVE_SIGMA = math.sqrt(math.pi / 2) / 4


def perspective(cfg: dict[str, Any], p: float) -> Line:
    lo, hi = (round(d * _PERSPECTIVE_SIGMA, 4) for d in cfg["distortion"])
    return Line(f"A.Perspective(scale=({lo}, {hi}), {_fill(cfg)}, p={p})",
                "albumentations moves corners by a half-normal draw (the scale gives augviz's mean corner move), "
                "then stretches the quadrilateral to the frame and shifts it up-left: measured at 64 px, about "
                "1.6 times augviz's mean warp plus a 1-3 px shift; no argument undoes that")


def elastic(cfg: dict[str, Any], p: float) -> Line:
    (alo, ahi), (slo, shi) = cfg["alpha"], cfg["sigma"]
    note = ("albumentations takes one alpha and one sigma: the middles of augviz's ranges"
            if varies(cfg["alpha"]) or varies(cfg["sigma"]) else "")
    # Its default field is normal noise scaled to a maximum of 1, about half as strong as augviz's uniform field
    # (Simard et al.'s): the uniform one matches.
    return Line(f"A.ElasticTransform(alpha={(alo + ahi) / 2}, sigma={(slo + shi) / 2}, noise_distribution='uniform', "
                f"{_fill(cfg)}, p={p})", note)


def color_jitter(key: str) -> Writer:
    def write(cfg: dict[str, Any], p: float) -> Line:
        others = ", ".join(f"{k}=0" for k in ("brightness", "contrast", "saturation") if k != key)
        return Line(f"A.ColorJitter({key}={cfg['factor']}, {others}, hue=0, p={p})")
    return write


def hue(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"A.ColorJitter(brightness=0, contrast=0, saturation=0, hue={cfg['shift']}, p={p})")


def gamma(cfg: dict[str, Any], p: float) -> Line:
    lo, hi = cfg["gamma"]
    return Line(f"A.RandomGamma(gamma_limit=({round(lo * 100)}, {round(hi * 100)}), p={p})")


def gaussian_blur(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"A.GaussianBlur(blur_limit=(0, 0), sigma_limit={cfg['sigma']}, p={p})")


def sharpness(cfg: dict[str, Any], p: float) -> Line:
    # Sharpen with lightness 1 blends in the kernel 8·centre − neighbours by alpha; PIL's sharpness f is the same
    # map with alpha = (f − 1)/13. Sharpen cannot soften (alpha ≥ 0), so factors below 1 stop at 1.
    lo, hi = cfg["factor"]
    a_lo, a_hi = (round(max(f - 1, 0) / 13, 5) for f in (lo, hi))
    note = "albumentations' Sharpen cannot soften: factors below 1 act as 1" if lo < 1 else ""
    if hi > 1 + 13:
        note = "; ".join(filter(None, [note, "Sharpen's alpha stops at 1 (factor 14)"]))
        a_hi = 1.0
    return Line(f"A.Sharpen(alpha=({a_lo}, {a_hi}), lightness=(1.0, 1.0), p={p})", note)


def posterize(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"A.Posterize(num_bits={cfg['bits']}, p={p})")


def solarize(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"A.Solarize(threshold_range={cfg['threshold']}, p={p})")


def gaussian_noise(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"A.GaussNoise(std_range={cfg['sigma']}, per_channel={cfg['per_channel']}, p={p})")


def salt_and_pepper(cfg: dict[str, Any], p: float) -> Line:
    return Line(f"A.SaltAndPepper(amount={cfg['amount']}, salt_vs_pepper={cfg['salt_ratio']}, p={p})")


def random_erasing(cfg: dict[str, Any], p: float) -> Line:
    (alo, ahi), (rlo, rhi) = cfg["area"], cfg["ratio"]
    # albumentations' ratio is width over height, augviz's height over width: the range is inverted.
    ratio = (round(1 / rhi, 5), round(1 / rlo, 5))
    # albumentations crashes (TypeError in BaseDropout.apply) when ten tries find no box of the drawn size that
    # fits; a box of area a and ratio r fits when a·max(r, 1/r) ≤ 1, so the area is capped where that holds.
    cap = round(1 / max(rhi, 1 / rlo), 4)
    note = ""
    if ahi > cap:
        note = (f"area capped at {cap:g}: albumentations fails when no box of the drawn size fits "
                f"(augviz clips such a box to the image)")
        alo, ahi = min(alo, cap), cap
    fill = "'random'" if cfg["fill"] == "noise" else round(cfg["value"] * 255)
    return Line(f"A.Erasing(scale=({alo}, {ahi}), ratio={ratio}, fill={fill}, p={p})", note)


TARGET = Target(
    name="albumentations",
    header="import albumentations as A\nimport cv2\n",
    open="A.Compose([",
    close="])",
    usage="# image: H×W×C uint8 numpy array, one at a time as a DataLoader would pass it\n"
          "# out = pipeline(image=image)['image']",
    table={
        **by_name(rotation, affine, zoom, random_resized_crop, perspective, elastic, hue, gamma, gaussian_blur,
                  sharpness, posterize, solarize, gaussian_noise, random_erasing, salt_and_pepper),
        **jitter(color_jitter),
        "horizontal_flip": fixed("A.HorizontalFlip(p={p})"),
        "vertical_flip": fixed("A.VerticalFlip(p={p})"),
        "grayscale": fixed("A.ToGray(num_output_channels=3, p={p})"),
        "equalize": fixed("A.Equalize(mode='pil', by_channels=True, p={p})",
                          "albumentations' 'pil' mode rounds its lookup table otherwise than PIL: about 0.035 apart "
                          "on average, 0.12 at most; its default OpenCV mode is no closer"),
        "autocontrast": fixed("A.AutoContrast(method='pil', p={p})"),
        "invert": fixed("A.InvertImg(p={p})"),
        "speckle": missing("no speckle noise in albumentations 2"),
        "snow": missing("albumentations has no noise that moves pixels up or down by a set amount "
                        "(its RandomSnow paints snowflakes)"),
        "mixup": missing("albumentations works on one image at a time and has no mixup"),
        "cutmix": missing("albumentations works on one image at a time and has no cutmix"),
        "randaugment": missing("albumentations has no RandAugment policy"),
        "trivialaugment": missing("albumentations has no TrivialAugment policy"),
    },
)

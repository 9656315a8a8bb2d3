"""Each registry entry against an independent reference: PIL, numpy, or the formula it shows.

``REFERENCES`` must name every registry entry; ``test_every_entry_has_a_reference`` fails the moment a transform
is registered without one. A reference is a function ``ref_<name>(card)`` here, or, for a transform that keeps its
tests in a file of its own, in ``tests/test_transform_<name>.py``.
"""

from __future__ import annotations

import colorsys
import importlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance, ImageOps

from augviz import REGISTRY, Pipeline, Step, images
from augviz.functional.color import gray

U8 = 1 / 255


def run(name: str, x: torch.Tensor, seed: int = 0, **params):
    step = Step.default(name)
    pipe = Pipeline((Step(name, {**step.params, **params}, 1.0),))
    return pipe.run(x, torch.Generator().manual_seed(seed))


def drawn(result, key: str) -> torch.Tensor:
    return result.draws[0].params[key]


def pil(x: torch.Tensor) -> Image.Image:
    return images.to_pil(x[0])


def from_pil(im: Image.Image) -> torch.Tensor:
    return images.to_tensor(im).unsqueeze(0)


def pil_transform(x: torch.Tensor, forward: torch.Tensor, perspective: bool = False) -> torch.Tensor:
    """PIL's own resampler driven by the inverse of a centred-pixel forward matrix (black fill)."""
    _, _, h, w = x.shape
    shift = torch.tensor([[1, 0, w / 2], [0, 1, h / 2], [0, 0, 1]], dtype=torch.float64)
    inv = shift @ torch.linalg.inv(forward.to(torch.float64)) @ torch.linalg.inv(shift)
    inv = inv / inv[2, 2]
    if perspective:
        data, method = tuple(inv.flatten()[:8].tolist()), Image.Transform.PERSPECTIVE
    else:
        data, method = tuple(inv[:2].flatten().tolist()), Image.Transform.AFFINE
    return from_pil(pil(x).transform((w, h), method, data, Image.Resampling.BILINEAR, fillcolor=(0, 0, 0)))


def inside(forward: torch.Tensor, h: int, w: int, margin: float = 1.5) -> torch.Tensor:
    """Output pixels whose source lies at least ``margin`` pixels inside the input (borders differ by design)."""
    ys, xs = torch.meshgrid(torch.arange(h) - (h - 1) / 2, torch.arange(w) - (w - 1) / 2, indexing="ij")
    pts = torch.stack([xs, ys, torch.ones_like(xs)], -1).to(torch.float64) @ torch.linalg.inv(forward).T
    sx, sy = pts[..., 0] / pts[..., 2], pts[..., 1] / pts[..., 2]
    return (sx.abs() < (w - 1) / 2 - margin) & (sy.abs() < (h - 1) / 2 - margin)


def check_against_pil(name: str, card: torch.Tensor, forward_fn, perspective: bool = False, **params) -> None:
    """Our output against PIL resampling through ``forward_fn``: the test's own formula for the drawn values."""
    res = run(name, card, fill="constant", **params)
    h, w = card.shape[2:]
    forward = torch.tensor(forward_fn({k: float(v[0]) if v.dim() == 1 else v[0] for k, v in
                                       res.draws[0].params.items()}, h, w), dtype=torch.float64)
    ref = pil_transform(card, forward, perspective)
    mask = inside(forward, h, w)
    assert mask.float().mean() > 0.3
    diff = (res.images - ref).abs().amax(1)[0][mask]
    assert float(diff.max()) <= 3 * U8 and float(diff.mean()) <= U8


def ref_rotation(card):
    res = run("rotation", card, fill="constant", degrees=(25.0, 25.0))
    ref = from_pil(pil(card).rotate(25, Image.Resampling.BILINEAR))
    h, w = card.shape[2:]
    a = math.radians(25)
    mask = inside(torch.tensor([[math.cos(a), math.sin(a), 0], [-math.sin(a), math.cos(a), 0], [0, 0, 1]],
                               dtype=torch.float64), h, w)
    diff = (res.images - ref).abs().amax(1)[0][mask]
    assert float(diff.max()) <= 3 * U8 and float(diff.mean()) <= U8


def ref_horizontal_flip(card):
    torch.testing.assert_close(run("horizontal_flip", card).images, from_pil(ImageOps.mirror(pil(card))),
                               atol=U8, rtol=0)


def ref_vertical_flip(card):
    torch.testing.assert_close(run("vertical_flip", card).images, from_pil(ImageOps.flip(pil(card))),
                               atol=U8, rtol=0)


def ref_affine(card):
    def forward(p, h, w):
        kx, ky = math.tan(math.radians(p["shear_x"])), math.tan(math.radians(p["shear_y"]))
        shear_scale = np.array([[1, kx, 0], [ky, 1, 0], [0, 0, 1]]) @ np.diag([p["scale"], p["scale"], 1])
        return np.array([[1, 0, p["tx"] * w], [0, 1, p["ty"] * h], [0, 0, 1]]) @ shear_scale

    check_against_pil("affine", card, forward, translate_x=(-0.2, 0.2), translate_y=(-0.1, 0.1),
                      scale=(0.8, 1.2), shear_x=(-20.0, 20.0), shear_y=(-10.0, 10.0))


def ref_zoom(card):
    check_against_pil("zoom", card, lambda p, h, w: np.diag([p["zoom_x"], p["zoom_y"], 1]), factor=(0.6, 1.6),
                      keep_aspect=False)


def ref_random_resized_crop(card):
    res = run("random_resized_crop", card, area=(0.2, 0.6))
    p = {k: float(v[0]) for k, v in res.draws[0].params.items()}
    h, w = card.shape[2:]
    cx, cy = w / 2 + p["center_x"] * w, h / 2 + p["center_y"] * h
    box = (cx - p["crop_w"] * w / 2, cy - p["crop_h"] * h / 2, cx + p["crop_w"] * w / 2, cy + p["crop_h"] * h / 2)
    assert box[0] >= -1e-6 and box[2] <= w + 1e-6  # the crop lies inside the picture
    ref = from_pil(pil(card).resize((w, h), Image.Resampling.BILINEAR, box=box))
    diff = (res.images - ref).abs()[..., 2:-2, 2:-2]
    assert float(diff.max()) <= 4 * U8 and float(diff.mean()) <= U8


def ref_perspective(card):
    def forward(p, h, w):
        src = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
        dst = src + np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]]) * p["corners"].numpy() * [w / 2, h / 2]
        rows = []
        for (x, y), (u, v) in zip(src, dst, strict=True):
            rows += [[x, y, 1, 0, 0, 0, -x * u, -y * u, -u], [0, 0, 0, x, y, 1, -x * v, -y * v, -v]]
        _, _, vt = np.linalg.svd(np.array(rows))  # the null vector of the DLT system
        hmat = vt[-1].reshape(3, 3)
        return hmat / hmat[2, 2]

    check_against_pil("perspective", card, forward, perspective=True, distortion=(0.3, 0.6))


def bilinear_border(img: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Textbook bilinear read with edge clamping, at pixel coordinates (sx, sy)."""
    h, w = img.shape[1:]
    sx, sy = min(max(sx, 0), w - 1), min(max(sy, 0), h - 1)
    x0, y0 = math.floor(sx), math.floor(sy)
    x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
    fx, fy = sx - x0, sy - y0
    top = img[:, y0, x0] * (1 - fx) + img[:, y0, x1] * fx
    bottom = img[:, y1, x0] * (1 - fx) + img[:, y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def ref_elastic(card):
    small = card[..., :16, :20]
    res = run("elastic", small, alpha=(30.0, 30.0), sigma=(3.0, 3.0))
    t = REGISTRY["elastic"]
    d = t.displacement(Step("elastic").params, res.draws[0].params, 16, 20)[0].numpy()
    img = small[0].numpy()
    ref = np.zeros_like(img)
    for y in range(16):
        for x in range(20):
            ref[:, y, x] = bilinear_border(img, x + d[y, x, 0], y + d[y, x, 1])
    np.testing.assert_allclose(res.images[0].numpy(), ref, atol=1e-4)
    assert np.abs(d).max() > 0.5  # the field really moves pixels
    torch.testing.assert_close(run("elastic", small, alpha=(0.0, 0.0)).images, small, atol=1e-5, rtol=0)


def against_enhancer(name: str, enhancer, factor: float, card: torch.Tensor, tolerance: float) -> None:
    """A factor transform at a fixed factor against PIL's ImageEnhance class of the same name."""
    res = run(name, card, factor=(factor, factor))
    torch.testing.assert_close(res.images, from_pil(enhancer(pil(card)).enhance(factor)), atol=tolerance, rtol=0)


def ref_brightness(card):
    against_enhancer("brightness", ImageEnhance.Brightness, 1.5, card, U8)


def ref_contrast(card):
    res = run("contrast", card, factor=(0.5, 1.5))
    f = float(drawn(res, "factor")[0])
    mean = float(gray(card).mean())
    torch.testing.assert_close(res.images, (mean + f * (card - mean)).clamp(0, 1))


def ref_saturation(card):
    against_enhancer("saturation", ImageEnhance.Color, 0.3, card, 2 * U8)


def hsv_turn(x: torch.Tensor, turns: float) -> torch.Tensor:
    """Each pixel through Python's colorsys: to HSV, hue plus ``turns`` (mod 1), back to RGB."""
    out = np.empty(x.shape, dtype=np.float64)
    for i in range(x.shape[0]):
        for y in range(x.shape[2]):
            for xx in range(x.shape[3]):
                h, s_, v = colorsys.rgb_to_hsv(*x[i, :, y, xx].tolist())
                out[i, :, y, xx] = colorsys.hsv_to_rgb((h + turns) % 1.0, s_, v)
    return torch.from_numpy(out).float()


def ref_hue(card):
    # The primaries first, where the direction of the turn is plain: +1/6 takes red to yellow.
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    torch.testing.assert_close(run("hue", red, shift=(1 / 6, 1 / 6)).images.flatten(), torch.tensor([1.0, 1.0, 0.0]))
    torch.testing.assert_close(run("hue", red, shift=(-1 / 3, -1 / 3)).images.flatten(),
                               torch.tensor([0.0, 0.0, 1.0]))
    for shift in (0.25, -0.1, 0.5):
        res = run("hue", card, shift=(shift, shift))
        torch.testing.assert_close(res.images, hsv_turn(card, shift), atol=1e-5, rtol=0)


def ref_grayscale(card):
    res = run("grayscale", card)
    ref = from_pil(pil(card).convert("L")).expand(1, 3, -1, -1)
    torch.testing.assert_close(res.images, ref, atol=U8, rtol=0)


def ref_gamma(card):
    res = run("gamma", card, gamma=(0.5, 2.0))
    torch.testing.assert_close(res.images, card ** float(drawn(res, "gamma")[0]))


def ref_gaussian_blur(card):
    res = run("gaussian_blur", card, sigma=(1.3, 1.3))
    r = math.ceil(3 * 1.3)
    t = np.arange(-r, r + 1)
    k1 = np.exp(-0.5 * (t / 1.3) ** 2)
    k2 = np.outer(k1, k1) / k1.sum() ** 2
    img = np.pad(card[0].numpy(), ((0, 0), (r, r), (r, r)), mode="reflect")
    h, w = card.shape[2:]
    ref = np.zeros(card.shape[1:], dtype=np.float64)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            ref += k2[dy, dx] * img[:, dy:dy + h, dx:dx + w]
    np.testing.assert_allclose(res.images[0].numpy(), ref, atol=1e-5)


def ref_sharpness(card):
    against_enhancer("sharpness", ImageEnhance.Sharpness, 1.8, card, 2 * U8)


def ref_posterize(card):
    res = run("posterize", card, bits=(3, 3))
    torch.testing.assert_close(res.images, from_pil(ImageOps.posterize(pil(card), 3)), atol=0, rtol=0)


def ref_solarize(card):
    res = run("solarize", card, threshold=(0.5, 0.5))
    torch.testing.assert_close(res.images, from_pil(ImageOps.solarize(pil(card), math.ceil(0.5 * 255))),
                               atol=1e-6, rtol=0)


def ref_equalize(card):
    low = card * 0.4 + 0.3
    low = (low * 255).round() / 255
    torch.testing.assert_close(run("equalize", low).images, from_pil(ImageOps.equalize(pil(low))), atol=0, rtol=0)


def ref_autocontrast(card):
    low = ((card * 0.4 + 0.3) * 255).round() / 255
    torch.testing.assert_close(run("autocontrast", low).images, from_pil(ImageOps.autocontrast(pil(low))),
                               atol=U8, rtol=0)


def ref_invert(card):
    torch.testing.assert_close(run("invert", card).images, from_pil(ImageOps.invert(pil(card))), atol=1e-6, rtol=0)


def ref_gaussian_noise(card):
    grey = torch.full((2, 3, 64, 64), 0.5)
    res = run("gaussian_noise", grey, sigma=(0.05, 0.05))
    noise = res.images - grey
    assert abs(float(noise.mean())) < 0.005
    assert abs(float(noise.std()) - 0.05) < 0.003
    assert not torch.equal(noise[0], noise[1])  # each image its own field


def ref_salt_and_pepper(card):
    grey = torch.full((1, 3, 100, 100), 0.5)
    res = run("salt_and_pepper", grey, amount=(0.2, 0.2), salt_ratio=(0.25, 0.25))
    salt = (res.images == 1).all(1).float().mean()
    pepper = (res.images == 0).all(1).float().mean()
    assert abs(float(salt) - 0.05) < 0.01 and abs(float(pepper) - 0.15) < 0.015
    assert ((res.images == 0.5) | (res.images == 0) | (res.images == 1)).all()


def ref_speckle(card):
    grey = torch.full((1, 3, 64, 64), 0.4)
    res = run("speckle", grey, sigma=(0.1, 0.1))
    rel = (res.images - grey) / grey
    assert abs(float(rel.std()) - 0.1) < 0.006 and abs(float(rel.mean())) < 0.01


def ref_snow(card):
    # The article's snow: a share of pixels moves up or down by a set amount, half each way, all channels alike.
    grey = torch.full((1, 3, 100, 100), 0.5)
    res = run("snow", grey, amount=(0.3, 0.3), magnitude=(0.2, 0.2))
    up, down = (res.images[0, 0] > 0.69).float().mean(), (res.images[0, 0] < 0.31).float().mean()
    assert abs(float(up) - 0.15) < 0.015 and abs(float(down) - 0.15) < 0.015
    assert torch.isclose(res.images, torch.tensor([0.3, 0.5, 0.7]).view(-1, 1, 1, 1, 1)).any(0).all()
    assert (res.images[0] == res.images[0, :1]).all()
    light = run("snow", torch.full((1, 3, 50, 50), 0.9), amount=(1.0, 1.0), magnitude=(0.2, 0.2)).images
    assert torch.isclose(light, torch.tensor([0.7, 1.0]).view(-1, 1, 1, 1, 1)).any(0).all()  # clipped at white

def ref_random_erasing(card):
    res = run("random_erasing", card, area=(0.1, 0.2), value=0.5)
    changed = (res.images != card).any(1)[0]
    ys, xs = changed.nonzero(as_tuple=True)
    box = res.images[0, :, ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    assert (box == 0.5).all()  # one solid rectangle
    assert 0.08 <= box[0].numel() / changed.numel() <= 0.22


def ref_mixup(card, batch=None):
    x = torch.stack([card[0], 1 - card[0], card[0].flip(-1)])
    labels = torch.eye(3)
    res = Pipeline((Step("mixup", {"alpha": 1.0}, 1.0),)).run(x, torch.Generator().manual_seed(1), labels=labels)
    lam, partner = drawn(res, "lam"), drawn(res, "partner")
    ref = lam.view(-1, 1, 1, 1) * x + (1 - lam.view(-1, 1, 1, 1)) * x[partner]
    torch.testing.assert_close(res.images, ref)
    torch.testing.assert_close(res.labels, lam[:, None] * labels + (1 - lam[:, None]) * labels[partner])
    torch.testing.assert_close(res.labels.sum(1), torch.ones(3))


def ref_cutmix(card):
    x = torch.stack([card[0], 1 - card[0], card[0].flip(-1)])
    labels = torch.eye(3)
    res = Pipeline((Step("cutmix", {"alpha": 1.0}, 1.0),)).run(x, torch.Generator().manual_seed(4), labels=labels)
    p = {k: v.tolist() for k, v in res.draws[0].params.items()}
    h, w = x.shape[-2:]
    expected, lam = x.clone(), torch.zeros(3)
    for i in range(3):
        # The box by hand: the pixels whose centres lie in [top, bottom) × [left, right) of the drawn fractions.
        rows = [r for r in range(h) if p["top"][i] <= (r + 0.5) / h < p["bottom"][i]]
        cols = [c for c in range(w) if p["left"][i] <= (c + 0.5) / w < p["right"][i]]
        for r in rows:
            for c in cols:
                expected[i, :, r, c] = x[p["partner"][i], :, r, c]
        lam[i] = 1 - len(rows) * len(cols) / (h * w)  # λ = 1 − box area / image area, exactly
        assert p["partner"][i] != i
    assert (lam < 1).all() and (lam > 0).any()  # the boxes are real
    torch.testing.assert_close(res.images, expected, atol=0, rtol=0)
    torch.testing.assert_close(res.mix_weights[0], lam)
    partner = torch.tensor(p["partner"])
    torch.testing.assert_close(res.labels, lam[:, None] * labels + (1 - lam[:, None]) * labels[partner])


# The published operation spaces, written out here from torchvision's source (transforms/v2/_auto_augment.py,
# RandAugment._AUGMENTATION_SPACE and TrivialAugmentWide._AUGMENTATION_SPACE, 31 bins), not taken from augviz:
# op → (magnitudes per bin, signed). Translations are in pixels for an image of width/height ``side``.
POLICY_OPS = ("Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color",
              "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize")


def randaugment_space(side: int) -> dict[str, tuple[list[float], bool]]:
    return {
        "Identity": ([0.0] * 31, False),
        "ShearX": (np.linspace(0.0, 0.3, 31).tolist(), True),
        "ShearY": (np.linspace(0.0, 0.3, 31).tolist(), True),
        "TranslateX": (np.linspace(0.0, 150.0 / 331.0 * side, 31).tolist(), True),
        "TranslateY": (np.linspace(0.0, 150.0 / 331.0 * side, 31).tolist(), True),
        "Rotate": (np.linspace(0.0, 30.0, 31).tolist(), True),
        "Brightness": (np.linspace(0.0, 0.9, 31).tolist(), True),
        "Color": (np.linspace(0.0, 0.9, 31).tolist(), True),
        "Contrast": (np.linspace(0.0, 0.9, 31).tolist(), True),
        "Sharpness": (np.linspace(0.0, 0.9, 31).tolist(), True),
        "Posterize": ([8 - round(b / ((31 - 1) / 4)) for b in range(31)], False),
        "Solarize": (np.linspace(255.0, 0.0, 31).tolist(), False),
        "AutoContrast": ([0.0] * 31, False),
        "Equalize": ([0.0] * 31, False),
    }


def trivialaugment_wide_space(side: int) -> dict[str, tuple[list[float], bool]]:
    return {
        "Identity": ([0.0] * 31, False),
        "ShearX": (np.linspace(0.0, 0.99, 31).tolist(), True),
        "ShearY": (np.linspace(0.0, 0.99, 31).tolist(), True),
        "TranslateX": (np.linspace(0.0, 32.0, 31).tolist(), True),
        "TranslateY": (np.linspace(0.0, 32.0, 31).tolist(), True),
        "Rotate": (np.linspace(0.0, 135.0, 31).tolist(), True),
        "Brightness": (np.linspace(0.0, 0.99, 31).tolist(), True),
        "Color": (np.linspace(0.0, 0.99, 31).tolist(), True),
        "Contrast": (np.linspace(0.0, 0.99, 31).tolist(), True),
        "Sharpness": (np.linspace(0.0, 0.99, 31).tolist(), True),
        "Posterize": ([8 - round(b / ((31 - 1) / 6)) for b in range(31)], False),
        "Solarize": (np.linspace(255.0, 0.0, 31).tolist(), False),
        "AutoContrast": ([0.0] * 31, False),
        "Equalize": ([0.0] * 31, False),
    }


def published_op(op: str, v: float, h: int, w: int) -> Step | None:
    """One operation at magnitude ``v`` (signed) as an augviz step with fixed settings; None for Identity."""
    fixed = {"fill": "nearest"}
    if op in ("ShearX", "ShearY"):
        # About the top-left corner, as torchvision (center=[0, 0]) and AutoAugment: the centred shear plus the
        # shift that keeps the top row (left column) in place.
        deg = math.degrees(math.atan(v))
        if op == "ShearX":
            return Step("affine", {**fixed, "shear_x": (deg, deg), "translate_x": (v * h / (2 * w),) * 2,
                                   "translate_y": (0.0, 0.0)}, 1.0)
        return Step("affine", {**fixed, "shear_y": (deg, deg), "translate_y": (v * w / (2 * h),) * 2,
                               "translate_x": (0.0, 0.0)}, 1.0)
    if op == "TranslateX":
        return Step("affine", {**fixed, "translate_x": (v / w, v / w), "translate_y": (0.0, 0.0)}, 1.0)
    if op == "TranslateY":
        return Step("affine", {**fixed, "translate_y": (v / h, v / h), "translate_x": (0.0, 0.0)}, 1.0)
    if op == "Rotate":
        return Step("rotation", {**fixed, "degrees": (v, v)}, 1.0)
    enhance = {"Brightness": "brightness", "Color": "saturation", "Contrast": "contrast", "Sharpness": "sharpness"}
    if op in enhance:
        return Step(enhance[op], {"factor": (1 + v, 1 + v)}, 1.0)
    if op == "Posterize":
        return Step("posterize", {"bits": (int(v), int(v))}, 1.0)
    if op == "Solarize":
        return Step("solarize", {"threshold": (v / 255, v / 255)}, 1.0)
    if op in ("AutoContrast", "Equalize"):
        return Step(op.lower(), {}, 1.0)
    return None


def _policy_by_hand(name: str, space, count: int) -> None:
    # A square 64-pixel card: TrivialAugment Wide shifts by up to 32 pixels, half of it, the most a step can say.
    card = from_pil(images.builtin("test_card").resize((64, 64)))
    x = card.expand(count, -1, -1, -1).contiguous()
    res = run(name, x, seed=2)
    p = res.draws[0].params
    h, w = card.shape[2:]
    for i in range(count):
        expected = x[i:i + 1]
        for k in range(p["ops"].shape[1]):
            op = POLICY_OPS[int(p["ops"][i, k])]
            side = w if op == "TranslateX" else h
            magnitudes, signed = space(side)[op]
            v = magnitudes[int(p["magnitude"][i, k])] * (float(p["sign"][i, k]) if signed else 1.0)
            step = published_op(op, v, h, w)
            if step is not None:
                expected = Pipeline((step,)).run(expected).images
        torch.testing.assert_close(res.images[i:i + 1], expected, atol=1e-5, rtol=0, msg=lambda m, i=i: f"{i}: {m}")
    assert {int(o) for o in p["ops"].flatten()} == set(range(len(POLICY_OPS)))  # every operation was checked


def ref_randaugment(card):
    _policy_by_hand("randaugment", randaugment_space, 48)
    assert set(run("randaugment", card, magnitude=9).draws[0].params["magnitude"].flatten().tolist()) == {9}


def ref_trivialaugment(card):
    _policy_by_hand("trivialaugment", trivialaugment_wide_space, 96)


def own_file_references() -> dict:
    """``ref_<name>`` of each registry entry whose tests live in ``tests/test_transform_<name>.py``."""
    found = {}
    for name in REGISTRY:
        if (Path(__file__).parent / f"test_transform_{name}.py").exists():
            module = importlib.import_module(f"tests.test_transform_{name}")
            found[name] = getattr(module, f"ref_{name}", None)
    return {name: fn for name, fn in found.items() if fn is not None}


REFERENCES = {name[4:]: fn for name, fn in globals().items() if name.startswith("ref_")} | own_file_references()


def test_every_entry_has_a_reference():
    assert sorted(REFERENCES) == sorted(REGISTRY)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_matches_reference(name, card):
    REFERENCES[name](card)

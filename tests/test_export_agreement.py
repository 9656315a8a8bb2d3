"""Exports mean what the preview shows.

Every transform runs at fixed settings (each range a single value, p = 1) through augviz and through its exported
code in every installed library, on the same picture: the interiors agree to a mean absolute difference of 0.02,
or the exported line carries a note saying how it differs and why no closer call exists. Where a transform is
random by nature (noise fields, box and corner positions), the exported arguments are checked by the
distribution of what they draw: a probe picture whose colours encode each pixel's own coordinates shows where
every output pixel was taken from. torchvision cannot be imported beside the pinned torch; its exports are
parse-tested in test_export.py.
"""

from __future__ import annotations

import math

import pytest
import torch

from augviz import REGISTRY, Pipeline, Step, images
from augviz.export import line, to_code
from augviz.preview import SEED_PIPELINE
from tests.export_runner import build, run

LIBS = ("kornia", "albumentations", "keras")
SIZE = 64
TOLERANCE = 0.02

# One case per transform, more where one setting hides a sign or an axis (shear x and y, zoom per axis).
FIXED = [
    ("rotation", {"degrees": (20, 20)}),
    ("horizontal_flip", {}),
    ("vertical_flip", {}),
    ("affine", {"translate_x": (0.1, 0.1), "translate_y": (-0.05, -0.05)}),
    ("affine", {"translate_x": (0.1, 0.1), "translate_y": (-0.05, -0.05), "scale": (1.1, 1.1)}),
    ("affine", {"translate_x": (0, 0), "translate_y": (0, 0), "shear_x": (15, 15)}),
    ("affine", {"translate_x": (0, 0), "translate_y": (0, 0), "shear_y": (10, 10)}),
    ("zoom", {"factor": (1.2, 1.2)}),
    ("zoom", {"factor": (0.85, 0.85), "keep_aspect": False}),
    ("brightness", {"factor": (1.3, 1.3)}),
    ("contrast", {"factor": (0.6, 0.6)}),
    ("saturation", {"factor": (1.5, 1.5)}),
    ("saturation", {"factor": (0.5, 0.5)}),
    ("hue", {"shift": (0.1, 0.1)}),
    ("hue", {"shift": (-0.2, -0.2)}),
    ("grayscale", {}),
    ("gamma", {"gamma": (1.5, 1.5)}),
    ("gaussian_blur", {"sigma": (1.5, 1.5)}),
    ("sharpness", {"factor": (0.3, 0.3)}),
    ("sharpness", {"factor": (2.0, 2.0)}),
    ("posterize", {"bits": (3, 3)}),
    ("solarize", {"threshold": (0.6, 0.6)}),
    ("equalize", {}),
    ("autocontrast", {}),
    ("invert", {}),
]


def picture(n: int = 2) -> torch.Tensor:
    return images.to_tensor(images.builtin("scene").resize((SIZE, SIZE))).unsqueeze(0).repeat(n, 1, 1, 1)


def interior(x: torch.Tensor) -> torch.Tensor:
    """The middle half of each side: away from borders, where libraries fill uncovered pixels each their own way."""
    q = x.shape[-1] // 4
    return x[..., q:-q, q:-q]


def exported(pipe: Pipeline, target: str, size: int = SIZE):
    return build(to_code(pipe, target, size=(size, size)), target)


@pytest.mark.parametrize("target", LIBS)
@pytest.mark.parametrize(("name", "cfg"), FIXED, ids=[f"{n}-{i}" for i, (n, _) in enumerate(FIXED)])
def test_exported_step_does_what_the_preview_shows_or_says_how_it_differs(name, cfg, target):
    pipe = Pipeline((Step(name, cfg, 1.0),))
    out = line(pipe.steps[0], target)
    if out.code is None:
        assert out.note, f"{name} is left out of {target} without a reason"
        return
    x = picture()
    ours = pipe(x, torch.Generator().manual_seed(0))
    theirs = run(exported(pipe, target), target, x)
    mad = interior(theirs - ours).abs().mean().item()
    if mad > TOLERANCE:
        assert out.note, f"{name} {cfg} in {target}: mean difference {mad:.3f} and no note says why"
        assert f"# {out.note}" in to_code(pipe, target), "the note is shown beside the exported line"


# ---- distributions: a probe picture whose red and green channels are each pixel's own x and y -------------------

def probe(n: int, size: int = SIZE) -> torch.Tensor:
    ramp = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    x = torch.empty(n, 3, size, size)
    x[:, 0], x[:, 1], x[:, 2] = ramp.view(1, -1), ramp.view(-1, 1), 0.5
    return x


def source_offset(out: torch.Tensor) -> torch.Tensor:
    """Per output pixel, in pixels: where it was taken from minus where it is (B×2×H×W, x then y)."""
    size = out.shape[-1]
    return out[:, :2] * size - probe(1, size)[:, :2] * size


def draws_through(name: str, cfg: dict, target: str, n: int, size: int = SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` probes through augviz and through the export to ``target``."""
    pipe = Pipeline((Step(name, cfg, 1.0),))
    x = probe(n, size)
    return pipe(x, torch.Generator().manual_seed(1)), run(exported(pipe, target, size), target, x)


@pytest.mark.parametrize("target", LIBS)
def test_a_translation_range_draws_the_same_shifts(target):
    # (0.05, 0.15) of the width: kornia's RandomAffine turned it into ±0.15 (mean 0) before the export used
    # RandomTranslate.
    size = 32 if target == "keras" else 64  # Keras' torch backend resamples slowly
    ours, theirs = draws_through("affine", {"translate_x": (0.05, 0.15), "translate_y": (0.0, 0.0)}, target, 100,
                                 size)
    # albumentations truncates a shift to whole pixels: about half a pixel short on average (its note says so).
    shift = [-interior(source_offset(o))[:, 0].mean(dim=(1, 2)) / size for o in (ours, theirs)]
    assert shift[0].mean().item() == pytest.approx(0.1, abs=0.005)
    assert shift[1].mean().item() == pytest.approx(0.1, abs=0.02)
    assert shift[1].min().item() > 0.03 and shift[1].max().item() < 0.17


def zooms(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image's zoom along x and y: how many output pixels one input pixel spans at the centre."""
    mid, q = out.shape[-1] // 2, out.shape[-1] // 8
    off = out[:, :2] * out.shape[-1]
    zx = 2 * q / (off[:, 0, mid, mid + q] - off[:, 0, mid, mid - q])
    zy = 2 * q / (off[:, 1, mid + q, mid] - off[:, 1, mid - q, mid])
    return zx, zy


@pytest.mark.parametrize("target", LIBS)
@pytest.mark.parametrize("keep_aspect", [True, False])
def test_zoom_draws_x_and_y_together_or_apart_as_set(target, keep_aspect):
    ours, theirs = draws_through("zoom", {"factor": (0.8, 1.25), "keep_aspect": keep_aspect}, target, 150, 32)
    for out in (ours, theirs):
        zx, zy = zooms(out)
        corr = torch.corrcoef(torch.stack([zx, zy]))[0, 1].item()
        assert corr > 0.97 if keep_aspect else abs(corr) < 0.3  # 3.5 standard errors of a zero correlation
        assert zx.min().item() > 0.78 and zx.max().item() < 1.28


def mean_move(out: torch.Tensor) -> float:
    return interior(source_offset(out)).norm(dim=1).mean().item()


def test_perspective_moves_corners_as_far_on_average_in_kornia():
    # The export once handed kornia the range's top for every corner: twice augviz's mean move.
    ours, theirs = draws_through("perspective", {"distortion": (0.0, 0.3), "fill": "constant"}, "kornia", 400)
    assert mean_move(theirs) == pytest.approx(mean_move(ours), rel=0.15)


def test_albumentations_perspective_says_by_how_much_it_warps_more():
    ours, theirs = draws_through("perspective", {"distortion": (0.0, 0.3), "fill": "constant"}, "albumentations", 300)
    ratio = mean_move(theirs) / mean_move(ours)
    assert 1.3 < ratio < 2.3, ratio  # the figure the note states; a change would need a new note
    assert "1.6 times" in line(Step("perspective"), "albumentations").note


@pytest.mark.parametrize("target", ["kornia", "albumentations"])
@pytest.mark.parametrize("size", [32, 64])
def test_elastic_displaces_as_far_at_every_size(size, target):
    # kornia's alpha is relative to the image size: a fixed a/32 was right at 64 px only. albumentations' default
    # field (normal noise scaled to a maximum of 1) displaced half as far.
    ours, theirs = draws_through("elastic", {"alpha": (30.0, 30.0), "sigma": (4.0, 4.0)}, target, 100, size)
    assert mean_move(theirs) == pytest.approx(mean_move(ours), rel=0.15)


def bits_drawn(out: torch.Tensor) -> torch.Tensor:
    """Bits kept per image, read from how many levels survive of a picture holding all 256."""
    levels = torch.tensor([len(torch.unique((o[0] * 255).round())) for o in out])
    return torch.log2(levels.float()).round().long()


@pytest.mark.parametrize("target", LIBS)
def test_posterize_draws_every_bit_depth_equally_often(target):
    x = torch.arange(256, dtype=torch.float32).div(255).view(1, 1, 16, 16).repeat(800, 3, 1, 1)
    pipe = Pipeline((Step("posterize", {"bits": (4, 7)}, 1.0),))
    bits = bits_drawn(run(exported(pipe, target, 16), target, x))
    counts = torch.bincount(bits, minlength=9)
    assert counts[4:8].sum().item() == len(bits), f"bit depths outside 4..7: {counts.tolist()}"
    share = counts[4:8].float() / len(bits)
    assert (share - 0.25).abs().max().item() < 0.06, f"shares of 4..7 bits: {share.tolist()}"


def noise_of(name: str, cfg: dict, target: str, n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.full((n, 3, SIZE, SIZE), 0.5)
    pipe = Pipeline((Step(name, cfg, 1.0),))
    return pipe(x, torch.Generator().manual_seed(2)) - x, run(exported(pipe, target), target, x) - x


@pytest.mark.parametrize("target", LIBS)
@pytest.mark.parametrize("per_channel", [True, False])
def test_gaussian_noise_has_the_same_spread_and_channel_coupling(target, per_channel):
    cfg = {"sigma": (0.05, 0.05), "per_channel": per_channel}
    ours, theirs = noise_of("gaussian_noise", cfg, target)
    note = line(Step("gaussian_noise", cfg), target).note
    for d in (ours, theirs) if not note else (ours,):
        assert d.std().item() == pytest.approx(0.05, rel=0.1)
        same = torch.corrcoef(torch.stack([d[:, 0].flatten(), d[:, 1].flatten()]))[0, 1].item()
        assert same > 0.99 if not per_channel else abs(same) < 0.05
    if note:  # kornia draws every channel apart: the line says so
        assert not per_channel and "channel" in note


@pytest.mark.parametrize("target", LIBS)
def test_salt_and_pepper_changes_the_same_share_of_pixels(target):
    ours, theirs = noise_of("salt_and_pepper", {"amount": (0.1, 0.1), "salt_ratio": (0.5, 0.5)}, target)
    for d in (ours, theirs):
        changed = (d.abs() > 0.1).any(dim=1).float().mean().item()
        assert changed == pytest.approx(0.1, abs=0.015)


def test_snow_in_keras_moves_the_same_share_up_and_down():
    ours, theirs = noise_of("snow", {"amount": (0.2, 0.2), "magnitude": (0.25, 0.25)}, "keras")
    for d in (ours, theirs):
        assert (d[:, 0] > 0.2).float().mean().item() == pytest.approx(0.1, abs=0.01)
        assert (d[:, 0] < -0.2).float().mean().item() == pytest.approx(0.1, abs=0.01)
        assert torch.equal(d[:, 0], d[:, 2]), "a pixel moves in every channel alike"


def box_shape(out: torch.Tensor) -> torch.Tensor:
    """Height over width of the black box in each white image."""
    black = out.mean(dim=1) < 0.5
    rows, cols = black.any(dim=2).sum(dim=1), black.any(dim=1).sum(dim=1)
    return rows.float() / cols.float()


@pytest.mark.parametrize("target", ["kornia", "albumentations"])
def test_erasing_boxes_have_the_same_aspect_ratio(target):
    # augviz's ratio is height over width; albumentations' is width over height, so the export inverts it.
    x = torch.ones(40, 3, SIZE, SIZE)
    pipe = Pipeline((Step("random_erasing", {"area": (0.1, 0.1), "ratio": (2.0, 2.0), "value": 0.0}, 1.0),))
    ours, theirs = pipe(x, torch.Generator().manual_seed(3)), run(exported(pipe, target), target, x)
    assert box_shape(ours).median().item() == pytest.approx(2.0, rel=0.15)
    assert box_shape(theirs).median().item() == pytest.approx(2.0, rel=0.15)


# ---- settings augviz accepts never make exported code crash -----------------------------------------------------

@pytest.mark.parametrize("ratio", [(0.3, 0.3), (3.0, 3.0), (0.1, 10.0)])
def test_erasing_export_runs_where_no_box_of_the_drawn_size_fits(ratio):
    # albumentations raised TypeError in BaseDropout.apply when no box fitted (area ≥ 0.33 with ratio 0.3 or 3).
    step = Step("random_erasing", {"area": (0.5, 0.9), "ratio": ratio}, 1.0)
    out = run(exported(Pipeline((step,)), "albumentations"), "albumentations", torch.rand(8, 3, SIZE, SIZE))
    assert out.shape == (8, 3, SIZE, SIZE)
    assert "capped" in line(step, "albumentations").note


@pytest.mark.parametrize("target", ["kornia", "keras"])
def test_a_wide_blur_on_a_small_image_runs_and_still_blurs(target):
    # kornia raised ValueError for σ above 9 on 28×28: its kernel outgrew the image.
    pipe = Pipeline((Step("gaussian_blur", {"sigma": (10.0, 10.0)}, 1.0),))
    x = torch.rand(2, 3, 28, 28)
    theirs = run(exported(pipe, target, 28), target, x)
    ours = pipe(x, torch.Generator().manual_seed(0))
    assert interior(theirs - ours).abs().mean().item() < TOLERANCE
    assert theirs.std().item() < x.std().item() / 5


def test_keras_export_of_the_default_pipeline_runs_with_the_article_generator_beside_it():
    code = to_code(SEED_PIPELINE, "keras")
    assert "ImageDataGenerator(rotation_range=15.0, width_shift_range=0.1, height_shift_range=0.1" in code
    assert "zoom_range=0.1" in code and "horizontal_flip=True" in code
    out = run(build(code, "keras"), "keras", picture(4))
    assert out.shape == (4, 3, SIZE, SIZE) and math.isfinite(out.sum().item())


def extremes(name: str) -> list[dict]:
    """Settings at the edges of what the spec accepts: every range at its bottom, at its top, and at full width."""
    spans = [p for p in REGISTRY[name].params if p.is_range]
    return [{p.name: pick(p) for p in spans} for pick in (lambda p: (p.low, p.low), lambda p: (p.high, p.high),
                                                          lambda p: (p.low, p.high))] if spans else [{}]


@pytest.mark.parametrize("target", LIBS)
@pytest.mark.parametrize("name", sorted(__import__("augviz").REGISTRY))
def test_settings_augviz_accepts_never_make_the_export_crash(name, target):
    for cfg in extremes(name):
        pipe = Pipeline((Step(name, cfg, 1.0),))
        if line(pipe.steps[0], target).code is None:
            continue
        out = run(exported(pipe, target, 28), target, torch.rand(2, 3, 28, 28))
        assert out.shape == (2, 3, 28, 28), cfg


@pytest.mark.parametrize(("name", "cfg"), [("brightness", {"factor": (0.5, 0.5)}), ("invert", {})])
def test_keras_applies_a_step_to_the_share_p_of_images(name, cfg):
    # Most Keras layers have no probability: the export wraps them in its RandomApply layer.
    pipe = Pipeline((Step(name, cfg, 0.3),))
    x = torch.full((1000, 3, 8, 8), 0.8)
    changed = (run(exported(pipe, "keras", 8), "keras", x) - x).abs().amax(dim=(1, 2, 3)) > 0.1
    assert changed.float().mean().item() == pytest.approx(0.3, abs=0.07)


@pytest.mark.parametrize("target", ["kornia", "albumentations"])
def test_resized_crops_have_the_same_area_and_aspect_ratio(target):
    # A crop of a quarter of the picture, twice as wide as high, stretched back: x zooms by √2, y by 2√2.
    cfg = {"area": (0.25, 0.25), "ratio": (2.0, 2.0)}
    for out in draws_through("random_resized_crop", cfg, target, 40):
        zx, zy = zooms(out)
        assert zx.median().item() == pytest.approx(math.sqrt(2), rel=0.06)
        assert zy.median().item() == pytest.approx(2 * math.sqrt(2), rel=0.06)


# ---- Keras: the mixing steps' own advice, {'images': x, 'labels': y}, holds for a whole exported pipeline -------

def class_batch(n: int, size: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` channels-last images, each one flat grey whose level says its class (class k at k / 10), with one-hot
    labels: a mixed image's mean level is then its mixed label's mean level."""
    y = torch.arange(n) % 10
    levels = torch.arange(10, dtype=torch.float32) / 10
    x = levels[y].view(n, 1, 1, 1).expand(n, size, size, 3).contiguous()
    return x, torch.nn.functional.one_hot(y, 10).float(), levels


# CutMix's label is the pasted box's share of the picture, while the box itself is cut at whole pixels: up to a
# pixel on each of its sides, (32 + 32 + 1) / 1024 ≈ 0.064 of a 32×32 picture (0.055 was seen once in 600).
@pytest.mark.parametrize(("mixing", "p", "size", "within"), [("mixup", 0.5, 8, 1e-4), ("mixup", 1.0, 8, 1e-4),
                                                             ("cutmix", 0.5, 32, 0.065)])
def test_keras_mixing_on_images_and_labels_mixes_them_alike_at_the_share_p(mixing, p, size, within):
    code = to_code(Pipeline((Step(mixing, {"alpha": 1.0}, p),)), "keras", size=(size, size))
    assert "call it on {'images': x, 'labels': y}" in code
    x, y, levels = class_batch(600, size)
    out = build(code, "keras")({"images": x, "labels": y}, training=True)
    images, labels = (torch.as_tensor(out[k]).detach().float() for k in ("images", "labels"))
    assert images.shape == x.shape and labels.shape == y.shape
    assert torch.allclose(labels.sum(dim=1), torch.ones(len(y)), atol=1e-4)
    torch.testing.assert_close(images.mean(dim=(1, 2, 3)), labels @ levels, atol=within, rtol=0)  # mixed alike
    changed = (labels - y).abs().amax(dim=1) > 1e-3
    assert changed.float().mean().item() == pytest.approx(p * 0.9, abs=0.1)  # a partner of the same class: 1 in 10


def test_a_whole_keras_export_runs_on_images_and_labels():
    steps = [Step(name, {}, 0.7) for name in sorted(REGISTRY)
             if name not in ("mixup", "cutmix") and line(Step(name), "keras").code is not None]
    code = to_code(Pipeline((*steps, Step("mixup", {}, 0.5))), "keras", size=(16, 16))
    x, y, _ = class_batch(8, 16)
    out = build(code, "keras")({"images": x, "labels": y}, training=True)
    assert tuple(out["images"].shape) == tuple(x.shape) and tuple(out["labels"].shape) == tuple(y.shape)
    assert math.isfinite(float(torch.as_tensor(out["images"]).sum()))


# ---- translations: each image's shift, mean and spread, in both directions ---------------------------------------

SHIFTS = [{"translate_x": (0.05, 0.15), "translate_y": (-0.15, -0.05)},
          {"translate_x": (-0.1, 0.0), "translate_y": (0.0, 0.2), "scale": (1.1, 1.1)},
          {"translate_x": (0.05, 0.15), "translate_y": (0.0, 0.0), "shear_x": (5.0, 5.0)}]


@pytest.mark.parametrize("cfg", SHIFTS, ids=["one-sided", "with-scale", "with-shear"])
@pytest.mark.parametrize("p", [1.0, 0.9])
def test_kornia_draws_each_images_shift_from_augviz_range_or_its_line_says_it_does_not(cfg, p):
    pipe = Pipeline((Step("affine", cfg, p),))
    x = probe(300, 32)
    ours, theirs = pipe(x, torch.Generator().manual_seed(1)), run(exported(pipe, "kornia", 32), "kornia", x)

    def shifts(out: torch.Tensor) -> torch.Tensor:  # per image: where the middle pixel was taken from, x then y
        mid = out.shape[-1] // 2
        return -source_offset(out)[:, :, mid - 1:mid + 1, mid - 1:mid + 1].mean(dim=(2, 3)) / out.shape[-1]

    a, b = shifts(ours), shifts(theirs)
    agrees = bool(((a.mean(0) - b.mean(0)).abs() < 0.01).all() and ((a.std(0) - b.std(0)).abs() < 0.01).all())
    if not agrees:
        assert "symmetric about 0" in line(pipe.steps[0], "kornia").note, (a.mean(0), b.mean(0), a.std(0), b.std(0))
    if p == 1.0:
        assert agrees, "at p = 1 every one-sided range is exported as such"

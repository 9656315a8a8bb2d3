"""Augmentation speed: augviz against kornia, albumentations and PIL on the same inputs, in one run.

1. training path: a 512×3×32×32 uint8 batch through the seed's pipeline (rotation ±15°, translate 0.1,
   zoom 0.9–1.1, horizontal flip p=0.5) to float, 1 CPU thread. Target: at least 2× kornia's images/s.
2. preview path: 16 draws of one 256×256 image through the seed's pipeline plus colour jitter and Gaussian
   noise, 1 thread. Target: at most 25 ms, and at least half of albumentations' images/s.
3. both on CUDA when a GPU is present.

Usage: python -m bench.augment [--json FILE] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import warnings

import numpy as np
import torch
from PIL import Image, ImageEnhance

from augviz import Pipeline, Step, images
from augviz.preview import SEED_PIPELINE
from bench.common import interleaved_medians, machine, table, write_json

warnings.filterwarnings("ignore")
JITTER = {"brightness": (0.8, 1.2), "contrast": (0.8, 1.2), "saturation": (0.8, 1.2), "hue": (-0.05, 0.05)}
PREVIEW_PIPELINE = Pipeline((
    *SEED_PIPELINE.steps,
    Step("brightness", {"factor": JITTER["brightness"]}),
    Step("contrast", {"factor": JITTER["contrast"]}),
    Step("saturation", {"factor": JITTER["saturation"]}),
    Step("hue", {"shift": JITTER["hue"]}),
    Step("gaussian_noise", {"sigma": (0.0, 0.05)}),
))


def kornia_pipeline(preview: bool):
    import kornia.augmentation as K

    # A four-value scale draws x and y apart, as the seed pipeline's Keras-style zoom does.
    steps = [K.RandomAffine(degrees=15, translate=(0.1, 0.1), scale=(0.9, 1.1, 0.9, 1.1), padding_mode="border",
                            p=1.0),
             K.RandomHorizontalFlip(p=0.5)]
    if preview:
        steps += [K.ColorJitter(**JITTER, p=1.0), K.RandomGaussianNoise(std=0.05, p=1.0)]
    return K.AugmentationSequential(*steps)


def albumentations_pipeline(preview: bool):
    import albumentations as A
    import cv2

    steps = [A.Affine(rotate=(-15, 15), translate_percent=(-0.1, 0.1), scale={"x": (0.9, 1.1), "y": (0.9, 1.1)},
                      border_mode=cv2.BORDER_REPLICATE, p=1.0), A.HorizontalFlip(p=0.5)]
    if preview:
        steps += [A.ColorJitter(**JITTER, p=1.0), A.GaussNoise(std_range=(0.0, 0.05), p=1.0)]
    return A.Compose(steps)


def pil_preview(im: Image.Image, rng: np.random.Generator) -> np.ndarray:
    """The preview pipeline with PIL and numpy, one image: one affine resample, enhancers, noise."""
    w, h = im.size
    a = np.deg2rad(rng.uniform(-15, 15))
    z = rng.uniform(0.9, 1.1)
    tx, ty = rng.uniform(-0.1, 0.1) * w, rng.uniform(-0.1, 0.1) * h
    flip = -1 if rng.random() < 0.5 else 1
    fwd = np.array([[np.cos(a), np.sin(a), tx], [-np.sin(a), np.cos(a), ty], [0, 0, 1]]) @ np.diag([z * flip, z, 1])
    c = np.array([[1, 0, w / 2], [0, 1, h / 2], [0, 0, 1]])
    inv = c @ np.linalg.inv(fwd) @ np.linalg.inv(c)
    out = im.transform(im.size, Image.Transform.AFFINE, tuple(inv[:2].ravel()), Image.Resampling.BILINEAR)
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        out = enhancer(out).enhance(rng.uniform(0.8, 1.2))
    hsv = np.asarray(out.convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + int(rng.uniform(-0.05, 0.05) * 255)) % 256
    arr = np.asarray(Image.fromarray(hsv, "HSV").convert("RGB"), dtype=np.float32) / 255
    return np.clip(arr + rng.normal(0, rng.uniform(0, 0.05), arr.shape).astype(np.float32), 0, 1)


def training_path(device: str, repeats: int) -> list[dict]:
    batch_u8 = torch.randint(0, 256, (512, 3, 32, 32), dtype=torch.uint8)
    x = batch_u8.to(device)
    g = torch.Generator().manual_seed(0)
    kornia = kornia_pipeline(preview=False).to(device)
    fns = {"augviz": lambda: SEED_PIPELINE(x, g), "kornia AugmentationSequential": lambda: kornia(x.float() / 255)}
    if device == "cpu":
        alb = albumentations_pipeline(preview=False)
        hwc = [img.permute(1, 2, 0).numpy() for img in batch_u8]

        def per_image():
            # As a DataLoader worker would: augment each HWC uint8 image, then collate to a float batch.
            outs = [alb(image=im)["image"] for im in hwc]
            return torch.from_numpy(np.stack(outs)).permute(0, 3, 1, 2).float().div_(255)

        fns["albumentations (per image)"] = per_image
    seconds = interleaved_medians(fns, repeats, sync=_sync(device))
    return [{"name": name, "images": 512, "seconds": s} for name, s in seconds.items()]


def preview_path(device: str, repeats: int) -> list[dict]:
    pic = images.builtin("scene")
    x = images.to_tensor(pic).to(device).unsqueeze(0).expand(16, -1, -1, -1)
    g = torch.Generator().manual_seed(0)
    kornia = kornia_pipeline(preview=True).to(device)
    fns = {"augviz": lambda: PREVIEW_PIPELINE(x, g), "kornia AugmentationSequential": lambda: kornia(x)}
    if device == "cpu":
        alb = albumentations_pipeline(preview=True)
        hwc = np.asarray(pic)
        rng = np.random.default_rng(0)
        fns["albumentations (per image)"] = lambda: [alb(image=hwc)["image"] for _ in range(16)]
        fns["PIL + numpy (per image)"] = lambda: [pil_preview(pic, rng) for _ in range(16)]
    seconds = interleaved_medians(fns, repeats, sync=_sync(device))
    return [{"name": name, "images": 16, "seconds": s} for name, s in seconds.items()]


def _sync(device: str):
    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="write the figures to this file")
    # 60 rounds: on a shared 2-core machine the median of 15 moved by ±15 % from run to run.
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(1)
    import cv2

    cv2.setNumThreads(1)
    print("machine:", ", ".join(f"{k} {v}" for k, v in machine().items()))
    tuned = {k: os.environ[k] for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_") if k in os.environ}
    print("glibc malloc:", ", ".join(f"{k}={v}" for k, v in tuned.items()) if tuned else "default settings")
    results: dict[str, list[dict]] = {}
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if "cuda" not in devices:
        print("(no CUDA device: GPU figures skipped)")
    for device in devices:
        for name, fn in (("training", training_path), ("preview", preview_path)):
            rows = fn(device, args.repeats)
            results[f"{name}_{device}"] = rows
            print()
            print(table(f"{name} path on {device}" + (", 1 thread" if device == "cpu" else ""), rows, "augviz"))
    train, prev = results["training_cpu"], results["preview_cpu"]
    speedup_kornia = train[0]["images_per_s"] / train[1]["images_per_s"]
    prev_ms = prev[0]["seconds"] * 1000
    vs_alb = prev[0]["images_per_s"] / prev[2]["images_per_s"]
    targets = {
        "training: augviz ≥ 2× kornia": (speedup_kornia >= 2, f"{speedup_kornia:.2f}×"),
        "preview: ≤ 25 ms": (prev_ms <= 25, f"{prev_ms:.1f} ms"),
        "preview: ≥ 0.5× albumentations": (vs_alb >= 0.5, f"{vs_alb:.2f}×"),
    }
    print("\ntargets:")
    for label, (ok, value) in targets.items():
        print(f"  {'met ' if ok else 'MISS'}  {label}: {value}")
    write_json(args.json, {"malloc": tuned or "default", "results": results, "targets": {k: {"met": ok, "value": v}
                                                           for k, (ok, v) in targets.items()}})


if __name__ == "__main__":
    main()

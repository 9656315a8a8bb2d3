"""A run's configuration: one JSON document, validated field by field with messages that name the field."""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import asdict, dataclass, fields
from typing import Any

from augviz import data, models, serialize
from augviz.deepnet import spec_from_dict
from augviz.errors import ConfigError
from augviz.pipeline import Pipeline


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a training run. ``pipeline`` is a pipeline document, or None for no augmentation."""

    dataset: str = "synthetic"
    folder: str | None = None  # for dataset "folder": a path under the data folder
    image_size: int | None = None  # for an image folder: read at this size × size (None: the folder's own)
    channels: int | None = None  # for an image folder: 1 (grey) or 3 (RGB) (None: the folder's own)
    train_size: int = 2000  # small enough that the seed article's question (does augmentation help?) is live
    val_fraction: float = 0.1
    model: str = "seed_cnn"
    optimizer: str = "adam"
    lr: float = 3e-3  # the peak learning rate
    batch_size: int = 64
    # How long to train: a budget of optimizer steps, the same for 250 images as for 20,000, so that a small
    # training set is not also a short run; or, when ``epochs`` is set, that many passes over the images.
    steps: int = 1000
    epochs: int | None = None
    schedule: str = "one_cycle"  # learning rate: warm up then decay to zero ("one_cycle"), or "constant"
    threads: int | None = None  # CPU threads for this run; None: PyTorch's default
    details: bool = False  # record gradient histograms and update ratios (the gradient lab's views)
    weight_decay: float = 0.0
    clip_norm: float | None = None  # clip the total gradient norm to this before each step
    net: dict[str, Any] | None = None  # model "deepnet": the gradient lab's network spec
    pipeline: dict[str, Any] | None = None
    seed: int = 0
    device: str = "auto"
    # "auto": bfloat16 mixed precision where the device computes it natively (train.native_bf16), else float32
    precision: str = "auto"
    name: str = ""
    group: str = ""  # runs launched together (an experiment) share a group
    download: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def augmentation(self) -> Pipeline | None:
        return None if self.pipeline is None else serialize.from_dict(self.pipeline)

    def label(self) -> str:
        aug = "no augmentation" if self.pipeline is None else "augmented"
        return self.name or f"{self.model} on {self.dataset} ({self.train_size}), {aug}, seed {self.seed}"


_RANGES: dict[str, tuple[float, float]] = {
    "train_size": (1, 1_000_000), "val_fraction": (0.0, 0.5), "lr": (1e-6, 1e3), "batch_size": (1, 4096),
    "steps": (1, 1_000_000), "epochs": (1, 200), "threads": (1, 256), "weight_decay": (0.0, 1.0),
    "seed": (0, 2**31 - 1),
}
_WHOLE_OR_NONE = ("epochs", "threads")  # whole numbers that may also be null
SCHEDULES = ("one_cycle", "constant")
PRECISIONS = ("auto", "float32", "bfloat16")
_CHOICES: dict[str, Collection[str]] = {"dataset": data.DATASETS, "model": models.MODELS, "schedule": SCHEDULES,
                                        "optimizer": ("sgd", "adam"), "device": ("auto", "cpu", "cuda"),
                                        "precision": PRECISIONS}


def from_dict(doc: Any) -> RunConfig:
    """Validate a configuration document; ConfigError names the first bad field."""
    if not isinstance(doc, dict):
        raise ConfigError("", "a run configuration is a JSON object")
    serialize.check_json(doc)
    known = {f.name: f for f in fields(RunConfig)}
    for key in doc:
        if key not in known:
            raise ConfigError(str(key)[:40], f"unknown field (allowed: {', '.join(known)})")
    values: dict[str, Any] = {}
    for name, value in doc.items():
        values[name] = _check(name, value, known[name].default)
    cfg = RunConfig(**values)
    _check_dataset(cfg)
    if cfg.model == "deepnet" and cfg.net is None:
        raise ConfigError("net", "the deep net needs its network spec")
    return cfg


def _check_dataset(cfg: RunConfig) -> None:
    """What the chosen dataset's registry entry allows: its size range, a folder, a size and channels."""
    spec = data.DATASETS[cfg.dataset]
    if spec.train_sizes and not spec.train_sizes[0] <= cfg.train_size <= spec.train_sizes[1]:
        raise ConfigError("train_size", f"{spec.label} offers {spec.train_sizes[0]} to {spec.train_sizes[1]} "
                                        f"training images, got {cfg.train_size}")
    if spec.user_folder and not cfg.folder:
        raise ConfigError("folder", "an image-folder dataset needs a folder under the data folder")
    for name in ("image_size", "channels"):
        if getattr(cfg, name) is not None and not spec.user_folder:
            raise ConfigError(name, f"only an image folder is read at a chosen size and channels; {spec.label} "
                                    f"is {spec.channels}×{spec.size}×{spec.size}")
    if cfg.image_size is not None:  # a folder at its own size is checked when it is read (models.build)
        models.check_size(cfg.model, cfg.image_size, "image_size", "the size asked for")
    elif spec.size is not None:
        models.check_size(cfg.model, spec.size, "model", f"{spec.label}'s size")


def _folder_shape(name: str, value: Any) -> int | None:
    """An image folder's ``image_size`` or ``channels``: null (the folder's own) or an allowed whole number."""
    if value is None:
        return None
    lo, hi = data.folders.SIZE_RANGE
    allowed = "1 (grey) or 3 (colour)" if name == "channels" else f"a whole number from {lo} to {hi}"
    whole = isinstance(value, int) and not isinstance(value, bool)
    if not whole or not (value in (1, 3) if name == "channels" else lo <= value <= hi):
        raise ConfigError(name, f"expected {allowed}, or null for the folder's own; got {str(value)[:40]!r}")
    return value


def _check(name: str, value: Any, default: Any) -> Any:
    if name in ("image_size", "channels"):
        return _folder_shape(name, value)
    if name in _CHOICES:
        if not isinstance(value, str) or value not in _CHOICES[name]:
            raise ConfigError(name, f"expected one of {', '.join(_CHOICES[name])}, got {str(value)[:40]!r}")
        return value
    if name in _RANGES:
        if value is None and name in _WHOLE_OR_NONE:
            return None
        lo, hi = _RANGES[name]
        whole = name in _WHOLE_OR_NONE or (isinstance(default, int) and not isinstance(default, bool))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and float(value) != int(value)):
            raise ConfigError(name, f"expected a {'whole ' if whole else ''}number, got {str(value)[:40]!r}")
        if not math.isfinite(value) or not lo <= value <= hi:
            raise ConfigError(name, f"{value} is outside the allowed range [{lo:g}, {hi:g}]")
        return int(value) if whole else float(value)
    if name == "clip_norm":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1e6:
            raise ConfigError(name, f"expected a positive number or null, got {str(value)[:40]!r}")
        return float(value)
    if name == "net":
        if value is None:
            return None
        return spec_from_dict(value, "net").to_dict()
    if name == "pipeline":
        if value is None:
            return None
        try:
            return serialize.to_dict(serialize.from_dict(value))
        except ConfigError as e:
            raise ConfigError(f"pipeline.{e.path}" if e.path else "pipeline", e.message) from None
    if name in ("name", "group", "folder"):
        if value is not None and not isinstance(value, str):
            raise ConfigError(name, "expected text")
        return (value or "")[:200] if name != "folder" else value
    if not isinstance(value, bool):  # download and details, the flags
        raise ConfigError(name, "expected true or false")
    return value


def loads(text: str | bytes) -> RunConfig:
    return from_dict(serialize.parse_json(text))

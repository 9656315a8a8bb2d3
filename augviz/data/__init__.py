"""Datasets held whole in memory as uint8 tensors: the built-in shapes, MNIST, Fashion-MNIST, CIFAR-10, folders.

``load`` returns train, validation and test splits. The validation set is a seeded fraction of the training data
(the seed article's data split); the test set is the dataset's own (or, for a folder without one, a fixed 20 %).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from augviz.data import sources, synthetic
from augviz.errors import DataError

NAMES = ("synthetic", "mnist", "fashion_mnist", "cifar10", "folder")
LABELS = {"synthetic": "Built-in shapes (offline)", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST",
          "cifar10": "CIFAR-10", "folder": "Image folder"}
_REMOTES = {"mnist": sources.MNIST, "fashion_mnist": sources.FASHION_MNIST, "cifar10": sources.CIFAR10}
FASHION_CLASSES = ("T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")


def home() -> Path:
    """augviz's data directory: ``$AUGVIZ_HOME``, default ``./.augviz``."""
    return Path(os.environ.get("AUGVIZ_HOME", ".augviz")).resolve()


def data_root() -> Path:
    return home() / "data"


@dataclass
class Split:
    """Images (uint8 N×C×H×W) and their integer labels."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Dataset:
    name: str
    classes: tuple[str, ...]
    train: Split
    val: Split
    test: Split

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.train.x.shape[1:]
        return int(c), int(h), int(w)


def per_class(split: Split, k: int) -> torch.Tensor:
    """Up to ``k`` images of each class, class by class (uint8), for a dataset browser."""
    picks = [split.x[(split.y == c).nonzero().squeeze(1)[:k]] for c in split.y.unique(sorted=True).tolist()]
    return torch.cat(picks) if picks else split.x[:0]


def resolve_folder(path: str, root: Path | None = None) -> Path:
    """A user-given folder, which must lie inside the data root (no ``..`` or absolute escapes)."""
    root = (root or data_root()).resolve()
    target = (root / path).resolve()
    if target != root and root not in target.parents:
        raise DataError(f"{path!r} is outside the data folder {root}; put the images under it")
    if not target.is_dir():
        raise DataError(f"no folder {path!r} under the data folder {root}")
    return target


def _subset(x: torch.Tensor, y: torch.Tensor, count: int | None, g: torch.Generator) -> Split:
    if count is None or count >= len(y):
        return Split(x, y)
    idx = torch.randperm(len(y), generator=g)[:count]
    return Split(x[idx], y[idx])


def split_validation(train: Split, fraction: float, g: torch.Generator) -> tuple[Split, Split]:
    """A seeded ``fraction`` of ``train`` held out for validation (at least one image each side)."""
    n = len(train)
    n_val = min(max(1, round(n * fraction)), n - 1) if fraction > 0 else 0
    order = torch.randperm(n, generator=g)
    val_idx, train_idx = order[:n_val], order[n_val:]
    return Split(train.x[train_idx], train.y[train_idx]), Split(train.x[val_idx], train.y[val_idx])


def load(name: str, train_size: int | None = None, val_fraction: float = 0.1, seed: int = 0,
         folder: str | None = None, download: bool = False, root: Path | None = None,
         progress: sources.Progress | None = None) -> Dataset:
    """Load a dataset by name, take ``train_size`` training images (seeded), and split off validation."""
    root = root or data_root()
    g = torch.Generator().manual_seed(seed)
    if name == "synthetic":
        size = train_size or 5000
        x, y = synthetic.generate(size, seed)
        xt, yt = synthetic.generate(synthetic.TEST_SIZE, synthetic.TEST_SEED)
        classes: tuple[str, ...] = synthetic.CLASSES
    elif name in ("mnist", "fashion_mnist"):
        where = root / name
        if download:
            for remote in _REMOTES[name]:
                sources.download(remote, where, progress)
        x, y, xt, yt = sources.read_idx_dataset(where)
        classes = tuple(str(i) for i in range(10)) if name == "mnist" else FASHION_CLASSES
    elif name == "cifar10":
        where = root / "cifar10"
        archive = where / sources.CIFAR10[0].filename
        extracted = where / "cifar-10-batches-bin"
        if download:
            sources.download(sources.CIFAR10[0], where, progress)
        if not archive.exists() and not extracted.is_dir():
            raise DataError(f"CIFAR-10 is not in {where}: download it, or put {archive.name} there")
        x, y, xt, yt = sources.read_cifar(archive if archive.exists() else extracted)
        classes = sources.CIFAR_CLASSES
    elif name == "folder":
        if not folder:
            raise DataError("an image-folder dataset needs a folder under the data folder")
        x, y, xt, yt, class_list = sources.read_image_folder(resolve_folder(folder, root))
        classes = tuple(class_list)
        if xt is None or yt is None:  # no test split on disk: hold out a fixed 20 %
            order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
            cut = max(1, len(y) // 5)
            xt, yt, x, y = x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]
    else:
        raise DataError(f"unknown dataset {name!r} (known: {', '.join(NAMES)})")
    train, val = split_validation(_subset(x, y, train_size, g), val_fraction, g)
    return Dataset(name, classes, train, val, Split(xt, yt))

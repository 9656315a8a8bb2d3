"""Datasets held whole in memory as uint8 tensors: the built-in shapes, MNIST, Fashion-MNIST, CIFAR-10, folders.

``DATASETS`` is the one registry: each entry says everything about its dataset (label, classes, shape, the files
to download with their MD5, the reader), and the loader, the run configuration and the pages all read it, so
adding a dataset is one entry here. ``load`` returns train, validation and test splits. The validation set is a
seeded fraction of the training data (the seed article's data split); the test set is the dataset's own (or, for
a folder without one, a fixed 20 %).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from augviz.data import folders, sources, synthetic
from augviz.errors import DataError
from augviz.settings import home


@dataclass(frozen=True)
class Request:
    """What a reader is asked for: where its files are, and the user's choices that concern it."""

    where: Path  # the dataset's own folder under the data folder
    root: Path  # the data folder
    train_size: int | None
    seed: int
    folder: str | None = None
    image_size: int | None = None
    channels: int | None = None
    test: bool = True  # False: a reader that generates its test split (the built-in shapes) may skip it


@dataclass
class Raw:
    """A reader's result: training and test images (uint8 N×C×H×W) with labels; a folder also gives its classes
    and notes (the files it skipped); no test split means one is held out."""

    x: torch.Tensor
    y: torch.Tensor
    x_test: torch.Tensor | None
    y_test: torch.Tensor | None
    classes: tuple[str, ...] | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset, in one place."""

    label: str
    read: Callable[[Request], Raw]
    classes: tuple[str, ...] | None = None  # None: the source names them (an image folder's class folders)
    channels: int | None = None  # None: the source's own, or the run's choice (an image folder)
    size: int | None = None
    remotes: tuple[sources.Remote, ...] = ()  # files it can download, with their MD5
    train_sizes: tuple[int, int] | None = None  # a generated dataset: how many training images it can make
    user_folder: bool = False  # read from a folder the user names, at a size and channels the run may set


def _synthetic(req: Request) -> Raw:
    x, y = synthetic.generate(req.train_size or 5000, req.seed)
    xt, yt = synthetic.generate(synthetic.TEST_SIZE if req.test else 0, synthetic.TEST_SEED)
    return Raw(x, y, xt, yt)


def _idx(req: Request) -> Raw:
    return Raw(*sources.read_idx_dataset(req.where))


def _cifar(req: Request) -> Raw:
    archive = req.where / sources.CIFAR10[0].filename
    extracted = req.where / "cifar-10-batches-bin"
    if not archive.exists() and not extracted.is_dir():
        raise DataError(f"CIFAR-10 is not in {req.where}: download it, or put {archive.name} there")
    return Raw(*sources.read_cifar(archive if archive.exists() else extracted))


def _folder(req: Request) -> Raw:
    if not req.folder:
        raise DataError("an image-folder dataset needs a folder under the data folder")
    got = folders.read(folders.resolve(req.folder, req.root), req.root, req.folder, req.image_size, req.channels)
    notes = ()
    if got.skipped:
        names = ", ".join(name for name, _ in got.skipped[:3]) + (" …" if len(got.skipped) > 3 else "")
        notes = (f"skipped {len(got.skipped)} unreadable file{'s' * (len(got.skipped) > 1)}: {names}",)
    return Raw(got.x, got.y, got.x_test, got.y_test, got.classes, notes)


FASHION_CLASSES = ("T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")
DATASETS: dict[str, DatasetSpec] = {
    "synthetic": DatasetSpec("Built-in shapes (offline)", _synthetic, synthetic.CLASSES, 3, synthetic.SIZE,
                             train_sizes=(250, 20_000)),
    "mnist": DatasetSpec("MNIST", _idx, tuple(str(i) for i in range(10)), 1, 28, sources.MNIST),
    "fashion_mnist": DatasetSpec("Fashion-MNIST", _idx, FASHION_CLASSES, 1, 28, sources.FASHION_MNIST),
    "cifar10": DatasetSpec("CIFAR-10", _cifar, sources.CIFAR_CLASSES, 3, 32, sources.CIFAR10),
    "folder": DatasetSpec("Image folder", _folder, user_folder=True),
}
NAMES = tuple(DATASETS)  # views of the registry, for choosers
LABELS = {name: spec.label for name, spec in DATASETS.items()}


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
    notes: tuple[str, ...] = field(default=())  # what reading it skipped, for the run's note

    @property
    def note(self) -> str | None:
        return "; ".join(self.notes) or None

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.train.x.shape[1:]
        return int(c), int(h), int(w)


def per_class(split: Split, k: int) -> torch.Tensor:
    """Up to ``k`` images of each class, class by class (uint8), for a dataset browser."""
    picks = [split.x[(split.y == c).nonzero().squeeze(1)[:k]] for c in split.y.unique(sorted=True).tolist()]
    return torch.cat(picks) if picks else split.x[:0]


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
         progress: sources.Progress | None = None, image_size: int | None = None,
         channels: int | None = None, test: bool = True) -> Dataset:
    """Load a dataset by name, take ``train_size`` training images (seeded), and split off validation.
    ``image_size`` and ``channels`` apply to image folders (None: the folder's own). ``test=False`` is for a
    caller that only looks at the training images (a page's browser, the gradient lab's batch): the built-in
    shapes then leave their test split empty rather than draw 2,000 images; every split read from files is as
    always, and so is the training split."""
    spec = DATASETS.get(name)
    if spec is None:
        raise DataError(f"unknown dataset {str(name)[:40]!r} (known: {', '.join(DATASETS)})")
    root = root or data_root()
    where = root / name
    if download:
        for remote in spec.remotes:
            sources.download(remote, where, progress)
    raw = spec.read(Request(where, root, train_size, seed, folder, image_size, channels, test))
    x, y, xt, yt = raw.x, raw.y, raw.x_test, raw.y_test
    if xt is None or yt is None:  # no test split on disk: hold out a fixed 20 %
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
        cut = max(1, len(y) // 5)
        xt, yt, x, y = x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]
    g = torch.Generator().manual_seed(seed)
    train, val = split_validation(_subset(x, y, train_size, g), val_fraction, g)
    return Dataset(name, raw.classes or spec.classes or (), train, val, Split(xt, yt), raw.notes)

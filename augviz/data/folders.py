"""Image folders: ``<folder>/<class>/<images>`` (or ``train/`` and ``test/`` or ``val/`` beside each other).

The folder is untrusted input. Every level (the folder, each class folder, each file) is resolved and must lie
inside the data folder, so a link may point elsewhere inside it but never out. An unreadable file (damaged,
not an image, too large) is skipped and counted, not fatal, and so is anything that is not a regular file
(a named pipe, a folder named like a picture, a link to nothing): only regular files are read. Each class needs
``MIN_PER_CLASS`` images, so a run always has something to train and to test on.

Size and channels are the folder's own unless given: the most common picture size (longer side, capped at
``DEFAULT_SIZE_CAP``) and one channel when every picture is grey, else three.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from augviz.errors import DataError, ImageError
from augviz.images import EXTENSIONS, decode_file

MIN_PER_CLASS = 5
DEFAULT_SIZE_CAP = 64
SIZE_RANGE = (8, 256)


@dataclass
class FolderImages:
    """What was read: images (uint8 N×C×S×S), labels, the test split if the folder has one, and the skips."""

    x: torch.Tensor
    y: torch.Tensor
    x_test: torch.Tensor | None
    y_test: torch.Tensor | None
    classes: tuple[str, ...]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)


def inside(path: Path, root: Path, shown: str) -> Path:
    """``path`` resolved through every link; DataError unless it lies inside ``root`` (already resolved)."""
    try:
        target = path.resolve()
    except (OSError, RuntimeError) as e:  # a link loop
        raise DataError(f"{shown!r} cannot be resolved ({e}); remove the link") from None
    if target != root and root not in target.parents:
        link = f"a link to {target}, " if path.is_symlink() else ""
        raise DataError(f"{shown!r} is {link}outside the data folder {root}; put the images under it")
    if not target.exists():
        raise DataError(f"no {shown!r} under the data folder {root}")
    return target


def resolve(path: str, root: Path) -> Path:
    """A user-given folder under ``root`` (no ``..``, absolute paths or links that lead out)."""
    root = root.resolve()
    target = inside(root / path, root, path)
    if not target.is_dir():
        raise DataError(f"{path!r} under the data folder {root} is not a folder")
    return target


@dataclass
class _Read:
    pictures: list[Image.Image] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    sizes: Counter = field(default_factory=Counter)
    grey: bool = True


def _class_folders(folder: Path, root: Path, shown: str) -> list[str]:
    return sorted(d.name for d in folder.iterdir()  # a link to nothing is no class
                  if not d.name.startswith(".") and d.exists() and inside(d, root, f"{shown}/{d.name}").is_dir())


def _read_classes(folder: Path, root: Path, shown: str, classes: tuple[str, ...], out: _Read,
                  skipped: list[tuple[str, str]], side: int) -> Counter:
    """Decode every picture of each class into ``out``, shrunk to at most ``side`` pixels (so that a folder of
    photos never sits in memory whole); returns the count per class."""
    counts: Counter = Counter()
    for k, cls in enumerate(classes):
        where = folder / cls
        if not where.exists():  # no such class in this split, or a link to nothing
            continue
        target = inside(where, root, f"{shown}/{cls}")
        for f in sorted(target.iterdir()):
            if f.suffix.lower().lstrip(".") not in EXTENSIONS or f.name.startswith("."):
                continue
            name = f"{shown}/{cls}/{f.name}"
            if f.is_symlink() and not f.exists():  # nothing to read, so nothing to refuse either
                skipped.append((name, f"is a link to nothing (its target {Path(os.readlink(f)).name} is missing)"))
                continue
            inside(f, root, name)
            try:
                im = decode_file(f)
            except ImageError as e:
                skipped.append((name, str(e).removeprefix(f.name).strip(" .")))
                continue
            out.sizes[max(im.size)] += 1
            im.thumbnail((side, side), Image.Resampling.BILINEAR)
            if out.grey:
                arr = np.asarray(im)
                out.grey = bool((arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all())
            out.pictures.append(im)
            out.labels.append(k)
            counts[k] += 1
    return counts


def _check_counts(counts: Counter, classes: tuple[str, ...], shown: str, least: int) -> None:
    short = [(cls, counts[k]) for k, cls in enumerate(classes) if counts[k] < least]
    if short:
        listed = ", ".join(f"{cls!r} has {n}" for cls, n in short[:5]) + (" …" if len(short) > 5 else "")
        raise DataError(f"{shown}: too few readable images ({listed}); each class needs at least {least}")


def _tensor(pictures: list[Image.Image], size: int, channels: int) -> torch.Tensor:
    mode = "L" if channels == 1 else "RGB"
    arrays = [np.asarray(im.convert(mode).resize((size, size), Image.Resampling.BILINEAR)) for im in pictures]
    x = torch.from_numpy(np.stack(arrays))
    return x.unsqueeze(1) if channels == 1 else x.permute(0, 3, 1, 2).contiguous()


def default_size(sizes: Counter) -> int:
    """The folder's most common picture size (longer side; ties go to the smaller), kept within the cap."""
    common = max(sizes.items(), key=lambda kv: (kv[1], -kv[0]))[0]
    return max(SIZE_RANGE[0], min(DEFAULT_SIZE_CAP, common))


def read(folder: Path, root: Path, shown: str, size: int | None = None, channels: int | None = None
         ) -> FolderImages:
    """Read an image folder (already resolved by ``resolve``) at ``size``×``size`` with ``channels`` channels
    (each None: the folder's own)."""
    root = root.resolve()
    train_dir, test_dir = folder, None
    if (folder / "train").is_dir():
        train_dir = inside(folder / "train", root, f"{shown}/train")
        for held_out in ("test", "val"):
            if (folder / held_out).is_dir():
                test_dir = inside(folder / held_out, root, f"{shown}/{held_out}")
                break
    train_shown = f"{shown}/train" if train_dir != folder else shown
    classes = tuple(_class_folders(train_dir, root, train_shown))
    if not classes:
        raise DataError(f"{train_shown} has no class folders (expected {train_shown}/<class>/<image files>)")
    skipped: list[tuple[str, str]] = []
    train, test = _Read(), _Read()
    side = size or DEFAULT_SIZE_CAP  # the default size is never above the cap
    counts = _read_classes(train_dir, root, train_shown, classes, train, skipped, side)
    # Without a test folder a fifth is held out for testing, and a tenth of the rest may go to validation.
    _check_counts(counts, classes, train_shown, MIN_PER_CLASS)
    if test_dir is not None:
        test_shown = f"{shown}/{test_dir.name}"
        _check_counts(_read_classes(test_dir, root, test_shown, classes, test, skipped, side), classes,
                      test_shown, 1)
    size = size or default_size(train.sizes + test.sizes)
    channels = channels or (1 if train.grey and test.grey else 3)
    x = _tensor(train.pictures, size, channels)
    y = torch.tensor(train.labels, dtype=torch.int64)
    if test_dir is None:
        return FolderImages(x, y, None, None, classes, skipped)
    return FolderImages(x, y, _tensor(test.pictures, size, channels), torch.tensor(test.labels, dtype=torch.int64),
                        classes, skipped)

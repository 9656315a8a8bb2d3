"""Reading the standard formats and downloading them: IDX (MNIST, Fashion-MNIST), CIFAR-10 binary.

Nothing here unpickles: CIFAR-10 is read from its binary release. A download streams to a temporary file beside
its target, is checked against its MD5, and only then renamed into place, so a failed or corrupt download leaves
no half-written file behind.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from augviz.errors import DataError

Progress = Callable[[str, int, int | None], None]  # file, bytes so far, total (None: the server did not say)


@dataclass(frozen=True)
class Remote:
    """A file of a public dataset: where it is and the MD5 it must have."""

    filename: str
    url: str
    md5: str


def _idx_files(base: str, md5s: tuple[str, str, str, str]) -> tuple[Remote, ...]:
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz")
    return tuple(Remote(n, base + n, m) for n, m in zip(names, md5s, strict=True))


MNIST = _idx_files("https://ossci-datasets.s3.amazonaws.com/mnist/", (
    "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
    "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))
FASHION_MNIST = _idx_files("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", (
    "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
    "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))
CIFAR10 = (Remote("cifar-10-binary.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                  "c32a1d4ab5d03f1284b67883e8d87530"),)


def md5_of(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(remote: Remote, folder: Path, progress: Progress | None = None, timeout: float = 60) -> Path:
    """Fetch ``remote`` into ``folder`` unless a file with the right MD5 is already there; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / remote.filename
    if target.exists() and md5_of(target) == remote.md5:
        return target
    fd, tmp_name = tempfile.mkstemp(prefix=f".{remote.filename}.", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    try:
        h = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(remote.url, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            done = 0
            while chunk := response.read(1 << 16):
                out.write(chunk)
                h.update(chunk)
                done += len(chunk)
                if progress:
                    progress(remote.filename, done, total)
        if total is not None and done != total:
            raise DataError(f"{remote.filename}: the download stopped after {done} of {total} bytes")
        if h.hexdigest() != remote.md5:
            raise DataError(f"{remote.filename}: checksum mismatch (got MD5 {h.hexdigest()}, expected {remote.md5});"
                            " the file was not kept")
        os.replace(tmp, target)
        return target
    except OSError as e:
        raise DataError(f"{remote.filename}: download from {remote.url} failed ({e})") from None
    finally:
        tmp.unlink(missing_ok=True)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not) as a uint8 array; DataError when it is not one or is cut short."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path.name} cannot be read: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path.name} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path.name} is truncated (header)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    count = int(np.prod(dims))
    if len(raw) - header != count:
        raise DataError(f"{path.name} holds {len(raw) - header} bytes of data; its header promises {count}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def read_idx_dataset(folder: Path) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The four standard IDX files in ``folder``: train and test images (N×1×28×28 uint8) and labels."""
    names = [r.filename for r in MNIST]
    missing = [n for n in names if not (folder / n).exists()]
    if missing:
        raise DataError(f"{folder} lacks {', '.join(missing)}")
    xs, ys, xt, yt = (read_idx(folder / n) for n in names)
    if len(xs) != len(ys) or len(xt) != len(yt):
        raise DataError(f"{folder}: image and label counts differ")
    return (torch.from_numpy(xs.copy()).unsqueeze(1), torch.from_numpy(ys.astype(np.int64)),
            torch.from_numpy(xt.copy()).unsqueeze(1), torch.from_numpy(yt.astype(np.int64)))


CIFAR_RECORD = 1 + 3 * 32 * 32
CIFAR_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR_TEST = "test_batch.bin"
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def parse_cifar(name: str, raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 binary batch: records of a label byte and 3072 pixel bytes (R, G, B planes)."""
    if len(raw) == 0 or len(raw) % CIFAR_RECORD:
        raise DataError(f"{name} is {len(raw)} bytes, not a whole number of {CIFAR_RECORD}-byte records")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise DataError(f"{name} has a label above 9: not CIFAR-10")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def read_cifar(source: Path) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """CIFAR-10 from its binary tar.gz (members read in memory, nothing extracted) or an extracted folder."""
    wanted = (*CIFAR_TRAIN, CIFAR_TEST)
    blobs: dict[str, bytes] = {}
    if source.is_dir():
        for name in wanted:
            if (source / name).exists():
                blobs[name] = (source / name).read_bytes()
    else:
        try:
            with tarfile.open(source, "r:gz") as tar:
                for member in tar.getmembers():
                    base = member.name.rsplit("/", 1)[-1]
                    if member.isfile() and base in wanted:
                        f = tar.extractfile(member)
                        blobs[base] = f.read() if f else b""
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DataError(f"{source.name} is not a readable tar.gz archive ({e})") from None
    missing = [n for n in wanted if n not in blobs]
    if missing:
        raise DataError(f"{source.name} lacks {', '.join(missing)}")
    train = [parse_cifar(n, blobs[n]) for n in CIFAR_TRAIN]
    test = parse_cifar(CIFAR_TEST, blobs[CIFAR_TEST])
    x = torch.from_numpy(np.concatenate([t[0] for t in train]))
    y = torch.from_numpy(np.concatenate([t[1] for t in train]))
    return x, y, torch.from_numpy(test[0].copy()), torch.from_numpy(test[1])

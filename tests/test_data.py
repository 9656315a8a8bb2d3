"""Datasets: the built-in generator, each real file format on small files made here, checked downloads from a
loopback HTTP server, and the folder guard."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import tarfile
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from augviz import data, runconfig
from augviz.data import sources, synthetic
from augviz.errors import ConfigError, DataError
from augviz.runconfig import RunConfig
from augviz.train import train

# ---- the built-in dataset ----------------------------------------------------------------------------------


def test_synthetic_is_deterministic_balanced_and_shaped():
    x1, y1 = synthetic.generate(300, seed=4)
    x2, y2 = synthetic.generate(300, seed=4)
    x3, _ = synthetic.generate(300, seed=5)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)
    assert x1.shape == (300, 3, 32, 32) and x1.dtype == torch.uint8
    assert torch.bincount(y1, minlength=10).tolist() == [30] * 10


def test_synthetic_images_vary_within_a_class():
    x, y = synthetic.generate(200, seed=0)
    circles = x[y == 0].float()
    assert circles.std(0).mean() > 30  # pose, colour, background differ from image to image


def test_the_test_set_is_fixed_whatever_the_training_seed():
    a = data.load("synthetic", 250, 0.1, seed=1)
    b = data.load("synthetic", 250, 0.1, seed=2)
    assert torch.equal(a.test.x, b.test.x) and len(a.test) == synthetic.TEST_SIZE
    assert not torch.equal(a.train.x, b.train.x)


def test_a_load_without_the_test_split_draws_the_same_training_images_and_no_test_images():
    whole = data.load("synthetic", 500, 0.1, seed=2)
    train_only = data.load("synthetic", 500, 0.1, seed=2, test=False)
    assert torch.equal(train_only.train.x, whole.train.x) and torch.equal(train_only.val.y, whole.val.y)
    assert len(train_only.test) == 0


def test_validation_is_a_seeded_disjoint_fraction():
    ds = data.load("synthetic", 1000, 0.2, seed=3)
    assert len(ds.val) == 200 and len(ds.train) == 800
    again = data.load("synthetic", 1000, 0.2, seed=3)
    assert torch.equal(ds.val.x, again.val.x)
    train_rows = {bytes(r) for r in ds.train.x.reshape(800, -1).numpy()}
    assert not any(bytes(r) in train_rows for r in ds.val.x.reshape(200, -1).numpy())


# ---- IDX (MNIST, Fashion-MNIST) ----------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_dataset(folder: Path, n_train: int = 12, n_test: int = 5) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte.gz": gzip.compress(idx_bytes(rng.integers(0, 255, (n_train, 28, 28)))),
        "train-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(np.arange(n_train) % 10)),
        "t10k-images-idx3-ubyte.gz": gzip.compress(idx_bytes(rng.integers(0, 255, (n_test, 28, 28)))),
        "t10k-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(np.arange(n_test) % 10)),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():
        (folder / name).write_bytes(blob)
    return files


def test_idx_files_are_read(tmp_path):
    write_idx_dataset(tmp_path / "mnist")
    ds = data.load("mnist", val_fraction=0.25, root=tmp_path)
    assert ds.train.x.shape[1:] == (1, 28, 28) and len(ds.train) + len(ds.val) == 12 and len(ds.test) == 5
    assert ds.classes[3] == "3"


@pytest.mark.parametrize(("blob", "words"), [
    (gzip.compress(idx_bytes(np.zeros((4, 28, 28))))[:30], "cannot be read"),
    (gzip.compress(b"\x00\x00\x0d\x03" + bytes(12)), "not an IDX file"),
    (gzip.compress(idx_bytes(np.zeros((4, 28, 28)))[:-5]), "header promises"),
], ids=["cut-gzip-stream", "wrong-magic", "short-payload"])  # not the blobs: gzip stamps the time into them
def test_damaged_idx_files_are_refused(tmp_path, blob, words):
    write_idx_dataset(tmp_path / "mnist")
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(blob)
    with pytest.raises(DataError, match=words):
        data.load("mnist", root=tmp_path)


def test_a_missing_dataset_says_what_is_missing(tmp_path):
    with pytest.raises(DataError, match="lacks train-images"):
        data.load("fashion_mnist", root=tmp_path)


# ---- CIFAR-10 binary ---------------------------------------------------------------------------------------


def cifar_batch(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    records = np.concatenate([np.arange(n)[:, None] % 10, rng.integers(0, 255, (n, 3072))], axis=1)
    return records.astype(np.uint8).tobytes()


def write_cifar_archive(path: Path, per_batch: int = 4) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, seed in [*((f"data_batch_{i}.bin", i) for i in range(1, 6)), ("test_batch.bin", 9)]:
            blob = cifar_batch(per_batch, seed)
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def test_cifar_binary_archive_is_read_without_extracting(tmp_path):
    write_cifar_archive(tmp_path / "cifar10" / "cifar-10-binary.tar.gz")
    ds = data.load("cifar10", val_fraction=0.1, root=tmp_path)
    assert len(ds.train) + len(ds.val) == 20 and len(ds.test) == 4
    assert ds.train.x.shape[1:] == (3, 32, 32) and ds.classes[0] == "airplane"
    assert not (tmp_path / "cifar10" / "cifar-10-batches-bin").exists()
    raw = cifar_batch(4, 1)
    first = np.frombuffer(raw, np.uint8)[1:3073].reshape(3, 32, 32)
    assert any(np.array_equal(first, img) for img in np.concatenate([ds.train.x.numpy(), ds.val.x.numpy()]))


def test_a_truncated_cifar_batch_is_refused(tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for i in range(1, 6):
        (folder / f"data_batch_{i}.bin").write_bytes(cifar_batch(3, i))
    (folder / "test_batch.bin").write_bytes(cifar_batch(3, 9)[:-100])
    with pytest.raises(DataError, match="not a whole number of 3073-byte records"):
        data.load("cifar10", root=tmp_path)


# ---- image folders -----------------------------------------------------------------------------------------


def save(path: Path, im: Image.Image, fmt: str = "PNG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, format=fmt)


@pytest.mark.parametrize("layout", ["flat", "split"])
def test_image_folders_in_every_mode(tmp_path, layout):
    base = Image.new("RGB", (40, 30), (200, 30, 30))
    modes = {"L": "png", "LA": "png", "P": "png", "RGBA": "png", "CMYK": "jpg", "RGB": "bmp"}
    root = tmp_path / "pics"
    for split in (["train", "test"] if layout == "split" else [""]):
        for cls in ("cats", "dogs"):
            for mode, ext in modes.items():
                save(root / split / cls / f"{mode}.{ext}", base.convert(mode), "JPEG" if ext == "jpg" else None)
            arr16 = (np.asarray(base.convert("L"), dtype=np.uint16) * 257)
            save(root / split / cls / "deep.tif", Image.fromarray(arr16), "TIFF")
            (root / split / cls / "notes.txt").write_text("not an image")
    ds = data.load("folder", folder="pics", val_fraction=0.0, root=tmp_path)
    assert ds.classes == ("cats", "dogs")
    assert ds.train.x.shape[1:] == (3, 40, 40)  # the folder's own size (the longer side) and colour
    total = len(ds.train) + len(ds.val) + len(ds.test)
    assert total == (2 if layout == "split" else 1) * 2 * (len(modes) + 1)


@pytest.mark.parametrize("path", ["../outside", "/etc", "pics/../../x"])
def test_a_folder_outside_the_data_root_is_refused(tmp_path, path):
    (tmp_path / "root").mkdir()
    with pytest.raises(DataError, match="outside the data folder"):
        data.load("folder", folder=path, root=tmp_path / "root")


def exif_broken_png(path: Path, colour=(30, 30, 200)) -> None:
    """A PNG whose EXIF chunk starts ``XM``, not a TIFF header: PIL's EXIF reader raises SyntaxError on it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 12), colour).save(path, format="PNG", exif=b"XM" + bytes(20))


def class_folder(root: Path, cls: str, n: int, size=(12, 12), mode: str = "RGB", colour=(200, 30, 30)) -> None:
    for i in range(n):
        save(root / cls / f"{i}.png", Image.new("RGB", size, colour).convert(mode))


def test_a_picture_with_broken_exif_is_trained_on_as_stored(tmp_path):
    for cls in ("a", "b"):
        class_folder(tmp_path / "pics", cls, 5)
        exif_broken_png(tmp_path / "pics" / cls / "xm.png")
    ds = data.load("folder", folder="pics", val_fraction=0.0, root=tmp_path)
    assert len(ds.train) + len(ds.test) == 12 and ds.note is None
    assert int((ds.train.x[:, 2] == 200).sum()) > 0  # the blue pictures are in


def test_unreadable_files_are_skipped_and_counted_in_the_note(tmp_path):
    for cls in ("a", "b"):
        class_folder(tmp_path / "pics", cls, 5)
    (tmp_path / "pics" / "a" / "cut.png").write_bytes(encode_png((12, 12))[:40])
    (tmp_path / "pics" / "b" / "text.jpg").write_text("not a picture")
    ds = data.load("folder", folder="pics", val_fraction=0.0, root=tmp_path)
    assert len(ds.train) + len(ds.test) == 10
    assert ds.note is not None and ds.note.startswith("skipped 2 unreadable files")
    assert "pics/a/cut.png" in ds.note and "pics/b/text.jpg" in ds.note


def encode_png(size) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (*size, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_a_class_with_too_few_images_is_refused_with_its_count(tmp_path):
    class_folder(tmp_path / "pics", "a", 5)
    class_folder(tmp_path / "pics", "b", 1)
    with pytest.raises(DataError, match=r"too few readable images \('b' has 1\); each class needs at least 5"):
        data.load("folder", folder="pics", root=tmp_path)


def test_a_one_image_folder_never_finishes_with_a_test_score(tmp_path):
    class_folder(tmp_path / "root" / "one", "a", 1)
    cfg = RunConfig(dataset="folder", folder="one", epochs=1)
    with pytest.raises(DataError, match="too few readable images"):
        train(cfg, sink=None, dataset=data.load("folder", folder="one", root=tmp_path / "root"))


def test_a_test_folder_needs_every_class(tmp_path):
    for cls in ("a", "b"):
        class_folder(tmp_path / "pics" / "train", cls, 5)
    class_folder(tmp_path / "pics" / "test", "a", 2)
    with pytest.raises(DataError, match=r"pics/test: too few readable images \('b' has 0"):
        data.load("folder", folder="pics", root=tmp_path)


@pytest.mark.parametrize("level", ["class", "file", "split"])
def test_links_out_of_the_data_folder_are_refused_at_every_level(tmp_path, level):
    root, outside = tmp_path / "root", tmp_path / "outside"
    for cls in ("a", "b"):
        class_folder(root / "pics" / "train", cls, 5)
    class_folder(outside, "c", 5)
    class_folder(outside / "test", "a", 5)
    class_folder(outside / "test", "b", 5)
    if level == "class":
        (root / "pics" / "train" / "c").symlink_to(outside / "c")
    elif level == "file":
        (root / "pics" / "train" / "a" / "9.png").symlink_to(outside / "c" / "0.png")
    else:
        (root / "pics" / "test").symlink_to(outside / "test")
    with pytest.raises(DataError, match=r"is a link to .*outside the data folder"):
        data.load("folder", folder="pics", root=root)


def test_links_that_stay_inside_the_data_folder_are_followed(tmp_path):
    root = tmp_path / "root"
    class_folder(root / "store", "a", 5)
    class_folder(root / "store", "b", 5, colour=(0, 0, 255))
    (root / "pics").mkdir()
    (root / "pics" / "a").symlink_to(root / "store" / "a")
    (root / "pics" / "b").symlink_to(Path("..") / "store" / "b")  # relative links too
    (root / "linked").symlink_to(root / "pics")
    ds = data.load("folder", folder="linked", val_fraction=0.0, root=root)
    assert ds.classes == ("a", "b") and len(ds.train) + len(ds.test) == 10


def test_a_folder_is_read_at_its_own_size_and_channels_by_default(tmp_path):
    for cls in ("0", "1"):
        class_folder(tmp_path / "digits", cls, 4, size=(20, 20), mode="L", colour=(90, 90, 90))
        class_folder(tmp_path / "digits", cls + "x", 0)
        save(tmp_path / "digits" / cls / "odd.png", Image.new("L", (30, 10), 90))  # one odd size
    ds = data.load("folder", folder="digits", val_fraction=0.0, root=tmp_path)
    assert ds.shape == (1, 20, 20)  # grey digits stay grey, at their most common size
    big = tmp_path / "photos"
    for cls in ("a", "b"):
        class_folder(big, cls, 5, size=(600, 400))
    assert data.load("folder", folder="photos", root=tmp_path).shape == (3, 64, 64)  # the default is capped


def test_size_and_channels_are_the_runs_choice(tmp_path):
    for cls in ("0", "1"):
        class_folder(tmp_path / "digits", cls, 5, size=(20, 20), mode="L", colour=(90, 90, 90))
    ds = data.load("folder", folder="digits", root=tmp_path, image_size=28, channels=3)
    assert ds.shape == (3, 28, 28)
    assert torch.equal(ds.train.x[:, 0], ds.train.x[:, 2])  # grey copied to every channel


# ---- the registry ------------------------------------------------------------------------------------------


def test_a_dataset_added_to_the_registry_is_loadable_and_configurable(tmp_path, monkeypatch):
    def read(req: data.Request) -> data.Raw:
        x = torch.full((20, 1, 8, 8), 7, dtype=torch.uint8)
        return data.Raw(x, torch.arange(20) % 2, x[:4], torch.arange(4) % 2)

    monkeypatch.setitem(data.DATASETS, "tiny", data.DatasetSpec("Tiny", read, ("even", "odd"), 1, 8))
    ds = data.load("tiny", val_fraction=0.0, root=tmp_path)
    assert ds.classes == ("even", "odd") and ds.shape == (1, 8, 8) and len(ds.test) == 4
    assert runconfig.from_dict({"dataset": "tiny", "model": "mlp"}).dataset == "tiny"
    with pytest.raises(ConfigError, match="needs images of at least 22×22 pixels, got 8×8 \\(Tiny's size\\)"):
        runconfig.from_dict({"dataset": "tiny"})  # the seed CNN, refused before a run could fail on it
    with pytest.raises(ConfigError, match="Tiny is 1×8×8") as e:
        runconfig.from_dict({"dataset": "tiny", "model": "mlp", "image_size": 16})
    assert e.value.path == "image_size"


@pytest.mark.parametrize(("doc", "path"), [
    ({"dataset": "folder", "folder": "x", "image_size": 4}, "image_size"),
    ({"dataset": "folder", "folder": "x", "image_size": 32.5}, "image_size"),
    ({"dataset": "folder", "folder": "x", "channels": 2}, "channels"),
    ({"dataset": "folder", "folder": "x", "channels": True}, "channels"),
    ({"dataset": "mnist", "channels": 3}, "channels"),
])
def test_size_and_channels_are_checked(doc, path):
    with pytest.raises(ConfigError) as e:
        runconfig.from_dict(doc)
    assert e.value.path == path


# ---- downloads ---------------------------------------------------------------------------------------------


def md5(blob: bytes) -> str:
    return hashlib.md5(blob, usedforsecurity=False).hexdigest()


def test_mnist_downloads_from_its_addresses_with_checksums_and_progress(tmp_path, server, monkeypatch):
    served, base, _ = server
    files = write_idx_dataset(served)
    remotes = tuple(sources.Remote(n, base + n, md5(b)) for n, b in files.items())
    monkeypatch.setitem(data.DATASETS, "mnist", replace(data.DATASETS["mnist"], remotes=remotes))
    seen: list[tuple[str, int, int | None]] = []
    ds = data.load("mnist", download=True, root=tmp_path / "root", progress=lambda *a: seen.append(a))
    assert len(ds.test) == 5
    assert seen[-1][0] == "t10k-labels-idx1-ubyte.gz" and seen[-1][1] == seen[-1][2]  # the bar reaches the end
    assert sorted(p.name for p in (tmp_path / "root" / "mnist").iterdir()) == sorted(files)


def test_a_checksum_mismatch_keeps_no_file(tmp_path, server):
    served, base, _ = server
    (served / "f.gz").write_bytes(b"payload")
    with pytest.raises(DataError, match="checksum mismatch"):
        sources.download(sources.Remote("f.gz", base + "f.gz", "0" * 32), tmp_path / "dl")
    assert list((tmp_path / "dl").iterdir()) == []


def test_a_truncated_download_keeps_no_file(tmp_path, server):
    served, base, handler = server
    blob = bytes(range(256)) * 400
    (served / "big.gz").write_bytes(blob)
    handler.cut.add("big.gz")
    with pytest.raises(DataError):
        sources.download(sources.Remote("big.gz", base + "big.gz", md5(blob)), tmp_path / "dl")
    assert list((tmp_path / "dl").iterdir()) == []


def test_an_unreachable_address_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="download from"):
        sources.download(sources.Remote("x", "http://127.0.0.1:9/x", "0" * 32), tmp_path, timeout=2)


# ---- the Train page's dataset browser ----------------------------------------------------------------------


def test_the_dataset_browser_shows_a_folder_with_a_broken_file_and_says_what_it_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    pics = tmp_path / "data" / "pics"
    for cls in ("a", "b"):
        class_folder(pics, cls, 5, mode="L", colour=(90, 90, 90))
        exif_broken_png(pics / cls / "xm.png", colour=(90, 90, 90))  # damaged metadata: used as stored
    (pics / "a" / "cut.png").write_bytes(encode_png((12, 12))[:40])  # damaged pixels: skipped
    at = AppTest.from_file(str(Path(__file__).parents[1] / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/train.py").run()
    at.sidebar.selectbox(key="t_dataset").set_value("folder").run()
    at.sidebar.text_input(key="t_folder").input("pics").run()
    assert not at.exception
    caption = next(c.value for c in at.caption if "classes, one row each" in c.value)
    assert "2 classes" in caption and "skipped 1 unreadable file: pics/a/cut.png" in caption.replace("\\", "")


def load_within(seconds: float, fifos: list[Path], **kwargs) -> data.Dataset:
    """``data.load(**kwargs)``, failing (not hanging) if it is still blocked after ``seconds``: a reader stuck on
    a named pipe is then released by opening and closing the pipe's other end."""
    got: dict = {}

    def load() -> None:
        try:
            got["dataset"] = data.load(**kwargs)
        except Exception as e:  # handed to the test thread
            got["error"] = e

    worker = threading.Thread(target=load)
    worker.start()
    worker.join(seconds)
    hung = worker.is_alive()
    for fifo in fifos if hung else ():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    worker.join()
    assert not hung, "reading the folder blocked on a named pipe"
    if "error" in got:
        raise got["error"]
    return got["dataset"]


def test_a_named_pipe_among_the_images_is_skipped_and_counted_not_waited_on(tmp_path):
    for cls in ("a", "b"):
        class_folder(tmp_path / "pics", cls, 5)
    fifo = tmp_path / "pics" / "a" / "pipe.png"
    os.mkfifo(fifo)
    ds = load_within(60, [fifo], name="folder", folder="pics", val_fraction=0.0, root=tmp_path)
    assert len(ds.train) + len(ds.test) == 10
    assert ds.note == "skipped 1 unreadable file: pics/a/pipe.png"
    assert data.folders.read(tmp_path / "pics", tmp_path, "pics").skipped == [
        ("pics/a/pipe.png", "is a named pipe, not a file")]


def test_a_dangling_link_among_the_images_is_skipped_and_counted(tmp_path):
    for cls in ("a", "b"):
        class_folder(tmp_path / "pics", cls, 5)
    (tmp_path / "pics" / "a" / "zz.png").symlink_to(tmp_path / "pics" / "a" / "gone.png")
    ds = data.load("folder", folder="pics", val_fraction=0.0, root=tmp_path)
    assert len(ds.train) + len(ds.test) == 10
    assert ds.note == "skipped 1 unreadable file: pics/a/zz.png"
    assert data.folders.read(tmp_path / "pics", tmp_path, "pics").skipped == [
        ("pics/a/zz.png", "is a link to nothing (its target gone.png is missing)")]


def test_a_folder_named_like_a_picture_is_skipped_and_counted(tmp_path):
    for cls in ("a", "b"):
        class_folder(tmp_path / "pics", cls, 5)
    (tmp_path / "pics" / "b" / "album.jpg").mkdir()
    got = data.folders.read(tmp_path / "pics", tmp_path, "pics")
    assert len(got.x) == 10 and got.skipped == [("pics/b/album.jpg", "is a folder, not a file")]


def test_a_dangling_link_beside_the_class_folders_is_not_a_class_and_stops_nothing(tmp_path):
    for cls in ("a", "b"):
        class_folder(tmp_path / "pics", cls, 5)
    (tmp_path / "pics" / "c").symlink_to(tmp_path / "pics" / "removed")
    ds = data.load("folder", folder="pics", val_fraction=0.0, root=tmp_path)
    assert ds.classes == ("a", "b")

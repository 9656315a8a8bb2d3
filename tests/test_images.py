"""Uploads: every format and mode decodes to the right RGB picture; anything else is refused with a message."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from augviz import images
from augviz.errors import ImageError

RED = (200, 30, 30)


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def base(size=(40, 30)) -> Image.Image:
    im = Image.new("RGB", size, RED)
    im.paste((20, 200, 40), (0, 0, size[0] // 2, size[1]))  # left half green: orientation shows
    return im


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"])
def test_each_format_decodes_to_rgb(fmt):
    out = images.decode_upload(encode(base(), fmt), f"x.{fmt.lower()}")
    assert out.mode == "RGB" and out.size == (40, 30)
    left, right = np.asarray(out)[15, 5].astype(int), np.asarray(out)[15, 35].astype(int)
    assert left[1] > 150 and right[0] > 150  # green on the left, red on the right


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "I", "F", "1"])
def test_each_mode_is_converted(mode):
    src = base()
    if mode == "I;16":
        arr = (np.asarray(src.convert("L"), dtype=np.uint16) * 257)
        im = Image.fromarray(arr)
    else:
        im = src.convert(mode)
    fmt = "TIFF" if mode in ("CMYK", "I;16", "I", "F") else "PNG"
    out = images.decode_upload(encode(im, fmt), "m")
    assert out.mode == "RGB" and out.size == src.size
    expected = np.asarray(src.convert("L" if mode in ("L", "LA", "I;16", "I", "F", "1") else "RGB"), dtype=float)
    got = np.asarray(out.convert("L" if expected.ndim == 2 else "RGB"), dtype=float)
    tolerance = 130 if mode == "1" else (40 if mode == "P" else 3)
    assert np.abs(got - expected).mean() < tolerance


def test_transparency_is_composited_on_grey():
    im = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    out = images.decode_upload(encode(im, "PNG"))
    assert np.asarray(out)[0, 0].tolist() == [128, 128, 128]


def test_exif_orientation_is_honoured():
    im = base((40, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = images.decode_upload(encode(im, "JPEG", exif=exif.tobytes()), "photo.jpg")
    assert out.size == (30, 40)
    assert np.asarray(out)[5, 15][1] > 150  # the green left half is now on top


def test_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    out = images.decode_upload(buf.getvalue(), "anim.gif")
    assert np.asarray(out)[0, 0][0] > 200


@pytest.mark.parametrize(("data", "words"), [
    (b"", "is empty"),
    (b"hello, I am text", "not an image augviz can read"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not an image augviz can read"),
    (b"MZ\x90\x00" + bytes(200), "not an image augviz can read"),
    (b"\x00" * (images.MAX_UPLOAD_BYTES + 1), "the limit is"),
])
def test_non_images_are_refused_with_a_message(data, words):
    with pytest.raises(ImageError, match=words):
        images.decode_upload(data, "f.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_files_are_refused(fmt):
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    data = encode(noisy, fmt)
    with pytest.raises(ImageError, match=r"damaged or truncated|not an image"):
        images.decode_upload(data[: len(data) // 2], f"cut.{fmt.lower()}")


def test_an_oversized_image_is_refused_before_decoding():
    # A 20,000 × 20,000 PNG header over a tiny body: refused from its header, never decoded.
    big = Image.new("L", (20000, 20000))
    data = encode(big, "PNG")
    with pytest.raises(ImageError, match=r"decompression bomb|megapixels"):
        images.decode_upload(data, "huge.png")


def test_a_moderately_large_image_beyond_the_pixel_limit_is_refused():
    data = encode(Image.new("L", (8000, 6000)), "PNG")
    with pytest.raises(ImageError, match="megapixels"):
        images.decode_upload(data, "big.png")


def test_fit_shrinks_to_the_preview_side_and_never_enlarges():
    assert images.fit(Image.new("RGB", (1000, 500))).size == (256, 128)
    assert images.fit(Image.new("RGB", (20, 10))).size == (20, 10)


@pytest.mark.parametrize("name", sorted(images.BUILTIN))
def test_builtin_samples_are_rgb_and_detailed(name):
    im = images.builtin(name)
    assert im.mode == "RGB" and im.size == (images.SAMPLE_SIZE, images.SAMPLE_SIZE)
    assert np.asarray(im).std() > 30


def test_grid_tiles_images_in_rows():
    import torch

    tiles = torch.rand(5, 3, 10, 12)
    g = images.grid(tiles, columns=3, pad=2)
    assert g.size == (3 * 12 + 2 * 2, 2 * 10 + 2)


def test_thumbnails_shrink_a_batch_as_pil_does_and_never_enlarge():
    batch = torch.stack([images.to_tensor(images.builtin(n)) for n in ("test_card", "scene")])  # 256×256
    small = images.thumbnails(batch, 128)
    assert [im.size for im in small] == [(128, 128), (128, 128)]
    for im, x in zip(small, batch, strict=True):
        ref = images.to_pil(x).resize((128, 128), Image.Resampling.BILINEAR)
        diff = np.abs(np.asarray(im, dtype=np.int16) - np.asarray(ref, dtype=np.int16))
        assert diff.max() <= 1  # antialiased bilinear is what PIL does when it reduces
    assert images.thumbnails(batch, 512)[0].size == (256, 256)
    assert images.thumbnail(batch[0, :1], 64).mode == "L"
    assert np.array_equal(np.asarray(images.thumbnail(batch[1], 300)), np.asarray(images.to_pil(batch[1])))


def test_a_data_url_carries_the_picture_as_jpeg():
    im = images.builtin("scene").resize((64, 64))
    url = images.data_url(im)
    assert url.startswith("data:image/jpeg;base64,")
    back = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert back.format == "JPEG" and back.size == (64, 64)
    assert np.abs(np.asarray(back, dtype=np.int16) - np.asarray(im, dtype=np.int16)).mean() < 4
    assert Image.open(io.BytesIO(base64.b64decode(images.data_url(im.convert("RGBA")).split(",", 1)[1]))).mode == "RGB"


# ---- damaged metadata: the picture is shown as stored --------------------------------------------------------

EXIF_XM = b"XM" + bytes(20)  # not a TIFF header: PIL's EXIF reader raises SyntaxError
# A valid EXIF block (orientation 6) with two bytes changed: PIL's reader raises struct.error on it.
EXIF_STRUCT = bytearray(bytes.fromhex(
    "4578696600004d4d002a000000080003010f00020000000463616d00011200030000000100060000876900040000000100000032"
    "000000000001900300020000000b0000004400000000323032303a30313a30310000"))
EXIF_STRUCT[17], EXIF_STRUCT[58] = 82, 77


@pytest.mark.parametrize(("fmt", "exif"), [("PNG", EXIF_XM), ("WEBP", EXIF_XM)], ids=["png-XM", "webp-XM"])
def test_a_picture_with_unreadable_exif_is_shown_as_stored(fmt, exif):
    out = images.decode_upload(encode(base((40, 30)), fmt, exif=exif), f"photo.{fmt.lower()}")
    assert out.size == (40, 30)  # no orientation applied: there is none to trust
    left, right = np.asarray(out)[15, 5].astype(int), np.asarray(out)[15, 35].astype(int)
    assert left[1] > 150 and right[0] > 150


def test_a_damaged_exif_block_still_gives_its_readable_orientation():
    out = images.decode_upload(encode(base((40, 30)), "JPEG", exif=bytes(EXIF_STRUCT)), "photo.jpg")
    assert out.size == (30, 40)  # the orientation tag (6) survived the damage elsewhere in the block
    assert np.asarray(out)[5, 15][1] > 150  # the green left half is now on top


def test_a_huge_upload_is_reduced_on_decoding_and_keeps_its_levels():
    arr = np.full((3000, 4500), 40000, np.uint16)
    arr[:, :2250] = 10000
    out = images.decode_upload(encode(Image.fromarray(arr), "PNG"), "deep.png")
    assert max(out.size) <= images.MAX_DECODED_SIDE and out.size[0] / out.size[1] == pytest.approx(1.5, rel=0.01)
    px = np.asarray(out)
    assert px[10, 10].tolist() == [39] * 3 and px[10, -10].tolist() == [156] * 3  # 16-bit scaled by 255/65535


def test_importing_augviz_leaves_pils_settings_alone():
    import subprocess
    import sys

    code = ("from PIL import Image, ImageFile; ImageFile.LOAD_TRUNCATED_IMAGES = True; Image.MAX_IMAGE_PIXELS = 7; "
            "import augviz.images, augviz.data; "
            "assert ImageFile.LOAD_TRUNCATED_IMAGES is True and Image.MAX_IMAGE_PIXELS == 7")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]


def test_the_pixel_limit_holds_whatever_pils_own_limit_is(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # a host application switched PIL's guard off
    with pytest.raises(ImageError, match="megapixels"):
        images.decode_upload(encode(Image.new("L", (8000, 6000)), "PNG"), "big.png")


def png_with_text_chunk(kind: bytes, unpacked: int) -> bytes:
    """An 8×8 PNG carrying a compressed text chunk (zTXt or iTXt) that unpacks to ``unpacked`` bytes."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG")
    png = buf.getvalue()
    packed = zlib.compress(b"a" * unpacked, 9)
    body = b"Comment\0\0" + packed if kind == b"zTXt" else b"Comment\0\1\0\0\0" + packed
    chunk = struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return png[:33] + chunk + png[33:]  # right after the header chunk


@pytest.mark.parametrize("kind", [b"zTXt", b"iTXt"])
def test_a_png_whose_text_metadata_unpacks_huge_is_named_for_what_it_is(kind):
    with pytest.raises(ImageError, match=r"big.png: its text metadata unpacks to more than 1 MB"):
        images.decode_upload(png_with_text_chunk(kind, 50_000_000), "big.png")


def test_a_png_with_small_text_metadata_decodes():
    assert images.decode_upload(png_with_text_chunk(b"zTXt", 1000), "small.png").size == (8, 8)

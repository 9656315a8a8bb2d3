"""Uploads in the bilevel ("1") and palette ("P") modes decode to exactly the pixels the file holds.

tests/test_images.py compares every mode with the original RGB picture, which a bilevel or palette file can only
approximate (dithering, a reduced palette), so its tolerance there is wide; here the reference is the file's own
pixels, and the tolerance is none.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from augviz import images


def encode(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def gradient() -> Image.Image:
    """A colour gradient: dithering and palette reduction have something to do."""
    y, x = np.mgrid[0:30, 0:40]
    arr = np.stack([x * 6, y * 8, 255 - x * 6], -1).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def test_a_bilevel_upload_is_exactly_its_black_and_white_pixels():
    bilevel = gradient().convert("1")
    out = np.asarray(images.decode_upload(encode(bilevel), "b.png"), dtype=int)
    stored = np.asarray(bilevel, dtype=int) * 255  # True/False → 255/0
    assert {0, 255} == set(np.unique(stored))  # both levels occur
    assert (out == stored[..., None]).all()


def test_a_palette_upload_is_exactly_its_palette_colours():
    palette = gradient().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    out = np.asarray(images.decode_upload(encode(palette), "p.png"), dtype=int)
    assert (out == np.asarray(palette.convert("RGB"), dtype=int)).all()

"""The jpeg transform: each image through a real JPEG encoder and decoder at the quality it drew.

``ref_jpeg`` is its entry in tests/test_transform_reference.py (Pillow's own save and load of the 8-bit picture);
the contract tests (tests/test_transform_contract.py) cover it as every registry entry. The tests here check what
JPEG artefacts are, independently of any codec: losses that grow as the quality falls, and that sit on the 8×8
grid of the format's blocks.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from augviz import Pipeline, Step, images


def jpeg(x: torch.Tensor, quality: tuple[int, int], seed: int = 0):
    return Pipeline((Step("jpeg", {"quality": quality}, 1.0),)).run(x, torch.Generator().manual_seed(seed))


def pillow_roundtrip(im: Image.Image, quality: int) -> torch.Tensor:
    buffer = io.BytesIO()
    im.save(buffer, format="JPEG", quality=quality)
    return images.to_tensor(Image.open(io.BytesIO(buffer.getvalue())).convert(im.mode)).unsqueeze(0)


def ref_jpeg(card):
    # The 8-bit picture saved and loaded by Pillow at the same quality, in colour and in grey.
    assert torch.equal(jpeg(card, (35, 35)).images, pillow_roundtrip(images.to_pil(card[0]), 35))
    grey = images.to_pil(card[0]).convert("L")
    assert torch.equal(jpeg(images.to_tensor(grey).unsqueeze(0), (35, 35)).images, pillow_roundtrip(grey, 35))


def smooth(size: int = 64) -> torch.Tensor:
    """A picture with no edges of its own: a diagonal colour gradient, so any step in it is the codec's."""
    ramp = torch.linspace(0, 1, size)
    return torch.stack([ramp.view(1, -1).expand(size, size), ramp.view(-1, 1).expand(size, size),
                        (ramp.view(1, -1) + ramp.view(-1, 1)).expand(size, size) / 2]).unsqueeze(0)


def test_quality_100_leaves_the_image_exactly_as_it_is():
    x = torch.rand(3, 3, 20, 28)  # not on 8-bit levels: even the rounding would show
    assert torch.equal(jpeg(x, (100, 100)).images, x)


def test_the_lower_the_quality_the_more_the_picture_loses(card):
    loss = [float((jpeg(card, (q, q)).images - card).abs().mean()) for q in (90, 50, 10)]
    assert 0 < loss[0] < loss[1] < loss[2]


def test_the_artefacts_sit_on_the_8_pixel_block_grid():
    x = smooth()
    out = jpeg(x, (5, 5)).images
    jumps = (out[..., 1:] - out[..., :-1]).abs().mean(dim=(0, 1, 2))  # per column boundary, 63 of them
    across = jumps[7::8]  # between columns 7|8, 15|16, …: block edges
    within = torch.cat([jumps[k::8] for k in range(7)])
    assert float(across.mean()) > 2 * float(within.mean())


def test_each_image_draws_its_own_whole_quality_and_a_seed_replays_it():
    x = smooth(16).repeat(200, 1, 1, 1)
    q = jpeg(x, (20, 80), seed=3).draws[0].params["quality"]
    assert not q.is_floating_point() and int(q.min()) >= 20 and int(q.max()) <= 80 and len(q.unique()) > 30
    assert torch.equal(jpeg(x, (20, 80), seed=3).images, jpeg(x, (20, 80), seed=3).images)


def test_images_of_any_channel_count_are_compressed_channel_by_channel_outside_colour():
    x = torch.rand(2, 4, 16, 16)
    out = jpeg(x, (30, 30)).images
    assert out.shape == x.shape
    plane = Image.fromarray(np.asarray(images.to_pil(x[1, 2:3]).convert("L")), "L")
    assert torch.equal(out[1, 2:3].unsqueeze(0), pillow_roundtrip(plane, 30))

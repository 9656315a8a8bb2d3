"""Shared fixtures: small, deterministic images with structure in every channel."""

from __future__ import annotations

import pytest
import torch

from augviz import images

pytest_plugins = ["tests.loopback"]  # the loopback HTTP server fixture for download tests


@pytest.fixture
def batch() -> torch.Tensor:
    """Six non-square 3-channel images (24×32) in [0, 1]: built-in samples and random noise."""
    pics = [images.to_tensor(images.builtin(n).resize((32, 24))) for n in images.BUILTIN]
    g = torch.Generator().manual_seed(0)
    pics += [torch.rand(3, 24, 32, generator=g), 0.25 + 0.5 * torch.rand(3, 24, 32, generator=g)]
    return torch.stack(pics)


@pytest.fixture
def card() -> torch.Tensor:
    """The test card at 48×64, one image, for comparisons with PIL."""
    return images.to_tensor(images.builtin("test_card").resize((64, 48))).unsqueeze(0)

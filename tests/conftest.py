"""Shared fixtures: small, deterministic images with structure in every channel."""

from __future__ import annotations

import pytest
import torch

from augviz import images, worker
from augviz.store import Store

pytest_plugins = ["tests.loopback", "tests.postgres"]  # a loopback HTTP server for downloads; a PostgreSQL server


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


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh run home (``AUGVIZ_HOME``) with one run at a time; every launcher and worker stopped after."""
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("AUGVIZ_MAX_RUNS", "1")
    yield tmp_path
    worker.shutdown(Store(tmp_path / "runs.sqlite"))  # leave no launcher or worker behind

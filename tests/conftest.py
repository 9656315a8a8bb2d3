"""Shared fixtures: small, deterministic images with structure in every channel; a data folder of the test
process's own, so that nothing lands in the checkout's ``./.augviz`` and parallel processes (pytest -n) share no
run store."""

from __future__ import annotations

import os

import pytest
import torch

from augviz import images, worker
from augviz.store import Store, default_store

pytest_plugins = ["tests.loopback", "tests.postgres"]  # a loopback HTTP server for downloads; a PostgreSQL server


def pytest_configure(config) -> None:
    """In a parallel run (pytest -n N), torch in each test process gets its share of the cores: N processes each
    with a thread per core would fight over them (torch's threads spin while they wait)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(items) -> None:
    """Every browser test runs in one process, one after the other: one Chromium and one Streamlit server at a
    time, while the other processes take the rest of the suite."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="session", autouse=True)
def own_home(tmp_path_factory):
    """``AUGVIZ_HOME`` for everything that names none (AppTest pages, servers, the CLI): one folder per test
    process (tmp_path_factory is per xdist worker), its launcher and workers stopped at the end."""
    folder = tmp_path_factory.mktemp("augviz-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUGVIZ_HOME", str(folder))
        yield folder
    worker.shutdown(Store(folder / "runs.sqlite"))


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


@pytest.fixture(params=["sqlite", "postgresql"])
def store_on_each_engine(request, tmp_path, monkeypatch) -> Store:
    """An empty store on each engine (PostgreSQL: a schema of its own on the session's server)."""
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))
    if request.param == "sqlite":
        return Store(tmp_path / "runs.sqlite")
    monkeypatch.setenv("AUGVIZ_DB", request.getfixturevalue("postgres_url"))
    return default_store()

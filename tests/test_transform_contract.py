"""The contract every registry entry keeps: identity at p=0, determinism, batch = one by one, replay, no mutation.

Each test is parametrised over the whole registry, so a new transform is covered the moment it is registered.
"""

from __future__ import annotations

import pytest
import torch

from augviz import REGISTRY, Pipeline, Step
from augviz.pipeline import Draw
from augviz.transform import CATEGORIES, MIXING

NAMES = sorted(REGISTRY)
KERNEL_NAMES = [n for n in NAMES if REGISTRY[n].category != MIXING]  # mixing steps mix in the pipeline instead


def one(name: str, p: float = 1.0, **params) -> Pipeline:
    step = Step.default(name)
    return Pipeline((Step(name, {**step.params, **params}, p),), seed=11)


def draws_for(draws: list[Draw], i: int) -> list[Draw]:
    """The draws of image ``i`` alone, as a batch of one."""
    return [d.select(torch.tensor([i])) for d in draws]


@pytest.mark.parametrize("name", NAMES)
def test_spec_is_complete_and_defaults_validate(name):
    t = REGISTRY[name]
    assert t.label and t.description and t.formula
    assert t.category in CATEGORIES
    assert 0 <= t.default_p <= 1
    assert t.validate(t.defaults(), "params") == t.defaults()
    for p in t.params:
        assert p.help, f"{name}.{p.name} has no help text"


@pytest.mark.parametrize("name", NAMES)
def test_p_zero_is_the_identity(name, batch):
    out = one(name, p=0.0)(batch)
    assert torch.equal(out, batch)


@pytest.mark.parametrize("name", NAMES)
def test_p_one_changes_the_images(name, batch):
    out = one(name, p=1.0)(batch)
    assert not torch.equal(out, batch)


@pytest.mark.parametrize("name", NAMES)
def test_a_seed_gives_the_same_output_twice(name, batch):
    a = one(name, p=0.7).run(batch, torch.Generator().manual_seed(5)).images
    b = one(name, p=0.7).run(batch, torch.Generator().manual_seed(5)).images
    c = one(name, p=0.7).run(batch, torch.Generator().manual_seed(6)).images
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", NAMES)
def test_batch_equals_images_one_by_one(name, batch):
    pipe = one(name, p=0.7)
    draws = pipe.sample(len(batch), torch.Generator().manual_seed(3))
    together = pipe.apply(batch, draws).images
    mixing = REGISTRY[name].category == MIXING
    for i in range(len(batch)):
        # A mixing step's partner is an index into the batch, so alone an image mixes from the same pool.
        alone = pipe.apply(batch[i:i + 1], draws_for(draws, i), pool=batch if mixing else None).images
        torch.testing.assert_close(alone[0], together[i], atol=2e-5, rtol=0)


@pytest.mark.parametrize("trace", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_input_is_not_modified(name, batch, trace):
    before = batch.clone()
    one(name).run(batch, trace=trace)
    assert torch.equal(batch, before)


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_the_in_place_kernel_matches_the_pure_one(name, batch):
    t = REGISTRY[name]
    step = Step.default(name)
    params = one(name).sample(len(batch), torch.Generator().manual_seed(4))[0].params
    pure = t.kernel(batch, step.params, params)
    own = batch.clone()
    torch.testing.assert_close(t.kernel_(own, step.params, params), pure, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_and_range(name, batch):
    out = one(name)(batch)
    assert out.shape == batch.shape and out.dtype == torch.float32
    assert float(out.min()) >= 0 and float(out.max()) <= 1


@pytest.mark.parametrize("name", NAMES)
def test_replaying_the_draws_reproduces_the_output(name, batch):
    pipe = one(name, p=0.6)
    result = pipe.run(batch, torch.Generator().manual_seed(9))
    again = pipe.apply(batch, result.draws).images
    assert torch.equal(result.images, again)
    rows = result.draws[0].rows()
    assert len(rows) == len(batch)
    assert all(r is None or isinstance(r, dict) for r in rows)


@pytest.mark.parametrize("name", NAMES)
def test_uint8_input_matches_float_input(name, batch):
    u8 = (batch * 255).round().to(torch.uint8)
    pipe = one(name)
    torch.testing.assert_close(pipe(u8), pipe(u8.float() / 255))


@pytest.mark.parametrize("name", NAMES)
def test_single_channel_images_work(name, batch):
    gray = batch[:, :1]
    out = one(name)(gray)
    assert out.shape == gray.shape
    assert float(out.min()) >= 0 and float(out.max()) <= 1

"""The contract every registry entry keeps: validated settings, identity at p=0, determinism, batch = one by one,
replay, no mutation.

Each test is parametrised over the whole registry, so a new transform is covered the moment it is registered.
"""

from __future__ import annotations

import pytest
import torch

from augviz import REGISTRY, Pipeline, Step
from augviz.errors import ConfigError
from augviz.pipeline import Draw
from augviz.transform import CATEGORIES, MIXING

NAMES = sorted(REGISTRY)
# A mixing step's image depends on its partner in the batch, so it cannot be replayed one image at a time; its
# formula is checked image by image in tests/test_transform_reference.py.
ALONE_NAMES = [n for n in NAMES if REGISTRY[n].category != MIXING]


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


@pytest.mark.parametrize("name", ALONE_NAMES)
def test_batch_equals_images_one_by_one(name, batch):
    pipe = one(name, p=0.7)
    draws = pipe.sample(len(batch), torch.Generator().manual_seed(3))
    together = pipe.apply(batch, draws).images
    for i in range(len(batch)):
        alone = pipe.apply(batch[i:i + 1], draws_for(draws, i)).images
        torch.testing.assert_close(alone[0], together[i], atol=2e-5, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_every_batch_size_from_one_runs(name, batch):
    labels = torch.eye(len(batch))
    for n in (1, 2, 3):
        res = one(name).run(batch[:n], torch.Generator().manual_seed(n), labels=labels[:n, :n])
        assert res.images.shape == batch[:n].shape
        torch.testing.assert_close(res.labels.sum(1), torch.ones(n))


@pytest.mark.parametrize("name", NAMES)
def test_drawn_parameters_are_per_image_values_only(name, batch):
    # Nothing rides in the parameters just to carry the batch size: a step with nothing random draws nothing.
    params = one(name).sample(len(batch), torch.Generator().manual_seed(0))[0].params
    for key, value in params.items():
        assert value.shape[0] == len(batch), key
        assert not (value.dtype == torch.bool and bool(value.all())), f"{name}.{key} is a constant marker"


WHOLE_RANGES = [(n, p.name) for n in NAMES for p in REGISTRY[n].params if p.is_range and p.kind == "int"]


@pytest.mark.parametrize(("name", "key"), WHOLE_RANGES)
def test_a_whole_number_range_draws_each_whole_number_in_it_alike(name, key):
    # As plain integers, both ends included, each about as often (2,000 draws of 5 values: 400 ± 80 is > 4σ).
    drawn = one(name, **{key: (4, 8)}).sample(2000, torch.Generator().manual_seed(0))[0].params[key]
    assert not drawn.is_floating_point()
    assert sorted(drawn.unique().tolist()) == [4, 5, 6, 7, 8]
    assert all(320 <= c <= 480 for c in drawn.unique(return_counts=True)[1].tolist())


@pytest.mark.parametrize("trace", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_input_is_not_modified(name, batch, trace):
    before = batch.clone()
    one(name).run(batch, trace=trace)
    assert torch.equal(batch, before)


@pytest.mark.parametrize("name", NAMES)
def test_traced_stages_are_kept_as_they_were(name, batch):
    # Steps may overwrite the batch they are handed (the ownership rule): never one the caller keeps.
    pipe = Pipeline((Step.default(name), Step("invert"), Step("brightness", {"factor": (0.5, 0.5)})), seed=3)
    res = pipe.run(batch, trace=True)
    alone = Pipeline(pipe.steps[:1], seed=3).run(batch).images
    torch.testing.assert_close(res.stages[0], alone, atol=1e-6, rtol=0)


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


def test_a_step_is_validated_when_built():
    with pytest.raises(ConfigError, match=r"rotation\.degrees\[0\]: 400 is outside the allowed range"):
        Step("rotation", {"degrees": (400, 500)})
    with pytest.raises(ConfigError, match=r"rotation\.angle: unknown parameter of rotation"):
        Step("rotation", {"angle": 3})
    with pytest.raises(ConfigError, match=r"rotation\.p: expected a probability from 0 to 1, got 3\.0"):
        Step("rotation", p=3.0)
    with pytest.raises(ConfigError, match=r"rotation\.p"):
        Step("rotation", p=float("nan"))
    with pytest.raises(ConfigError, match=r"unknown transform 'spin'"):
        Step("spin")
    with pytest.raises(ConfigError, match=r"posterize\.bits\[0\]: expected a whole number"):
        Step("posterize", {"bits": (2.5, 4)})


def test_a_single_value_where_a_range_is_expected_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match=r"gaussian_blur\.sigma: expected a pair \[low, high\].*\[2\.0, 2\.0\]"):
        Step("gaussian_blur", {"sigma": 2.0})


def test_a_valid_step_is_canonical():
    step = Step("rotation", {"degrees": [-10, 10]}, 1)
    assert step.params["degrees"] == (-10.0, 10.0) and step.params["fill"] == "nearest"
    assert step == Step("rotation", {"degrees": (-10.0, 10.0)})

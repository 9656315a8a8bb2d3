"""Strength, one knob for a whole pipeline: 0 is no augmentation, 1 the pipeline as set, beyond it stronger up to
each setting's bound. Parametrised over the whole registry, so a new transform is covered when it registers."""

from __future__ import annotations

import pytest
import torch

from augviz import REGISTRY, Pipeline, Step, serialize, strength
from augviz.errors import ConfigError
from augviz.preview import SEED_PIPELINE
from augviz.transform import POLICY

NAMES = sorted(REGISTRY)
WITH_AMOUNT = [n for n in NAMES if any(p.identity is not None for p in REGISTRY[n].params)]
STRENGTHS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)


def one(name: str) -> Pipeline:
    """The entry at its default settings, applied to every image."""
    step = Step.default(name)
    return Pipeline((Step(name, step.params, 1.0),), seed=3)


def levels(x: torch.Tensor) -> torch.Tensor:
    """The 8-bit pixel values of a float batch."""
    return (x * 255).round().to(torch.uint8)


@pytest.mark.parametrize("name", NAMES)
def test_strength_zero_leaves_every_image_and_label_as_it_was(name, batch):
    labels = torch.eye(len(batch))
    pipe, _ = strength.scale_pipeline(one(name), 0.0)
    result = pipe.run(batch, torch.Generator().manual_seed(1), labels=labels)
    assert torch.equal(result.images, batch)
    assert torch.equal(result.labels, labels)


@pytest.mark.parametrize("name", [n for n in WITH_AMOUNT if REGISTRY[n].category != POLICY])
def test_every_declared_identity_does_nothing(name, batch):
    # The amounts at their identities with the step still on: what the identity declarations claim. (A policy's
    # magnitude 0 leaves its equalize and autocontrast operations, which have no amount.) The images avoid pure
    # white: solarize's threshold 1, its identity, still inverts it (strength 0 switches the step off).
    x = levels(batch.clamp(max=254 / 255)).float() / 255
    step, _ = strength.scale_step(one(name).steps[0], 0, 0.0)
    out = Pipeline((step,)).run(x, torch.Generator().manual_seed(2)).images
    assert torch.equal(levels(out), levels(x))


@pytest.mark.parametrize("name", NAMES)
def test_strength_one_is_the_pipeline_as_set(name):
    doc = serialize.to_dict(one(name))
    assert strength.scale(doc, 1.0).doc == doc
    assert strength.scale(serialize.to_dict(SEED_PIPELINE), 1.0).doc == serialize.to_dict(SEED_PIPELINE)


# A random resized crop's sides combine two amounts (area and ratio): a side may come nearer 1 while the box's
# area moves away from it, so its draws are checked through the settings' test below only.
PAIRED = [n for n in WITH_AMOUNT if n != "random_resized_crop"]


@pytest.mark.parametrize("name", PAIRED)
def test_the_magnitude_of_every_drawn_value_grows_with_strength(name):
    step = one(name).steps[0]
    t = step.transform

    def draw(s: float) -> dict[str, torch.Tensor]:
        scaled, _ = strength.scale_step(step, 0, s)
        return t.sample(scaled.params, 64, torch.Generator().manual_seed(4))

    # Until a setting hits its bound: then the draws bunch at that end (the range stops growing on one side),
    # so the same random number may land nearer the identity than before.
    below_bounds = [s for s in STRENGTHS if not strength.scale_step(step, 0, s)[1]]

    # Whole numbers (posterize's bits, seeds) are drawn by randint, whose draws for different ranges are not
    # paired image by image; their ranges are checked in the next test.
    none = {k: v for k, v in draw(0.0).items() if v.is_floating_point()}
    before = {k: torch.zeros_like(v, dtype=torch.float64) for k, v in none.items()}
    grew = not none  # only whole numbers drawn: nothing to pair
    for s in below_bounds:
        now = draw(s)
        for key, value in ((k, now[k]) for k in none):
            distance = (value.double() - none[key].double()).abs()
            assert bool((distance >= before[key] - 1e-9).all()), f"{name}: {key} shrank at strength {s}"
            grew |= bool((distance > before[key] + 1e-9).any())
            before[key] = distance
    assert grew, f"{name}: no drawn value moved with strength"


@pytest.mark.parametrize("name", WITH_AMOUNT)
def test_every_setting_moves_away_from_its_identity_as_strength_grows(name):
    step = one(name).steps[0]
    amounts = [p for p in step.transform.params if p.identity is not None]
    before = [0.0] * 2 * len(amounts)
    for s in STRENGTHS:
        scaled, _ = strength.scale_step(step, 0, s)
        ends = [v for p in amounts for v in (scaled.params[p.name] if p.is_range else (scaled.params[p.name],) * 2)]
        now = [abs(v - p.identity) for v, p in zip(ends, [p for p in amounts for _ in (0, 1)], strict=True)]
        assert all(a >= b - 1e-12 for a, b in zip(now, before, strict=True)), f"{name} at strength {s}"
        before = now


def test_probabilities_are_left_alone():
    doc = serialize.to_dict(SEED_PIPELINE)
    for s in (0.5, 2.0):
        assert [st["p"] for st in strength.scale(doc, s).doc["steps"]] == [st["p"] for st in doc["steps"]]


def test_a_setting_pushed_past_its_bound_stops_there_and_is_named():
    pipe = Pipeline((Step("rotation", {"degrees": (-120.0, 60.0)}), Step("posterize", {"bits": (4, 8)})))
    scaled = strength.scale(serialize.to_dict(pipe), 2.0)
    assert scaled.doc["steps"][0]["params"]["degrees"] == [-180.0, 120.0]
    assert scaled.doc["steps"][1]["params"]["bits"] == [1, 8]
    assert [(c.transform, c.param, c.bound) for c in scaled.clipped] == [("rotation", "degrees", -180.0),
                                                                        ("posterize", "bits", 1)]
    assert strength.bounds_sentence(scaled.clipped) == ("At this strength these settings stop at their bounds: "
                                                         "step 1 (Rotation) degrees at \u2212180; "
                                                         "step 2 (Posterize) bits at 1.")


def test_half_strength_halves_each_distance_from_the_identity():
    pipe = Pipeline((Step("zoom", {"factor": (0.8, 1.2)}), Step("rotation", {"degrees": (-20.0, 10.0)})))
    doc = strength.scale(serialize.to_dict(pipe), 0.5).doc
    assert doc["steps"][0]["params"]["factor"] == pytest.approx([0.9, 1.1])
    assert doc["steps"][1]["params"]["degrees"] == pytest.approx([-10.0, 5.0])
    assert strength.scale(serialize.to_dict(pipe), 0.5).clipped == ()


@pytest.mark.parametrize("bad", [-0.1, float("nan"), 99, "1", True])
def test_a_strength_out_of_range_is_refused_by_name(bad):
    with pytest.raises(ConfigError, match="strength"):
        strength.check(bad)

"""The pipeline: fused geometry, step-by-step stages, independent step draws, labels through mixing."""

from __future__ import annotations

from dataclasses import replace
from unittest import mock

import torch
import torch.nn.functional as F

from augviz import REGISTRY, Pipeline, Step
from augviz.functional import warp
from augviz.functional.color import gaussian_blur
from augviz.preview import render

SEED_PIPELINE = Pipeline((
    Step("rotation", {"degrees": (-15.0, 15.0)}),
    Step("affine", {"translate_x": (-0.1, 0.1), "translate_y": (-0.1, 0.1)}),
    Step("zoom", {"factor": (0.9, 1.1)}),
    Step("horizontal_flip", {}, 0.5),
))


def test_consecutive_geometric_steps_cost_one_resample(batch):
    with mock.patch.object(warp.F, "grid_sample", wraps=F.grid_sample) as spy:
        SEED_PIPELINE(batch)
    assert spy.call_count == 1


def test_fused_resample_matches_step_by_step_away_from_the_borders():
    # On a smooth image, interpolating once or four times differs by very little; the maps must agree exactly.
    smooth = gaussian_blur(torch.rand(6, 3, 24, 32, generator=torch.Generator().manual_seed(0)),
                           torch.full((6,), 3.0))
    draws = SEED_PIPELINE.sample(6, torch.Generator().manual_seed(1))
    fused = SEED_PIPELINE.apply(smooth, draws).images
    x = smooth
    for d in draws:  # each step alone, resampled in turn
        x = Pipeline((SEED_PIPELINE.steps[d.step],)).apply(x, [d.__class__(0, d.name, d.applied, d.params)]).images
    centre = (slice(None), slice(None), slice(6, -6), slice(8, -8))
    assert float((fused - x)[centre].abs().max()) < 0.01


def test_a_different_fill_starts_a_new_resample(batch):
    pipe = Pipeline((Step("rotation", {"fill": "constant"}), Step("zoom", {"fill": "reflect"})))
    with mock.patch.object(warp.F, "grid_sample", wraps=F.grid_sample) as spy:
        pipe(batch)
    assert spy.call_count == 2


def test_stages_show_each_step_and_end_at_the_result(batch):
    pipe = Pipeline((*SEED_PIPELINE.steps, Step("brightness"), Step("gaussian_noise")))
    res = pipe.run(batch, trace=True)
    assert len(res.stages) == len(pipe.steps)
    assert torch.equal(res.stages[-1], res.images)
    assert not torch.equal(res.stages[0], res.stages[1])


def test_changing_one_step_does_not_reroll_the_others(batch):
    base = Pipeline((Step("rotation"), Step("brightness"), Step("gaussian_noise")))
    changed = base.with_steps([Step("rotation", {"degrees": (-90.0, 90.0)}), *base.steps[1:]])
    off = base.with_steps([Step("rotation", enabled=False), *base.steps[1:]])
    g = torch.Generator
    a = base.sample(6, g().manual_seed(0))
    b = changed.sample(6, g().manual_seed(0))
    c = off.sample(6, g().manual_seed(0))
    for other in (b, c):
        assert torch.equal(a[1].params["factor"], other[-2].params["factor"])
        assert torch.equal(a[2].params["seed"], other[-1].params["seed"])


def test_disabled_steps_do_nothing(batch):
    pipe = Pipeline((Step("invert", enabled=False), Step("rotation", enabled=False)))
    assert torch.equal(pipe(batch), batch)


def test_labels_are_mixed_and_stay_distributions(batch):
    labels = F.one_hot(torch.arange(len(batch)) % 3, 3).float()
    pipe = Pipeline((Step("rotation"), Step("mixup", {"alpha": 1.0}, 1.0), Step("cutmix", {"alpha": 1.0}, 1.0)))
    res = pipe.run(batch, labels=labels)
    torch.testing.assert_close(res.labels.sum(1), torch.ones(len(batch)))
    assert not torch.equal(res.labels, labels)


def test_mixing_partners_are_other_images_of_the_batch_as_augmented_so_far(batch):
    pipe = Pipeline((Step("invert", p=0.5), Step("mixup", {"alpha": 1.0}, 1.0)))
    res = pipe.run(batch, torch.Generator().manual_seed(0), trace=True)
    before = res.stages[0]
    partner, lam = res.draws[1].params["partner"], res.draws[1].params["lam"].view(-1, 1, 1, 1)
    assert (partner != torch.arange(len(batch))).all()  # nobody mixes with itself
    torch.testing.assert_close(res.images, lam * before + (1 - lam) * before[partner])


def test_the_preview_mixes_each_draw_with_another_draw():
    # n copies of one picture: a partner is another augmented draw, never an index outside the batch.
    image = torch.rand(3, 16, 20, generator=torch.Generator().manual_seed(0))
    pipe = Pipeline((Step("rotation"), Step("mixup", {"alpha": 1.0}, 1.0), Step("cutmix", {}, 1.0)))
    for n in (1, 2, 3, 8):
        shown = render(pipe, image, n)
        assert shown.draws.shape == (n, 3, 16, 20) and len(shown.strip) == 3
        assert shown.strip[1].partner is not None and shown.strip[1].weight is not None


def test_runs_on_uint8_batches_as_the_training_loop_feeds_them():
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    out = SEED_PIPELINE(x, torch.Generator().manual_seed(0))
    assert out.dtype == torch.float32 and out.shape == x.shape


def test_results_never_alias_the_reused_buffers():
    # uint8 batches are converted into a per-thread buffer reused by the next call; what a call returns must
    # survive the next call, for every step of the registry, also when no step changed anything.
    a = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    b = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    pipes = [SEED_PIPELINE, *(Pipeline((replace(Step.default(name), p=p),)) for name in REGISTRY for p in (0.0, 1.0))]
    for pipe in pipes:
        for trace in (False, True):
            first = pipe.run(a, trace=trace)
            kept = first.images.clone()
            stages = [s.clone() for s in first.stages]
            pipe.run(b, trace=trace)
            assert torch.equal(first.images, kept), pipe.steps
            assert all(torch.equal(s, k) for s, k in zip(first.stages, stages, strict=True)), pipe.steps
    assert torch.equal(Pipeline((Step("rotation", p=0.0),))(a), a.float() / 255)

"""The training loop: finite metrics, one gradient norm per layer (checked against a plain reference), divergence
ends a run cleanly, augmentation and mixing run inside the loop, configurations are validated."""

from __future__ import annotations

import json
import math

import pytest
import torch

from augviz import data, models, serialize
from augviz.errors import ConfigError
from augviz.pipeline import Pipeline, Step
from augviz.preview import SEED_PIPELINE
from augviz.runconfig import RunConfig, from_dict
from augviz.train import layer_grad_norms, train


class Recorder:
    def __init__(self) -> None:
        self.layers: list[str] = []
        self.steps, self.epochs, self.details = [], [], []

    def started(self, layer_names, total_steps, classes):
        self.layers, self.total = layer_names, total_steps

    def step(self, m):
        self.steps.append(m)

    def epoch(self, m):
        self.epochs.append(m)

    def detail(self, m):
        self.details.append(m)


@pytest.fixture(scope="module")
def small() -> data.Dataset:
    return data.load("synthetic", 300, 0.2, seed=0)


@pytest.mark.parametrize("model", models.MODELS)
def test_a_two_step_run_gives_finite_metrics_and_a_norm_per_layer(small, model):
    rec = Recorder()
    s = train(RunConfig(model=model, train_size=300, batch_size=32, epochs=1), rec, dataset=small, max_steps=2)
    assert s.status == "finished" and s.steps == 2
    assert len(rec.steps) == 2
    names = [n for n, _ in models.layers(models.build(model, 3, 32, 10))]
    assert rec.layers == names
    for m in rec.steps:
        assert math.isfinite(m.loss) and len(m.grad_norms) == len(names)
        assert all(math.isfinite(v) and v >= 0 for v in m.grad_norms)
        assert m.grad_total == pytest.approx(math.sqrt(sum(v * v for v in m.grad_norms)))
    assert rec.epochs and 0 <= rec.epochs[0].val_acc <= 1
    assert s.test_acc is not None and 0 <= s.test_acc <= 1


def test_layer_norms_match_a_per_parameter_reference():
    net = models.build("seed_cnn", 3, 32, 10)
    net(torch.rand(4, 3, 32, 32)).square().sum().backward()
    groups = models.layers(net)
    got = layer_grad_norms([p for _, p in groups]).tolist()
    for (name, params), value in zip(groups, got, strict=True):
        reference = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params))
        assert value == pytest.approx(reference, rel=1e-5), name


def test_an_absurd_learning_rate_ends_as_diverged(small):
    rec = Recorder()
    s = train(RunConfig(optimizer="sgd", lr=1e3, batch_size=32, epochs=3), rec, dataset=small)
    assert s.status == "diverged"
    assert s.diverged_step is not None and s.diverged_step <= 30
    assert all(math.isfinite(m.loss) for m in rec.steps)  # everything recorded before it is finite
    assert s.test_acc is None


def test_stopping_ends_the_run_early(small):
    rec = Recorder()
    s = train(RunConfig(batch_size=32, epochs=3), rec, should_stop=lambda: len(rec.steps) >= 3, dataset=small)
    assert s.status == "stopped" and s.steps == 3


def test_training_runs_the_pipeline_and_mixes_labels(small):
    pipe = Pipeline((*SEED_PIPELINE.steps, Step("mixup", {"alpha": 0.4}, 1.0), Step("cutmix", {}, 0.5)))
    s = train(RunConfig(batch_size=32, epochs=1, pipeline=serialize.to_dict(pipe)), Recorder(), dataset=small,
              max_steps=3)
    assert s.status == "finished"


def test_the_same_seed_trains_the_same_way(small):
    runs = []
    for _ in range(2):
        rec = Recorder()
        train(RunConfig(batch_size=32, epochs=1, pipeline=serialize.to_dict(SEED_PIPELINE)), rec, dataset=small,
              max_steps=4)
        runs.append([m.loss for m in rec.steps])
    assert runs[0] == runs[1]


def test_config_round_trips_through_json():
    cfg = RunConfig(pipeline=serialize.to_dict(SEED_PIPELINE), seed=3, model="resnet")
    assert from_dict(json.loads(cfg.to_json())) == cfg


@pytest.mark.parametrize(("doc", "path", "words"), [
    ({"epochs": 0}, "epochs", "outside the allowed range"),
    ({"lr": "fast"}, "lr", "expected a number"),
    ({"batch_size": 12.5}, "batch_size", "whole number"),
    ({"model": "vgg"}, "model", "expected one of seed_cnn"),
    ({"colour": 1}, "colour", "unknown field"),
    ({"train_size": 100}, "train_size", "250 to 20000"),
    ({"dataset": "folder"}, "folder", "needs a folder"),
    ({"pipeline": {"version": 1, "steps": [{"transform": "nope"}]}}, "pipeline.steps[0].transform", "unknown"),
])
def test_wrong_configurations_name_the_field(doc, path, words):
    with pytest.raises(ConfigError) as e:
        from_dict(doc)
    assert e.value.path == path and words in e.value.message

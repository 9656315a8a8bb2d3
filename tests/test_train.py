"""The training loop: finite metrics, one gradient norm per layer (checked against a plain reference), divergence
ends a run cleanly, augmentation and mixing run inside the loop, a run lasts its step budget whatever the data's
size, the learning rate follows its schedule, hooks see every update, configurations are validated."""

from __future__ import annotations

import json
import math
from itertools import pairwise

import pytest
import torch

from augviz import data, models, serialize
from augviz.errors import ConfigError
from augviz.pipeline import Pipeline, Step
from augviz.preview import SEED_PIPELINE
from augviz.runconfig import RunConfig, from_dict
from augviz.train import GradientDetails, StepState, layer_grad_norms, lr_factor, step_budget, train


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
    by_epochs = RunConfig(epochs=4, threads=1, schedule="constant", details=True)
    assert from_dict(json.loads(by_epochs.to_json())) == by_epochs


def test_a_stored_configuration_from_before_the_step_budget_keeps_its_epochs():
    assert from_dict({"epochs": 10, "model": "seed_cnn"}).epochs == 10  # an older run: 10 epochs, as it ran
    assert from_dict({}).epochs is None and from_dict({}).steps == 1000


@pytest.mark.parametrize(("doc", "path", "words"), [
    ({"epochs": 0}, "epochs", "outside the allowed range"),
    ({"epochs": 2.5}, "epochs", "whole number"),
    ({"steps": 0}, "steps", "outside the allowed range"),
    ({"schedule": "cosine"}, "schedule", "expected one of one_cycle, constant"),
    ({"threads": 0}, "threads", "outside the allowed range"),
    ({"details": 1}, "details", "true or false"),
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


# ---- how long a run lasts, and its learning rate -----------------------------------------------------------


def test_a_run_lasts_its_step_budget_whatever_the_training_set_size():
    budget = RunConfig(steps=1500, batch_size=64)
    assert step_budget(budget, 225) == step_budget(budget, 4500) == step_budget(budget, 18_000) == 1500
    by_epochs = RunConfig(epochs=10, batch_size=64)
    assert step_budget(by_epochs, 225) == 40 and step_budget(by_epochs, 4500) == 710  # ceil(n / 64) per epoch
    assert step_budget(budget, 4500, max_steps=7) == 7


def test_250_and_5000_images_train_for_the_same_number_of_steps():
    totals = []
    for size in (250, 5000):
        rec = Recorder()
        s = train(RunConfig(train_size=size, steps=12, batch_size=64, val_fraction=0.1), rec)
        assert s.status == "finished" and s.steps == len(rec.steps) == rec.total
        totals.append(s.steps)
        # 225 training images are 4 steps an epoch: the budget runs through 3 epochs; 4,500 are 71 steps.
        assert len(rec.epochs) == (3 if size == 250 else 1)
    assert totals == [12, 12]


def test_epochs_when_set_count_passes_over_the_data(small):
    rec = Recorder()
    s = train(RunConfig(epochs=2, batch_size=32, steps=5), rec, dataset=small)  # 240 images: 8 steps an epoch
    assert s.steps == 16 and [e.epoch for e in rec.epochs] == [1, 2]


def test_one_cycle_warms_up_then_decays_to_zero():
    total = 100
    f = [lr_factor("one_cycle", k, total) for k in range(total)]
    peak = f.index(max(f))
    assert peak == 9 and f[peak] == 1.0  # the first 10 % of the steps rise to the peak
    assert all(a < b for a, b in pairwise(f[:peak + 1]))  # rising
    assert all(a > b for a, b in pairwise(f[peak:]))  # then falling
    assert f[0] == pytest.approx(0.1) and f[-1] == pytest.approx(1 / 91)  # never zero on a step that counts
    assert [lr_factor("constant", k, total) for k in (0, 50, 99)] == [1.0, 1.0, 1.0]


class Hook:
    """Records what the loop shows a hook, and checks it sees gradients before and new weights after."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, float]] = []

    def before_update(self, state: StepState) -> None:
        first = state.layers[0][0]
        assert first.grad is not None
        self.weights = first.detach().clone()
        self.calls.append(("before", state.step, state.lr))

    def after_update(self, state: StepState) -> None:
        moved = float((state.layers[0][0].detach() - self.weights).abs().max())
        assert moved > 0  # the update happened in between
        self.calls.append(("after", state.step, moved))


def test_hooks_see_every_update_with_its_scheduled_learning_rate(small):
    hook = Hook()
    s = train(RunConfig(steps=30, batch_size=32, lr=1e-3), Recorder(), dataset=small, hooks=[hook])
    assert s.steps == 30
    assert [(c[0], c[1]) for c in hook.calls] == [(w, k) for k in range(1, 31) for w in ("before", "after")]
    lrs = [c[2] for c in hook.calls if c[0] == "before"]
    assert lrs == pytest.approx([1e-3 * lr_factor("one_cycle", k, 30) for k in range(30)])
    # Adam's first step moves a weight by the learning rate itself: the optimizer used the scheduled lr / 3.
    assert hook.calls[1][2] == pytest.approx(lrs[0], rel=1e-2)


@pytest.mark.parametrize("model", ["seed_cnn", "deepnet"])
def test_gradient_details_are_a_hook_asked_for_by_the_configuration_not_by_the_model(small, model):
    net = {"depth": 4, "width": 16} if model == "deepnet" else None
    for details in (False, True):
        rec = Recorder()
        train(RunConfig(model=model, net=net, steps=6, batch_size=32, details=details), rec, dataset=small)
        layers = len(rec.layers)
        if not details:
            assert rec.details == []
            continue
        assert [d.step for d in rec.details] == [1, 2, 3, 4, 5, 6]  # every max(1, total // 100) steps
        assert all(len(d.histograms) == layers and len(d.update_ratios) == layers for d in rec.details)
        assert all(r > 0 for d in rec.details for r in d.update_ratios)


def test_gradient_details_record_about_a_hundred_times_a_run():
    class Sink(Recorder):
        pass

    hook, sink = GradientDetails(times=4), Sink()
    net = models.build("mlp", 3, 32, 10)
    layers = [p for _, p in models.layers(net)]
    for step in range(1, 13):
        net(torch.rand(2, 3, 32, 32)).sum().backward()
        state = StepState(step, 12, net, layers, 0.0, 0.1, sink)
        hook.before_update(state)
        hook.after_update(state)
    assert [d.step for d in sink.details] == [1, 3, 6, 9, 12]


def test_a_run_leaves_the_callers_thread_setting_alone(small):
    before = torch.get_num_threads()
    train(RunConfig(steps=2, batch_size=32, threads=1), Recorder(), dataset=small)
    assert torch.get_num_threads() == before


def test_the_batch_norm_seed_cnn_groups_each_convolution_with_its_norm():
    net = models.build("seed_cnn_bn", 3, 32, 10)
    names = [n for n, _ in models.layers(net)]
    assert names == ["conv1", "conv2", "conv3", "dense", "out"]
    assert sum(len(p) for _, p in models.layers(net)) == len(list(net.parameters()))
    assert net.conv1.bias is None  # batch norm's shift replaces it


@pytest.mark.parametrize("model", ["seed_cnn", "seed_cnn_bn", "resnet"])
def test_channels_last_computes_what_nchw_computes(model):
    # The loop trains in channels-last because it is faster on CPU (bench/train.py); the numbers must not change.
    torch.manual_seed(0)
    nchw = models.build(model, 3, 32, 10)
    last = models.build(model, 3, 32, 10)
    last.load_state_dict(nchw.state_dict())
    last = last.to(memory_format=torch.channels_last)
    x = torch.rand(8, 3, 32, 32)
    a, b = nchw(x), last(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    a.square().sum().backward()
    b.square().sum().backward()
    for p, q in zip(nchw.parameters(), last.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad.contiguous(), rtol=1e-3, atol=1e-5)


def keras_order(model: models.SeedCNN, x: torch.Tensor) -> torch.Tensor:
    """The seed CNN as the article's Keras model computes it: ReLU, then max-pooling."""
    x = torch.max_pool2d(torch.relu(model.bn1(model.conv1(models.standardize(x)))), 2)
    x = torch.max_pool2d(torch.relu(model.bn2(model.conv2(x))), 2)
    x = torch.relu(model.bn3(model.conv3(x))).flatten(1)
    return model.out(torch.relu(model.dense(x)))


@pytest.mark.parametrize("model", ["seed_cnn", "seed_cnn_bn"])
def test_the_seed_cnn_pools_before_its_relu_with_the_same_outputs_and_gradients_as_keras_order(model):
    # Built-in pictures have flat areas, so pooling windows hold ties: the gradient must still reach the same pixel.
    x = data.synthetic.generate(16, 3)[0].float() / 255
    x[:4, :, 8:24, 8:24] = 0.5  # whole windows of equal values, positive and (after the first bias) negative
    torch.manual_seed(0)
    net = models.build(model, 3, 32, 10).to(memory_format=torch.channels_last)
    ours = net(x.contiguous(memory_format=torch.channels_last))
    ours.square().sum().backward()
    our_grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    theirs = keras_order(net, x.contiguous(memory_format=torch.channels_last))
    theirs.square().sum().backward()
    assert torch.equal(ours, theirs)
    for mine, keras in zip(our_grads, [p.grad for p in net.parameters()], strict=True):
        assert torch.equal(mine, keras)


# ---- precision -----------------------------------------------------------------------------------------------


def test_bfloat16_keeps_weights_gradients_and_loss_in_float32(small):
    # That it computes in bfloat16 at all: test_bfloat16_starts_where_float32_starts.
    seen: list[torch.dtype] = []

    class Watch:
        def before_update(self, state):
            seen.extend({p.grad.dtype for params in state.layers for p in params})
            seen.extend({p.dtype for params in state.layers for p in params})

        def after_update(self, state):
            pass

    rec = Recorder()
    s = train(RunConfig(batch_size=32, epochs=1, precision="bfloat16"), rec, dataset=small, max_steps=3,
              hooks=[Watch()])
    assert s.status == "finished" and set(seen) == {torch.float32}
    assert all(math.isfinite(m.loss) for m in rec.steps) and s.test_acc is not None


def test_bfloat16_starts_where_float32_starts(small):
    # The first step's loss, from the same initialisation and batch, agrees to bfloat16's precision (8 bits).
    first = {}
    for precision in ("float32", "bfloat16"):
        rec = Recorder()
        train(RunConfig(batch_size=32, epochs=1, precision=precision), rec, dataset=small, max_steps=1)
        first[precision] = rec.steps[0].loss
    assert first["bfloat16"] == pytest.approx(first["float32"], rel=0.02)
    assert first["bfloat16"] != first["float32"]  # it did compute in bfloat16


def test_auto_precision_is_bfloat16_only_where_the_device_computes_it_natively(monkeypatch):
    from augviz import train as loop
    cpu = torch.device("cpu")
    for native in (True, False):
        monkeypatch.setattr(loop, "native_bf16", lambda device, native=native: native)
        assert loop.uses_bf16(RunConfig(), cpu) is native
        assert loop.uses_bf16(RunConfig(precision="float32"), cpu) is False
        assert loop.uses_bf16(RunConfig(precision="bfloat16"), cpu) is True


def test_a_precision_outside_the_choices_is_refused_by_name():
    with pytest.raises(ConfigError) as e:
        from_dict({"precision": "float16"})
    assert e.value.path == "precision" and "expected one of auto, float32, bfloat16" in e.value.message

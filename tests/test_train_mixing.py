"""The training loop learns from mixed labels: its first loss and gradients equal a hand-written mixing step's.

The hand-written step does what the loop must: draw the batch, run the pipeline with one-hot labels, and take
the cross-entropy against the soft labels it returns. A loop that mixed the images but kept the hard labels (or
did not mix at all) reports other gradients (at initialisation the logits are nearly uniform, so the loss alone
barely tells soft from hard labels, but the gradient softmax − y does).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from augviz import data, models, serialize
from augviz.pipeline import Pipeline, Step
from augviz.runconfig import RunConfig
from augviz.train import layer_grad_norms, train

PIPE = Pipeline((Step("horizontal_flip"), Step("mixup", {"alpha": 1.0}, 1.0), Step("cutmix", {"alpha": 1.0}, 1.0)))


class Losses:
    def __init__(self) -> None:
        self.losses: list[float] = []
        self.norms: list[list[float]] = []

    def started(self, layer_names, total_steps, classes):
        pass

    def step(self, m):
        self.losses.append(m.loss)
        self.norms.append(m.grad_norms)

    def epoch(self, m):
        pass

    def detail(self, m):
        pass


def soft_cross_entropy(logits: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """−Σ y·log softmax, averaged over the batch, written out."""
    return -(soft * torch.log_softmax(logits, dim=1)).sum(1).mean()


def test_the_first_step_learns_from_the_mixed_labels():
    ds = data.load("synthetic", 200, 0.0, seed=0)
    cfg = RunConfig(train_size=200, val_fraction=0.0, batch_size=32, epochs=1, seed=3, device="cpu",
                    pipeline=serialize.to_dict(PIPE), precision="float32")  # as the step by hand below
    sink = Losses()
    train(cfg, sink, dataset=ds, max_steps=1)

    # The same first step by hand: the model at the run's seed, the run's first batch, its augmentation draws.
    torch.manual_seed(cfg.seed)
    channels, size, _ = ds.shape
    model = models.build(cfg.model, channels, size, len(ds.classes), cfg.net)
    order = torch.randperm(len(ds.train), generator=torch.Generator().manual_seed(cfg.seed + 2))
    idx = order[:cfg.batch_size]
    x, y = ds.train.x[idx], ds.train.y[idx]
    one_hot = F.one_hot(y, len(ds.classes)).float()
    res = PIPE.run(x, torch.Generator().manual_seed(cfg.seed + 1), labels=one_hot)
    soft = one_hot.clone()
    for d in res.draws[1:]:  # mixup, then cutmix: y ← λ·y + (1 − λ)·y[partner], with the pipeline's own λ
        lam = res.mix_weights[d.step][:, None]
        soft = lam * soft + (1 - lam) * soft[d.params["partner"]]
    torch.testing.assert_close(res.labels, soft)
    groups = [params for _, params in models.layers(model)]

    def first_step(targets: torch.Tensor) -> tuple[float, list[float]]:
        model.zero_grad(set_to_none=True)
        logits = model(res.images)
        loss = soft_cross_entropy(logits, targets)
        loss.backward()
        return float(loss.detach()), layer_grad_norms(groups).tolist()

    loss, norms = first_step(soft)
    _, hard_norms = first_step(one_hot)
    assert max(abs(a / b - 1) for a, b in zip(hard_norms, norms, strict=True)) > 0.05  # soft and hard differ

    assert sink.losses[0] == pytest.approx(loss, abs=1e-5)
    assert sink.norms[0] == pytest.approx(norms, rel=1e-4)

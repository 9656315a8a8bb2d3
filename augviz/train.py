"""The training loop: flat and readable (after Keller Jordan's airbench), with batched augmentation on the
training device by the same Pipeline object the Explore page previews.

It reports through a ``Sink`` (the run store, the command line, a test) and stops when ``should_stop`` says so.
Gradient norms per layer are computed with ``torch._foreach_norm`` and fetched with one transfer per step, not one
device sync per parameter.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F

from augviz import data, models
from augviz.data.sources import Progress
from augviz.runconfig import RunConfig
from augviz.transform import MIXING


class Diverged(RuntimeError):
    """The loss stopped being finite."""

    def __init__(self, step: int) -> None:
        self.step = step
        super().__init__(f"the loss stopped being finite at step {step}")


@dataclass
class StepMetrics:
    step: int
    epoch: int
    loss: float
    grad_norms: list[float]  # one per layer, in ``layer_names`` order
    grad_total: float


@dataclass
class DetailMetrics:
    """What the gradient lab shows beyond norms, every few steps: per layer a histogram of log10 |gradient|
    over ``HIST_EDGES`` and the update-to-weight ratio ‖Δw‖ / ‖w‖ of that step."""

    step: int
    histograms: list[list[int]]
    update_ratios: list[float]


HIST_EDGES = [-12 + 0.5 * k for k in range(31)]  # log10 |g| from 1e-12 to 1e3, half a decade per bin


@dataclass
class EpochMetrics:
    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float | None
    val_acc: float | None
    images_per_s: float


@dataclass
class Summary:
    status: str  # finished, stopped or diverged
    test_acc: float | None
    test_loss: float | None
    wall_s: float
    images_per_s: float
    steps: int
    diverged_step: int | None = None
    layer_names: list[str] = field(default_factory=list)
    note: str | None = None  # what loading the data skipped (unreadable files), kept as the run's note


class Sink(Protocol):
    def started(self, layer_names: list[str], total_steps: int, classes: tuple[str, ...]) -> None: ...
    def step(self, m: StepMetrics) -> None: ...
    def epoch(self, m: EpochMetrics) -> None: ...
    def detail(self, m: DetailMetrics) -> None: ...


def pick_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("the configuration asks for cuda, but no CUDA device is available")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def layer_owner(groups: list[list[torch.nn.Parameter]], device: torch.device) -> torch.Tensor:
    """For each parameter in order, the index of its layer (computed once per run)."""
    return torch.repeat_interleave(torch.arange(len(groups), device=device),
                                   torch.tensor([len(g) for g in groups], device=device))


def layer_grad_norms(groups: list[list[torch.nn.Parameter]], owner: torch.Tensor | None = None) -> torch.Tensor:
    """L2 norm of the gradient of each layer (all its parameters together), as one tensor on the device."""
    flat = [p for g in groups for p in g]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in flat]
    sq = torch.stack(torch._foreach_norm(grads)).square_()
    owner = layer_owner(groups, sq.device) if owner is None else owner
    return torch.zeros(len(groups), device=sq.device, dtype=sq.dtype).index_add_(0, owner, sq).sqrt_()


def gradient_histograms(groups: list[list[torch.nn.Parameter]]) -> list[list[int]]:
    """Per layer, counts of log10 |gradient| in the bins of ``HIST_EDGES`` (exact zeros fall in the first)."""
    edges = torch.tensor(HIST_EDGES)
    out = []
    for params in groups:
        g = torch.cat([p.grad.detach().flatten().float().cpu() for p in params if p.grad is not None])
        logs = torch.log10(g.abs().clamp_min(10 ** HIST_EDGES[0]))
        out.append(torch.histogram(logs.clamp(HIST_EDGES[0], HIST_EDGES[-1]), edges).hist.long().tolist())
    return out


@torch.no_grad()
def evaluate(model: torch.nn.Module, split: data.Split, device: torch.device, batch: int = 1000
             ) -> tuple[float, float]:
    """Mean loss and accuracy on a split, without augmentation."""
    model.eval()
    total_loss, correct = 0.0, 0
    for i in range(0, len(split), batch):
        x = split.x[i:i + batch].to(device).float().div_(255)
        y = split.y[i:i + batch].to(device)
        logits = model(x)
        total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
    model.train()
    return total_loss / max(1, len(split)), correct / max(1, len(split))


def train(cfg: RunConfig, sink: Sink, should_stop: Callable[[], bool] = lambda: False,
          dataset: data.Dataset | None = None, max_steps: int | None = None,
          progress: Progress | None = None) -> Summary:
    """Train ``cfg``'s model on its dataset, reporting every step and epoch to ``sink`` (and a dataset
    download, if the configuration asks for one, to ``progress``)."""
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    ds = dataset or data.load(cfg.dataset, cfg.train_size, cfg.val_fraction, cfg.seed, cfg.folder, cfg.download,
                              progress=progress, image_size=cfg.image_size, channels=cfg.channels)
    channels, size, _ = ds.shape
    model = models.build(cfg.model, channels, size, len(ds.classes), cfg.net).to(device)
    named = models.layers(model)
    groups = [params for _, params in named]
    if cfg.optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                                                     weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    pipeline = cfg.augmentation()
    mixing = pipeline is not None and any(s.enabled and s.transform.category == MIXING for s in pipeline.steps)
    aug_gen = torch.Generator().manual_seed(cfg.seed + 1)
    order_gen = torch.Generator().manual_seed(cfg.seed + 2)
    train_x, train_y = ds.train.x.to(device), ds.train.y.to(device)
    n, classes = len(ds.train), len(ds.classes)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs if max_steps is None else min(max_steps, steps_per_epoch * cfg.epochs)
    sink.started([name for name, _ in named], total, ds.classes)
    detail_every = max(1, total // 100) if cfg.model == "deepnet" else 0  # the lab's extra views
    weights = [params[0] for params in groups]
    owner = layer_owner(groups, device)

    start, step, seen, status, diverged_at = time.perf_counter(), 0, 0, "finished", None
    for epoch in range(1, cfg.epochs + 1):
        epoch_start, epoch_loss, epoch_seen = time.perf_counter(), 0.0, 0
        epoch_correct = torch.zeros((), device=device, dtype=torch.long)
        order = torch.randperm(n, generator=order_gen).to(device)
        for i in range(0, n, cfg.batch_size):
            if step >= total or should_stop():
                status = "stopped" if step < total else status
                break
            idx = order[i:i + cfg.batch_size]
            x, y = train_x[idx], train_y[idx]
            targets: torch.Tensor = y  # class indices, unless a mixing step needs soft labels
            if pipeline is not None:
                result = pipeline.run(x, aug_gen, labels=F.one_hot(y, classes).float() if mixing else None)
                x = result.images
                targets = result.labels if mixing else y
            else:
                x = x.float().div_(255)
            logits = model(x)
            loss = F.cross_entropy(logits, targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm, foreach=True)
            norms = layer_grad_norms(groups, owner)  # after clipping: what the optimizer is given
            stats = torch.cat([loss.detach().reshape(1), norms]).tolist()  # the one transfer of this step
            step += 1
            if not all(math.isfinite(v) for v in stats[:1]):
                status, diverged_at = "diverged", step
                break
            detailed = detail_every and (step % detail_every == 0 or step == 1)
            before = [w.detach().clone() for w in weights] if detailed else []
            opt.step()
            if detailed:
                ratios = [float((w.detach() - b).norm() / b.norm().clamp_min(1e-12)) for w, b in zip(weights, before,
                                                                                                  strict=True)]
                sink.detail(DetailMetrics(step, gradient_histograms(groups), ratios))
            sink.step(StepMetrics(step, epoch, stats[0], stats[1:], math.sqrt(sum(v * v for v in stats[1:]))))
            epoch_loss += stats[0] * len(idx)
            # Summed on the device and read once per epoch: no extra synchronisation per step.
            epoch_correct += (logits.detach().argmax(1) == (targets.argmax(1) if mixing else y)).sum()
            epoch_seen += len(idx)
            seen += len(idx)
        if epoch_seen:
            val_loss, val_acc = evaluate(model, ds.val, device) if len(ds.val) else (None, None)
            sink.epoch(EpochMetrics(epoch, epoch_loss / epoch_seen, int(epoch_correct) / epoch_seen, val_loss, val_acc,
                                    epoch_seen / (time.perf_counter() - epoch_start)))
        if status != "finished" or step >= total:
            break
    wall = time.perf_counter() - start
    test_loss, test_acc = evaluate(model, ds.test, device) if status != "diverged" else (None, None)
    return Summary(status, test_acc, test_loss, wall, seen / wall if wall else 0.0, step, diverged_at,
                   [name for name, _ in named], ds.note)

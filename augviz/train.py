"""The training loop: flat and readable (after Keller Jordan's airbench), with batched augmentation on the
training device by the same Pipeline object the Explore page previews.

A run lasts a budget of optimizer steps (or, if asked, a number of epochs) under a one-cycle learning rate. It
reports through a ``Sink`` (the run store, the command line, a test), stops when ``should_stop`` says so, and
calls its ``Hook``s around each update (the gradient lab's detail recording is one). Gradient norms per layer are
computed with ``torch._foreach_norm`` and fetched with one transfer per step, not one device sync per parameter.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F

from augviz import data, models
from augviz.data.sources import Progress
from augviz.metrics import HIST_EDGES, DetailMetrics, EpochMetrics, StepMetrics
from augviz.runconfig import RunConfig
from augviz.transform import MIXING


class Diverged(RuntimeError):
    """The loss stopped being finite."""

    def __init__(self, step: int) -> None:
        self.step = step
        super().__init__(f"the loss stopped being finite at step {step}")


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


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 convolutions and matrix products natively: a CUDA GPU that supports
    it, or a CPU with AMX or AVX-512 BF16 (elsewhere bfloat16 is emulated, slower than float32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and (torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


def uses_bf16(cfg: RunConfig, device: torch.device) -> bool:
    """Whether a run of ``cfg`` on ``device`` computes in bfloat16 mixed precision: the forward pass's
    convolutions and matrix products in bfloat16, the weights, gradients, losses and optimizer in float32."""
    return cfg.precision == "bfloat16" or (cfg.precision == "auto" and native_bf16(device))


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
    """Per layer, counts of log10 |gradient| in the bins of ``HIST_EDGES`` (exact zeros and anything smaller
    fall in the first, anything larger in the last: the chart says so)."""
    edges = torch.tensor(HIST_EDGES)
    out = []
    for params in groups:
        g = torch.cat([p.grad.detach().flatten().float().cpu() for p in params if p.grad is not None])
        logs = torch.log10(g.abs().clamp_min(10 ** HIST_EDGES[0]))
        out.append(torch.histogram(logs.clamp(HIST_EDGES[0], HIST_EDGES[-1]), edges).hist.long().tolist())
    return out


@torch.no_grad()
def evaluate(model: torch.nn.Module, split: data.Split, device: torch.device, batch: int = 1000,
             bf16: bool = False) -> tuple[float, float]:
    """Mean loss and accuracy on a split, without augmentation (``bf16``: in the precision the run trained in)."""
    model.eval()
    total_loss, correct = 0.0, 0
    for i in range(0, len(split), batch):
        x = split.x[i:i + batch].to(device).float().div_(255).contiguous(memory_format=torch.channels_last)
        y = split.y[i:i + batch].to(device)
        with torch.autocast(device.type, torch.bfloat16, enabled=bf16):
            logits = model(x).float()
        total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
    model.train()
    return total_loss / max(1, len(split)), correct / max(1, len(split))


@dataclass
class StepState:
    """What a hook sees of one step: its number (from 1), the run's total, the model, its layers' parameters
    (in ``layer_names`` order), the batch's loss, the learning rate and the sink the run reports to."""

    step: int
    total: int
    model: torch.nn.Module
    layers: list[list[torch.nn.Parameter]]
    loss: float
    lr: float  # the learning rate of this update, after the schedule
    sink: Sink


class Hook(Protocol):
    """Extra work around each update: ``before_update`` sees the gradients as backpropagation made them (before
    any clipping), ``after_update`` the new weights."""

    def before_update(self, state: StepState) -> None: ...
    def after_update(self, state: StepState) -> None: ...


class GradientDetails:
    """The gradient lab's detail recording: about ``times`` times a run (and at the first step), each layer's
    histogram of log10 |gradient| and its update-to-weight ratio, sent to the sink as ``DetailMetrics``."""

    def __init__(self, times: int = 100) -> None:
        self.times = times
        self.before: list[torch.Tensor] | None = None
        self.histograms: list[list[int]] = []

    def before_update(self, state: StepState) -> None:
        every = max(1, state.total // self.times)
        due = state.step % every == 0 or state.step == 1
        self.before = [params[0].detach().clone() for params in state.layers] if due else None
        if due:  # the raw gradient, as the norm charts show it; clipping happens after this
            self.histograms = gradient_histograms(state.layers)

    def after_update(self, state: StepState) -> None:
        if self.before is None:
            return
        weights = [params[0].detach() for params in state.layers]
        ratios = [float((w - b).norm() / b.norm().clamp_min(1e-12)) for w, b in zip(weights, self.before, strict=True)]
        state.sink.detail(DetailMetrics(state.step, self.histograms, ratios))
        self.before = None


def hooks_for(cfg: RunConfig) -> list[Hook]:
    """The hooks a configuration asks for (``details``: the gradient lab's histograms and update ratios)."""
    return [GradientDetails()] if cfg.details else []


WARMUP = 0.1  # share of the steps over which the learning rate rises to its peak


def lr_factor(schedule: str, step: int, total: int) -> float:
    """The learning rate of step ``step`` (from 0) of ``total``, as a share of the peak. "one_cycle" rises
    linearly over the first ``WARMUP`` of the steps (large early steps from a random start are what make Adam
    and batch norm runs unstable), then falls linearly to zero at the end (the last steps average out the noise
    of the batches, which is where most of a short run's accuracy comes from). "constant" is always 1."""
    if schedule == "constant":
        return 1.0
    warm = max(1, round(WARMUP * total))
    if step < warm:
        return (step + 1) / warm
    return max(0.0, (total - step) / (total - warm + 1))


def step_budget(cfg: RunConfig, n: int, max_steps: int | None = None) -> int:
    """The number of optimizer steps of a run on ``n`` training images: ``cfg.steps`` whatever ``n`` is, or
    ``cfg.epochs`` full passes when epochs are set; never more than ``max_steps``."""
    total = math.ceil(n / cfg.batch_size) * cfg.epochs if cfg.epochs is not None else cfg.steps
    return total if max_steps is None else min(max_steps, total)


def optimizer(cfg: RunConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    """The configuration's optimizer over the model's parameters. Each update runs as one fused kernel over all
    parameters: the default on a CPU is a loop of small operations per parameter, several times slower."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                               weight_decay=cfg.weight_decay, fused=True)
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)


def train(cfg: RunConfig, sink: Sink, should_stop: Callable[[], bool] = lambda: False,
          dataset: data.Dataset | None = None, max_steps: int | None = None,
          progress: Progress | None = None, hooks: Sequence[Hook] = ()) -> Summary:
    """Train ``cfg``'s model on its dataset, reporting every step and epoch to ``sink`` (and a dataset
    download, if the configuration asks for one, to ``progress``), calling ``hooks`` and the configuration's
    own (``hooks_for``) around every update."""
    threads = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    try:
        return _train(cfg, sink, should_stop, dataset, max_steps, progress, [*hooks_for(cfg), *hooks])
    finally:
        torch.set_num_threads(threads)  # a caller in the same process keeps its own setting


def _train(cfg: RunConfig, sink: Sink, should_stop: Callable[[], bool], dataset: data.Dataset | None,
           max_steps: int | None, progress: Progress | None, hooks: list[Hook]) -> Summary:
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    ds = dataset or data.load(cfg.dataset, cfg.train_size, cfg.val_fraction, cfg.seed, cfg.folder, cfg.download,
                              progress=progress, image_size=cfg.image_size, channels=cfg.channels)
    channels, size, _ = ds.shape
    # Channels-last: PyTorch's CPU convolutions and pooling run faster on it (bench/train.py), same results.
    layout = torch.channels_last
    model = models.build(cfg.model, channels, size, len(ds.classes), cfg.net).to(device, memory_format=layout)
    named = models.layers(model)
    groups = [params for _, params in named]
    opt = optimizer(cfg, model)
    bf16 = uses_bf16(cfg, device)
    pipeline = cfg.augmentation()
    mixing = pipeline is not None and any(s.enabled and s.transform.category == MIXING for s in pipeline.steps)
    aug_gen = torch.Generator().manual_seed(cfg.seed + 1)
    order_gen = torch.Generator().manual_seed(cfg.seed + 2)
    train_x, train_y = ds.train.x.to(device), ds.train.y.to(device)
    n, classes = len(ds.train), len(ds.classes)
    total = step_budget(cfg, n, max_steps)
    sink.started([name for name, _ in named], total, ds.classes)
    owner = layer_owner(groups, device)

    start, step, seen, epoch, status, diverged_at = time.perf_counter(), 0, 0, 0, "finished", None
    while step < total and status == "finished":
        epoch += 1
        epoch_start, epoch_loss, epoch_seen = time.perf_counter(), 0.0, 0
        epoch_correct = torch.zeros((), device=device, dtype=torch.long)
        order = torch.randperm(n, generator=order_gen).to(device)
        for i in range(0, n, cfg.batch_size):
            if step >= total:
                break
            if should_stop():
                status = "stopped"
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
            with torch.autocast(device.type, torch.bfloat16, enabled=bf16):
                logits = model(x.contiguous(memory_format=layout) if x.dim() == 4 else x)
            loss = F.cross_entropy(logits.float(), targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            # The gradient as backpropagation made it, before any clipping: the charts show what the network does
            # to the gradient (an exploding net's stays huge when clipped; clipping only bounds the step).
            norms = layer_grad_norms(groups, owner)
            stats = torch.cat([loss.detach().reshape(1), norms]).tolist()  # the one transfer of this step
            lr = cfg.lr * lr_factor(cfg.schedule, step, total)
            for group in opt.param_groups:
                group["lr"] = lr
            step += 1
            if not math.isfinite(stats[0]):
                status, diverged_at = "diverged", step
                break
            state = StepState(step, total, model, groups, stats[0], lr, sink)
            for hook in hooks:
                hook.before_update(state)
            if cfg.clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm, foreach=True)
            opt.step()
            for hook in hooks:
                hook.after_update(state)
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
        elif status == "finished" and step < total:
            break  # an empty training set: nothing to step through
    wall = time.perf_counter() - start
    test_loss, test_acc = evaluate(model, ds.test, device) if status != "diverged" else (None, None)
    return Summary(status, test_acc, test_loss, wall, seen / wall if wall else 0.0, step, diverged_at,
                   [name for name, _ in named], ds.note)

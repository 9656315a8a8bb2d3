"""How fast this machine trains: a short calibration of the model's training step, measured at first need and
kept in the run home (``speed.json``), so that an estimate tells the truth here rather than quoting a figure
measured elsewhere.

The calibration times a few optimizer steps of the configuration's model on a random batch of its shape, at the
threads a run would use (after a warm-up, the median step), and the pipeline's cost on a batch on top. It is a
lower bound on a run's time (data loading and evaluation come on top), kept per model, shape, batch and threads.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from augviz import data, models, serialize
from augviz.report import duration, seconds_besides, seconds_per_step
from augviz.runconfig import RunConfig
from augviz.store import Run
from augviz.train import optimizer, uses_bf16

WARMUP, TIMED = 3, 8
CPU = torch.device("cpu")  # where the calibration measures
FILE = "speed.json"


def _shape(cfg: RunConfig) -> tuple[int, int, int]:
    """(channels, size, classes) of the configuration's data, without reading it (an image folder's own shape is
    unknown here: its chosen size and channels, else 32×32 colour, 10 classes)."""
    spec = data.DATASETS[cfg.dataset]
    channels = cfg.channels or spec.channels or 3
    size = cfg.image_size or spec.size or 32
    return channels, size, len(spec.classes) if spec.classes else 10


def key(cfg: RunConfig) -> str:
    channels, size, classes = _shape(cfg)
    bf16 = uses_bf16(cfg, CPU)
    return (f"{cfg.model}/{channels}x{size}x{size}/{classes}/b{cfg.batch_size}/t{cfg.threads or 0}/{cfg.device}"
            + ("/bf16" if bf16 else ""))


def measure_step(cfg: RunConfig) -> float:
    """Seconds per optimizer step of ``cfg``'s model on this machine (median of a few, after a warm-up)."""
    channels, size, classes = _shape(cfg)
    bf16 = uses_bf16(cfg, CPU)
    before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        g = torch.Generator().manual_seed(0)
        model = models.build(cfg.model, channels, size, classes, cfg.net).to(memory_format=torch.channels_last)
        opt = optimizer(cfg, model)
        x = torch.rand(cfg.batch_size, channels, size, size, generator=g).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, classes, (cfg.batch_size,), generator=g)
        times = []
        for i in range(WARMUP + TIMED):
            start = time.perf_counter()
            with torch.autocast(CPU.type, torch.bfloat16, enabled=bf16):
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if i >= WARMUP:
                times.append(time.perf_counter() - start)
        return statistics.median(times)
    finally:
        torch.set_num_threads(before)


def measure_pipeline(cfg: RunConfig) -> float:
    """Seconds the configuration's pipeline takes on one batch (0 without one)."""
    if cfg.pipeline is None:
        return 0.0
    channels, size, _ = _shape(cfg)
    pipeline = serialize.from_dict(cfg.pipeline)
    x = torch.randint(0, 256, (cfg.batch_size, channels, size, size), dtype=torch.uint8)
    g = torch.Generator().manual_seed(0)
    pipeline(x, g)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        pipeline(x, g)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def step_seconds(cfg: RunConfig, home: Path) -> tuple[float, bool]:
    """Seconds per training step of ``cfg`` here: the kept calibration of its model (measured now, and kept, at
    first need) plus its pipeline's cost. The flag says whether the model was calibrated just now."""
    path = home / FILE
    try:
        kept = json.loads(path.read_text())
        if not isinstance(kept, dict):
            kept = {}
    except (OSError, ValueError):
        kept = {}
    k = key(cfg)
    fresh = not isinstance(kept.get(k), (int, float)) or not math.isfinite(kept[k]) or kept[k] <= 0
    if fresh:
        kept[k] = measure_step(cfg)
        try:
            tmp = path.with_name(f"{FILE}.tmp")
            tmp.write_text(json.dumps(kept, indent=1))
            tmp.replace(path)
        except OSError:
            pass  # a read-only home: measured again next time
    return float(kept[k]) + measure_pipeline(cfg), fresh


def planned_steps(cfg: RunConfig) -> int:
    """The optimizer steps a run of ``cfg`` trains (its step budget, or its epochs over its training images)."""
    n = cfg.train_size - round(cfg.train_size * cfg.val_fraction)
    return math.ceil(n / cfg.batch_size) * cfg.epochs if cfg.epochs is not None else cfg.steps


def per_step(cfg: RunConfig, past: list[Run],
             calibrate: Callable[[RunConfig], float]) -> tuple[float, float, int]:
    """Seconds a training step of ``cfg`` takes here, seconds a run takes besides its steps, and how many
    finished runs of its kind that rests on: the medians of the finished runs of the same speed-setting fields
    (``report.seconds_per_step``), which saw everything a run does; only when there is none, ``calibrate`` (the
    step alone), the seconds besides of the finished runs of other kinds here (starting a worker costs the same
    whatever it trains; 0 when there is none: the figure is then a lower bound), and 0."""
    return seconds_per_step(cfg, past) or (calibrate(cfg), seconds_besides(past)[0], 0)


def estimate(todo: list[RunConfig], per_step: Callable[[RunConfig], tuple[float, float, int]], at_once: int,
             ahead: list[Run]) -> str:
    """How long ``todo`` takes here, ``at_once`` side by side, at ``per_step``'s seconds a step and a run's
    seconds besides its steps (with the finished runs they rest on, 0 for the calibration, which knows the step
    alone and so gives a lower bound; see ``per_step``), and how long the runs of others ``ahead`` of it in the
    queue may hold it back, at the same step figure."""
    if not todo:
        return ""
    side = max(1, min(at_once, len(todo)))
    figures = [per_step(c) for c in todo]
    own = sum(planned_steps(c) * s + besides for c, (s, besides, _) in zip(todo, figures, strict=True)) / side
    each = statistics.median(s for s, _, _ in figures)
    runs = max(n for _, _, n in figures)
    besides = statistics.median(b for _, b, _ in figures)
    start_up = f"plus {duration(besides)} a run to start, read its data and evaluate"
    if runs:
        source = (f"{1000 * each:.0f} ms a training step {start_up}, the median of {runs} finished "
                  f"run{'s' * (runs > 1)} of this model, dataset and batch size here")
    else:
        source = (f"{1000 * each:.0f} ms a training step, calibrated here at each run's share of the cores; no "
                  "finished run of this kind to go by yet")
        if besides:
            source += f"; {start_up}, the median of the finished runs of other kinds here"
    # The calibration times the training step alone: with nothing besides to go by, the figure is a floor.
    floor = not runs and not besides
    text = (f"Estimate: {'at least' if floor else 'about'} {duration(own)} for {len(todo)} "
            f"run{'s' * (len(todo) > 1)} on this machine ({source}; {side} at once).")
    if floor:
        text += (" Starting each run, reading its data and evaluating it add to that; once runs have finished "
                 "here, the estimate counts them too.")
    readable = [r for r in ahead if not r.unreadable]
    if readable:
        wait = sum(planned_steps(r.config) for r in readable) * each / max(1, at_once)
        text += (f" {len(readable)} other run{'s are' if len(readable) > 1 else ' is'} queued or running ahead of "
                 f"it: up to {duration(wait)} more before its last run ends.")
    return text


def busy_note(cores: int) -> str:
    """A warning to go with an estimate when this machine's 1-minute load average exceeds its ``cores``: the
    figures (a calibration, or runs measured at another time) do not know what else is running now, and other
    work slows the runs by an amount nobody can know in advance, so it is said, not guessed into the figure.
    Empty when the machine is not busy, or the load cannot be read (no ``os.getloadavg`` here)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return ""
    if load <= cores:
        return ""
    return (f"This machine is busy: load {load:.1f} on {cores} core{'s' * (cores != 1)}; runs will take longer "
            "than this.")


def queue_wait(ahead: list[Run], running: list[tuple[Run, int]], per_step: Callable[[RunConfig], float],
               slots: int) -> str:
    """Where a queued run stands, in words: "3 runs ahead of yours, about 1 min". ``ahead`` are the queued runs
    that start before it, ``running`` the runs training now with their steps done, ``slots`` how many train at
    once; the time is their remaining steps at ``per_step`` seconds a step (see ``per_step``), shared over the
    slots (an estimate)."""
    def left(run: Run, done: int) -> float:
        if run.unreadable:
            return 0.0
        return max(0, (run.total_steps or planned_steps(run.config)) - done) * per_step(run.config)

    seconds = (sum(left(r, 0) for r in ahead) + sum(left(r, done) for r, done in running)) / max(1, slots)
    n = len(ahead)
    where = "next to start" if n == 0 else f"{n} run{'s' * (n != 1)} ahead of yours"
    if seconds <= 0:
        return where
    if seconds < 60:
        return f"{where}, under 1 min"
    minutes = round(seconds / 60)
    return f"{where}, about {minutes} min" if minutes < 60 else f"{where}, about {duration(60 * minutes)}"

"""Comparing stored runs: which kind of run each is, the configuration fields that differ, a readable table of
final metrics, and the metrics as wide CSV tables. Everything here takes data (runs and their metrics), never
the store: the pages read the store once and hand the rows over."""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass, field
from typing import Any

from augviz import REGISTRY, data, gradlab, models
from augviz.deepnet import spec_from_dict
from augviz.metrics import DetailMetrics, EpochMetrics, StepMetrics
from augviz.runconfig import RunConfig
from augviz.store import Run

LAB_MODEL = "deepnet"  # the gradient lab's network: its runs carry a network spec and are the lab's
FIXED = ("name", "group")  # labels of a run, not settings that change its result
LAB_PREFIX = "Gradient lab: "
IN_LABEL = ("model", "dataset", "folder", "train_size", "seed")  # fields ``label`` says (and "pipeline": on or off)


@dataclass(frozen=True)
class RunHistory:
    """A run and the metrics it has stored so far (``details`` only for gradient-lab runs)."""

    run: Run
    steps: list[StepMetrics]
    epochs: list[EpochMetrics]
    details: list[DetailMetrics] = field(default_factory=list)


def is_lab(run: Run) -> bool:
    """Whether the run was started by the gradient lab (its stored configuration has the lab's network)."""
    return run.config.model == LAB_MODEL or run.config.net is not None


def _short(display: str) -> str:
    """A sidebar option's words without their parenthesised detail: "Seed CNN (Conv32-…)" → "Seed CNN"."""
    return display.split(" (")[0]


def label(cfg: RunConfig) -> str:
    """How a run is named to the user, everywhere (run pickers, the Runs table, chart legends, CSV files), in
    the sidebar's own words: "Seed CNN on Built-in shapes, 2,000 images, with augmentation, seed 0"; a gradient
    lab run by its preset ("Gradient lab: Fix 1: ReLU with He initialisation") or its network. A name the user
    gave a run (the command line's ``name``) is kept; the names an experiment gives its runs are not, they say
    the same in other words."""
    if not _described(cfg):
        if cfg.name and not cfg.net and cfg.model != LAB_MODEL:
            return cfg.name
        if cfg.name:
            return cfg.name if cfg.name.lower().startswith(LAB_PREFIX.lower()) else LAB_PREFIX + cfg.name
        return LAB_PREFIX + gradlab.network_words(spec_from_dict(cfg.net or {}), cfg.clip_norm)
    what, aug, size = _parts(cfg)
    return f"{what}, {size}, {aug}, seed {cfg.seed}"


def _parts(cfg: RunConfig) -> tuple[str, str, str]:
    """A described run's words: (model on dataset, with or without augmentation, training images)."""
    dataset = _short(data.LABELS.get(cfg.dataset, cfg.dataset))
    if cfg.folder:
        dataset = f"{dataset} {cfg.folder}"
    aug = "no augmentation" if cfg.pipeline is None else "with augmentation"
    return f"{_short(models.LABELS.get(cfg.model, cfg.model))} on {dataset}", aug, f"{cfg.train_size:,} images"


def short_label(run: Run) -> str:
    """``run_label`` with what tells an experiment's runs apart first, for a narrow column that cuts text off:
    "with augmentation · seed 0 · 2,000 images · Seed CNN on Built-in shapes"."""
    if getattr(run, "unreadable", None) or not _described(run.config):
        return run_label(run)
    what, aug, size = _parts(run.config)
    return f"{aug} · seed {run.config.seed} · {size} · {what}"


def _described(cfg: RunConfig) -> bool:
    """Whether ``label`` describes the run by its configuration (not a lab run, nor a name the user gave)."""
    return cfg.model != LAB_MODEL and cfg.net is None and not (cfg.name and not cfg.group)


def run_label(run: Run) -> str:
    """A stored run's ``label``; the label stored with it when this version cannot read its configuration."""
    return run.label if getattr(run, "unreadable", None) else label(run.config)


# What sets a step's time.
SPEED_FIELDS = ("dataset", "image_size", "channels", "model", "batch_size", "device", "precision")


def seconds_per_step(cfg: RunConfig, past: list[Run]) -> tuple[float, float, int] | None:
    """A run's pace for ``cfg`` by the past finished runs with the same speed-setting fields (``SPEED_FIELDS``):
    the median of their seconds a training step, the median of the seconds each took besides its training loop
    (``seconds_besides``), and how many runs there were; None when there is none."""
    like = [r for r in _finished(past) if all(getattr(r.config, f) == getattr(cfg, f) for f in SPEED_FIELDS)]
    if not like:
        return None
    return statistics.median(r.wall_s / r.total_steps for r in like), seconds_besides(like)[0], len(like)


def seconds_besides(past: list[Run]) -> tuple[float, int]:
    """The median of the seconds the finished runs among ``past`` took besides their training loop (starting their
    process, reading the data, the test evaluation: from their start to their end), and how many runs that rests
    on (0: none, and 0 s)."""
    took = [max(0.0, r.ended - r.started - r.wall_s) for r in _finished(past) if r.started and r.ended]
    return (statistics.median(took), len(took)) if took else (0.0, 0)


def _finished(past: list[Run]) -> list[Run]:
    return [r for r in past
            if r.status == "finished" and r.wall_s and r.total_steps and not getattr(r, "unreadable", None)]


def differing_fields(runs: list[Run]) -> list[str]:
    """Configuration fields whose values are not the same in every run (the pipeline counts as one field)."""
    if len(runs) < 2:
        return []
    docs = [r.config.to_dict() for r in runs]
    return [k for k in docs[0] if k not in FIXED and any(d[k] != docs[0][k] for d in docs[1:])]


def config_columns(runs: list[Run]) -> list[str]:
    """The configuration columns a comparison shows: the augmentation always (it tells a baseline from an
    augmented run), then every other field that differs."""
    return ["pipeline", *(f for f in differing_fields(runs) if f != "pipeline")]


def table_columns(runs: list[Run]) -> list[str]:
    """The configuration columns of the Runs table: the fields that differ and that the labels do not already
    say; the augmentation only when the augmented runs' pipelines differ (a label says with or without). When a
    label is a name (a lab run's, or one the user gave), as ``config_columns``."""
    if not all(_described(r.config) for r in runs):
        return config_columns(runs)
    pipelines = {str(r.config.pipeline) for r in runs if r.config.pipeline is not None}
    return [f for f in differing_fields(runs) if f not in IN_LABEL and (f != "pipeline" or len(pipelines) > 1)]


def show_value(key: str, value: Any) -> str:
    """A configuration value as a short text (the pipeline as its enabled steps, in their order, each in a word
    or two: "rotation, affine, zoom in/out, horizontal flip")."""
    if key == "pipeline":
        if value is None:
            return "none"
        names = [_short(REGISTRY[s["transform"]].label).lower() if s["transform"] in REGISTRY else s["transform"]
                 for s in value["steps"] if s["enabled"]]
        return ", ".join(names) or "no enabled step"
    if key == "model":
        return _short(models.LABELS.get(value, str(value)))
    if key == "dataset":
        return _short(data.LABELS.get(value, str(value)))
    if key == "net" and isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in the right number: "1 unfinished run", "3 unfinished runs"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def percent(value: float | None) -> str:
    """A share in [0, 1] as a percentage with one decimal ("86.4 %"); empty when unknown."""
    return "" if value is None else f"{100 * value:.1f} %"


def duration(seconds: float | None) -> str:
    """Seconds as a duration a person reads at a glance: "42 s", "7 min 40 s", "1 h 05 min"."""
    if seconds is None:
        return ""
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def rate(value: float | None) -> str:
    """Images per second, rounded to whole images with thousands separated."""
    return "" if value is None else f"{value:,.0f}"


def summary(histories: list[RunHistory]) -> list[dict[str, str | int]]:
    """One row per run, formatted for reading: final accuracies as percentages, time as a duration, and the
    configuration columns that tell the runs apart beyond their labels (``table_columns``; throughput is in the
    CSV files, to keep the table narrow)."""
    columns = table_columns([h.run for h in histories])
    rows: list[dict[str, str | int]] = []
    for h in histories:
        r, done = h.run, completed_epochs(h)
        last = done[-1] if done else None
        doc = r.config.to_dict()
        accuracies = (dict.fromkeys(("test acc", "val acc", "train acc"), DIVERGED) if r.diverged_step is not None
                      else {"test acc": percent(r.test_acc), "val acc": percent(last.val_acc if last else None),
                            "train acc": percent(last.train_acc if last else None)})
        rows.append({"run": r.id, "status": r.status, "label": short_label(r), **accuracies,
                     "epochs trained": len(done), "time": duration(r.wall_s),
                     **{c: show_value(c, doc[c]) for c in columns}})
    return rows


DIVERGED = "diverged"  # a diverged run's accuracies in the table: its last epoch never completed


def completed_epochs(h: RunHistory) -> list[EpochMetrics]:
    """The epochs the run trained through: a diverged run's last epoch row holds the part of the epoch before
    the divergence (the trainer records it), which is not an epoch trained and not a result."""
    if h.run.diverged_step is not None and h.epochs and h.steps and h.epochs[-1].epoch == h.steps[-1].epoch:
        return h.epochs[:-1]
    if h.run.diverged_step is not None and h.epochs and not h.steps:
        return []
    return h.epochs


def _write(rows: list[dict[str, Any]], header: list[str]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, header, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


def _identity(h: RunHistory, columns: list[str]) -> dict[str, Any]:
    doc = h.run.config.to_dict()
    return {"run": h.run.id, "label": run_label(h.run), "status": h.run.status,
            **{c: show_value(c, doc[c]) for c in columns}}


def epochs_csv(histories: list[RunHistory]) -> str:
    """One row per (run, epoch), a column per metric, the run's final test metrics on each of its rows, and the
    configuration columns that tell the runs apart: ready to filter or pivot in a spreadsheet."""
    columns = config_columns([h.run for h in histories])
    metrics = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "images_per_s", "test_loss", "test_acc"]
    rows = [{**_identity(h, columns), "epoch": e.epoch, "train_loss": e.train_loss, "train_acc": e.train_acc,
             "val_loss": e.val_loss, "val_acc": e.val_acc, "images_per_s": e.images_per_s,
             "test_loss": h.run.test_loss, "test_acc": h.run.test_acc}
            for h in histories for e in h.epochs]
    return _write(rows, ["run", "label", "status", *columns, *metrics])


def steps_csv(histories: list[RunHistory]) -> str:
    """One row per (run, step): the loss, the total gradient norm and one column per layer's gradient norm."""
    columns = config_columns([h.run for h in histories])
    layers: list[str] = []
    for h in histories:
        layers += [name for name in h.run.layers if name not in layers]
    rows = []
    for h in histories:
        for m in h.steps:
            per_layer = {f"grad_norm[{n}]": v for n, v in zip(h.run.layers, m.grad_norms, strict=False)}
            rows.append({**_identity(h, columns), "step": m.step, "epoch": m.epoch, "loss": m.loss,
                         "grad_norm_total": m.grad_total, **per_layer})
    return _write(rows, ["run", "label", "status", *columns, "step", "epoch", "loss", "grad_norm_total",
                         *(f"grad_norm[{n}]" for n in layers)])
